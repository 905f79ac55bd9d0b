"""Issue 7: the batch command against the whole bad-input corpus.

Every bad file ends as either a processed recording or a failure with a clear, project-level
reason naming the file; never an internal error. The batch completes the rest, and the
failures table lists exactly the files that failed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conditions.bids import failures_tsv, read_tsv

sys.path.insert(0, str(Path(__file__).resolve().parent / "data"))
import make_bad_corpus  # noqa: E402

PROJECT_ERRORS = {
    "SootheError", "ReaderError", "ChannelError", "PhaseError", "SignalQualityError", "PhysioError",
    "DatasetError", "ProtocolError",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return make_bad_corpus.build(tmp_path_factory.mktemp("bad"))


@pytest.fixture(scope="module")
def batch_result(corpus, tmp_path_factory):
    from physio.batch import run_batch

    deriv = tmp_path_factory.mktemp("deriv")
    inputs = [str(corpus / case.path) for case in make_bad_corpus.CASES]
    summary = run_batch(inputs, deriv, jobs=1, progress=False, sampling_rate=None)
    return deriv, summary


def _by_source(summary) -> dict[str, dict]:
    return {Path(r["source"]).resolve().as_posix(): r for r in summary["results"]}


def test_every_bad_file_has_a_clear_outcome(corpus, tmp_path):
    """Each file on its own (several corpus folders share sub-001_ses-1 on purpose)."""
    from physio.batch import process_file

    for i, case in enumerate(make_bad_corpus.CASES):
        result = process_file(str(corpus / case.path), str(tmp_path / f"d{i}"))
        if result["status"] == "failed":
            assert result["error_type"] in PROJECT_ERRORS, (case.path, result)
            assert "internal error" not in result["message"], (case.path, result["message"])
            assert Path(case.path).name in result["message"] or case.path.split("/")[0] in (
                result["message"]
            ), f"{case.path}: the message must name the file: {result['message']}"
        else:
            assert result["status"] == "ok", (case.path, result)
        if case.expect == "error":
            assert result["status"] == "failed", f"{case.path} ({case.what}) was accepted"


def test_batch_goes_on_past_every_bad_file(corpus, batch_result):
    _, summary = batch_result
    results = _by_source(summary)
    assert len(results) == len(make_bad_corpus.CASES)
    for case in make_bad_corpus.CASES:
        result = results[(corpus / case.path).resolve().as_posix()]
        assert result["status"] in ("ok", "failed"), result
        if result["status"] == "failed":
            assert "internal error" not in result["message"], (case.path, result["message"])


def test_failures_table_lists_exactly_the_failed_files(batch_result):
    deriv, summary = batch_result
    failed = sorted(
        Path(r["source"]).resolve().as_posix() for r in summary["results"]
        if r["status"] == "failed"
    )
    table = read_tsv(failures_tsv(deriv))
    assert sorted(Path(s).resolve().as_posix() for s in table["source"]) == failed
    assert summary["failed"] == len(failed) > 0
    assert summary["ok"] == len(make_bad_corpus.CASES) - len(failed) > 0


def test_cli_exit_code_is_nonzero_when_anything_failed(corpus, tmp_path):
    from physio.cli import main

    good = corpus / "ecg_inverted.csv"
    bad = corpus / "empty.csv"
    code = main(["process", str(good), str(bad), "--out", str(tmp_path / "d"), "--jobs", "1"])
    assert code != 0
    table = read_tsv(failures_tsv(tmp_path / "d"))
    assert [Path(s).name for s in table["source"]] == ["empty.csv"]
