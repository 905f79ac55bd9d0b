"""The respiration panel of the QC figure: the belt trace, or the ECG-derived estimate."""

from __future__ import annotations

from typing import Any

import numpy as np

_MAX_POINTS = 4000


def add_rsp_panel(fig: Any, result: Any) -> Any:
    """Append a breathing panel under the QC figure's panels (the figure grows to fit).

    Shows the belt's cleaned trace (or, without one, the ECG-derived trace) with breath
    onsets, and the per-window breathing rate on a second axis. Returns the new axes.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> from types import SimpleNamespace
    >>> import pandas as pd
    >>> fig = Figure(figsize=(6, 4)); _ = fig.subplots(2, 1)
    >>> res = SimpleNamespace(rsp_belt=None, rsp_ecg=None, windows=pd.DataFrame())
    >>> ax = add_rsp_panel(fig, res)
    >>> len(fig.axes), ax.get_title(loc="left")
    (3, 'breathing: no belt and no ECG-derived estimate')
    """
    old_h = fig.get_figheight()
    extra = 2.0
    fig.set_figheight(old_h + extra)
    scale = old_h / (old_h + extra)
    for ax in fig.axes:  # keep the existing panels' size, move them up
        pos = ax.get_position()
        ax.set_position([pos.x0, 1 - (1 - pos.y0) * scale, pos.width, pos.height * scale])
    shared_x = fig.axes[1].get_xlim() if len(fig.axes) > 1 else None
    ref = fig.axes[-1].get_position() if fig.axes else None
    if fig.axes:  # the time label moves to the new bottom panel
        fig.axes[-1].set_xlabel("")
    # a little narrower than the panels above: room for the rate axis on the right
    x0, width = (ref.x0, ref.width - 0.03) if ref is not None else (0.08, 0.85)
    ax = fig.add_axes([x0, 0.05 * scale + 0.02, width, (extra - 0.7) / (old_h + extra)])
    series = getattr(result, "rsp_belt", None) or getattr(result, "rsp_ecg", None)
    if series is None:
        ax.set_title("breathing: no belt and no ECG-derived estimate", fontsize=9, loc="left")
        ax.text(0.5, 0.5, "no breathing signal", ha="center", transform=ax.transAxes)
        return ax
    step = max(1, -(-len(series.trace_t) // _MAX_POINTS))  # ceil: at most _MAX_POINTS
    ax.plot(series.trace_t[::step], series.trace_y[::step], lw=0.6, color="0.35")
    on = series.onset_s
    if len(on):
        ax.plot(on, np.interp(on, series.trace_t, np.nan_to_num(series.trace_y)), "|",
                color="#0072B2", ms=6)
    what = ("belt " + str(series.info.get("channel", "")) if series.source == "belt"
            else f"ECG-derived ({series.info.get('edr_method', '')})")
    ax.set_title(f"breathing: {what}", fontsize=9, loc="left")
    ax.set_ylabel("trace", fontsize=8)
    w = getattr(result, "windows", None)
    if w is not None and len(w) and "resp_rate_bpm" in w:
        ax2 = ax.twinx()
        mid = (w["start_s"] + w["end_s"]) / 2
        ax2.plot(mid, w["resp_rate_bpm"].astype(float), "o-", ms=3, color="#D55E00")
        ax2.axhspan(9, 24, color="#009E73", alpha=0.08, lw=0)
        top = np.nanmax(w["resp_rate_bpm"].astype(float)) if w["resp_rate_bpm"].notna().any() \
            else 30.0
        ax2.set_ylim(0, max(30.0, top + 3))
        ax2.set_ylabel("breaths/min (HF band shaded)", fontsize=7)
        ax2.tick_params(labelsize=7)
    if shared_x is not None:
        ax.set_xlim(shared_x)
    ax.tick_params(labelsize=7)
    ax.set_xlabel("session time (s)", fontsize=8)
    return ax
