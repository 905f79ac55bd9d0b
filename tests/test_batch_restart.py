"""Kill the batch mid-run (SIGKILL) and start it again: it finishes the remaining
recordings, leaves no partial files, and gives the same tables as one clean run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conditions.bids import group_windows_paths

REPO = Path(__file__).resolve().parents[1]
N = 3


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    from soothe.simulate import simulate_study

    out = tmp_path_factory.mktemp("raw")
    simulate_study(out, N, seed=21, fs=250.0)
    return out


def batch_cmd(raw: Path, deriv: Path) -> list[str]:
    return [sys.executable, "-m", "soothe", "physio", "process", str(raw), "--out", str(deriv),
            "--no-progress"]


def committed(deriv: Path) -> int:
    """Recordings whose sidecar (written last, the commit mark) exists."""
    return sum(1 for p in deriv.rglob("*_desc-windows_physio.json") if "group" not in p.parts)


def windows_tables(deriv: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(deriv.rglob("*_desc-windows_physio.tsv"))
            if "group" not in p.parts}


@pytest.mark.skipif(os.name == "nt", reason="SIGKILL is POSIX")
def test_killed_batch_resumes_to_the_clean_result(raw, tmp_path):
    clean = tmp_path / "clean"
    assert subprocess.run(batch_cmd(raw, clean), cwd=REPO, capture_output=True).returncode == 0

    deriv = tmp_path / "killed"
    proc = subprocess.Popen(batch_cmd(raw, deriv), cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if committed(deriv) >= 1:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the batch finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = committed(deriv)
    assert 1 <= done_before < N
    assert not group_windows_paths(deriv)[0].exists()

    again = subprocess.run(batch_cmd(raw, deriv), cwd=REPO, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"{N - done_before} processed, {done_before} up to date, 0 failed" in again.stdout
    assert not [p for p in deriv.rglob("*") if p.name.endswith(".part")]
    assert windows_tables(deriv) == windows_tables(clean)
    pd.testing.assert_frame_equal(pd.read_parquet(group_windows_paths(deriv)[1]),
                                  pd.read_parquet(group_windows_paths(clean)[1]))
