"""The report's methods state the hand corrections the sidecars record (GRAPH)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from analysis.physio_methods import (
    manual_corrections,
    manual_corrections_sentence,
    methods_paragraphs,
    physio_methods_summary,
)
from conditions import bids
from conditions.bids import BEATS_COLUMNS, WINDOWS_COLUMNS, parse_session_files, read_tsv
from physio.batch import run_batch
from physio.edits import Edit, write_edits


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> tuple[Path, Path]:
    from soothe.simulate import simulate_study

    root = tmp_path_factory.mktemp("methods_edits")
    simulate_study(root / "raw", 3, seed=4, fs=250.0)
    assert run_batch([root / "raw"], root / "deriv", progress=False)["ok"] == 3
    return root / "raw", root / "deriv"


def summary_of(raw: Path, deriv: Path) -> dict:
    windows = bids.read_tsv(bids.group_windows_paths(deriv)[0])
    return physio_methods_summary(raw, deriv, windows)


def test_no_edits_no_corrections(study):
    s = summary_of(*study)
    assert s["items"]["manual_corrections"]["value"] == "none recorded"
    assert methods_paragraphs(s)[-1].endswith("No manual corrections are recorded in the "
                                              "sidecars.")


def test_edited_recording_is_counted_in_the_methods(study, tmp_path):
    raw, first = study
    deriv = tmp_path / "deriv"
    shutil.copytree(first, deriv)
    windows = sorted(deriv.glob("sub-*/ses-*/beh/*_desc-windows_physio.tsv"))[1]
    files = parse_session_files(windows.with_name(
        windows.name.replace("_desc-windows_physio.tsv", "_events.tsv")))
    w = read_tsv(windows, WINDOWS_COLUMNS)
    w = w[(w.phase == "baseline") & (w.window == 2)].iloc[0]
    b = read_tsv(files.beats_tsv(deriv), BEATS_COLUMNS)
    b = b[(b.r_peak_s >= w.start_s) & (b.r_peak_s < w.end_s)].r_peak_s.to_numpy()
    write_edits(files.edits_tsv(deriv), [
        Edit("delete_beat", "ecg", float(b[10]), author="ana"),
        Edit("delete_beat", "ecg", float(b[20]), author="ana"),
        Edit("move_beat", "ecg", float(b[30]), new_time_s=float(b[30]) + 0.01, author="ana"),
        Edit("mark_unusable", "eda", w.start_s + 5, end_s=w.start_s + 20, author="ana")])
    s = run_batch([raw], deriv, progress=False)
    assert (s["ok"], s["skipped"]) == (1, 2)
    summary = summary_of(raw, deriv)
    n_beats = summary["manual_corrections"]["edits"][next(iter(
        summary["manual_corrections"]["edits"]))]["n_beats"]
    sentence = methods_paragraphs(summary)[-1]
    share = 100 * 3 / n_beats
    assert (f"3 beats were corrected by hand in 1 recording ({share:.2f} % of its {n_beats} "
            "beats: 0 added, 2 deleted, 1 moved); 15 s of signal were marked unusable by hand "
            "in 1 recording (EDA 15 s). 1 of the 3 recordings was reviewed by an analyst."
            ) in sentence
    item = summary["items"]["manual_corrections"]["value"]
    assert item.startswith("3 beats were corrected by hand in 1 recording")


def test_sentence_counts_over_recordings():
    blocks = {f"r{i}": {"manual_corrections": {"beats_added": i, "beats_deleted": 0,
                                               "beats_moved": 0, "n_beats": 1000,
                                               "reviewed": i == 0}}
              for i in range(3)}
    text = manual_corrections_sentence(manual_corrections(blocks), 5)
    assert text.startswith("3 beats were corrected by hand in 2 recordings (0.15 % of their "
                           "2000 beats: 3 added, 0 deleted, 0 moved).")
    assert text.endswith("3 of the 5 recordings were reviewed by an analyst.")
    only_reviewed = {"r": {"manual_corrections": {"status": "reviewed", "reviewed": True}}}
    assert manual_corrections_sentence(manual_corrections(only_reviewed), 2) == (
        "No beats were corrected by hand. 1 of the 2 recordings was reviewed by an analyst.")
    other_tool = {"r": {"manual_corrections": [{"beat": 1}, {"beat": 2}]}}
    assert manual_corrections_sentence(manual_corrections(other_tool), 1) == (
        "Manual corrections: beats in 1 recording(s), phase boundaries in 0 recording(s).")
