"""The respiration panel of the QC figure: the belt trace, or the ECG-derived estimate."""

from __future__ import annotations

from typing import Any

import numpy as np


def draw_rsp_panel(ax: Any, result: Any) -> None:
    """Draw the breathing row of the QC figure into ``ax``.

    Shows the belt's cleaned trace (or, without one, the ECG-derived trace), decimated to
    the screen with :func:`physio.qc.minmax_decimate`, with breath onsets, and the
    per-window breathing rate on a second axis with the HF band (9-24 breaths/min) shaded.

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
    from physio.qc import _columns, minmax_decimate

    series = getattr(result, "rsp_belt", None) or getattr(result, "rsp_ecg", None)
    ax.set_ylabel("breathing", fontsize=8)
    if series is None:
        ax.set_title("breathing: no belt and no ECG-derived estimate", fontsize=8, loc="left")
        ax.text(0.5, 0.5, "no breathing signal", ha="center", transform=ax.transAxes)
        return
    ax.plot(*minmax_decimate(series.trace_t, series.trace_y, _columns(ax)), lw=0.6,
            color="0.35")
    on = series.onset_s
    if len(on):
        ax.plot(on, np.interp(on, series.trace_t, np.nan_to_num(series.trace_y)), "|",
                color="#0072B2", ms=5)
    what = ("belt " + str(series.info.get("channel", "")) if series.source == "belt"
            else f"ECG-derived ({series.info.get('edr_method', '')})")
    ax.set_title(f"breathing: {what}", fontsize=8, loc="left")
    w = getattr(result, "windows", None)
    if w is not None and len(w) and "resp_rate_bpm" in w:
        # one rate axis per panel, kept with it (a reused QC figure empties and redraws it)
        ax2 = getattr(ax, "_soothe_rate_axis", None)
        if ax2 is None:
            ax2 = ax.twinx()
            ax._soothe_rate_axis = ax2
        mid = (w["start_s"] + w["end_s"]) / 2
        rate = w["resp_rate_bpm"].astype(float)
        ax2.plot(mid, rate, "o-", ms=3, color="#D55E00")
        ax2.axhspan(9, 24, color="#009E73", alpha=0.08, lw=0)
        top = float(np.nanmax(rate)) if rate.notna().any() else 30.0
        ax2.set_ylim(0, max(30.0, top + 3))
        ax2.set_ylabel("breaths/min", fontsize=7)
        ax2.tick_params(labelsize=7)


#: The breathing row for :func:`physio.qc.plot_recording_qc` (height ratio, draw function).
RSP_PANEL = (1.0, draw_rsp_panel)
