"""Build the bad-input corpus of issue 7: files that real labs produce and readers must survive.

Usage::

    .venv/bin/python tests/data/make_bad_corpus.py [OUT_DIR]     # default: tests/data/bad

Everything is generated (deterministically, seed 7) except ``truncated.acq``, which needs
a real AcqKnowledge file: it is cut from ``../shared/data/biopac/r42_test.acq`` when that
exists, else the committed copy in ``tests/data/bad/`` is used.

:data:`CASES` says, for every file, what a reader must do with it: ``error`` (a
ReaderError/ChannelError whose message matches ``match`` and names the file) or ``ok`` (a
correct read; the test then checks the detail named in ``check``). The batch-command tests
can use the same list.
"""

from __future__ import annotations

import gzip
import json
import shutil
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
REPO = TESTS.parent
SHARED_ACQ = REPO.parent / "shared" / "data" / "biopac" / "r42_test.acq"
COMMITTED_ACQ = HERE / "bad" / "truncated.acq"

FS = 250.0
SECONDS = 30.0


@dataclass(frozen=True)
class Case:
    path: str  # relative to the corpus folder
    expect: str  # "error" or "ok"
    match: str  # regex the error message must match ("" for ok cases)
    what: str  # what the file is
    check: str = ""  # for ok cases: the detail the test verifies


CASES: list[Case] = [
    Case("empty.csv", "error", r"file is empty", "an empty file (0 bytes), .csv"),
    Case("empty.acq", "error", r"file is empty", "an empty file (0 bytes), .acq"),
    Case("empty.xdf", "error", r"file is empty", "an empty file (0 bytes), .xdf"),
    Case("empty.edf", "error", r"file is empty", "an empty file (0 bytes), .edf"),
    Case("truncated.acq", "error", r"truncated",
         "AcqKnowledge file with the header intact and the data cut"),
    Case("edf_named.acq", "ok", "", "a valid EDF file with an .acq extension", "format_edf"),
    Case("table_named.edf", "error", r"extension says edf but the content is plain text",
         "a CSV table with an .edf extension"),
    Case("random_bytes.xdf", "error", r"content does not look like a xdf file",
         "random bytes with an .xdf extension"),
    Case("binary.csv", "error", r"content does not look like a csv file",
         "binary junk with a .csv extension"),
    Case("xdf_chunk_length_lies.xdf", "error", r"chunk \d+ at byte \d+",
         "XDF whose stream-header chunk length is 3 bytes too long"),
    Case("xdf_clock_offsets_out_of_order.xdf", "error", r"clock offsets are out of order",
         "XDF whose clock-offset collection times go backwards"),
    Case("xdf_interrupted.xdf", "ok", "", "XDF cut inside its last chunk (recorder crash)",
         "note_chunk"),
    Case("csv_no_time_no_rate.csv", "error", r"no time column and no sampling rate",
         "CSV with no time column (and no rate given)"),
    Case("csv_irregular_time.csv", "error", r"irregular",
         "CSV whose time column has a 2 s gap"),
    Case("csv_repeated_time.csv", "error", r"not strictly increasing.*too few digits",
         "CSV whose time stamps were printed with too few digits"),
    Case("bids_missing_json/sub-001/ses-1/beh/sub-001_ses-1_task-induction_physio.tsv.gz",
         "error", r"physio sidecar not found", "BIDS physio without its JSON sidecar"),
    Case("bids_json_columns_disagree/sub-001/ses-1/beh/"
         "sub-001_ses-1_task-induction_physio.tsv.gz", "error",
         r"has 2 column\(s\) but the sidecar's Columns lists 3",
         "BIDS physio whose JSON lists 3 columns for a 2-column TSV"),
    Case("bids_bad_json/sub-001/ses-1/beh/sub-001_ses-1_task-induction_physio.tsv.gz",
         "error", r"not valid JSON", "BIDS physio whose JSON sidecar is cut off"),
    Case("bids_non_numeric/sub-001/ses-1/beh/sub-001_ses-1_task-induction_physio.tsv.gz",
         "error", r"parsing 2 tab-separated numeric columns",
         "BIDS physio with text in a numeric column"),
    Case("bids_no_participant/sub-001/ses-1/beh/sub-001_ses-1_task-induction_physio.tsv.gz",
         "ok", "", "recording whose participant is not in participants.tsv", "no_participant"),
    Case("bids_markers_disordered/sub-001/ses-1/beh/"
         "sub-001_ses-1_task-induction_physio.tsv.gz", "ok", "",
         "events out of order, one duplicated, one missing", "markers_sorted"),
    Case("bids_ends_early/sub-001/ses-1/beh/sub-001_ses-1_task-induction_physio.tsv.gz",
         "ok", "", "recording that stops before the protocol's last markers", "note_ends_early"),
    Case("ecg_in_volts.csv", "ok", "", "ECG in V in a column labelled mV", "ecg_volts"),
    Case("ecg_inverted.csv", "ok", "", "an inverted ECG (electrodes swapped)", "ecg_inverted"),
    Case("ecg_flat_part.csv", "ok", "", "ECG flat (lead off) for 8 s", "read"),
    Case("eda_kohm.csv", "ok", "", "EDA as skin resistance in kOhm", "eda_kohm"),
    Case("eda_saturated.csv", "ok", "", "EDA clipped at the amplifier's maximum", "read"),
    Case("nan_runs.csv", "ok", "", "ECG and EDA with runs of missing samples", "note_nan"),
    Case("ecg_50hz.csv", "ok", "", "ECG sampled at 50 Hz (below the 100 Hz needed)",
         "ecg_low_rate"),
    Case("edf_truncated.edf", "ok", "", "EDF cut in the middle of its data records "
         "(interrupted recording: the complete records are kept, with a note)",
         "note_truncated"),
    Case("brainvision_missing_eeg/session.vhdr", "error", r"reading as BrainVision",
         "BrainVision header and markers without the .eeg data file"),
]


def _ecg(seconds: float = SECONDS, fs: float = FS, hr: float = 66.0) -> np.ndarray:
    t = np.arange(int(seconds * fs)) / fs
    x = np.zeros_like(t)
    for b in np.arange(0.3, seconds, 60.0 / hr):
        x += 1.2 * np.exp(-0.5 * ((t - b) / 0.012) ** 2)
        x += 0.3 * np.exp(-0.5 * ((t - b - 0.25) / 0.04) ** 2)
    return x


def _eda(seconds: float = SECONDS, fs: float = FS) -> np.ndarray:
    t = np.arange(int(seconds * fs)) / fs
    return 5.0 + 0.3 * np.sin(2 * np.pi * t / 20.0)


def _csv(path: Path, columns: dict[str, np.ndarray], fs: float | None = FS,
         time_fmt: str = "%.4f") -> None:
    names = list(columns)
    data = np.column_stack([columns[n] for n in names])
    fmt = ["%.6g"] * len(names)
    if fs is not None:
        data = np.column_stack([np.arange(len(data)) / fs, data])
        names = ["time_s", *names]
        fmt = [time_fmt, *fmt]
    np.savetxt(path, data, delimiter=",", header=",".join(names), comments="", fmt=fmt)


def _bids(root: Path, *, listed: bool = True, events=None, seconds: float = SECONDS):
    from conditions import bids

    files = bids.SessionFiles(root, "001", "1", "induction")
    bids.ensure_dataset(root, "bad corpus", "induction")
    bids.write_physio(files, {"ecg": _ecg(seconds), "eda": _eda(seconds)}, FS,
                      {"ecg": "mV", "eda": "uS"})
    for onset, code, label in events or [(1.0, 11, "baseline_onset"),
                                         (10.0, 20, "induction_onset")]:
        bids.append_tsv_row(files.events_tsv, list(bids.EVENTS_COLUMNS),
                            {"onset": onset, "duration": 0, "trial_type": label, "value": code})
    if listed:
        bids.upsert_participant(root, {"participant_id": "sub-001", "age": 30, "sex": "f",
                                       "condition": "neutral", "session_code": "S-X",
                                       "status": "complete"})
    return files


def _xdf(path: Path, **kwargs) -> Path:
    sys.path.insert(0, str(TESTS))
    from xdf_writer import XdfStream, write_xdf

    ecg = _ecg()
    t = 500.0 + np.arange(len(ecg)) / FS
    streams = [
        XdfStream("BioAmp", "ECG", FS, "float32", ecg[:, None], t, labels=["ECG"],
                  units=["mV"], stream_id=1,
                  clock_offsets=kwargs.pop("clock", ((500.0, 0.0), (530.0, 0.0)))),
        XdfStream("Markers", "Markers", 0, "string", [["11"], ["20"]], np.array([501.0, 510.0]),
                  stream_id=2),
    ]
    return write_xdf(path, streams, **kwargs)


def build(out: Path) -> Path:
    """Write the whole corpus into ``out`` (created); return ``out``."""
    import edfio

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("empty.csv", "empty.acq", "empty.xdf", "empty.edf"):
        (out / name).write_bytes(b"")
    # truncated .acq: header intact (first 8 kB), data cut
    target = out / "truncated.acq"
    if SHARED_ACQ.is_file():
        raw = SHARED_ACQ.read_bytes()
        target.write_bytes(raw[: len(raw) // 4])
    elif COMMITTED_ACQ.is_file() and COMMITTED_ACQ.resolve() != target.resolve():
        shutil.copyfile(COMMITTED_ACQ, target)
    # wrong extensions
    edf = edfio.Edf([edfio.EdfSignal(_ecg(), FS, label="ECG", physical_dimension="mV",
                                     physical_range=(-5, 5))])
    edf.write(out / "edf_named.acq")
    _csv(out / "table_named.edf", {"ECG": _ecg()})
    rng = np.random.default_rng(7)
    (out / "random_bytes.xdf").write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    (out / "binary.csv").write_bytes(b"\x00\x01\x02\xff" * 512)
    # XDF
    good = _xdf(out / "xdf_chunk_length_lies.xdf")
    raw = bytearray(good.read_bytes())
    # The first stream-header chunk starts after "XDF:" + the file-header chunk
    # ([1][len][tag][content]); its length field (width byte, then little-endian) grows by 3.
    width_at = 4 + 2 + raw[5]
    width = raw[width_at]
    length = int.from_bytes(raw[width_at + 1: width_at + 1 + width], "little")
    raw[width_at + 1: width_at + 1 + width] = (length + 3).to_bytes(width, "little")
    good.write_bytes(bytes(raw))
    _xdf(out / "xdf_clock_offsets_out_of_order.xdf",
         clock=((520.0, 0.0), (500.0, 0.1), (530.0, 0.0)))
    full = _xdf(out / "xdf_interrupted.xdf").read_bytes()
    (out / "xdf_interrupted.xdf").write_bytes(full[: len(full) - 40])
    # CSV
    _csv(out / "csv_no_time_no_rate.csv", {"ECG": _ecg(), "EDA": _eda()}, fs=None)
    gap = out / "csv_irregular_time.csv"
    _csv(gap, {"ECG": _ecg(), "EDA": _eda()})
    lines = gap.read_text().splitlines(keepends=True)
    gap.write_text("".join(lines[:1001] + lines[1501:]))
    long_ecg = np.tile(_ecg(), 40)  # 20 min, so that times pass 1000 s
    _csv(out / "csv_repeated_time.csv", {"ECG": long_ecg}, time_fmt="%.6g")
    ecg = _ecg()
    _csv(out / "ecg_in_volts.csv", {"ECG (mV)": ecg / 1000.0, "EDA (uS)": _eda()})
    _csv(out / "ecg_inverted.csv", {"ECG (mV)": -ecg, "EDA (uS)": _eda()})
    flat = ecg.copy()
    flat[int(10 * FS): int(18 * FS)] = 0.0
    _csv(out / "ecg_flat_part.csv", {"ECG (mV)": flat, "EDA (uS)": _eda()})
    _csv(out / "eda_kohm.csv", {"ECG (mV)": ecg, "GSR (kOhm)": 1000.0 / _eda()})
    _csv(out / "eda_saturated.csv", {"ECG (mV)": ecg, "EDA (uS)": np.minimum(_eda(), 5.1)})
    holes_ecg, holes_eda = ecg.copy(), _eda()
    holes_ecg[1000:1250] = np.nan
    holes_eda[3000:3100] = np.nan
    _csv(out / "nan_runs.csv", {"ECG (mV)": holes_ecg, "EDA (uS)": holes_eda})
    _csv(out / "ecg_50hz.csv", {"ECG (mV)": _ecg(fs=50.0), "EDA (uS)": _eda(fs=50.0)}, fs=50.0)
    # BIDS
    for name in ("bids_missing_json", "bids_json_columns_disagree", "bids_bad_json",
                 "bids_non_numeric", "bids_no_participant", "bids_markers_disordered",
                 "bids_ends_early"):
        shutil.rmtree(out / name, ignore_errors=True)
    _bids(out / "bids_missing_json").physio_json.unlink()
    files = _bids(out / "bids_json_columns_disagree")
    meta = json.loads(files.physio_json.read_text())
    meta["Columns"] = ["ecg", "eda", "resp"]
    files.physio_json.write_text(json.dumps(meta, indent=2))
    files = _bids(out / "bids_bad_json")
    files.physio_json.write_text(files.physio_json.read_text()[:40])
    files = _bids(out / "bids_non_numeric")
    with gzip.open(files.physio_tsv_gz, "wt") as fh:
        fh.write("0.1\t5.0\n0.2\tlead-off\n0.1\t5.0\n")
    _bids(out / "bids_no_participant", listed=False)
    _bids(out / "bids_markers_disordered", events=[
        (10.0, 20, "induction_onset"), (1.0, 11, "baseline_onset"),
        (10.0, 20, "induction_onset"), (25.0, 21, "induction_offset")])
    _bids(out / "bids_ends_early", seconds=12.0, events=[
        (1.0, 11, "baseline_onset"), (10.0, 20, "induction_onset"),
        (25.0, 21, "induction_offset")])
    # EDF cut in the middle of its data
    path = out / "edf_truncated.edf"
    edfio.Edf([edfio.EdfSignal(_ecg(), FS, label="ECG", physical_dimension="mV",
                               physical_range=(-5, 5))]).write(path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2 + 5])
    # BrainVision without its .eeg file
    import pybv

    folder = out / "brainvision_missing_eeg"
    folder.mkdir(exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        pybv.write_brainvision(data=np.vstack([_ecg() * 1e-3]), sfreq=FS, ch_names=["ECG"],
                               fname_base="session", folder_out=folder, unit=["µV"],
                               overwrite=True, events=np.array([[250, 11]]))
    (folder / "session.eeg").unlink()
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "bad"
    build(target)
    print(f"bad-input corpus written to {target} ({len(CASES)} cases)")
