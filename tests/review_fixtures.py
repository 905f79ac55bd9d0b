"""Driving the real review page: ``soothe physio review`` in a subprocess, headless
Chromium (the system's, through playwright) clicking its buttons and its canvas.

Canvas clicks are placed from the page's own Bokeh models: the figure's frame (where its
axes are, in CSS pixels) and its x and y ranges give the pixel of any time and value, so a
click lands on a beat the way an analyst's would.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import in_ci

from physio.review.local_server import free_port

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

#: the frame of a figure in page coordinates, and its ranges
GEOMETRY_JS = """(name) => {
  const doc = Bokeh.documents[0];
  const fig = doc.get_model_by_name(name);
  const view = Bokeh.index.find_one(fig);
  const fb = view.frame.bbox;
  const cr = view.canvas_view.el.getBoundingClientRect();
  return {left: cr.left + fb.left, top: cr.top + fb.top, width: fb.width,
          height: fb.height, x0: view.frame.x_range.start, x1: view.frame.x_range.end,
          y0: view.frame.y_range.start, y1: view.frame.y_range.end};
}"""
READY_JS = """() => {
  if (!(window.Bokeh && Bokeh.documents.length)) return false;
  const doc = Bokeh.documents[0];
  const fig = doc.get_model_by_name('ecg_fig');
  const src = doc.get_model_by_name('ecg_trace');
  return fig != null && Bokeh.index.find_one(fig) != null && src.data.t.length > 0;
}"""


def chromium() -> str:
    """The system's Chromium (skip without it; fail in CI, where it must be installed)."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if in_ci():
            pytest.fail("chromium is required in CI (.ci/run installs it)")
        pytest.skip("chromium not installed")
    return exe


class ReviewProcess:
    """``soothe physio review DERIV`` running in a subprocess of its own."""

    def __init__(self, deriv: Path, home: Path, *extra: str, author: str = "tester") -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(REPO),
               "MPLBACKEND": "Agg"}
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "soothe", "physio", "review", str(deriv), "--port", str(self.port),
             "--no-browser", "--author", author, *extra],
            cwd=home, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        self.url = self.wait_for_url()

    def wait_for_url(self, timeout_s: float = 90.0) -> str:
        deadline = time.monotonic() + timeout_s
        seen = []
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                if self.proc.poll() is not None:
                    break
                continue
            seen.append(line)
            if line.startswith("review page: "):
                return line.split()[2]
        self.kill()
        raise AssertionError("soothe physio review printed no URL:\n" + "".join(seen))

    def kill(self) -> None:
        """Kill it like a crash: no clean shutdown."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def open_page(browser, url: str, *, width: int = 1400, height: int = 1150):
    """A new tab on ``url``, once the ECG plot is drawn with its data."""
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.page_errors = errors
    page.goto(url)
    page.wait_for_function(READY_JS, timeout=60_000)
    return page


def geometry(page, name: str) -> dict:
    return page.evaluate(GEOMETRY_JS, name)


def settled_geometry(page, name: str) -> dict:
    """The figure's geometry once two animation frames in a row agree (no layout change
    under way)."""
    g = geometry(page, name)
    for _ in range(50):
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => "
                      "requestAnimationFrame(r)))")
        again = geometry(page, name)
        if again == g:
            return g
        g = again
    return g


def pixel(page, name: str, t: float, y: float | None = None) -> tuple[float, float]:
    """The page pixel of time ``t`` (and value ``y``, else mid-height) on figure ``name``."""
    g = settled_geometry(page, name)
    px = g["left"] + (t - g["x0"]) / (g["x1"] - g["x0"]) * g["width"]
    py = (g["top"] + g["height"] / 2 if y is None
          else g["top"] + (g["y1"] - y) / (g["y1"] - g["y0"]) * g["height"])
    assert g["left"] <= px <= g["left"] + g["width"], f"{t} s is outside {name}'s view"
    return px, py


def click_time(page, name: str, t: float, y: float | None = None) -> None:
    """Click figure ``name`` at time ``t`` with the mouse (a real canvas click)."""
    x, yy = pixel(page, name, t, y)
    page.mouse.click(x, yy)


def model_text(page, name: str) -> str:
    return page.evaluate("(n) => Bokeh.documents[0].get_model_by_name(n).text", name)


def source_column(page, name: str, column: str) -> list:
    return page.evaluate("([n, c]) => Array.from(Bokeh.documents[0].get_model_by_name(n)"
                         ".data[c])", [name, column])


def set_view(page, start: float, end: float) -> None:
    """Show ``start..end`` s (as a zoom would), and wait for the data of that view."""
    page.evaluate("([a, b]) => Bokeh.documents[0].get_model_by_name('x_range')"
                  ".setv({start: a, end: b})", [start, end])
    page.wait_for_function(
        """([a, b]) => { const t = Bokeh.documents[0].get_model_by_name('ecg_trace').data.t;
             return t.length > 0 && t[0] <= a && t[t.length - 1] >= b
                    && (t[t.length - 1] - t[0]) < 3 * (b - a); }""",
        arg=[start, end], timeout=15_000)


def choose_mode(page, label: str) -> None:
    """Press one of the mode buttons (pan/zoom, add beat, delete beat...)."""
    page.get_by_role("button", name=label, exact=True).click()
    page.wait_for_function("(l) => { const m = Bokeh.documents[0].get_model_by_name('mode');"
                           " return m.labels[m.active] == l; }", arg=label, timeout=5_000)


def press(page, label: str) -> None:
    page.get_by_role("button", name=label, exact=True).click()


def wait_text(page, name: str, words: str, timeout_ms: int = 15_000) -> str:
    """Wait until model ``name``'s text holds ``words``; return the text."""
    page.wait_for_function("([n, w]) => Bokeh.documents[0].get_model_by_name(n).text"
                           ".includes(w)", arg=[name, words], timeout=timeout_ms)
    return model_text(page, name)
