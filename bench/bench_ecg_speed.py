"""Speed and peak memory of soothe's ECG -> beats -> per-minute HRV vs ``nk.ecg_process``.

A synthetic ECG (numpy only: Gaussian P-QRS-T per beat on an RR series with respiratory
variability, baseline wander, mains hum and noise) of 10, 40 and 160 minutes at 1000 Hz is
processed by ``physio.ecg.ecg_beats`` plus ``physio.hrv.hrv_window`` for every 60 s window,
and by ``nk.ecg_process`` (+ ``nk.hrv_time`` per window) for the 10- and 40-minute cases.
Time is the best of two untraced runs; peak memory is the tracemalloc peak of the
numpy/scipy/pandas allocations during the call.

A first section (issue 16) is about the 250 Hz detection copy: for 500, 750, 1000 and
2000 Hz it prints, measured on sinusoids, the gain of the B-spline decimator
(``physio.ecg.ecg_clean.decimate_bspline``) and of ``scipy.signal.resample_poly`` in the
5-20 Hz QRS band and at every input frequency that folds into 5-20 Hz (0.5 Hz grid), and
the time of ``ecg_detection_signal`` and ``detect_qrs`` before (the modules as of
``--before``, loaded from git) and now, interleaved in one process on the same 40-min ECG,
with whether the two give the same detections.

Run::

    .venv/bin/python bench/bench_ecg_speed.py            # ~1 min (nk on 10 and 40 min)
    .venv/bin/python bench/bench_ecg_speed.py --no-nk
    .venv/bin/python bench/bench_ecg_speed.py --detection-only   # the first section, ~15 s
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from functools import partial
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

#: The last commit before issue 16 (resample_poly for every rate, numpy-indexed QRS loop).
BEFORE_REV = "bded9c0"


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


def amplitude(y: np.ndarray, f: float, fs: float, trim: int = 50) -> float:
    """Amplitude of the sinusoid at ``f`` in ``y`` (least squares, ends trimmed)."""
    t = np.arange(len(y)) / fs
    a = np.c_[np.sin(2 * np.pi * f * t), np.cos(2 * np.pi * f * t)][trim:-trim]
    return float(np.hypot(*np.linalg.lstsq(a, y[trim:-trim], rcond=None)[0]))


def response_table() -> None:
    """Pass-band gain and folding-band rejection, B-spline decimator vs resample_poly."""
    from scipy.signal import resample_poly

    from physio.ecg.ecg_clean import DETECTION_RATE_HZ, decimate_bspline

    fd = DETECTION_RATE_HZ
    print(f"== Detection copy at {fd:g} Hz: gain measured on 20-s sinusoids ==")
    print(f"{'rate Hz':>8} {'method':>14} {'gain 5 Hz':>9} {'10 Hz':>7} {'15 Hz':>7} "
          f"{'20 Hz':>7}   {'worst folding into 5-20 Hz':>26}  {'240 Hz':>8}")
    for fs in (500.0, 750.0, 1000.0, 2000.0):
        m = int(fs / fd)
        t = np.arange(int(20 * fs)) / fs
        fold = [k * fd + s * d for k in range(1, m // 2 + 1) for s in (-1, 1)
                for d in np.arange(5.0, 20.01, 0.5) if k * fd + s * d < fs / 2]
        for name, dec in (("B-spline", lambda x, m=m: decimate_bspline(x, m)),
                          ("resample_poly", lambda x, m=m: resample_poly(x, 1, m))):
            def gain(f: float, dec=dec, t=t) -> float:
                alias = abs(f - fd * round(f / fd))
                return amplitude(dec(np.sin(2 * np.pi * f * t)), alias, fd)
            passband = [gain(f) for f in (5.0, 10.0, 15.0, 20.0)]
            rej = [gain(f) for f in fold]
            k = int(np.argmax(rej))
            print(f"{fs:8.0f} {name:>14} " + " ".join(f"{g:7.4f}" for g in passband)
                  + f"   {20 * np.log10(rej[k]):8.1f} dB at {fold[k]:5.1f} Hz"
                  + f"        {20 * np.log10(gain(240.0)):6.1f} dB")
    print("  (every frequency k*250 +- 5..20 Hz below fs/2 folds into 5-20 Hz; 240 Hz, the 4th "
          "60-Hz harmonic, folds to 10 Hz)")
    print("  sensitivity to BSPLINE_STAGES (closed form |sin(pi f M/fs) / (M sin(pi f/fs))|^S; "
          "S must be even for a kernel centred on a sample):")
    for stages in (2, 4, 6):
        cells = []
        for fs in (500.0, 1000.0, 2000.0):
            m = int(fs / fd)

            def g(f: float, m=m, fs=fs, stages=stages) -> float:
                w = np.pi * f / fs
                return abs(np.sin(m * w) / (m * np.sin(w))) ** stages
            worst = max(g(k * fd + d) for k in range(1, m // 2 + 1)
                        for d in np.arange(-20.0, 20.01, 0.5)
                        if abs(d) >= 5 and k * fd + d < fs / 2)
            cells.append(f"{fs:.0f} Hz: {20 * np.log10(worst):6.1f} dB, gain@20 Hz {g(20.0):.3f}")
        print(f"    S={stages}  " + "   ".join(cells))


def load_before(module: str, rev: str):
    """``physio/ecg/<module>.py`` as of git revision ``rev``, imported under another name."""
    src = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:physio/ecg/{module}.py"],
                         capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / f"before_{module}.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location(f"before_{module}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def detection_speed(rev: str, repeats: int = 7) -> None:
    """ecg_detection_signal and detect_qrs, before vs now, interleaved, best of ``repeats``."""
    from physio.ecg.ecg_clean import ecg_detection_signal
    from physio.ecg.ecg_peaks import detect_qrs

    old_clean, old_peaks = load_before("ecg_clean", rev), load_before("ecg_peaks", rev)
    print(f"\n== Detection speed, 40 min, before ({rev}) vs now, best of {repeats} "
          "interleaved ==")
    print(f"{'rate Hz':>8} {'step':>22} {'before ms':>9} {'now ms':>7}  same detections")
    for fs in (500.0, 1000.0, 2000.0):
        x, _ = synthetic_ecg(40, fs)
        q_old, fs_d = old_clean.ecg_detection_signal(x, fs)
        q_new, _ = ecg_detection_signal(x, fs)
        steps = {"ecg_detection_signal": (partial(old_clean.ecg_detection_signal, x, fs),
                                          partial(ecg_detection_signal, x, fs)),
                 "detect_qrs (same input)": (partial(old_peaks.detect_qrs, q_new, fs_d),
                                             partial(detect_qrs, q_new, fs_d))}
        for step, (before, now) in steps.items():
            tb, tn = np.inf, np.inf
            for _ in range(repeats):
                t0 = time.perf_counter()
                before()
                t1 = time.perf_counter()
                now()
                tb, tn = min(tb, t1 - t0), min(tn, time.perf_counter() - t1)
            if step.startswith("detect_qrs"):
                same = np.array_equal(old_peaks.detect_qrs(q_new, fs_d), detect_qrs(q_new, fs_d))
                what = "identical" if same else "DIFFERENT"
            else:
                a, b = old_peaks.detect_qrs(q_old, fs_d), detect_qrs(q_new, fs_d)
                moved = np.abs(b - a) if len(a) == len(b) else None
                what = (f"{len(a)} vs {len(b)} QRS" + (
                    f", {int((moved > 0).sum())} moved <= {int(moved.max())} samples at 250 Hz"
                    if moved is not None and len(moved) else ""))
            print(f"{fs:8.0f} {step:>22} {1e3 * tb:9.1f} {1e3 * tn:7.1f}  {what}")
        tb, tn, same = beats_before_now(x, fs, old_clean, old_peaks, repeats)
        print(f"{fs:8.0f} {'ecg_beats':>22} {1e3 * tb:9.1f} {1e3 * tn:7.1f}  "
              f"{'identical' if same else 'DIFFERENT'} beat times and flags")


def beats_before_now(x: np.ndarray, fs: float, old_clean, old_peaks,
                     repeats: int) -> tuple[float, float, bool]:
    """Whole ``ecg_beats``: with the 'before' detection steps swapped in (and the QRS feature
    computed twice, as before) vs now; best times and whether the beats are identical."""
    mod = sys.modules["physio.ecg.ecg_beats"]
    now_steps = (mod.ecg_detection_signal, mod.detect_qrs)

    def before_steps(q: np.ndarray, fs_d: float, feature=None) -> np.ndarray:
        return old_peaks.detect_qrs(q, fs_d)

    def run(before: bool):
        mod.ecg_detection_signal, mod.detect_qrs = ((old_clean.ecg_detection_signal,
                                                     before_steps) if before else now_steps)
        try:
            t0 = time.perf_counter()
            b = mod.ecg_beats(x, fs)
            return time.perf_counter() - t0, b
        finally:
            mod.ecg_detection_signal, mod.detect_qrs = now_steps

    tb = tn = np.inf
    for _ in range(repeats):
        (db, b_old), (dn, b_new) = run(True), run(False)
        tb, tn = min(tb, db), min(tn, dn)
    same = (np.array_equal(b_old.peaks_s, b_new.peaks_s)
            and np.array_equal(b_old.corrected, b_new.corrected)
            and np.array_equal(b_old.rr_ms, b_new.rr_ms, equal_nan=True))
    return tb, tn, same


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-nk", action="store_true")
    ap.add_argument("--fs", type=float, default=1000.0)
    ap.add_argument("--detection-only", action="store_true",
                    help="only the detection-copy section (issue 16)")
    ap.add_argument("--before", default=BEFORE_REV,
                    help=f"git revision for the 'before' timing (default {BEFORE_REV})")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    response_table()
    detection_speed(args.before)
    if args.detection_only:
        return
    print()
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
