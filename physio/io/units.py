"""Unit conversion for ECG (to mV) and EDA (to µS), and the "ECG in volts" check.

Readers record units exactly as the file gives them; the pipeline converts through these
helpers, which refuse units they do not know instead of guessing silently.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from physio.errors import ChannelError
from physio.io.channel_kinds import normalise_units
from physio.recording import Channel

#: Factor to millivolts for each (normalised) voltage unit.
_TO_MV = {
    "mv": 1.0, "millivolt": 1.0, "millivolts": 1.0,
    "v": 1e3, "volt": 1e3, "volts": 1e3,
    "uv": 1e-3, "microvolt": 1e-3, "microvolts": 1e-3,
}  # fmt: skip
#: Factor to microsiemens for conductance units.
_TO_US = {
    "us": 1.0, "microsiemens": 1.0, "microsiemen": 1.0, "micro siemens": 1.0, "umho": 1.0,
    "s": 1e6, "siemens": 1e6, "ms": 1e3, "millisiemens": 1e3, "ns": 1e-3, "nanosiemens": 1e-3,
}  # fmt: skip
#: Resistance units: value in kOhm = value * factor; conductance µS = 1000 / kOhm.
_TO_KOHM = {
    "kohm": 1.0, "kohms": 1.0, "kiloohm": 1.0, "kiloohms": 1.0, "kω": 1.0, "kohm(s)": 1.0,
    "ohm": 1e-3, "ohms": 1e-3, "ω": 1e-3, "mohm": 1e3, "megaohm": 1e3, "mω": 1e3,
}  # fmt: skip

#: Minimum ECG sampling rate the ECG pipeline accepts (R-peak timing error and HRV).
MIN_ECG_RATE_HZ = 100.0


def ecg_amplitude(data: np.ndarray) -> float:
    """Robust peak-to-peak amplitude of an ECG: the 0.1–99.9 percentile range.

    Examples
    --------
    >>> round(ecg_amplitude(np.r_[np.zeros(990), np.ones(10)]), 3)
    1.0
    """
    lo, hi = percentiles(data, (0.1, 99.9))
    return float(hi - lo)


def percentiles(data: np.ndarray, q: tuple[float, ...]) -> np.ndarray:
    """``np.percentile`` of the finite samples (linear interpolation), in one partition.

    The same numbers as ``np.percentile(x[np.isfinite(x)], q)``, about twice as fast on
    a long channel: one ``np.partition`` places every order statistic the percentiles
    need, instead of one selection per call. NaN for each ``q`` when no sample is finite.

    Examples
    --------
    >>> x = np.array([3.0, np.nan, 1.0, 2.0, 10.0])
    >>> percentiles(x, (0, 25, 50, 100)).tolist()
    [1.0, 1.75, 2.5, 10.0]
    """
    x = np.asarray(data, dtype=np.float64)
    finite = np.isfinite(x)
    x = x[finite] if not finite.all() else x.copy()
    n = x.size
    if n == 0:
        return np.full(len(q), np.nan)
    pos = np.asarray(q, dtype=np.float64) / 100.0 * (n - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    x.partition(np.unique(np.r_[lo, hi]))
    frac = pos - lo
    # numpy's own "linear" formula (_lerp), so the results are bit-identical
    a, b = x[lo], x[hi]
    diff = b - a
    out = a + diff * frac
    high = frac >= 0.5
    out[high] = (b - diff * (1 - frac))[high]
    return out


#: The last array judged and its four percentiles: the reader checks an ECG's units and the
#: pipeline checks them again before converting; the second check of the same, unchanged
#: array reuses the first's percentiles instead of sorting the signal again.
_LAST: list[Any] = [None, None, None]


def _ecg_percentiles(data: np.ndarray) -> np.ndarray:
    """(0.1, 25, 75, 99.9) percentiles of ``data``, reused for the same unchanged samples.

    "The same" means: a view of the same memory (its owning array is still alive, so the
    memory was not reused), the same address, shape and strides, and the same values at
    4096 spread-out samples (an in-place change is seen).
    """
    ref, stamp, value = _LAST
    arr = data if isinstance(data, np.ndarray) else None
    if arr is not None and ref is not None and ref() is _owner(arr) and stamp == _stamp(arr):
        return value
    value = percentiles(data, (0.1, 25, 75, 99.9))
    _LAST[:] = [None, None, None]
    if arr is not None:
        try:
            _LAST[:] = [weakref.ref(_owner(arr)), _stamp(arr), value]
        except TypeError:  # not weak-referenceable: no reuse
            pass
    return value


def _owner(arr: np.ndarray) -> np.ndarray:
    while isinstance(arr.base, np.ndarray):
        arr = arr.base
    return arr


def _stamp(arr: np.ndarray) -> tuple:
    step = max(1, arr.size // 4096)
    sample = arr.reshape(-1)[::step] if arr.ndim == 1 else arr.ravel()[::step]
    return (arr.shape, arr.strides, arr.dtype.str, arr.__array_interface__["data"][0],
            sample.tobytes())


def guess_ecg_units(data: np.ndarray) -> str | None:
    """Which voltage unit the ECG's amplitude suggests: ``'V'``, ``'mV'``, ``'uV'`` or None.

    A surface ECG's QRS complex is about 0.3–5 mV peak to peak (plus baseline wander), so
    the robust range is ~0.1–20 in mV, ~0.0001–0.02 in V and ~100–20000 in µV. Amplitudes
    between those bands are ambiguous and give None (no guess).

    Examples
    --------
    >>> t = np.arange(5000) / 500
    >>> guess_ecg_units(1.5 * (np.sin(2 * np.pi * 1.2 * t) > 0.99))
    'mV'
    >>> guess_ecg_units(0.0015 * (np.sin(2 * np.pi * 1.2 * t) > 0.99))
    'V'
    """
    p01, q1, q3, p999 = _ecg_percentiles(data)
    amp = float(p999 - p01)
    if not np.isfinite(amp) or amp <= 0:
        return None
    # Only judge traces shaped like an ECG: narrow baseline, tall QRS spikes. Gaussian
    # noise (a disconnected lead) has range/IQR ~4.6, an ECG usually > 6; anything less
    # spiky gets no guess, so a flat or noisy stretch is never called "volts".
    if q3 - q1 > 0 and amp / (q3 - q1) < 6.0:
        return None
    if amp < 1e-4:  # below 0.1 mV even in volts' terms: a flat line, not an ECG
        return None
    if amp < 0.02:
        return "V"
    if 0.1 <= amp <= 20:
        return "mV"
    if amp >= 100:
        return "uV"
    return None


def ecg_units_problem(channel: Channel) -> str | None:
    """Explain why the ECG's declared units disagree with its amplitude, or return None.

    This is the "ECG given in V where mV was expected" check: a channel labelled mV whose
    robust amplitude is a few thousandths is almost certainly in volts.

    Examples
    --------
    >>> ch = Channel("ECG", 0.001 * np.r_[np.zeros(990), np.ones(10)], 500.0, "mV", "ecg")
    >>> "looks like V" in ecg_units_problem(ch)
    True
    """
    declared = normalise_units(channel.units)
    if declared not in _TO_MV:
        return None
    guess = guess_ecg_units(channel.data)
    if guess is None:
        return None
    if _TO_MV[declared] != _TO_MV[guess.lower()]:
        return (
            f"channel {channel.name!r} is labelled {channel.units!r} but its amplitude "
            f"({ecg_amplitude(channel.data):.4g} {channel.units} peak to peak) looks like "
            f"{guess}; an ECG QRS is about 0.3-5 mV"
        )
    return None


def to_millivolts(
    channel: Channel, *, units: str | None = None, check_amplitude: bool = True,
    copy: bool = True,
) -> np.ndarray:
    """The channel's samples in millivolts.

    Parameters
    ----------
    channel : Channel
    units : str, optional
        Use these units instead of the channel's declared ones.
    check_amplitude : bool
        Refuse (ChannelError) when the amplitude contradicts the units, e.g. volts
        labelled mV (see :func:`ecg_units_problem`). With no units at all, the amplitude
        decides when it is unambiguous.
    copy : bool
        With False, a channel already in mV (float64) is returned as it is, not copied:
        for callers that only read it (a 40-min 1000 Hz ECG is 19 MB).

    Raises
    ------
    ChannelError
        Unknown units, no units and an ambiguous amplitude, or units contradicted by the
        amplitude.

    Examples
    --------
    >>> ch = Channel("ECG", np.array([0.0, 0.001, 0.002]), 500.0, "V", "ecg")
    >>> to_millivolts(ch, check_amplitude=False).tolist()
    [0.0, 1.0, 2.0]
    """
    declared = units if units is not None else channel.units
    key = normalise_units(declared)
    if key == "":
        guess = guess_ecg_units(channel.data)
        if guess is None:
            raise ChannelError(
                f"channel {channel.name!r} has no units and its amplitude "
                f"({ecg_amplitude(channel.data):.4g}) does not tell V, mV or uV apart; "
                "give the units explicitly"
            )
        key = guess.lower()
    elif key not in _TO_MV:
        raise ChannelError(
            f"channel {channel.name!r}: unknown voltage units {declared!r}; "
            f"expected one of V, mV, uV"
        )
    elif check_amplitude:
        probe = Channel(channel.name, channel.data, channel.sampling_rate, declared)
        problem = ecg_units_problem(probe)
        if problem:
            raise ChannelError(problem + "; pass the correct units explicitly")
    factor = _TO_MV[key]
    if not copy and factor == 1.0:
        return np.asarray(channel.data, dtype=np.float64)
    return channel.data * factor


def to_microsiemens(channel: Channel, *, units: str | None = None) -> np.ndarray:
    """The channel's samples as skin conductance in µS.

    Conductance units are scaled (S, mS, nS, µS/µmho). Resistance units are inverted:
    ``µS = 1000 / kΩ`` (``1e6 / Ω``). Non-positive resistances, which cannot be
    inverted, become NaN.

    Raises
    ------
    ChannelError
        Missing or unknown units (the message names the channel and the units accepted).

    Examples
    --------
    >>> ch = Channel("GSR", np.array([200.0, 100.0]), 10.0, "kOhm", "eda")
    >>> to_microsiemens(ch).tolist()
    [5.0, 10.0]
    """
    declared = units if units is not None else channel.units
    key = normalise_units(declared)
    if key in _TO_US:
        return channel.data * _TO_US[key]
    if key in _TO_KOHM:
        kohm = channel.data * _TO_KOHM[key]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(kohm > 0, 1000.0 / kohm, np.nan)
    raise ChannelError(
        f"channel {channel.name!r}: unknown EDA units {declared!r}; expected a conductance "
        "(uS, microsiemens, S, mS, nS) or a resistance (kOhm, Ohm, MOhm)"
    )


def require_ecg_rate(channel: Channel, minimum: float = MIN_ECG_RATE_HZ) -> None:
    """Raise ChannelError when an ECG is sampled too slowly for R-peak timing.

    The readers accept any positive rate (a 4 Hz respiration or EDA channel is normal);
    the ECG pipeline needs at least ``minimum`` Hz (100 Hz by default) and calls this.

    Examples
    --------
    >>> require_ecg_rate(Channel("ECG", np.zeros(10), 250.0, "mV", "ecg"))
    """
    if not channel.sampling_rate >= minimum:
        raise ChannelError(
            f"ECG channel {channel.name!r} is sampled at {channel.sampling_rate:g} Hz; "
            f"R-peak detection and HRV need at least {minimum:g} Hz"
        )
