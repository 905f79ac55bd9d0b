"""Allocation database under stress: many processes, copies taken mid-transaction,
live backups, and ``soothe allocation verify`` on every result."""

from __future__ import annotations

import json
import multiprocessing as mp
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from postgres_fixtures import pg_url, postgres_server  # noqa: F401  (fixtures)
from test_allocation import check_concurrent_result, run_concurrent

from conditions.allocation import (
    AllocationDB,
    block_sequence,
    create_allocation_db,
    session_code_for,
)
from conditions.protocol import load_protocol
from experiment.allocation_cli import main as cli_main


def _copy_db(src: Path, dest: Path) -> Path:
    """Copy the database file with its WAL and shared-memory files, as a backup script would."""
    for suffix in ("", "-wal", "-shm"):
        side = Path(str(src) + suffix)
        if side.exists():
            shutil.copyfile(side, Path(str(dest) + suffix))
    return dest


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_5000_allocations_from_4_processes(tmp_path: Path, capsys, request, backend):
    target = (str(tmp_path / "big.sqlite") if backend == "sqlite"
              else request.getfixturevalue("pg_url"))
    db = create_allocation_db(target, load_protocol(), seed=99)
    t0 = time.perf_counter()
    results = run_concurrent(target, 4, 1250)
    elapsed = time.perf_counter() - t0
    with capsys.disabled():
        ids = [r[0] for r in results]
        slots = {(r[1], r[2]) for r in results}
        top: dict[str, int] = {}
        for _pid, stratum, slot, _c in results:
            top[stratum] = max(top.get(stratum, 0), slot)
        gaps = sum(top.values()) - len(slots)
        print(f"\n[{backend}] 5000 allocations from 4 processes in {elapsed:.1f} s "
              f"({5000 / elapsed:.0f}/s); duplicate IDs {len(ids) - len(set(ids))}, "
              f"duplicate (stratum, slot) {len(results) - len(slots)}, gaps {gaps}")
    check_concurrent_result(db, results, 5000)
    # per-stratum balance over complete blocks, checked independently of verify()
    table = db.export(unblind=True, confirmed_by="test")
    for _stratum, sub in table.groupby("stratum"):
        sub = sub.sort_values("slot")
        last = sub["block"].max()
        for _block, blk in sub[sub["block"] < last].groupby("block"):
            counts = blk["condition"].value_counts()
            assert len(counts) == 5 and counts.nunique() == 1
    assert cli_main(["verify", "--db", target]) == 0
    assert "ok: 5000" in capsys.readouterr().out


def test_copy_taken_mid_transaction_opens_consistent(tmp_path: Path, capsys):
    protocol = load_protocol()
    db = AllocationDB.create(tmp_path / "live.sqlite", protocol, seed=5)
    for i in range(23):
        db.allocate(f"a{i}", {"sex": "female" if i % 2 else "male"})
    # a writer is half-way through an allocation: the row is inserted, not committed
    stratum = "sex=female"
    slot = 12
    condition, block = block_sequence(5, stratum, db.conditions, db.block_sizes, slot)[-1]
    con = sqlite3.connect(db.path, isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    con.execute(
        "INSERT INTO allocations (participant_id, stratum, slot, block, condition, "
        "session_code, strata_json, allocated_at, machine, os_user) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            "mid",
            stratum,
            slot,
            block,
            condition,
            session_code_for(5, "mid"),
            json.dumps({"sex": "female"}),
            "2026-01-01T00:00:00+00:00",
            "pcX",
            "lab",
        ),
    )
    copy = _copy_db(db.path, tmp_path / "copy.sqlite")
    con.execute("COMMIT")
    con.close()

    copied = AllocationDB(copy)
    assert copied.verify() == []
    assert copied.lookup("mid") is None  # the uncommitted allocation is not in the copy
    assert copied.lookup("a22") is not None
    assert copied.allocate("next", {"sex": "female"}).slot == 12  # the copy carries on
    assert db.lookup("mid") is not None and db.verify() == []
    for path in (db.path, copy):
        assert cli_main(["verify", "--db", str(path)]) == 0
    out = capsys.readouterr().out
    assert "ok: 24" in out and "ok: 24" in out.split("ok: 24", 1)[1]


def _allocate_forever(path: str, stop, prefix: str) -> None:
    db = AllocationDB(path)
    i = 0
    while not stop.is_set():
        db.allocate(f"{prefix}{i}", {"sex": "female" if i % 2 else "male"})
        i += 1


def _n_allocated(db: AllocationDB) -> int:
    status = db.status()
    return int(status.loc[status["stratum"] == "(total)", "allocated"].sum())


def test_backup_while_another_process_allocates(tmp_path: Path):
    db = AllocationDB.create(tmp_path / "busy.sqlite", load_protocol(), seed=8)
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    proc = ctx.Process(target=_allocate_forever, args=(str(db.path), stop, "w"))
    proc.start()
    try:
        deadline = time.monotonic() + 60
        while _n_allocated(db) < 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        counts = []
        for k in range(5):
            backup = db.backup(tmp_path / f"backup{k}.sqlite")
            copied = AllocationDB(backup)
            assert copied.verify() == []
            counts.append(len(copied.export(unblind=False, confirmed_by="t")))
            time.sleep(0.2)
    finally:
        stop.set()
        proc.join(timeout=60)
    assert proc.exitcode == 0
    assert counts == sorted(counts) and counts[-1] > counts[0] >= 20
    assert db.verify() == []
