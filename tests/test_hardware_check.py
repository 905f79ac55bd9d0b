"""``soothe check`` that can fail: streams and the lab config, the frame rate
against the expected refresh, and the audio-onset latency through a JACK loopback.

The old check reported "OK 3276.8 Hz" under a virtual screen, had no latency check and no
stream listing; each test here fails on it.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest
from experiment_fixtures import (  # noqa: F401  (fixtures)
    IN_CI,
    REPO,
    _stop,
    need,
    psychopy_home,
    start_jackd,
    xvfb_display,
)

from experiment.audio_latency import (
    LatencyCheckError,
    LatencyReport,
    find_click_onsets,
    judge_latency,
    pair_latencies,
)
from experiment.hardware_check import assess_flip_intervals


# ------------------------------------------------------------------ frame rate
def test_flip_intervals_are_judged_against_the_expected_refresh():
    rng = np.random.default_rng(1)
    assert assess_flip_intervals([1 / 3276.8] * 180, 60).status == "WARN"  # no vsync
    ok = assess_flip_intervals(1 / 60 + rng.normal(0, 0.0002, 180), 60)
    assert ok.status == "OK", ok.detail
    slow = assess_flip_intervals([1 / 30] * 180, 60)
    assert slow.status == "FAIL" and "30.0 Hz measured" in slow.detail
    dropped = np.full(180, 1 / 60)
    dropped[::20] = 2 / 60  # 5 % of the frames missed a refresh
    assert assess_flip_intervals(dropped, 60).status == "FAIL"
    assert assess_flip_intervals(np.full(180, 1 / 144), 144).status == "OK"
    assert assess_flip_intervals([], 60).status == "FAIL"
    assert assess_flip_intervals([np.nan] * 5, 60).status == "FAIL"


@pytest.mark.screen
def test_check_on_a_virtual_screen_warns_instead_of_ok(tmp_path, xvfb_display):  # noqa: F811
    env = dict(os.environ, DISPLAY=xvfb_display, HOME=str(tmp_path), PYTHONPATH=str(REPO),
               SOOTHE_NO_REEXEC="1")
    out = subprocess.run([sys.executable, "-m", "soothe", "check", "--only", "frame",
                          "--windowed", "--refresh-hz", "60"], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=180)
    lines = [ln for ln in out.stdout.splitlines() if "frame rate" in ln]
    assert len(lines) == 1, out.stdout + out.stderr[-2000:]
    assert lines[0].startswith("WARN") and "no vsync" in lines[0]
    assert out.returncode == 2  # warnings only: neither OK (0) nor a failure (1)


# ------------------------------------------------------------------ click finding
def test_planted_click_latencies_are_recovered_to_the_sample():
    """An amplifier channel at 2 kHz with noise and a baseline offset; every click planted
    at a known latency after its marker."""
    fs = 2000.0
    rng = np.random.default_rng(7)
    t = 100.0 + np.arange(int(20 * fs)) / fs
    x = 0.3 + rng.normal(0, 0.01, len(t))
    markers = 101.0 + np.cumsum(rng.uniform(0.4, 0.7, 20))
    truth = rng.uniform(0.004, 0.030, 20)
    for m, d in zip(markers, truth):
        i = int(np.ceil((m + d - t[0]) * fs))
        x[i:i + 3] += 1.0
    got = pair_latencies(markers, find_click_onsets(t, x))
    assert np.all(np.abs(got - truth) <= 1 / fs + 1e-9)
    report = LatencyReport.from_latencies("synthetic", got)
    assert report.n_found == 20
    assert report.latency_ms == pytest.approx(truth.mean() * 1000, abs=0.5)
    assert report.jitter_ms == pytest.approx(truth.std(ddof=1) * 1000, abs=0.5)
    assert judge_latency(report, max_jitter_ms=2.0)[0] == "FAIL"  # ~8 ms SD is too much


def test_missing_clicks_and_bad_recordings_are_reported():
    t = np.arange(5000) / 1000.0
    x = np.zeros_like(t)
    x[1010] = 1.0
    lat = pair_latencies([1.0, 3.0], find_click_onsets(t, x))
    assert lat[0] == pytest.approx(0.010) and np.isnan(lat[1])
    status, detail = judge_latency(LatencyReport.from_latencies("x", lat))
    assert status == "FAIL" and "1 click(s) not found" in detail
    with pytest.raises(LatencyCheckError, match="flat"):
        find_click_onsets(t, np.zeros_like(t))
    with pytest.raises(LatencyCheckError, match="empty"):
        find_click_onsets(np.empty(0), np.empty(0))
    with pytest.raises(LatencyCheckError, match="time stamps"):
        find_click_onsets(t, x[:-1])


# ------------------------------------------------------------------ JACK loopback
@pytest.fixture
def private_jack():
    name = f"soothe_lat_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    proc = start_jackd(name, capture_ports="2")
    yield name
    _stop(proc)


@pytest.mark.audio
def test_audio_latency_through_a_jack_loopback(tmp_path, private_jack):
    pytest.importorskip("jack", reason="JACK-Client is not installed")
    out_json = tmp_path / "latency.json"
    env = dict(os.environ, HOME=str(tmp_path), PYTHONPATH=str(REPO),
               JACK_DEFAULT_SERVER=private_jack)
    out = subprocess.run([sys.executable, "-m", "soothe", "check", "--only", "latency",
                          "--clicks", "12", "--latency-json", str(out_json)], env=env,
                         cwd=REPO, capture_output=True, text=True, timeout=240)
    line = [ln for ln in out.stdout.splitlines() if "audio latency" in ln]
    assert line, out.stdout + out.stderr[-3000:]
    print(line[0])
    body = json.loads(out_json.read_text())
    # a click lost to a JACK xrun (a non-real-time server on a busy machine) is a real
    # failure of the audio path and the check says FAIL; here it must still find the rest
    assert body["n_clicks"] == 12 and body["n_found"] >= 10, body
    # a loose sanity bound, not a timing test: the figure is printed for the record
    assert abs(body["latency_ms"]) < 50 and np.isfinite(body["jitter_ms"])
    assert body["method"]["onset"] and "JACK loopback" in body["source"]
    assert out.returncode == (0 if body["status"] == "OK" else 1)


def test_latency_check_names_an_absent_amplifier_stream(tmp_path):
    from experiment.hardware_check import check_audio_latency
    from experiment.lsl_config import write_lsl_config

    os.environ.setdefault("LSLAPICFG", str(write_lsl_config(tmp_path / "lsl.cfg")))
    result = check_audio_latency(f"lsl:nosuch_{uuid.uuid4().hex[:6]}:audio")
    assert result.status == "FAIL" and "is not on the network" in result.detail
    assert check_audio_latency("soundcard").status == "FAIL"


# ------------------------------------------------------------------ streams
@pytest.fixture
def private_lsl(tmp_path):
    """An LSL config on ports of this test's own, so other tests' streams stay unseen."""
    base = random.Random(uuid.uuid4().int).randrange(30000, 60000, 64)
    cfg = tmp_path / "lsl_private.cfg"
    cfg.write_text(f"[ports]\nIPv6 = disable\nBasePort = {base}\nPortRange = 32\n"
                   f"MulticastPort = {base + 40}\n[multicast]\nResolveScope = machine\n"
                   "[lab]\nKnownPeers = {127.0.0.1}\n")
    return str(cfg)


def _device(env, source_id: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "experiment.simulated_device", "--rate",
                             "100", "--source-id", source_id, "--duration", "120"],
                            env=env, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)


def _check_streams(env, *extra):
    return subprocess.run([sys.executable, "-m", "soothe", "check", "--only", "streams",
                           *extra], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def test_check_lists_streams_and_writes_the_lab_config_once_confirmed(tmp_path, private_lsl):
    from experiment.lab_config import read_lab_config

    cfg = tmp_path / "lab.json"
    env = dict(os.environ, HOME=str(tmp_path), PYTHONPATH=str(REPO), LSLAPICFG=private_lsl,
               SOOTHE_NO_REEXEC="1", SOOTHE_LAB_CONFIG=str(cfg))
    sid = f"amp_{uuid.uuid4().hex[:8]}"
    devices = [_device(env, sid)]
    try:
        devices[0].stdout.readline()  # "streaming ..."
        time.sleep(0.5)
        # no terminal (CI): the streams are listed, nothing is written without confirmation
        listed = _check_streams(env)
        assert sid in listed.stdout and not cfg.exists()
        assert listed.returncode == 1 and "no lab config" in listed.stdout
        written = _check_streams(env, "--confirm-streams")
        assert written.returncode == 0, written.stdout + written.stderr[-2000:]
        (device,) = read_lab_config(cfg)
        assert (device.name, device.type, device.source_id) == (
            "soothe_simulated_physio", "Physio", sid)
        assert device.hostname
        again = _check_streams(env)
        assert again.returncode == 0 and again.stdout.count("OK") == 1
        devices.append(_device(env, sid))  # a second copy with the same identity
        devices[1].stdout.readline()
        time.sleep(0.5)
        twice = _check_streams(env)
        assert twice.returncode == 1
        assert "2 LSL streams match the configured device" in twice.stdout
        assert twice.stdout.count("uid ") >= 2
    finally:
        for d in devices:
            _stop(d)
    gone = _check_streams(env)
    assert gone.returncode == 1 and "not on LSL" in gone.stdout and sid in gone.stdout
