"""The edit file: reading, writing, checks, merging, snapping (physio/edits.py)."""

from __future__ import annotations

import json
import math
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from conditions.bids import EDITS_COLUMNS, SessionFiles
from conditions.errors import SootheError
from physio.edits import (
    ACTIONS,
    EDIT_CHANNELS,
    MATCH_S,
    REFRACTORY_S,
    SNAP_S,
    Edit,
    EditConflictError,
    EditFileError,
    merge_edits,
    read_edits,
    review_status,
    snap_to_r_peak,
    write_edits,
)
from physio.recording import Channel

HEADER = "\t".join(EDITS_COLUMNS)
NAN = math.nan


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def every_action() -> list[Edit]:
    return [
        Edit("add_beat", "ecg", 1.5, author="ana", created="2026-12-06T10:00:00Z"),
        Edit("delete_beat", "ecg", 2.25, author="ana"),
        Edit("move_beat", "ecg", 3.0, new_time_s=3.02, author="ana", note="late peak"),
        Edit("mark_unusable", "eda", 10.0, end_s=20.0, author="bo"),
        Edit("mark_usable", "all", 30.0, end_s=31.5, author="bo"),
        Edit("delete_scr", "eda", 40.0, author="bo"),
        Edit("restore_scr", "eda", 41.0, author="bo"),
        Edit("reviewed", "all", NAN, author="bo", note="looked at every window"),
    ]


def test_contract_names_and_paths(tmp_path):
    assert tuple(f.name for f in fields(Edit)) == tuple(EDITS_COLUMNS)
    assert list(EDITS_COLUMNS) == ["action", "channel", "time_s", "end_s", "new_time_s",
                                   "author", "created", "note"]
    assert set(ACTIONS) == {"add_beat", "delete_beat", "move_beat", "mark_unusable",
                            "mark_usable", "delete_scr", "restore_scr", "reviewed"}
    assert EDIT_CHANNELS == ("ecg", "eda", "resp", "all")
    f = SessionFiles(tmp_path, "007", "1", "induction")
    assert f.edits_tsv(tmp_path / "d").name == "sub-007_ses-1_task-induction_desc-edits_physio.tsv"
    assert f.edits_tsv(tmp_path / "d").parent == f.windows_tsv(tmp_path / "d").parent
    assert issubclass(EditFileError, SootheError)
    assert issubclass(EditConflictError, EditFileError)


def test_round_trip_and_sidecar(tmp_path):
    path = tmp_path / "x_desc-edits_physio.tsv"
    edits = every_action()
    write_edits(path, edits)
    assert read_edits(path) == edits
    side = json.loads(path.with_suffix(".json").read_text())
    assert side["Authors"] == ["ana", "bo"]
    assert side["Tolerances"]["MATCH_S"] == MATCH_S
    assert side["time_s"]["Units"] == "s"
    assert "Description" in side
    lines = path.read_text().splitlines()
    assert lines[0] == HEADER
    assert lines[-1].split("\t")[2:5] == ["n/a", "n/a", "n/a"]  # reviewed: no times
    assert not list(tmp_path.glob(".*part"))  # no temporary file left


def test_missing_file_is_no_edits(tmp_path):
    assert read_edits(tmp_path / "absent.tsv") == []


def test_header_only_is_no_edits(tmp_path):
    assert read_edits(write(tmp_path / "e.tsv", HEADER + "\n")) == []


@pytest.mark.parametrize("text, needle", [
    ("", "file is empty"),
    ("   \n", "file is empty"),
    (HEADER.replace("\ttime_s", "\ttim_s") + "\n", "missing time_s; unknown tim_s"),
    ("\t".join(list(EDITS_COLUMNS)[:-1]) + "\n", "missing note"),
    (HEADER + "\tnote\n", "appears twice"),
    (HEADER + "\ndelete_beat\tecg\t1.0\tn/a\n", "row 1: 4 fields, expected 8"),
    (HEADER + "\ndelete_beat\tecg\t1.0\tn/a\tn/a\ta\t\t\ndelete_beat\tecg\t2.",
     "row 2: 3 fields, expected 8"),
    (HEADER + "\nerase\tecg\t1.0\tn/a\tn/a\ta\t\t\n", "row 1, column action: expected one of"),
    (HEADER + "\ndelete_beat\teda\t1.0\tn/a\tn/a\ta\t\t\n",
     "row 1, column channel: expected ecg for delete_beat"),
    (HEADER + "\ndelete_scr\tecg\t1.0\tn/a\tn/a\ta\t\t\n",
     "row 1, column channel: expected eda for delete_scr"),
    (HEADER + "\nreviewed\tecg\tn/a\tn/a\tn/a\ta\t\t\n", "column channel: expected all"),
    (HEADER + "\nmark_unusable\tpulse\t1\t2\tn/a\ta\t\t\n", "column channel: expected ecg or"),
    (HEADER + "\ndelete_beat\tecg\tsoon\tn/a\tn/a\ta\t\t\n",
     "row 1, column time_s: expected a time in seconds"),
    (HEADER + "\ndelete_beat\tecg\t-1.0\tn/a\tn/a\ta\t\t\n", "column time_s: expected a time >= 0"),
    (HEADER + "\ndelete_beat\tecg\tinf\tn/a\tn/a\ta\t\t\n", "column time_s: expected a time >= 0"),
    (HEADER + "\ndelete_beat\tecg\tn/a\tn/a\tn/a\ta\t\t\n", "column time_s: expected a time"),
    (HEADER + "\nmark_unusable\tecg\t5\t5\tn/a\ta\t\t\n", "column end_s: expected an end after"),
    (HEADER + "\nmark_unusable\tecg\t5\t4\tn/a\ta\t\t\n", "column end_s: expected an end after"),
    (HEADER + "\nmark_usable\tecg\t5\tn/a\tn/a\ta\t\t\n", "column end_s: expected the stretch"),
    (HEADER + "\ndelete_beat\tecg\t5\t6\tn/a\ta\t\t\n", "column end_s: expected n/a"),
    (HEADER + "\nmove_beat\tecg\t5\tn/a\tn/a\ta\t\t\n", "column new_time_s: expected the moved"),
    (HEADER + "\nadd_beat\tecg\t5\tn/a\t6\ta\t\t\n", "column new_time_s: expected n/a"),
    (HEADER + "\nadd_beat\tecg\t5\tn/a\tn/a\ta\tyesterday\t\n", "column created: expected ISO"),
])
def test_broken_files_name_file_row_column(tmp_path, text, needle):
    path = write(tmp_path / "e.tsv", text)
    with pytest.raises(EditFileError) as err:
        read_edits(path)
    assert str(path) in str(err.value)
    assert needle in str(err.value)


def test_not_utf8_is_an_edit_file_error(tmp_path):
    path = tmp_path / "e.tsv"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(EditFileError, match="cannot read"):
        read_edits(path)


def test_columns_in_another_order_and_no_final_newline(tmp_path):
    cols = list(reversed(EDITS_COLUMNS))
    row = {"action": "move_beat", "channel": "ecg", "time_s": "3.5", "end_s": "n/a",
           "new_time_s": "3.52", "author": "ana", "created": "n/a", "note": ""}
    path = write(tmp_path / "e.tsv", "\t".join(cols) + "\n" + "\t".join(row[c] for c in cols))
    assert read_edits(path) == [Edit("move_beat", "ecg", 3.5, new_time_s=3.52, author="ana")]


def test_edit_checks_its_fields():
    with pytest.raises(ValueError, match="action"):
        Edit("nudge_beat", "ecg", 1.0)
    with pytest.raises(ValueError, match="end_s"):
        Edit("mark_unusable", "ecg", 2.0, end_s=1.0)
    # NaN fields compare equal, so identical edits are equal
    assert Edit("reviewed", "all", float("nan")) == Edit("reviewed", "all", NAN)


def test_write_refuses_non_edits(tmp_path):
    with pytest.raises(TypeError):
        write_edits(tmp_path / "e.tsv", [("delete_beat", "ecg", 1.0)])


def test_review_status():
    assert review_status([]) == "not reviewed"
    assert review_status([Edit("reviewed", "all", NAN)]) == "reviewed"
    assert review_status([Edit("reviewed", "all", NAN),
                          Edit("mark_usable", "ecg", 1, end_s=2)]) == "edited"


# -- merging ---------------------------------------------------------------------------


def test_merge_identical_rows_once_and_new_rows_appended_in_order():
    saved = [Edit("delete_beat", "ecg", 10.0, author="ana", created="2026-01-01T00:00:00Z"),
             Edit("mark_unusable", "eda", 50.0, end_s=60.0, author="ana")]
    incoming = [Edit("add_beat", "ecg", 30.0, author="bo"),
                Edit("delete_beat", "ecg", 10.0, author="ana", note="dup", created=""),
                Edit("mark_unusable", "resp", 50.0, end_s=60.0, author="bo"),
                Edit("delete_scr", "eda", 70.0, author="bo")]
    merged = merge_edits(saved, incoming, where="f.tsv")
    assert merged == saved + [incoming[0], incoming[2], incoming[3]]
    assert merge_edits(saved, incoming, where="f.tsv") == merged  # deterministic
    assert merge_edits(merged, incoming, where="f.tsv") == merged  # idempotent


def test_merge_agreeing_rows_of_another_author_kept_once():
    saved = [Edit("move_beat", "ecg", 10.0, new_time_s=10.2, author="ana")]
    incoming = [Edit("move_beat", "ecg", 10.01, new_time_s=10.21, author="bo")]
    assert merge_edits(saved, incoming, where="f") == saved


@pytest.mark.parametrize("old, new, words", [
    (Edit("delete_beat", "ecg", 10.0, author="ana"),
     Edit("move_beat", "ecg", 10.0 + MATCH_S / 2, new_time_s=10.3, author="bo"),
     ["ana deleted the beat at 10.000 s", "bo moved the beat"]),
    (Edit("move_beat", "ecg", 10.0, new_time_s=10.1, author="ana"),
     Edit("move_beat", "ecg", 10.0, new_time_s=10.3, author="bo"),
     ["to 10.100 s", "to 10.300 s"]),
    (Edit("mark_unusable", "ecg", 10.0, end_s=20.0, author="ana"),
     Edit("mark_usable", "ecg", 19.0, end_s=25.0, author="bo"),
     ["ana marked ecg 10.000-20.000 s unusable", "bo marked ecg 19.000-25.000 s usable"]),
    (Edit("mark_unusable", "all", 10.0, end_s=20.0, author="ana"),
     Edit("mark_usable", "eda", 12.0, end_s=13.0, author="bo"), ["unusable", "usable"]),
    (Edit("delete_scr", "eda", 10.0, author="ana"),
     Edit("restore_scr", "eda", 10.2, author="bo"), ["deleted the SCR", "restored the SCR"]),
])
def test_merge_conflicts_are_refused_with_a_clear_message(old, new, words):
    with pytest.raises(EditConflictError) as err:
        merge_edits([old], [new], where="sub-1_desc-edits_physio.tsv")
    msg = str(err.value)
    assert msg.startswith("sub-1_desc-edits_physio.tsv: ")
    for w in words:
        assert w in msg
    assert "delete the other row" in msg


def test_merge_no_conflict_when_apart_or_same_author():
    a = Edit("delete_beat", "ecg", 10.0, author="ana")
    far = Edit("move_beat", "ecg", 10.0 + 2 * MATCH_S, new_time_s=10.5, author="bo")
    assert merge_edits([a], [far], where="f") == [a, far]
    own = Edit("move_beat", "ecg", 10.0, new_time_s=10.1, author="ana")
    assert merge_edits([a], [own], where="f") == [a, own]
    touching = Edit("mark_usable", "ecg", 20.0, end_s=30.0, author="bo")
    u = Edit("mark_unusable", "ecg", 10.0, end_s=20.0, author="ana")
    assert merge_edits([u], [touching], where="f") == [u, touching]
    other_channel = Edit("mark_usable", "eda", 10.0, end_s=20.0, author="bo")
    assert merge_edits([u], [other_channel], where="f") == [u, other_channel]


# -- snapping --------------------------------------------------------------------------


def synthetic_ecg(fs: float = 500.0, seconds: float = 30.0, sign: float = 1.0,
                  start_s: float = 0.0) -> tuple[Channel, np.ndarray]:
    """Narrow R waves every 0.8 s with a broad T wave 0.25 s after each, plus noise."""
    t = np.arange(int(seconds * fs)) / fs
    beats = np.arange(0.6, seconds - 0.5, 0.8) + 0.0123
    x = np.zeros_like(t)
    for b in beats:
        x += np.exp(-0.5 * ((t - b) / 0.012) ** 2)
        x += 0.3 * np.exp(-0.5 * ((t - b - 0.25) / 0.04) ** 2)
    x += np.random.default_rng(1).normal(0, 0.01, len(t))
    return Channel("ecg", sign * x, fs, kind="ecg", start_s=start_s), beats + start_s


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("fs", [250.0, 1000.0])
def test_snap_finds_the_r_peak_within_snap_s(sign, fs):
    ecg, beats = synthetic_ecg(fs=fs, sign=sign, start_s=100.0)
    target = beats[12]
    for off in np.linspace(-0.9 * SNAP_S, 0.9 * SNAP_S, 7):
        got = snap_to_r_peak(ecg, target + off)
        assert abs(got - target) < 0.002, (off, got, target)
    # the known polarity gives the same answer
    assert abs(snap_to_r_peak(ecg, target + 0.02, inverted=sign < 0) - target) < 0.002


def test_snap_sensitivity_a_click_beyond_snap_s_misses_the_peak():
    """Sensitivity of SNAP_S: a click 2 x SNAP_S after the R peak (on the ST segment) is not
    snapped back to it, so the tolerance is what decides, not the signal."""
    ecg, beats = synthetic_ecg()
    target = beats[10]
    assert abs(snap_to_r_peak(ecg, target + 2 * SNAP_S) - target) > SNAP_S / 2


def test_snap_outside_the_ecg_is_refused():
    ecg, _ = synthetic_ecg(start_s=5.0)
    with pytest.raises(ValueError, match="outside the ECG"):
        snap_to_r_peak(ecg, 1.0)


def test_tolerance_constants_are_physiological():
    assert MATCH_S <= 0.06 and SNAP_S <= 0.06  # half a QRS (~0.1 s)
    assert 0.2 <= REFRACTORY_S <= 0.3  # 240-300 bpm: no heart beats faster
    assert MATCH_S < REFRACTORY_S / 2  # a match never reaches the neighbouring beat
