"""The batch's named steps, each on its own."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from physio.batch import failure_record, plan_labels, read_input, run_batch
from physio.batch.inputs import check_participant_from, scan_folder
from physio.batch.recording import (
    plan_job,
    recording_provenance,
    run_pipeline,
    up_to_date_result,
    write_qc_figure,
)
from physio.batch.run import collect_results, refused_results, write_batch_outputs
from physio.batch.scheduling import worth_reading_ahead
from physio.errors import ReaderError
from physio.naming import LabelError
from physio.progress import BatchProgress
from tests.readers_fixtures import write_bids_session


def _quiet_bar(n: int) -> BatchProgress:
    return BatchProgress(n, "physio", stream=io.StringIO())


def test_plan_job_names_the_outputs_and_hashes_settings_without_labels(tmp_path):
    src = write_bids_session(tmp_path / "raw", seconds=30.0).physio_tsv_gz
    a = plan_job(src, tmp_path / "d", {}, None, None, None, ("A1", "2", None))
    b = plan_job(src, tmp_path / "d", {}, None, None, None, ("B7", "2", None))
    assert (a.participant, a.session, a.key) == ("A1", "2", "sub-A1_ses-2")
    assert a.settings.participant == "A1" and a.files != b.files
    assert a.settings_sha256 == b.settings_sha256
    assert set(a.input_sha256) == {p.name for p in src.parent.iterdir()
                                   if p.name.startswith("sub-001")}
    c = plan_job(src, tmp_path / "d", {"window_s": 30}, None, None, None, ("A1", "2", None))
    assert c.settings_sha256 != a.settings_sha256
    with pytest.raises(ReaderError, match="file not found"):
        plan_job(tmp_path / "nope.acq", tmp_path / "d", {}, None, None, None, None)


def test_steps_of_one_recording_and_the_up_to_date_check(tmp_path):
    src = write_bids_session(tmp_path / "raw", seconds=60.0).physio_tsv_gz
    deriv = tmp_path / "d"
    job = plan_job(src, deriv, {}, None, None, None, ("001", "1", None))
    assert up_to_date_result(job) is None
    rec = read_input(src, {}, None, None)
    result, hand, job = run_pipeline(job, rec)
    assert hand == {} and len(result.windows)
    png = write_qc_figure(job, result)
    assert png.is_file() and png.stat().st_size > 1000
    prov = recording_provenance(job, "bids", result, hand, 1.234)
    assert prov["settings_sha256"] == job.settings_sha256
    assert prov["settings"]["participant"] == job.participant
    assert prov["timings_s"]["total"] == 1.234 and prov["format"] == "bids"
    run_batch([src], deriv, progress=False)
    skipped = up_to_date_result(plan_job(src, deriv, {}, None, None, None, ("001", "1", None)))
    assert skipped is not None and skipped["status"] == "skipped"
    assert skipped["key"] == job.key


def test_a_participant_named_twice_by_metadata_is_a_failure_and_the_run_goes_on():
    records = [{"status": "ok", "source": "a.acq", "key": "sub-1_ses-1"},
               {"status": "ok", "source": "b.acq", "key": "sub-1_ses-1"},
               failure_record(Path("c.acq"), ValueError("bad"))]
    out = collect_results(records, _quiet_bar(3))
    assert [r["status"] for r in out] == ["ok", "failed", "failed"]
    assert "writes the same outputs (sub-1_ses-1) as a.acq" in out[1]["message"]


def test_refused_inputs_become_failures(tmp_path):
    plan = plan_labels([Path("x/rec.acq"), Path("y/rec.acq")])
    out = refused_results(plan, _quiet_bar(2))
    assert [r["error_type"] for r in out] == ["LabelError", "LabelError"]
    summary = write_batch_outputs(tmp_path, out, [Path("notes.docx")])
    assert summary["failed"] == 2 and summary["not_recordings"] == ["notes.docx"]
    assert Path(summary["failures_tsv"]).read_text().count("LabelError") == 2


def test_participant_from_is_checked():
    check_participant_from("stem", None)
    with pytest.raises(LabelError, match="expected one of"):
        check_participant_from("folder", None)
    with pytest.raises(LabelError, match="not a regular expression"):
        check_participant_from("pattern", "(")
    with pytest.raises(LabelError, match="needs a regular expression"):
        check_participant_from("pattern", "")


def test_failure_records_of_bugs_ask_for_a_report():
    try:
        raise KeyError("x")
    except KeyError as exc:
        rec = failure_record(Path("a.acq"), exc, internal=True)
    assert rec["message"].startswith("a.acq: internal error, please report: KeyError")
    assert "test_batch_steps.py" in rec["message"]


def test_only_inputs_without_outputs_are_read_ahead(tmp_path):
    src = write_bids_session(tmp_path / "raw", seconds=30.0).physio_tsv_gz
    deriv = tmp_path / "d"
    call = (str(src), str(deriv), {}, None, False, None, None, ("001", "1", None))
    assert worth_reading_ahead(call)
    assert not worth_reading_ahead((str(tmp_path / "nope"), *call[1:]))
    run_batch([src], deriv, progress=False)
    assert not worth_reading_ahead(call)
    assert worth_reading_ahead((*call[:4], True, *call[5:]))  # forced


def test_scan_folder_reports_what_is_no_recording(tmp_path):
    (tmp_path / "a.edf").write_bytes(b"x")
    (tmp_path / "a_phases.tsv").write_text("x")
    (tmp_path / "derivatives").mkdir()
    (tmp_path / "derivatives" / "b.edf").write_bytes(b"x")
    (tmp_path / "c.pdf").write_bytes(b"x")
    found, passed = scan_folder(tmp_path)
    assert [p.name for p in found] == ["a.edf"] and [p.name for p in passed] == ["c.pdf"]
