"""Render the HTML report to PNG with headless Chromium (documented, not a unit test).

Usage::

    python -m analysis.screenshot REPORT_DIR/report.html docs/report-screenshot.png
    python -m analysis.screenshot --demo /tmp/soothe-table-demo docs/report-screenshot.png

``--demo`` first simulates a 5 x 27 study at table level (the project simulator, with
pipeline-like measurement noise; no signals), writes it in the data-contract layout,
runs ``soothe analyze`` on it and then renders the report.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from analysis.errors import AnalysisError

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
)


def render_report_png(html: Path, png: Path, *, width: int = 1280, height: int = 4000,
                      timeout_s: float = 120.0) -> Path:
    """Screenshot ``html`` (a local file) into ``png`` with headless Chromium.

    Raises
    ------
    AnalysisError
        When no Chromium is installed or it produced no image.
    """
    exe = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                if shutil.which(n)), None)
    if exe is None:
        raise AnalysisError("chromium: not found on PATH; needed to render the report to PNG")
    html, png = Path(html).resolve(), Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}",
               f"--window-size={width},{height}", html.as_uri()]
        subprocess.run(cmd, check=False, capture_output=True, timeout=timeout_s)
    if not png.is_file() or png.stat().st_size == 0:
        raise AnalysisError(f"{png}: chromium wrote no screenshot of {html}")
    return png


def table_level_demo(out: Path, n_per_group: int = 27, seed: int = 7) -> Path:
    """Simulate (table level), write and analyse a study; return the report.html path."""
    from analysis.pipeline import run_analysis
    from analysis.power import _adapt
    from analysis.synthetic import write_synthetic_dataset
    from soothe.simulate import simulate_study_tables

    tables = _adapt(simulate_study_tables(n_per_group, seed, measurement_noise=True))
    write_synthetic_dataset(tables, out / "raw", out / "deriv")
    _, paths = run_analysis(out / "raw", out / "deriv", out / "report")
    return paths["report_html"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.screenshot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="report.html, or the demo folder with --demo")
    parser.add_argument("png", type=Path)
    parser.add_argument("--demo", action="store_true")
    parser.add_argument("--height", type=int, default=4000)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    html = table_level_demo(args.source) if args.demo else args.source
    render_report_png(html, args.png, height=args.height)
    print(f"{args.png} ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
