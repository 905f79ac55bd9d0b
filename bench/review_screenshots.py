"""The screenshots of the review page in ``docs/review.md`` (``docs/img/review-*.png``).

Processes three simulated sessions and the shared real recordings (``../shared/data/real``:
drive05, 84 min of a driver with movement artefacts, and NeuroKit2's resting recording)
into one derivatives folder, serves the review page and photographs it in headless
Chromium (the system's, through playwright): the list of recordings, one recording as it
opens, and the same recording zoomed in with unsaved edits.

    .venv/bin/python bench/review_screenshots.py --out docs/img
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
SHARED = Path(os.environ.get("SOOTHE_SHARED_DATA") or REPO.parent / "shared" / "data")
DRIVE = "sub-drive05_ses-1_task-induction"


def soothe(*args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    subprocess.run([sys.executable, "-m", "soothe", *args, "--no-progress"], check=True,
                   env=env, stdout=subprocess.DEVNULL)


def make_derivatives(work: Path) -> Path:
    """Simulated and real recordings processed into one derivatives folder."""
    from soothe.simulate import simulate_study

    deriv = work / "deriv"
    simulate_study(work / "raw", 3, seed=7, fs=250.0)
    soothe("physio", "process", str(work / "raw"), "--out", str(deriv))
    real = SHARED / "real"
    soothe("physio", "process", str(real / "drive05.hea"), "--out", str(deriv),
           "--eda-channel", "hand GSR", "--eda-units", "uS")
    soothe("physio", "process", str(real / "bio_resting_8min_100hz.csv"), "--out",
           str(deriv), "--column-map", "ecg=ECG,eda=EDA,rsp=RSP", "--sampling-rate", "100",
           "--ecg-units", "mV", "--eda-units", "uS", "--rsp-units", "V")
    return deriv


def shoot_edits(page, png: Path) -> None:
    """drive05 around a falsely detected beat (red: its shape matches no heartbeat, and
    the tachogram shows the short interval it makes): the beat deleted, a stretch of the
    belt marked unusable; not saved yet (the banner says so)."""
    from review_fixtures import choose_mode, click_time, set_view, source_column, wait_text

    set_view(page, 2219.0, 2233.0)
    beats = np.array(source_column(page, "beats", "t"), dtype=float)
    cls = source_column(page, "beats", "cls")
    false = [t for t, c in zip(beats, cls, strict=True)
             if c == "low_quality" and 2219.0 < t < 2233.0]
    choose_mode(page, "delete beat")
    click_time(page, "ecg_fig", float(false[0]))
    wait_text(page, "banner", "1 unsaved edit")
    choose_mode(page, "mark unusable")
    page.get_by_role("combobox").select_option("resp")
    click_time(page, "belt_fig", 2229.0)
    wait_text(page, "message", "click where it ends")
    click_time(page, "belt_fig", 2231.5)
    wait_text(page, "banner", "2 unsaved edits")
    page.mouse.move(5, 5)
    page.screenshot(path=str(png), full_page=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(REPO / "docs" / "img"))
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright
    from review_fixtures import ReviewProcess, open_page

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        deriv = make_derivatives(work)
        shown = Path(tempfile.gettempdir()) / "study" / "derivatives"  # a plain name on the page
        shutil.rmtree(shown, ignore_errors=True)
        shutil.copytree(deriv, shown)
        deriv = shown
        server = ReviewProcess(deriv, work / "home", author="analyst")
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=shutil.which("chromium"),
                                            args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 960, "height": 270})
                page.goto(server.url)
                page.wait_for_selector("tr.rec")
                page.screenshot(path=str(out / "review-list.png"), full_page=True)
                page.close()
                page = open_page(browser, server.url + f"?rec={DRIVE}", height=1120)
                page.wait_for_timeout(500)
                page.screenshot(path=str(out / "review-recording.png"), full_page=True)
                shoot_edits(page, out / "review-edits.png")
                browser.close()
        finally:
            server.stop()
            shutil.rmtree(shown, ignore_errors=True)
    for name in ("review-list.png", "review-recording.png", "review-edits.png"):
        print(out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
