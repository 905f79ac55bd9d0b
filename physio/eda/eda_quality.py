"""EDA signal-loss detection: NaN runs, flat lines, saturation, out-of-range values.

The scan works chunk by chunk (runs that cross a chunk boundary are joined), so a 24-hour
recording is checked in bounded memory with exactly the result of a single pass.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable

import numpy as np

from physio.signal_runs import true_runs

#: Plausible skin conductance range (µS). Below 0.05 µS the electrode is off or the skin
#: is not in contact; above 60 µS is beyond any palmar SCL reported with 0.5 V constant
#: voltage systems (Boucsein, 2012, ch. 2.4) and means a short or a unit error.
EDA_MIN_US = 0.05
EDA_MAX_US = 60.0
#: A stretch this long with a constant value is a disconnected or frozen channel.
FLAT_MIN_S = 5.0
#: A stretch this long pinned at the channel's extreme value is amplifier saturation.
SATURATION_MIN_S = 1.0


def release_pages(arr: np.ndarray) -> None:
    """Tell the OS it may drop the pages of a memory-mapped array we have finished reading.

    Keeps resident memory bounded when a long recording is processed in chunks from a
    memory-mapped file; a no-op for ordinary arrays.
    """
    obj = arr
    for _ in range(8):
        if obj is None:
            return
        if isinstance(obj, mmap.mmap):  # the end of a memory-mapped array's ``base`` chain
            try:
                obj.madvise(mmap.MADV_DONTNEED)
            except (AttributeError, OSError, ValueError):
                pass
            return
        obj = getattr(obj, "base", None)


def chunk_bounds(n: int, chunk: int | None) -> list[tuple[int, int]]:
    """Consecutive [a, b) sample ranges of at most ``chunk`` samples covering ``n``."""
    if not chunk or chunk >= n:
        return [(0, n)]
    return [(a, min(n, a + chunk)) for a in range(0, n, chunk)]


def scan_eda_loss(
    signal: np.ndarray,
    *,
    convert: Callable[[np.ndarray], np.ndarray] | None = None,
    chunk: int | None = None,
    sampling_rate: float,
    min_us: float = EDA_MIN_US,
    max_us: float = EDA_MAX_US,
    flat_min_s: float = FLAT_MIN_S,
    saturation_min_s: float = SATURATION_MIN_S,
) -> list[tuple[int, int, str]]:
    """Signal-loss stretches as sample ranges ``(start, stop, reason)``, chunk by chunk.

    ``convert`` maps a raw chunk to µS (identity when None).
    """
    fs = float(sampling_rate)
    n = len(signal)
    bounds = chunk_bounds(n, chunk)

    def get(a: int, b: int) -> np.ndarray:
        x = np.array(signal[a:b], dtype=np.float64)
        release_pages(signal)
        return convert(x) if convert is not None else x

    lo, hi = np.inf, -np.inf
    any_finite = False
    for a, b in bounds:
        x = get(a, b)
        finite = x[np.isfinite(x)]
        if len(finite):
            any_finite = True
            lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
    kinds = ("nan", "same", "pinned", "out_of_range")
    runs: dict[str, list[list[int]]] = {k: [] for k in kinds}
    prev_last = np.nan
    for a, b in bounds:
        x = get(a, b)
        nan = ~np.isfinite(x)
        same = np.empty(len(x), dtype=bool)
        same[0] = x[0] == prev_last
        same[1:] = x[1:] == x[:-1]
        masks = {"nan": nan, "same": same}
        masks["pinned"] = ((x == lo) | (x == hi)) if any_finite and hi > lo else np.zeros_like(nan)
        with np.errstate(invalid="ignore"):
            masks["out_of_range"] = (x < min_us) | (x > max_us)
        for kind in kinds:
            for s, e in true_runs(masks[kind]):
                store = runs[kind]
                if store and store[-1][1] == a + s:  # continues across the chunk boundary
                    store[-1][1] = a + e
                else:
                    store.append([a + s, a + e])
        prev_last = x[-1]
    out: list[tuple[int, int, str]] = [(s, e, "nan") for s, e in runs["nan"]]
    if not any_finite:
        return out
    flat = [(max(0, s - 1), e) for s, e in runs["same"] if (e - max(0, s - 1)) / fs >= flat_min_s]
    sat = [(s, e) for s, e in runs["pinned"] if (e - s) / fs >= saturation_min_s]
    out += [(s, e, "saturated") for s, e in sat]
    # a flat stretch pinned at an extreme is reported once, as saturation
    out += [(s, e, "flat") for s, e in flat if not any(a <= s and e <= b for a, b in sat)]
    out += [(s, e, "out_of_range") for s, e in runs["out_of_range"]]
    return sorted(out)


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
    fs = float(sampling_rate)
    found = scan_eda_loss(np.asarray(signal_us, dtype=np.float64), sampling_rate=fs,
                          min_us=min_us, max_us=max_us, flat_min_s=flat_min_s,
                          saturation_min_s=saturation_min_s)
    return [(s / fs, e / fs, r) for s, e, r in found]


def bad_mask(
    segments: list[tuple[float, float, str]], times_s: np.ndarray
) -> np.ndarray:
    """Boolean mask of ``times_s`` that fall in any bad segment."""
    mask = np.zeros(len(times_s), dtype=bool)
    for a, b, _ in segments:
        mask |= (times_s >= a) & (times_s < b)
    return mask
