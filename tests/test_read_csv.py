"""CSV/TSV reader: column mapping, rate inference, markers, units and clear errors."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from readers_fixtures import synthetic_ecg, synthetic_eda

from physio.errors import ChannelError, ReaderError
from physio.io import detect_format, read_recording


def _frame(seconds=10.0, rate=250.0):
    ecg, _ = synthetic_ecg(seconds, rate)
    eda = synthetic_eda(seconds, rate)
    trig = np.zeros(len(ecg))
    trig[500:520] = 11
    trig[1500:1510] = 21
    return pd.DataFrame({"time": np.arange(len(ecg)) / rate, "ECG": ecg, "EDA": eda,
                         "trigger": trig})


def test_auto_detected_columns_and_inferred_rate(tmp_path):
    path = tmp_path / "export.csv"
    _frame().to_csv(path, index=False)
    rec = read_recording(path)
    assert detect_format(path) == "csv"
    assert rec.ecg().name == "ECG" and rec.eda().name == "EDA"
    assert rec.ecg().sampling_rate == 250.0
    assert "time" not in rec.channels
    assert rec.markers["code"].tolist() == [11, 21]
    assert rec.markers["onset_s"].tolist() == pytest.approx([2.0, 6.0])


def test_column_map_and_given_rate_tsv_gz(tmp_path):
    df = _frame().drop(columns="time").rename(
        columns={"ECG": "lead II (mV)", "EDA": "sc [uS]", "trigger": "port"})
    path = tmp_path / "export.tsv.gz"
    with gzip.open(path, "wt") as fh:
        df.to_csv(fh, sep="\t", index=False)
    rec = read_recording(
        path, sampling_rate=250,
        column_map={"ecg": "lead II (mV)", "eda": "sc [uS]", "marker": "port"},
    )
    assert rec.ecg().name == "lead II (mV)" and rec.ecg().units == "mV"
    assert rec.eda().units == "uS"
    assert rec.markers["code"].tolist() == [11, 21]


def test_irregular_time_column_is_an_error(tmp_path):
    df = _frame()
    df = df.drop(index=range(1000, 1100))  # a 0.4 s gap
    path = tmp_path / "gap.csv"
    df.to_csv(path, index=False)
    with pytest.raises(ReaderError, match=r"gap.csv.*'time' is irregular"):
        read_recording(path)


def test_time_in_ms(tmp_path):
    df = _frame().rename(columns={"time": "time_ms"})
    df["time_ms"] *= 1000
    path = tmp_path / "ms.csv"
    df.to_csv(path, index=False)
    assert read_recording(path).ecg().sampling_rate == 250.0


def test_no_time_column_and_no_rate(tmp_path):
    path = tmp_path / "norate.csv"
    _frame().drop(columns="time").to_csv(path, index=False)
    with pytest.raises(ReaderError, match=r"norate.csv: no time column and no sampling rate"):
        read_recording(path)


def test_missing_mapped_column_lists_columns(tmp_path):
    path = tmp_path / "x.csv"
    _frame().to_csv(path, index=False)
    with pytest.raises(ChannelError, match=r"'pulse' is not a column.*'ECG'"):
        read_recording(path, column_map={"ecg": "pulse"})
    with pytest.raises(ChannelError, match=r"EDA channel 'GSR' not found"):
        read_recording(path, eda_channel="GSR")


def test_text_markers(tmp_path):
    df = _frame().drop(columns="trigger")
    df["marker"] = ""
    df.loc[250, "marker"] = "11 baseline_onset"
    df.loc[750, "marker"] = "start"
    path = tmp_path / "text.csv"
    df.to_csv(path, index=False)
    rec = read_recording(path)
    assert rec.markers["code"].tolist() == [11, -1]
    assert rec.markers["label"].tolist() == ["11 baseline_onset", "start"]
    assert rec.markers["onset_s"].tolist() == pytest.approx([1.0, 3.0])


def test_headerless_csv_with_rate(tmp_path):
    path = tmp_path / "raw.csv"
    np.savetxt(path, np.c_[np.zeros(100), np.ones(100)], delimiter=",")
    rec = read_recording(path, sampling_rate=100.0, ecg_channel="column1")
    assert rec.ecg().name == "column1" and len(rec.ecg().data) == 100


def test_gzipped_table_without_gz_extension(tmp_path):
    path = tmp_path / "export.dat"
    path.write_bytes(gzip.compress(b"time,ECG\n0,1\n0.01,2\n0.02,1\n"))
    assert detect_format(path) == "csv"
    assert read_recording(path).channels["ECG"].sampling_rate == 100.0


def test_given_rate_must_agree_with_the_time_column(tmp_path):
    path = tmp_path / "timed.csv"
    _frame().to_csv(path, index=False)  # a 250 Hz time column
    with pytest.raises(ReaderError, match=r"timed.csv: sampling_rate=100 Hz contradicts the "
                                          r"time column 'time'.*250 Hz"):
        read_recording(path, sampling_rate=100.0)
    rec = read_recording(path, sampling_rate=250.0)  # agreeing: the time column decides
    assert rec.ecg().sampling_rate == 250.0
    assert rec.duration_s == pytest.approx(read_recording(path).duration_s)
