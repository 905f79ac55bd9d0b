"""BIDS physio reader (the project's own data contract)."""

from __future__ import annotations

import gzip
import json

import pytest
from readers_fixtures import write_bids_session

from physio.errors import ReaderError
from physio.io import detect_format, read_recording


@pytest.mark.parametrize("which", ["physio_tsv_gz", "physio_json", "events_tsv", "folder"])
def test_any_file_of_the_session_reads_the_same(tmp_path, which):
    files = write_bids_session(tmp_path)
    path = files.beh_dir if which == "folder" else getattr(files, which)
    assert detect_format(path) == "bids"
    rec = read_recording(path)
    assert rec.format == "bids"
    assert rec.ecg().name == "ecg" and rec.ecg().units == "mV"
    assert rec.eda().units == "uS" and rec.eda().sampling_rate == 250.0
    assert len(rec.ecg().data) == 5000
    assert rec.markers["code"].tolist() == [11, 21]
    assert rec.markers["label"].tolist() == ["baseline_onset", "induction_onset"]
    assert rec.markers["onset_s"].tolist() == pytest.approx([1.0, 6.5])
    assert rec.meta["participant_id"] == "sub-001"
    assert rec.meta["session"] == "1" and rec.meta["task"] == "induction"
    assert rec.meta["condition"] == "body_scan"


def test_start_time_shifts_markers_to_first_sample(tmp_path):
    files = write_bids_session(tmp_path, start_time=0.5)
    rec = read_recording(files.physio_tsv_gz)
    assert rec.markers["onset_s"].tolist() == pytest.approx([0.5, 6.0])


def test_unlisted_participant_is_read_with_a_note(tmp_path):
    files = write_bids_session(tmp_path, listed=False)
    rec = read_recording(files.physio_tsv_gz)
    assert rec.meta["condition"] is None
    assert any("not listed" in n for n in rec.meta["reader_notes"])


def test_missing_json(tmp_path):
    files = write_bids_session(tmp_path)
    files.physio_json.unlink()
    with pytest.raises(ReaderError, match=r"_physio.json: physio sidecar not found"):
        read_recording(files.physio_tsv_gz)


def test_json_column_count_disagrees(tmp_path):
    files = write_bids_session(tmp_path)
    meta = json.loads(files.physio_json.read_text())
    meta["Columns"] = ["ecg", "eda", "resp"]
    files.physio_json.write_text(json.dumps(meta))
    with pytest.raises(ReaderError, match=r"has 2 column\(s\) but the sidecar's Columns lists 3"):
        read_recording(files.physio_tsv_gz)


def test_non_numeric_samples(tmp_path):
    files = write_bids_session(tmp_path)
    with gzip.open(files.physio_tsv_gz, "wt") as fh:
        fh.write("0.1\t5\nabc\t5\n")
    with pytest.raises(ReaderError, match=r"_physio.tsv.gz: parsing 2 tab-separated"):
        read_recording(files.physio_tsv_gz)


def test_paths_come_from_the_data_contract(tmp_path, monkeypatch):
    """The reader asks conditions.bids.SessionFiles where a session's files are: a change
    of the contract's layout is followed without touching the reader."""
    import shutil

    from conditions import bids

    files = write_bids_session(tmp_path, rate=250.0)
    moved = files.beh_dir / "relocated_physio.json"
    sidecar = json.loads(files.physio_json.read_text())
    sidecar["SamplingFrequency"] = 500.0
    moved.write_text(json.dumps(sidecar))
    shutil.move(files.events_tsv, files.beh_dir / "relocated_events.tsv")
    monkeypatch.setattr(bids.SessionFiles, "physio_json",
                        property(lambda self: self.beh_dir / "relocated_physio.json"))
    monkeypatch.setattr(bids.SessionFiles, "events_tsv",
                        property(lambda self: self.beh_dir / "relocated_events.tsv"))
    rec = read_recording(files.physio_tsv_gz)
    assert rec.ecg().sampling_rate == 500.0
    assert len(rec.markers) == 2


def test_a_loose_copy_outside_the_layout_reads_with_its_neighbours(tmp_path):
    import shutil

    files = write_bids_session(tmp_path / "ds", rate=250.0)
    loose = tmp_path / "loose"
    loose.mkdir()
    for f in (files.physio_tsv_gz, files.physio_json, files.events_tsv):
        shutil.copy(f, loose / f.name)
    rec = read_recording(loose / files.physio_tsv_gz.name)
    assert rec.ecg().sampling_rate == 250.0 and len(rec.markers) == 2
    assert rec.meta["participant_id"] == "sub-001"
