"""The breathing row of the QC figure: the belt (or ECG-derived) trace and the rate per window.

One tick per breath (~450 in a session) merges into a solid band at the width of a QC
figure, so breaths are not marked one by one. The row shows what a reader checks: the
trace, whose envelope shows a slipping or disconnected belt, and the breathing rate of
each analysis window as a step on a second axis, with the HF band's breathing rates
(9-24 breaths/min) shaded. Windows without a valid rate from the drawn trace are hatched
(:func:`shade_rsp_invalid`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.ticker import MaxNLocator

from physio.qc_screen import axes_columns, minmax_decimate, shade_invalid
from physio.qc_valid import invalid_spans

#: Colour of the breathing rate (the trace is grey).
RATE_COLOUR = "#D55E00"
#: Breathing rates inside the HF band (0.15-0.40 Hz), shaded on the rate axis.
HF_BREATHS_PER_MIN = (9.0, 24.0)
#: x position of the rate axis's label (axes fraction, right of its tick labels).
_RATE_LABEL_X = 1.045


def rate_axis(ax: Any) -> Any:
    """The breathing row's rate axis: the twin of ``ax`` on the right, made on first use.

    A reused QC figure keeps it (emptied with the rest) from one recording to the next.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = Figure().subplots()
    >>> rate_axis(ax) is rate_axis(ax), rate_axis(ax) is ax
    (True, False)
    """
    twins = [a for a in ax.get_shared_x_axes().get_siblings(ax) if a is not ax]
    if twins:
        return twins[0]
    ax2 = ax.twinx()
    ax2.yaxis.set_label_coords(_RATE_LABEL_X, 0.5)  # fixed: no tick-label measuring
    ax2.yaxis.set_major_locator(MaxNLocator(nbins=3))
    ax2.tick_params(labelsize=7)
    return ax2


def draw_rate_steps(ax2: Any, windows: Any) -> None:
    """The breathing rate of each window as a horizontal step from its start to its end,
    with a point at its middle (gid ``"breathing_rate"``), over the shaded HF band.

    Windows without a rate (NaN) are left out; the axis runs from 0 to at least 30.

    Examples
    --------
    >>> import pandas as pd
    >>> from matplotlib.figure import Figure
    >>> ax2 = Figure().subplots()
    >>> w = pd.DataFrame({"start_s": [0.0, 60.0], "end_s": [60.0, 120.0],
    ...                   "resp_rate_bpm": [14.0, np.nan]})
    >>> draw_rate_steps(ax2, w)
    >>> [ln.get_ydata().tolist() for ln in ax2.get_lines() if ln.get_gid() == "breathing_rate"]
    [[14.0]]
    """
    start = windows["start_s"].to_numpy(float)
    end = windows["end_s"].to_numpy(float)
    rate = windows["resp_rate_bpm"].astype(float).to_numpy()
    ok = np.isfinite(rate)
    ax2.axhspan(*HF_BREATHS_PER_MIN, color="#009E73", alpha=0.08, lw=0)
    # one polyline for all steps, broken (NaN) between windows
    xs = np.column_stack([start[ok], end[ok], np.full(ok.sum(), np.nan)]).ravel()
    ys = np.repeat(rate[ok], 3)
    ax2.plot(xs, ys, lw=1.6, color=RATE_COLOUR, solid_capstyle="butt")
    ax2.plot((start[ok] + end[ok]) / 2, rate[ok], "o", ms=2.5, color=RATE_COLOUR,
             gid="breathing_rate")
    top = float(np.nanmax(rate)) if ok.any() else 30.0
    ax2.set_ylim(0, max(30.0, top + 3))
    ax2.set_ylabel("breaths/min", fontsize=7, color=RATE_COLOUR)


def draw_rsp_panel(ax: Any, result: Any) -> None:
    """Draw the breathing row of the QC figure into ``ax``.

    Shows the belt's cleaned trace (or, without one, the ECG-derived trace), decimated to
    the screen with :func:`physio.qc_screen.minmax_decimate`, and the breathing rate per
    window on a second axis (:func:`draw_rate_steps`).

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> from types import SimpleNamespace
    >>> import pandas as pd
    >>> ax = Figure().subplots()
    >>> draw_rsp_panel(ax, SimpleNamespace(rsp_belt=None, rsp_ecg=None, windows=pd.DataFrame()))
    >>> ax.get_title(loc="left")
    'breathing: no belt and no ECG-derived estimate'
    """
    series = getattr(result, "rsp_belt", None) or getattr(result, "rsp_ecg", None)
    ax.set_ylabel("breathing", fontsize=8)
    if series is None:
        ax.set_title("breathing: no belt and no ECG-derived estimate", fontsize=8, loc="left")
        ax.text(0.5, 0.5, "no breathing signal", ha="center", transform=ax.transAxes)
        return
    ax.plot(*minmax_decimate(series.trace_t, series.trace_y, axes_columns(ax)), lw=0.5,
            color="0.7")
    what = ("belt " + str(series.info.get("channel", "")) if series.source == "belt"
            else f"ECG-derived ({series.info.get('edr_method', '')})")
    w = getattr(result, "windows", None)
    key = shade_rsp_invalid(ax, w, series.source) if w is not None else ""
    ax.set_title(f"breathing: {what}; rate per window (right axis){key}", fontsize=8,
                 loc="left")
    if w is not None and len(w) and "resp_rate_bpm" in w:
        draw_rate_steps(rate_axis(ax), w)


def shade_rsp_invalid(ax: Any, windows: Any, source: str) -> str:
    """Hatch the windows where the drawn breathing trace gives no valid rate (gid
    ``"resp_invalid"``); returns the title's key ("" when every window is valid).

    For a belt, a window is invalid when the belt's own rate is not valid (an ECG-derived
    rate may stand in: it is drawn on the rate axis); for the ECG-derived trace, when no
    breathing rate is valid.

    Examples
    --------
    >>> import pandas as pd
    >>> from matplotlib.figure import Figure
    >>> ax = Figure().subplots()
    >>> w = pd.DataFrame({"start_s": [0.0, 60.0], "end_s": [60.0, 120.0],
    ...                   "resp_valid": [True, True], "resp_source": ["belt", "ecg"]})
    >>> shade_rsp_invalid(ax, w, "belt")
    '; hatched: belt invalid (1/2 windows)'
    """
    if not len(windows):
        return ""
    if source == "belt" and "resp_source" in windows:
        valid, what = (windows["resp_source"] == "belt").to_numpy(), "belt"
    elif "resp_valid" in windows:
        valid, what = windows["resp_valid"].astype(bool).to_numpy(), "breathing"
    else:
        return ""
    shade_invalid(ax, invalid_spans(windows, valid), "resp_invalid")
    n_bad = int((~valid).sum())
    return f"; hatched: {what} invalid ({n_bad}/{len(valid)} windows)" if n_bad else ""


#: The breathing row for :func:`physio.qc.plot_recording_qc` (height ratio, draw function).
RSP_PANEL = (1.0, draw_rsp_panel)
