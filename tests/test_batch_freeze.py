"""Import-time objects are frozen for the collector in the batch's own processes only."""

from __future__ import annotations

import gc
import subprocess
import sys

from physio import batch


def test_a_program_calling_the_batch_in_process_keeps_its_collector(tmp_path):
    from tests.readers_fixtures import write_bids_session

    assert batch.IMPORT_FREEZE.enabled is False
    write_bids_session(tmp_path / "raw", seconds=60.0)
    before = gc.get_freeze_count()
    summary = batch.run_batch([tmp_path / "raw"], tmp_path / "deriv", progress=False)
    assert summary["ok"] == 1
    assert gc.get_freeze_count() == before


def test_batch_processes_freeze_once():
    code = (
        "import gc; from physio import batch; batch.init_pool_worker(); "
        "batch.IMPORT_FREEZE.apply(); n = gc.get_freeze_count(); "
        "x = [[] for _ in range(1000)]; batch.IMPORT_FREEZE.apply(); "
        "print(n > 10000, gc.get_freeze_count() == n)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["True", "True"]


def test_freezing_leaves_the_collector_on_and_freezes_no_garbage():
    # a reference cycle that became garbage in the oldest generation before the freeze:
    # collected, not frozen for the life of the process
    code = (
        "import gc, weakref\n"
        "from physio import batch\n"
        "class Node: pass\n"
        "a = Node(); a.me = a; alive = weakref.ref(a)\n"
        "gc.collect(); del a\n"
        "batch.init_pool_worker(); batch.IMPORT_FREEZE.apply()\n"
        "print(gc.isenabled(), alive() is None, gc.get_freeze_count() > 10000)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["True", "True", "True"]
