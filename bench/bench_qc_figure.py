"""Cost of the QC figure per recording: drawing and PNG encoding, as a batch worker pays it.

Simulates a few sessions at 1000 Hz (ECG, EDA and a respiration belt), processes them once
(not timed), then draws each recording's QC figure into the worker's reused figure
(``plot_recording_qc(result, reuse=True)``) and writes it with ``save_figure``, round after
round. The first figure of the process (building the figure and its axes) is reported on
its own; the rest is the steady cost of every later recording, in wall time and in CPU
time (the figure a loaded, shared machine disturbs least).

    .venv/bin/python bench/bench_qc_figure.py                # 3 sessions, 5 rounds
    .venv/bin/python bench/bench_qc_figure.py --sessions 2 --rounds 3 --png out.png
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from conditions.protocol import load_protocol
from physio.pipeline import process_recording
from physio.qc import plot_recording_qc, save_figure
from physio.recording import Channel, Recording
from soothe.simulate import simulate_session

FS = 1000.0
CONDITIONS = ("neutral", "rumination", "kindness_self")


def simulated_results(n: int) -> list:
    """``n`` processed recordings (ECG, EDA and belt at 1000 Hz, markers)."""
    protocol = load_protocol()
    results = []
    for k in range(n):
        s = simulate_session(protocol, f"{k + 1:03d}", CONDITIONS[k % len(CONDITIONS)],
                             seed=5, index=k + 1, fs=FS)
        ev = s.events_table(protocol)
        markers = pd.DataFrame({"onset_s": ev.onset.astype(float),
                                "code": ev.value.astype(int), "label": ev.trial_type})
        rec = Recording({"ECG": Channel("ECG", s.ecg_mv, FS, "mV", "ecg"),
                         "EDA": Channel("EDA", s.eda_us, FS, "uS", "eda"),
                         "RSP": Channel("RSP", s.resp_v, FS, "V", "rsp")},
                        Path(f"sub-{k + 1:03d}_ses-1.csv"), "csv", markers)
        results.append(process_recording(rec))
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--png", type=Path, help="also keep the last recording's figure here")
    args = ap.parse_args()
    results = simulated_results(args.sessions)
    print(f"{args.sessions} sessions, load average {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "qc.png"
        t0 = time.perf_counter()
        save_figure(plot_recording_qc(results[0], reuse=True), out)
        first = time.perf_counter() - t0
        draw, write, cpu = [], [], []
        for _ in range(args.rounds):
            for result in results:
                c0, t0 = time.process_time(), time.perf_counter()
                fig = plot_recording_qc(result, reuse=True)
                t1 = time.perf_counter()
                save_figure(fig, out)
                t2, c2 = time.perf_counter(), time.process_time()
                draw.append(t1 - t0)
                write.append(t2 - t1)
                cpu.append(c2 - c0)
        if args.png:
            args.png.write_bytes(out.read_bytes())
        size = out.stat().st_size
    total = np.add(draw, write)
    print(f"first figure of the process: {first * 1000:.1f} ms")
    print(f"later figures ({len(total)}): median {np.median(total) * 1000:.1f} ms "
          f"(build {np.median(draw) * 1000:.1f} ms, render + encode + write "
          f"{np.median(write) * 1000:.1f} ms), min {total.min() * 1000:.1f} ms; "
          f"CPU median {np.median(cpu) * 1000:.1f} ms, min {min(cpu) * 1000:.1f} ms; "
          f"PNG {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
