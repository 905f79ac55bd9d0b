"""Review page responsiveness on a long recording (prints figures).

Makes (or reuses, from ``--cache``) a simulated recording of ``--minutes`` at ``--fs`` Hz
(90 min at 1000 Hz by default: 5.4 million samples per channel), processes it with
``soothe physio process``, serves the review page on 127.0.0.1 and opens the recording in
headless Chromium (the system's, through playwright). Printed:

* reading the recording (source file, cleaned ECG, belt breaths), as the server does once
  per recording, in the background from its start;
* the first tab, opened as soon as the server is up: from navigation, and from the
  server's start (it waits for that read);
* first view of the later tabs: from navigation to the plots drawn with their data
  (measured in the page: ``performance.now()`` two animation frames after the ECG trace
  holds data), as an analyst sees each recording opened after the server has read it;
* pan and zoom: ``--ops`` operations alternating wheel zooms (in, then out) and
  drags (60 % of the view), each measured in the page from the input event (the wheel
  event, or the mouse release ending the drag) to the moment the data for the new view
  was painted (two animation frames after the ECG trace's data changed, or after the input
  when the data already on screen covered the new view); median and 90th percentile;
* points per trace sent for a view.

    .venv/bin/python bench/bench_review.py            # 90 min at 1000 Hz
    .venv/bin/python bench/bench_review.py --minutes 30 --fs 250 --ops 10
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PROBE_JS = """() => {
  const doc = Bokeh.documents[0];
  const src = doc.get_model_by_name('ecg_trace');
  const p = window.__probe = {t_in: 0, paints: []};
  const mark = () => { p.t_in = performance.now(); };
  document.addEventListener('wheel', mark, {capture: true});
  document.addEventListener('mouseup', mark, {capture: true});
  src.connect(src.properties.data.change, () => {
    requestAnimationFrame(() => requestAnimationFrame(() => p.paints.push(performance.now())));
  });
}"""
#: the data on screen covers the view; then the op's latency from its input event
COVERED_JS = """() => {
  const doc = Bokeh.documents[0];
  const r = doc.get_model_by_name('x_range');
  const t = doc.get_model_by_name('ecg_trace').data.t;
  const span = r.end - r.start;
  return t.length > 0 && t[0] <= r.start + 1e-6 && t[t.length - 1] >= r.end - 1e-3 * span
    && (t[t.length - 1] - t[0]) < 2.5 * span;
}"""
LATENCY_JS = """async () => {
  const p = window.__probe;
  const after = p.paints.filter(x => x >= p.t_in);
  if (after.length) return after[after.length - 1] - p.t_in;
  const now = await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(
    () => r(performance.now()))));
  return now - p.t_in;
}"""
FIRST_VIEW_JS = """() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(
  () => r(performance.now()))))"""


def make_recording(cache: Path, minutes: float, fs: float, seed: int) -> Path:
    """The processed derivatives of one simulated recording (made once per cache)."""
    from conditions.protocol import load_protocol
    from soothe.simulate import simulate_session, simulate_study

    base = cache / f"review_{minutes:g}min_{fs:g}hz_seed{seed}"
    deriv = base / "deriv"
    if any(deriv.glob("sub-*/ses-*/beh/*_desc-windows_physio.json")):
        return deriv
    # the shipped protocol's own length; the rest is recorded before and after it
    protocol = load_protocol()
    session_s = simulate_session(protocol, "001", list(protocol.conditions)[0], seed=seed,
                                 index=1, fs=50.0, signals=False,
                                 record_margin_s=(0.0, 0.0)).timeline.duration_s
    margin = max(0.0, (minutes * 60.0 - session_s) / 2)
    t0 = time.perf_counter()
    simulate_study(base / "raw", 1, seed=seed, fs=fs, record_margin_s=(margin, margin))
    print(f"simulated {minutes:g} min at {fs:g} Hz in {time.perf_counter() - t0:.0f} s")
    t0 = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    subprocess.run([sys.executable, "-m", "soothe", "physio", "process", str(base / "raw"),
                    "--out", str(deriv), "--no-progress"], check=True, env=env)
    print(f"processed in {time.perf_counter() - t0:.0f} s")
    return deriv


def first_views(browser, url: str, n: int) -> list[float]:
    from review_fixtures import READY_JS

    out = []
    for _ in range(n):
        page = browser.new_page(viewport={"width": 1400, "height": 1150})
        page.goto(url)
        page.wait_for_function(READY_JS, timeout=120_000, polling="raf")
        out.append(page.evaluate(FIRST_VIEW_JS))
        page.close()
    return out


def pan_zoom(page, ops: int) -> list[float]:
    """Latency (ms) of each operation, alternating zooms and drags over the ECG plot."""
    from review_fixtures import settled_geometry

    page.evaluate(PROBE_JS)
    out = []
    for k in range(ops):
        g = settled_geometry(page, "ecg_fig")
        cx, cy = g["left"] + g["width"] * 0.5, g["top"] + g["height"] * 0.5
        page.mouse.move(cx, cy)
        kind = k % 4
        if kind in (0, 2):  # zoom in, then out
            page.mouse.wheel(0, -300 if kind == 0 else 300)
        else:  # drag 60 % of the view, right then left
            x0, x1 = (0.8, 0.2) if kind == 1 else (0.2, 0.8)
            page.mouse.move(g["left"] + g["width"] * x0, cy)
            page.mouse.down()
            page.mouse.move(g["left"] + g["width"] * x1, cy, steps=6)
            page.mouse.up()
        page.wait_for_function(COVERED_JS, timeout=30_000, polling="raf")
        time.sleep(0.15)  # a late second update of the same op is part of it
        page.wait_for_function(COVERED_JS, timeout=30_000, polling="raf")
        out.append(page.evaluate(LATENCY_JS))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=90.0)
    ap.add_argument("--fs", type=float, default=1000.0)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--ops", type=int, default=20)
    ap.add_argument("--first-views", type=int, default=5)
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "soothe-bench"))
    args = ap.parse_args()
    sys.path.insert(0, str(REPO / "tests"))
    from playwright.sync_api import sync_playwright

    from physio.review.catalog import recording_catalog
    from physio.review.data import read_signals, read_tables
    from physio.review.server import serve_review

    deriv = make_recording(Path(args.cache), args.minutes, args.fs, args.seed)
    entry = recording_catalog(deriv)[0]
    t0 = time.perf_counter()
    signals = read_signals(read_tables(entry.windows_json).provenance)
    read_s = time.perf_counter() - t0
    print(f"recording: {entry.prefix}, {signals.duration_s / 60:.1f} min, ECG "
          f"{len(signals.ecg_mv.y):,} samples at {signals.ecg_mv.sampling_rate:g} Hz")
    print(f"reading the recording (source file, cleaned ECG, breaths): {read_s:.2f} s, done "
          "by the server once per recording, in the background from its start")
    del signals
    started = time.perf_counter()
    server = serve_review(deriv, author="bench", reprocess=lambda p: {"status": "skipped"})
    url = f"{server.url}?rec={entry.prefix}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"),
                                        args=["--no-sandbox"])
            cold = first_views(browser, url, 1)[0]
            cold_s = time.perf_counter() - started
            views = first_views(browser, url, args.first_views)
            page = browser.new_page(viewport={"width": 1400, "height": 1150})
            page.goto(url)
            page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0 && "
                                   "Bokeh.documents[0].get_model_by_name('ecg_trace') && "
                                   "Bokeh.documents[0].get_model_by_name('ecg_trace')"
                                   ".data.t.length > 0", timeout=120_000)
            n_points = page.evaluate("() => Bokeh.documents[0].get_model_by_name("
                                     "'ecg_trace').data.t.length")
            lat = pan_zoom(page, args.ops)
            browser.close()
    finally:
        server.stop()
    print(f"first tab opened as soon as the server printed its URL: {cold / 1000:.2f} s from "
          f"navigation, {cold_s:.2f} s from the server's start (it waits for the read)")
    lat_a = np.array(lat)
    print(f"first view (navigation to plots drawn with data), {len(views)} page loads: "
          f"median {statistics.median(views) / 1000:.2f} s, max {max(views) / 1000:.2f} s "
          f"(target <= 2 s); each: {', '.join(f'{v / 1000:.2f}' for v in views)} s")
    print(f"pan/zoom redraw, {len(lat)} operations: median {np.median(lat_a):.0f} ms, "
          f"p90 {np.percentile(lat_a, 90):.0f} ms, max {lat_a.max():.0f} ms "
          "(target median <= 200 ms)")
    print(f"points per trace for the whole recording on screen: {n_points:,} (ECG)")
    print("command: " + " ".join([Path(sys.executable).name, "bench/bench_review.py",
                                  *sys.argv[1:]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
