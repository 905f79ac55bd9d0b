"""XDF reader: shared minimal.xdf, and files written by a small test writer."""

from __future__ import annotations

import numpy as np
import pytest
from readers_fixtures import synthetic_ecg, synthetic_eda
from xdf_writer import XdfStream, write_xdf

from physio.errors import ReaderError
from physio.io import NO_CODE, read_recording


def _session(tmp_path, *, ecg_offset=0.0, gap=False, marker_values=None, lie=0, clock=None):
    ecg, _ = synthetic_ecg(30.0, 500.0)
    eda = synthetic_eda(30.0, 20.0)
    t_ecg = 1000.0 + np.arange(len(ecg)) / 500.0
    t_eda = 1000.3 + np.arange(len(eda)) / 20.0
    if gap:  # drop 2 s of ECG samples (a network outage)
        keep = (t_ecg < 1010.0) | (t_ecg >= 1012.0)
        ecg, t_ecg = ecg[keep], t_ecg[keep]
    streams = [
        XdfStream("BioAmp", "ECG", 500, "float32", ecg[:, None], t_ecg, labels=["ECG"],
                  units=["mV"], stream_id=1,
                  clock_offsets=clock or ((1000.0, ecg_offset), (1030.0, ecg_offset))),
        XdfStream("GSR", "EDA", 20, "double64", eda[:, None], t_eda, stream_id=2,
                  labels=["skin conductance"], units=["microsiemens"]),
        XdfStream("soothe-markers", "Markers", 0, "string",
                  marker_values or [["11"], ["21 induction_onset"], ["hello"]],
                  np.array([1002.0, 1010.5, 1020.0]), stream_id=3),
    ]
    return write_xdf(tmp_path / "session.xdf", streams, lie_about_length=lie)


def test_streams_keep_nominal_rates_and_markers(tmp_path):
    rec = read_recording(_session(tmp_path))
    assert rec.format == "xdf"
    ecg, eda = rec.ecg(), rec.eda()
    assert ecg.name == "ECG" and ecg.sampling_rate == 500.0 and ecg.units == "mV"
    assert eda.name == "skin conductance" and eda.sampling_rate == 20.0
    assert len(eda.data) == 600 and len(ecg.data) == 15000
    assert ecg.start_s == pytest.approx(0.0) and eda.start_s == pytest.approx(0.3)
    assert rec.markers["code"].tolist() == [11, 21, NO_CODE]
    assert rec.markers["label"].tolist() == ["11", "21 induction_onset", "hello"]
    assert rec.markers["onset_s"].tolist() == pytest.approx([2.0, 10.5, 20.0])


def test_clock_offsets_are_applied(tmp_path):
    # the amplifier's clock is 0.25 s behind the recorder: synced ECG times are +0.25 s,
    # so the first ECG sample (the recording's zero) is 0.25 s later than written
    rec = read_recording(_session(tmp_path, ecg_offset=0.25))
    assert rec.markers["onset_s"].tolist() == pytest.approx([1.75, 10.25, 19.75])
    assert rec.eda().start_s == pytest.approx(0.05)


def test_numeric_marker_stream(tmp_path):
    ecg, _ = synthetic_ecg(5.0, 250.0)
    streams = [
        XdfStream("ECG", "ECG", 250, "float32", ecg[:, None], 50 + np.arange(len(ecg)) / 250),
        XdfStream("Triggers", "Markers", 0, "int32", [[7], [8]], np.array([51.0, 52.0]),
                  stream_id=2),
    ]
    rec = read_recording(write_xdf(tmp_path / "num.xdf", streams))
    assert rec.ecg().name == "ECG"
    assert rec.markers["code"].tolist() == [7, 8]
    assert rec.markers["onset_s"].tolist() == pytest.approx([1.0, 2.0])


def test_gap_is_filled_with_nan_not_closed(tmp_path):
    rec = read_recording(_session(tmp_path, gap=True))
    ecg = rec.ecg()
    assert len(ecg.data) == 15000
    missing = np.flatnonzero(np.isnan(ecg.data))
    assert missing.size == 1000 and missing[0] == 5000
    assert any("gap" in n for n in rec.meta["reader_notes"])


def test_lying_chunk_length_is_a_clear_error(tmp_path):
    with pytest.raises(ReaderError, match=r"session.xdf: chunk \d+ at byte \d+"):
        read_recording(_session(tmp_path, lie=7))


def test_out_of_order_clock_offsets_are_a_clear_error(tmp_path):
    path = _session(tmp_path, clock=((1020.0, 0.0), (1000.0, 0.1), (1030.0, 0.0)))
    with pytest.raises(ReaderError, match=r"'BioAmp': clock offsets are out of order"):
        read_recording(path)


def test_minimal_xdf(shared_data):
    rec = read_recording(shared_data / "xdf" / "minimal.xdf")
    assert len(rec.channels) == 3
    for ch in rec.channels.values():
        assert ch.sampling_rate == 10.0 and len(ch.data) == 9 and ch.kind == "other"
    first = rec.channels["SendDataC/0 (EEG)"]
    assert first.data[1:4].tolist() == [12.0, 13.0, 14.0]
    assert rec.markers["label"].tolist()[1:5] == ["Hello", "World", "from", "LSL"]
    assert rec.markers["onset_s"].iloc[1] == pytest.approx(0.2)
    with pytest.raises(Exception, match="no ECG channel"):
        rec.ecg()
