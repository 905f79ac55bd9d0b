"""The signal check's page: Bokeh plots served on localhost, or saved as a static snapshot.

Why a local web page (Bokeh server) rather than a second native window: the page opens in
any browser on any monitor of the experimenter's PC, beside the PsychoPy window on the
participant's screen, without sharing PsychoPy's OpenGL context or event loop (a second
pyglet window would steal focus and frames from the participant's window). Bokeh is an
established plotting library with its own server (tornado, already a dependency of
PsychoPy's stack); it serves BokehJS from the installed package, so nothing is fetched from
the internet at run time, and headless Chromium can screenshot the same layout for CI and
the docs. The view only displays: every decision comes from
:mod:`experiment.signals.verdict`.
"""

from __future__ import annotations

import html
import json
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# Bokeh imports pandas lazily, on the server thread, at the first data update, while the
# monitor's judge thread may be importing it through the quality functions. Two threads
# making the first import at once can be handed a half-initialised module (seen:
# "partially initialized module 'pandas' has no attribute 'Series'" on every update), so
# it is imported here, before the page's threads start.
import pandas  # noqa: F401

from experiment.signals import verdict as vd
from experiment.signals.monitor import JUDGE_S, Frame, SignalMonitor, judge_frame
from physio.review.local_server import start_local_server

#: plotted samples per second: a QRS (80-120 ms) still spans 10-15 points at 125 Hz, and the
#: browser draws half as much as at 250 Hz (measured: the page kept up on a loaded machine)
DISPLAY_HZ = 125.0
TICK_MS = 50  # the page's update period: 20 updates per second
JUDGE_EVERY_S = 0.5
WINDOW_S = 10.0
COLOURS = {vd.GOOD: "#2e7d32", vd.CHECK: "#e08a00", vd.NO_SIGNAL: "#c62828",
           vd.WAITING: "#607d8b"}
#: headless Chromium as analysis/screenshot.py runs it (the experiment may not import analysis)
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
)
TITLES = {"ECG": "ECG", "EDA": "EDA (skin conductance)", "RESP": "Respiration belt"}
PLOT_TITLES = {"ECG": "ECG  (red dots: detected R peaks)",
               "EDA": "EDA, skin conductance  (orange: 5 s after each deep-breath cue)",
               "RESP": "Respiration belt  (red triangles: breaths)"}
Y_LABEL = {"ECG": "mV", "EDA": "µS", "RESP": "belt"}
MIN_Y_SPAN = {"ECG": 2.0, "EDA": 1.0, "RESP": 0.5}  # a flat line must look flat


PROBE_JS = """
const sent = meta.data.wall_ms[0];
requestAnimationFrame(() => requestAnimationFrame(() => {
    const now = Date.now();
    window._soothe = window._soothe || [];
    window._soothe.push([now, now - sent]);
    if (window._soothe.length >= 20) {
        probe.text = JSON.stringify(window._soothe);
        window._soothe = [];
    }
}));
"""


@dataclass
class CheckState:
    """What the experimenter decided on the page (shared by every open tab)."""

    inverted_ok: bool = False
    outcome: str | None = None  # "continue" | "skip"
    done: threading.Event = field(default_factory=threading.Event)
    lags_ms: list[float] = field(default_factory=list)
    render_wall_ms: list[float] = field(default_factory=list)
    verdicts: dict[str, vd.Verdict] = field(default_factory=dict)
    #: the judge thread's latest (frame, verdicts), and how many it has made
    latest: tuple | None = None
    n_judged: int = 0

    def finish(self, outcome: str) -> None:
        self.outcome = outcome
        self.done.set()


def verdict_html(v: vd.Verdict) -> str:
    """A coloured card: channel, headline number, status and the plain reason.

    Examples
    --------
    >>> "flat line" in verdict_html(vd.Verdict("ECG", vd.NO_SIGNAL, "flat line"))
    True
    """
    colour = COLOURS.get(v.status, "#607d8b")
    number = f"{v.value:.0f} {v.unit}" if np.isfinite(v.value) and v.unit != "µS" else (
        f"{v.value:.2f} µS" if np.isfinite(v.value) else "&nbsp;")
    label = {"ECG": "HR", "EDA": "level", "RESP": "rate"}.get(v.channel, "")
    return (f'<div style="background:{colour};color:white;padding:10px 14px;border-radius:8px;'
            f'width:300px;font-family:sans-serif">'
            f'<div style="font-size:15px;opacity:0.9">'
            f'{html.escape(TITLES.get(v.channel, v.channel))}'
            f' &middot; {label} <b>{number}</b></div>'
            f'<div style="font-size:26px;font-weight:bold;text-transform:uppercase">'
            f'{html.escape(v.status)}</div>'
            f'<div style="font-size:16px">{html.escape(v.reason)}</div></div>')


def header_html(status: str, note: str = "") -> str:
    colour = COLOURS.get(status, "#607d8b")
    return (f'<div style="font-family:sans-serif"><span style="font-size:22px;font-weight:bold">'
            f'Signal check</span> &nbsp; <span style="background:{colour};color:white;'
            f'padding:2px 10px;border-radius:6px;font-size:18px">{html.escape(status.upper())}'
            f'</span><br><span style="font-size:14px;color:#444">Experimenter\'s screen only '
            f'&mdash; never show it to the participant. Ask for <b>one deep breath</b>, then '
            f'press the button at the same moment; skin conductance should rise by at least '
            f'{vd.SCR_MIN_US} µS within {vd.BREATH_WINDOW_S:g} s.{html.escape(note)}</span></div>')


class CheckView:
    """The Bokeh models of the page for one browser tab (or one snapshot)."""

    def __init__(self, kinds: list[str], *, controls: bool, state: CheckState | None = None,
                 t0: float = 0.0, live: bool = True) -> None:
        # lazy: Bokeh takes a second to load; a headless check without a snapshot draws none
        from bokeh.layouts import column, row
        from bokeh.models import Button, Checkbox, ColumnDataSource, CustomJS, DataRange1d, Div
        from bokeh.plotting import figure

        self.state = state or CheckState()
        self.t0 = t0  # LSL time shown as 0 s
        self.kinds = kinds
        self.sources: dict[str, ColumnDataSource] = {}
        self.marks: dict[str, ColumnDataSource] = {}
        self.cards: dict[str, Div] = {}
        self.last_t: dict[str, float] = {k: -np.inf for k in kinds}
        self.header = Div(text=header_html(vd.WAITING), width=1240)
        self.cues = ColumnDataSource({"x": [], "x1": []})
        rows = []
        for kind in kinds:
            src = ColumnDataSource({"t": [], "y": []})
            xr = DataRange1d(follow="end", follow_interval=WINDOW_S, range_padding=0)
            yr = DataRange1d(min_interval=MIN_Y_SPAN[kind], range_padding=0.15)
            fig = figure(height=190, width=900, x_range=xr, y_range=yr, toolbar_location=None,
                         title=PLOT_TITLES[kind], x_axis_label="time (s)",
                         y_axis_label=Y_LABEL[kind], output_backend="canvas")
            fig.line("t", "y", source=src, line_width=1.3, color="#1f3b73")
            mk = ColumnDataSource({"t": [], "y": []})
            if kind == "ECG":
                fig.scatter("t", "y", source=mk, size=8, color="#d62728")
            elif kind == "RESP":
                fig.scatter("t", "y", source=mk, size=8, marker="triangle", color="#d62728")
            else:
                fig.vstrip(x0="x", x1="x1", source=self.cues, fill_color="#ffb74d",
                           fill_alpha=0.3, line_color="#e65100")
            self.sources[kind], self.marks[kind] = src, mk
            self.cards[kind] = Div(text=verdict_html(vd.Verdict(kind, vd.WAITING,
                                                                "waiting for data")),
                                   width=330)
            rows.append(row(fig, self.cards[kind]))
        if not kinds:
            rows.append(Div(text='<p style="font-size:20px;color:#c62828">No physiology stream '
                                 'found on LSL: is the amplifier on and streaming?</p>'))
        parts = [self.header]
        # latency probe: the server stamps each update with the wall time of its newest
        # sample; the browser reports back how late it painted it (two animation frames on)
        self.meta = ColumnDataSource({"wall_ms": [0.0]})
        self.probe = Div(text="", visible=False)
        if live:
            self.meta.js_on_change("data", CustomJS(args={"meta": self.meta,
                                                          "probe": self.probe}, code=PROBE_JS))
            self.probe.on_change("text", self._on_probe)
        if controls:
            breath = Button(label="Deep breath now", button_type="warning", width=200)
            breath.on_click(self._on_breath)
            inverted = Checkbox(label="inverted ECG (this lead placement)",
                                active=self.state.inverted_ok)
            inverted.on_change("active", lambda _a, _o, new: setattr(self.state,
                                                                       "inverted_ok", new))
            go = Button(label="Signals OK: continue", button_type="success", width=200)
            go.on_click(lambda: self._finish("continue"))
            skip = Button(label="Skip the check", button_type="default", width=160)
            skip.on_click(lambda: self._finish("skip"))
            self.monitor_cue: Callable[[], float] | None = None
            parts.append(row(breath, inverted, go, skip))
        self.layout = column(*parts, *rows, self.probe)

    # ------------------------------------------------------------------ events
    def _on_breath(self) -> None:
        if getattr(self, "monitor_cue", None) is not None:
            self.monitor_cue()

    def _finish(self, outcome: str) -> None:
        self.state.finish(outcome)
        self.header.text = header_html(
            vd.overall(list(self.state.verdicts.values())) if self.state.verdicts
            else vd.NO_SIGNAL,
            f" Check ended: {'continuing' if outcome == 'continue' else 'skipped'}.")

    def _on_probe(self, _attr, _old, new) -> None:
        try:
            pairs = json.loads(new) if new else []
        except ValueError:
            return
        self.state.render_wall_ms.extend(p[0] for p in pairs)
        self.state.lags_ms.extend(p[1] for p in pairs)

    # ------------------------------------------------------------------ data
    def _rel(self, t: np.ndarray) -> np.ndarray:
        return t - self.t0

    def push_samples(self, frame: Frame, *, replace: bool = False) -> bool:
        """Send the samples newer than the last ones shown (decimated to DISPLAY_HZ)."""
        sent = False
        for kind in self.kinds:
            if kind not in frame.channels:
                continue
            t, x, fs = frame.channels[kind]
            k = max(int(round(fs / DISPLAY_HZ)), 1)
            new = t > self.last_t[kind]
            if not new.any():
                continue
            idx = np.flatnonzero(new)
            if k > 1:  # keep the samples on one fixed grid, so successive chunks join up
                idx = idx[np.round(t[idx] * fs).astype(np.int64) % k == 0]
            if not len(idx):
                continue
            self.last_t[kind] = float(t[-1])
            data = {"t": self._rel(t[idx]), "y": x[idx]}
            if replace:
                self.sources[kind].data = data
            else:
                self.sources[kind].stream(data, rollover=int(WINDOW_S * DISPLAY_HZ * 1.2))
            sent = True
        return sent

    def show_verdicts(self, frame: Frame, verdicts: dict[str, vd.Verdict]) -> None:
        """Cards, header, R peaks / breaths and the cue windows."""
        self.state.verdicts = verdicts
        for kind, v in verdicts.items():
            if kind not in self.cards:
                continue
            _set_if_changed(self.cards[kind], verdict_html(v))
            t, x, fs = frame.channels[kind]
            n = min(len(t), int(JUDGE_S * fs))
            seg_t, seg_x = t[-n:], x[-n:]
            if v.marks and len(seg_t):
                idx = np.clip(np.round(np.asarray(v.marks) * fs).astype(int), 0, len(seg_t) - 1)
                self.marks[kind].data = {"t": self._rel(seg_t[idx]), "y": seg_x[idx]}
            else:
                self.marks[kind].data = {"t": [], "y": []}
        cues = np.asarray(frame.cues, dtype=float)
        if len(cues) != len(self.cues.data["x"]):
            self.cues.data = {"x": self._rel(cues), "x1": self._rel(cues) + vd.BREATH_WINDOW_S}
        _set_if_changed(self.header, header_html(vd.overall(list(verdicts.values()))
                                                 if verdicts else vd.NO_SIGNAL))


def _set_if_changed(div, text: str) -> None:
    """A Div's text changes only when it differs (each change re-lays out the page)."""
    if div.text != text:
        div.text = text


# ====================================================================== live server
def serve(monitor: SignalMonitor, state: CheckState, port: int = 0
          ) -> tuple[object, int, threading.Thread]:
    """Serve the live page on 127.0.0.1 in a background thread; return (server, port, thread).

    The verdicts are judged in a thread of their own (:func:`start_judging`), the page is
    drawn per browser tab (:func:`page_factory`), and the server runs on its own event loop
    (:func:`physio.review.local_server.start_local_server`). Stop it with
    :func:`stop_server`.
    """
    box: dict = {"stop": threading.Event()}
    start_judging(monitor, state, box["stop"])
    box["server"] = start_local_server(page_factory(monitor, state), port,
                                       name="soothe-signal-page", what="the signal-check page")
    return box, box["server"].port, box["server"].thread


def start_judging(monitor: SignalMonitor, state: CheckState, stop: threading.Event
                  ) -> threading.Thread:
    """Judge the signals every :data:`JUDGE_EVERY_S` into ``state`` until ``stop`` is set.

    Off the page's event loop, so a judgement never delays a tick of the plots.
    """
    def judge_loop() -> None:
        while not stop.wait(JUDGE_EVERY_S):
            frame = monitor.frame()
            verdicts = judge_frame(frame, inverted_ok=state.inverted_ok)
            state.latest = (frame, verdicts)
            state.verdicts = verdicts
            state.n_judged += 1

    thread = threading.Thread(target=judge_loop, name="soothe-signal-judge", daemon=True)
    thread.start()
    return thread


def page_factory(monitor: SignalMonitor, state: CheckState) -> Callable:
    """The function that builds one browser tab's page (Bokeh's ``FunctionHandler``).

    Every tab shares the time zero of the first one, plots the newest samples every
    :data:`TICK_MS` and shows the latest verdicts when they change.
    """
    t0 = {"value": None}

    def make_doc(doc) -> None:
        frame = monitor.frame()
        if t0["value"] is None and np.isfinite(frame.newest):
            t0["value"] = frame.newest
        view = CheckView(sorted(monitor.channels), controls=True, state=state,
                         t0=t0["value"] if t0["value"] is not None else frame.lsl_now)
        view.monitor_cue = monitor.cue_deep_breath
        shown = {"n": 0}

        def tick() -> None:
            # lazy: liblsl reads its config when pylsl loads; the caller set it up first
            import pylsl

            frame = monitor.frame(seconds=WINDOW_S * 1.2)
            if view.push_samples(frame):
                lag = pylsl.local_clock() - frame.newest
                view.meta.data = {"wall_ms": [(time.time() - lag) * 1000.0]}
            if state.latest is not None and state.n_judged != shown["n"]:
                shown["n"] = state.n_judged
                view.show_verdicts(*state.latest)

        doc.add_root(view.layout)
        doc.add_root(view.meta)  # the latency probe's source is in no layout
        doc.title = "soothe signal check"
        doc.add_periodic_callback(tick, TICK_MS)

    return make_doc


def stop_server(box: dict, thread: threading.Thread) -> None:
    """Stop a server started by :func:`serve`, and its judging thread."""
    box["stop"].set()
    box["server"].stop()


# ====================================================================== snapshot
def snapshot_html(frame: Frame, verdicts: dict[str, vd.Verdict], path: Path, *,
                  note: str = "") -> Path:
    """The page as it looks at ``frame``, saved as a self-contained HTML file (BokehJS
    inlined, so it renders offline)."""
    # lazy: Bokeh takes a second to load; a headless check without a snapshot draws none
    from bokeh.embed import file_html
    from bokeh.resources import INLINE

    t0 = min((float(t[0]) for t, _, _ in frame.channels.values() if len(t)),
             default=frame.lsl_now)
    view = CheckView(sorted(frame.channels), controls=False, t0=t0, live=False)
    view.push_samples(frame, replace=True)
    view.show_verdicts(frame, verdicts)
    if note:
        view.header.text = header_html(vd.overall(list(verdicts.values())), f" {note}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(file_html(view.layout, resources=INLINE, title="soothe signal check"),
                    encoding="utf-8")
    return path


def screenshot(html_path: Path, png: Path, *, width: int = 1260, height: int = 680,
               timeout_s: float = 120.0) -> Path:
    """Render ``html_path`` to ``png`` with headless Chromium (as analysis/screenshot.py)."""
    exe = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                if shutil.which(n)), None)
    if exe is None:
        raise RuntimeError("chromium: not found on PATH; needed for --snapshot")
    html_path, png = Path(html_path).resolve(), Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    if png.exists():
        png.unlink()
    with tempfile.TemporaryDirectory() as profile:
        cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}",
               f"--window-size={width},{height}", "--virtual-time-budget=5000",
               html_path.as_uri()]
        subprocess.run(cmd, check=False, capture_output=True, timeout=timeout_s)
    if not png.is_file() or png.stat().st_size == 0:
        raise RuntimeError(f"{png}: chromium wrote no screenshot of {html_path}")
    return png
