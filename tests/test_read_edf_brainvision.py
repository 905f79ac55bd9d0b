"""EDF/BDF (edfio) and BrainVision (mne) readers on files generated here."""

from __future__ import annotations

import warnings

import edfio
import numpy as np
import pytest
from readers_fixtures import synthetic_ecg, synthetic_eda

from physio.errors import ReaderError
from physio.io import detect_format, read_recording


def _edf(tmp_path, name="session.edf"):
    ecg, _ = synthetic_ecg(20.0, 500.0)
    eda = synthetic_eda(20.0, 32.0)
    signals = [
        edfio.EdfSignal(ecg, 500, label="ECG", physical_dimension="mV", physical_range=(-5, 5)),
        edfio.EdfSignal(eda, 32, label="GSR", physical_dimension="uS",
                        physical_range=(0, 100)),
    ]
    annotations = [edfio.EdfAnnotation(1.0, None, "11"),
                   edfio.EdfAnnotation(6.5, None, "21 induction_onset"),
                   edfio.EdfAnnotation(9.0, None, "Lights off")]
    path = tmp_path / name
    edfio.Edf(signals, annotations=annotations).write(path)
    return path, ecg, eda


def test_edf_mixed_rates_are_kept(tmp_path):
    path, ecg, eda = _edf(tmp_path)
    assert detect_format(path) == "edf"
    rec = read_recording(path)
    assert rec.ecg().sampling_rate == 500.0 and len(rec.ecg().data) == 10000
    assert rec.eda().sampling_rate == 32.0 and len(rec.eda().data) == 640
    np.testing.assert_allclose(rec.ecg().data, ecg, atol=2e-4)  # 16-bit quantisation
    np.testing.assert_allclose(rec.eda().data, eda, atol=2e-3)
    assert rec.markers["code"].tolist() == [11, 21, -1]
    assert rec.markers["onset_s"].tolist() == pytest.approx([1.0, 6.5, 9.0])


def test_edf_with_wrong_extension_is_detected_by_content(tmp_path):
    path, _, _ = _edf(tmp_path, "session.csv")
    assert detect_format(path) == "edf"
    assert read_recording(path).ecg().sampling_rate == 500.0


def test_truncated_edf_keeps_complete_records_with_a_note(tmp_path):
    path, ecg, _ = _edf(tmp_path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2 + 3])
    rec = read_recording(path)  # an interrupted recording: the data before the cut is kept
    n = len(rec.ecg().data)
    assert 0 < n < len(ecg)
    np.testing.assert_allclose(rec.ecg().data, ecg[:n], atol=2e-4)
    assert any("truncated" in note for note in rec.meta["reader_notes"])


def test_edf_header_only_is_a_reader_error(tmp_path):
    path, _, _ = _edf(tmp_path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ReaderError, match="session.edf"):
        read_recording(path)


def test_bdf_status_channel_gives_markers(tmp_path):
    ecg, _ = synthetic_ecg(10.0, 512.0)
    status = np.zeros(len(ecg))
    status[1024:1034] = 11
    status[3072:3082] = 21
    status += 1 << 20  # BioSemi puts CMS/battery flags in the upper bits
    signals = [
        edfio.BdfSignal(ecg, 512, label="EXG1 ECG", physical_dimension="mV",
                        physical_range=(-5, 5)),
        edfio.BdfSignal(status, 512, label="Status", physical_range=(-8388608, 8388607),
                        digital_range=(-8388608, 8388607)),
    ]
    path = tmp_path / "biosemi.bdf"
    edfio.Bdf(signals).write(path)
    assert detect_format(path) == "bdf"
    rec = read_recording(path)
    assert rec.format == "bdf" and rec.ecg().name == "EXG1 ECG"
    assert rec.channels["Status"].kind == "digital"
    assert rec.markers["code"].tolist() == [11, 21]
    assert rec.markers["onset_s"].tolist() == pytest.approx([2.0, 6.0])


def _brainvision(tmp_path):
    import pybv

    ecg, _ = synthetic_ecg(10.0, 500.0)
    eda = synthetic_eda(10.0, 500.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pybv: non-µV units are "unsupported"
        pybv.write_brainvision(
            data=np.vstack([ecg * 1e-3, eda]), sfreq=500, ch_names=["ECG", "GSR"],
            fname_base="session", folder_out=tmp_path, events=np.array([[500, 11], [3250, 21]]),
            unit=["µV", "µS"], overwrite=True,
        )
    return tmp_path / "session.vhdr", ecg, eda


@pytest.mark.parametrize("suffix", [".vhdr", ".eeg", ".vmrk"])
def test_brainvision_units_as_given_and_markers(tmp_path, suffix):
    vhdr, ecg, eda = _brainvision(tmp_path)
    path = vhdr.with_suffix(suffix)
    assert detect_format(path) == "brainvision"
    rec = read_recording(path)
    # pybv takes volts and stores µV; the reader gives the file's units back (µV)
    assert rec.ecg().units == "µV"
    np.testing.assert_allclose(rec.ecg().data, ecg * 1e3, rtol=1e-5, atol=0.2)
    assert rec.eda().units == "µS"
    np.testing.assert_allclose(rec.eda().data, eda, rtol=1e-5)
    assert rec.markers["code"].tolist() == [11, 21]
    assert rec.markers["label"].tolist() == ["Stimulus/S 11", "Stimulus/S 21"]
    assert rec.markers["onset_s"].tolist() == pytest.approx([1.0, 6.5])


def test_brainvision_missing_eeg_file(tmp_path):
    vhdr, _, _ = _brainvision(tmp_path)
    vhdr.with_suffix(".eeg").unlink()
    with pytest.raises(ReaderError, match=r"session.vhdr: reading as BrainVision"):
        read_recording(vhdr)
