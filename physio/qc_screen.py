"""Traces drawn at the QC figure's resolution: the figure size and min/max decimation.

Shared by the QC figure (:mod:`physio.qc`) and its breathing row (:mod:`physio.qc_rsp`).
Every long trace is decimated to the screen: for each pixel column of its axes the minimum
and the maximum of the samples that fall in it (:func:`minmax_decimate`). A trace of 1.7
million samples becomes ~1600 points that draw the same picture, and a single-sample spike,
which a plain every-n-th-sample thinning would drop, stays visible.

The stretches a channel does not hold valid are hatched on its row (:func:`shade_invalid`)
and EDA artefacts drawn as translucent bands (:func:`shade_bands`), each as one collection.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.collections import PolyCollection

#: Figure width (inches) and resolution (dots per inch) of the saved PNG.
FIG_WIDTH_IN = 11.0
FIG_DPI = 80


def minmax_decimate(
    t: np.ndarray, y: np.ndarray, n_columns: int, span: tuple[float, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Decimate a trace to the screen: the min and the max of every pixel column.

    The samples are binned by time into columns of width ``(span[1] - span[0]) /
    n_columns`` (``span`` defaults to the trace's own time range); each non-empty column
    contributes two points, its minimum and its maximum, so the line drawn through them
    covers exactly the pixels the full trace covers. NaN samples are ignored within a
    column; a column with only NaN stays NaN (a gap). Traces shorter than two points per
    column are returned unchanged.

    Parameters
    ----------
    t, y : numpy.ndarray
        Sample times (increasing) and values.
    n_columns : int
        Pixel columns across ``span``.
    span : (float, float), optional
        The visible time range (the axes' x limits).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Times and values of at most ``2 * (n_columns + 2)`` points (samples left and right
        of ``span`` make one column each, just outside it).

    Examples
    --------
    >>> t = np.arange(100_000) / 1000.0
    >>> y = np.zeros_like(t); y[51_234] = 5.0          # one-sample spike
    >>> tt, yy = minmax_decimate(t, y, 200)
    >>> len(tt) <= 400, float(yy.max())
    (True, 5.0)
    """
    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(t)
    if n == 0 or n <= 2 * n_columns:
        return t, y
    lo, hi = span if span is not None else (float(t[0]), float(t[-1]))
    width = (hi - lo) / max(1, n_columns)
    if not np.isfinite(width) or width <= 0:
        return t, y
    col = np.floor((t - lo) / width).astype(np.int64)
    col[(col == n_columns) & (t <= hi)] = n_columns - 1  # the right edge belongs to the last
    # samples outside the visible span: one column on each side, just outside it, so the
    # line still runs to the edges and the point count stays bounded
    np.clip(col, -1, n_columns, out=col)
    # first sample of every column (t increasing, so columns are runs)
    starts = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN column -> NaN (a gap)
        mn = np.fmin.reduceat(y, starts)
        mx = np.fmax.reduceat(y, starts)
    xc = lo + (col[starts] + 0.5) * width
    # min then max in every column: the vertical stroke covers the column's pixels, and the
    # stroke to the next column stays inside the two columns' ranges, so the order of the
    # extremes in time does not change the picture at this resolution
    return np.repeat(xc, 2), np.column_stack([mn, mx]).ravel()


def axes_columns(ax: Any) -> int:
    """Pixel columns of an axes: its width on a QC figure of :data:`FIG_WIDTH_IN` inches at
    :data:`FIG_DPI` (at least 16).

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = Figure(figsize=(FIG_WIDTH_IN, 2)).add_axes((0.1, 0.1, 0.5, 0.8))
    >>> axes_columns(ax)
    440
    """
    pos = ax.get_position()
    return max(16, int(round(pos.width * FIG_WIDTH_IN * FIG_DPI)))


#: Hatch of the stretches a channel does not hold valid (a light diagonal hatch over the
#: channel's row, distinct from the phases' translucent colours).
INVALID_HATCH = "////"
INVALID_COLOUR = "#D55E00"


def shade_invalid(ax: Any, spans: Sequence[tuple[float, float]], gid: str,
                  colour: str = INVALID_COLOUR) -> None:
    """Hatch each (start_s, end_s) span over the full height of ``ax``: one collection
    (gid ``gid``), nothing when there is no span.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = Figure().subplots()
    >>> shade_invalid(ax, [(60.0, 180.0)], "ecg_invalid")
    >>> [(c.get_gid(), len(c.get_paths())) for c in ax.collections]
    [('ecg_invalid', 1)]
    """
    if not len(spans):
        return
    verts = [[(a, 0.0), (a, 1.0), (b, 1.0), (b, 0.0)] for a, b in spans]
    ax.add_collection(PolyCollection(verts, transform=ax.get_xaxis_transform(),
                                     facecolors="none", edgecolors=colour, linewidths=0,
                                     hatch=INVALID_HATCH, alpha=0.45, gid=gid),
                      autolim=False)


def shade_bands(ax: Any, spans: Sequence[tuple[float, float]], gid: str,
                colour: str = "red") -> None:
    """A translucent band over the full height of ``ax`` for each (start_s, end_s) span:
    one collection (gid ``gid``), nothing when there is no span.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = Figure().subplots()
    >>> shade_bands(ax, [(1.0, 2.0), (5.0, 6.0)], "eda_artifacts")
    >>> [(c.get_gid(), len(c.get_paths())) for c in ax.collections]
    [('eda_artifacts', 2)]
    """
    if not len(spans):
        return
    verts = [[(a, 0.0), (a, 1.0), (b, 1.0), (b, 0.0)] for a, b in spans]
    ax.add_collection(PolyCollection(verts, transform=ax.get_xaxis_transform(),
                                     facecolors=colour, alpha=0.3, linewidths=0,
                                     edgecolors="none", gid=gid), autolim=False)
