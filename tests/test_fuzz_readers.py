"""Issue 7: fuzz read_recording with random bytes and damaged valid files (hypothesis).

Nothing may escape but the project's own errors (SootheError subclasses). The budget is
modest by default (about 530 cases); raise it for a long run with
``SOOTHE_FUZZ_SCALE=20 .venv/bin/pytest tests/test_fuzz_readers.py -s``.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import tempfile
import warnings
from collections import Counter
from pathlib import Path

import edfio
import numpy as np
import pytest
from fuzz_mutations import budget, mutated
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from readers_fixtures import synthetic_ecg, synthetic_eda, write_bids_session
from xdf_writer import XdfStream, write_xdf

from conditions.errors import SootheError
from physio.io import read_recording
from physio.recording import Recording

RAN: Counter[str] = Counter()
OUTCOME: Counter[str] = Counter()
WORK = Path(tempfile.mkdtemp(prefix="soothe-fuzz-"))


# In CI the examples are derandomised (the same cases every run, all known to pass), so a
# green build stays green; exploratory runs use SOOTHE_FUZZ_SCALE and fresh randomness.
DERANDOMIZE = os.environ.get("CI", "").lower() in ("1", "true", "yes")
#: A single read that takes longer than this is a hang (a damaged header count, say).
HANG_S = 30


def _settings(n: int):
    return settings(
        max_examples=budget(n), deadline=None, database=None, derandomize=DERANDOMIZE,
        # no shrinking: a failing example is reported as found, so CI time stays bounded
        phases=(Phase.explicit, Phase.generate), report_multiple_bugs=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def _attempt(target: str, path: Path, **kwargs) -> None:
    RAN[target] += 1

    def hang(signum, frame):
        raise TimeoutError(f"read_recording hung for more than {HANG_S} s on {path}")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(HANG_S)
    try:
        rec = read_recording(path, **kwargs)
    except SootheError as exc:
        OUTCOME["project error"] += 1
        assert str(exc).strip()
        return
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    OUTCOME["read"] += 1
    assert isinstance(rec, Recording) and rec.channels
    for ch in rec.channels.values():
        assert ch.sampling_rate > 0 and np.isfinite(ch.sampling_rate)
        assert ch.data.dtype == np.float64 and ch.data.ndim == 1
    assert list(rec.markers.columns) == ["onset_s", "code", "label"]


# ---- seeds: small valid files -------------------------------------------------------


def _seed_edf(bdf: bool = False) -> bytes:
    ecg, _ = synthetic_ecg(4.0, 128.0)
    sig, kind = (edfio.BdfSignal, edfio.Bdf) if bdf else (edfio.EdfSignal, edfio.Edf)
    signals = [sig(ecg, 128, label="ECG", physical_dimension="mV", physical_range=(-5, 5)),
               sig(synthetic_eda(4.0, 8.0), 8, label="EDA", physical_dimension="uS",
                   physical_range=(0, 50))]
    path = WORK / ("seed.bdf" if bdf else "seed.edf")
    if bdf:
        kind(signals).write(path)
    else:
        kind(signals, annotations=[edfio.EdfAnnotation(1.0, None, "11")]).write(path)
    return path.read_bytes()


def _seed_xdf() -> bytes:
    ecg, _ = synthetic_ecg(2.0, 100.0)
    streams = [
        XdfStream("Amp", "ECG", 100, "float32", ecg[:, None], 5 + np.arange(len(ecg)) / 100,
                  labels=["ECG"], units=["mV"], stream_id=1),
        XdfStream("M", "Markers", 0, "string", [["11"], ["20"]], np.array([5.5, 6.0]),
                  stream_id=2),
    ]
    return write_xdf(WORK / "seed.xdf", streams, chunk_samples=50).read_bytes()


def _seed_csv() -> bytes:
    ecg, _ = synthetic_ecg(2.0, 100.0)
    rows = ["time,ECG,EDA,trigger"] + [
        f"{i / 100:.2f},{v:.4f},5.0,{11 if i == 50 else 0}" for i, v in enumerate(ecg)]
    return ("\n".join(rows) + "\n").encode()


SEEDS = {
    "edf": _seed_edf(),
    "bdf": _seed_edf(bdf=True),
    "xdf": _seed_xdf(),
    "csv": _seed_csv(),
}
ACQ = Path(os.environ.get("SOOTHE_SHARED_DATA")
           or Path(__file__).resolve().parents[2] / "shared" / "data") / "biopac" / "r42_test.acq"


# ---- targets ------------------------------------------------------------------------


@_settings(100)
@given(data=st.binary(max_size=2048),
       suffix=st.sampled_from([".acq", ".xdf", ".edf", ".bdf", ".vhdr", ".csv", ".tsv", ".txt",
                               ".eeg", ".dat", "_physio.tsv.gz", "_physio.json"]))
def test_random_bytes(data, suffix):
    path = WORK / f"random{suffix}"
    path.write_bytes(data)
    _attempt("random bytes", path)


@pytest.mark.parametrize("fmt", ["edf", "bdf", "xdf", "csv"])
def test_mutated_files(fmt):
    @_settings(60 if fmt != "bdf" else 40)
    @given(data=mutated(SEEDS[fmt]))
    def run(data):
        path = WORK / f"mutated.{fmt}"
        path.write_bytes(data)
        _attempt(f"mutated {fmt}", path)

    run()


@pytest.mark.shared
def test_mutated_acq():
    if not ACQ.is_file():
        pytest.skip(f"{ACQ} not found")
    seed = ACQ.read_bytes()

    @_settings(60)
    @given(data=mutated(seed))
    def run(data):
        path = WORK / "mutated.acq"
        path.write_bytes(data)
        _attempt("mutated acq", path)

    run()


def test_mutated_brainvision():
    import pybv

    folder = WORK / "bv"
    ecg, _ = synthetic_ecg(2.0, 100.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        pybv.write_brainvision(data=ecg[None, :] * 1e-3, sfreq=100, ch_names=["ECG"],
                               fname_base="seed", folder_out=folder, unit=["µV"],
                               events=np.array([[50, 11]]), overwrite=True)
    originals = {ext: (folder / f"seed{ext}").read_bytes() for ext in (".vhdr", ".vmrk", ".eeg")}

    @_settings(50)
    @given(which=st.sampled_from([".vhdr", ".vmrk", ".eeg"]), data=st.data())
    def run(which, data):
        for ext, raw in originals.items():
            (folder / f"seed{ext}").write_bytes(raw)
        (folder / f"seed{which}").write_bytes(data.draw(mutated(originals[which])))
        _attempt("mutated brainvision", folder / "seed.vhdr")

    run()


def test_mutated_bids():
    root = WORK / "bids"
    files = write_bids_session(root, seconds=4.0, rate=50.0)
    parts = {
        "tsv.gz": files.physio_tsv_gz,
        "tsv": None,  # the decompressed samples, mutated then recompressed
        "json": files.physio_json,
        "events": files.events_tsv,
        "participants": root / "participants.tsv",
    }
    originals = {k: p.read_bytes() for k, p in parts.items() if p is not None}
    plain = gzip.decompress(originals["tsv.gz"])

    @_settings(60)
    @given(which=st.sampled_from(list(parts)), data=st.data())
    def run(which, data):
        for key, raw in originals.items():
            parts[key].write_bytes(raw)
        if which == "tsv":
            damaged = gzip.compress(data.draw(mutated(plain)), mtime=0)
            files.physio_tsv_gz.write_bytes(damaged)
        else:
            parts[which].write_bytes(data.draw(mutated(originals[which])))
        _attempt("mutated bids", files.physio_tsv_gz)

    run()


def test_structurally_odd_bids_sidecars():
    """Valid JSON with wrong types and values in every key."""
    root = WORK / "bids_json"
    files = write_bids_session(root, seconds=2.0, rate=50.0)
    sidecar = json.loads(files.physio_json.read_text())
    odd = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
                    st.lists(st.text(max_size=4), max_size=4), st.dictionaries(
                        st.text(max_size=4), st.integers(), max_size=2))

    @_settings(50)
    @given(key=st.sampled_from([*sidecar, "Columns", "ecg", "eda"]), value=odd)
    def run(key, value):
        damaged = dict(sidecar)
        damaged[key] = value
        files.physio_json.write_text(json.dumps(damaged))
        _attempt("odd bids sidecar", files.physio_tsv_gz)

    run()


def test_report_fuzz_counts():
    """Runs last in this file: prints how many cases each target ran (use -s to see)."""
    total = sum(RAN.values())
    print(f"\nfuzz read_recording: {total} cases " + ", ".join(f"{k}={v}" for k, v in
          sorted(RAN.items())) + f"; outcomes {dict(OUTCOME)}")
    assert total > 0
