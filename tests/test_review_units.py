"""The review page's parts without a browser: decimation, the catalog's order, the edit
session (undo, journal, merge on save), and the code hash leaving the page out."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from physio.edits import Edit, EditConflictError, read_edits, write_edits
from physio.review.catalog import RecordingEntry, mean_quality, recording_catalog, sort_key
from physio.review.data import beat_display_class, implausible_rr
from physio.review.decimate import Trace, minmax_decimate
from physio.review.page import banner_html, stretch_data
from physio.review.session import ReviewSession, draft_path, recording_drafts

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- decimation
def test_decimation_keeps_every_bucket_extreme_and_spikes():
    rng = np.random.default_rng(1)
    y = rng.normal(size=5_400_000)  # 90 min at 1000 Hz
    y[1_234_567] = 40.0  # one narrow spike: plain subsampling would lose it
    y[4_000_001] = -35.0
    tr = Trace(2.5, 1000.0, y)
    t, d = minmax_decimate(tr, tr.start_s, tr.end_s, buckets=2000)
    assert len(t) <= 4002
    assert d.max() == 40.0 and d.min() == -35.0
    assert np.all(np.diff(t) > 0)  # time order
    # every point is a real sample at its own time
    idx = np.round((t - 2.5) * 1000.0).astype(int)
    assert np.array_equal(y[idx], d)
    # each bucket's min and max are there
    size = -(-len(y) // 2000)
    for b in (0, 617, 1999):
        block = y[b * size:(b + 1) * size]
        assert block.max() in d and block.min() in d


def test_decimation_is_exact_at_full_resolution_and_clips_to_the_trace():
    y = np.arange(10_000, dtype=float)
    tr = Trace(100.0, 250.0, y)
    t, d = minmax_decimate(tr, 110.0, 120.0, buckets=2000)  # 2501 samples <= 4000
    i0 = 10 * 250
    assert np.array_equal(d, y[i0:i0 + len(d)]) and len(d) == 2501
    assert np.allclose(t, 100.0 + np.arange(i0, i0 + len(d)) / 250.0)
    t, d = minmax_decimate(tr, 0.0, 50.0)  # before the trace
    assert len(t) == 0
    t, d = minmax_decimate(tr, 139.0, 1e9)  # runs past its end
    assert d[-1] == y[-1]


def test_decimation_breaks_the_line_at_a_gap():
    y = np.sin(np.arange(100_000) / 30.0)
    y[50_000:52_000] = np.nan
    t, d = minmax_decimate(Trace(0.0, 1000.0, y), 0.0, 100.0, buckets=500)
    assert np.isnan(d).any() and np.nanmax(d) == np.nanmax(y)


# ----------------------------------------------------------------------------- catalog
def _entry(prefix, ecg, eda, resp, q):
    return RecordingEntry(prefix, "1", "1", "t", Path("x"), ecg, eda, resp, q,
                          "not reviewed", 0)


def test_catalog_sort_is_worst_first_by_channel_shares_then_quality():
    entries = [_entry("good", 100.0, 100.0, 100.0, 0.95),
               _entry("bad_belt", 100.0, 100.0, 20.0, 0.9),
               _entry("bad_ecg", 35.0, 90.0, None, 0.8),
               _entry("low_quality", 100.0, 100.0, 100.0, 0.6),
               _entry("no_belt_good", 100.0, 100.0, None, 0.97),
               _entry("eda_80", 100.0, 80.0, 100.0, 0.99),
               _entry("ecg_80", 80.0, 100.0, 100.0, 0.99)]
    order = [e.prefix for e in sorted(entries, key=sort_key)]
    assert order == ["bad_belt", "bad_ecg", "ecg_80", "eda_80", "low_quality", "good",
                     "no_belt_good"]


def test_mean_quality_leaves_partial_windows_out():
    w = pd.DataFrame({"ecg_quality": [0.9, 0.1], "resp_quality": [0.7, 0.0],
                      "partial": ["false", "true"]})
    assert mean_quality(w) == pytest.approx(0.8)
    assert math.isnan(mean_quality(pd.DataFrame({"ecg_quality": [np.nan]})))


def _fake_recording(deriv: Path, sub: str, ecg: float, quality: float) -> Path:
    beh = deriv / f"sub-{sub}" / "ses-1" / "beh"
    beh.mkdir(parents=True)
    prefix = f"sub-{sub}_ses-1_task-induction"
    wj = beh / f"{prefix}_desc-windows_physio.json"
    wj.write_text(json.dumps({"SootheProvenance": {"quality": {
        "ecg_valid_pct": ecg, "eda_valid_pct": 100.0, "resp_valid_pct": None}}}))
    pd.DataFrame({"start_s": [0.0], "end_s": [60.0], "partial": ["false"],
                  "ecg_quality": [quality]}).to_csv(
        beh / f"{prefix}_desc-windows_physio.tsv", sep="\t", index=False)
    return wj


def test_catalog_reads_a_derivatives_folder_with_review_status(tmp_path):
    _fake_recording(tmp_path, "01", 100.0, 0.9)
    wj = _fake_recording(tmp_path, "02", 50.0, 0.9)
    _fake_recording(tmp_path, "03", 100.0, 0.5)
    edits = wj.with_name(wj.name.replace("windows", "edits").replace(".json", ".tsv"))
    write_edits(edits, [Edit("delete_beat", "ecg", 3.0, author="a")])
    (tmp_path / "sub-04" / "ses-1" / "beh").mkdir(parents=True)  # a broken sidecar: left out
    (tmp_path / "sub-04/ses-1/beh/sub-04_ses-1_task-induction_desc-windows_physio.json"
     ).write_text("{not json")
    cat = recording_catalog(tmp_path)
    assert [e.participant for e in cat] == ["02", "03", "01"]
    assert [e.status for e in cat] == ["edited", "not reviewed", "not reviewed"]
    assert [e.participant for e in recording_catalog(tmp_path, "sub-03")] == ["03"]


# ----------------------------------------------------------------------------- display
def test_beat_classes_and_implausible_intervals():
    b = pd.DataFrame({"beat_class": ["normal", "removed", "extra"],
                      "corrected": ["false", "false", "true"],
                      "low_quality": ["false", "false", "false"], "reason": ["", "flat", ""]})
    assert beat_display_class(b).tolist() == ["normal", "removed", "corrected"]
    assert implausible_rr(np.array([330.0, 340.0, 1490.0, 1510.0])).tolist() == [
        True, False, False, True]


def test_banner_and_stretch_rows():
    assert "3 unsaved edits" in banner_html(3) and "NOT SAVED" in banner_html(3)
    d = stretch_data([Edit("mark_unusable", "eda", 5.0, end_s=9.0),
                      Edit("mark_usable", "resp", 1.0, end_s=2.0),
                      Edit("delete_beat", "ecg", 4.0)])
    assert d["row"] == ["EDA", "belt"] and d["x1"] == [9.0, 2.0]


# ----------------------------------------------------------------------------- session
def test_session_undo_journal_restore_and_save(tmp_path):
    wj = _fake_recording(tmp_path, "01", 100.0, 0.9)
    s = ReviewSession.open(wj, "ana")
    s.add(Edit("delete_beat", "ecg", 10.0, author="ana"))
    s.add(Edit("add_beat", "ecg", 20.0, author="ana"))
    s.add(Edit("mark_unusable", "eda", 30.0, end_s=40.0, author="ana"))
    assert s.draft == draft_path(wj, s.page)
    assert s.draft.is_file() and len(read_edits(s.draft)) == 3
    assert s.undo().action == "mark_unusable"
    assert [e.action for e in read_edits(s.draft)] == ["delete_beat", "add_beat"]
    assert not s.edits_tsv.exists()  # nothing written before Save
    # while the page is open, its draft is its own: a second page is not offered it
    assert ReviewSession.open(wj, "ana").draft_edits() == []
    # the page is gone (a closed tab; a crashed server has no open page at all): a new
    # page finds the draft and restores it
    s.close()
    s2 = ReviewSession.open(wj, "ana")
    assert len(s2.draft_edits()) == 2 and s2.pending == []
    assert s2.restore_draft() == 2
    assert recording_drafts(wj) == [s2.draft]  # the earlier draft became this page's
    calls = []
    result = s2.save(lambda p: calls.append(p) or {"status": "ok"})
    assert calls == [wj] and not result.merged and result.reprocessed == {"status": "ok"}
    assert [e.action for e in read_edits(s2.edits_tsv)] == ["delete_beat", "add_beat"]
    assert recording_drafts(wj) == []


def test_two_pages_on_one_recording_keep_their_own_journals(tmp_path):
    """Two tabs on one recording: each journals to its own draft, so neither overwrites
    the other's unsaved edits (with one shared draft, the tab that changed last wrote it
    and the other's edits were lost in a crash)."""
    wj = _fake_recording(tmp_path, "01", 100.0, 0.9)
    a, b = ReviewSession.open(wj, "ana"), ReviewSession.open(wj, "bo")
    a.add(Edit("delete_beat", "ecg", 10.0, author="ana"))
    a.add(Edit("delete_beat", "ecg", 12.0, author="ana"))
    b.add(Edit("add_beat", "ecg", 50.0, author="bo"))
    assert [e.time_s for e in read_edits(a.draft)] == [10.0, 12.0]
    assert [e.time_s for e in read_edits(b.draft)] == [50.0]
    assert a.edits_in_open_pages() == 1 and b.edits_in_open_pages() == 2
    assert a.draft_edits() == [] and b.draft_edits() == []  # both pages are open
    # Save in one page removes its own draft only
    a.save()
    assert recording_drafts(wj) == [b.draft]
    # the server dies with b's edits unsaved: the next page gets them back
    b.close()
    c = ReviewSession.open(wj, "cy")
    assert [e.time_s for e in c.draft_edits()] == [50.0]
    # Discard forgets only drafts no open page holds
    d = ReviewSession.open(wj, "di")
    d.add(Edit("delete_beat", "ecg", 70.0, author="di"))
    c.discard_draft()
    assert recording_drafts(wj) == [d.draft]


def test_save_merges_another_analysts_file_or_refuses_a_conflict(tmp_path):
    wj = _fake_recording(tmp_path, "01", 100.0, 0.9)
    ana = ReviewSession.open(wj, "ana")
    ana.add(Edit("delete_beat", "ecg", 10.0, author="ana"))
    # meanwhile bo saved an edit elsewhere: merged
    write_edits(ana.edits_tsv, [Edit("add_beat", "ecg", 50.0, author="bo")])
    result = ana.save()
    assert result.merged
    assert [(e.action, e.author) for e in read_edits(ana.edits_tsv)] == [
        ("add_beat", "bo"), ("delete_beat", "ana")]
    # then bo moves the beat ana deleted: ana's next save is refused, the file untouched
    ana.add(Edit("delete_beat", "ecg", 70.0, author="ana"))
    write_edits(ana.edits_tsv, [*read_edits(ana.edits_tsv),
                                Edit("move_beat", "ecg", 70.01, new_time_s=70.3, author="bo")])
    before = ana.edits_tsv.read_bytes()
    with pytest.raises(EditConflictError, match="bo moved the beat"):
        ana.save()
    assert ana.edits_tsv.read_bytes() == before
    assert len(ana.pending) == 1 and ana.draft.is_file()  # nothing lost


# ----------------------------------------------------------------------------- code hash
def _code_hash_of(tree: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-c", "import physio.sidecar as s; "
                          "print(s.code_hash())"], cwd=tree, env=env, capture_output=True,
                         text=True, check=True)
    return out.stdout.strip()


def test_code_hash_leaves_the_review_page_out(tmp_path):
    """Editing the review page keeps every processed recording up to date; editing the
    pipeline does not."""
    tree = tmp_path / "tree"
    for package in ("physio", "conditions"):
        shutil.copytree(REPO / package, tree / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    before = _code_hash_of(tree)
    page = tree / "physio" / "review" / "page.py"
    page.write_text(page.read_text() + "\n# a new button\n")
    (tree / "physio" / "review" / "extra.py").write_text("X = 1\n")
    assert _code_hash_of(tree) == before
    qc = tree / "physio" / "qc.py"
    qc.write_text(qc.read_text() + "\n# a changed pipeline\n")
    assert _code_hash_of(tree) != before


# ----------------------------------------------------------------------------- views ahead
def test_a_view_built_ahead_is_used_only_while_the_recordings_files_are_unchanged(tmp_path):
    from physio.review.server import ViewPool, view_stamp

    wj = _fake_recording(tmp_path, "01", 100.0, 0.9)
    built, closed = [], []

    class Pool(ViewPool):
        def build(self, windows_json):
            view = types.SimpleNamespace()
            view.session = types.SimpleNamespace(close=lambda: closed.append(view))
            built.append(view)
            return view

    pool = Pool("ana", lambda p: {})
    stamp = view_stamp(wj)
    pool.prepare(wj)
    first = pool.take(wj)  # waits for the one being built
    assert first is built[0] and len(built) == 1
    assert pool.take(wj) is built[1]  # none ahead any more: built now
    pool.prepare(wj)
    for _ in range(500):  # until the view ahead is there
        if wj in pool.spares:
            break
        time.sleep(0.01)
    assert wj in pool.spares
    # an unsaved edit journaled meanwhile (another tab): the view ahead is stale
    s = ReviewSession.open(wj, "bo")
    s.add(Edit("delete_beat", "ecg", 5.0, author="bo"))
    assert view_stamp(wj) != stamp
    n = len(built)
    stale = pool.spares[wj][1]
    view = pool.take(wj)
    assert view is built[-1] and len(built) == n + 1
    assert closed == [stale]  # the stale view's page is never shown: it is closed
