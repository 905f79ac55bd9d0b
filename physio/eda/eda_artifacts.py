"""Skin-conductance artefacts at any sampling rate: range, slope, steps; bridge; SCR table.

Rules (Kleckner et al. 2018, the automated EDA quality rules):

* **Range.** Skin conductance outside :data:`RANGE_US` is not skin: below 0.05 µS the
  electrode has lost contact, above 60 µS the circuit is shorted or saturated.
* **Slope.** Skin conductance cannot change faster than :data:`MAX_SLOPE_US_PER_S`
  (10 µS/s): a faster change is an electrode step (contact, pressure, movement) or a
  transient spike, not a sweat-gland response, whose rise takes 0.5-3 s. The slope is
  measured over :data:`SLOPE_SPAN_S` (and at least one sample), so the rule means the same
  at 31 Hz and at 1000 Hz, and a step that happens between two samples is caught whatever
  the rate.

Each artefact is widened by :data:`PAD_S` on both sides (the recovery of the electrode and
the 1 Hz smoothing of the SCR detector), the signal is bridged by a straight line across it
(:func:`eda_bridge`) so tonic level and filters do not ring, and no SCR whose rise touches
an artefact is counted (:func:`scr_clear_of_artifacts`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

#: Plausible skin conductance (µS), Kleckner et al. (2018).
RANGE_US = (0.05, 60.0)
#: Fastest physiological change (µS/s), Kleckner et al. (2018).
MAX_SLOPE_US_PER_S = 10.0
#: Span over which the slope is measured (s); one sample when the rate is lower.
SLOPE_SPAN_S = 0.05
#: Margin added to both sides of every artefact (s): no SCR is counted within it.
PAD_S = 1.0
#: A window is valid for SCR counting while at least this share of it is artefact-free.
MIN_CLEAN_SHARE = 0.5
#: Samples scanned per block (:func:`eda_artifact_masks`): a few hundred kB of temporaries
#: instead of several full-length copies of a long 1000 Hz channel.
SCAN_BLOCK = 1 << 16

CITATION = ("Kleckner I. R. et al. (2018) Simple, transparent, and flexible automated "
            "quality assessment procedures for ambulatory electrodermal activity data. "
            "IEEE Trans Biomed Eng 65(7):1460-1467")


def runs_of(mask: np.ndarray) -> list[tuple[int, int]]:
    """Start and end (exclusive) indices of each run of True.

    Examples
    --------
    >>> runs_of(np.array([0, 1, 1, 0, 1], bool))
    [(1, 3), (4, 5)]
    """
    m = np.r_[False, np.asarray(mask, dtype=bool), False].astype(np.int8)
    edges = np.flatnonzero(np.diff(m))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def eda_artifact_masks(signal: np.ndarray, sampling_rate: float, *,
                       convert: Callable[[np.ndarray], np.ndarray] | None = None,
                       range_us: tuple[float, float] = RANGE_US,
                       max_slope: float = MAX_SLOPE_US_PER_S, span_s: float = SLOPE_SPAN_S,
                       block: int = SCAN_BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """Which samples are out of range and which lie on a too steep change, block by block.

    ``convert`` (an element-wise conversion to µS, e.g. from kΩ) is applied to one block at
    a time, so no full-length µS or float copy of the channel is made.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Boolean ``out_of_range`` and ``steep``, one value per sample; the change over
        ``span_s`` marks both of its ends.

    Examples
    --------
    >>> x = np.array([5.0, 5.0, 90.0, 5.0, 5.0])
    >>> [m.astype(int).tolist() for m in eda_artifact_masks(x, 1.0, block=2)]
    [[0, 0, 1, 0, 0], [0, 1, 1, 1, 0]]
    """
    signal = signal if isinstance(signal, np.ndarray) else np.asarray(signal)
    n, fs = len(signal), float(sampling_rate)
    h = max(1, int(span_s * fs))  # at most the span, at least one sample
    bad_range = np.zeros(n, dtype=bool)
    fast = np.zeros(max(0, n - h), dtype=bool)
    for a in range(0, n, block):
        b = min(n, a + block)
        seg = signal[a:min(n, b + h)]
        x = np.asarray(seg if convert is None else convert(seg), dtype=np.float64)
        own = x[:b - a]
        bad_range[a:b] = np.isfinite(own) & ((own < range_us[0]) | (own > range_us[1]))
        m = min(b, n - h) - a
        if m > 0:
            with np.errstate(invalid="ignore"):
                fast[a:a + m] = np.abs(x[h:h + m] - x[:m]) * fs / h > max_slope
    steep = np.zeros(n, dtype=bool)
    if n > h:
        steep[:-h] |= fast
        steep[h:] |= fast
    return bad_range, steep


def eda_artifacts(signal_us: np.ndarray, sampling_rate: float, *,
                  range_us: tuple[float, float] = RANGE_US,
                  max_slope: float = MAX_SLOPE_US_PER_S, span_s: float = SLOPE_SPAN_S,
                  pad_s: float = PAD_S,
                  convert: Callable[[np.ndarray], np.ndarray] | None = None
                  ) -> list[tuple[float, float, str]]:
    """Artefact intervals of a skin-conductance signal (µS) at any rate.

    Parameters
    ----------
    signal_us : numpy.ndarray
        Skin conductance in µS (NaN where missing; missing is left to the loss scan), or
        the channel's samples in its own units when ``convert`` is given.
    sampling_rate : float
        Hz (any rate: the slope span is in seconds).
    range_us, max_slope, span_s, pad_s
        See :data:`RANGE_US`, :data:`MAX_SLOPE_US_PER_S`, :data:`SLOPE_SPAN_S`,
        :data:`PAD_S`.
    convert : callable, optional
        Element-wise conversion of the samples to µS, applied block by block
        (:func:`eda_artifact_masks`).

    Returns
    -------
    list of (start_s, end_s, reason)
        Merged, padded intervals in seconds from the first sample; reason is ``range`` or
        ``slope`` (both joined by ``+`` when merged intervals differ).

    Examples
    --------
    >>> fs = 31.0
    >>> x = np.full(int(60 * fs), 5.0)
    >>> x[int(30 * fs):] += 3.0  # a 3 µS step between two samples
    >>> [(round(a, 1), round(b, 1), r) for a, b, r in eda_artifacts(x, fs)]
    [(29.0, 31.0, 'slope')]
    """
    fs = float(sampling_rate)
    n = len(np.asarray(signal_us))
    bad_range, steep = eda_artifact_masks(signal_us, fs, convert=convert, range_us=range_us,
                                          max_slope=max_slope, span_s=span_s)
    found = [(a, b, "range") for a, b in runs_of(bad_range)]
    found += [(a, b, "slope") for a, b in runs_of(steep)]
    return merge_intervals([(max(0.0, a / fs - pad_s), min(n / fs, b / fs + pad_s), r)
                            for a, b, r in found])


def merge_intervals(items: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """Sort and merge overlapping intervals, joining their reasons.

    Examples
    --------
    >>> merge_intervals([(3.0, 5.0, "slope"), (0.0, 4.0, "range")])
    [(0.0, 5.0, 'range+slope')]
    """
    out: list[tuple[float, float, str]] = []
    for a, b, r in sorted(items):
        if out and a <= out[-1][1]:
            pa, pb, pr = out[-1]
            reasons = "+".join(sorted(set(pr.split("+")) | {r}))
            out[-1] = (pa, max(pb, b), reasons)
        else:
            out.append((a, b, r))
    return out


def eda_bridge(signal: np.ndarray, sampling_rate: float,
               intervals: list[tuple[float, float, str]], *, copy: bool = True) -> np.ndarray:
    """Replace each artefact interval by a straight line between its clean neighbours.

    An interval that touches the start or end of the signal takes the nearest clean value.
    Each run of bridged samples is interpolated between its two clean neighbours alone (as
    :func:`numpy.interp` over all clean samples would, without full-length index arrays).
    ``copy=False`` bridges a float64 ``signal`` in place (a fresh conversion, say).

    Examples
    --------
    >>> x = np.array([1.0, 1.0, 9.0, 9.0, 2.0, 2.0])
    >>> eda_bridge(x, 1.0, [(2.0, 4.0, "slope")]).round(2).tolist()
    [1.0, 1.0, 1.33, 1.67, 2.0, 2.0]
    """
    x = np.array(signal, dtype=np.float64, copy=True if copy else None)
    fs = float(sampling_rate)
    bad = np.zeros(len(x), dtype=bool)
    for a, b, _ in intervals:
        bad[max(0, int(np.floor(a * fs))):min(len(x), int(np.ceil(b * fs)))] = True
    good = ~bad & np.isfinite(x)
    if not good.any() or not bad.any():
        return x
    for a, b in runs_of(bad):
        ends = [i for i in (clean_neighbour(good, a - 1, -1), clean_neighbour(good, b, 1))
                if i is not None]
        x[a:b] = np.interp(np.arange(a, b), ends, x[ends])
    return x


def clean_neighbour(good: np.ndarray, start: int, step: int, *,
                    block: int = SCAN_BLOCK) -> int | None:
    """The first index from ``start`` in direction ``step`` (-1 or 1) where ``good`` is True,
    searched a block at a time (None when there is none).

    Examples
    --------
    >>> g = np.array([True, False, False, True])
    >>> clean_neighbour(g, 2, -1), clean_neighbour(g, 1, 1), clean_neighbour(g[1:3], 1, -1)
    (0, 3, None)
    """
    i = start
    while 0 <= i < len(good):
        lo, hi = (max(0, i - block + 1), i + 1) if step < 0 else (i, min(len(good), i + block))
        hits = np.flatnonzero(good[lo:hi])
        if len(hits):
            return int(lo + (hits[-1] if step < 0 else hits[0]))
        i = lo - 1 if step < 0 else hi
    return None


def scr_clear_of_artifacts(onset_s: np.ndarray, peak_s: np.ndarray,
                           intervals: list[tuple[float, float, str]],
                           margin_s: float = PAD_S) -> np.ndarray:
    """True for each SCR whose rise (onset to peak) lies ``margin_s`` or more from any
    artefact interval.

    Examples
    --------
    >>> scr_clear_of_artifacts(np.array([5.0, 20.0]), np.array([7.0, 22.0]),
    ...                        [(8.0, 9.0, "slope")]).tolist()
    [False, True]
    """
    on = np.asarray(onset_s, dtype=float)
    pk = np.asarray(peak_s, dtype=float)
    ok = np.ones(len(on), dtype=bool)
    for a, b, _ in intervals:
        ok &= (pk < a - margin_s) | (on > b + margin_s)
    return ok


def scr_table(onset_s: np.ndarray, peak_s: np.ndarray, amplitude_us: np.ndarray,
              windows: pd.DataFrame | None = None,
              intervals: list[tuple[float, float, str]] | None = None) -> pd.DataFrame:
    """The ``desc-scr`` table: one row per counted SCR.

    Parameters
    ----------
    onset_s, peak_s, amplitude_us : numpy.ndarray
        From ``EdaResult.scr_onset_s``, ``scr_peak_s``, ``scr_amp_us``.
    windows : pandas.DataFrame, optional
        Analysis windows with ``window``, ``start_s``, ``end_s``; an SCR belongs to the
        window holding its onset (``n/a`` when none does).
    intervals : list, optional
        Artefact intervals: SCRs within :data:`PAD_S` of one are left out.

    Returns
    -------
    pandas.DataFrame
        ``onset_s``, ``peak_s``, ``amplitude_us``, ``rise_time_s``, ``window``.

    Examples
    --------
    >>> w = pd.DataFrame({"window": [1, 2], "start_s": [0.0, 60.0], "end_s": [60.0, 120.0]})
    >>> scr_table(np.array([10.0, 70.0]), np.array([12.0, 71.5]), np.array([0.2, 0.1]),
    ...           w).values.tolist()
    [[10.0, 12.0, 0.2, 2.0, 1], [70.0, 71.5, 0.1, 1.5, 2]]
    """
    on = np.asarray(onset_s, dtype=float)
    pk = np.asarray(peak_s, dtype=float)
    amp = np.asarray(amplitude_us, dtype=float)
    keep = scr_clear_of_artifacts(on, pk, intervals or [])
    on, pk, amp = on[keep], pk[keep], amp[keep]
    win = pd.array([pd.NA] * len(on), dtype="Int64")
    if windows is not None:
        for row in windows.itertuples(index=False):
            win[(on >= row.start_s) & (on < row.end_s)] = int(row.window)
    return pd.DataFrame({"onset_s": on, "peak_s": pk, "amplitude_us": amp,
                         "rise_time_s": pk - on, "window": win})


def eda_window_quality(intervals: list[tuple[float, float, str]], start_s: float,
                       end_s: float) -> dict[str, object]:
    """Artefact-free share of a window, its validity and the reason.

    Examples
    --------
    >>> eda_window_quality([(10.0, 50.0, "slope")], 0.0, 60.0)["eda_valid"]
    False
    """
    length = max(end_s - start_s, 1e-9)
    lost = sum(max(0.0, min(b, end_s) - max(a, start_s)) for a, b, _ in intervals)
    quality = float(np.clip(1.0 - lost / length, 0.0, 1.0))
    kinds = sorted({r for a, b, r in intervals if b > start_s and a < end_s})
    reason = ""
    if quality < MIN_CLEAN_SHARE:
        reason = (f"{1 - quality:.0%} of the window is artefact ({', '.join(kinds)}; "
                  f"Kleckner et al. 2018 rules)")
    n = sum(1 for a, b, _ in intervals if b > start_s and a < end_s)
    return {"eda_quality": quality, "eda_valid": reason == "", "eda_reason": reason,
            "eda_artifacts": n}


def eda_artifact_methods() -> dict[str, object]:
    """Rules and thresholds in force, for the sidecar (read at call time).

    Examples
    --------
    >>> eda_artifact_methods()["max_slope_us_per_s"]
    10.0
    """
    return {
        "method": "range and slope rules; artefacts padded, bridged by a straight line; no "
                  "SCR whose rise lies within pad_s of an artefact",
        "range_us": list(RANGE_US), "max_slope_us_per_s": MAX_SLOPE_US_PER_S,
        "slope_span_s": SLOPE_SPAN_S, "pad_s": PAD_S, "min_clean_share": MIN_CLEAN_SHARE,
        "citation": CITATION,
    }
