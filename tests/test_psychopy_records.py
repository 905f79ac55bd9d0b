"""PsychoPy records: ExperimentHandler wide CSV + .psydat, saved after every row.

These run without a window: the handler and its files do not need one. The whole-session
rows (one per routine) are checked in tests/test_signals_session.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("psychopy")

from conditions import bids  # noqa: E402
from conditions.protocol import load_protocol  # noqa: E402
from experiment.psychopy_records import (  # noqa: E402
    PsychopyRecords,
    marker_levels,
    write_events_levels,
)

PSYCHOPY_COLUMNS = ["thisRow.t", "notes", "participant", "session", "date", "expName",
                    "psychopyVersion", "frameRate", "expStart"]


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def _item(i: int) -> dict:
    return {"phase": "pre_questionnaire", "questionnaire": "state_vas", "item_id": f"i{i}",
            "construct": "calm", "reversed": False, "position": i, "onset": 1.0 + i,
            "rating": 40.0 + i, "response_time": 1.5, "scale_min": 0, "scale_max": 100}


def test_csv_has_psychopys_columns_and_builder_names(tmp_path):
    rec = PsychopyRecords(tmp_path, "p01", "1", "S-ABC", frame_rate=59.94)
    rec.add_row("dialog", {"dialog.age": 30})
    rec.routine_started("baseline")
    rec.routine_ended("baseline")
    rec.item_row(_item(1), "pre_questionnaire")
    rec.close()
    assert rec.csv_path.parent == tmp_path
    assert rec.csv_path.name.startswith("p01_soothe_") and rec.csv_path.suffix == ".csv"
    table = pd.read_csv(rec.csv_path)
    assert set(PSYCHOPY_COLUMNS) <= set(table.columns)
    assert {"slider.response", "slider.rt", "baseline.started", "baseline.stopped",
            "routine"} <= set(table.columns)
    assert table["routine"].tolist() == ["dialog", "baseline", "pre_questionnaire"]
    assert table["slider.response"].iloc[2] == 41.0 and table["slider.rt"].iloc[2] == 1.5
    assert (table["frameRate"] == 59.94).all() and (table["expName"] == "soothe").all()
    assert table["baseline.stopped"].iloc[1] >= table["baseline.started"].iloc[1]
    # the .psydat is PsychoPy's pickled handler
    from psychopy import misc

    exp = misc.fromFile(str(rec.psydat_path))
    assert len(exp.entries) == 3 and exp.entries[2]["slider.response"] == 41.0
    # the PsychoPy files are not BIDS: ignored by the validator
    assert "*_soothe_*.csv" in (tmp_path / ".bidsignore").read_text()


def test_one_file_per_run_never_overwritten(tmp_path):
    a = PsychopyRecords(tmp_path, "p02", "1", "S-X")
    a.add_row("dialog", {})
    b = PsychopyRecords(tmp_path, "p02", "1", "S-X")
    b.add_row("dialog", {})
    assert a.csv_path != b.csv_path and a.csv_path.is_file() and b.csv_path.is_file()


_KILLER = """
import os, signal, sys
from experiment.psychopy_records import PsychopyRecords
rec = PsychopyRecords(sys.argv[1], "k1", "1", "S-K")
rec.add_row("dialog", {})
for i in range(1, int(sys.argv[2]) + 1):
    rec.item_row({"phase": "pre_questionnaire", "questionnaire": "q", "item_id": f"i{i}",
                  "rating": float(i), "response_time": 0.5}, "pre_questionnaire")
print(rec.csv_path, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_kill9_keeps_every_answered_row(tmp_path):
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    proc = subprocess.run([sys.executable, "-c", _KILLER, str(tmp_path), "5"], env=env,
                          capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    csv = Path(proc.stdout.strip().splitlines()[-1])
    table = pd.read_csv(csv)
    assert table["slider.response"].dropna().tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert rec_files_complete(csv)


def rec_files_complete(csv: Path) -> bool:
    """The CSV ends with a full line and the .psydat beside it loads."""
    from psychopy import misc

    return csv.read_bytes().endswith(b"\n") and len(misc.fromFile(
        str(csv.with_suffix(".psydat"))).entries) >= 1


def test_events_sidecar_levels_cover_every_marker_code(tmp_path):
    protocol = load_protocol()
    bids.ensure_dataset(tmp_path, "t", protocol.task)
    path = write_events_levels(tmp_path, protocol.task, protocol.markers)
    sidecar = json.loads(path.read_text())
    levels = sidecar["value"]["Levels"]
    assert set(levels) == {str(c) for c in protocol.markers.all_codes()}
    assert levels["90"] == "audio_onset: the induction audio starts playing"
    assert sidecar["trial_type"]["Levels"]["baseline_onset"] == "the baseline phase starts"
    assert sidecar["onset"]["Description"]  # the column descriptions are kept
    assert marker_levels(protocol.markers)["201"].startswith("induction_minute_1")


_EXITER = """
import sys
from experiment.psychopy_records import PsychopyRecords
rec = PsychopyRecords(sys.argv[1], "e1", "1", "S-E")
rec.add_row("dialog", {})
raise SystemExit(3)  # a crash-like exit without close()
"""


def test_no_crash_warning_and_psychopy_writes_nothing_of_its_own(tmp_path):
    """The session log must not tell the experimenter that "no data will be saved in the
    event of a crash" (the CSV is saved after every row), and PsychoPy's own exit-time save
    must not add files beside ours."""
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    data = tmp_path / "data"
    proc = subprocess.run([sys.executable, "-c", _EXITER, str(data)], env=env,
                          capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert "no dataFileName" not in proc.stdout + proc.stderr
    names = sorted(p.name for p in data.iterdir())
    assert [n for n in names if not n.startswith(".")] == sorted(
        [n for n in names if n.endswith((".csv", ".psydat")) and not n.startswith(".")])
    assert sum(n.endswith(".csv") for n in names) == 1
    assert sum(n.endswith(".psydat") for n in names) == 1
