"""Speed and peak memory of soothe's ECG -> beats -> per-minute HRV vs ``nk.ecg_process``.

A synthetic ECG (numpy only: Gaussian P-QRS-T per beat on an RR series with respiratory
variability, baseline wander, mains hum and noise) of 10, 40 and 160 minutes at 1000 Hz is
processed by ``physio.ecg.ecg_beats`` plus ``physio.hrv.hrv_window`` for every 60 s window,
and by ``nk.ecg_process`` (+ ``nk.hrv_time`` per window) for the 10- and 40-minute cases.
Time is the best of two untraced runs; peak memory is the tracemalloc peak of the
numpy/scipy/pandas allocations during the call.

Run::

    .venv/bin/python bench/bench_ecg_speed.py            # ~1 min (nk on 10 and 40 min)
    .venv/bin/python bench/bench_ecg_speed.py --no-nk
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def synthetic_ecg(minutes: float, fs: float = 1000.0, seed: int = 0) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    """(ecg in mV, true R-peak times in s)."""
    rng = np.random.default_rng(seed)
    dur = minutes * 60.0
    n_beats = int(dur / 0.6) + 10
    k = np.arange(n_beats)
    rr = 0.85 + 0.04 * np.sin(2 * np.pi * 0.25 * 0.85 * k) + rng.normal(0, 0.01, n_beats)
    t_beats = 0.5 + np.cumsum(rr)
    t_beats = t_beats[t_beats < dur - 0.5]
    n = int(dur * fs)
    x = np.zeros(n)
    waves = ((-0.17, 0.022, 0.12), (-0.03, 0.009, -0.1), (0.0, 0.009, 1.1), (0.034, 0.011, -0.25),
             (0.26, 0.045, 0.3))
    for c, w, a in waves:
        offs = np.arange(int((c - 4.5 * w) * fs), int((c + 4.5 * w) * fs) + 1)
        r = np.round(t_beats * fs).astype(np.int64)
        idx = r[:, None] + offs[None, :]
        val = a * np.exp(-0.5 * ((offs / fs - c) / w) ** 2)
        keep = (idx >= 0) & (idx < n)
        x += np.bincount(idx[keep], weights=np.broadcast_to(val, idx.shape)[keep], minlength=n)
    t = np.arange(n) / fs
    x += 0.15 * np.sin(2 * np.pi * 0.05 * t) + 0.02 * np.sin(2 * np.pi * 50 * t)
    x += rng.normal(0, 0.01, n)
    return x, t_beats


def run_soothe(x: np.ndarray, fs: float) -> int:
    from physio.ecg import ecg_beats
    from physio.hrv import hrv_window

    b = ecg_beats(x, fs)
    dur = len(x) / fs
    for a in np.arange(0, dur - 59.999, 60.0):
        hrv_window(b, a, a + 60.0)
    return len(b.peaks_s)


def run_nk(x: np.ndarray, fs: float) -> int:
    import neurokit2 as nk

    sig, info = nk.ecg_process(x, sampling_rate=int(fs))
    peaks = np.asarray(info["ECG_R_Peaks"])
    dur = len(x) / fs
    for a in np.arange(0, dur - 59.999, 60.0):
        p = peaks[(peaks >= a * fs) & (peaks < (a + 60) * fs)]
        if len(p) > 3:
            nk.hrv_time(p, sampling_rate=int(fs))
    return len(peaks)


def measure(fn, x, fs) -> tuple[float, float, int]:
    """Best-of-2 wall time without tracing, then a traced run for peak memory."""
    dt = np.inf
    for _ in range(2 if len(x) < 5e6 else 1):
        t0 = time.perf_counter()
        n = fn(x, fs)
        dt = min(dt, time.perf_counter() - t0)
    tracemalloc.start()
    fn(x, fs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return dt, peak / 2**20, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-nk", action="store_true")
    ap.add_argument("--fs", type=float, default=1000.0)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    fs = args.fs
    run_soothe(synthetic_ecg(1, fs)[0], fs)  # warm imports
    print(f"{'minutes':>8} {'method':>16} {'time s':>8} {'peak MB':>8} {'beats':>7} "
          f"{'true':>6}")
    for minutes in (10, 40, 160):
        x, truth = synthetic_ecg(minutes, fs)
        dt, mb, n = measure(run_soothe, x, fs)
        print(f"{minutes:8d} {'soothe':>16} {dt:8.2f} {mb:8.0f} {n:7d} {len(truth):6d}")
        if not args.no_nk and minutes <= 40:
            dt2, mb2, n2 = measure(run_nk, x, fs)
            print(f"{minutes:8d} {'nk.ecg_process':>16} {dt2:8.2f} {mb2:8.0f} {n2:7d} "
                  f"{len(truth):6d}   speed-up x{dt2 / dt:.0f}")


if __name__ == "__main__":
    main()
