"""Min/max decimation of a uniformly sampled trace, for display.

A 90-min ECG at 1000 Hz holds 5.4 million samples: far more than a screen's width of
pixels, and too many for a browser to redraw while the analyst pans. The page sends, for
each of about 2000 buckets of the visible stretch, the bucket's lowest and highest sample
at their own times, so every R peak and every artefact spike stays visible at any zoom
(plain subsampling would drop narrow peaks). When the visible stretch holds few enough
samples, they are sent as they are: full resolution.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

#: buckets per trace: each gives two points, so a trace holds about 4000 points
DISPLAY_BUCKETS = 2000


@dataclass(frozen=True)
class Trace:
    """A uniformly sampled signal on the session clock.

    Attributes
    ----------
    start_s : float
        Time of the first sample (s).
    sampling_rate : float
        Hz.
    y : numpy.ndarray
        Samples (float64).
    """

    start_s: float
    sampling_rate: float
    y: np.ndarray

    @functools.cached_property
    def has_gaps(self) -> bool:
        """True when some sample is NaN (looked at once: a long trace is scanned once)."""
        return bool(np.isnan(self.y).any())

    @property
    def end_s(self) -> float:
        """Time just after the last sample (s)."""
        return self.start_s + len(self.y) / self.sampling_rate

    def index_range(self, t0: float, t1: float) -> tuple[int, int]:
        """The sample indices ``[i0, i1)`` covering ``t0..t1`` (clipped to the trace).

        Examples
        --------
        >>> Trace(10.0, 100.0, np.zeros(1000)).index_range(11.0, 12.0)
        (100, 201)
        >>> Trace(10.0, 100.0, np.zeros(1000)).index_range(-5.0, 99.0)
        (0, 1000)
        """
        n = len(self.y)
        i0 = int(np.floor((t0 - self.start_s) * self.sampling_rate))
        i1 = int(np.ceil((t1 - self.start_s) * self.sampling_rate)) + 1
        return min(max(i0, 0), n), min(max(i1, 0), n)


def minmax_decimate(trace: Trace, t0: float, t1: float,
                    buckets: int = DISPLAY_BUCKETS) -> tuple[np.ndarray, np.ndarray]:
    """``(t, y)`` of ``trace`` between ``t0`` and ``t1`` for display.

    At most ``2 * buckets`` points: each bucket of consecutive samples gives its minimum and
    its maximum, in time order, at their own sample times. A stretch of at most
    ``2 * buckets`` samples is returned exactly (full resolution). NaN samples (a gap) are
    kept as NaN so the line breaks there.

    Parameters
    ----------
    trace : Trace
    t0, t1 : float
        The stretch to show (s, session clock).
    buckets : int
        Number of buckets.

    Examples
    --------
    >>> tr = Trace(0.0, 1000.0, np.sin(np.arange(100_000) / 50.0))
    >>> t, y = minmax_decimate(tr, 0.0, 100.0, buckets=500)
    >>> len(t) <= 1000, float(y.max()) == float(tr.y.max()), float(y.min()) == float(tr.y.min())
    (True, True, True)
    >>> t, y = minmax_decimate(tr, 1.0, 1.5, buckets=500)  # 501 samples: exact
    >>> np.array_equal(y, tr.y[1000:1501])
    True
    """
    i0, i1 = trace.index_range(t0, t1)
    n = i1 - i0
    if n <= 0:
        return np.zeros(0), np.zeros(0)
    if n <= 2 * buckets:
        idx = np.arange(i0, i1)
        return trace.start_s + idx / trace.sampling_rate, trace.y[i0:i1].copy()
    size = -(-n // buckets)  # ceil: the last bucket may be shorter
    full = n // size
    block = trace.y[i0:i0 + full * size].reshape(full, size)
    idx = [i0 + np.arange(full) * size + a for a in _bucket_extremes(block, trace.has_gaps)]
    rest = trace.y[i0 + full * size:i1]
    if len(rest):
        base = i0 + full * size
        idx.append(np.array([base + _nanarg(rest, np.nanargmin)]))
        idx.append(np.array([base + _nanarg(rest, np.nanargmax)]))
    order = np.sort(np.concatenate(idx))
    gaps = _nan_positions(trace.y, i0, i1, size) if trace.has_gaps else []
    order = np.unique(np.concatenate([order, gaps])) if len(gaps) else order
    return trace.start_s + order / trace.sampling_rate, trace.y[order]


def _bucket_extremes(block: np.ndarray, gaps: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``block``: the offsets of its minimum and its maximum (NaN ignored)."""
    if gaps:
        filled_lo = np.where(np.isnan(block), np.inf, block)
        filled_hi = np.where(np.isnan(block), -np.inf, block)
        return filled_lo.argmin(axis=1), filled_hi.argmax(axis=1)
    return block.argmin(axis=1), block.argmax(axis=1)


def _nanarg(x: np.ndarray, fn) -> int:
    return 0 if np.isnan(x).all() else int(fn(x))


def _nan_positions(y: np.ndarray, i0: int, i1: int, size: int) -> np.ndarray:
    """One NaN sample per bucket that holds any, so the displayed line breaks at a gap."""
    nan = np.isnan(y[i0:i1])
    if not nan.any():
        return np.zeros(0, dtype=np.int64)
    where = np.flatnonzero(nan)
    _, first = np.unique(where // size, return_index=True)
    return i0 + where[first]
