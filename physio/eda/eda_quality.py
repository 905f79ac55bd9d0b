"""EDA signal-loss detection: NaN runs, flat lines, saturation, out-of-range values."""

from __future__ import annotations

import numpy as np

#: Plausible skin conductance range (µS). Below 0.05 µS the electrode is off or the skin
#: is not in contact; above 60 µS is beyond any palmar SCL reported with 0.5 V constant
#: voltage systems (Boucsein, 2012, ch. 2.4) and means a short or a unit error.
EDA_MIN_US = 0.05
EDA_MAX_US = 60.0
#: A stretch this long with a constant value is a disconnected or frozen channel.
FLAT_MIN_S = 5.0
#: A stretch this long pinned at the channel's extreme value is amplifier saturation.
SATURATION_MIN_S = 1.0


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) index pairs of the True runs of ``mask``."""
    if not mask.any():
        return []
    padded = np.r_[False, mask, False].astype(np.int8)
    d = np.diff(padded)
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def eda_quality(
    signal_us: np.ndarray,
    sampling_rate: float,
    *,
    min_us: float = EDA_MIN_US,
    max_us: float = EDA_MAX_US,
    flat_min_s: float = FLAT_MIN_S,
    saturation_min_s: float = SATURATION_MIN_S,
) -> list[tuple[float, float, str]]:
    """Find the stretches of an EDA signal (µS, full rate) that carry no valid signal.

    Returns
    -------
    list of (start_s, end_s, reason)
        Times relative to the first sample; reason is ``nan``, ``flat``, ``saturated`` or
        ``out_of_range``. Overlapping stretches are kept separately.

    Examples
    --------
    >>> x = np.r_[np.linspace(5, 6, 1000), np.full(1000, 5.5)]
    >>> eda_quality(x, 100.0)
    [(10.0, 20.0, 'flat')]
    """
    x = np.asarray(signal_us, dtype=np.float64)
    fs = float(sampling_rate)
    out: list[tuple[float, float, str]] = []
    nan = ~np.isfinite(x)
    for a, b in _runs(nan):
        out.append((a / fs, b / fs, "nan"))
    if nan.all():
        return out
    # flat: consecutive equal samples (exact repeats, as a frozen ADC produces)
    same = np.r_[False, np.diff(x) == 0]
    for a, b in _runs(same):
        a = max(0, a - 1)
        if (b - a) / fs >= flat_min_s:
            out.append((float(a / fs), float(b / fs), "flat"))
    finite = x[~nan]
    lo, hi = finite.min(), finite.max()
    if hi > lo:
        for value in (lo, hi):
            pinned = x == value
            for a, b in _runs(pinned):
                if (b - a) / fs >= saturation_min_s:
                    out.append((float(a / fs), float(b / fs), "saturated"))
    with np.errstate(invalid="ignore"):
        bad = (x < min_us) | (x > max_us)
    for a, b in _runs(bad):
        out.append((float(a / fs), float(b / fs), "out_of_range"))
    # a flat stretch pinned at an extreme is reported once, as saturation
    sat = [(a, b) for a, b, r in out if r == "saturated"]
    out = [s for s in out if not (s[2] == "flat" and any(a <= s[0] and s[1] <= b for a, b in sat))]
    return sorted(out)


def bad_mask(
    segments: list[tuple[float, float, str]], times_s: np.ndarray
) -> np.ndarray:
    """Boolean mask of ``times_s`` that fall in any bad segment."""
    mask = np.zeros(len(times_s), dtype=bool)
    for a, b, _ in segments:
        mask |= (times_s >= a) & (times_s < b)
    return mask
