"""Two simulated sessions at once on one machine (stream identity).

Each ``soothe run --simulate`` starts its own simulated ECG/EDA device with a source_id of
its own and its own marker outlet. Both are visible to both sessions on LSL; each file must
hold only its own markers and its own physiology. On the code before the fix each session
recorded every ``soothe_markers`` stream and every stream of a physiology type, so each
file held the other session's markers and device too.

The two sessions get separate virtual screens (the automated participants type through
X input, which would otherwise race for the focus) but one JACK server and one LSL
network, which is what matters here.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from experiment_fixtures import (  # noqa: F401  (fixtures)
    PYTHON,
    REPO,
    _free_display,
    _stop,
    jack_server,
    psychopy_home,
    session_env,
    short_protocol,
    xvfb_display,
)

from conditions import bids

pytestmark = [pytest.mark.screen, pytest.mark.audio]


@pytest.fixture(scope="module")
def second_display():
    n = _free_display()
    proc = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1280x1024x24"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if Path(f"/tmp/.X11-unix/X{n}").exists():
            break
        time.sleep(0.05)
    else:
        _stop(proc)
        pytest.fail("second Xvfb did not start")
    yield f":{n}"
    _stop(proc)


def _launch(env, protocol: Path, root: Path, pid: str, seed: int) -> subprocess.Popen:
    args = ["--simulate", "--speed", "2", "--protocol", str(protocol), "--data", str(root),
            "--participant", pid, "--seed", str(seed)]
    return subprocess.Popen([PYTHON, "-m", "soothe", "run", *args], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def two_sessions(tmp_path_factory, session_env, second_display, short_protocol):  # noqa: F811
    tmp_path = tmp_path_factory.mktemp("concurrent")
    env_b = dict(session_env, DISPLAY=second_display)
    runs = {"ca": (session_env, 11), "cb": (env_b, 22)}
    procs = {}
    for i, (pid, (env, seed)) in enumerate(runs.items()):
        procs[pid] = _launch(env, short_protocol, tmp_path / pid / "data", pid, seed)
        if i == 0:
            time.sleep(1.0)  # overlapping, not simultaneous start-up
    outs = {pid: proc.communicate(timeout=300)[0] for pid, proc in procs.items()}
    return {"tmp": tmp_path, "runs": runs, "procs": procs, "outs": outs}


def test_two_simulated_sessions_at_once_record_only_their_own_streams(two_sessions):
    from experiment.recorder import raw_marker_times, read_raw_stream

    tmp_path, runs, outs = two_sessions["tmp"], two_sessions["runs"], two_sessions["outs"]
    for pid, proc in two_sessions["procs"].items():
        assert proc.returncode == 0, outs[pid][-3000:]
    recorded = {}
    for pid in runs:
        files = bids.SessionFiles(tmp_path / pid / "data", pid, "1", "induction")
        raw = files.sourcedata_dir / "physio_raw"
        metas = {p: json.loads(p.read_text()) for p in sorted(raw.glob("run-*.json"))}
        recorded[pid] = {
            "files": files, "raw": raw,
            "markers": [m["source_id"] for m in metas.values() if m["type"] == "Markers"],
            "physio": [(p, m) for p, m in metas.items() if m["type"] != "Markers"],
        }
    # the two sessions recorded different streams: each its own marker outlet and device
    # (the old code took whichever 'soothe_markers' / Physio stream resolved first)
    ids = {pid: (r["markers"], [m["source_id"] for _, m in r["physio"]])
           for pid, r in recorded.items()}
    assert not set(ids["ca"][0]) & set(ids["cb"][0]), ids
    assert not set(ids["ca"][1]) & set(ids["cb"][1]), ids
    for rec in recorded.values():
        files, raw = rec["files"], rec["raw"]
        state = json.loads((files.sourcedata_dir / "session_state.json").read_text())
        run = state["runs"][0]
        # markers: exactly this session's own, in order, from its own outlet
        events = bids.read_tsv(files.events_tsv, bids.EVENTS_COLUMNS)
        assert [c for _, c in raw_marker_times(raw)] == events["value"].astype(int).tolist()
        assert rec["markers"] == [run["marker_source_id"]]
        # physiology: exactly one stream, this session's own device
        assert len(rec["physio"]) == 1, ids
        path, meta = rec["physio"][0]
        assert meta["source_id"] == run["physio_streams"][0]["source_id"]
        t, _, _ = read_raw_stream(path.with_suffix(".tsv"))
        # one device at 500 Hz: regular sample times (two interleaved devices would not be)
        assert np.median(np.diff(t)) == pytest.approx(1 / 500, rel=0.05)
        assert bids.read_physio_sidecar(files)["Columns"] == ["ecg", "eda"]


def test_console_of_a_simulated_run_is_quiet(two_sessions):
    """No 'sh: pactl: not found' (PsychPortAudio on a PC without PulseAudio) and
    no liblsl 'Stream transmission broke off' at the end (inlets outliving their outlets),
    nor liblsl's INFO banner; the experimenter's console holds soothe's lines only."""
    for pid, out in two_sessions["outs"].items():
        assert two_sessions["procs"][pid].returncode == 0, out[-3000:]
        assert "pactl" not in out, out
        assert "broke off" not in out, out
        assert "INFO|" not in out and " ERR|" not in out, out
        assert "[soothe] session complete" in out
