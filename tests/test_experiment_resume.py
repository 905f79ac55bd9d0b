"""kill -9 in the middle of the induction, then ``--resume``.

The resumed session must write an ``induction_interrupted`` event at the killed run's last
sign of life, say so on the console, restart the induction from its start (an
``induction_restarted`` event before its new onset, the whole audio played again) and keep
a PsychoPy CSV for every run, the killed one included.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pandas as pd
import pytest
from experiment_fixtures import (  # noqa: F401  (fixtures)
    N_ITEMS,
    PYTHON,
    REPO,
    SHORT,
    jack_server,
    psychopy_home,
    session_env,
    short_protocol,
    soothe_run,
    xvfb_display,
)

from conditions import bids

pytestmark = [pytest.mark.screen, pytest.mark.audio]


def test_kill9_mid_induction_then_resume_restarts_it_and_keeps_every_csv(
        tmp_path, session_env, short_protocol):  # noqa: F811
    root = tmp_path / "data"
    files = bids.SessionFiles(root, "ind1", "1", "induction")
    args = ["--simulate", "--protocol", str(short_protocol), "--data", str(root),
            "--participant", "ind1"]
    proc = subprocess.Popen([PYTHON, "-m", "soothe", "run", *args], env=session_env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline and proc.poll() is None:
        if files.events_tsv.is_file() and "audio_onset" in files.events_tsv.read_text():
            break
        time.sleep(0.02)
    assert proc.poll() is None, "session ended before the induction"
    time.sleep(SHORT["induction"] / 3)  # well inside the 3 s audio
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    before = bids.read_tsv(files.events_tsv, bids.EVENTS_COLUMNS)
    assert "audio_offset" not in before["trial_type"].tolist()  # killed mid-audio

    resumed = soothe_run(session_env, *args, "--resume")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "induction phase was interrupted" in resumed.stdout
    assert "restarts from its start" in resumed.stdout
    events = bids.read_tsv(files.events_tsv, bids.EVENTS_COLUMNS)
    kinds = events["trial_type"].tolist()
    assert kinds.count("induction_interrupted") == 1
    stop = kinds.index("induction_interrupted")
    # the interruption lies after the killed run's audio onset, before anything resumed
    t = events["onset"].to_numpy(float)
    first_audio = kinds.index("audio_onset")
    assert t[first_audio] <= t[stop] <= t[stop + 1]
    assert kinds[:stop] == before["trial_type"].tolist()  # the killed run's rows are kept
    after = kinds[stop + 1:]
    assert after.index("induction_restarted") < after.index("induction_onset")
    # the whole induction again: a full-length audio after the restart
    on = t[stop + 1 + after.index("audio_onset")]
    off = t[stop + 1 + after.index("audio_offset")]
    assert off - on == pytest.approx(SHORT["induction"], abs=0.15)
    assert kinds.count("induction_offset") == 1
    assert kinds.count("audio_onset") == 2
    # every run's PsychoPy CSV: PsychoPy's own file per run (saved row by row, so the
    # killed run's file is kept as it was, with every answer given before the kill)
    runs = sorted(root.glob("ind1_soothe_*.csv"))
    assert len(runs) == 2, runs
    routines = [pd.read_csv(p)["routine"].tolist() for p in runs]
    assert any("induction" in r for r in routines)
    state = json.loads((files.sourcedata_dir / "session_state.json").read_text())
    killed = pd.read_csv(root / state["runs"][0]["psychopy_csv"])
    assert killed["slider.response"].notna().sum() == N_ITEMS
    assert state["runs"][0]["outcome"] == "killed"
    assert state["runs"][1]["induction_restarted"]["phase"] == "induction"
    log = (files.sourcedata_dir / "session_log.txt").read_text()
    assert "restarted from its start" in log
    assert bids.read_participants(root)["status"].tolist() == ["complete"]
