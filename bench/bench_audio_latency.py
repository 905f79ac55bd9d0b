"""Print the audio-onset latency and jitter of the JACK loopback (``soothe check``'s
latency check), over a few repeats and for two JACK period sizes.

Each repeat starts a JACK dummy server of its own (unique name), runs
``soothe check --only latency --clicks N`` against it and reads the JSON figures. The
period size is the constant that matters: it sets the driver output latency PTB predicts
(2 periods) and the granularity of the graph's clock, so both are printed.

Usage: .venv/bin/python bench/bench_audio_latency.py [--repeats 3] [--clicks 20]
       [--periods 256,512]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def one_run(period: int, clicks: int) -> dict:
    name = f"soothe_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    jack = subprocess.Popen(["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", "44100",
                             "-p", str(period), "-P", "2", "-C", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.5)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "latency.json"
            env = dict(os.environ, HOME=tmp, JACK_DEFAULT_SERVER=name, PYTHONPATH=str(REPO))
            subprocess.run([sys.executable, "-m", "soothe", "check", "--only", "latency",
                            "--clicks", str(clicks), "--latency-json", str(out)], env=env,
                           cwd=REPO, capture_output=True, text=True, timeout=300)
            return json.loads(out.read_text()) if out.is_file() else {}
    finally:
        jack.send_signal(signal.SIGTERM)
        jack.wait(10)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--clicks", type=int, default=20)
    p.add_argument("--periods", default="256,512")
    args = p.parse_args()
    print("period  repeat  found   latency_ms  jitter_sd_ms  median_ms  max_dev_ms  status")
    for period in (int(x) for x in args.periods.split(",")):
        for r in range(args.repeats):
            body = one_run(period, args.clicks)
            if not body:
                print(f"{period:6d}  {r:6d}  (the check wrote no figures)")
                continue
            print(f"{period:6d}  {r:6d}  {body['n_found']:2d}/{body['n_clicks']:<3d}"
                  f"  {body['latency_ms']:+10.3f}  {body['jitter_ms']:12.3f}"
                  f"  {body['median_ms']:+9.3f}  {body['max_abs_dev_ms']:10.3f}  "
                  f"{body['status']}")
            for note in body.get("notes", []):
                if "JACK graph" in note:
                    print(f"{'':16s}{note}")


if __name__ == "__main__":
    main()
