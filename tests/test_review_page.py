"""The review page end to end: ``soothe physio review`` serving a simulated, processed
recording, and headless Chromium clicking its real buttons and its real canvas.

Every test has its own copy of the derivatives, its own port and HOME.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
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
    model_text,
    open_page,
    press,
    set_view,
    source_column,
    wait_text,
)

from physio.edits import Edit, read_edits, write_edits

PREFIX = "sub-001_ses-1_task-induction"


def soothe(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg", "HOME": str(cwd)}
    proc = subprocess.run([PYTHON, "-m", "soothe", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def processed(tmp_path_factory) -> Path:
    """Two simulated recordings (250 Hz) processed by ``soothe physio process``."""
    from soothe.simulate import simulate_study

    work = tmp_path_factory.mktemp("review_study")
    simulate_study(work / "raw", 2, seed=7, fs=250.0)
    soothe("physio", "process", str(work / "raw"), "--out", str(work / "deriv"),
           "--no-progress", cwd=work)
    return work / "deriv"


@pytest.fixture
def deriv(processed, tmp_path) -> Path:
    """This test's own copy of the derivatives (the raw data stay shared, read-only)."""
    out = tmp_path / "deriv"
    shutil.copytree(processed, out)
    return out


@pytest.fixture(scope="module")
def browser():
    exe = chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def review(deriv, tmp_path):
    servers: list[ReviewProcess] = []

    def start(*extra: str, author: str = "tester") -> ReviewProcess:
        servers.append(ReviewProcess(deriv, tmp_path / "home", *extra, author=author))
        return servers[-1]

    yield start
    for s in servers:
        s.stop()


def files_of(deriv: Path, prefix: str = PREFIX) -> dict[str, Path]:
    sub, ses = prefix.split("_")[:2]
    beh = deriv / sub / ses / "beh"
    return {k: beh / f"{prefix}_desc-{k}_physio.tsv" for k in ("beats", "windows", "edits")}


def read_tsv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=False)


def is_true(col: pd.Series) -> np.ndarray:
    return col.astype(str).str.lower().isin(("true", "1")).to_numpy()


def expected_rmssd(beats: pd.DataFrame, start: float, end: float) -> float:
    """RMSSD of a window from beat times alone: the RR intervals are the differences of the
    kept beats' times, and a successive difference counts when both its intervals end at
    beats the pipeline left unflagged (the NN definition, as documented in the windows
    sidecar: RMSSD over successive differences of two normal-to-normal intervals)."""
    kept = beats[beats["beat_class"].astype(str) != "removed"]
    t = kept["r_peak_s"].to_numpy(float)
    flagged = is_true(kept["corrected"])
    rr = np.r_[np.nan, np.diff(t) * 1000.0]
    inside = np.flatnonzero((t >= start) & (t < end))
    diffs = [rr[j] - rr[i] for i, j in zip(inside[:-1], inside[1:], strict=True)
             if np.isfinite(rr[i]) and np.isfinite(rr[j]) and not flagged[i]
             and not flagged[j]]
    return float(np.sqrt(np.mean(np.square(diffs))))


def a_full_window(deriv: Path, k: int = 3) -> pd.Series:
    w = read_tsv(files_of(deriv)["windows"])
    w = w[~is_true(w["partial"]) & is_true(w["ecg_valid"])]
    return w.iloc[k]


# ------------------------------------------------------------------------------ the list
def test_list_is_worst_first_and_a_click_opens_the_recording(deriv, review, browser):
    # the second recording's belt and ECG are judged worse (as the sidecar would say)
    wj = deriv / "sub-002/ses-1/beh/sub-002_ses-1_task-induction_desc-windows_physio.json"
    side = json.loads(wj.read_text())
    side["SootheProvenance"]["quality"].update(ecg_valid_pct=41.0, resp_valid_pct=12.0)
    wj.write_text(json.dumps(side))
    write_edits(files_of(deriv)["edits"], [Edit("reviewed", "all", float("nan"),
                                                author="ana")])
    server = review()
    page = browser.new_page(viewport={"width": 1300, "height": 700})
    page.goto(server.url)
    page.wait_for_selector("tr.rec")
    rows = page.locator("tr.rec").all_inner_texts()
    assert [r.split("\t")[1] for r in rows] == ["sub-002_ses-1_task-induction", PREFIX]
    assert "41 %" in rows[0] and "12 %" in rows[0] and "not reviewed" in rows[0]
    assert "reviewed" in rows[1]
    page.get_by_role("link", name=PREFIX).click()
    page.wait_for_function("() => window.Bokeh && Bokeh.documents.length && "
                           "Bokeh.documents[0].get_model_by_name('header') != null")
    assert PREFIX in model_text(page, "header") and "reviewed" in model_text(page, "header")
    page.close()


def test_page_and_its_scripts_come_from_the_local_server_only(deriv, review, browser):
    server = review()
    html = urllib.request.urlopen(server.url + f"?rec={PREFIX}").read().decode()
    assert "https://" not in html and "cdn.bokeh.org" not in html
    urls: list[str] = []
    page = browser.new_page()
    page.on("request", lambda r: urls.append(r.url))
    page.goto(server.url + f"?rec={PREFIX}")
    page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0")
    assert urls and all(u.startswith(f"http://127.0.0.1:{server.port}/")
                        or u.startswith(f"ws://127.0.0.1:{server.port}/") for u in urls), urls
    assert any("/static/js/bokeh" in u for u in urls)
    page.close()


# ------------------------------------------------------------------------------ editing
def test_clicks_delete_and_add_a_beat_save_and_rmssd_follows(deriv, review, browser):
    """Delete one detected beat; delete another and add it back by clicking 25 ms off its R
    peak (the added beat snaps to the R peak); save; the edit file holds the three rows and
    the re-processed window's RMSSD is the one its edited beats give."""
    paths = files_of(deriv)
    beats0 = read_tsv(paths["beats"])
    win = a_full_window(deriv)
    start, end = float(win["start_s"]), float(win["end_s"])
    t_all = beats0["r_peak_s"].to_numpy(float)
    inside = t_all[(t_all > start + 5) & (t_all < end - 5)]
    a, b = float(inside[10]), float(inside[20])
    server = review()
    page = open_page(browser, server.url + f"?rec={PREFIX}")
    set_view(page, a - 4.0, a + 4.0)
    choose_mode(page, "delete beat")
    click_time(page, "ecg_fig", a + 0.01)
    wait_text(page, "message", f"beat at {a:.3f} s deleted")
    set_view(page, b - 4.0, b + 4.0)
    click_time(page, "ecg_fig", b)
    wait_text(page, "message", f"beat at {b:.3f} s deleted")
    choose_mode(page, "add beat")
    click_time(page, "ecg_fig", b + 0.025)
    wait_text(page, "message", "beat added at")
    added = source_column(page, "pending_add", "t")
    assert len(added) == 1 and abs(added[0] - b) < 0.003  # snapped back onto the R peak
    assert "3 unsaved edits" in model_text(page, "banner")
    assert not paths["edits"].exists()  # nothing written before Save
    windows0 = read_tsv(paths["windows"])
    press(page, "Save")
    wait_text(page, "message", "re-processed", timeout_ms=120_000)
    assert "All edits are saved" in model_text(page, "banner")
    edits = read_edits(paths["edits"])
    assert [(e.action, e.channel, e.author) for e in edits] == [
        ("delete_beat", "ecg", "tester"), ("delete_beat", "ecg", "tester"),
        ("add_beat", "ecg", "tester")]
    assert edits[0].time_s == pytest.approx(a, abs=1e-6)
    assert edits[1].time_s == pytest.approx(b, abs=1e-6)
    assert edits[2].time_s == pytest.approx(b, abs=0.003)
    # the re-processed beats: a is gone, b is back (within a sample), nothing else moved
    beats1 = read_tsv(paths["beats"])
    t1 = beats1.loc[beats1["beat_class"].astype(str) != "removed", "r_peak_s"].to_numpy(float)
    t0 = t_all[beats0["beat_class"].astype(str) != "removed"]
    assert len(t1) == len(t0) - 1
    assert np.min(np.abs(t1 - a)) > 0.2 and np.min(np.abs(t1 - b)) < 0.004
    others = t0[(np.abs(t0 - a) > 0.01) & (np.abs(t0 - b) > 0.01)]
    assert np.allclose(np.sort(t1[np.abs(t1 - b) > 0.01]), others)
    # the window's RMSSD is the one its edited beat series gives, and it changed
    windows1 = read_tsv(paths["windows"])
    row = windows1[(windows1["start_s"] == win["start_s"]) & (windows1["phase"] == win["phase"])]
    got = float(row["rmssd_ms"].iloc[0])
    assert got == pytest.approx(expected_rmssd(beats1, start, end), rel=1e-9)
    before = windows0.loc[row.index[0], "rmssd_ms"]
    assert got != pytest.approx(before, rel=1e-6)
    # and the page shows the re-processed beats: the deleted one as removed, b as manual
    shown = np.array(source_column(page, "beats", "t"), dtype=float)
    cls = source_column(page, "beats", "cls")
    assert cls[int(np.argmin(np.abs(shown - a)))] == "removed"
    assert {c for c, t in zip(cls, shown, strict=True) if abs(t - b) < 0.005} == {
        "removed", "manual"}  # the deleted detection, and the beat added by hand
    assert "edited" in model_text(page, "header")
    assert not page.page_errors
    page.close()


def test_undo_and_the_unsaved_banner(deriv, review, browser):
    beats = read_tsv(files_of(deriv)["beats"])["r_peak_s"].to_numpy(float)
    t = beats[(beats > 200) & (beats < 210)]
    server = review()
    page = open_page(browser, server.url + f"?rec={PREFIX}")
    set_view(page, 199.0, 211.0)
    choose_mode(page, "delete beat")
    for k in range(3):
        click_time(page, "ecg_fig", float(t[k]))
        wait_text(page, "banner", f"{k + 1} unsaved edit")
    assert "3 unsaved edits" in model_text(page, "banner")
    assert "NOT SAVED" in model_text(page, "banner")
    assert len(source_column(page, "pending_delete", "t")) == 3
    press(page, "Undo")
    wait_text(page, "banner", "2 unsaved edits")
    assert source_column(page, "pending_delete", "t") == pytest.approx(list(t[:2]))
    press(page, "Undo")
    press(page, "Undo")
    wait_text(page, "banner", "All edits are saved")
    press(page, "Undo")
    wait_text(page, "message", "nothing to undo")
    assert not files_of(deriv)["edits"].exists()
    page.close()


def test_a_second_analysts_conflicting_file_is_refused_and_left_untouched(deriv, review,
                                                                          browser):
    paths = files_of(deriv)
    beats = read_tsv(paths["beats"])["r_peak_s"].to_numpy(float)
    a = float(beats[(beats > 300)][0])
    server = review()
    page = open_page(browser, server.url + f"?rec={PREFIX}")
    set_view(page, a - 3, a + 3)
    choose_mode(page, "delete beat")
    click_time(page, "ecg_fig", a)
    wait_text(page, "banner", "1 unsaved edit")
    # meanwhile another analyst saved a move of that very beat
    write_edits(paths["edits"], [Edit("move_beat", "ecg", a, new_time_s=a + 0.1,
                                      author="bo")])
    before = paths["edits"].read_bytes()
    windows_before = paths["windows"].read_bytes()
    press(page, "Save")
    text = wait_text(page, "message", "NOT SAVED")
    assert "conflict" in text and "bo moved the beat" in text
    assert paths["edits"].read_bytes() == before
    assert paths["windows"].read_bytes() == windows_before
    assert "1 unsaved edit" in model_text(page, "banner")  # still there, still unsaved
    page.close()


def test_unsaved_edits_survive_a_crash_and_are_restored(deriv, review, browser):
    paths = files_of(deriv)
    beats = read_tsv(paths["beats"])["r_peak_s"].to_numpy(float)
    a = float(beats[(beats > 400)][0])
    server = review()
    page = open_page(browser, server.url + f"?rec={PREFIX}")
    set_view(page, a - 3, a + 3)
    choose_mode(page, "delete beat")
    click_time(page, "ecg_fig", a)
    wait_text(page, "banner", "1 unsaved edit")
    choose_mode(page, "mark unusable")
    page.get_by_role("combobox").select_option("eda")
    page.wait_for_function("() => Bokeh.documents[0].get_model_by_name('channel').value"
                           " == 'eda'")
    click_time(page, "windows_fig", a - 2)
    wait_text(page, "message", "click where it ends")
    click_time(page, "windows_fig", a + 1)
    wait_text(page, "banner", "2 unsaved edits")
    # the browser and the server die without a save
    page.close()
    server.kill()
    assert not paths["edits"].exists()
    server2 = review()
    page = open_page(browser, server2.url + f"?rec={PREFIX}")
    assert "2 unsaved edits from an earlier session" in model_text(page, "draft")
    assert "unsaved" not in model_text(page, "banner")
    press(page, "Restore unsaved edits")
    wait_text(page, "banner", "2 unsaved edits")
    press(page, "Save")
    wait_text(page, "message", "re-processed", timeout_ms=120_000)
    edits = read_edits(paths["edits"])
    assert [(e.action, e.channel) for e in edits] == [("delete_beat", "ecg"),
                                                      ("mark_unusable", "eda")]
    assert edits[1].time_s == pytest.approx(a - 2, abs=0.05)
    assert edits[1].end_s == pytest.approx(a + 1, abs=0.05)
    page.close()


def test_a_moved_source_file_is_said_clearly(deriv, review, browser):
    wj = deriv / f"sub-001/ses-1/beh/{PREFIX}_desc-windows_physio.json"
    side = json.loads(wj.read_text())
    side["SootheProvenance"]["source"] = str(deriv / "gone" / "rec.tsv.gz")
    wj.write_text(json.dumps(side))
    server = review()
    page = browser.new_page()
    page.goto(server.url + f"?rec={PREFIX}")
    page.wait_for_function("() => window.Bokeh && Bokeh.documents.length && "
                           "Bokeh.documents[0].get_model_by_name('message') != null")
    text = model_text(page, "message")
    assert "not there any more" in text and "rec.tsv.gz" in text
    page.close()


def test_cli_help_lists_review():
    out = subprocess.run([PYTHON, "-m", "soothe", "physio", "review", "--help"],
                         capture_output=True, text=True, env={**os.environ,
                                                              "PYTHONPATH": str(REPO)})
    assert out.returncode == 0
    for word in ("--participant", "--port", "--author", "--no-browser"):
        assert word in out.stdout


def test_move_a_beat_scr_edits_a_usable_stretch_and_reviewed_with_a_note(deriv, review,
                                                                          browser):
    """The other modes by clicking: move a beat (two clicks), delete an SCR and restore it,
    mark a stretch usable on the EDA, and mark the recording reviewed with a note."""
    paths = files_of(deriv)
    beats = read_tsv(paths["beats"])["r_peak_s"].to_numpy(float)
    scr = read_tsv(paths["beats"].with_name(f"{PREFIX}_desc-scr_physio.tsv"))
    peak = float(scr["peak_s"].to_numpy(float)[(scr["peak_s"] > 600).to_numpy()][0])
    b = float(beats[beats > 500][0])
    server = review()
    page = open_page(browser, server.url + f"?rec={PREFIX}")
    set_view(page, b - 2, b + 2)
    choose_mode(page, "move beat")
    click_time(page, "ecg_fig", b)
    wait_text(page, "message", "click where it belongs")
    click_time(page, "ecg_fig", b + 0.04)
    wait_text(page, "banner", "1 unsaved edit")
    set_view(page, peak - 10, peak + 10)
    choose_mode(page, "delete SCR")
    click_time(page, "eda_fig", peak + 0.2)
    wait_text(page, "banner", "2 unsaved edits")
    assert source_column(page, "scr_deleted", "t") == pytest.approx([peak])
    choose_mode(page, "restore SCR")
    click_time(page, "eda_fig", peak)
    wait_text(page, "banner", "3 unsaved edits")
    assert source_column(page, "scr_deleted", "t") == []
    choose_mode(page, "mark usable")
    page.get_by_role("combobox").select_option("eda")
    click_time(page, "eda_fig", peak - 5)
    wait_text(page, "message", "click where it ends")
    click_time(page, "eda_fig", peak + 5)
    wait_text(page, "banner", "4 unsaved edits")
    page.get_by_placeholder("optional note").fill("checked every window")
    press(page, "Mark reviewed")  # the note as typed, without Enter
    wait_text(page, "banner", "5 unsaved edits")
    press(page, "Save")
    wait_text(page, "message", "re-processed", timeout_ms=120_000)
    edits = read_edits(paths["edits"])
    assert [(e.action, e.channel) for e in edits] == [
        ("move_beat", "ecg"), ("delete_scr", "eda"), ("restore_scr", "eda"),
        ("mark_usable", "eda"), ("reviewed", "all")]
    assert edits[0].time_s == pytest.approx(b, abs=1e-6)
    assert edits[0].new_time_s == pytest.approx(b + 0.04, abs=0.01)
    assert edits[1].time_s == pytest.approx(peak, abs=1e-6) == edits[2].time_s
    assert edits[4].note == "checked every window"
    assert "edited" in model_text(page, "header")
    page.close()
