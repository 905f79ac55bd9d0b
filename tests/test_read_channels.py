"""Channel kinds, unit helpers and digital-line marker decoding."""

from __future__ import annotations

import numpy as np
import pytest
from readers_fixtures import synthetic_ecg

from physio.errors import ChannelError
from physio.io import (
    ecg_units_problem,
    guess_ecg_units,
    read_recording,
    require_ecg_rate,
    to_microsiemens,
    to_millivolts,
)
from physio.io.channel_kinds import classify_channel
from physio.io.markers_digital import code_to_markers, digital_channels_to_markers
from physio.recording import Channel


@pytest.mark.parametrize(
    ("name", "units", "kind"),
    [
        ("ECG", "mV", "ecg"), ("EKG - ERS100C", "mV", "ecg"), ("ECG100C", "V", "ecg"),
        ("cardiac", "", "ecg"), ("ECG (.05 - 150 Hz)", "mV", "ecg"), ("Heart rate", "bpm", "other"),
        ("ECG", "bpm", "other"), ("EDA - GSR100C", "microsiemens", "eda"), ("GSR", "kOhm", "eda"),
        ("Skin conductance", "µS", "eda"), ("SCL", "uS", "eda"), ("EDA100C", "uS", "eda"),
        ("EDA filtered, differentiated", "microsiemens", "other"), ("CH3", "microsiemens", "eda"),
        ("EMG (30 - 500 Hz)", "mV", "other"), ("CH4 Input", "mV", "other"),
        ("D0", "", "digital"), ("Digital input", "Volts", "digital"), ("trigger", "", "digital"),
        ("RESP - RSP100C", "Volts", "rsp"),
    ],
)
def test_classify_channel(name, units, kind):
    assert classify_channel(name, units) == kind


def test_units_helpers():
    ecg, _ = synthetic_ecg(10.0, 250.0)
    assert guess_ecg_units(ecg) == "mV"
    assert guess_ecg_units(ecg / 1000) == "V"
    assert guess_ecg_units(ecg * 1000) == "uV"
    volts_labelled_mv = Channel("ECG", ecg / 1000, 250.0, "mV", "ecg")
    assert "looks like V" in ecg_units_problem(volts_labelled_mv)
    with pytest.raises(ChannelError, match=r"'ECG' is labelled 'mV'.*looks like V"):
        to_millivolts(volts_labelled_mv)
    np.testing.assert_allclose(to_millivolts(volts_labelled_mv, units="V"), ecg)
    np.testing.assert_allclose(to_millivolts(Channel("E", ecg * 1000, 250.0, "µV")), ecg)
    np.testing.assert_allclose(to_millivolts(Channel("E", ecg / 1000, 250.0, "")), ecg)
    with pytest.raises(ChannelError, match="unknown voltage units 'bpm'"):
        to_millivolts(Channel("E", ecg, 250.0, "bpm"))
    kohm = Channel("GSR", np.array([200.0, 100.0, 0.0]), 10.0, "kΩ")
    assert to_microsiemens(kohm)[:2].tolist() == [5.0, 10.0]
    assert np.isnan(to_microsiemens(kohm)[2])
    assert to_microsiemens(Channel("EDA", np.array([2e-6]), 10.0, "S"))[0] == pytest.approx(2.0)
    with pytest.raises(ChannelError, match="'EDA': unknown EDA units ''"):
        to_microsiemens(Channel("EDA", np.ones(3), 10.0, ""))
    with pytest.raises(ChannelError, match="sampled at 50 Hz.*at least 100 Hz"):
        require_ecg_rate(Channel("ECG", ecg, 50.0, "mV", "ecg"))


def test_eight_digital_lines_make_one_code():
    n = 100
    codes = np.zeros(n, dtype=int)
    codes[10:15] = 11  # 0b00001011
    codes[40:45] = 200  # 0b11001000
    codes[70:] = 255
    lines = [Channel(f"Digital input {i + 1}", 5.0 * ((codes >> i) & 1), 100.0, "Volts")
             for i in range(8)]
    rng = np.random.default_rng(1)
    lines = [lines[i] for i in rng.permutation(8)]  # file order does not matter
    table = digital_channels_to_markers(lines)
    assert table["code"].tolist() == [11, 200, 255]
    assert table["onset_s"].tolist() == pytest.approx([0.1, 0.4, 0.7])
    flat = [Channel(f"D{i}", np.zeros(n), 100.0) for i in range(8)]
    assert len(digital_channels_to_markers(flat)) == 0


def test_code_changes_between_nonzero_codes():
    table = code_to_markers(np.array([5, 5, 0, 3, 4, 4, 0]), 10.0)
    assert table["code"].tolist() == [5, 3, 4]
    assert table["onset_s"].tolist() == pytest.approx([0.0, 0.3, 0.4])


def test_marker_channel_override_in_csv(tmp_path):
    path = tmp_path / "x.csv"
    stim = np.zeros(50)
    stim[20:30] = 2
    np.savetxt(path, np.c_[np.zeros(50), stim], delimiter=",", header="ECG,port", comments="")
    rec = read_recording(path, sampling_rate=10, marker_channel="port")
    assert rec.channels["port"].kind == "digital"
    assert rec.markers["code"].tolist() == [2] and rec.markers["onset_s"][0] == 2.0
    with pytest.raises(ChannelError, match="marker channel 'stim' not found"):
        read_recording(path, sampling_rate=10, marker_channel="stim")


def test_noise_or_flat_lead_is_never_called_volts():
    rng = np.random.default_rng(0)
    for trace in (rng.normal(0, 0.003, 5000), np.zeros(5000), np.full(5000, 0.2)):
        ch = Channel("ECG", trace, 250.0, "mV", "ecg")
        assert guess_ecg_units(trace) is None
        assert ecg_units_problem(ch) is None
        to_millivolts(ch)  # no ChannelError on a disconnected stretch
