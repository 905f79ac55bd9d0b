"""The batch command: BIDS input, outputs and their schema, up-to-date skipping, failure
isolation, atomic outputs, the CLI, and the process pool."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from conditions.bids import (
    BEATS_COLUMNS,
    FAILURES_COLUMNS,
    WINDOWS_COLUMNS,
    failures_tsv,
    group_windows_paths,
    iter_sessions,
    qc_index_html,
    read_tsv,
)
from physio.batch import find_inputs, run_batch

N_PARTICIPANTS = 3


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    from soothe.simulate import simulate_study

    out = tmp_path_factory.mktemp("raw")
    simulate_study(out, N_PARTICIPANTS, seed=7, fs=250.0)
    return out


@pytest.fixture(scope="module")
def first_run(raw, tmp_path_factory):
    deriv = tmp_path_factory.mktemp("deriv")
    summary = run_batch([raw], deriv, progress=False)
    return deriv, summary


def no_partial_files(root: Path) -> bool:
    return not [p for p in root.rglob("*") if p.name.endswith(".part")]


def test_bids_root_gives_every_session(raw):
    found = find_inputs([raw])
    assert len(found) == N_PARTICIPANTS
    assert all(p.name.endswith("_physio.tsv.gz") for p in found)
    assert len(list(iter_sessions(raw))) == N_PARTICIPANTS


def test_outputs_follow_the_contract(raw, first_run):
    deriv, summary = first_run
    assert (summary["ok"], summary["failed"]) == (N_PARTICIPANTS, 0)
    desc = json.loads((deriv / "dataset_description.json").read_text())
    assert desc["DatasetType"] == "derivative" and desc["GeneratedBy"][0]["Name"] == "soothe"
    participants = pd.read_csv(raw / "participants.tsv", sep="\t")
    total = 0
    for res in summary["results"]:
        windows = read_tsv(Path(res["windows"]), WINDOWS_COLUMNS)
        total += len(windows)
        pid = windows.participant_id.iloc[0]
        cond = participants.set_index("participant_id").loc[pid, "condition"]
        assert set(windows.condition) == {cond}
        assert {"baseline", "induction", "recovery"} <= set(windows.phase)
        assert (windows[windows.phase == "induction"].window.max()) == 11
        beats = read_tsv(Path(res["windows"].replace("desc-windows", "desc-beats")),
                         BEATS_COLUMNS)
        assert len(beats) > 1000
        sidecar = json.loads(Path(res["windows"]).with_suffix(".json").read_text())
        prov = sidecar["SootheProvenance"]
        assert set(prov["input_sha256"]) >= {Path(res["source"]).name}
        assert prov["package_versions"]["numpy"]
        assert sidecar["hr_bpm"]["Units"] == "bpm"
        assert Path(res["png"]).stat().st_size > 10_000
    tsv, parquet = group_windows_paths(deriv)
    group = read_tsv(tsv, WINDOWS_COLUMNS)
    assert len(group) == total
    pq = pd.read_parquet(parquet)
    assert len(pq) == total and list(pq.columns) == list(WINDOWS_COLUMNS)
    assert pq.session.dtype == "string"
    html = qc_index_html(deriv).read_text()
    assert all(f"sub-{i:03d}_ses-1" in html for i in range(1, N_PARTICIPANTS + 1))
    assert read_tsv(failures_tsv(deriv), FAILURES_COLUMNS).empty
    assert no_partial_files(deriv)


def test_up_to_date_recordings_are_skipped(raw, first_run, tmp_path):
    deriv = tmp_path / "deriv"
    shutil.copytree(first_run[0], deriv)
    again = run_batch([raw], deriv, progress=False)
    assert (again["ok"], again["skipped"]) == (0, N_PARTICIPANTS)
    # new settings: everything is redone
    redo = run_batch([raw], deriv, settings={"window_s": 30.0}, progress=False)
    assert redo["ok"] == N_PARTICIPANTS
    w = read_tsv(Path(redo["results"][0]["windows"]), WINDOWS_COLUMNS)
    assert (w[w.phase == "baseline"].end_s - w[w.phase == "baseline"].start_s).max() == 30.0
    # a changed input: only that recording is redone
    events = next(iter_sessions(raw)).events_tsv
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    changed = copy / events.relative_to(raw)
    changed.write_text(changed.read_text().replace("\t0.0\t", "\t0\t", 1))
    part = run_batch([copy], deriv, settings={"window_s": 30.0}, progress=False)
    assert (part["ok"], part["skipped"]) == (1, N_PARTICIPANTS - 1)


def test_one_bad_file_fails_alone_and_exit_code_is_nonzero(raw, tmp_path, capsys):
    from soothe.cli import main as soothe_main

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    session = next(iter_sessions(raw))
    for f in (session.physio_tsv_gz, session.physio_json, session.events_tsv):
        shutil.copy(f, inputs / f.name)
    (inputs / "broken.acq").write_bytes(b"\x00\x00" + bytes(range(256)) * 4)
    (inputs / "empty.edf").write_bytes(b"")
    deriv = tmp_path / "deriv"
    code = soothe_main(["physio", "process", str(inputs), "--out", str(deriv), "--no-progress"])
    assert code != 0
    failures = read_tsv(failures_tsv(deriv), FAILURES_COLUMNS)
    assert sorted(Path(s).name for s in failures.source) == ["broken.acq", "empty.edf"]
    assert all(str(inputs) in m for m in failures.message)
    assert "empty" in failures.set_index(failures.source.map(lambda s: Path(s).name)).loc[
        "empty.edf", "message"]
    assert "internal error" not in " ".join(failures.message)
    group = read_tsv(group_windows_paths(deriv)[0], WINDOWS_COLUMNS)
    assert set(group.participant_id) == {session.participant_id}
    assert "FAILED" in (deriv / "log" / "physio_batch.log").read_text()
    err = capsys.readouterr().err
    assert "broken.acq" in err
    assert no_partial_files(deriv)


def test_same_outputs_from_two_inputs_is_reported_at_the_start_not_an_overwrite(
    raw, tmp_path, capsys
):
    session = next(iter_sessions(raw))
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for d in (a, b, c):
        d.mkdir()
    for d in (a, b):
        for f in (session.physio_tsv_gz, session.physio_json, session.events_tsv):
            shutil.copy(f, d / f.name)
    other = next(s for s in iter_sessions(raw) if s.subject != session.subject)
    for f in (other.physio_tsv_gz, other.physio_json, other.events_tsv):
        shutil.copy(f, c / f.name)
    summary = run_batch([a, b, c], tmp_path / "deriv", progress=False)
    err = capsys.readouterr().err
    first_line = err.splitlines()[0]
    assert first_line.startswith("physio: 2 inputs would write the same outputs"), err
    assert str(a / session.physio_tsv_gz.name) in err
    assert str(b / session.physio_tsv_gz.name) in err
    assert "--participant-from" in err
    # neither copy is written (no overwrite, no silent choice); the third one is processed
    assert (summary["ok"], summary["failed"]) == (1, 2)
    assert {r["key"] for r in summary["results"] if r["status"] == "ok"} == {
        f"sub-{other.subject}_ses-1"}
    for r in summary["results"]:
        if r["status"] == "failed":
            assert "same outputs" in r["message"] and "--participant-from" in r["message"]
    assert not list((tmp_path / "deriv").glob(f"sub-{session.subject}/**/*_physio.tsv"))
    # the folder names tell them apart
    summary = run_batch([a, b], tmp_path / "deriv2", progress=False, participant_from="parent")
    assert (summary["ok"], summary["failed"]) == (2, 0)
    assert sorted(r["key"] for r in summary["results"]) == ["sub-a_ses-1", "sub-b_ses-1"]


def test_two_worker_processes_give_the_same_tables(raw, first_run, tmp_path):
    summary = run_batch([raw], tmp_path / "deriv", jobs=2, progress=False)
    assert summary["ok"] == N_PARTICIPANTS
    one = pd.read_parquet(group_windows_paths(first_run[0])[1])
    two = pd.read_parquet(group_windows_paths(tmp_path / "deriv")[1])
    pd.testing.assert_frame_equal(one, two)


def test_changed_pipeline_code_invalidates_up_to_date_results(raw, first_run, tmp_path,
                                                               monkeypatch):
    """Editing the pipeline (here: a different code hash) re-processes; no stale skip."""
    from physio import sidecar

    deriv = tmp_path / "deriv"
    shutil.copytree(first_run[0], deriv)
    from physio.outputs import PROVENANCE_KEY

    sidecar_json = next(deriv.glob("sub-*/ses-*/beh/*_desc-windows_physio.json"))
    prov = json.loads(sidecar_json.read_text())[PROVENANCE_KEY]
    assert prov["code_sha256"] == sidecar.code_hash()
    monkeypatch.setattr(sidecar, "code_hash", lambda: "0" * 64)
    again = run_batch([raw], deriv, progress=False)
    assert (again["ok"], again["skipped"]) == (N_PARTICIPANTS, 0)
