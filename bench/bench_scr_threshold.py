"""SCR amplitude criterion: sensitivity of the count to the threshold and to where the
amplitude is measured (the 1 Hz-smoothed signal that finds the response, or the 3 Hz one).

1. Simulated EDA (``bench_eda_methods.simulate_eda``: random-walk tonic, Bateman SCRs with
   log-normal amplitudes around 0.15 uS) plus 1.3-2.7 Hz noise of 0.03 uS peak to peak
   (the shared lab recording's noise above 1 Hz): per threshold, SCRs planted at or above
   it, SCRs found, and false SCRs (no planted onset within 2 s).
2. The shared lab recording (when ``../shared/data`` is present): its noise above 1 Hz
   and its SCR count per threshold, both measurements.

Run: ``.venv/bin/python bench/bench_scr_threshold.py [--minutes 20]``
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

import numpy as np

from physio.eda import eda_clean, eda_scr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_eda_methods import simulate_eda  # noqa: E402

THRESHOLDS = (0.01, 0.02, 0.03, 0.05, 0.08)


def counts(clean: np.ndarray, fs: float, thr: float) -> tuple[np.ndarray, np.ndarray]:
    """Onset times (s) of SCRs >= thr measured on the smoothed signal (soothe now) and on
    the 3 Hz cleaned signal (soothe before)."""
    scr = eda_scr(clean, fs, amplitude_min=thr)
    every = eda_scr(clean, fs, amplitude_min=-np.inf)  # every plausible rise
    old_amp = clean[every["peak_idx"]] - clean[every["onset_idx"]]
    return scr["onset_idx"] / fs, every["onset_idx"][old_amp >= thr] / fs


def false_count(found: np.ndarray, planted: np.ndarray, tol: float = 2.0) -> int:
    if len(planted) == 0:
        return len(found)
    j = np.searchsorted(planted, found)
    near = np.minimum(np.abs(found - planted[np.clip(j, 0, len(planted) - 1)]),
                      np.abs(found - planted[np.clip(j - 1, 0, len(planted) - 1)]))
    return int(np.sum(near > tol))


def simulated(minutes: float) -> None:
    rate = 100.0
    print(f"simulated EDA, {minutes:g} min, noise 0.03 uS p-p at 1.3-2.7 Hz")
    print(f"{'threshold':>9} {'planted>=':>9} | {'smoothed: found':>15} {'false':>6} | "
          f"{'3 Hz: found':>11} {'false':>6}")
    for seed in (0, 1):
        eda, _, _, _ = simulate_eda(minutes, rate, seed=seed)
        rng = np.random.default_rng(seed)
        t = np.arange(len(eda)) / rate
        for f in (1.3, 1.9, 2.7):
            eda += 0.01 * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3))
        # the planted onsets and amplitudes, re-drawn exactly as simulate_eda draws them
        r2 = np.random.default_rng(seed)
        knots = np.arange(0, minutes * 60 + 30, 30.0)
        r2.normal(0, 0.15, len(knots))
        n_scr = r2.poisson(3.0 * minutes)
        onsets = np.sort(r2.uniform(0, minutes * 60 - 20, n_scr))
        amps = r2.lognormal(np.log(0.15), 0.7, n_scr)
        clean, fs = eda_clean(eda, rate)
        for thr in THRESHOLDS:
            new, old = counts(clean, fs, thr)
            print(f"{thr:9.2f} {int(np.sum(amps >= thr)):9d} | {len(new):15d} "
                  f"{false_count(new, onsets):6d} | {len(old):11d} {false_count(old, onsets):6d}"
                  f"   (seed {seed})")


def lab() -> None:
    path = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lab"
    if not path.is_dir():
        path = Path("/work/shared/data/lab")
    if not path.is_dir():
        print("shared lab recording not found: skipped")
        return
    from scipy.signal import butter, sosfiltfilt

    eda = np.load(gzip.open(path / "Task1_EDA.npy.gz"))
    clean, fs = eda_clean(eda, 1000.0)
    hp = sosfiltfilt(butter(2, 1.0, btype="highpass", fs=fs, output="sos"), clean)
    print(f"\nlab recording: noise above 1 Hz {np.ptp(hp[100:-100]):.3f} uS peak to peak "
          f"(robust 0.1-99.9 %: {np.subtract(*np.percentile(hp, [99.9, 0.1])):.3f})")
    for thr in THRESHOLDS:
        new, old = counts(clean, fs, thr)
        print(f"  threshold {thr:.2f} uS: {len(new):4d} SCRs (smoothed, soothe now)  "
              f"{len(old):4d} (3 Hz signal, soothe before)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=20.0)
    args = ap.parse_args()
    simulated(args.minutes)
    lab()
