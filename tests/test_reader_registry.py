"""One reader registry: detection, dispatch, the folder scan and messages all follow it."""

from __future__ import annotations

from pathlib import Path

import pytest

from physio.errors import ReaderError
from physio.io import FORMATS, READERS, detect_format, read_recording, reader_options
from physio.io.registry import (
    companion_suffixes,
    format_from_content,
    format_from_name,
    reader_spec,
    scan_suffixes,
)


def test_every_format_has_one_row_and_a_loadable_reader():
    assert FORMATS == tuple(spec.name for spec in READERS)
    assert len(set(FORMATS)) == len(FORMATS)
    for spec in READERS:
        assert callable(spec.load()), spec.name
        assert spec.label, spec.name


@pytest.mark.parametrize(("name", "fmt"), [
    ("a.acq", "acq"), ("a.xdf", "xdf"), ("a.xdfz", "xdf"), ("a.EDF", "edf"), ("a.bdf", "bdf"),
    ("a.vhdr", "brainvision"), ("a.vmrk", "brainvision"), ("a.eeg", "brainvision"),
    ("a.csv", "csv"), ("a.tsv.gz", "csv"), ("a.txt", "csv"), ("a.tab", "csv"),
    ("sub-1_ses-1_physio.tsv.gz", "bids"), ("sub-1_physio.json", "bids"), ("a.docx", None),
])
def test_names(name, fmt):
    assert format_from_name(Path(name)) == fmt


def test_scan_picks_up_recordings_but_not_companions():
    scan = scan_suffixes()
    for ending in (".acq", ".xdf", ".xdfz", ".edf", ".bdf", ".vhdr", ".csv", ".tsv",
                   ".csv.gz", ".tsv.gz", ".txt", "_physio.tsv.gz"):
        assert ending in scan
    assert not set(companion_suffixes()) & set(scan)
    assert {".vmrk", ".eeg", "_events.tsv"} <= set(companion_suffixes())


def test_content_beats_the_name(tmp_path):
    assert format_from_content(b"\xffBIOSEMI" + bytes(10)) == "bdf"
    p = tmp_path / "rec.edf"
    p.write_bytes(b"XDF:" + bytes(20))
    assert detect_format(p) == "xdf"


def test_options_go_only_to_readers_that_take_them(tmp_path):
    assert reader_options("csv", sampling_rate=100.0) == {"sampling_rate": 100.0}
    assert reader_options("bids", sampling_rate=100.0, column_map={}) == {}
    p = tmp_path / "rec.edf"
    p.write_bytes(b"0       " + bytes(300))
    with pytest.raises(ReaderError, match="apply to CSV/TSV files only; this is edf"):
        read_recording(p, sampling_rate=100.0)


def test_unknown_formats_are_named_with_the_known_ones(tmp_path):
    with pytest.raises(KeyError, match="expected one of acq, xdf"):
        reader_spec("wfdb2")
    p = tmp_path / "rec.bin"
    p.write_bytes(b"\x01\x02\x03" * 100)
    with pytest.raises(ReaderError, match=", ".join(FORMATS)):
        detect_format(p)


def read_fake(path):
    raise ReaderError(f"{path}: the fake reader was called")


def test_a_new_reader_is_one_row(tmp_path, monkeypatch):
    from physio.io import registry

    spec = registry.ReaderSpec("fakehdr", __name__, "read_fake", extensions=(".fkh",),
                               scan=(".fkh",), companions=(".fkd",), trusted=(".fkh",),
                               label="a text header with a binary data file")
    monkeypatch.setattr(registry, "READERS", (*registry.READERS, spec))
    header = tmp_path / "100.fkh"
    header.write_text("100 2 360 650000\n100.dat 212 200 11 1024 995 -22131 0 MLII\n")
    assert detect_format(header) == "fakehdr"  # text, but the name decides
    with pytest.raises(ReaderError, match="the fake reader was called"):
        read_recording(header)
    assert ".fkh" in scan_suffixes() and ".fkd" in companion_suffixes()
