"""The data contract in conditions/bids.py: paths, schemas, atomic and crash-safe writes."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

from conditions import DatasetError
from conditions.bids import (
    BEH_COLUMNS,
    EVENTS_COLUMNS,
    SessionFiles,
    append_tsv_row,
    atomic_write_text,
    ensure_dataset,
    iter_sessions,
    parse_session_files,
    read_participants,
    read_physio_sidecar,
    read_tsv,
    upsert_participant,
    write_physio,
    write_tsv,
)


def test_paths_follow_bids(tmp_path):
    f = SessionFiles(tmp_path, "sub-007", "ses-1", "induction")
    assert f.subject == "007" and f.session == "1"
    assert f.beh_tsv.relative_to(tmp_path).as_posix() == (
        "sub-007/ses-1/beh/sub-007_ses-1_task-induction_beh.tsv"
    )
    assert f.physio_tsv_gz.name.endswith("_physio.tsv.gz")
    assert parse_session_files(f.physio_json) == f
    assert (
        f.windows_tsv(tmp_path / "d").name == "sub-007_ses-1_task-induction_desc-windows_physio.tsv"
    )


@pytest.mark.parametrize("label", ["a_b", "a-b", "", "x y", "ü"])
def test_labels_must_be_alphanumeric(tmp_path, label):
    with pytest.raises(DatasetError, match="not a valid BIDS label"):
        SessionFiles(tmp_path, label, "1", "induction")


def test_parse_rejects_foreign_names(tmp_path):
    with pytest.raises(DatasetError, match="does not follow"):
        parse_session_files(tmp_path / "recording.acq")


def test_tsv_round_trip_with_missing_values(tmp_path):
    table = pd.DataFrame(
        {
            "onset": [0.0, 1.5],
            "duration": [0.0, np.nan],
            "trial_type": ["baseline_onset", None],
            "value": [20, 21],
            "psychopy_time": [0.1, 1.6],
            "lsl_time": [100.0, 101.5],
        }
    )
    path = tmp_path / "x_events.tsv"
    write_tsv(path, table, EVENTS_COLUMNS)
    text = path.read_text()
    assert "n/a" in text and "\t" in text
    back = read_tsv(path, EVENTS_COLUMNS)
    assert back["value"].tolist() == [20, 21]
    assert np.isnan(back["duration"].iloc[1])
    assert pd.isna(back["trial_type"].iloc[1])


def test_write_tsv_checks_schema(tmp_path):
    with pytest.raises(DatasetError, match="missing column"):
        write_tsv(tmp_path / "a.tsv", pd.DataFrame({"onset": [1.0]}), EVENTS_COLUMNS)


def test_read_tsv_errors(tmp_path):
    with pytest.raises(DatasetError, match="file not found"):
        read_tsv(tmp_path / "none.tsv")
    (tmp_path / "empty.tsv").write_text("")
    with pytest.raises(DatasetError, match="empty"):
        read_tsv(tmp_path / "empty.tsv")
    (tmp_path / "wrong.tsv").write_text("a\tb\n1\t2\n")
    with pytest.raises(DatasetError, match="missing column"):
        read_tsv(tmp_path / "wrong.tsv", EVENTS_COLUMNS)


def test_append_survives_kill_minus_9(tmp_path):
    """Rows appended before a SIGKILL are all readable; a torn last line is dropped."""
    path = tmp_path / "beh.tsv"
    script = textwrap.dedent(
        f"""
        import sys, time
        from conditions.bids import append_tsv_row, BEH_COLUMNS
        for i in range(100000):
            append_tsv_row({str(path)!r}, list(BEH_COLUMNS), {{"item_id": f"i{{i}}", "rating": i}})
            print(i, flush=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    acknowledged = -1
    deadline = time.time() + 60
    while acknowledged < 50 and time.time() < deadline:
        acknowledged = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    table = read_tsv(path, BEH_COLUMNS)
    assert len(table) >= acknowledged + 1
    assert table["rating"].tolist() == list(range(len(table)))


def test_read_tsv_drops_torn_last_line(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("onset\tvalue\n1.0\t20\n2.0\t2")
    assert read_tsv(path)["value"].tolist() == [20]


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "f.txt"
    atomic_write_text(path, "old")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"], "no temp files left behind"


def test_physio_round_trip(tmp_path):
    f = SessionFiles(tmp_path, "01", "1", "induction")
    ecg = np.sin(np.arange(5000) / 50.0)
    eda = np.full(5000, 4.2)
    write_physio(f, {"ecg": ecg, "eda": eda}, 1000.0, {"ecg": "mV", "eda": "uS"})
    meta = read_physio_sidecar(f)
    assert meta["SamplingFrequency"] == 1000.0 and meta["Columns"] == ["ecg", "eda"]
    assert meta["ecg"]["Units"] == "mV"
    with gzip.open(f.physio_tsv_gz, "rt") as fh:
        data = np.loadtxt(fh)
    assert data.shape == (5000, 2)
    np.testing.assert_allclose(data[:, 0], ecg, atol=1e-5)


def test_physio_write_rejects_bad_input(tmp_path):
    f = SessionFiles(tmp_path, "01", "1", "induction")
    with pytest.raises(DatasetError, match="differ in length"):
        write_physio(f, {"ecg": np.zeros(3), "eda": np.zeros(4)}, 100, {"ecg": "mV", "eda": "uS"})
    with pytest.raises(DatasetError, match="no units"):
        write_physio(f, {"ecg": np.zeros(3)}, 100, {})


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (None, "not found"),
        ("{not json", "not valid JSON"),
        ('{"StartTime": 0, "Columns": ["ecg"]}', "SamplingFrequency"),
        ('{"SamplingFrequency": -5, "StartTime": 0, "Columns": ["ecg"]}', "positive"),
        ('{"SamplingFrequency": 100, "StartTime": 0, "Columns": []}', "Columns"),
    ],
)
def test_physio_sidecar_errors(tmp_path, content, pattern):
    f = SessionFiles(tmp_path, "01", "1", "induction")
    if content is not None:
        f.physio_json.parent.mkdir(parents=True)
        f.physio_json.write_text(content)
    with pytest.raises(DatasetError, match=pattern):
        read_physio_sidecar(f)


def test_dataset_files_and_participants(tmp_path):
    ensure_dataset(tmp_path, "demo", "induction")
    desc = json.loads((tmp_path / "dataset_description.json").read_text())
    assert desc["BIDSVersion"] and desc["Name"] == "demo"
    assert "rating" in json.loads((tmp_path / "task-induction_beh.json").read_text())
    upsert_participant(tmp_path, {"participant_id": "sub-02", "age": 30, "sex": "F"})
    upsert_participant(tmp_path, {"participant_id": "sub-01", "age": 25, "sex": "M"})
    upsert_participant(tmp_path, {"participant_id": "sub-02", "condition": "neutral"})
    table = read_participants(tmp_path)
    assert table["participant_id"].tolist() == ["sub-01", "sub-02"]
    row = table.set_index("participant_id").loc["sub-02"]
    assert row["condition"] == "neutral" and row["age"] == 30
    with pytest.raises(DatasetError, match="sub-<id>"):
        upsert_participant(tmp_path, {"participant_id": "02"})


def test_iter_sessions_finds_events_files(tmp_path):
    for sub in ("02", "01"):
        f = SessionFiles(tmp_path, sub, "1", "induction")
        append_tsv_row(f.events_tsv, list(EVENTS_COLUMNS), {"onset": 0, "value": 1})
    assert [s.subject for s in iter_sessions(tmp_path)] == ["01", "02"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_atomic_write_gives_files_the_umask_mode_not_private(tmp_path):
    """mkstemp's 0600 would hide the lab's data from the rest of the group."""
    old = os.umask(0o002)
    try:
        atomic_write_text(tmp_path / "a.json", "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o664
