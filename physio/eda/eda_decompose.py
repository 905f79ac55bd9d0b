"""Tonic / phasic decomposition of a cleaned EDA signal."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import median_filter
from scipy.signal import butter, sosfiltfilt

from physio.eda.eda_scr import eda_scr

#: Default method, chosen by bench/bench_eda_methods.py (per-minute SCL error on
#: simulated tonic + SCR signals, and speed): see ``eda_decompose`` for the figures.
DEFAULT_DECOMPOSE_METHOD = "troughs"
#: Window of the median smoother (neurokit2's 'smoothmedian' uses 4 s).
MEDIAN_WINDOW_S = 4.0
#: High-pass cut-off separating phasic from tonic (neurokit2 'highpass', Biopac: 0.05 Hz).
HIGHPASS_HZ = 0.05


def _median_filter(x: np.ndarray, size: int) -> np.ndarray:
    return median_filter(x, size=max(1, size | 1), mode="nearest")


def eda_decompose(
    clean: np.ndarray,
    sampling_rate: float,
    *,
    method: str = DEFAULT_DECOMPOSE_METHOD,
    scr: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Split cleaned EDA (µS) into tonic and phasic components.

    Methods
    -------
    ``troughs`` (default)
        The tonic level is the signal with every detected SCR cut out, from its onset
        until the signal has recovered to the onset level or the next rise starts, and
        bridged by linear interpolation between the surrounding troughs, then smoothed
        with a 4 s median. The troughs are where the skin is at its tonic level, so the
        SCRs do not leak into the SCL (the trough-to-peak logic of Boucsein, 2012).
    ``median``
        A 4 s running median (neurokit2 ``smoothmedian``).
    ``highpass``
        A 0.05 Hz Butterworth split (neurokit2 ``highpass``): SCR mass leaks into tonic.

    Measured on simulated 40-min signals (bench/bench_eda_methods.py), ``troughs`` had the
    smallest per-minute SCL error; ``cvxEDA`` is too slow for 40-min recordings.

    Returns
    -------
    tonic, phasic : numpy.ndarray
        ``phasic = clean - tonic``; NaN where ``clean`` is NaN.

    Examples
    --------
    >>> fs = 25.0
    >>> t = np.arange(0, 120, 1 / fs)
    >>> bump = np.where(t > 30, (t - 30) * np.exp(-(t - 30) / 2.0), 0)
    >>> tonic, phasic = eda_decompose(4 + 0.3 * bump, fs)
    >>> bool(abs(np.nanmean(tonic) - 4) < 0.02)
    True
    """
    x = np.asarray(clean, dtype=np.float64)
    finite = np.isfinite(x)
    if finite.sum() < 10:
        return np.full_like(x, np.nan), np.full_like(x, np.nan)
    idx = np.arange(len(x))
    filled = np.interp(idx, idx[finite], x[finite]) if not finite.all() else x.copy()
    if method == "highpass":
        sos = butter(2, HIGHPASS_HZ, btype="lowpass", fs=sampling_rate, output="sos")
        tonic = sosfiltfilt(sos, filled) if len(x) > 30 else filled
    elif method == "median":
        tonic = _median_filter(filled, int(MEDIAN_WINDOW_S * sampling_rate))
    elif method == "troughs":
        if scr is None:
            scr = eda_scr(x, sampling_rate)
        keep = np.ones(len(x), dtype=bool)
        for on, end in zip(scr["onset_idx"], scr["recovery_idx"]):
            keep[on + 1 : end] = False
        tonic = np.interp(idx, idx[keep], filled[keep]) if keep.any() else filled
        tonic = _median_filter(tonic, int(MEDIAN_WINDOW_S * sampling_rate))
    else:
        raise ValueError(
            f"eda_decompose: method must be troughs, median or highpass, got {method!r}"
        )
    tonic[~finite] = np.nan
    phasic = x - tonic
    return tonic, phasic
