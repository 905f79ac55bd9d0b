"""Edits in the batch: applied on re-run, exactly where they are, up-to-date check, stale
edits, broken edit files, re-processing one recording (physio.batch, physio.reprocess)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conditions.bids import (
    BEATS_COLUMNS,
    PHASES_COLUMNS,
    WINDOWS_COLUMNS,
    failures_tsv,
    group_windows_paths,
    parse_session_files,
    qc_index_html,
    read_tsv,
)
from physio.batch import run_batch
from physio.edits import MATCH_S, Edit, read_edits, write_edits
from physio.reprocess import reprocess_recording

N_PARTICIPANTS = 2


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    from soothe.simulate import simulate_study

    out = tmp_path_factory.mktemp("raw")
    simulate_study(out, N_PARTICIPANTS, seed=5, fs=250.0)
    return out


@pytest.fixture(scope="module")
def first_run(raw, tmp_path_factory):
    deriv = tmp_path_factory.mktemp("deriv")
    summary = run_batch([raw], deriv, progress=False)
    assert summary["ok"] == N_PARTICIPANTS
    return deriv


def copy_of(first_run: Path, tmp_path: Path) -> Path:
    deriv = tmp_path / "deriv"
    shutil.copytree(first_run, deriv)
    return deriv


def recording(deriv: Path, i: int = 0) -> tuple[Path, Path, Path]:
    """(windows TSV, beats TSV, edit file) of the i-th recording."""
    windows = sorted(deriv.glob("sub-*/ses-*/beh/*_desc-windows_physio.tsv"))[i]
    files = parse_session_files(windows.with_name(
        windows.name.replace("_desc-windows_physio.tsv", "_events.tsv")))
    return windows, files.beats_tsv(deriv), files.edits_tsv(deriv)


def kept_beats(beats_tsv: Path) -> pd.DataFrame:
    b = read_tsv(beats_tsv, BEATS_COLUMNS)
    return b[b.beat_class != "removed"].reset_index(drop=True)


def valid_window(windows: pd.DataFrame, phase: str, k: int) -> pd.Series:
    w = windows[(windows.phase == phase) & (windows.window == k)].iloc[0]
    assert w.ecg_valid, "the test needs a valid window to edit"
    return w


def middle_beat(beats: pd.DataFrame, w: pd.Series, share: float = 0.5) -> float:
    inside = beats[(beats.r_peak_s >= w.start_s) & (beats.r_peak_s < w.end_s)
                   & (beats.beat_class == "normal")]
    return float(inside.r_peak_s.iloc[int(share * len(inside))])


def changed_rows(before: pd.DataFrame, after: pd.DataFrame) -> list[tuple[str, int]]:
    assert len(before) == len(after)
    out = []
    for (_, a), (_, b) in zip(before.iterrows(), after.iterrows(), strict=True):
        same = all((pd.isna(a[c]) and pd.isna(b[c])) or a[c] == b[c] for c in before.columns)
        if not same:
            out.append((a.phase, int(a.window)))
    return out


def independent_rmssd(beats: pd.DataFrame, start: float, end: float) -> float:
    """RMSSD from the written beats table alone: successive differences of the intervals
    ending at the window's beats, leaving out those touching a missing or corrected one."""
    w = beats[(beats.r_peak_s >= start) & (beats.r_peak_s < end)]
    rr, corr = w.rr_ms.to_numpy(float), w.corrected.to_numpy(bool)
    d = np.diff(rr)
    ok = np.isfinite(d) & ~corr[1:] & ~corr[:-1]
    return float(np.sqrt(np.mean(d[ok] ** 2)))


@pytest.fixture(scope="module")
def edited(raw, first_run, tmp_path_factory):
    """The batch re-run after one recording got an edit file (delete a true beat, add a
    missed one, mark an ECG stretch unusable, and a stale delete)."""
    deriv = copy_of(first_run, tmp_path_factory.mktemp("edited"))
    windows_tsv, beats_tsv, edits_tsv = recording(deriv, 0)
    windows, beats = read_tsv(windows_tsv, WINDOWS_COLUMNS), kept_beats(beats_tsv)
    phases_tsv = Path(str(windows_tsv).replace("desc-windows", "desc-phases"))
    phases = read_tsv(phases_tsv, PHASES_COLUMNS)
    w_del, w_add, w_bad = (valid_window(windows, "baseline", 2),
                           valid_window(windows, "baseline", 4),
                           valid_window(windows, "recovery", 3))
    t_del, t_add = middle_beat(beats, w_del), middle_beat(beats, w_add)
    edits = [
        Edit("delete_beat", "ecg", t_del, author="ana", created="2026-12-06T10:00:00Z"),
        # a "missed" beat: the detected one is deleted, then added back by a click 30 ms
        # off its R peak (it snaps back)
        Edit("delete_beat", "ecg", t_add, author="ana"),
        Edit("add_beat", "ecg", t_add + 0.03, author="ana"),
        Edit("mark_unusable", "ecg", w_bad.start_s + 20.0, end_s=w_bad.start_s + 32.0,
             author="ana", note="electrode moved"),
        Edit("delete_beat", "ecg", t_del + 0.4, author="ana"),  # between beats: stale
        Edit("reviewed", "all", math.nan, author="ana", note="checked"),
    ]
    write_edits(edits_tsv, edits)
    summary = run_batch([raw], deriv, progress=False)
    return {"deriv": deriv, "summary": summary, "before": windows, "beats_before": beats,
            "windows_tsv": windows_tsv, "beats_tsv": beats_tsv,
            "phases_tsv": phases_tsv, "phases_before": phases, "edits_tsv": edits_tsv,
            "edits": edits, "t_del": t_del, "t_add": t_add,
            # baseline 4: the beat deleted then added back by a click snaps to where the
            # detector had it, so that window comes back as it was
            "changed_expected": {("baseline", 2), ("recovery", 3)}}


def test_editing_one_recording_reruns_that_recording_only(raw, edited):
    s = edited["summary"]
    assert (s["ok"], s["skipped"], s["failed"]) == (1, N_PARTICIPANTS - 1, 0)
    again = run_batch([raw], edited["deriv"], progress=False)
    assert (again["ok"], again["skipped"]) == (0, N_PARTICIPANTS)
    # the edit file is data: processing never rewrites it
    assert read_edits(edited["edits_tsv"]) == edited["edits"]


def test_edits_change_exactly_the_windows_that_hold_them(edited):
    after = read_tsv(edited["windows_tsv"], WINDOWS_COLUMNS)
    assert set(changed_rows(edited["before"], after)) == edited["changed_expected"]
    phases = read_tsv(edited["phases_tsv"], PHASES_COLUMNS)
    before = edited["phases_before"]
    diff = {p for (_, a), (_, b) in zip(before.iterrows(), phases.iterrows(), strict=True)
            for p in [a.phase] if not all((pd.isna(a[c]) and pd.isna(b[c])) or a[c] == b[c]
                                          for c in before.columns)}
    assert diff == {"baseline", "recovery"}
    group = read_tsv(group_windows_paths(edited["deriv"])[0], WINDOWS_COLUMNS)
    mine = group[group.participant_id == after.participant_id.iloc[0]].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, after, check_dtype=False)


def test_deleted_beat_changes_rmssd_as_the_edited_intervals_say(edited):
    beats = kept_beats(edited["beats_tsv"])
    before = edited["before"]
    w = before[(before.phase == "baseline") & (before.window == 2)].iloc[0]
    after = read_tsv(edited["windows_tsv"], WINDOWS_COLUMNS)
    a = after[(after.phase == "baseline") & (after.window == 2)].iloc[0]
    assert not (np.abs(beats.r_peak_s - edited["t_del"]) < MATCH_S).any()
    assert a.n_beats == w.n_beats - 1
    expected = independent_rmssd(beats, w.start_s, w.end_s)
    assert a.rmssd_ms == pytest.approx(expected, rel=1e-9)
    assert a.rmssd_ms > 2 * w.rmssd_ms  # a missing beat doubles one interval
    everything = read_tsv(edited["beats_tsv"], BEATS_COLUMNS)
    gone = everything[np.abs(everything.r_peak_s - edited["t_del"]) < 1e-9]
    assert gone.beat_class.tolist() == ["removed"]
    assert gone.reason.iloc[0] == "deleted by hand (ana)"
    nxt = beats[beats.r_peak_s > edited["t_del"]].iloc[0]
    assert not nxt.corrected and nxt.rr_ms > 1.5 * np.nanmedian(beats.rr_ms)


def test_added_beat_snaps_back_to_its_r_peak(edited):
    beats = kept_beats(edited["beats_tsv"])
    near = beats[np.abs(beats.r_peak_s - edited["t_add"]) < 0.1]
    assert len(near) == 1 and near.beat_class.iloc[0] == "manual"
    assert near.reason.iloc[0] == "added by hand (ana)"
    assert abs(near.r_peak_s.iloc[0] - edited["t_add"]) < 0.004  # one sample at 250 Hz
    before = edited["before"]
    w = before[(before.phase == "baseline") & (before.window == 4)].iloc[0]
    after = read_tsv(edited["windows_tsv"], WINDOWS_COLUMNS)
    a = after[(after.phase == "baseline") & (after.window == 4)].iloc[0]
    assert a.n_beats == w.n_beats
    assert a.rmssd_ms == pytest.approx(w.rmssd_ms, rel=1e-9)
    assert a.rmssd_ms == pytest.approx(independent_rmssd(beats, w.start_s, w.end_s), rel=1e-9)


def test_unusable_stretch_removes_its_beats_and_counts_as_lost(edited):
    before = edited["before"]
    after = read_tsv(edited["windows_tsv"], WINDOWS_COLUMNS)
    w = before[(before.phase == "recovery") & (before.window == 3)].iloc[0]
    a = after[(after.phase == "recovery") & (after.window == 3)].iloc[0]
    assert a.n_beats < w.n_beats - 8
    everything = read_tsv(edited["beats_tsv"], BEATS_COLUMNS)
    inside = everything[(everything.r_peak_s >= w.start_s + 20) &
                        (everything.r_peak_s < w.start_s + 32)]
    assert (inside.beat_class == "removed").all() and len(inside) > 8
    assert inside.reason.str.contains("marked unusable by hand").all()


def test_sidecar_and_qc_index_record_the_edits_and_the_stale_one(edited):
    side = json.loads(edited["windows_tsv"].with_suffix(".json").read_text())
    prov = side["SootheProvenance"]
    mc = prov["manual_corrections"]
    assert mc["edits_file"] == edited["edits_tsv"].name and len(mc["edits_sha256"]) == 64
    assert prov["edits_sha256"] == mc["edits_sha256"]
    assert (mc["beats_added"], mc["beats_deleted"], mc["beats_moved"]) == (1, 2, 0)
    assert mc["unusable_s"] == {"ecg": 12.0, "eda": 0, "resp": 0}
    assert mc["reviewed"] is True and mc["review_note"] == "checked"
    assert mc["status"] == "edited" and mc["authors"] == ["ana"]
    assert [s["row"] for s in mc["stale"]] == [5]
    assert mc["stale"][0]["reason"] == f"no beat within {MATCH_S} s"
    assert any("row 5: delete_beat (ecg)" in w and edited["edits_tsv"].name in w
               for w in prov["warnings"])
    html = qc_index_html(edited["deriv"]).read_text()
    assert "edited: +1 −2" in html and "1 stale" in html
    assert html.count("not reviewed") == 1  # the other recording


def test_no_edit_file_records_none(edited):
    windows_tsv, _, edits_tsv = recording(edited["deriv"], 1)
    assert not edits_tsv.exists()
    prov = json.loads(windows_tsv.with_suffix(".json").read_text())["SootheProvenance"]
    assert prov["edits_sha256"] is None and "manual_corrections" not in prov


def test_broken_edit_file_fails_that_recording_alone(raw, first_run, tmp_path):
    deriv = copy_of(first_run, tmp_path)
    _, _, edits_tsv = recording(deriv, 1)
    edits_tsv.parent.mkdir(parents=True, exist_ok=True)
    edits_tsv.write_text("action\tchannel\ttime_s\tend_s\tnew_time_s\tauthor\tcreated\tnote\n"
                         "delete_beat\tecg\tlater\tn/a\tn/a\tana\t\t\n")
    s = run_batch([raw], deriv, progress=False)
    assert (s["ok"], s["skipped"], s["failed"]) == (0, N_PARTICIPANTS - 1, 1)
    fails = pd.read_csv(failures_tsv(deriv), sep="\t")
    msg = fails.message.iloc[0]
    assert fails.error_type.iloc[0] == "EditFileError"
    assert str(edits_tsv) in msg and "row 1, column time_s" in msg


def test_reprocess_recording_applies_the_saved_edits_and_refreshes_the_group(raw, first_run,
                                                                             tmp_path):
    deriv = copy_of(first_run, tmp_path)
    windows_tsv, beats_tsv, edits_tsv = recording(deriv, 1)
    windows, beats = read_tsv(windows_tsv, WINDOWS_COLUMNS), kept_beats(beats_tsv)
    w = valid_window(windows, "baseline", 3)
    write_edits(edits_tsv, [Edit("delete_beat", "ecg", middle_beat(beats, w), author="bo")])
    record = reprocess_recording(windows_tsv.with_suffix(".json"))
    assert record["status"] == "ok", record
    after = read_tsv(windows_tsv, WINDOWS_COLUMNS)
    assert changed_rows(windows, after) == [("baseline", 3)]
    group = read_tsv(group_windows_paths(deriv)[0], WINDOWS_COLUMNS)
    assert len(group) == sum(len(read_tsv(p, WINDOWS_COLUMNS)) for p in
                             deriv.glob("sub-*/ses-*/beh/*_desc-windows_physio.tsv"))
    g = group[(group.participant_id == w.participant_id) & (group.phase == "baseline")
              & (group.window == 3)]
    assert g.n_beats.iloc[0] == w.n_beats - 1
    assert "edited" in qc_index_html(deriv).read_text()
    assert reprocess_recording(windows_tsv.with_suffix(".json"))["status"] == "skipped"
    # the batch agrees that it is up to date
    s = run_batch([raw], deriv, progress=False)
    assert (s["ok"], s["skipped"]) == (0, N_PARTICIPANTS)


def test_a_relabelled_job_takes_the_edit_file_of_its_new_labels(tmp_path):
    from physio.batch.recording import plan_job, read_job_edits
    from tests.readers_fixtures import write_bids_session

    src = write_bids_session(tmp_path / "raw", seconds=30.0).physio_tsv_gz
    job = plan_job(src, tmp_path / "d", {}, None, None, None, ("001", "1", None))
    assert job.edits_sha256 is None and read_job_edits(job) == []
    other = job.relabelled("002", "1")
    edits = [Edit("delete_beat", "ecg", 3.0, author="ana")]
    write_edits(other.edits_file, edits)
    again = job.relabelled("002", "1")
    assert again.edits_file.name.startswith("sub-002_ses-1") and len(again.edits_sha256) == 64
    assert read_job_edits(again) == edits
