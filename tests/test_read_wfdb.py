"""WFDB reader (physio.io.read_wfdb): multi-frequency records, annotations, broken inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from physio.errors import ReaderError
from physio.io.assemble import finish_recording
from physio.io.read_wfdb import header_units, read_wfdb, record_base

FRAME_HZ = 10.0
SPF = (8, 2, 1)  # ECG 80 Hz, EDA 20 Hz, RESP 10 Hz
GAINS = (200.0, 100.0, 50.0)


def write_record(folder: Path, frames: int = 300, name: str = "rec") -> dict[str, np.ndarray]:
    """A format-16 multi-frequency record with known digital values; returns physical truth."""
    rng = np.random.default_rng(0)
    digital = [rng.integers(-2000, 2000, frames * k).astype(np.int16) for k in SPF]
    inter = np.concatenate([np.concatenate([d[f * k:(f + 1) * k] for d, k in
                                            zip(digital, SPF, strict=True)])
                            for f in range(frames)])
    (folder / f"{name}.dat").write_bytes(inter.astype("<i2").tobytes())
    lines = [f"{name} 3 {FRAME_HZ:g} {frames}",
             f"{name}.dat 16x{SPF[0]} {GAINS[0]:g}/mV 16 0 0 0 0 ECG",
             f"{name}.dat 16x{SPF[1]} {GAINS[1]:g}/uS 16 0 0 0 0 skin conductance",
             f"{name}.dat 16 {GAINS[2]:g} 16 0 0 0 0 RESP"]
    (folder / f"{name}.hea").write_text("\n".join(lines) + "\n")
    return {n: d / g for n, d, g in zip(("ECG", "skin conductance", "RESP"), digital, GAINS,
                                        strict=True)}


def test_each_channel_keeps_its_own_rate_and_values(tmp_path):
    truth = write_record(tmp_path)
    rec = read_wfdb(tmp_path / "rec.hea")
    rates = {n: c.sampling_rate for n, c in rec.channels.items()}
    assert rates == {"ECG": 80.0, "skin conductance": 20.0, "RESP": 10.0}
    for name, values in truth.items():
        assert np.allclose(rec.channels[name].data, values)
    assert rec.channels["ECG"].units == "mV" and rec.channels["RESP"].units == ""
    assert any("RESP: units not in the header" in n for n in rec.meta["reader_notes"])
    assert rec.format == "wfdb" and len(rec.markers) == 0


def test_kinds_from_the_registry_step(tmp_path):
    write_record(tmp_path)
    rec = finish_recording(read_wfdb(tmp_path / "rec"))
    assert {n: c.kind for n, c in rec.channels.items()} == {
        "ECG": "ecg", "skin conductance": "eda", "RESP": "rsp"}


def test_annotations_become_markers(tmp_path):
    # lazy: wfdb writes/reads the reference annotations of this test only
    import wfdb

    write_record(tmp_path)
    wfdb.wrann("rec", "atr", np.array([10, 50, 120]), symbol=["N", "+", "N"],
               aux_note=["", "12", ""], fs=FRAME_HZ, write_dir=str(tmp_path))
    rec = read_wfdb(tmp_path / "rec.dat")
    assert rec.markers["onset_s"].tolist() == [1.0, 5.0, 12.0]
    assert rec.markers["code"].tolist() == [-1, 12, -1]
    assert rec.markers["label"].tolist() == ["N", "+ 12", "N"]


def test_missing_header(tmp_path):
    with pytest.raises(ReaderError, match="header file not found"):
        read_wfdb(tmp_path / "nothing.hea")


def test_empty_header(tmp_path):
    (tmp_path / "e.hea").write_text("")
    with pytest.raises(ReaderError, match="empty"):
        read_wfdb(tmp_path / "e")


def test_garbage_header(tmp_path):
    (tmp_path / "g.hea").write_text("this is not a header at all\n")
    with pytest.raises(ReaderError, match="reading the WFDB header"):
        read_wfdb(tmp_path / "g")


def test_missing_data_file(tmp_path):
    write_record(tmp_path)
    (tmp_path / "rec.dat").unlink()
    with pytest.raises(ReaderError, match="data file .* is missing"):
        read_wfdb(tmp_path / "rec")


def test_empty_data_file(tmp_path):
    write_record(tmp_path)
    (tmp_path / "rec.dat").write_bytes(b"")
    with pytest.raises(ReaderError, match="no complete frame"):
        read_wfdb(tmp_path / "rec")


def test_truncated_data_keeps_complete_frames(tmp_path):
    truth = write_record(tmp_path)
    dat = tmp_path / "rec.dat"
    frame_bytes = 2 * sum(SPF)
    dat.write_bytes(dat.read_bytes()[: 100 * frame_bytes + 5])
    rec = read_wfdb(tmp_path / "rec")
    assert len(rec.channels["ECG"].data) == 100 * SPF[0]
    assert np.allclose(rec.channels["RESP"].data, truth["RESP"][:100])
    assert any("cut short: 100 of 300 frames" in n for n in rec.meta["reader_notes"])


def test_helpers():
    assert record_base("a/b.hea") == Path("a/b") and record_base("a/b") == Path("a/b")


def test_header_units(tmp_path):
    write_record(tmp_path)
    assert header_units(tmp_path / "rec.hea") == ["mV", "uS", None]


def test_drive05_multi_frequency(shared_data):
    rec = read_wfdb(shared_data / "real" / "drive05")
    rates = {n: c.sampling_rate for n, c in rec.channels.items()}
    assert rates["ECG"] == 496.0 and rates["foot GSR"] == 31.0 and rates["RESP"] == 31.0
    assert rates["HR"] == 15.5
    assert rec.channels["ECG"].duration_s == pytest.approx(78367 / 15.5)


def test_mitdb_annotations(shared_data):
    # lazy: wfdb writes/reads the reference annotations of this test only
    import wfdb

    rec = read_wfdb(shared_data / "mitdb" / "100")
    ann = wfdb.rdann(str(shared_data / "mitdb" / "100"), "atr")
    assert len(rec.markers) == len(ann.sample)
    assert rec.channels["MLII"].sampling_rate == 360.0
    assert np.allclose(rec.markers["onset_s"], ann.sample / 360.0)


def test_the_registry_reads_a_record_by_name_and_the_batch_finds_it(tmp_path):
    # lazy: the registry and the batch are what this test checks, after the reader's own
    from physio.batch import find_inputs
    from physio.io import detect_format, read_recording
    from physio.naming import strip_format_suffix

    write_record(tmp_path, name="drive99")
    assert detect_format(tmp_path / "drive99.hea") == "wfdb"
    rec = read_recording(tmp_path / "drive99.hea")
    assert rec.channels["ECG"].sampling_rate == 80.0 and rec.channels["ECG"].kind == "ecg"
    # the folder scan takes the header as the recording and passes over its data file
    found = find_inputs([tmp_path])
    assert [Path(p).name for p in found] == ["drive99.hea"]
    assert strip_format_suffix("drive99.hea") == "drive99"


def _write_processable_record(folder: Path, seed: int) -> None:
    """Two minutes of simulated ECG (250 Hz) and skin conductance as a WFDB record."""
    import neurokit2 as nk
    import wfdb

    ecg = nk.ecg_simulate(duration=120, sampling_rate=250, heart_rate=70, random_state=seed)
    eda = 5.0 + 0.2 * np.sin(np.arange(len(ecg)) / 250.0 / 10.0)
    wfdb.wrsamp("rec", fs=250, units=["mV", "uS"], sig_name=["ECG", "EDA"],
                p_signal=np.column_stack([ecg, eda]), fmt=["16", "16"],
                write_dir=str(folder))


def test_a_change_to_any_file_of_a_record_makes_it_out_of_date(tmp_path):
    """The input hashes cover the signal and annotation files, not only the header: a
    record whose samples or annotations changed is processed again (with only the header
    hashed, the batch called it up to date and kept the old results)."""
    import wfdb

    from physio.batch import run_batch
    from physio.sidecar import input_files

    raw, deriv = tmp_path / "raw", tmp_path / "deriv"
    raw.mkdir()
    _write_processable_record(raw, seed=1)

    def run() -> tuple[int, int, int]:
        s = run_batch([raw / "rec.hea"], deriv, progress=False)
        return s["ok"], s["skipped"], s["failed"]

    assert run() == (1, 0, 0)
    assert run() == (0, 1, 0)
    # other samples under the same header (the header's checksums are not re-written)
    samples = np.fromfile(raw / "rec.dat", dtype="<i2")
    samples[2000:4000] = samples[2000:4000] // 2
    samples.tofile(raw / "rec.dat")
    assert run() == (1, 0, 0)
    assert [f.name for f in input_files(raw / "rec.hea")] == ["rec.hea", "rec.dat"]
    wfdb.wrann("rec", "atr", np.array([2500, 5000]), symbol=["+", "+"],
               aux_note=["1", "2"], write_dir=str(raw))
    assert [f.name for f in input_files(raw / "rec.hea")] == ["rec.hea", "rec.dat", "rec.atr"]
    assert run() == (1, 0, 0)
    assert run() == (0, 1, 0)
