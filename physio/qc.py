"""Quality-control figure per recording (the batch's HTML index is :mod:`physio.qc_index`).

The figure is drawn on the Agg canvas (no GUI backend, no pyplot) with a fixed layout (no
``tight_layout`` text measuring: titles and axis labels sit at fixed places), and every long
trace is decimated to the screen (:func:`physio.qc_screen.minmax_decimate`). A batch worker
draws recording after recording into one reused figure (``reuse=True``): the figure, its
axes and its tick objects are built once per process, and each recording only replaces
what it draws.

The figure shows quality per channel (windows a channel does not hold valid hatched on its
row, EDA artefacts marked; :mod:`physio.qc_valid`).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image

from conditions.bids import atomic_write_bytes
from physio.qc_rsp import RSP_PANEL
from physio.qc_screen import (
    FIG_DPI,
    FIG_WIDTH_IN,
    axes_columns,
    minmax_decimate,
    shade_bands,
    shade_invalid,
)
from physio.qc_valid import invalid_spans

__all__ = ["FIG_DPI", "FIG_WIDTH_IN", "PHASE_COLOURS", "ExtraPanel", "eda_artifact_spans",
           "figure_png", "invalid_key", "minmax_decimate", "plot_recording_qc", "save_figure",
           "shade_ecg_invalid", "shade_eda_quality", "shade_phases"]

#: Name the phases on every time-course panel, not only the top one (slower to draw).
SHADE_NAMES_EVERY_PANEL = False
#: Colours of the phases, in order (Okabe-Ito, colour-blind safe).
PHASE_COLOURS = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")
#: Height of one panel row (inches) and of the title and axis-label margins.
ROW_HEIGHT_IN = 1.8
_TOP_IN, _BOTTOM_IN = 0.75, 0.5
#: The right margin leaves room for the breathing panel's rate axis (ticks and label).
_LEFT, _RIGHT = 0.075, 0.93
#: The five standard rows: ECG excerpt, RR tachogram, HR, RMSSD, EDA.
_ROW_RATIOS = (1.0, 1.2, 1.0, 1.0, 1.3)
#: Fixed places of the titles (top of the axes) and y-axis labels (axes fraction left of
#: the axes): placing them from the tick labels' extents would lay out every tick label
#: once more per figure.
_TITLE_Y = 1.0
_YLABEL_X = -0.052
#: The x label's top edge below the axes (pixels): under the tick marks and tick labels.
_XLABEL_BELOW_PX = 21.0
#: zlib level of the PNG: level 1 writes a QC figure several times faster than the
#: default, for a slightly larger file.
PNG_COMPRESS_LEVEL = 1

#: An extra time-course panel: (height ratio, draw(ax, result)). It is drawn in a row of its
#: own just above the EDA row, with the phases shaded like the other time-course panels
#: (e.g. the breathing row, :data:`physio.qc_rsp.RSP_PANEL`).
ExtraPanel = tuple[float, Callable[[Any, Any], None]]


def _new_figure(ratios: Sequence[float], show: bool) -> Figure:
    height = _TOP_IN + _BOTTOM_IN + ROW_HEIGHT_IN * sum(ratios)
    if show:
        # lazy: pyplot picks an interactive backend; only a figure shown on screen needs it
        import matplotlib.pyplot as plt

        return plt.figure(figsize=(FIG_WIDTH_IN, height), dpi=FIG_DPI)
    fig = Figure(figsize=(FIG_WIDTH_IN, height), dpi=FIG_DPI)
    FigureCanvasAgg(fig)
    return fig


_REUSED: dict[tuple[float, ...], tuple[Figure, list[Any]]] = {}


def _figure_and_axes(ratios: Sequence[float], show: bool, reuse: bool
                     ) -> tuple[Figure, list[Any]]:
    """A figure with one axes per row; with ``reuse``, this process's cached one, emptied.

    Emptying removes what was drawn (lines, spans, texts, legends, titles, labels) but keeps
    the axes and their tick objects: building the axes and their ticks is most of what
    drawing a new figure costs.
    """
    key = tuple(ratios)
    if reuse and not show and key in _REUSED:
        fig, axes = _REUSED[key]
        for ax in fig.axes:  # the rows and any twin axes a panel added
            _empty_axes(ax)
        return fig, list(axes)
    fig = _new_figure(ratios, show)
    height = fig.get_figheight()
    # titles at a fixed height: matplotlib's automatic placement measures every tick label
    with matplotlib.rc_context({"axes.titley": _TITLE_Y}):
        axes = fig.subplots(len(ratios), 1, gridspec_kw={
            "height_ratios": ratios, "hspace": 0.38, "left": _LEFT, "right": _RIGHT,
            "top": 1 - _TOP_IN / height, "bottom": _BOTTOM_IN / height})
    axes = list(np.atleast_1d(axes))
    _set_tick_style(axes)
    if reuse and not show:
        _REUSED[key] = (fig, axes)
    return fig, axes


def _set_tick_style(axes: list[Any]) -> None:
    """Small tick labels, few y ticks, x numbers only under the last row, axis labels at
    fixed places."""
    for ax in axes:
        ax.tick_params(labelsize=7)
        # few y ticks: each tick label is text to lay out and render
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.yaxis.set_label_coords(_YLABEL_X, 0.5)
        height_px = ax.get_position().height * ax.get_figure().get_figheight() * FIG_DPI
        ax.xaxis.set_label_coords(0.5, -_XLABEL_BELOW_PX / height_px)
    for ax in axes[1:-1]:
        # the time-course panels share one x range: its numbers are printed once, under EDA
        ax.tick_params(labelbottom=False)


def _empty_axes(ax: Any) -> None:
    for artist in [*ax.lines, *ax.patches, *ax.texts, *ax.collections, *ax.images]:
        artist.remove()
    legend = ax.get_legend()
    if legend is not None:
        legend.remove()
    for loc in ("left", "center", "right"):
        ax.set_title("", loc=loc)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_label("")
    ax.relim()
    ax.set_autoscale_on(True)
    ax.autoscale_view()


def plot_recording_qc(
    result: Any,
    *,
    show: bool = False,
    reuse: bool = False,
    extra_panels: Sequence[ExtraPanel] | None = None,
) -> Figure:
    """One figure: ECG excerpt with R-peaks, the whole-recording RR tachogram with every
    corrected beat marked, HR and RMSSD per window, breathing, EDA with tonic and SCRs.

    Quality is shown on each channel's row, keyed in the row's title: windows a channel
    does not hold valid are hatched (ECG on the tachogram, gid ``"ecg_invalid"``; belt or
    ECG-derived breathing on the breathing row, ``"resp_invalid"``; EDA, ``"eda_invalid"``)
    and EDA artefacts are red bands (``"eda_artifacts"``; :func:`shade_ecg_invalid`,
    :func:`shade_eda_quality`, :func:`physio.qc_rsp.shade_rsp_invalid`).

    Phases are shaded and named on the time-course panels. Traces are decimated to the
    screen with :func:`minmax_decimate` (min and max per pixel column); corrected beats
    and SCR peaks are never decimated (they are what the reader of the figure looks
    for). The tachogram axes has the label ``"tachogram"`` and its corrected-beat markers
    the gid ``"corrected_beats"``.

    Parameters
    ----------
    result : physio.pipeline.RecordingResult
    show : bool
        Draw with pyplot (an interactive window) instead of a bare Agg canvas.
    reuse : bool
        Draw into this process's one cached figure (cleared first) instead of a new one: a
        batch worker draws recording after recording without building a figure each time.
        The figure returned is then only valid until the next call.
    extra_panels : sequence of (height ratio, draw(ax, result)), optional
        More time-course rows, drawn above the EDA row. Default: the breathing row
        (:data:`physio.qc_rsp.RSP_PANEL`: the belt trace or the ECG-derived estimate,
        with the breathing rate per window).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> t = np.arange(0, 60, 0.001)
    >>> minmax_decimate(t, np.sin(t), 100)[0].size <= 200
    True
    """
    if extra_panels is None:
        extra_panels = (RSP_PANEL,)
    ratios = [*_ROW_RATIOS[:4], *(float(r) for r, _ in extra_panels), _ROW_RATIOS[4]]
    fig, axes = _figure_and_axes(ratios, show, reuse)
    fig.suptitle(qc_title(result), fontsize=10)
    phases = list(result.plan.phases)
    span = ((min(p.start_s for p in phases), max(p.end_s for p in phases)) if phases
            else None)
    _plot_ecg_excerpt(axes[0], result.ecg_excerpt)
    _plot_tachogram(axes[1], result.beats, span)
    shade_ecg_invalid(axes[1], result.windows)
    _plot_window_values(axes[2], axes[3], result.windows)
    for k, (_, draw) in enumerate(extra_panels):
        draw(axes[4 + k], result)
    _plot_eda(axes[-1], result.eda, span)
    shade_eda_quality(axes[-1], result)
    axes[-1].set_xlabel("session time (s)", fontsize=8)
    for row, ax in enumerate(axes[1:]):
        shade_phases(ax, phases)
        if row == 0 or SHADE_NAMES_EVERY_PANEL:
            # named once, on the top time-course panel; the panels below share its x
            # axis and its colours (text is most of what a figure costs to draw)
            _name_phases(ax, phases)
        if span is not None:
            ax.set_xlim(*span)
    return fig


def qc_title(result: Any) -> str:
    """The figure's two-line title: the recording, then its quality figures.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> r = SimpleNamespace(participant="001", session="1",
    ...                     plan=SimpleNamespace(condition="neutral"),
    ...                     quality=lambda: {"ecg_valid_pct": 96.0, "eda_valid_pct": 100.0,
    ...                                      "corrected_pct": 0.4, "n_scr": 12,
    ...                                      "non_responder": False})
    >>> print(qc_title(r))
    sub-001 ses-1 condition: neutral
    valid windows ECG 96%  EDA 100%  corrected beats 0.4%  SCRs 12
    """
    q = result.quality()
    corrected = q["corrected_pct"] if q["corrected_pct"] is not None else "n/a"
    return (f"sub-{result.participant} ses-{result.session} condition: "
            f"{result.plan.condition}\nvalid windows ECG {q['ecg_valid_pct']:.0f}%  EDA "
            f"{q['eda_valid_pct']:.0f}%  corrected beats {corrected}%  SCRs {q['n_scr']}"
            f"{'  NON-RESPONDER' if q['non_responder'] else ''}")


def invalid_key(n_bad: int, n: int, channel: str) -> str:
    """The row title's key of its hatching ("" when every window is valid).

    Examples
    --------
    >>> invalid_key(2, 84, "ECG")
    '   hatched: ECG invalid (2/84 windows)'
    """
    return f"   hatched: {channel} invalid ({n_bad}/{n} windows)" if n_bad else ""


def shade_ecg_invalid(ax: Any, windows: Any) -> None:
    """Hatch the windows whose ECG is not valid on the tachogram row (gid
    ``"ecg_invalid"``) and name the hatching in the row's right-hand title."""
    if not len(windows) or "ecg_valid" not in windows:
        return
    valid = windows["ecg_valid"].astype(bool).to_numpy()
    shade_invalid(ax, invalid_spans(windows, valid), "ecg_invalid")
    key = invalid_key(int((~valid).sum()), len(valid), "ECG")
    if key:  # first: the corrected-beat count stays at the end of the title
        ax.set_title(f"{key.strip()}   {ax.get_title(loc='right')}", fontsize=7, loc="right")


def eda_artifact_spans(result: Any) -> list[tuple[float, float]]:
    """(start_s, end_s) of the EDA artefacts the recording's sidecar lists
    (``info["eda_artifacts"]["artifacts_s"]``), on the session clock."""
    block = (getattr(result, "info", None) or {}).get("eda_artifacts") or {}
    return [(float(a), float(b)) for a, b, *_ in block.get("artifacts_s") or []]


def shade_eda_quality(ax: Any, result: Any) -> None:
    """On the EDA row: hatch the windows whose EDA is not valid (gid ``"eda_invalid"``),
    mark every EDA artefact as a red band (gid ``"eda_artifacts"``), and name them and the
    engine's grey bad segments (flat signal) in the row's right-hand title."""
    w = result.windows
    if result.eda is None or not len(w) or "eda_valid" not in w:
        return
    valid = w["eda_valid"].astype(bool).to_numpy()
    shade_invalid(ax, invalid_spans(w, valid), "eda_invalid")
    artifacts = eda_artifact_spans(result)
    shade_bands(ax, artifacts, "eda_artifacts")
    key = invalid_key(int((~valid).sum()), len(valid), "EDA")
    if artifacts:
        key += f"   red band: artefact ({len(artifacts)})"
    if result.eda.bad_segments_s:
        key += f"   grey band: flat or bad ({len(result.eda.bad_segments_s)})"
    if key:
        ax.set_title(key.strip(), fontsize=7, loc="right")


def _plot_window_values(ax_hr: Any, ax_rmssd: Any, w: Any) -> None:
    """HR and RMSSD per window (at the window's middle); invalid windows as red ticks."""
    mid = (w["start_s"] + w["end_s"]).to_numpy(float) / 2 if len(w) else np.zeros(0)
    invalid = ~w["ecg_valid"].astype(bool).to_numpy() if len(w) else np.zeros(0, bool)
    for ax, col, label, colour in ((ax_hr, "hr_bpm", "HR (bpm)", "#0072B2"),
                                   (ax_rmssd, "rmssd_ms", "RMSSD (ms)", "#009E73")):
        y = w[col].astype(float).to_numpy() if len(w) else np.zeros(0)
        ax.plot(mid, y, "o-", ms=3, color=colour)
        if invalid.any():
            ax.plot(mid[invalid], np.full(invalid.sum(), np.nanmin(y) if np.isfinite(y).any()
                                          else 0), "|", color="#D55E00", ms=10)
        ax.set_ylabel(label, fontsize=8)


def _name_phases(ax: Any, phases: Sequence[Any]) -> None:
    trans = ax.get_xaxis_transform()
    for p in phases:
        ax.text(p.start_s, 1.0, p.name, transform=trans, fontsize=6, va="top")


def shade_phases(ax: Any, phases: Sequence[Any]) -> None:
    """Shade each phase over the full height of ``ax``: one collection (gid "phase_spans").

    The same pixels as one ``axvspan`` per phase (``tests/test_qc_spans.py``), drawn as a
    single artist: one collection costs a fraction of a separate patch per phase and panel.
    """
    if not phases:
        return
    verts = [[(p.start_s, 0.0), (p.start_s, 1.0), (p.end_s, 1.0), (p.end_s, 0.0)]
             for p in phases]
    colours = [PHASE_COLOURS[k % len(PHASE_COLOURS)] for k in range(len(phases))]
    ax.add_collection(PolyCollection(verts, transform=ax.get_xaxis_transform(),
                                     facecolors=colours, alpha=0.12, linewidths=0,
                                     edgecolors="none", gid="phase_spans"), autolim=False)


def _plot_ecg_excerpt(ax: Any, ex: dict[str, Any] | None) -> None:
    if ex is None or not len(ex["t"]):
        ax.text(0.5, 0.5, "no ECG", ha="center", transform=ax.transAxes)
        return
    t, y = np.asarray(ex["t"], float), np.asarray(ex["y"], float)
    tt, yy = minmax_decimate(t, y, axes_columns(ax))
    ax.plot(tt, yy, lw=0.7, color="0.2")
    if len(ex["peaks_s"]):
        yp = np.interp(ex["peaks_s"], t, y)
        ok = ~ex["corrected"]
        ax.plot(ex["peaks_s"][ok], yp[ok], "v", color="#0072B2", ms=5, label="R-peak")
        ax.plot(ex["peaks_s"][~ok], yp[~ok], "x", color="#D55E00", ms=7, label="corrected")
    ax.set_xlim(t[0], t[-1])
    ax.set_title("ECG excerpt", fontsize=9, loc="left")
    # the key as a right-hand title, not a legend: a legend's layout costs more than the
    # rest of the row's text together
    ax.set_title("blue \u25bc R-peak   red \u00d7 corrected", fontsize=7, loc="right")


def _plot_tachogram(ax: Any, beats: Any, span: tuple[float, float] | None) -> None:
    """RR interval at every beat over the whole recording; corrected beats as red crosses."""
    ax.set_label("tachogram")
    ax.set_ylabel("RR (ms)", fontsize=8)
    if beats is None or not len(beats):
        ax.text(0.5, 0.5, "no beats", ha="center", transform=ax.transAxes)
        return
    t = beats["r_peak_s"].to_numpy(dtype=float)
    rr = beats["rr_ms"].to_numpy(dtype=float)
    corrected = beats["corrected"].to_numpy(dtype=bool)
    tt, yy = minmax_decimate(t, rr, axes_columns(ax), span)
    ax.plot(tt, yy, lw=0.5, color="0.3", label="RR")
    n_corrected = int(corrected.sum())
    ax.plot(t[corrected], rr[corrected], "x", color="#D55E00", ms=5, gid="corrected_beats",
            label=f"corrected ({n_corrected})")
    key = f"grey RR   red \u00d7 corrected ({n_corrected})" + _plot_hand_beats(ax, beats)
    ok = np.isfinite(rr)
    if ok.any():
        # robust limits: a single wild interval must not flatten the whole trace
        lo, hi = np.percentile(rr[ok], [0.5, 99.5])
        pad = 0.15 * max(hi - lo, 50.0)
        ax.set_ylim(lo - pad, hi + pad)
    ax.set_title("RR tachogram (whole recording)", fontsize=9, loc="left")
    ax.set_title(key, fontsize=7, loc="right")


def _plot_hand_beats(ax: Any, beats: Any) -> str:
    """Beats added or moved by hand as green pluses (gid ``hand_beats``); returns the key's
    text ('' when no beat was edited by hand, so an unedited figure is as before)."""
    if "beat_class" not in beats or "reason" not in beats:
        return ""
    hand = (beats["beat_class"] == "manual").to_numpy(dtype=bool)
    deleted = int(beats["reason"].astype(str).str.startswith("deleted by hand").sum())
    if not hand.any() and not deleted:
        return ""
    ax.plot(beats["r_peak_s"].to_numpy(dtype=float)[hand],
            beats["rr_ms"].to_numpy(dtype=float)[hand], "+", color="#009E73", ms=8,
            gid="hand_beats", label=f"by hand ({int(hand.sum())})")
    return f"   green + by hand ({int(hand.sum())}), {deleted} deleted by hand"


def _plot_eda(ax: Any, eda: Any, span: tuple[float, float] | None) -> None:
    ax.set_ylabel("EDA (uS)", fontsize=8)
    if eda is None or not len(eda.clean):
        ax.text(0.5, 0.5, "no EDA", ha="center", transform=ax.transAxes)
        return
    t = eda.times_s
    n = axes_columns(ax)
    ax.plot(*minmax_decimate(t, eda.clean, n, span), lw=0.6, color="0.4", label="EDA")
    ax.plot(*minmax_decimate(t, eda.tonic, n, span), lw=1.2, color="#CC79A7", label="tonic")
    if len(eda.scr_peak_s):
        ax.plot(eda.scr_peak_s, np.interp(eda.scr_peak_s, t, np.nan_to_num(eda.clean)),
                "^", ms=3, color="#E69F00", label=f"SCR ({len(eda.scr_peak_s)})")
    # the engine's own bad segments (a flat signal): grey, the artefacts are red
    shade_bands(ax, [(a, b) for a, b, _ in eda.bad_segments_s], "eda_bad_segments", "0.5")
    ax.legend(loc="upper right", fontsize=7)


def figure_png(fig: Figure) -> bytes:
    """The figure as PNG bytes: drawn on its Agg canvas, encoded by Pillow.

    An opaque figure (every alpha 255, as a figure on a white background is) is written as
    RGB: the same picture, a quarter fewer bytes to compress. The resolution is recorded as
    ``savefig`` records it.

    Examples
    --------
    >>> figure_png(Figure(figsize=(1, 1)))[:4]
    b'\\x89PNG'
    """
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    image = Image.fromarray(np.asarray(canvas.buffer_rgba()))
    if image.getextrema()[3][0] == 255:
        image = image.convert("RGB")
    buf = io.BytesIO()
    image.save(buf, format="png", compress_level=PNG_COMPRESS_LEVEL, dpi=(fig.dpi, fig.dpi))
    return buf.getvalue()


def save_figure(fig: Figure, path: Path) -> None:
    """Save a figure as PNG atomically (:func:`figure_png`)."""
    atomic_write_bytes(Path(path), figure_png(fig))
