"""The group tables read each recording's tables once, with the same schema errors."""

from __future__ import annotations

import pytest

from conditions.bids import WINDOWS_COLUMNS
from conditions.errors import DatasetError
from physio.outputs import _check_header


def test_header_check_names_file_and_missing_columns(tmp_path):
    p = tmp_path / "x_desc-windows_physio.tsv"
    cols = [c for c in WINDOWS_COLUMNS if c != "hr_bpm"]
    p.write_text("\t".join(cols) + "\n")
    with pytest.raises(DatasetError, match=r"x_desc-windows_physio.tsv: missing column\(s\) "
                                           r"\['hr_bpm'\]"):
        _check_header(p, WINDOWS_COLUMNS)
    p.write_text("\n")
    with pytest.raises(DatasetError, match="empty"):
        _check_header(p, WINDOWS_COLUMNS)
    with pytest.raises(DatasetError, match="not found"):
        _check_header(tmp_path / "nope.tsv", WINDOWS_COLUMNS)
    p.write_text("\t".join(WINDOWS_COLUMNS) + "\n")
    _check_header(p, WINDOWS_COLUMNS)


def _windows_file(path, rows, columns=None):
    import numpy as np
    import pandas as pd

    from conditions.bids import write_tsv

    columns = list(columns or WINDOWS_COLUMNS)
    table = pd.DataFrame({c: pd.Series([row.get(c, np.nan) for row in rows], dtype=object)
                          for c in columns})
    write_tsv(path, table.astype(object).where(table.notna(), None), columns)
    return path


def test_one_joint_parse_gives_what_file_by_file_reads_give(tmp_path):
    """Files read together (one parse) equal files read one at a time: labels stay text
    ('01'), all-NaN metric columns stay float, flags stay boolean, column orders differ."""
    import pandas as pd

    from conditions.bids import WINDOWS_DTYPES
    from physio.outputs import _read_tables

    a = _windows_file(tmp_path / "a.tsv", [
        {"participant_id": "01", "session": "01", "condition": "neutral", "phase": "baseline",
         "start_s": 0.0, "end_s": 60.0, "hr_bpm": 71.25, "ecg_valid": True},
        {"participant_id": "01", "session": "01", "condition": "neutral", "phase": "baseline",
         "start_s": 60.0, "end_s": 120.0, "hr_bpm": 70.5, "ecg_valid": False}])
    b = _windows_file(tmp_path / "b.tsv", [  # an unusable ECG: every metric n/a
        {"participant_id": "002", "session": "1", "condition": "rumination", "phase": "rest",
         "start_s": 0.0, "end_s": 60.0, "ecg_valid": False}])
    reordered = list(reversed(WINDOWS_COLUMNS))
    c = _windows_file(tmp_path / "c.tsv", [
        {"participant_id": "003", "session": "2", "condition": "neutral", "phase": "rest",
         "start_s": 0.0, "end_s": 60.0, "hr_bpm": 1e-300, "ecg_valid": True}], reordered)
    d = _windows_file(tmp_path / "d.tsv", [
        {"participant_id": "004", "session": "1", "condition": "neutral", "phase": "rest",
         "start_s": 5.0, "end_s": 65.0, "hr_bpm": 64.0, "ecg_valid": True}])
    frames = _read_tables([a, b, c, d], WINDOWS_DTYPES)
    assert len(frames) == 3  # a+b parsed together, c alone (other header), d alone
    joint = pd.concat([f[list(WINDOWS_COLUMNS)] for f in frames], ignore_index=True)
    alone = pd.concat([_read_tables([p], WINDOWS_DTYPES)[0][list(WINDOWS_COLUMNS)]
                       for p in (a, b, c, d)], ignore_index=True)
    pd.testing.assert_frame_equal(joint, alone)
    assert joint["participant_id"].tolist() == ["01", "01", "002", "003", "004"]
    assert joint["hr_bpm"].dtype == "float64" and joint["hr_bpm"].iloc[3] == 1e-300
    assert joint["ecg_valid"].tolist() == [True, False, False, True, True]


def test_joint_parse_failure_names_the_broken_file(tmp_path):
    from conditions.bids import WINDOWS_DTYPES
    from physio.outputs import _read_tables

    good = _windows_file(tmp_path / "good.tsv", [{"participant_id": "1", "start_s": 0.0}])
    bad = tmp_path / "bad.tsv"  # its second row has more fields than the header
    n = len(WINDOWS_COLUMNS)
    bad.write_text("\t".join(WINDOWS_COLUMNS) + "\n" + "\t".join(["1"] * n) + "\n"
                   + "\t".join(["1"] * (n + 3)) + "\n")
    with pytest.raises(DatasetError, match=r"bad.tsv: cannot be read as a tab-separated"):
        _read_tables([good, bad], WINDOWS_DTYPES)
    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    with pytest.raises(DatasetError, match=r"empty.tsv: file is empty"):
        _read_tables([good, empty], WINDOWS_DTYPES)
