"""The readers' named steps (XDF streams and channels, CSV table, columns, rate, channels)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from xdf_writer import XdfStream, write_xdf

from physio.errors import ChannelError, ReaderError
from physio.io.read_csv import csv_channels, csv_sampling_rate, find_columns, read_table
from physio.io.read_xdf import load_xdf_streams, split_xdf_streams, xdf_channels


def _xdf(tmp_path: Path) -> Path:
    t = 100.0 + np.arange(200) / 100.0
    streams = [
        XdfStream("Amp", "ECG", 100, "float32", np.sin(t)[:, None], t, labels=["ECG"],
                  units=["mV"], stream_id=1),
        XdfStream("Amp2", "EDA", 100, "double64", np.ones((200, 1)), t + 0.5, stream_id=2,
                  labels=["ECG"], units=["uS"]),
        XdfStream("marks", "Markers", 0, "string", [["11"]], np.array([101.0]), stream_id=3),
    ]
    return write_xdf(tmp_path / "s.xdf", streams)


def test_xdf_steps(tmp_path):
    path = _xdf(tmp_path)
    streams, notes = load_xdf_streams(path)
    assert len(streams) == 3
    signal, marker = split_xdf_streams(path, streams, notes)
    assert len(signal) == 2 and len(marker) == 1
    t0 = min(float(s["time_stamps"][0]) for s in signal)
    channels = xdf_channels(path, signal, t0, notes)
    # two streams share the label: each is prefixed with its stream
    assert sorted(channels) == ["Amp/ECG", "Amp2/ECG"]
    assert channels["Amp2/ECG"].start_s == pytest.approx(0.5, abs=0.02)
    with pytest.raises(ReaderError, match="no signal stream"):
        split_xdf_streams(path, marker, [])


def test_csv_steps(tmp_path):
    p = tmp_path / "rec.tsv"
    p.write_text("time_ms\tECG (mV)\tnote\ttrigger\n"
                 + "".join(f"{i * 4}\t{i % 5 / 10}\tx\t{int(i == 3)}\n" for i in range(10)))
    table = read_table(p)
    assert list(table.columns) == ["time_ms", "ECG (mV)", "note", "trigger"]
    time_col, marker_col = find_columns(p, list(table.columns), {})
    assert (time_col, marker_col) == ("time_ms", "trigger")
    with pytest.raises(ChannelError, match="is not a column"):
        find_columns(p, list(table.columns), {"ecg": "EKG"})
    meta: dict = {}
    assert csv_sampling_rate(p, table, time_col, None, meta) == 250.0
    assert meta == {"time_offset_s": 0.0}
    assert csv_sampling_rate(p, table, None, 100, {}) == 100.0
    with pytest.raises(ReaderError, match="no time column and no sampling rate"):
        csv_sampling_rate(p, table, None, None, {})
    notes: list[str] = []
    channels = csv_channels(table, ["ECG (mV)", "note"], 250.0, notes)
    assert list(channels) == ["ECG (mV)"] and channels["ECG (mV)"].units == "mV"
    assert notes == ["column 'note' is not numeric and was skipped"]


def test_a_header_without_rows_is_refused(tmp_path):
    p = tmp_path / "rec.csv"
    p.write_text("time,ecg\n")
    with pytest.raises(ReaderError, match="no data rows"):
        read_table(p)
    assert isinstance(read_table(_write(tmp_path / "n.csv", "1,2\n3,4\n")), pd.DataFrame)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
