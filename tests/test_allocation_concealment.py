"""Allocation concealment: a secret seed, blinded status and files, case-insensitive IDs, and
the same semantics on SQLite and on a real PostgreSQL server (tests/postgres_fixtures.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from postgres_fixtures import pg_url, postgres_server  # noqa: F401  (fixtures)
from test_allocation import check_concurrent_result, run_concurrent

from conditions import bids
from conditions.allocation import (
    EXAMPLE_SEED,
    AllocationDB,
    AllocationError,
    block_sequence,
    create_allocation_db,
    open_allocation_db,
)
from conditions.protocol import load_protocol
from experiment.allocation_cli import main as cli_main

PROTOCOL = load_protocol()
CONDITIONS = PROTOCOL.condition_names
UNBLIND = ["--unblind", "--yes-i-am-unblinding", "analysis", "--by", "ZZ"]


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request, tmp_path: Path) -> str:
    """An empty target for a new allocation database on each back end."""
    if request.param == "sqlite":
        return str(tmp_path / "raw" / "sourcedata" / "allocation.sqlite")
    return request.getfixturevalue("pg_url")


# ---------------------------------------------------------------------------- secret seed
def test_two_inits_without_seed_give_different_sequences(target: str, tmp_path: Path):
    second = (str(tmp_path / "other.sqlite") if target.endswith(".sqlite")
              else target)  # PostgreSQL: a second database below
    if not target.endswith(".sqlite"):
        from postgres_fixtures import PostgresServer  # noqa: F401  (type only)

        server_url = target.rsplit("/", 1)[0]
        import psycopg

        with psycopg.connect(server_url + "/postgres", autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{target.rsplit("/", 1)[1]}_b"')
        second = target + "_b"
    a = create_allocation_db(target, PROTOCOL)
    b = create_allocation_db(second, PROTOCOL)
    assert a.seed_source == b.seed_source == "drawn"
    assert a.seed != b.seed and EXAMPLE_SEED not in (a.seed, b.seed)
    seq_a = [a.allocate(f"p{i}", {"sex": "female"}).condition.reveal() for i in range(20)]
    seq_b = [b.allocate(f"p{i}", {"sex": "female"}).condition.reveal() for i in range(20)]
    assert seq_a != seq_b
    # the old public sequence is not what a fresh study gets
    public = [c for c, _ in block_sequence(EXAMPLE_SEED, "sex=female", CONDITIONS, (5, 10), 20)]
    assert seq_a != public and seq_b != public
    assert a.verify() == [] and b.verify() == []


def test_init_prints_no_seed_and_verify_says_where_it_came_from(target: str, capsys):
    assert cli_main(["init", "--db", target]) == 0
    out = capsys.readouterr().out
    db = open_allocation_db(target)
    assert str(db.seed) not in out and "drawn at random" in out
    assert cli_main(["verify", "--db", target]) == 0
    assert "seed: drawn at random" in capsys.readouterr().out
    # the audit log records how the seed was chosen, never the seed itself
    log = db.audit_log()
    assert str(db.seed) not in log.to_string() and "seed drawn" in log["detail"].str.cat()


def test_example_seed_refused_unless_demo(tmp_path: Path, capsys):
    path = tmp_path / "a.sqlite"
    with pytest.raises(AllocationError, match="published example seed"):
        cli_main(["init", "--db", str(path), "--seed", str(EXAMPLE_SEED)])
    assert not path.exists()
    with pytest.raises(AllocationError, match="published example seed"):
        AllocationDB.create(path, PROTOCOL, seed=PROTOCOL.randomisation.seed)
    assert cli_main(["init", "--db", str(path), "--seed", "424242"]) == 0
    capsys.readouterr()
    assert cli_main(["verify", "--db", str(path)]) == 0
    assert "given by the user" in capsys.readouterr().out
    demo = tmp_path / "demo.sqlite"
    assert cli_main(["init", "--db", str(demo), "--demo"]) == 0
    assert AllocationDB(demo).seed == EXAMPLE_SEED
    capsys.readouterr()
    assert cli_main(["verify", "--db", str(demo)]) == 0
    assert "published example seed" in capsys.readouterr().out


def test_readme_and_docs_show_no_seed():
    repo = Path(__file__).resolve().parents[1]
    for path in [repo / "README.md", *sorted((repo / "docs").rglob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        assert str(EXAMPLE_SEED) not in text, path
        assert "allocation init --seed" not in text, path


# ---------------------------------------------------------------------------- blinded status
def test_blinded_status_shows_totals_and_block_completeness_only(target: str):
    db = create_allocation_db(target, PROTOCOL, seed=5)
    n = 23
    for i in range(n):
        db.allocate(f"b{i}", {"sex": "male"})
    db.mark_session("b0", "complete")
    status = db.status()
    assert list(status.columns) == ["stratum", "allocated", "complete", "incomplete",
                                    "blocks_complete", "open_block"]
    text = status.to_string()
    assert not any(c in text for c in CONDITIONS)
    sizes: dict[int, int] = {}
    for _, block in block_sequence(5, "sex=male", CONDITIONS, (5, 10), 60):
        sizes[block] = sizes.get(block, 0) + 1
    full, used = 0, 0
    for block in sorted(sizes):
        if used + sizes[block] <= n:
            full, used = full + 1, used + sizes[block]
    row = status.set_index("stratum").loc["sex=male"]
    assert (row["allocated"], row["complete"], row["blocks_complete"]) == (n, 1, full)
    assert row["open_block"] == ("yes" if used < n else "no")
    unblinded = db.status(blinded=False)
    assert unblinded["allocated"].sum() == 2 * n  # per stratum plus the total
    assert set(unblinded["condition"]) == set(CONDITIONS)


def test_export_unblind_writes_the_analysis_copy(tmp_path: Path, capsys):
    raw = tmp_path / "raw"
    db_path = bids.allocation_db_path(raw)
    AllocationDB.create(db_path, PROTOCOL, seed=8)
    bids.ensure_dataset(raw, "study", "induction")
    db = AllocationDB(db_path)
    for pid in ("01", "02", "03"):
        a = db.allocate(pid, {"sex": "female"})
        bids.upsert_participant(raw, {"participant_id": f"sub-{pid}", "age": 30,
                                      "sex": "female", "session_code": a.session_code,
                                      "status": "complete"})
    header = bids.participants_tsv(raw).read_text().splitlines()[0].split("\t")
    assert "condition" not in header
    assert bids.read_participants(raw)["condition"].isna().all()  # still blinded
    assert cli_main(["export", "--db", str(db_path), *UNBLIND]) == 0
    copy = bids.read_tsv(bids.allocation_unblinded_tsv(raw), bids.ALLOCATION_UNBLINDED_COLUMNS)
    assert list(copy.columns) == ["participant_id", "condition"]
    expected = {f"sub-{p}": db.lookup(p).condition.reveal() for p in ("01", "02", "03")}
    assert dict(zip(copy["participant_id"], copy["condition"])) == expected
    # the analysis reads it where participants.tsv has no condition
    table = bids.read_participants(raw)
    assert dict(zip(table["participant_id"], table["condition"])) == expected
    log = db.audit_log()
    assert (log["action"] == "export_unblinded").sum() == 1
    # a database elsewhere needs --raw or --out
    other = tmp_path / "elsewhere.sqlite"
    AllocationDB.create(other, PROTOCOL, seed=9)
    with pytest.raises(AllocationError, match="--raw"):
        cli_main(["export", "--db", str(other), *UNBLIND])
    assert cli_main(["export", "--db", str(other), *UNBLIND, "--raw", str(tmp_path / "r2")]) == 0
    assert bids.allocation_unblinded_tsv(tmp_path / "r2").is_file()


def test_participants_tsv_condition_column_only_with_a_real_value(tmp_path: Path):
    bids.ensure_dataset(tmp_path, "study", "induction")
    bids.upsert_participant(tmp_path, {"participant_id": "sub-01", "age": 30, "sex": "female",
                                       "condition": "n/a", "session_code": "S-2345",
                                       "status": "complete"})
    assert "condition" not in bids.participants_tsv(tmp_path).read_text()
    assert "condition" not in (tmp_path / "participants.json").read_text()
    # a simulated (unblinded) dataset keeps its condition column, described in the sidecar
    bids.upsert_participant(tmp_path, {"participant_id": "sub-02", "condition": "neutral"})
    table = pd.read_csv(bids.participants_tsv(tmp_path), sep="\t")
    assert list(table.columns) == list(bids.PARTICIPANTS_COLUMNS)
    assert table["condition"].tolist()[1] == "neutral"
    assert "condition" in (tmp_path / "participants.json").read_text()


def test_condition_marker_is_never_sent_by_default():
    assert PROTOCOL.markers.send_condition_code == "never"


# ---------------------------------------------------------------------------- IDs and case
def test_participant_ids_are_unique_regardless_of_case(target: str, capsys):
    db = create_allocation_db(target, PROTOCOL, seed=3)
    first = db.allocate("p01", {"sex": "female"})
    db.mark_session("p01", "complete")
    for other in ("P01", "sub-P01"):
        with pytest.raises(AllocationError, match="differs only in case") as err:
            db.allocate(other, {"sex": "female"})
        assert "'p01'" in str(err.value)
    with pytest.raises(AllocationError, match="differs only in case"):
        cli_main(["allocate", "--db", target, "--id", "P01", "--stratum", "sex=female"])
    assert db.lookup("P01") == first  # the same participant
    assert db.allocate("p01", {"sex": "female"}) == first
    assert db.status().set_index("stratum").loc["(total)", "allocated"] == 1
    assert db.verify() == []


def test_old_database_with_case_clash_is_reported_by_verify(tmp_path: Path):
    import sqlite3

    db = AllocationDB.create(tmp_path / "a.sqlite", PROTOCOL, seed=4)
    db.allocate("p01", {"sex": "male"})
    con = sqlite3.connect(db.path)  # as a database from before IDs were case-insensitive
    con.execute("DROP INDEX allocations_participant_nocase")
    con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    con.execute("INSERT INTO allocations (participant_id, stratum, slot, block, condition, "
                "session_code, strata_json, allocated_at, machine, os_user) SELECT 'P01', "
                "stratum, 2, block, condition, 'S-ZZZZ', strata_json, allocated_at, machine, "
                "os_user FROM allocations WHERE participant_id = 'p01'")
    con.commit()
    con.close()
    assert any("differ only in case" in p for p in AllocationDB(db.path).verify())


# ---------------------------------------------------------------------------- two back ends
def test_concurrent_allocation_4_processes_both_backends(target: str):
    db = create_allocation_db(target, PROTOCOL, seed=21)
    results = run_concurrent(target, 4, 50)
    check_concurrent_result(db, results, 200)
    table = db.export(unblind=True, confirmed_by="test")
    for _stratum, sub in table.groupby("stratum"):
        for _block, blk in sub[sub["block"] < sub["block"].max()].groupby("block"):
            counts = blk["condition"].value_counts()
            assert len(counts) == 5 and counts.nunique() == 1  # balanced complete blocks


def test_same_sequence_on_both_backends(tmp_path: Path, pg_url: str):  # noqa: F811
    lite = AllocationDB.create(tmp_path / "a.sqlite", PROTOCOL, seed=77)
    pg = create_allocation_db(pg_url, PROTOCOL, seed=77)
    for i in range(30):
        strata = {"sex": "female" if i % 3 else "male"}
        a, b = lite.allocate(f"q{i}", strata), pg.allocate(f"q{i}", strata)
        assert (a.condition, a.slot, a.block, a.session_code) == (
            b.condition, b.slot, b.block, b.session_code)
    assert type(pg).__name__ == "PostgresAllocationDB" and pg.verify() == []


def test_xmlrpc_server_is_gone():
    with pytest.raises(AllocationError, match="postgresql://"):
        open_allocation_db("http://127.0.0.1:8765")
    with pytest.raises(SystemExit):
        cli_main(["serve", "--db", "x.sqlite"])
    import importlib.util

    assert importlib.util.find_spec("experiment.allocation_server") is None


# ---------------------------------------------------------------------------- PostgreSQL only
def test_postgres_bad_login_and_uninitialised_are_clear_errors(postgres_server):  # noqa: F811
    url = postgres_server.new_database()
    with pytest.raises(AllocationError, match="no allocation tables"):
        open_allocation_db(url)
    wrong = url.replace(f":{postgres_server.password}@", ":wrong-password@")
    with pytest.raises(AllocationError, match="cannot connect") as err:
        open_allocation_db(wrong)
    assert "wrong-password" not in str(err.value) and ":***@" in str(err.value)
    closed = f"postgresql://x@127.0.0.1:1/{url.rsplit('/', 1)[1]}?connect_timeout=3"
    with pytest.raises(AllocationError, match="cannot connect"):
        open_allocation_db(closed)
    # the soothe command reports it on one line, without a traceback
    r = subprocess.run([sys.executable, "-m", "soothe", "allocation", "status", "--db", wrong],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "Traceback" not in r.stderr and "cannot connect" in r.stderr


def test_postgres_init_never_overwrites(pg_url: str):  # noqa: F811
    db = create_allocation_db(pg_url, PROTOCOL)
    db.allocate("a1", {"sex": "female"})
    with pytest.raises(AllocationError, match="already holds allocation tables"):
        create_allocation_db(pg_url, PROTOCOL)
    again = open_allocation_db(pg_url)
    assert again.seed == db.seed and again.lookup("a1").slot == 1


def test_postgres_verify_detects_tampering(pg_url: str):  # noqa: F811
    import psycopg

    db = create_allocation_db(pg_url, PROTOCOL, seed=12)
    for i in range(12):
        db.allocate(f"t{i}", {"sex": "female"})
    assert db.verify() == []
    with psycopg.connect(pg_url, autocommit=True) as con:
        row = con.execute("SELECT condition FROM allocations WHERE slot = 3").fetchone()
        other = next(c for c in CONDITIONS if c != row[0])
        con.execute("UPDATE allocations SET condition = %s WHERE slot = 3", (other,))
        con.execute("DELETE FROM allocations WHERE slot = 12")
    problems = db.verify()
    assert any("seeded sequence" in p for p in problems)
    assert any("slot counter at 12 but the highest slot is 11" in p for p in problems)


def _same_id_worker(url: str, sex: str, queue) -> None:
    try:
        queue.put(("ok", open_allocation_db(url).allocate("dup1", {"sex": sex}).session_code))
    except Exception as exc:  # report, do not hang the parent
        queue.put(("error", repr(exc)))


def test_postgres_same_id_from_many_pcs_at_once_gets_one_allocation(pg_url: str):  # noqa: F811
    import multiprocessing as mp

    db = create_allocation_db(pg_url, PROTOCOL, seed=13)
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_same_id_worker, args=(pg_url, sex, queue))
             for sex in ("female", "male", "female", "diverse")]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    assert all(kind == "ok" for kind, _ in results), results
    assert len({code for _, code in results}) == 1
    assert db.status().set_index("stratum").loc["(total)", "allocated"] == 1
    assert db.verify() == []


def test_postgres_unreachable_at_session_end_says_how_to_record_it(pg_url: str):  # noqa: F811
    db = create_allocation_db(pg_url, PROTOCOL, seed=14)
    db.allocate("e1", {"sex": "female"})
    port = pg_url.split("@127.0.0.1:")[1].split("/")[0]
    db.close()
    db.url = db.url.replace(f":{port}/", ":1/")  # the server went away
    with pytest.raises(AllocationError, match="soothe allocation mark --db .* --id e1 "
                                              "--status complete"):
        db.mark_session("e1", "complete")
    with pytest.raises(AllocationError, match="not allocated"):
        open_allocation_db(pg_url).mark_session("nobody", "complete")


def test_session_pre_flight_with_postgres_down_stops_before_anything_is_recorded(
        tmp_path, pg_url):  # noqa: F811
    """``soothe run --db postgresql://...`` with the server away fails in setup, before the
    dialog; the message names the server, not the password."""
    from experiment_fixtures import make_short_protocol

    from experiment.dialog import validate_start_info
    from experiment.session import Session, SessionOptions

    info, problems = validate_start_info({"participant": "p01", "session": "1", "age": "30",
                                          "sex": "female", "initials": "AB"})
    assert info is not None, problems
    port = pg_url.split("@127.0.0.1:")[1].split("/")[0]
    down = pg_url.replace(f":{port}/", ":1/")
    protocol = make_short_protocol(tmp_path / "conditions", likert=False)
    session = Session(SessionOptions(data_root=tmp_path / "data", protocol_path=protocol,
                                     db_path=down, start_info=info))
    with pytest.raises(AllocationError, match="cannot connect") as err:
        session.setup()
    password = pg_url.split(":")[2].split("@")[0]
    assert password not in str(err.value)
    assert session.data is None and not (tmp_path / "data" / "sub-p01").exists()


@pytest.mark.parametrize("url, problem", [
    ("postgresql://lab@[::1/study", "invalid PostgreSQL URL"),
    ("postgresql://lab@127.0.0.1:1/study?sslmode=bogus", "invalid sslmode"),
    ("postgres://lab@127.0.0.1:99999/study", "invalid port"),
])
def test_malformed_postgres_urls_are_clear_errors(url: str, problem: str):
    with pytest.raises(AllocationError, match=problem) as err:
        open_allocation_db(url)
    assert url in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("content, problem", [
    ("participant_id\tcond\nsub-01\tneutral\n", "missing column"),
    ("", "empty"),
])
def test_broken_unblinded_copy_is_a_clear_error(tmp_path: Path, content: str, problem: str):
    bids.upsert_participant(tmp_path, {"participant_id": "sub-01", "age": 30, "sex": "female",
                                       "session_code": "S-2345", "status": "complete"})
    path = bids.allocation_unblinded_tsv(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(bids.DatasetError, match=problem) as err:
        bids.read_participants(tmp_path)
    assert "allocation_unblinded.tsv" in str(err.value)


def test_verify_warns_about_an_old_database_made_with_the_example_seed(tmp_path, capsys):
    import sqlite3

    path = tmp_path / "old.sqlite"
    AllocationDB.create(path, PROTOCOL, demo=True)
    con = sqlite3.connect(path)  # as made before soothe recorded where the seed came from
    con.execute("DELETE FROM meta WHERE key = 'seed_source'")
    con.commit()
    con.close()
    db = AllocationDB(path)
    assert db.seed == EXAMPLE_SEED and db.predictable
    assert cli_main(["verify", "--db", str(path)]) == 0
    assert "WARNING: this allocation is not concealed" in capsys.readouterr().out
    drawn = AllocationDB.create(tmp_path / "new.sqlite", PROTOCOL)
    assert not drawn.predictable
    assert cli_main(["verify", "--db", str(drawn.path)]) == 0
    assert "WARNING" not in capsys.readouterr().out
