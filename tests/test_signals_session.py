"""The signal check end to end: ``soothe signals`` headless, the live page in headless
Chromium, and ``soothe run --simulate`` going through the check before the baseline with the
PsychoPy records a Builder user expects.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import types

import numpy as np
import pandas as pd
import pytest
from experiment_fixtures import (  # noqa: F401  (fixtures)
    IN_CI,
    N_ITEMS,
    PYTHON,
    REPO,
    jack_server,
    psychopy_home,
    session_env,
    short_protocol,
    soothe_run,
    xvfb_display,
)

from conditions import bids
from conditions.protocol import CONDITION_NAMES, load_protocol


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if IN_CI:
            pytest.fail("chromium is required in CI (.ci/run installs it)")
        pytest.skip("chromium not installed")
    return exe


@pytest.fixture
def lsl_env(tmp_path):
    cfg = tmp_path / "lsl_api.cfg"
    cfg.write_text("[ports]\nIPv6 = disable\n[multicast]\nResolveScope = machine\n"
                   "[lab]\nKnownPeers = {127.0.0.1}\n")
    return {**os.environ, "HOME": str(tmp_path / "home"), "LSLAPICFG": str(cfg),
            "PYTHONPATH": str(REPO)}


def _signals(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "soothe", "signals", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=240)


@pytest.mark.parametrize(("scenario", "code", "channel", "status", "words"), [
    ("good", 0, "EDA", "good", "responds to a deep breath"),
    ("eda_nonresponder", 5, "EDA", "check electrodes", "no response to a deep breath"),
])
def test_headless_signals_over_lsl_writes_verdict_and_snapshot(
        tmp_path, lsl_env, scenario, code, channel, status, words):
    _chromium()
    png, js = tmp_path / "s.png", tmp_path / "v.json"
    proc = _signals(lsl_env, "--simulate", scenario, "--seconds", "9", "--snapshot", str(png),
                    "--verdict", str(js))
    assert proc.returncode == code, proc.stdout + proc.stderr[-3000:]
    record = json.loads(js.read_text())
    assert record["scenario"] == scenario
    assert {k: v["status"] for k, v in record["channels"].items()} == record["expected"]
    assert record["channels"][channel]["status"] == status
    assert words in record["channels"][channel]["reason"]
    assert record["method"]["scr_min_us"] == 0.05 and record["deep_breath_cues_s"]
    if scenario == "good":
        assert record["first_good_s"] is not None and record["first_good_s"] <= 10
    # the snapshot shows the verdict colours: green cards, and amber for the bad channel
    from PIL import Image

    rgb = np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3).astype(int)

    def share(hex_colour: str) -> float:
        target = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
        return float((np.abs(rgb - target).sum(axis=1) < 12).mean())

    assert share("#2e7d32") > 0.01  # green cards
    assert (share("#e08a00") > 0.01) == (code != 0)  # amber only when something is wrong


def test_signals_prints_no_liblsl_info_lines(lsl_env):
    """liblsl runs at warning level: no 'Configuration loaded' or build banner on start."""
    proc = _signals(lsl_env, "--simulate", "good", "--seconds", "3", "--cue-at", "1")
    assert proc.returncode in (0, 5), proc.stdout + proc.stderr[-3000:]
    console = proc.stdout + proc.stderr
    assert "ECG" in proc.stdout  # the check itself ran and printed its verdicts
    assert "INFO|" not in console and "Configuration loaded" not in console, console[-3000:]


def test_signals_refuses_bad_arguments(lsl_env):
    proc = _signals(lsl_env, "--simulate", "loose_wire", "--seconds", "1")
    assert proc.returncode == 1 and "unknown scenario 'loose_wire'" in proc.stderr
    assert "resp_loose" in proc.stderr  # it lists the known ones
    proc = _signals(lsl_env, "--simulate", "good", "--seconds", "0")
    assert proc.returncode == 1 and "--seconds must be > 0" in proc.stderr


def test_live_page_streams_to_a_browser_without_internet(lsl_env, monkeypatch, tmp_path):
    """The page is served from the installed BokehJS and updates reach a headless browser."""
    exe = _chromium()
    monkeypatch.setenv("LSLAPICFG", lsl_env["LSLAPICFG"])
    import urllib.request

    from experiment.signals.cli import start_simulated_device, stop_device, wait_for_streams
    from experiment.signals.monitor import SignalMonitor
    from experiment.signals.page import CHROMIUM_FLAGS, CheckState, serve, stop_server

    device, sid = start_simulated_device("ecg_inverted", 250.0, 3)
    monitor = SignalMonitor([sid], warn=print)
    monitor.start()
    browser = None
    try:
        wait_for_streams(monitor)
        state = CheckState()
        box, port, thread = serve(monitor, state)
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30).read().decode()
        assert "cdn.bokeh.org" not in page and '<script src="/static/js/bokeh' in page
        profile = tempfile.mkdtemp(dir=tmp_path)
        browser = subprocess.Popen([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                                    "--remote-debugging-port=0", f"http://127.0.0.1:{port}/"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        # the browser paints several updates a second, the judge needs a few seconds of
        # signal: wait for both (a judgement made on the last samples of the minimum
        # length still says "waiting for data")
        while ((len(state.lags_ms) < 40 or not state.verdicts
                or any(v.status == "waiting" for v in state.verdicts.values()))
               and time.monotonic() < deadline):
            time.sleep(0.2)
        judged = state.verdicts
        stop_server(box, thread)
    finally:
        if browser is not None:
            browser.terminate()
            browser.wait(10)
        monitor.stop()
        stop_device(device)
    assert len(state.lags_ms) >= 40, "the browser painted too few updates"
    assert min(state.lags_ms) > -5  # painted after the sample existed (one wall clock)
    assert judged["ECG"].reason == "inverted ECG: swap the leads or tick 'inverted'"


def test_each_check_cues_only_the_device_it_reads(lsl_env, monkeypatch):
    """Two checks in one process, each reading its own simulated device: a deep breath asked
    by one reaches that device only (its cue stream is named after the stream it reads), and
    the device hears it however many other LSL streams the machine holds."""
    monkeypatch.setenv("LSLAPICFG", lsl_env["LSLAPICFG"])
    from experiment.signals.cli import start_simulated_device, stop_device, wait_for_streams
    from experiment.signals.monitor import SignalMonitor, cue_source_id

    devices, monitors = [], []
    try:
        for seed in (11, 12):
            device, sid = start_simulated_device("good", 100.0, seed)
            devices.append(device)
            monitors.append(SignalMonitor([sid], warn=print))
            monitors[-1].start()
        ours, other = monitors
        for monitor in monitors:
            wait_for_streams(monitor)
            assert monitor.wait_for_cue_listener(60), "the device never heard its cue stream"
        import pylsl

        for monitor in monitors:  # one cue stream per check, named after the stream it reads
            found = pylsl.resolve_byprop("source_id", cue_source_id(monitor.source_ids[0]), 2,
                                         3.0)
            assert len(found) == 1 and found[0].name() == "soothe_breath_cue"
        cue = ours.cue_deep_breath()
        deadline = time.monotonic() + 60

        def newest(monitor) -> float:
            t = monitor.frame().channels["RESP"][0]
            return float(t[-1]) if len(t) else float("-inf")

        while time.monotonic() < deadline and min(map(newest, monitors)) < cue + 5.0:
            time.sleep(0.2)
        lifts = []
        for monitor in monitors:
            # the belt: normal breathing (0.25 Hz, +-1 V) averages to 0 over 4 s; the deep
            # breath (0.5-4.5 s after the cue) adds 2 sin^2, i.e. +1 V on average
            t, x, _ = monitor.frame().channels["RESP"]
            window = (t >= cue + 0.5) & (t < cue + 4.5)
            assert window.sum() > 3.5 * 100, "not 4 s of belt signal after the cue"
            lifts.append(float(x[window].mean()))
    finally:
        for monitor in monitors:
            monitor.stop()
        for device in devices:
            stop_device(device)
    print("belt lift after the cue (V):", lifts)
    assert lifts[0] > 0.7, f"the cued device did not take the deep breath: {lifts}"
    assert abs(lifts[1]) < 0.3, f"a device nobody cued took a deep breath: {lifts}"


# ====================================================================== in soothe run
def test_skip_is_recorded_without_opening_anything(tmp_path):
    from experiment.datafiles import SessionData, SessionState
    from experiment.signals.session_hook import signal_check_step

    data = SessionData(tmp_path, "p1", "1", "induction")
    data.state = SessionState("p1", "1", "S-1", runs=[{"run": 1}])
    said: list[str] = []
    fake = types.SimpleNamespace(
        opt=types.SimpleNamespace(signal_check="skip", simulate=False), data=data,
        state=data.state, recorder=None, say=said.append, warn=said.append,
        log=data.log, signal_check=None)
    record = signal_check_step(fake)
    assert record["outcome"] == "skipped (--skip-signal-check)"
    saved = json.loads((data.source_dir / "signal_check_run-1.json").read_text())
    assert saved["outcome"] == record["outcome"]
    assert json.loads(data.state_path.read_text())["runs"][0]["signal_check"]["outcome"] == \
        record["outcome"]
    assert "signal check skipped" in said[0]


@pytest.mark.screen
@pytest.mark.audio
def test_run_simulate_checks_signals_before_the_baseline(tmp_path, session_env,  # noqa: F811
                                                         short_protocol):  # noqa: F811
    root = tmp_path / "data"
    proc = soothe_run(session_env, "--simulate", "--protocol", str(short_protocol),
                      "--data", str(root), "--participant", "sig1")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    files = bids.SessionFiles(root, "sig1", "1", "induction")
    check = json.loads((files.sourcedata_dir / "signal_check_run-1.json").read_text())
    assert check["outcome"] == "checked automatically (--simulate)"
    assert {k: v["status"] for k, v in check["channels"].items()} == {"ECG": "good",
                                                                       "EDA": "good"}
    assert "signal check: every channel good" in proc.stdout
    state = json.loads((files.sourcedata_dir / "session_state.json").read_text())
    assert state["runs"][0]["signal_check"]["overall"] == "good"
    assert "frame_rate_hz" in state["runs"][0]
    log = (files.sourcedata_dir / "session_log.txt").read_text()
    assert log.index("signal check checked") < log.index("phase baseline")
    # the PsychoPy records: one CSV per run in the data folder, a row per routine
    (csv,) = root.glob("sig1_soothe_*.csv")
    assert csv.with_suffix(".psydat").is_file()
    assert state["runs"][0]["psychopy_csv"] == csv.name
    table = pd.read_csv(csv)
    for column in ("thisRow.t", "notes", "participant", "date", "expName", "psychopyVersion",
                   "frameRate", "expStart", "slider.response", "slider.rt"):
        assert column in table.columns, column
    protocol = load_protocol(short_protocol)
    expected = ["dialog", "signal_check"]
    for phase in protocol.phases:
        expected += [phase.name] * (len(phase.questionnaires) and N_ITEMS or 1)
    assert table["routine"].tolist() == expected
    assert table.loc[table["routine"] == "signal_check", "signal_check.ECG"].iloc[0].startswith(
        "good")
    beh = bids.read_tsv(files.beh_tsv, bids.BEH_COLUMNS)
    items = table[table["slider.response"].notna()]
    assert np.allclose(items["slider.response"].to_numpy(float), beh["rating"].to_numpy(float))
    # concealment: the experimenter-visible CSV never names the condition
    text = csv.read_text().lower()
    assert not [w for w in CONDITION_NAMES if w.lower() in text]
    # the events sidecar explains every marker code
    levels = json.loads((root / "task-induction_events.json").read_text())["value"]["Levels"]
    assert set(levels) == {str(c) for c in protocol.markers.all_codes()}


def test_live_check_records_the_experimenters_decision(lsl_env, monkeypatch, tmp_path):
    """run_live (what `soothe signals` and `soothe run` use): the deep-breath button, then
    "Signals OK: continue"; the verdict file keeps the decision and the breath result."""
    import io
    import threading

    monkeypatch.setenv("LSLAPICFG", lsl_env["LSLAPICFG"])
    from experiment.signals.cli import run_live, start_simulated_device, stop_device
    from experiment.signals.monitor import SignalMonitor
    from experiment.signals.page import CheckState

    device, sid = start_simulated_device("good", 250.0, 5)
    monitor = SignalMonitor([sid], warn=print)
    monitor.start()
    state = CheckState()

    def experimenter() -> None:  # presses the buttons the page's callbacks press
        deadline = time.monotonic() + 90
        while monitor.seconds_of_data() < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        monitor.wait_for_cue_listener(10)
        monitor.cue_deep_breath()
        while time.monotonic() < deadline and not (
                state.verdicts.get("EDA") and "responds" in state.verdicts["EDA"].reason):
            time.sleep(0.2)
        time.sleep(12)  # past the 10-s window: the result must stay
        state.finish("continue")

    clicker = threading.Thread(target=experimenter, daemon=True)
    clicker.start()
    out = io.StringIO()
    try:
        code = run_live(monitor, browser=False, verdict_path=tmp_path / "v.json", state=state,
                        out=out)
    finally:
        monitor.stop()
        stop_device(device)
    record = json.loads((tmp_path / "v.json").read_text())
    assert record["outcome"] == "continue" and code == 0, record
    assert "responds to a deep breath" in record["channels"]["EDA"]["reason"]
    assert "http://127.0.0.1:" in out.getvalue()
