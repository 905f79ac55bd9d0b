"""BIOPAC .acq reader on the shared AcqKnowledge files (mixed rates, markers, compression)."""

from __future__ import annotations

import numpy as np
import pytest

from physio.errors import ChannelError, ReaderError
from physio.io import NO_CODE, detect_format, read_recording

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def biopac(shared_data):
    return shared_data / "biopac"


def test_physio_440_channels_keep_their_own_rates(biopac):
    rec = read_recording(biopac / "physio-4.4.0.acq")
    assert rec.format == "acq"
    ecg, eda = rec.ecg(), rec.eda()
    assert ecg.name == "EKG - ERS100C" and ecg.units == "mV" and ecg.sampling_rate == 1000.0
    assert eda.name == "EDA - GSR100C" and eda.units == "microsiemens"
    assert eda.sampling_rate == 2000.0
    resp = rec.channels["RESP - RSP100C"]
    assert resp.sampling_rate == pytest.approx(3.90625) and len(resp.data) == 241
    assert rec.channels["EDA filtered, differentiated"].kind == "other"
    # same duration on every channel, no upsampling
    assert ecg.duration_s == pytest.approx(eda.duration_s, abs=1e-3)
    assert 61 < rec.duration_s < 63


def test_physio_440_event_markers(biopac):
    rec = read_recording(biopac / "physio-4.4.0.acq")
    m = rec.markers
    assert len(m) == 10
    assert list(m.columns) == ["onset_s", "code", "label"]
    assert m["onset_s"].is_monotonic_increasing
    assert m.loc[0, "label"] == "Segment 1" and m.loc[0, "onset_s"] == 0.0
    row = m[m["label"] == "Deep Breath 3"].iloc[0]
    assert row["onset_s"] == pytest.approx(73532 / 2000)
    assert (m["code"] == NO_CODE).all()  # text-only markers
    assert rec.start_time is not None and rec.start_time.year == 2016


def test_compressed_v5_equals_v44(biopac):
    a = read_recording(biopac / "physio-4.4.0.acq")
    b = read_recording(biopac / "physio-5.0.1-c.acq")
    assert list(a.channels) == list(b.channels)
    for name in a.channels:
        np.testing.assert_allclose(a.channels[name].data, b.channels[name].data)
        assert a.channels[name].sampling_rate == b.channels[name].sampling_rate
    # bioread reports shifted marker indices for this file; the reader re-bases them
    np.testing.assert_allclose(a.markers["onset_s"], b.markers["onset_s"])
    assert a.markers["label"].tolist() == b.markers["label"].tolist()
    assert any("offset" in n for n in b.meta["reader_notes"])


def test_r42_channels_and_segments(biopac):
    rec = read_recording(biopac / "r42_test.acq")
    assert rec.ecg().name == "ECG (.05 - 150 Hz)"
    assert rec.eda().name == "EDA (0 - 35 Hz)"
    assert rec.channels["EMG (30 - 500 Hz)"].kind == "other"
    assert rec.markers["label"].tolist() == ["Segment 1", "Segment 2"]
    assert rec.markers["onset_s"].tolist() == pytest.approx([0.0, 3.881])


def test_override_and_unknown_channel(biopac):
    rec = read_recording(biopac / "r42_test.acq", ecg_channel="CH4 Input")
    assert rec.ecg().name == "CH4 Input"
    assert rec.channels["ECG (.05 - 150 Hz)"].kind == "other"
    with pytest.raises(ChannelError, match=r"r42_test.acq.*'Pulse'.*EMG \(30 - 500 Hz\)"):
        read_recording(biopac / "r42_test.acq", ecg_channel="Pulse")


def test_detection_by_content_not_extension(biopac, tmp_path):
    copy = tmp_path / "session.dat"
    copy.write_bytes((biopac / "r42_test.acq").read_bytes())
    assert detect_format(copy) == "acq"
    assert read_recording(copy).ecg().sampling_rate == 1000.0


def test_truncated_acq_is_a_reader_error(biopac, tmp_path):
    raw = (biopac / "physio-4.4.0.acq").read_bytes()
    cut = tmp_path / "cut.acq"
    cut.write_bytes(raw[: len(raw) // 3])
    with pytest.raises(ReaderError, match="cut.acq"):
        read_recording(cut)
