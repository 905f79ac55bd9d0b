"""Issue 7: every reader against every file of the bad-input corpus.

Each file either fails with the project's own error (naming the file and what was
expected) or reads correctly with the problem noted; no library traceback ever escapes.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

from conditions.errors import SootheError
from physio.errors import ChannelError, ReaderError
from physio.io import FORMATS, read_recording, require_ecg_rate, to_microsiemens, to_millivolts

sys.path.insert(0, str(Path(__file__).resolve().parent / "data"))
import make_bad_corpus  # noqa: E402

CASES = make_bad_corpus.CASES


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = make_bad_corpus.build(tmp_path_factory.mktemp("bad"))
    if not (out / "truncated.acq").exists():
        pytest.skip("truncated.acq needs ../shared/data/biopac or tests/data/bad/truncated.acq")
    return out


def _names_the_file(message: str, case_path: str) -> bool:
    parts = Path(case_path).parts
    return parts[0] in message or Path(case_path).name in message


@pytest.mark.parametrize("case", [c for c in CASES if c.expect == "error"], ids=lambda c: c.path)
def test_bad_file_gives_a_clear_error(corpus, case):
    with pytest.raises((ReaderError, ChannelError)) as info:
        read_recording(corpus / case.path)
    message = str(info.value)
    assert re.search(case.match, message), message
    assert _names_the_file(message, case.path), message
    assert info.value.__cause__ is None or isinstance(info.value.__cause__, SootheError)


def _check_ok(rec, check: str) -> None:
    notes = " | ".join(rec.meta.get("reader_notes", []))
    if check == "format_edf":
        assert rec.format == "edf" and rec.ecg().sampling_rate == 250.0
    elif check == "note_chunk":
        assert rec.ecg().sampling_rate == 250.0 and "ends inside a chunk" in notes
    elif check == "no_participant":
        assert rec.meta["condition"] is None and "not listed" in notes
    elif check == "markers_sorted":
        assert rec.markers["onset_s"].is_monotonic_increasing
        assert rec.markers["code"].tolist() == [11, 20, 20, 21]
        assert "not in time order" in notes and "duplicated" in notes
    elif check == "note_ends_early":
        assert rec.duration_s == pytest.approx(12.0) and "stops early" in notes
    elif check == "ecg_volts":
        assert "looks like V" in notes
        with pytest.raises(ChannelError, match=r"'ECG \(mV\)' is labelled 'mV'"):
            to_millivolts(rec.ecg())
        assert np.ptp(to_millivolts(rec.ecg(), units="V")) == pytest.approx(1.2, rel=0.05)
    elif check == "ecg_inverted":
        ecg = rec.ecg().data
        assert abs(ecg.min()) > abs(ecg.max())  # read as is; polarity is the pipeline's job
    elif check == "eda_kohm":
        assert rec.eda().units == "kOhm"
        us = to_microsiemens(rec.eda())
        assert 4.5 < np.nanmin(us) and np.nanmax(us) < 5.5
    elif check == "note_nan":
        assert np.isnan(rec.ecg().data).sum() == 250 and "missing (NaN)" in notes
    elif check == "ecg_low_rate":
        assert rec.ecg().sampling_rate == 50.0 and "below the 100 Hz" in notes
        with pytest.raises(ChannelError, match="50 Hz.*at least 100 Hz"):
            require_ecg_rate(rec.ecg())
    elif check == "note_truncated":
        assert 0 < rec.duration_s < 30 and "truncated" in notes
    elif check == "read":
        assert len(rec.ecg().data) > 0 and len(rec.eda().data) > 0
    else:  # pragma: no cover - a new case without a check
        raise AssertionError(f"unknown check {check!r}")


@pytest.mark.parametrize("case", [c for c in CASES if c.expect == "ok"], ids=lambda c: c.path)
def test_awkward_file_reads_correctly(corpus, case):
    _check_ok(read_recording(corpus / case.path), case.check)


def test_saturated_eda_is_noted(corpus):
    rec = read_recording(corpus / "eda_saturated.csv")
    assert any("looks clipped" in n for n in rec.meta["reader_notes"])


#: Readers that accept each other's files (edfio reads EDF and BDF alike).
_SAME_FAMILY = {"edf": {"edf", "bdf"}, "bdf": {"edf", "bdf"}}
#: Files a forced reader legitimately reads although detection rejects them: a CSV table
#: named ``.edf`` (detection refuses the contradiction; forcing ``csv`` settles it).
_FORCED_EXTRA = {"csv": {"table_named.edf"}}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_reader_on_every_file(corpus, fmt):
    """Forcing each reader on each file: a Recording or a project error, nothing else.

    A forced reader reads exactly the readable ("ok") files whose content is its format
    (plus the listed extras) and refuses every other file with a project error.
    """
    from physio.io import detect_format

    family = _SAME_FAMILY.get(fmt, {fmt})
    expected = {c.path for c in CASES
                if c.expect == "ok" and detect_format(corpus / c.path) in family}
    expected |= _FORCED_EXTRA.get(fmt, set())
    read, refused = set(), set()
    for case in CASES:
        try:
            read_recording(corpus / case.path, fmt=fmt)
            read.add(case.path)
        except SootheError as exc:
            assert str(corpus) in str(exc) or Path(case.path).name in str(exc), str(exc)
            refused.add(case.path)
    assert read == expected
    assert len(refused) == len(CASES) - len(expected)
    # the corpus has no readable acq, vhdr or WFDB case (WFDB's own readable, broken,
    # truncated and empty records are in tests/test_read_wfdb.py)
    if fmt not in ("acq", "brainvision", "wfdb"):
        assert read
