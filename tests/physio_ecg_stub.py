"""A stand-in for physio.ecg / physio.hrv while they are being built (tests only).

Installed by :func:`install` only when the real modules cannot be imported, so the tests
exercise the real ECG code as soon as it exists.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field

import numpy as np


@dataclass
class BeatSeries:
    peaks_s: np.ndarray
    rr_ms: np.ndarray
    corrected: np.ndarray
    bad_segments_s: list = field(default_factory=list)
    info: dict = field(default_factory=dict)


def ecg_beats(signal, sampling_rate, **params):
    import neurokit2 as nk

    clean = nk.ecg_clean(signal, sampling_rate=int(sampling_rate))
    _, info = nk.ecg_peaks(clean, sampling_rate=int(sampling_rate))
    peaks = np.asarray(info["ECG_R_Peaks"], dtype=float) / sampling_rate
    rr = np.r_[np.nan, np.diff(peaks) * 1000]
    return BeatSeries(peaks, rr, np.zeros(len(peaks), bool), [], {"method": "stub"})


def hrv_window(beats, start_s, end_s, **rules):
    sel = (beats.peaks_s >= start_s) & (beats.peaks_s < end_s)
    rr = beats.rr_ms[sel]
    rr = rr[np.isfinite(rr)]
    out = {"n_beats": int(sel.sum()), "corrected_pct": 0.0, "hf_ms2": np.nan, "lnhf": np.nan,
           "hf_valid": False, "hf_reason": "stub"}
    if len(rr) < 10:
        return {**out, "hr_bpm": np.nan, "rmssd_ms": np.nan, "sdnn_ms": np.nan,
                "ecg_valid": False, "ecg_reason": "too few beats"}
    return {**out, "hr_bpm": 60000 / rr.mean(), "rmssd_ms": float(np.sqrt(np.mean(
        np.diff(rr) ** 2))), "sdnn_ms": float(rr.std(ddof=1)), "ecg_valid": True,
        "ecg_reason": ""}


def install() -> bool:
    """Put the stub in sys.modules if the real modules are missing; True if installed."""
    try:
        from physio.ecg import ecg_beats as _e  # noqa: F401
        from physio.hrv import hrv_window as _h  # noqa: F401

        return False
    except (ImportError, AttributeError):
        ecg = types.ModuleType("physio.ecg")
        ecg.ecg_beats = ecg_beats
        ecg.BeatSeries = BeatSeries
        hrv = types.ModuleType("physio.hrv")
        hrv.hrv_window = hrv_window
        sys.modules["physio.ecg"] = ecg
        sys.modules["physio.hrv"] = hrv
        return True
