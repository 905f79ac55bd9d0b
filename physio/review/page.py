"""The review page's Bokeh models: the list of recordings, and one recording to edit.

Why a Bokeh page served on 127.0.0.1 (like the live signal check): it opens in any
browser, BokehJS comes from the installed package (no internet), the plots pan and zoom on
the analyst's machine, and headless Chromium can drive the very same page in tests. The
page only shows and records: every number comes from the pipeline, which reads the edit
file when the recording is re-processed.

One recording, from the top, all on one time axis (the x ranges are shared): the ECG with
its beats coloured by class, the RR tachogram, the EDA with its SCRs and artefacts, the belt
with its breaths, and the windows shaded by validity. Long traces are sent min/max
decimated for the visible stretch (:mod:`physio.review.decimate`) and sent again, at full
resolution when zoomed in far enough, after the analyst pans or zooms.
"""

from __future__ import annotations

import html
import math
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import numpy as np
from bokeh.events import DoubleTap, Tap
from bokeh.layouts import column, gridplot, row
from bokeh.models import (
    BoxZoomTool,
    Button,
    CDSView,
    Column,
    ColumnDataSource,
    Div,
    FactorRange,
    GroupFilter,
    HoverTool,
    RadioButtonGroup,
    Range1d,
    Select,
    Span,
    TextInput,
)
from bokeh.plotting import figure
from bokeh.transform import factor_cmap

from physio.edits import (
    EDIT_CHANNELS,
    REFRACTORY_S,
    SCR_MATCH_S,
    Edit,
    EditConflictError,
    EditFileError,
    review_status,
    snap_to_r_peak,
)
from physio.review.catalog import RecordingEntry
from physio.review.data import (
    BEAT_CLASSES,
    RecordingSignals,
    RecordingTables,
    as_bool,
    beat_display_class,
    implausible_rr,
    tachogram_rr,
)
from physio.review.decimate import Trace, minmax_decimate
from physio.review.session import ReviewSession

#: edit modes, in the order of the buttons (index = RadioButtonGroup.active)
MODES = ("pan/zoom", "add beat", "delete beat", "move beat", "mark unusable", "mark usable",
         "delete SCR", "restore SCR")
BEAT_COLOURS = dict(zip(BEAT_CLASSES, ("#2e7d32", "#f57c00", "#8e24aa", "#d32f2f", "#0097a7",
                                        "#9e9e9e"), strict=True))
VALID_COLOUR, INVALID_COLOUR, PARTIAL_COLOUR = "#a5d6a7", "#ef9a9a", "#e0e0e0"
#: buckets over the visible stretch (two points each); the data sent also covers a quarter
#: of a view on each side, so a small pan shows data before the server answers
VIEW_BUCKETS = 1500
MARGIN_VIEWS = 0.25
#: the server redraws this long after the first range change of a burst (a drag or wheel
#: sends one per frame): one redraw per burst, not one per frame
REFRESH_DELAY_MS = 25
#: a click names a beat or SCR within this share of the visible stretch (at least 0.1 s)
CLICK_TOLERANCE = 0.01
WINDOW_ROWS = (("ECG", "ecg_valid"), ("EDA", "eda_valid"), ("belt", "resp_valid"))
#: tools of every plot (the x range is shared, so any plot's tool moves all); the ECG plot
#: also has a box zoom. Few tools, few models: the first view is drawn sooner.
FIGURE_TOOLS = "xpan,xwheel_zoom,reset"


def now_utc() -> str:
    """The current UTC time as an edit's ``created`` (ISO 8601, seconds)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def pct(v: Any) -> str:
    """A valid share for the list ('n/a' when the channel was not recorded).

    Examples
    --------
    >>> pct(95.04), pct(None)
    ('95 %', 'n/a')
    """
    if v is None or not np.isfinite(float(v)):
        return "n/a"
    return f"{float(v):.0f} %"


STATUS_COLOURS = {"not reviewed": "#c62828", "reviewed": "#2e7d32", "edited": "#1565c0"}


def catalog_html(entries: list[RecordingEntry], deriv: str) -> str:
    """The list of recordings as an HTML table, worst first, each row a link to open it."""
    head = ("<tr><th>#</th><th>recording</th><th>ECG valid</th><th>EDA valid</th>"
            "<th>belt valid</th><th>mean quality</th><th>status</th><th>edits</th></tr>")
    rows = []
    for k, e in enumerate(entries, start=1):
        q = "n/a" if not np.isfinite(e.mean_quality) else f"{e.mean_quality:.2f}"
        colour = STATUS_COLOURS.get(e.status, "#444")
        rows.append(
            f'<tr class="rec" data-prefix="{html.escape(e.prefix)}"><td>{k}</td>'
            f'<td><a href="?rec={html.escape(e.prefix)}">{html.escape(e.prefix)}</a></td>'
            f"<td>{pct(e.ecg_valid_pct)}</td><td>{pct(e.eda_valid_pct)}</td>"
            f"<td>{pct(e.resp_valid_pct)}</td><td>{q}</td>"
            f'<td style="color:{colour};font-weight:bold">{html.escape(e.status)}</td>'
            f"<td>{e.n_edits}</td></tr>")
    empty = ("" if entries else '<p style="color:#c62828">No processed recording here: run '
             "<code>soothe physio process</code> first.</p>")
    return (f'<div style="font-family:sans-serif"><h2 style="margin:4px 0">Review: '
            f"{len(entries)} recording(s) in {html.escape(deriv)}</h2>"
            '<p style="margin:2px 0 8px 0;color:#444">Worst first: the lowest share of valid '
            "windows of any channel, then ECG, EDA and belt, then mean quality. Click a "
            "recording to open it.</p>"
            '<table id="recordings" style="border-collapse:collapse;font-size:14px" '
            'cellpadding="5" border="1">'
            f"{head}{''.join(rows)}</table>{empty}</div>")


#: The page's HTML: Bokeh's own (``file.html``), with the BokehJS bundles this page does not
#: use (tables, WebGL, MathJax: 2.3 MB of the 4 MB the server offers) left out, so the first
#: view does not wait for the browser to parse them. A ``doc.template`` is Bokeh's public
#: way to shape a server page.
PAGE_TEMPLATE = """{% block js_resources %}
{%- for tag in bokeh_js.split('</script>') -%}
{%- if tag.strip() and 'bokeh-mathjax' not in tag and 'bokeh-tables' not in tag
      and 'bokeh-gl' not in tag -%}
{{ tag }}</script>
{% endif -%}
{%- endfor -%}
{% endblock %}"""


def catalog_layout(entries: list[RecordingEntry], deriv: str) -> Column:
    """The first view: the list of recordings."""
    return column(Div(text=catalog_html(entries, deriv), name="catalog"),
                  sizing_mode="stretch_width")


def message_html(text: str, kind: str = "info") -> str:
    """A message line: info (grey), ok (green) or error (red, bold)."""
    colour = {"info": "#37474f", "ok": "#2e7d32", "error": "#b71c1c"}[kind]
    weight = "bold" if kind == "error" else "normal"
    return (f'<div class="msg-{kind}" style="font-family:sans-serif;font-size:14px;'
            f'color:{colour};font-weight:{weight}">{html.escape(text)}</div>')


def banner_html(n_unsaved: int) -> str:
    """The unsaved-edits banner: orange with the count until Save, grey when all is saved.

    It is always there, one line high, so the plots never move under the analyst's mouse
    when it changes.

    Examples
    --------
    >>> "3 unsaved edits" in banner_html(3), "unsaved" in banner_html(0)
    (True, False)
    """
    style = ("font-family:sans-serif;font-size:16px;padding:6px 12px;border-radius:6px;"
             "white-space:nowrap")
    if not n_unsaved:
        return (f'<div id="saved" style="{style};background:#eceff1;color:#546e7a">'
                "All edits are saved.</div>")
    word = "edit" if n_unsaved == 1 else "edits"
    return (f'<div id="unsaved" style="{style};background:#e65100;color:white;'
            f'font-weight:bold">{n_unsaved} unsaved {word} &mdash; NOT SAVED: press Save to '
            "write them and re-process the recording</div>")


def draft_html(n: int) -> str:
    """The offer to restore unsaved edits an earlier page left (empty when none)."""
    if not n:
        return ""
    word = "edit" if n == 1 else "edits"
    return ('<div id="draft" style="background:#fff3e0;border:2px solid #e65100;'
            'font-family:sans-serif;font-size:15px;padding:6px 12px;border-radius:6px">'
            f"<b>{n} unsaved {word} from an earlier session</b> (the page or the server "
            "stopped before Save). Restore them to go on, or discard them.</div>")


def nearest(times: np.ndarray, t: float, tolerance: float) -> int | None:
    """Index of the time nearest ``t`` within ``tolerance`` (None when there is none).

    Examples
    --------
    >>> nearest(np.array([1.0, 2.0, 3.0]), 2.08, 0.1), nearest(np.array([1.0]), 2.0, 0.1)
    (1, None)
    """
    times = np.asarray(times, dtype=float)
    if not len(times):
        return None
    k = int(np.nanargmin(np.abs(times - t)))
    return k if abs(times[k] - t) <= tolerance else None


def value_at(trace: Trace | None, t: np.ndarray) -> np.ndarray:
    """The trace's value at each time (nearest sample; NaN outside it or without it)."""
    t = np.asarray(t, dtype=float)
    if trace is None or not len(t):
        return np.full(len(t), np.nan)
    idx = np.round((t - trace.start_s) * trace.sampling_rate).astype(np.int64)
    ok = (idx >= 0) & (idx < len(trace.y))
    out = np.full(len(t), np.nan)
    out[ok] = trace.y[idx[ok]]
    return out


def edit_table_html(edits: list[Edit], title: str) -> str:
    """Edits as a small table (the newest last)."""
    if not edits:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(e.action)}</td><td>{html.escape(e.channel)}</td>"
        f"<td>{'' if math.isnan(e.time_s) else f'{e.time_s:.3f}'}</td>"
        f"<td>{'' if math.isnan(e.end_s) else f'{e.end_s:.3f}'}</td>"
        f"<td>{'' if math.isnan(e.new_time_s) else f'{e.new_time_s:.3f}'}</td>"
        f"<td>{html.escape(e.author)}</td><td>{html.escape(e.note)}</td></tr>"
        for e in edits[-12:])
    return (f'<div style="font-family:sans-serif;font-size:12px"><b>{html.escape(title)}</b>'
            '<table cellpadding="2" style="border-collapse:collapse"><tr><th>action</th>'
            "<th>channel</th><th>time_s</th><th>end_s</th><th>new_time_s</th><th>author</th>"
            f"<th>note</th></tr>{rows}</table></div>")


class RecordingView:
    """One recording on the page: plots, edit controls and the analyst's session.

    Parameters
    ----------
    doc : bokeh.document.Document or None
        The browser tab's document (callbacks are scheduled on it); None for a view built
        ahead of its tab, given its document by :meth:`attach`.
    tables, signals :
        From :mod:`physio.review.data`.
    session : ReviewSession
        The analyst's edits of this recording.
    reload : callable
        ``reload(windows_json) -> RecordingTables``: the tables again after a save.
    reprocess : callable
        ``reprocess(windows_json) -> dict``: re-process the recording with its edits.
    """

    def __init__(self, doc: Any, tables: RecordingTables, signals: RecordingSignals,
                 session: ReviewSession, *, reload: Callable[[Any], RecordingTables],
                 reprocess: Callable[[Any], dict]) -> None:
        self.doc, self.tables, self.signals, self.session = doc, tables, signals, session
        self.reload, self.reprocess = reload, reprocess
        self.first_click: float | None = None  # a move's beat, a stretch's start
        self.refresh_pending = False
        self.covered = (math.nan, math.nan, math.nan)
        self.saving = False
        self.first_marks: list = []
        #: plots whose y range follows the data in view (set with the traces)
        self.y_ranged = ("ecg_fig", "rr_fig", "eda_fig", "belt_fig")
        duration = max(signals.duration_s, float(tables.windows["end_s"].max())
                       if "end_s" in tables.windows and len(tables.windows) else 0.0, 1.0)
        self.x_range = Range1d(0.0, duration, bounds=(0.0, duration), min_interval=0.5,
                               name="x_range")
        self.build_sources()
        self.figures = self.build_figures()
        self.controls = self.build_controls()
        # one toolbar for all the plots (their x range is shared): fewer views to draw
        plots = gridplot([[f] for f in self.figures], merge_tools=True,
                         toolbar_location="right", sizing_mode="stretch_width")
        self.layout = column(*self.controls, plots, self.saved_div,
                             sizing_mode="stretch_width", name="recording")
        for fig in self.figures:
            fig.on_event(Tap, self.on_tap)
            # a second click soon after the first comes as a double tap: it is a click too
            fig.on_event(DoubleTap, self.on_tap)
        self.x_range.on_change("start", self.on_range)
        self.x_range.on_change("end", self.on_range)
        self.show_tables()
        self.refresh_traces()
        self.update_edits_view()

    def attach(self, doc: Any) -> None:
        """Show this view in ``doc`` (a browser tab's document)."""
        self.doc = doc
        doc.add_root(self.layout)
        doc.title = f"soothe review: {self.tables.files.prefix}"

    # ================================================================== sources
    def build_sources(self) -> None:
        """Every data source of the page (empty until :meth:`show_tables` fills them)."""
        def src(name: str, columns: str) -> ColumnDataSource:
            return ColumnDataSource({k: [] for k in columns.split()}, name=name)

        self.ecg_src = src("ecg_trace", "t y")
        self.eda_src = src("eda_trace", "t y")
        self.belt_src = src("belt_trace", "t y")
        self.beats_src = src("beats", "t y rr cls reason")
        self.rr_src = src("rr", "t rr cls")
        self.rr_bad_src = src("rr_implausible", "t rr")
        self.scr_src = src("scr", "t y amp")
        self.scr_gone_src = src("scr_deleted", "t y")
        self.artefact_src = src("eda_artefacts", "x0 x1 reason")
        self.breath_src = src("breaths", "t y")
        self.windows_src = src("windows", "row start end colour phase window reason rmssd valid")
        self.pend_add_src = src("pending_add", "t y")
        self.pend_del_src = src("pending_delete", "t y")
        self.pend_move_src = src("pending_move", "t0 t1 y0 y1")
        self.stretch_src = src("stretches", "x0 x1 colour row label")

    # ================================================================== figures
    def trace_figure(self, name: str, title: str, height: int, y_label: str, row: str
                     ) -> figure:
        """A plot on the shared time axis, showing the stretches marked by hand on its
        channel (``row``: ECG, EDA or belt, as in the windows plot)."""
        y_range = {"y_range": Range1d(0.0, 1.0)} if name in self.y_ranged else {}
        fig = figure(name=name, title=title, height=height, x_range=self.x_range, **y_range,
                     sizing_mode="stretch_width", tools=FIGURE_TOOLS, active_drag="xpan",
                     active_scroll="xwheel_zoom", toolbar_location="right",
                     y_axis_label=y_label, output_backend="canvas", x_axis_location=None)
        fig.min_border_left = 60
        self.add_first_click_marker(fig)
        fig.vstrip(x0="x0", x1="x1", source=self.stretch_src, fill_color="colour",
                   fill_alpha=0.18, line_alpha=0, hatch_pattern="/", hatch_alpha=0.3,
                   hatch_color="colour",
                   view=CDSView(filter=GroupFilter(column_name="row", group=row)))
        return fig

    def build_figures(self) -> list:
        ecg = self.trace_figure("ecg_fig", "ECG (band-passed) and its beats", 230, "mV", "ECG")
        ecg.add_tools(BoxZoomTool(dimensions="width"))
        ecg.line("t", "y", source=self.ecg_src, color="#1f3b73", line_width=1)
        r = ecg.scatter("t", "y", source=self.beats_src, size=7, legend_field="cls",
                        color=factor_cmap("cls", list(BEAT_COLOURS.values()),
                                          list(BEAT_COLOURS)))
        ecg.add_tools(HoverTool(renderers=[r], tooltips=[("beat", "@t{0.000} s"),
                                                         ("class", "@cls"),
                                                         ("reason", "@reason")]))
        ecg.scatter("t", "y", source=self.pend_add_src, size=13, marker="diamond",
                    color=BEAT_COLOURS["manual"], line_color="black")
        ecg.scatter("t", "y", source=self.pend_del_src, size=14, marker="x", line_width=3,
                    color="black")
        ecg.segment("t0", "y0", "t1", "y1", source=self.pend_move_src, color="#0097a7",
                    line_width=2)
        ecg.legend.orientation, ecg.legend.label_text_font_size = "horizontal", "9pt"
        ecg.legend.padding, ecg.legend.margin = 2, 0
        ecg.add_layout(ecg.legend[0], "above")  # above the plot: it hides no beat
        rr = self.trace_figure("rr_fig", "RR tachogram: time between detected beats (red "
                               "ring: implausible, outside 40-180 bpm)", 150, "RR (ms)",
                               "ECG")
        rr.line("t", "rr", source=self.rr_src, color="#9e9e9e")
        rr.scatter("t", "rr", source=self.rr_src, size=4,
                   color=factor_cmap("cls", list(BEAT_COLOURS.values()), list(BEAT_COLOURS)))
        rr.scatter("t", "rr", source=self.rr_bad_src, size=14, fill_alpha=0, line_width=2,
                   color="#d32f2f")
        eda = self.trace_figure("eda_fig", "EDA with SCRs (triangles) and artefacts (grey)",
                                170, "µS", "EDA")
        eda.vstrip(x0="x0", x1="x1", source=self.artefact_src, fill_color="#757575",
                   fill_alpha=0.3, line_alpha=0)
        eda.line("t", "y", source=self.eda_src, color="#1f3b73", line_width=1)
        eda.scatter("t", "y", source=self.scr_src, marker="triangle", size=9, color="#f57c00")
        eda.scatter("t", "y", source=self.scr_gone_src, marker="x", size=12, line_width=3,
                    color="black")
        belt = self.trace_figure("belt_fig", "Respiration belt (cleaned) and its breaths",
                                 140, "belt", "belt")
        belt.line("t", "y", source=self.belt_src, color="#1f3b73", line_width=1)
        belt.scatter("t", "y", source=self.breath_src, marker="inverted_triangle", size=7,
                     color="#6a1b9a")
        return [ecg, rr, eda, belt, self.windows_figure()]

    def windows_figure(self) -> figure:
        rows = [r for r, _ in WINDOW_ROWS][::-1]
        fig = figure(name="windows_fig", title="Windows: green valid, red invalid, grey "
                     "partial; hatched: marked by hand", height=150, x_range=self.x_range,
                     y_range=FactorRange(*rows), sizing_mode="stretch_width",
                     tools=FIGURE_TOOLS, active_drag="xpan", active_scroll="xwheel_zoom",
                     toolbar_location="right", x_axis_label="time (s, session clock)",
                     output_backend="canvas")
        fig.min_border_left = 60
        r = fig.hbar(y="row", left="start", right="end", height=0.8, fill_color="colour",
                     line_color="white", source=self.windows_src)
        fig.add_tools(HoverTool(renderers=[r], tooltips=[
            ("window", "@phase @window"), ("valid", "@valid"), ("RMSSD", "@rmssd{0.0} ms"),
            ("reason", "@reason")]))
        fig.hbar(y="row", left="x0", right="x1", height=0.5, fill_color="colour",
                 fill_alpha=0.5, hatch_pattern="/", line_color="colour", source=self.stretch_src)
        self.add_first_click_marker(fig)
        return fig

    def add_first_click_marker(self, fig: figure) -> None:
        """A dashed line where a move's beat or a stretch's start was clicked."""
        span = Span(location=0.0, dimension="height", line_color="#e65100", line_width=2,
                    line_dash="dashed", visible=False)
        fig.add_layout(span)
        self.first_marks.append(span)

    # ================================================================== controls
    def build_controls(self) -> list:
        self.header = Div(name="header", text=self.header_html())
        self.banner = Div(name="banner", text="")
        self.draft_div = Div(name="draft", text="")
        self.restore_btn = Button(label="Restore unsaved edits", button_type="warning",
                                  name="restore", visible=False, width=200)
        self.discard_btn = Button(label="Discard them", name="discard", visible=False,
                                  width=140)
        self.mode = RadioButtonGroup(labels=list(MODES), active=0, name="mode")
        self.channel = Select(title="", value="ecg", options=list(EDIT_CHANNELS),
                              name="channel", width=90)
        self.undo_btn = Button(label="Undo", name="undo", width=80)
        self.save_btn = Button(label="Save", button_type="success", name="save", width=90)
        self.note = TextInput(placeholder="optional note", name="note", width=260)
        self.reviewed_btn = Button(label="Mark reviewed", button_type="primary",
                                   name="reviewed", width=130)
        self.message = Div(name="message", height=40, styles={"overflow": "auto"},
                           text=message_html(
            "Pick a mode, then click on the plots. Drag to pan, wheel to zoom."
            + (" " + "; ".join(self.signals.notes) if self.signals.notes else "")))
        self.saved_div = Div(name="saved_edits", text="")
        self.restore_btn.on_click(self.on_restore)
        self.discard_btn.on_click(self.on_discard)
        self.undo_btn.on_click(self.on_undo)
        self.save_btn.on_click(self.on_save)
        self.reviewed_btn.on_click(self.on_reviewed)
        self.mode.on_change("active", lambda _a, _o, _n: self.clear_first_click())
        n_draft = len(self.session.draft_edits())
        if n_draft and not self.session.pending:
            self.draft_div.text = draft_html(n_draft)
            self.restore_btn.visible = self.discard_btn.visible = True
        n_open = self.session.edits_in_open_pages()
        if n_open:
            self.say(f"this recording is open in another page with {n_open} unsaved "
                     "edit(s): save there first, or edits made here may conflict")
        return [self.header, self.banner, self.draft_div,
                row(self.restore_btn, self.discard_btn),
                row(self.mode, Div(text="stretch channel:", width=110), self.channel),
                row(self.undo_btn, self.save_btn, self.note, self.reviewed_btn),
                self.message]

    def header_html(self) -> str:
        t = self.tables
        status = review_status(t.edits)
        q = t.provenance.get("quality") or {}
        colour = STATUS_COLOURS.get(status, "#444")
        return (f'<div style="font-family:sans-serif"><a href="?">&larr; all recordings</a>'
                f' &nbsp; <span style="font-size:20px;font-weight:bold">'
                f"{html.escape(t.files.prefix)}</span> &nbsp; "
                f'<span id="status" style="color:{colour};font-weight:bold">'
                f"{html.escape(status)}</span> &nbsp; ECG valid {pct(q.get('ecg_valid_pct'))},"
                f" EDA valid {pct(q.get('eda_valid_pct'))}, belt valid "
                f"{pct(q.get('resp_valid_pct'))} &nbsp; <span style='color:#666'>source: "
                f"{html.escape(str(self.signals.source))}</span></div>")

    # ================================================================== tables
    def show_tables(self) -> None:
        """Fill the beats, tachogram, SCR, artefact, breath and window sources."""
        t, s = self.tables, self.signals
        beats = t.beats
        if len(beats):
            times = beats["r_peak_s"].to_numpy(float)
            cls = beat_display_class(beats)
            rr = tachogram_rr(beats)
            reason = beats["reason"].fillna("").astype(str).tolist() if "reason" in beats \
                else [""] * len(beats)
            self.beats_src.data = {"t": times, "y": value_at(s.ecg_mv, times), "rr": rr,
                                   "cls": list(cls), "reason": reason}
            keep = cls != "removed"
            self.rr_src.data = {"t": times[keep], "rr": rr[keep], "cls": list(cls[keep])}
            bad = implausible_rr(rr) & keep
            self.rr_bad_src.data = {"t": times[bad], "rr": rr[bad]}
            self.covered = (math.nan, math.nan, math.nan)  # fit the new tachogram too
        scr = t.scr
        peaks = scr["peak_s"].to_numpy(float) if len(scr) else np.zeros(0)
        self.scr_src.data = {"t": peaks, "y": value_at(s.eda_us, peaks),
                             "amp": scr["amplitude_us"].to_numpy(float) if len(scr) else peaks}
        art = t.eda_artifacts
        self.artefact_src.data = {"x0": [a for a, _, _ in art], "x1": [b for _, b, _ in art],
                                  "reason": [r for _, _, r in art]}
        self.breath_src.data = {"t": s.breaths_s, "y": value_at(s.belt, s.breaths_s)}
        self.windows_src.data = self.windows_data()
        self.header.text = self.header_html()

    def windows_data(self) -> dict[str, list]:
        w = self.tables.windows
        out: dict[str, list] = {k: [] for k in ("row", "start", "end", "colour", "phase",
                                                "window", "reason", "rmssd", "valid")}
        if not len(w):
            return out
        partial = as_bool(w["partial"]) if "partial" in w else np.zeros(len(w), bool)
        for name, col in WINDOW_ROWS:
            if col not in w:
                continue
            valid = as_bool(w[col])
            reason_col = col.replace("_valid", "_reason")
            reasons = (w[reason_col].fillna("").astype(str).tolist() if reason_col in w
                       else [""] * len(w))
            out["row"] += [name] * len(w)
            out["start"] += w["start_s"].astype(float).tolist()
            out["end"] += w["end_s"].astype(float).tolist()
            out["colour"] += [PARTIAL_COLOUR if p else VALID_COLOUR if v else INVALID_COLOUR
                              for v, p in zip(valid, partial, strict=True)]
            out["phase"] += w["phase"].astype(str).tolist() if "phase" in w else [""] * len(w)
            out["window"] += w["window"].astype(str).tolist() if "window" in w else [""] * len(w)
            out["reason"] += reasons
            out["rmssd"] += (w["rmssd_ms"].astype(float).tolist() if "rmssd_ms" in w
                             else [math.nan] * len(w))
            out["valid"] += [bool(v) for v in valid]
        return out

    # ================================================================== traces
    def on_range(self, _attr: str, _old: Any, _new: Any) -> None:
        if not self.refresh_pending:
            self.refresh_pending = True
            self.doc.add_timeout_callback(self.refresh_traces, REFRESH_DELAY_MS)

    def refresh_traces(self) -> None:
        """Send the traces for the visible stretch (decimated, or at full resolution)."""
        self.refresh_pending = False
        a, b = float(self.x_range.start), float(self.x_range.end)
        span = max(b - a, 1e-3)
        c0, c1, cspan = self.covered
        if c0 <= a and b <= c1 and 0.8 <= span / cspan <= 1.25:
            return  # what is on screen already covers this view at this zoom
        lo, hi = a - MARGIN_VIEWS * span, b + MARGIN_VIEWS * span
        buckets = int(VIEW_BUCKETS * (1 + 2 * MARGIN_VIEWS))
        for trace, src in ((self.signals.ecg_mv, self.ecg_src), (self.signals.eda_us,
                           self.eda_src), (self.signals.belt, self.belt_src)):
            if trace is None:
                continue
            t, y = minmax_decimate(trace, lo, hi, buckets)
            src.data = {"t": t, "y": y}
            self.fit_y(src.name, t, y, a, b)
        rr = self.rr_src.data
        self.fit_y("rr", np.asarray(rr["t"], dtype=float), np.asarray(rr["rr"], dtype=float),
                   a, b)
        self.covered = (lo, hi, span)

    def fit_y(self, source_name: str, t: np.ndarray, y: np.ndarray, a: float, b: float
              ) -> None:
        """The y range of a trace's plot: the data in view, with a margin (an artefact in
        view is shown whole; one outside it does not flatten the beats)."""
        fig = {"ecg_trace": 0, "rr": 1, "eda_trace": 2, "belt_trace": 3}[source_name]
        seen = y[(t >= a) & (t <= b)]
        seen = seen[np.isfinite(seen)]
        if not len(seen):
            return
        lo, hi = float(seen.min()), float(seen.max())
        pad = max(0.08 * (hi - lo), 1e-3)
        self.figures[fig].y_range.update(start=lo - pad, end=hi + pad)

    # ================================================================== clicks
    def tolerance(self) -> float:
        """How far (s) from a beat or SCR a click may be and still name it."""
        return max(0.1, CLICK_TOLERANCE * (self.x_range.end - self.x_range.start))

    def on_tap(self, event: Tap) -> None:
        mode = MODES[self.mode.active or 0]
        fig = getattr(event, "model", None)
        name = getattr(fig, "name", "")
        t = float(event.x)
        try:
            handler = self.mode_handler(mode, name)
            if handler is not None:
                handler(t)
        except (ValueError, EditFileError) as exc:
            self.say(f"{mode}: {exc}", "error")

    def mode_handler(self, mode: str, fig_name: str) -> Callable[[float], None] | None:
        """The click handler of a mode, for a click on figure ``fig_name`` (None: ignored)."""
        beat_figs = ("ecg_fig", "rr_fig")
        return {
            "add beat": self.add_beat if fig_name in beat_figs else None,
            "delete beat": self.delete_beat if fig_name in beat_figs else None,
            "move beat": self.move_beat if fig_name in beat_figs else None,
            "mark unusable": lambda t: self.stretch(t, "mark_unusable"),
            "mark usable": lambda t: self.stretch(t, "mark_usable"),
            "delete SCR": self.delete_scr if fig_name == "eda_fig" else None,
            "restore SCR": self.restore_scr if fig_name == "eda_fig" else None,
        }.get(mode)

    def edit(self, action: str, channel: str, time_s: float, **kw) -> Edit:
        return Edit(action, channel, time_s, author=self.session.author, created=now_utc(),
                    **kw)

    def current_beats(self) -> np.ndarray:
        """Beat times after the unsaved edits (detected beats not removed, moved, deleted)."""
        d = self.beats_src.data
        times = np.asarray(d["t"], dtype=float)
        times = times[np.asarray(d["cls"], dtype=object) != "removed"] if len(times) else times
        for e in self.session.pending:
            if e.action in ("delete_beat", "move_beat") and len(times):
                k = nearest(times, e.time_s, 1e-6)
                times = np.delete(times, k) if k is not None else times
            if e.action in ("add_beat", "move_beat"):
                times = np.append(times, e.new_time_s if e.action == "move_beat" else e.time_s)
        return np.sort(times)

    def add_beat(self, t: float) -> None:
        if self.signals.ecg is None:
            raise ValueError("no ECG channel")
        snapped = snap_to_r_peak(self.signals.ecg, t)
        beats = self.current_beats()
        k = nearest(beats, snapped, REFRACTORY_S)
        if k is not None:
            raise ValueError(f"a beat is already at {beats[k]:.3f} s (within "
                             f"{REFRACTORY_S} s of {snapped:.3f} s); not added")
        self.commit(self.edit("add_beat", "ecg", snapped),
                    f"beat added at {snapped:.3f} s (clicked {t:.3f} s)")

    def delete_beat(self, t: float) -> None:
        beats = self.current_beats()
        k = nearest(beats, t, self.tolerance())
        if k is None:
            raise ValueError(f"no beat within {self.tolerance():.2f} s of {t:.3f} s")
        self.commit(self.edit("delete_beat", "ecg", float(beats[k])),
                    f"beat at {beats[k]:.3f} s deleted")

    def move_beat(self, t: float) -> None:
        if self.first_click is None:
            beats = self.current_beats()
            k = nearest(beats, t, self.tolerance())
            if k is None:
                raise ValueError(f"no beat within {self.tolerance():.2f} s of {t:.3f} s")
            self.set_first_click(float(beats[k]))
            self.say(f"beat at {beats[k]:.3f} s picked: click where it belongs")
            return
        old = self.first_click
        self.clear_first_click()
        self.commit(self.edit("move_beat", "ecg", old, new_time_s=t),
                    f"beat at {old:.3f} s moved to {t:.3f} s")

    def stretch(self, t: float, action: str) -> None:
        if self.first_click is None:
            self.set_first_click(t)
            self.say(f"stretch starts at {t:.3f} s: click where it ends")
            return
        a, b = sorted((self.first_click, t))
        self.clear_first_click()
        if b - a <= 0:
            raise ValueError("the stretch is empty: click its end elsewhere")
        channel = self.channel.value
        word = "unusable" if action == "mark_unusable" else "usable"
        self.commit(self.edit(action, channel, a, end_s=b),
                    f"{channel} {a:.3f}-{b:.3f} s marked {word}")

    def delete_scr(self, t: float) -> None:
        peaks = np.asarray(self.scr_src.data["t"], dtype=float)
        gone = [e.time_s for e in self.session.pending if e.action == "delete_scr"]
        peaks = np.array([p for p in peaks if nearest(np.array(gone), p, 1e-6) is None])
        k = nearest(peaks, t, max(SCR_MATCH_S, self.tolerance()))
        if k is None:
            raise ValueError(f"no SCR peak within {SCR_MATCH_S} s of {t:.3f} s")
        self.commit(self.edit("delete_scr", "eda", float(peaks[k])),
                    f"SCR at {peaks[k]:.3f} s deleted")

    def restore_scr(self, t: float) -> None:
        gone = np.array(self.deleted_scrs(), dtype=float)
        k = nearest(gone, t, max(SCR_MATCH_S, self.tolerance()))
        if k is None:
            raise ValueError(f"no deleted SCR within {SCR_MATCH_S} s of {t:.3f} s")
        self.commit(self.edit("restore_scr", "eda", float(gone[k])),
                    f"SCR at {gone[k]:.3f} s restored")

    def deleted_scrs(self) -> list[float]:
        """Peaks of the SCRs deleted (saved or not) and not restored since."""
        gone: list[float] = []
        for e in [*self.session.saved, *self.session.pending]:
            if e.action == "delete_scr":
                gone.append(e.time_s)
            elif e.action == "restore_scr":
                gone = [g for g in gone if abs(g - e.time_s) > SCR_MATCH_S]
        return gone

    def set_first_click(self, t: float) -> None:
        self.first_click = t
        for span in self.first_marks:
            span.update(location=t, visible=True)

    def clear_first_click(self) -> None:
        self.first_click = None
        for span in self.first_marks:
            span.visible = False

    # ================================================================== buttons
    def commit(self, edit: Edit, what: str) -> None:
        self.session.add(edit)
        self.update_edits_view()
        self.say(f"{what} (unsaved)", "info")

    def on_undo(self) -> None:
        self.clear_first_click()
        undone = self.session.undo()
        self.update_edits_view()
        self.say("nothing to undo" if undone is None else f"undone: {undone.action} at "
                 f"{undone.time_s:.3f} s" if not math.isnan(undone.time_s) else
                 f"undone: {undone.action}")

    def on_reviewed(self) -> None:
        note = (self.note.value_input or self.note.value).strip()  # as typed, Enter or not
        self.commit(self.edit("reviewed", "all", math.nan, note=note), "marked reviewed")

    def on_restore(self) -> None:
        n = self.session.restore_draft()
        self.draft_div.text = ""
        self.restore_btn.visible = self.discard_btn.visible = False
        self.update_edits_view()
        self.say(f"{n} unsaved edit(s) restored: press Save to keep them")

    def on_discard(self) -> None:
        self.session.discard_draft()
        self.draft_div.text = ""
        self.restore_btn.visible = self.discard_btn.visible = False
        self.say("the earlier session's unsaved edits were discarded")

    def on_save(self) -> None:
        if self.saving:
            return
        if not self.session.pending:
            self.say("nothing to save")
            return
        self.saving = True
        self.save_btn.disabled = True
        self.say(f"saving {len(self.session.pending)} edit(s) and re-processing the "
                 "recording...")
        threading.Thread(target=self.save_in_background, name="soothe-review-save",
                         daemon=True).start()

    def save_in_background(self) -> None:
        """Save and re-process off the server's event loop; the page is updated after."""
        try:
            result = self.session.save(self.reprocess)
            tables = self.reload(self.tables.windows_json)
            outcome: tuple = ("ok", result, tables)
        except EditConflictError as exc:
            outcome = ("conflict", exc, None)
        except Exception as exc:  # noqa: BLE001 - shown to the analyst, never a dead page
            outcome = ("error", exc, None)
        self.doc.add_next_tick_callback(lambda: self.after_save(outcome))

    def after_save(self, outcome: tuple) -> None:
        """Show what the save did: the re-processed tables, or why nothing was saved. The
        message comes last: once it says "saved", the page shows the new tables."""
        kind, value, tables = outcome
        self.saving = False
        self.save_btn.disabled = False
        if kind == "ok":
            self.tables = tables
            self.show_tables()
            self.refresh_traces()
        self.update_edits_view()
        self.header.text = self.header_html()
        if kind == "conflict":
            self.say(f"NOT SAVED, conflict with another analyst's edits: {value}", "error")
        elif kind == "error":
            self.say(f"NOT SAVED or not re-processed: {type(value).__name__}: {value}",
                     "error")
        else:
            merged = " (merged with edits saved by another analyst meanwhile)" \
                if value.merged else ""
            record = value.reprocessed or {}
            saved = f"saved {len(value.edits)} edit(s) to {self.session.edits_tsv.name}{merged}"
            if record.get("status") == "failed":
                self.say(f"{saved}, but re-processing FAILED: {record.get('message', '')}",
                         "error")
            else:
                self.say(f"{saved}; the recording was re-processed", "ok")

    # ================================================================== edit display
    def update_edits_view(self) -> None:
        """Pending-edit markers, stretches, the edit lists, and last the banner (the page
        applies changes in the order they are made: once the banner counts an edit, its
        marker is drawn)."""
        pending, saved = self.session.pending, self.session.saved
        ecg = self.signals.ecg_mv
        add = [e.time_s for e in pending if e.action == "add_beat"]
        self.pend_add_src.data = {"t": add, "y": value_at(ecg, np.array(add))}
        dele = [e.time_s for e in pending if e.action == "delete_beat"]
        self.pend_del_src.data = {"t": dele, "y": value_at(ecg, np.array(dele))}
        mv = [e for e in pending if e.action == "move_beat"]
        t0 = np.array([e.time_s for e in mv])
        t1 = np.array([e.new_time_s for e in mv])
        self.pend_move_src.data = {"t0": t0, "t1": t1, "y0": value_at(ecg, t0),
                                   "y1": value_at(ecg, t1)}
        self.stretch_src.data = stretch_data([*saved, *pending])
        gone = np.array(self.deleted_scrs(), dtype=float)
        self.scr_gone_src.data = {"t": gone, "y": value_at(self.signals.eda_us, gone)}
        self.saved_div.text = (edit_table_html(pending, "Unsaved edits") +
                               edit_table_html(saved, f"Saved edits ({len(saved)}, newest "
                                                      "last)"))
        self.banner.text = banner_html(len(pending))

    def say(self, text: str, kind: str = "info") -> None:
        self.message.text = message_html(text, kind)


def stretch_data(edits: list[Edit]) -> dict[str, list]:
    """The stretches marked by hand, one bar per channel row they cover.

    Examples
    --------
    >>> stretch_data([Edit("mark_unusable", "all", 1.0, end_s=2.0)])["row"]
    ['ECG', 'EDA', 'belt']
    """
    rows = {"ecg": ["ECG"], "eda": ["EDA"], "resp": ["belt"], "all": ["ECG", "EDA", "belt"]}
    out: dict[str, list] = {"x0": [], "x1": [], "colour": [], "row": [], "label": []}
    for e in edits:
        if e.action not in ("mark_unusable", "mark_usable"):
            continue
        colour = "#b71c1c" if e.action == "mark_unusable" else "#1b5e20"
        for r in rows[e.channel]:
            out["x0"].append(e.time_s)
            out["x1"].append(e.end_s)
            out["colour"].append(colour)
            out["row"].append(r)
            out["label"].append(e.action)
    return out
