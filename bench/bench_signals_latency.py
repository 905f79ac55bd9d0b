"""Live signal-check page: updates per second and sample-to-screen latency (prints figures).

Starts the simulated device (LSL, ``--rate`` Hz, scenario ``good``), the signal monitor and
the Bokeh page on localhost, and opens the page in headless Chromium. Each page update
carries the wall-clock time of its newest sample (LSL time mapped to the wall clock); the
browser stamps the moment two animation frames later, i.e. after the update was painted,
and reports the difference back to the server. Printed: updates painted per second and the
latency distribution.

    .venv/bin/python bench/bench_signals_latency.py --seconds 20
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def open_headless_browser(url: str, profile: str) -> subprocess.Popen:
    """Headless Chromium showing ``url`` until terminated."""
    from experiment.signals.page import CHROMIUM_FLAGS

    exe = next(shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
               if shutil.which(n))
    return subprocess.Popen([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                             "--remote-debugging-port=0", "--window-size=1260,680", url],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def measure(seconds: float, rate: float) -> dict:
    from experiment.signals.cli import start_simulated_device, stop_device, wait_for_streams
    from experiment.signals.monitor import SignalMonitor
    from experiment.signals.page import CheckState, serve, stop_server

    device, sid = start_simulated_device("good", rate, 0)
    monitor = SignalMonitor([sid], warn=print)
    monitor.start()
    browser = None
    try:
        wait_for_streams(monitor)
        state = CheckState()
        box, port, thread = serve(monitor, state)
        with tempfile.TemporaryDirectory() as profile:
            browser = open_headless_browser(f"http://127.0.0.1:{port}/", profile)
            deadline = time.monotonic() + 60
            while not state.lags_ms and time.monotonic() < deadline:
                time.sleep(0.2)
            n0, t0 = len(state.lags_ms), time.monotonic()
            time.sleep(seconds)
            n1, t1 = len(state.lags_ms), time.monotonic()
            browser.terminate()
            browser.wait(10)
        stop_server(box, thread)
    finally:
        if browser is not None and browser.poll() is None:
            browser.kill()
        monitor.stop()
        stop_device(device)
    lags = np.asarray(state.lags_ms[n0:n1], dtype=float)
    walls = np.asarray(state.render_wall_ms[n0:n1], dtype=float)
    span = (walls[-1] - walls[0]) / 1000 if len(walls) > 1 else t1 - t0
    return {"updates": len(lags), "per_s": (len(lags) - 1) / span if span > 0 else 0.0,
            "median_ms": float(np.median(lags)) if len(lags) else float("nan"),
            "p95_ms": float(np.percentile(lags, 95)) if len(lags) else float("nan"),
            "max_ms": float(np.max(lags)) if len(lags) else float("nan")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=500.0)
    args = parser.parse_args(argv)
    from experiment.lsl_config import keep_lsl_on_machine

    keep_lsl_on_machine()
    r = measure(args.seconds, args.rate)
    print(f"device {args.rate:g} Hz, {args.seconds:g} s: {r['updates']} updates painted, "
          f"{r['per_s']:.1f} per s; sample-to-screen median {r['median_ms']:.0f} ms, "
          f"95th percentile {r['p95_ms']:.0f} ms, max {r['max_ms']:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
