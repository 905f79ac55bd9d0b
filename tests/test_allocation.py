"""Allocation database: permuted blocks, stratification, persistence, concealment, CLI."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from conditions.allocation import (
    AllocationDB,
    AllocationError,
    block_sequence,
    open_allocation_db,
    session_code_for,
)
from conditions.protocol import load_protocol
from experiment.allocation_cli import main as cli_main

CONDITIONS = load_protocol().condition_names


@pytest.fixture()
def db(tmp_path: Path) -> AllocationDB:
    return AllocationDB.create(tmp_path / "alloc.sqlite", load_protocol(), seed=11)


def test_create_refuses_existing_and_open_refuses_missing(tmp_path: Path, db: AllocationDB):
    with pytest.raises(AllocationError, match="already exists"):
        AllocationDB.create(db.path, load_protocol())
    with pytest.raises(AllocationError, match="not found"):
        AllocationDB(tmp_path / "nope.sqlite")
    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(empty).close()
    empty.write_bytes(b"")
    with pytest.raises(AllocationError, match="not an initialised|not initialised"):
        AllocationDB(empty)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(AllocationError):
        AllocationDB(junk)


def test_wal_mode(db: AllocationDB):
    con = sqlite3.connect(db.path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_same_id_same_allocation_never_new_draw(db: AllocationDB):
    first = db.allocate("001", {"sex": "female"}, machine="pc1")
    for _ in range(3):
        again = db.allocate("sub-001", {"sex": "male"}, machine="pc2")
        assert again == first
    assert db.lookup("001") == first
    assert db.lookup("002") is None
    # the next participant in the stratum got the next slot, not a second slot for 001
    second = db.allocate("002", {"sex": "female"})
    assert (first.slot, second.slot) == (1, 2)


def test_blocks_balanced_and_match_seed(db: AllocationDB):
    allocations = [db.allocate(f"p{i}", {"sex": "female"}) for i in range(60)]
    by_block: dict[int, list[str]] = {}
    for a in allocations:
        by_block.setdefault(a.block, []).append(a.condition.reveal())
    sizes = Counter()
    for block, conds in list(by_block.items())[:-1]:  # all but the (maybe open) last block
        counts = Counter(conds)
        assert set(counts) == set(CONDITIONS), block
        assert len(set(counts.values())) == 1, (block, counts)
        sizes[len(conds)] += 1
    assert set(sizes) <= {5, 10}
    expected = block_sequence(11, "sex=female", CONDITIONS, (5, 10), 60)
    assert [(a.condition.reveal(), a.block) for a in allocations] == expected
    assert db.verify() == []


def test_block_sizes_are_random_and_strata_independent():
    a = block_sequence(1, "sex=female", CONDITIONS, (5, 10), 300)
    b = block_sequence(1, "sex=male", CONDITIONS, (5, 10), 300)
    c = block_sequence(2, "sex=female", CONDITIONS, (5, 10), 300)
    assert a != b and a != c
    sizes = Counter(Counter(blk for _, blk in a).values())
    assert sizes[5] > 0 and sizes[10] > 0


def test_stratification_requires_field(db: AllocationDB):
    with pytest.raises(AllocationError, match="sex"):
        db.allocate("003")
    a = db.allocate("004", {"sex": "Male "})
    assert a.stratum == "sex=male"


def test_session_code_is_neutral(db: AllocationDB):
    codes = [db.allocate(f"x{i}", {"sex": "f"}).session_code for i in range(50)]
    assert len(set(codes)) == 50
    for code in codes:
        assert code.startswith("S-") and len(code) == 6
        assert not any(c.lower() in code.lower() for c in ("kind", "body", "rum", "neu", "pos"))
    # a code depends only on the seed and the ID, never on the condition
    assert codes[0] == session_code_for(11, "x0")


def test_status_blinded_and_export_logged(db: AllocationDB):
    for i in range(12):
        db.allocate(f"s{i}", {"sex": "female" if i % 2 else "male"})
    db.mark_session("s1", "complete")
    db.mark_session("s2", "incomplete")
    with pytest.raises(AllocationError):
        db.mark_session("s1", "done")
    with pytest.raises(AllocationError, match="not allocated"):
        db.mark_session("zz", "complete")
    blinded = db.status()
    text = blinded.to_string()
    assert not any(c in text for c in CONDITIONS)
    assert "arm" not in blinded.columns  # totals only: no count per arm, not even a letter
    total = blinded[blinded["stratum"] == "(total)"]
    assert total["allocated"].sum() == 12 and total["complete"].sum() == 1
    unblinded = db.status(blinded=False)
    assert set(unblinded["condition"]) == set(CONDITIONS)
    with pytest.raises(AllocationError):
        db.export(unblind=True, confirmed_by="  ")
    out = db.export(unblind=True, confirmed_by="AB", reason="final analysis")
    assert len(out) == 12 and set(out["condition"]) <= set(CONDITIONS)
    assert set(out["arm"]) <= set("ABCDE")  # the unblinded export keeps the arm letters
    blind = db.export(unblind=False, confirmed_by="")
    assert len(blind) == 12 and list(blind["participant_id"]) == [f"s{i}" for i in range(12)]
    # no arm in any form: not the condition, not the letter, not the slot/block position
    for column in ("condition", "arm", "slot", "block"):
        assert column not in blind.columns
    arms = db.export(unblind=True, confirmed_by="AB")["arm"]
    assert not any(blind[c].astype(str).equals(arms.astype(str)) for c in blind.columns)
    log = db.audit_log()
    unblind_rows = log[log["action"] == "export_unblinded"]
    assert len(unblind_rows) == 2 and unblind_rows.iloc[0]["who"] == "AB"
    assert "final analysis" in unblind_rows.iloc[0]["detail"]


def test_verify_detects_tampering(db: AllocationDB):
    for i in range(15):
        db.allocate(f"t{i}", {"sex": "female"})
    assert db.verify() == []
    con = sqlite3.connect(db.path)
    row = con.execute("SELECT condition FROM allocations WHERE slot = 3").fetchone()
    other = next(c for c in CONDITIONS if c != row[0])
    con.execute("UPDATE allocations SET condition = ? WHERE slot = 3", (other,))
    con.execute("DELETE FROM allocations WHERE slot = 7")
    con.commit()
    con.close()
    problems = db.verify()
    assert any("seeded sequence" in p for p in problems)
    assert any("gaps" in p for p in problems)


def _worker(path: str, prefix: str, n: int, queue) -> None:
    db = open_allocation_db(path)  # a SQLite file or a postgresql:// URL
    out = []
    for i in range(n):
        sex = "female" if i % 3 else "male"
        a = db.allocate(f"{prefix}{i:05d}", {"sex": sex}, machine=prefix)
        out.append((a.participant_id, a.stratum, a.slot, a.condition.reveal()))
    queue.put(out)


def run_concurrent(path: Path, n_procs: int, n_each: int) -> list[tuple]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(str(path), f"m{k}x", n_each, queue))
        for k in range(n_procs)
    ]
    for p in procs:
        p.start()
    results = []
    for _ in procs:
        results.extend(queue.get(timeout=600))
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return results


def check_concurrent_result(db: AllocationDB, results: list[tuple], n_total: int) -> None:
    assert len(results) == n_total
    ids = [r[0] for r in results]
    assert len(set(ids)) == n_total
    table = db.export(unblind=True, confirmed_by="test")
    assert len(table) == n_total
    assert table["participant_id"].is_unique and table["session_code"].is_unique
    for _stratum, sub in table.groupby("stratum"):
        assert sorted(sub["slot"]) == list(range(1, len(sub) + 1))  # no skipped slot
    # what each process was told equals what the database holds
    stored = {r.participant_id: (r.stratum, r.slot, r.condition) for r in table.itertuples()}
    assert all(stored[pid] == (s, slot, c) for pid, s, slot, c in results)
    assert db.verify() == []


def test_concurrent_allocation_two_processes(db: AllocationDB):
    results = run_concurrent(db.path, 2, 260)
    check_concurrent_result(db, results, 520)


def test_cli_init_status_export_verify(tmp_path: Path, capsys, monkeypatch):
    path = tmp_path / "cli.sqlite"
    assert cli_main(["init", "--db", str(path), "--seed", "3"]) == 0
    for i in range(7):
        assert cli_main(["allocate", "--db", str(path), "--id", f"c{i}", "--stratum", "sex=f"]) == 0
    out = capsys.readouterr().out
    assert not any(c in out for c in CONDITIONS)
    assert cli_main(["status", "--db", str(path)]) == 0
    out = capsys.readouterr().out
    assert "blocks_complete" in out and not any(c in out for c in CONDITIONS)
    # unblinding without confirmation on a non-interactive stdin is refused
    monkeypatch.setattr(sys, "stdin", open(__file__))  # not a tty
    with pytest.raises(AllocationError, match="confirmation"):
        cli_main(["export", "--db", str(path), "--unblind"])
    sys.stdin.close()
    out_file = tmp_path / "export.tsv"
    code = cli_main(
        [
            "export",
            "--db",
            str(path),
            "--unblind",
            "--yes-i-am-unblinding",
            "DSMB review",
            "--by",
            "ZZ",
            "--out",
            str(out_file),
        ]
    )
    assert code == 0
    text = out_file.read_text()
    assert any(c in text for c in CONDITIONS)
    log = AllocationDB(path).audit_log()
    assert (log["who"] == "ZZ").sum() == 1 and "DSMB review" in log["detail"].str.cat()
    assert cli_main(["verify", "--db", str(path)]) == 0
    assert "ok: 7" in capsys.readouterr().out


def test_cli_through_soothe_command(tmp_path: Path):
    """The umbrella command reports an existing database as a one-line error (no traceback),
    and the allocation CLI never loads PsychoPy."""
    path = tmp_path / "x.sqlite"
    AllocationDB.create(path, load_protocol(), seed=1)
    code = (
        "import sys; from soothe.cli import main; rc = main(sys.argv[1:]); "
        "print('psychopy-loaded' if 'psychopy' in sys.modules else 'clean'); sys.exit(rc)"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, "allocation", "init", "--db", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 1, r.stderr
    assert "already exists" in r.stderr and "Traceback" not in r.stderr
    assert r.stdout.strip() == "clean"


FAKE_MOUNTS = """/dev/sda1 / ext4 rw,relatime 0 0
tmpfs /tmp tmpfs rw 0 0
fileserver:/export/lab {base}/nfs nfs4 rw,vers=4.2 0 0
//nas/study {base}/smb cifs rw 0 0
lab@pc2:/data {base}/ssh fuse.sshfs rw 0 0
lab@pc3:/data {base}/oldssh fuse rw 0 0
/dev/sdb1 {base}/usb\\040disk vfat rw 0 0
/dev/sdc1 {base}/nfs/local ext4 rw 0 0
"""


@pytest.mark.parametrize("sub, fstype", [("nfs", "nfs4"), ("smb", "cifs"), ("ssh", "fuse.sshfs"),
                                         ("oldssh", "fuse")])
def test_allocation_db_on_a_network_filesystem_is_refused(tmp_path, monkeypatch, sub, fstype):
    from conditions.allocation import local_disk

    mounts = FAKE_MOUNTS.format(base=tmp_path.resolve().as_posix())
    monkeypatch.setattr(local_disk, "read_mounts", lambda: mounts)
    path = tmp_path / sub / "allocation.sqlite"
    with pytest.raises(AllocationError, match="network filesystem") as err:
        AllocationDB.create(path, load_protocol())
    assert str(path) in str(err.value) and fstype in str(err.value)
    assert "local disk" in str(err.value)
    assert not path.exists()


def test_allocation_db_on_a_local_disk_under_a_network_mount_is_accepted(tmp_path, monkeypatch):
    from conditions.allocation import local_disk

    base = tmp_path.resolve().as_posix()
    mounts = FAKE_MOUNTS.format(base=base)
    monkeypatch.setattr(local_disk, "read_mounts", lambda: mounts)
    # a local disk mounted inside the NFS mount, and a mount point with an escaped space
    assert local_disk.mount_of(tmp_path / "nfs/local/a.sqlite")[2] == "ext4"
    assert local_disk.mount_of(tmp_path / "usb disk/a.sqlite")[1] == f"{base}/usb disk"
    db = AllocationDB.create(tmp_path / "nfs" / "local" / "a.sqlite", load_protocol())
    assert db.allocate("p1", {"sex": "female"}).slot == 1
    # an existing database moved onto a share is refused when opened
    monkeypatch.setattr(local_disk, "read_mounts",
                        lambda: mounts.replace("/nfs/local ext4", "/nfs/local nfs"))
    with pytest.raises(AllocationError, match="network filesystem"):
        AllocationDB(tmp_path / "nfs" / "local" / "a.sqlite")
