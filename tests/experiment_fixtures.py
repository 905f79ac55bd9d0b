"""Fixtures for the session-runner tests: Xvfb, a JACK dummy server, LSL kept on the
machine, a HOME for PsychoPy, and a short protocol with short audio.

Imported by tests/test_experiment*.py. In CI (``CI=true``) a missing Xvfb, jackd or
xdotool is a failure; elsewhere the tests that need them are skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
IN_CI = os.environ.get("CI", "").lower() == "true"
SHORT = {"baseline": 2.0, "induction": 3.0, "recovery": 2.0}
N_ITEMS = 3


def need(tool: str) -> str:
    """Path of a system tool; skip (or fail in CI) when it is missing."""
    path = shutil.which(tool)
    if path is None:
        msg = f"{tool} is not installed"
        if IN_CI:
            pytest.fail(f"{msg} (CI=true: a missing screen/audio tool is an error)")
        pytest.skip(msg)
    return path


def die_with_this_process() -> None:
    """In a child before exec: ask Linux to send it SIGTERM when the test process dies.

    A test run killed hard (SIGKILL, a CI time-out) runs no fixture tear-down; without this
    its Xvfb and jackd servers would outlive it, and JACK2 refuses new servers once its
    registry of named servers is full ("jackd exited at start" on a shared machine).
    """
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def start_jackd(name: str, *, capture_ports: str = "0") -> subprocess.Popen:
    """A JACK dummy server named ``name`` at 44.1 kHz that dies with this test process;
    fails (CI) or skips with jackd's own words when it does not start."""
    need("jackd")
    proc = subprocess.Popen(
        ["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", "44100", "-p", "256",
         "-P", "2", "-C", capture_ports],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=die_with_this_process,
    )
    time.sleep(1.5)
    if proc.poll() is not None:
        said = proc.stderr.read().decode(errors="replace").strip()[-500:] if proc.stderr else ""
        if IN_CI:
            pytest.fail(f"jackd exited at start: {said}")
        pytest.skip(f"jackd could not start: {said}")
    proc.stderr.close()  # nothing reads it from here on: jackd must never block on a full pipe
    proc.stderr = None
    return proc


def _free_display() -> int:
    for n in range(90, 200):
        if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists():
            return n
    raise RuntimeError("no free X display number")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def xvfb_display():
    """DISPLAY string of a private Xvfb server (1280x1024x24)."""
    need("Xvfb")
    need("xdotool")
    n = _free_display()
    # no "-nolisten tcp": with it, PTB's keyboard (PsychHID) received no xdotool keys here
    proc = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1280x1024x24"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=die_with_this_process)
    for _ in range(100):
        if Path(f"/tmp/.X11-unix/X{n}").exists():
            break
        time.sleep(0.05)
    else:
        _stop(proc)
        pytest.fail("Xvfb did not start")
    yield f":{n}"
    _stop(proc)


@pytest.fixture(scope="session")
def jack_server():
    """A JACK dummy audio server at 44.1 kHz (real-time pace, no sound card)."""
    # own server name: never clashes with another jackd, nor with the copy of this fixture
    # that another test module imported (each importing module gets its own instance)
    name = f"soothe_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    proc = start_jackd(name)
    yield name
    _stop(proc)


@pytest.fixture(scope="session")
def session_env(tmp_path_factory, xvfb_display, jack_server):
    """Environment for running the session runner in a subprocess."""
    home = tmp_path_factory.mktemp("home")
    cfg = home / "lsl_api.cfg"
    cfg.write_text("[ports]\nIPv6 = disable\n[multicast]\nResolveScope = machine\n"
                   "[lab]\nKnownPeers = {127.0.0.1}\n")
    env = dict(os.environ)
    env.update({"HOME": str(home), "DISPLAY": xvfb_display, "LSLAPICFG": str(cfg),
                "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO),
                "JACK_DEFAULT_SERVER": jack_server})
    return env


def make_short_protocol(dest: Path, n_items: int = N_ITEMS, likert: bool = True) -> Path:
    """A copy of the shipped protocol with short phases, short tone audio and few items."""
    dest.mkdir(parents=True, exist_ok=True)
    src = REPO / "conditions"
    shutil.copytree(src / "scripts", dest / "scripts", dirs_exist_ok=True)
    (dest / "questionnaires").mkdir(exist_ok=True)
    rows = (src / "questionnaires" / "state_vas.csv").read_text(encoding="utf-8").splitlines()
    items = rows[1 : 1 + n_items]
    if likert:  # last item as a 1-7 Likert item, to exercise that path; a construct keeps
        # one response range, so the item gets a construct of its own
        parts = items[-1].split(",")
        parts[-6] = "likert_probe"
        parts[-2:] = ["1", "7"]
        items[-1] = ",".join(parts)
    (dest / "questionnaires" / "state_vas.csv").write_text("\n".join([rows[0], *items]) + "\n")
    (dest / "audio").mkdir(exist_ok=True)
    import numpy as np
    import soundfile

    rate = 44100
    t = np.arange(int(SHORT["induction"] * rate)) / rate
    for i, name in enumerate(("kindness_self", "body_scan", "positive_excitement",
                              "rumination", "neutral")):
        tone = 0.2 * np.sin(2 * np.pi * (330 + 40 * i) * t)
        soundfile.write(str(dest / "audio" / f"{name}.wav"), tone, rate)
    text = (src / "protocol.toml").read_text(encoding="utf-8")
    for phase, dur in SHORT.items():
        text = re.sub(rf'(name = "{phase}"\nkind = "\w+"\nduration_s = )\d+', rf"\g<1>{dur:g}",
                      text)
    text = re.sub(r"(audio = \"audio/\w+\.wav\"\nduration_s = )\d+",
                  rf"\g<1>{SHORT['induction']:g}", text)
    text = re.sub(r"duration_tolerance_s = [\d.]+", "duration_tolerance_s = 0.5", text)
    path = dest / "protocol.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def short_protocol(tmp_path_factory) -> Path:
    return make_short_protocol(tmp_path_factory.mktemp("protocol"))


def soothe_run(env, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """Run ``python -m soothe run ARGS`` and return the finished process."""
    return subprocess.run([PYTHON, "-m", "soothe", "run", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(autouse=True)
def psychopy_home(tmp_path_factory, monkeypatch):
    """PsychoPy creates ~/.psychopy3 on import: keep it out of the real HOME."""
    home = tmp_path_factory.getbasetemp() / "psychopy_home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
