"""Breathing rate per 60-s window, belt and ECG-derived, against a known truth.

Synthetic sessions with a known breathing course (rate r breaths/min wandering +-5 % with
a 90-s period): the RR series carries RSA at the breathing phase plus a 0.1 Hz Mayer
wave and white jitter; the ECG is rendered with the simulator's template renderer (QRS
amplitude modulated 6 % by breathing, baseline wander, mains hum, sensor noise); the belt
is an asymmetric breathing wave in V with noise and slow drift. The truth per window is
the median of the true breath-by-breath rates whose breath middle lies in the window (the
same rule as ``physio.rsp.rsp_window``).

Prints, per breathing rate, the median and maximum absolute error (breaths/min) of the belt
(25 Hz and a BIOPAC-like 3.9 Hz), of each EDR method (RSA, QRS amplitude, combined) and of
neurokit2's ``ecg_rsp`` (vangent2019 on the instantaneous heart rate, same breath
detection), then the sensitivity of the hysteresis constant.

Run: ``.venv/bin/python bench/bench_rsp.py [--minutes 5] [--seeds 2]``
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from physio.ecg import ecg_beats
from physio.rsp import ecg_rsp, rsp_belt, rsp_breaths, rsp_clean, rsp_window
from soothe.simulate.ecg_synth import ecg_add_noise, ecg_render
from soothe.simulate.noise import NoiseOptions
from soothe.simulate.rr import BeatSeries

RATES = (6, 8, 10, 12, 15, 18, 20)
GRID_HZ = 50.0


def synth(rate_bpm: float, minutes: float, seed: int, *, rsa_ms: float = 25.0):
    """(ecg_mv, fs, belt_v, belt_fs, truth breaths dict)."""
    rng = np.random.default_rng(seed)
    dur = minutes * 60.0
    grid = np.arange(0, dur + 5, 1 / GRID_HZ)
    hz = rate_bpm / 60.0 * (1 + 0.05 * np.sin(2 * np.pi * grid / 90.0 + rng.uniform(0, 6)))
    phase = 2 * np.pi * np.cumsum(hz) / GRID_HZ + rng.uniform(0, 6.3)
    lf = 12.0 * np.sin(2 * np.pi * 0.1 * grid + rng.uniform(0, 6.3))
    times, phases = [], []
    t = 0.5
    while t < dur - 0.5:
        i = int(t * GRID_HZ)
        times.append(t)
        phases.append(phase[i])
        rr = 850.0 - rsa_ms * np.sin(phase[i]) + lf[i] + rng.normal(0, 4.0)
        t += rr / 1000.0
    times = np.asarray(times)
    beats = BeatSeries(times, np.r_[np.nan, np.diff(times) * 1000], np.zeros(len(times), bool),
                       np.asarray(phases))
    fs = 250.0
    n = int(dur * fs)
    ecg = ecg_render(beats, fs, n, rng)
    ecg = ecg_add_noise(ecg, fs, rng, NoiseOptions(), rate_bpm / 60.0, np.zeros(0))
    # belt: inspiration rises faster than expiration falls (2nd harmonic), drift, noise
    belt_fs = 25.0
    tb = np.arange(0, dur, 1 / belt_fs)
    ph = np.interp(tb, grid, phase)
    belt = (0.5 * np.sin(ph) + 0.12 * np.sin(2 * ph + 0.8) + 0.05 * np.sin(2 * np.pi * tb / 200)
            + rng.normal(0, 0.02, len(tb)) + 1.5)
    # true breaths: the phase crosses 2 pi k (upward zero crossing of sin)
    k = np.arange(np.ceil(phase[0] / (2 * np.pi)), np.floor(phase[-1] / (2 * np.pi)) + 1)
    onsets = np.interp(k * 2 * np.pi, phase, grid)
    truth = {"mid": 0.5 * (onsets[1:] + onsets[:-1]), "rate": 60.0 / np.diff(onsets)}
    return ecg, fs, belt, belt_fs, truth


def true_rate(truth, a, b) -> float:
    sel = (truth["mid"] >= a) & (truth["mid"] < b)
    return float(np.median(truth["rate"][sel]))


def nk_edr(ecg, fs, beats):
    import neurokit2 as nk

    peaks = np.round(np.asarray(beats.peaks_s) * fs).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rate = nk.signal_rate(peaks, sampling_rate=fs, desired_length=len(ecg))
        edr = nk.ecg_rsp(rate, sampling_rate=fs, method="vangent2019")
    step = int(fs // 4)
    return rsp_breaths(rsp_clean(edr[::step], fs / step), fs / step, source="ecg")


def run(minutes: float, seeds: int, rsa_ms: float, edr_band: tuple[float, float]) -> None:
    methods = ("belt 25 Hz", "belt 3.9 Hz", "ecg rsa", "ecg amplitude", "ecg combined",
               "nk ecg_rsp")
    errs: dict[tuple[str, int], list[float]] = {}
    hyst: dict[float, list[float]] = {}
    for rate in RATES:
        for seed in range(seeds):
            ecg, fs, belt, bfs, truth = synth(rate, minutes, 1000 * rate + seed, rsa_ms=rsa_ms)
            beats = ecg_beats(ecg, fs)
            series = {"belt 25 Hz": rsp_belt(belt, bfs, units="V")}
            # a BIOPAC-like 3.90625 Hz belt: resample the 25 Hz trace
            tb = np.arange(0, len(belt) / bfs, 1 / 3.90625)
            slow = np.interp(tb, np.arange(len(belt)) / bfs, belt)
            series["belt 3.9 Hz"] = rsp_belt(slow, 3.90625, units="V")
            for m in ("rsa", "amplitude", "combined"):
                series[f"ecg {m}"] = ecg_rsp(beats.peaks_s, beats.rr_ms, beats.corrected,
                                             ecg=ecg, sampling_rate=fs, method=m,
                                             band_hz=edr_band)
            series["nk ecg_rsp"] = nk_edr(ecg, fs, beats)
            starts = np.arange(0, minutes * 60 - 59, 60.0)
            for name, b in series.items():
                for a in starts:
                    est = rsp_window(b, a, a + 60)["resp_rate_bpm"]
                    err = abs(est - true_rate(truth, a, a + 60)) if np.isfinite(est) else np.inf
                    errs.setdefault((name, rate), []).append(err)
            # hysteresis sensitivity on a noisy belt: 0.15 V of white noise plus a cardiac
            # artefact (0.05 V at the heart rate) on the 0.5 V breathing wave
            trng = np.random.default_rng(seed + 7)
            tt = np.arange(len(belt)) / bfs
            noisy = belt + trng.normal(0, 0.15, len(belt)) + 0.05 * np.sin(2 * np.pi * 1.2 * tt)
            for h in (0.1, 0.2, 0.3, 0.5, 0.8):
                b = rsp_breaths(rsp_clean(noisy, bfs), bfs, hysteresis=h)
                for a in starts:
                    est = rsp_window(b, a, a + 60)["resp_rate_bpm"]
                    hyst.setdefault(h, []).append(
                        abs(est - true_rate(truth, a, a + 60)) if np.isfinite(est) else np.inf)
    print(f"breathing rate error per 60-s window (breaths/min), {minutes:g}-min sessions, "
          f"RSA {rsa_ms:g} ms, EDR band {edr_band} Hz, {seeds} seed(s) per rate; "
          "cells: median / max |error| (inf = no rate)")
    print(f"{'method':<15}" + "".join(f"{r:>6}/min   " for r in RATES) + "  all: median  max")
    for m in methods:
        cells = [errs[(m, r)] for r in RATES]
        allv = np.concatenate(cells)
        print(f"{m:<15}" + "".join(f"{np.median(c):5.2f}/{np.max(c):5.2f}  " for c in cells)
              + f"  {np.median(allv):6.2f} {np.max(allv):6.2f}")
    rest = [r for r in RATES if 12 <= r <= 18]
    for m in methods:
        v = np.concatenate([errs[(m, r)] for r in rest])
        print(f"at rest (12-18/min) {m:<15} median {np.median(v):.2f}  90th pct "
              f"{np.percentile(v, 90):.2f}  within 1.5/min: {100 * np.mean(v <= 1.5):.0f}%")
    print("hysteresis sensitivity (noisy belt 25 Hz: 0.15 V noise + 0.05 V cardiac artefact, "
          "all rates): fraction of local RMS -> median / max |error|")
    for h, v in hyst.items():
        print(f"  {h:.1f}: {np.median(v):.3f} / {np.max(v):.3f}")


def lab() -> None:
    """The shared lab recording (no belt): every window's ECG-derived breathing rate."""
    import gzip
    from pathlib import Path

    from physio.pipeline import process_recording
    from physio.recording import Channel, Recording

    path = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lab"
    if not path.is_dir():
        path = Path("/work/shared/data/lab")
    if not path.is_dir():
        print("shared lab recording not found: skipped")
        return
    d = {k: np.load(gzip.open(path / f"Task1_{k}.npy.gz")) for k in ("ECG", "EDA")}
    rec = Recording({"ECG": Channel("ECG", d["ECG"], 1000.0, "", "ecg"),
                     "EDA": Channel("EDA", d["EDA"], 1000.0, "uS", "eda")},
                    path / "Task1_ECG.npy.gz", "npy", meta={"participant_id": "lab01"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = process_recording(rec)
    w = res.windows
    rate = w.resp_rate_bpm.astype(float)
    print(f"\nshared lab recording: {int(rate.notna().sum())}/{len(w)} windows with a "
          f"breathing rate, sources {sorted(set(w.resp_source))}; median "
          f"{rate.median():.1f}/min (range {rate.min():.1f}-{rate.max():.1f}); HF kept in "
          f"{int(w.hf_valid.astype(bool).sum())}/{len(w)} windows; phase: "
          f"{res.phases.resp_rate_bpm.round(1).tolist()}/min, "
          f"lnHF {res.phases.lnhf.round(2).tolist()}")
    # no truth here: how far apart are the EDR methods, and neurokit2's ecg_rsp?
    beats = ecg_beats(d["ECG"], 1000.0)
    est = {m: ecg_rsp(beats.peaks_s, beats.rr_ms, beats.corrected, ecg=d["ECG"],
                      sampling_rate=1000.0, method=m) for m in ("rsa", "amplitude", "combined")}
    est["nk ecg_rsp"] = nk_edr(d["ECG"], 1000.0, beats)
    full = w[~w.partial.astype(bool)]
    rates = {m: np.array([rsp_window(b, a, z)["resp_rate_bpm"]
                          for a, z in zip(full.start_s, full.end_s, strict=True)])
             for m, b in est.items()}
    print("  per-window |difference| between methods (breaths/min): median / 90th pct / "
          "windows within 1.5")
    names = list(rates)
    for i, m1 in enumerate(names):
        for m2 in names[i + 1:]:
            dd = np.abs(rates[m1] - rates[m2])
            print(f"    {m1:>10} vs {m2:<10} {np.nanmedian(dd):5.2f} / "
                  f"{np.nanpercentile(dd, 90):5.2f} / {int(np.sum(dd <= 1.5))}/{len(dd)}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--rsa-ms", type=float, default=25.0, help="RSA amplitude (ms)")
    ap.add_argument("--edr-band", type=float, nargs=2, default=None,
                    help="EDR band-pass (Hz); default physio.rsp.ecg_rsp.EDR_BAND_HZ")
    args = ap.parse_args()
    from physio.rsp.ecg_rsp import EDR_BAND_HZ

    run(args.minutes, args.seeds, args.rsa_ms, tuple(args.edr_band or EDR_BAND_HZ))
    lab()
