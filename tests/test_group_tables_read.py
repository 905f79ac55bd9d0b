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
