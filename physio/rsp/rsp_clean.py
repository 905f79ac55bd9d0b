"""Respiration signal: unit check and band-pass cleaning (belt or ECG-derived).

A breathing trace is band-passed to the band of plausible breathing rates before breaths
are found: 0.05 Hz (3 breaths/min, below the slowest paced breathing) to 0.7 Hz
(42 breaths/min, above panting at rest). A zero-phase 2nd-order Butterworth keeps the
timing of each breath.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, detrend, sosfiltfilt

from physio.errors import ChannelError, SignalQualityError
from physio.io.channel_kinds import RSP_UNITS, normalise_units

#: Breathing band (Hz): 3-42 breaths/min.
RSP_BAND_HZ = (0.05, 0.7)
#: Shortest breathing trace worth analysing (s): three cycles at 6 breaths/min.
MIN_RSP_DURATION_S = 30.0
#: A belt sampled faster than twice this is processed at ``fs // q`` with
#: ``q = floor(fs / RSP_PROCESS_HZ)`` (50 Hz from 1000 Hz): breathing lies below 0.7 Hz, so
#: 50 samples per second resolve every breath; processing 1000 samples per second only
#: costs time and memory.
RSP_PROCESS_HZ = 50.0


def rsp_check_units(units: str, *, name: str = "RSP", source: str = "") -> str:
    """Return the belt's units as given, or raise ChannelError for units a belt cannot have.

    Examples
    --------
    >>> rsp_check_units("Volts")
    'Volts'
    >>> rsp_check_units("uS", name="Resp")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    physio.errors.ChannelError: respiration channel 'Resp': unknown belt units 'uS'...
    """
    if normalise_units(units) in {normalise_units(u) for u in RSP_UNITS}:
        return units
    where = f"{source}: " if source else ""
    raise ChannelError(
        f"{where}respiration channel {name!r}: unknown belt units {units!r}; expected one "
        "of V, mV, uV, a.u., %, mm, cm (give the right ones with --rsp-units, or name "
        "another channel with --rsp-channel)"
    )


def rsp_decimate(
    signal: np.ndarray,
    sampling_rate: float,
    *,
    target_hz: float | None = RSP_PROCESS_HZ,
) -> tuple[np.ndarray, float, float]:
    """A belt trace at a rate fit for breathing: ``(trace, rate_hz, delay_s)``.

    The trace is cut into blocks of ``q = floor(fs / target_hz)`` samples and each block
    is replaced by its mean (the sample of the new rate lies at the middle of its block,
    ``delay_s = (q - 1) / (2 fs)`` after the block's first sample). The block mean is the
    anti-alias filter: its response is zero at every multiple of the new rate, which are
    exactly the frequencies that fold onto 0 Hz, and only content within 0.7 Hz of them
    can land in the breathing band, where the attenuation is at least
    ``20 log10(q sin(pi (fs/q + 0.7) / fs) / sin(pi 0.7 q / fs))`` (37 dB from 1000 Hz
    to 50 Hz). Inside the band the gain is ``>= 0.9997`` (0.7 Hz), so rates and depths
    are those of the full-rate trace to float noise (``tests/test_rsp_decimate.py``). A
    block holding a NaN is NaN (lost signal stays lost). The last ``< q`` samples are
    dropped (less than 1 / ``target_hz`` s). A belt at or below ``2 x target_hz``, or
    ``target_hz=None``, is returned as float64 unchanged.

    Examples
    --------
    >>> y, fs, delay = rsp_decimate(np.arange(2000.0), 1000.0)
    >>> len(y), fs, delay, float(y[0])
    (100, 50.0, 0.0095, 9.5)
    >>> rsp_decimate(np.ones(10), 25.0)[1:]
    (25.0, 0.0)
    """
    fs = float(sampling_rate)
    q = int(fs // target_hz) if target_hz else 1
    if q < 2 or len(signal) < q:
        return np.asarray(signal, dtype=np.float64), fs, 0.0
    n = len(signal) // q
    x = np.asarray(signal)[: n * q].reshape(n, q)
    return x.mean(axis=1, dtype=np.float64), fs / q, (q - 1) / (2 * fs)


def rsp_clean(
    signal: np.ndarray,
    sampling_rate: float,
    *,
    band_hz: tuple[float, float] = RSP_BAND_HZ,
    name: str = "RSP",
) -> np.ndarray:
    """Band-pass a breathing trace (linear detrend, zero-phase Butterworth, order 2).

    NaN samples are bridged by linear interpolation for the filter and put back as NaN.
    The upper edge is lowered to 0.4 x the sampling rate for slowly sampled belts
    (BIOPAC exports at ~4 Hz).

    Raises
    ------
    SignalQualityError
        Fewer than :data:`MIN_RSP_DURATION_S` seconds of finite samples, or a flat trace.

    Examples
    --------
    >>> fs = 25.0
    >>> t = np.arange(0, 120, 1 / fs)
    >>> y = rsp_clean(3 + 0.5 * np.sin(2 * np.pi * 0.25 * t) + 0.01 * t, fs)
    >>> bool(abs(np.std(y[500:-500]) - 0.5 / np.sqrt(2)) < 0.02)
    True
    """
    x = np.asarray(signal, dtype=np.float64)
    fs = float(sampling_rate)
    finite = np.isfinite(x)
    if finite.sum() / fs < MIN_RSP_DURATION_S:
        raise SignalQualityError(
            f"respiration channel {name!r}: {finite.sum() / fs:.1f} s of signal, shorter "
            f"than the {MIN_RSP_DURATION_S:g} s needed for a breathing rate"
        )
    idx = np.arange(len(x))
    filled = np.interp(idx, idx[finite], x[finite]) if not finite.all() else x.copy()
    if np.ptp(filled) == 0:
        raise SignalQualityError(f"respiration channel {name!r} is flat (a constant value)")
    lo, hi = band_hz[0], min(band_hz[1], 0.4 * fs)
    sos = butter(2, [lo, hi], btype="bandpass", fs=fs, output="sos")
    y = sosfiltfilt(sos, detrend(filled, type="linear"))
    y[~finite] = np.nan
    return y
