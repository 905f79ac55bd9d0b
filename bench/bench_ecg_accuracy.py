"""R-peak accuracy and RMSSD error on the shared MIT-BIH records: soothe vs neurokit2 defaults.

Prints, per record and overall, F1 / sensitivity (Se) / positive predictive value (PPV) of
beat detection (+-150 ms match against the annotated beats, MLII channel) for
``physio.ecg.ecg_beats`` (soothe), ``nk.ecg_process`` (default) and ``nk.ecg_peaks``
(default), and for the sinus-rhythm records (100, 113, 121) the absolute error of RMSSD over
5-minute windows against RMSSD from the reference beats.

Reference RMSSD uses normal-to-normal intervals only (both ends annotated as normal beats:
N, L, R, e, j), the Task Force (1996) definition of HRV; the "all-beat" reference is printed
too.

Run::

    .venv/bin/python bench/bench_ecg_accuracy.py            # all three methods (~1-2 min)
    .venv/bin/python bench/bench_ecg_accuracy.py --soothe-only
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SHARED = Path(os.environ.get("SOOTHE_SHARED_DATA") or REPO.parent / "shared" / "data")
MITDB = SHARED / "mitdb"
RECORDS = ["100", "106", "108", "113", "121", "223"]
SINUS = ["100", "113", "121"]
BEAT_SYMBOLS = set("N L R B A a J S V r F e j n E / f Q ?".split())
NORMAL_SYMBOLS = set("N L R e j".split())
TOL_S = 0.15
WINDOW_S = 300.0


def load_record(rec: str) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """Signal (MLII), rate, reference beat samples, and whether each is a normal beat."""
    import wfdb

    r = wfdb.rdrecord(str(MITDB / rec), channels=[0])
    ann = wfdb.rdann(str(MITDB / rec), "atr")
    keep = np.array([s in BEAT_SYMBOLS for s in ann.symbol])
    normal = np.array([s in NORMAL_SYMBOLS for s in ann.symbol])[keep]
    return r.p_signal[:, 0].astype(np.float64), float(r.fs), np.asarray(ann.sample)[keep], normal


def match_beats(det: np.ndarray, ref: np.ndarray, tol: float) -> tuple[int, int, int]:
    """(TP, FP, FN) of a one-to-one match of sorted detections to sorted references."""
    det = np.sort(np.asarray(det, dtype=float))
    i = j = tp = 0
    while i < len(ref) and j < len(det):
        d = det[j] - ref[i]
        if abs(d) <= tol:
            tp += 1
            i += 1
            j += 1
        elif d < 0:
            j += 1
        else:
            i += 1
    return tp, len(det) - tp, len(ref) - tp


def scores(tp: int, fp: int, fn: int) -> str:
    f1 = 2 * tp / max(2 * tp + fp + fn, 1)
    se = tp / max(tp + fn, 1)
    ppv = tp / max(tp + fp, 1)
    return f"F1 {f1:.4f} Se {se:.4f} PPV {ppv:.4f} (FP {fp:4d} FN {fn:4d})"


def reference_rmssd(t: np.ndarray, normal: np.ndarray, a: float, b: float,
                    nn_only: bool) -> float:
    rr = np.diff(t) * 1000.0
    ok = normal[1:] & normal[:-1] if nn_only else np.ones(len(rr), bool)
    end = t[1:]
    sel = (end >= a) & (end < b)
    d = np.diff(rr)
    okd = ok[1:] & ok[:-1] & sel[1:] & sel[:-1]
    return float(np.sqrt(np.mean(d[okd] ** 2)))


def detect(method: str, sig: np.ndarray, fs: float):
    import neurokit2 as nk

    from physio.ecg import ecg_beats

    if method == "soothe":
        b = ecg_beats(sig, fs)
        return b.peaks_s * fs, b
    if method == "nk.ecg_process":
        _, info = nk.ecg_process(sig, sampling_rate=int(fs))
        return np.asarray(info["ECG_R_Peaks"]), None
    _, info = nk.ecg_peaks(nk.ecg_clean(sig, sampling_rate=int(fs)), sampling_rate=int(fs))
    return np.asarray(info["ECG_R_Peaks"]), None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--soothe-only", action="store_true")
    args = ap.parse_args()
    from physio.hrv import hrv_window

    warnings.filterwarnings("ignore")
    methods = ["soothe"] if args.soothe_only else ["soothe", "nk.ecg_process", "nk.ecg_peaks"]
    totals = {m: [0, 0, 0] for m in methods}
    errs: dict[str, list[float]] = {k: [] for k in ("nn", "all", "nn_interp", "n_invalid")}
    for rec in RECORDS:
        sig, fs, ref, normal = load_record(rec)
        for m in methods:
            t0 = time.perf_counter()
            det, beats = detect(m, sig, fs)
            dt = time.perf_counter() - t0
            tp, fp, fn = match_beats(det, ref, TOL_S * fs)
            for k, v in enumerate((tp, fp, fn)):
                totals[m][k] += v
            print(f"{rec} {m:15s} {scores(tp, fp, fn)}  {dt:6.2f} s")
            if m == "soothe" and rec in SINUS:
                tref = ref / fs
                for a in np.arange(0.0, len(sig) / fs - WINDOW_S + 1, WINDOW_S):
                    w = hrv_window(beats, a, a + WINDOW_S)
                    w2 = hrv_window(beats, a, a + WINDOW_S, rmssd_exclude_corrected=False)
                    r_nn = reference_rmssd(tref, normal, a, a + WINDOW_S, True)
                    r_all = reference_rmssd(tref, normal, a, a + WINDOW_S, False)
                    if not w["ecg_valid"]:
                        errs["n_invalid"].append(1)
                        print(f"    {a:5.0f}-{a + WINDOW_S:.0f} s invalid: {w['ecg_reason']}")
                        continue
                    errs["nn"].append(abs(w["rmssd_ms"] - r_nn))
                    errs["all"].append(abs(w["rmssd_ms"] - r_all))
                    errs["nn_interp"].append(abs(w2["rmssd_ms"] - r_nn))
                    print(f"    {a:5.0f}-{a + WINDOW_S:.0f} s RMSSD soothe {w['rmssd_ms']:6.2f} "
                          f"(interpolated {w2['rmssd_ms']:6.2f})  ref NN {r_nn:6.2f}  "
                          f"ref all-beats {r_all:6.2f} ms  corrected {w['corrected_pct']:.1f}%")
    print("\nOverall (6 records, +-150 ms):")
    for m in methods:
        print(f"  {m:15s} {scores(*totals[m])}")
    print(f"\nRMSSD, 5-min windows of {', '.join(SINUS)} ({len(errs['nn'])} valid windows, "
          f"{len(errs['n_invalid'])} invalid):")
    for k, label in (("nn", "vs NN reference (default)"),
                     ("nn_interp", "vs NN ref, interpolated RR kept"),
                     ("all", "default vs all-beat reference")):
        e = np.asarray(errs[k])
        if len(e):
            print(f"  {label:32s} median |error| {np.median(e):.2f} ms, max {e.max():.2f} ms")


if __name__ == "__main__":
    main()
