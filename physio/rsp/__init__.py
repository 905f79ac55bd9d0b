"""Respiration: a belt's breathing rate and depth, or the rate estimated from the ECG.

Names follow neurokit2's (``rsp_clean``, ``rsp_rate``-like :func:`rsp_window`,
``ecg_rsp``) so a second engine can swap any step. Each step is a small function of arrays:

* :func:`rsp_check_units`, :func:`rsp_decimate` (a fast belt to ~50 Hz),
  :func:`rsp_clean` (band-pass 0.05-0.7 Hz),
* :func:`rsp_breaths` (zero crossings with hysteresis) -> :class:`BreathSeries`,
* :func:`ecg_rsp` (RSA and QRS-amplitude EDR) -> :class:`BreathSeries`,
* :func:`rsp_window` (median rate and depth per window or phase),
* :func:`rsp_belt` (belt channel -> BreathSeries, with the unit check).
"""

from physio.rsp.ecg_rsp import DEFAULT_EDR_METHOD, EDR_METHODS, ecg_rsp
from physio.rsp.hf_rule import HF_BREATHING_BPM, apply_breathing_rule
from physio.rsp.rsp_clean import (
    MIN_RSP_DURATION_S,
    RSP_BAND_HZ,
    RSP_PROCESS_HZ,
    rsp_check_units,
    rsp_clean,
    rsp_decimate,
)
from physio.rsp.rsp_peaks import BreathSeries, rsp_breaths
from physio.rsp.rsp_process import rsp_belt, rsp_methods
from physio.rsp.rsp_rate import rsp_window

__all__ = [
    "DEFAULT_EDR_METHOD",
    "EDR_METHODS",
    "HF_BREATHING_BPM",
    "MIN_RSP_DURATION_S",
    "RSP_BAND_HZ",
    "RSP_PROCESS_HZ",
    "BreathSeries",
    "apply_breathing_rule",
    "ecg_rsp",
    "rsp_belt",
    "rsp_breaths",
    "rsp_check_units",
    "rsp_clean",
    "rsp_decimate",
    "rsp_methods",
    "rsp_window",
]
