"""Respiration: a belt's breathing rate and depth, or the rate estimated from the ECG.

Names follow neurokit2's (``rsp_clean``, ``rsp_rate``-like :func:`rsp_window`,
``ecg_rsp``) so a second engine can swap any step. Each step is a small function of arrays:

* :func:`rsp_check_units`, :func:`rsp_clean` (band-pass 0.05-0.7 Hz),
* :func:`rsp_breaths` (zero crossings with hysteresis) -> :class:`BreathSeries`,
* :func:`ecg_rsp` (RSA and QRS-amplitude EDR) -> :class:`BreathSeries`,
* :func:`rsp_window` (median rate and depth per window or phase),
* :func:`rsp_belt` (belt channel -> BreathSeries, with the unit check).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Lazy exports (PEP 562): ``import physio.pipeline`` stays light; a name is imported from its
# module on first use.
_EXPORTS = {
    "DEFAULT_EDR_METHOD": "ecg_rsp", "EDR_METHODS": "ecg_rsp", "ecg_rsp": "ecg_rsp",
    "HF_BREATHING_BPM": "hf_rule", "apply_breathing_rule": "hf_rule",
    "MIN_RSP_DURATION_S": "rsp_clean", "RSP_BAND_HZ": "rsp_clean",
    "rsp_check_units": "rsp_clean", "rsp_clean": "rsp_clean",
    "BreathSeries": "rsp_peaks", "rsp_breaths": "rsp_peaks",
    "rsp_window": "rsp_rate", "rsp_belt": "rsp_process", "rsp_methods": "rsp_process",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f"physio.rsp.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'physio.rsp' has no attribute {name!r}")


__all__ = [
    "DEFAULT_EDR_METHOD",
    "EDR_METHODS",
    "HF_BREATHING_BPM",
    "MIN_RSP_DURATION_S",
    "RSP_BAND_HZ",
    "BreathSeries",
    "apply_breathing_rule",
    "ecg_rsp",
    "rsp_belt",
    "rsp_breaths",
    "rsp_check_units",
    "rsp_clean",
    "rsp_methods",
    "rsp_window",
]
