"""The review loop on a real recording (``../shared/data/real/drive05``, 84 min of a driver
with movement artefacts): open it on the page, delete a falsely detected beat, add a
missed one, mark an artefact stretch unusable, save. Re-processing then changes exactly
the windows that hold those edits, and nothing else."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from review_fixtures import (
    PYTHON,
    REPO,
    ReviewProcess,
    choose_mode,
    chromium,
    click_time,
    open_page,
    press,
    set_view,
    source_column,
    wait_text,
)

from physio.edits import read_edits

PREFIX = "sub-drive05_ses-1_task-induction"
#: edits are made this far from a window's edges, so each changes its own window only
EDGE_S = 5.0


def read_tsv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=False)


def is_true(col: pd.Series) -> np.ndarray:
    return col.astype(str).str.lower().isin(("true", "1")).to_numpy()


@pytest.fixture
def drive05(shared_data, tmp_path) -> Path:
    src = shared_data / "real" / "drive05.hea"
    if not src.is_file():
        pytest.skip(f"{src} not found (real recordings absent)")
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg", "HOME": str(tmp_path)}
    deriv = tmp_path / "deriv"
    proc = subprocess.run([PYTHON, "-m", "soothe", "physio", "process", str(src), "--out",
                           str(deriv), "--eda-channel", "hand GSR", "--no-progress"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    return deriv


def window_of(windows: pd.DataFrame, t: float) -> int | None:
    """Row index of the complete, ECG-valid window holding ``t`` away from its edges."""
    ok = ~is_true(windows["partial"]) & is_true(windows["ecg_valid"])
    hit = windows[ok & (windows["start_s"] + EDGE_S <= t) & (t <= windows["end_s"] - EDGE_S)]
    return int(hit.index[0]) if len(hit) else None


def pick_edits(beats: pd.DataFrame, windows: pd.DataFrame) -> dict:
    """A falsely detected beat, a missed one and a stretch, in three different windows."""
    t = beats["r_peak_s"].to_numpy(float)
    cls = beats["beat_class"].astype(str).to_numpy()
    extra = [x for x, c in zip(t, cls, strict=True) if c == "extra" and window_of(windows, x)
             is not None]
    assert extra, "drive05 has a beat classified extra inside a valid window"
    e = extra[0]
    kept = t[cls != "removed"]
    missed = [(float(kept[k - 1]), float(kept[k])) for k in range(1, len(kept))
              if cls[cls != "removed"][k] == "missed"
              and window_of(windows, kept[k - 1]) is not None
              and window_of(windows, kept[k - 1]) == window_of(windows, kept[k])
              and window_of(windows, kept[k]) != window_of(windows, e)]
    assert missed, "drive05 has a missed-beat interval inside a valid window"
    used = {window_of(windows, e), window_of(windows, missed[0][1])}
    stretch_w = next(i for i in windows.index if window_of(windows, windows.start_s[i] + 20)
                     == i and i not in used)
    a = float(windows.start_s[stretch_w]) + 20.0
    return {"extra": e, "missed": missed[0], "stretch": (a, a + 10.0),
            "windows": used | {stretch_w}}


def test_real_recording_review_loop_changes_exactly_the_edited_windows(drive05, tmp_path):
    exe = chromium()
    beh = drive05 / "sub-drive05" / "ses-1" / "beh"
    beats0 = read_tsv(beh / f"{PREFIX}_desc-beats_physio.tsv")
    windows0 = read_tsv(beh / f"{PREFIX}_desc-windows_physio.tsv")
    plan = pick_edits(beats0, windows0)
    from playwright.sync_api import sync_playwright

    server = ReviewProcess(drive05, tmp_path / "home", author="analyst")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
            page = open_page(browser, server.url + f"?rec={PREFIX}")
            e = plan["extra"]
            set_view(page, e - 2.0, e + 2.0)
            choose_mode(page, "delete beat")
            click_time(page, "ecg_fig", e)
            wait_text(page, "message", f"beat at {e:.3f} s deleted")
            # the missed beat: where the analyst sees a QRS between the two beats
            before, after = plan["missed"]
            set_view(page, before - 0.5, after + 0.5)
            t = np.array(source_column(page, "ecg_trace", "t"), dtype=float)
            y = np.array(source_column(page, "ecg_trace", "y"), dtype=float)
            mid = (t > before + 0.3) & (t < after - 0.3)
            qrs = float(t[mid][np.nanargmax(np.abs(y[mid]))])
            choose_mode(page, "add beat")
            click_time(page, "ecg_fig", qrs)
            wait_text(page, "message", "beat added at")
            a, b = plan["stretch"]
            set_view(page, a - 5.0, b + 5.0)
            choose_mode(page, "mark unusable")
            page.get_by_role("combobox").select_option("ecg")
            click_time(page, "ecg_fig", a)
            wait_text(page, "message", "click where it ends")
            click_time(page, "ecg_fig", b)
            wait_text(page, "banner", "3 unsaved edits")
            press(page, "Save")
            wait_text(page, "message", "re-processed", timeout_ms=300_000)
            browser.close()
    finally:
        server.stop()
    edits = read_edits(beh / f"{PREFIX}_desc-edits_physio.tsv")
    assert [e.action for e in edits] == ["delete_beat", "add_beat", "mark_unusable"]
    assert all(e.author == "analyst" for e in edits)
    windows1 = read_tsv(beh / f"{PREFIX}_desc-windows_physio.tsv")
    assert len(windows1) == len(windows0)
    changed = {i for i in windows0.index
               if not windows0.loc[i].equals(windows1.loc[i])}
    assert changed == plan["windows"], (changed, plan["windows"])
