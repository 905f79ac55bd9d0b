"""The same batch on Dask distributed: a scheduler and two workers started as separate
processes with the ``dask`` command line, on the loopback interface only. The tables are
identical to the local run; only the executor differs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conditions.bids import group_windows_paths
from physio.batch import run_batch

REPO = Path(__file__).resolve().parents[1]
DASK = str(Path(sys.executable).parent / "dask")
N = 2


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    from soothe.simulate import simulate_study

    out = tmp_path_factory.mktemp("raw")
    simulate_study(out, N, seed=31, fs=250.0)
    return out


@pytest.fixture()
def dask_cluster(tmp_path):
    """``dask scheduler`` + two ``dask worker`` processes on 127.0.0.1; yields the address."""
    if not Path(DASK).exists():
        pytest.fail("the dask command line is missing; dask[distributed] is a core dependency")
    sched_file = tmp_path / "scheduler.json"
    procs = [subprocess.Popen(
        [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
         "--scheduler-file", str(sched_file)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        for i in range(2):
            procs.append(subprocess.Popen(
                [DASK, "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                 "--no-dashboard", "--name", f"w{i}", "--local-directory", str(tmp_path)],
                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from dask.distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def test_dask_workers_give_identical_tables(raw, tmp_path, dask_cluster):
    local = run_batch([raw], tmp_path / "local", progress=False)
    assert local["ok"] == N
    remote = run_batch([raw], tmp_path / "dask", scheduler=dask_cluster, progress=False)
    assert (remote["ok"], remote["failed"]) == (N, 0)
    a = pd.read_parquet(group_windows_paths(tmp_path / "local")[1])
    b = pd.read_parquet(group_windows_paths(tmp_path / "dask")[1])
    pd.testing.assert_frame_equal(a, b)
    for r_local, r_dask in zip(local["results"], remote["results"]):
        assert Path(r_local["windows"]).read_text() == Path(r_dask["windows"]).read_text()
