"""Compare EDA tonic/phasic methods on simulated signals with a known tonic level.

Prints, per method, the per-minute SCL error (mean of the estimated tonic against the mean
of the true tonic) and the time for a 40-minute recording, plus SCR detection recall and
precision of ``physio.eda.eda_scr`` against the planted SCR onsets.

    .venv/bin/python bench/bench_eda_methods.py [--minutes 40] [--rate 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def simulate_eda(minutes: float, rate: float, seed: int = 0, scr_per_min: float = 3.0):
    """A tonic random walk plus Bateman-shaped SCRs and noise; returns (eda, tonic, onsets)."""
    rng = np.random.default_rng(seed)
    n = int(minutes * 60 * rate)
    t = np.arange(n) / rate
    knots = np.arange(0, minutes * 60 + 30, 30.0)
    tonic_knots = 6 + np.cumsum(rng.normal(0, 0.15, len(knots)))
    tonic = np.interp(t, knots, tonic_knots)
    n_scr = rng.poisson(scr_per_min * minutes)
    onsets = np.sort(rng.uniform(0, minutes * 60 - 20, n_scr))
    amps = rng.lognormal(np.log(0.15), 0.7, n_scr)
    kt = np.arange(0, 30, 1 / rate)
    shape = np.exp(-kt / 4.0) - np.exp(-kt / 0.75)
    shape /= shape.max()
    phasic = np.zeros(n)
    for on, a in zip(onsets, amps):
        i = int(on * rate)
        m = min(len(shape), n - i)
        phasic[i : i + m] += a * shape[:m]
    eda = tonic + phasic + rng.normal(0, 0.003, n) + 0.01 * np.sin(2 * np.pi * 50 * t)
    return eda, tonic, onsets[amps >= 0.02], amps


def main() -> None:
    import neurokit2 as nk

    from physio.eda.eda_clean import eda_clean
    from physio.eda.eda_decompose import eda_decompose
    from physio.eda.eda_scr import eda_scr

    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=40)
    ap.add_argument("--rate", type=float, default=1000)
    args = ap.parse_args()
    eda, tonic_true, onsets, _ = simulate_eda(args.minutes, args.rate)
    per_min = int(60 * args.rate)
    n_min = len(eda) // per_min
    true_scl = tonic_true[: n_min * per_min].reshape(n_min, per_min).mean(axis=1)

    def scl_error(tonic: np.ndarray, fs: float) -> float:
        k = int(60 * fs)
        est = tonic[: n_min * k].reshape(n_min, k).mean(axis=1)
        return float(np.median(np.abs(est - true_scl))), float(np.max(np.abs(est - true_scl)))

    print(f"{args.minutes:.0f} min at {args.rate:.0f} Hz, {len(onsets)} planted SCRs >= 0.02 uS")
    print(f"{'method':28s} {'time_s':>8s} {'SCL med|err| uS':>16s} {'max|err|':>9s}")
    t0 = time.perf_counter()
    clean, fs = eda_clean(eda, args.rate)
    t_clean = time.perf_counter() - t0
    for method in ("troughs", "median", "highpass"):
        t0 = time.perf_counter()
        tonic, _ = eda_decompose(clean, fs, method=method)
        dt = time.perf_counter() - t0 + t_clean
        med, mx = scl_error(tonic, fs)
        print(f"{'soothe ' + method:28s} {dt:8.2f} {med:16.4f} {mx:9.4f}")
    nk_clean = nk.eda_clean(eda, sampling_rate=int(args.rate))
    for method in ("highpass", "smoothmedian"):
        t0 = time.perf_counter()
        out = nk.eda_phasic(nk_clean, sampling_rate=int(args.rate), method=method)
        dt = time.perf_counter() - t0
        med, mx = scl_error(out["EDA_Tonic"].to_numpy(), args.rate)
        print(f"{'nk.eda_phasic ' + method:28s} {dt:8.2f} {med:16.4f} {mx:9.4f}")
    # cvxEDA on 2 minutes only, extrapolated: it solves a QP over the whole signal
    seg = nk.signal_resample(nk_clean[: int(120 * args.rate)], sampling_rate=int(args.rate),
                             desired_sampling_rate=25)
    t0 = time.perf_counter()
    try:
        nk.eda_phasic(seg, sampling_rate=25, method="cvxeda")
        dt = time.perf_counter() - t0
        print(f"{'nk cvxEDA (2 min, 25 Hz)':28s} {dt:8.2f}   (super-linear in length; not used)")
    except Exception as exc:  # noqa: BLE001 - optional dependency (cvxopt)
        print(f"nk cvxEDA unavailable: {type(exc).__name__}: {exc}")
    scr = eda_scr(clean, fs)
    found = scr["onset_idx"] / fs
    hits = sum(np.any(np.abs(found - o) < 1.5) for o in onsets)
    tp = sum(np.any(np.abs(onsets - f) < 1.5) for f in found)
    print(f"SCR detection: recall {hits / max(1, len(onsets)):.3f}, "
          f"precision {tp / max(1, len(found)):.3f} ({len(found)} found)")


if __name__ == "__main__":
    main()
