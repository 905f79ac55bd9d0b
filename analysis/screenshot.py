"""Render the HTML report to PNG with headless Chromium (documented, not a unit test).

Usage::

    python -m analysis.screenshot REPORT_DIR/report.html docs/report-screenshot.png
    python -m analysis.screenshot --demo /tmp/soothe-table-demo docs/report-screenshot.png
    python -m analysis.screenshot --full-page REPORT_DIR/report.html docs/report-screenshot.png

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

import numpy as np
from PIL import Image

from analysis.errors import AnalysisError
from analysis.pipeline import run_analysis
from analysis.power import adapt_simulated_tables
from analysis.synthetic import write_synthetic_dataset
from soothe.simulate import simulate_study_tables

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
)


def render_report_png(html: Path, png: Path, *, width: int = 1280, height: int = 4000,
                      timeout_s: float = 120.0, full_page: bool = False) -> Path:
    """Screenshot ``html`` (a local file) into ``png`` with headless Chromium.

    With ``full_page`` the window is ``height`` pixels tall (make it taller than the
    page) and the blank area below the page is cropped, so the image is the whole report.

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
    if full_page:
        crop_blank_bottom(png)
    return png


def crop_blank_bottom(png: Path, margin: int = 24, colors: int | None = 256) -> tuple[int, int]:
    """Cut the uniform background below the page's last content row; return the new size.

    ``colors`` quantizes the result to a palette PNG (a third of the size; the report is
    flat colours and text, so nothing visible is lost).

    Chromium's ``--screenshot`` captures the window, not the document, so a full-page
    image is taken with a window taller than the page and trimmed here.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from PIL import Image
    >>> a = np.full((100, 20, 3), 255, np.uint8); a[10:30] = 0
    >>> p = Path(tempfile.mkdtemp()) / "x.png"; Image.fromarray(a).save(p)
    >>> crop_blank_bottom(p, margin=5)
    (20, 35)
    """
    with Image.open(png) as im:
        rgb = np.asarray(im.convert("RGB"))
    background = rgb[-1, -1]
    content = np.flatnonzero((rgb != background).any(axis=(1, 2)))
    bottom = min(rgb.shape[0], (int(content[-1]) + 1 if content.size else 1) + margin)
    out = Image.fromarray(rgb[:bottom])
    if colors:
        out = out.quantize(colors=colors, method=Image.Quantize.MEDIANCUT,
                           dither=Image.Dither.NONE)
    out.save(png, optimize=True)
    return rgb.shape[1], bottom


def table_level_demo(out: Path, n_per_group: int = 27, seed: int = 7) -> Path:
    """Simulate (table level), write and analyse a study; return the report.html path."""
    simulated = simulate_study_tables(n_per_group, seed, measurement_noise=True)
    tables = adapt_simulated_tables(simulated)
    write_synthetic_dataset(tables, out / "raw", out / "deriv")
    _, paths = run_analysis(out / "raw", out / "deriv", out / "report")
    return paths["report_html"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.screenshot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="report.html, or the demo folder with --demo")
    parser.add_argument("png", type=Path)
    parser.add_argument("--demo", action="store_true")
    parser.add_argument("--height", type=int, default=4000,
                        help="window height in pixels (with --full-page: an upper bound)")
    parser.add_argument("--full-page", action="store_true",
                        help="capture the whole report: render with a window of --height "
                        "(default then 40000) and crop the blank bottom")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    html = table_level_demo(args.source) if args.demo else args.source
    height = 40000 if args.full_page and args.height == 4000 else args.height
    render_report_png(html, args.png, height=height, full_page=args.full_page)
    print(f"{args.png} ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
