"""A belt channel to breaths, and the respiration methods for the JSON sidecar."""

from __future__ import annotations

from typing import Any

import numpy as np

from physio.rsp.hf_rule import HF_BREATHING_BPM
from physio.rsp.rsp_clean import (
    MIN_RSP_DURATION_S,
    RSP_BAND_HZ,
    RSP_PROCESS_HZ,
    rsp_check_units,
    rsp_clean,
    rsp_decimate,
)
from physio.rsp.rsp_peaks import HYSTERESIS_FRACTION, PERIOD_RANGE_S, BreathSeries, rsp_breaths
from physio.rsp.rsp_rate import MIN_BREATHS, MIN_RSP_COVERAGE


def rsp_belt(
    signal: np.ndarray,
    sampling_rate: float,
    *,
    units: str,
    name: str = "RSP",
    start_s: float = 0.0,
    source: str = "",
    process_hz: float | None = RSP_PROCESS_HZ,
) -> BreathSeries:
    """Check a belt's units, clean its trace and find its breaths.

    A belt sampled faster than ``2 x process_hz`` is first brought to about
    ``process_hz`` (block means, :func:`physio.rsp.rsp_decimate`); ``process_hz=None``
    processes it at its own rate. Breath onsets are on the session clock either way.

    Raises
    ------
    ChannelError
        Units a belt cannot have (the message names the file and channel).
    SignalQualityError
        A trace shorter than 30 s of signal, or flat.

    Examples
    --------
    >>> t = np.arange(0, 120, 0.04)
    >>> b = rsp_belt(0.2 * np.sin(2 * np.pi * 0.3 * t), 25.0, units="V")
    >>> round(float(np.nanmedian(b.rate_bpm)), 2), b.info["units"]
    (18.0, 'V')
    """
    rsp_check_units(units, name=name, source=source)
    trace, fs, delay_s = rsp_decimate(signal, sampling_rate, target_hz=process_hz)
    clean = rsp_clean(trace, fs, name=name)
    del trace
    breaths = rsp_breaths(clean, fs, start_s=start_s + delay_s, source="belt")
    q = int(round(float(sampling_rate) / fs))
    breaths.info = {"source": "belt", "channel": name, "units": units,
                    "sampling_rate_hz": float(sampling_rate), "processed_rate_hz": fs,
                    "decimation": (f"mean of each {q} samples (boxcar anti-alias filter, "
                                   "sample at the block middle)") if q > 1 else "none",
                    "band_hz": list(RSP_BAND_HZ),
                    "filter": "linear detrend + Butterworth order 2 band-pass, zero phase",
                    **breaths.info}
    return breaths


def rsp_methods() -> dict[str, Any]:
    """Respiration and vagal-index rules in force, for the sidecar (read at call time).

    Examples
    --------
    >>> rsp_methods()["hf_breathing_band_bpm"]
    [9.0, 24.0]
    """
    return {
        "rate": "median of breath-by-breath rates (60 / breath duration) of the breaths "
                "whose middle lies in the window or phase",
        "amplitude": "median peak-to-trough depth of the same breaths on the band-passed "
                     "belt trace, in the belt's units (belt only)",
        "source": "belt when the window has a valid belt rate, else ECG-derived (EDR), "
                  "else n/a",
        "band_hz": list(RSP_BAND_HZ),
        "hysteresis_fraction_of_local_rms": HYSTERESIS_FRACTION,
        "breath_period_range_s": list(PERIOD_RANGE_S),
        "min_breaths": MIN_BREATHS,
        "min_coverage": MIN_RSP_COVERAGE,
        "min_duration_s": MIN_RSP_DURATION_S,
        "hf_breathing_band_bpm": [float(x) for x in HF_BREATHING_BPM],
        "hf_rule": "HF (hf_ms2, lnhf) is NaN with the reason 'breathing below/above the HF "
                   "band' when the median breathing rate of the window or phase is outside "
                   "9-24 breaths/min (0.15-0.40 Hz)",
    }
