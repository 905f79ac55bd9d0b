"""Participant, session and task labels (physio.naming) and the batch's collision check.

The AcqKnowledge-style names are those of a real lab folder where the old rule
(``name.split(".")[0]``) turned ``physio-4.2.0-c.acq`` into ``physio4`` and refused 9 of 15
valid recordings as writing the same outputs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from physio.batch import plan_labels, run_batch
from physio.naming import LabelError, recording_labels
from physio.pipeline import PipelineSettings, recording_ids
from physio.recording import Recording

ACQ_NAMES = [
    "physio-3.1.0-a.acq", "physio-3.1.0-b.acq", "physio-3.2.0-a.acq", "physio-3.2.1-c.acq",
    "physio-4.0.0-a.acq", "physio-4.1.0-b.acq", "physio-4.2.0-c.acq", "physio-4.2.0.acq",
    "physio-5.0.0-a.acq", "physio-5.0.0-b.acq", "P12 session.acq", "P13-session.edf",
    "run.03.tsv.gz", "run.04.csv", "r42_test.acq",
]


@pytest.mark.parametrize(("name", "label"), [
    ("physio-4.2.0-c.acq", "physio420c"),
    ("physio-4.2.0.acq", "physio420"),
    ("physio-3.1.0-b.acq", "physio310b"),
    ("P 12-a.acq", "P12a"),
    ("rec.v2.tsv.gz", "recv2"),
    ("rec.v2.csv.gz", "recv2"),
    ("rec.v2.XDF", "recv2"),
    ("subject 7 (2).edf", "subject72"),
])
def test_participant_label_is_the_file_name_without_format_suffixes(name, label):
    assert recording_labels(Path("/lab") / name).participant == label
    # recording_ids (what the pipeline writes under) follows the same rule
    assert recording_ids(Recording({}, Path("/lab") / name, "acq"))[0] == label


def test_acqknowledge_style_folder_gives_every_recording_its_own_outputs():
    files = [Path("/lab/exports") / n for n in ACQ_NAMES]
    plan = plan_labels(files)
    assert plan.refused == {} and plan.message() is None
    labels = plan.labels
    assert len({v for v in labels.values()}) == len(files)
    assert labels["/lab/exports/physio-4.2.0-c.acq"] == ("physio420c", "1", None)
    assert "physio4" not in {v[0] for v in labels.values()}


@pytest.mark.parametrize("pair", [("run.03.csv", "run.03.tsv.gz"),
                                  ("P12 session.acq", "p12-session.edf")])
def test_same_label_or_same_label_up_to_case_is_a_collision(pair):
    plan = plan_labels([Path("/lab") / n for n in pair])
    assert sorted(plan.refused) == sorted(str(Path("/lab") / n) for n in pair)
    assert plan.labels == {} and "same outputs" in plan.message()


def test_sub_ses_pattern_takes_precedence_and_session_and_task_come_from_the_input():
    lab = recording_labels(Path("/d/sub-07_ses-2_task-rest_ecg-4.2.acq"))
    assert (lab.participant, lab.session, lab.task) == ("07", "2", "rest")
    lab = recording_labels(Path("/d/sub-03/ses-pre/export.v1.csv"))  # from the folders
    assert (lab.participant, lab.session, lab.task) == ("03", "pre", None)
    # a session entity without a participant entity still names the session
    lab = recording_labels(Path("/d/P12_ses-3.acq"))
    assert (lab.participant, lab.session) == ("P12ses3", "3")
    # explicit settings and BIDS metadata win over the file name
    meta = {"participant_id": "sub-42", "session": "2", "task": "induction"}
    assert recording_labels(Path("/d/x.acq"), meta).participant == "42"
    rec = Recording({}, Path("/d/sub-01_ses-1_ecg.edf"), "edf", meta=meta)
    assert recording_ids(rec, PipelineSettings(participant="P7", session="b")) == ("P7", "b")


def test_participant_from_stem_parent_and_pattern():
    path = Path("/study/P014/sub-99_visit-2.acq")
    assert recording_labels(path).participant == "99"
    assert recording_labels(path, participant_from="stem").participant == "99visit2"
    assert recording_labels(path, participant_from="parent").participant == "P014"
    lab = recording_labels(path, participant_from="pattern",
                           pattern=r"P0*(?P<participant>\d+)/.*visit-(?P<session>\d+)")
    assert (lab.participant, lab.session) == ("14", "2")
    assert recording_labels(path, participant_from="pattern", pattern=r"P(\d+)").participant \
        == "014"
    with pytest.raises(LabelError, match="does not match"):
        recording_labels(path, participant_from="pattern", pattern=r"Q(\d+)")
    with pytest.raises(LabelError, match="not a regular expression"):
        recording_labels(path, participant_from="pattern", pattern=r"P(\d+")
    with pytest.raises(LabelError, match="expected one of"):
        recording_labels(path, participant_from="folder")


def test_collision_message_names_both_inputs_and_the_options():
    a, b = Path("/x/day1/export.acq"), Path("/x/day2/export.acq")
    plan = plan_labels([a, b, Path("/x/day2/other.acq")])
    msg = plan.message()
    assert "sub-export_ses-1" in msg and str(a) in msg and str(b) in msg
    assert "other.acq" not in msg
    for option in ("--participant-from stem", "--participant-from parent",
                   "--participant-from pattern REGEX"):
        assert option in msg
    assert set(plan.refused) == {str(a), str(b)}
    assert str(b) in plan.refused[str(a)] and str(a) in plan.refused[str(b)]
    assert plan.labels == {"/x/day2/other.acq": ("other", "1", None)}
    plan = plan_labels([a, b], participant_from="parent")
    assert plan.labels == {str(a): ("day1", "1", None), str(b): ("day2", "1", None)}
    assert plan.message() is None
    # a pattern that misses one input refuses that input only, with the reason
    plan = plan_labels([a, Path("/x/P7/rec.acq")], participant_from="pattern",
                       pattern=r"/P(\d+)/")
    assert plan.labels == {"/x/P7/rec.acq": ("7", "1", None)}
    assert "does not match" in plan.refused[str(a)]
    with pytest.raises(LabelError, match="not a regular expression"):
        plan_labels([a], participant_from="pattern", pattern="P(")


def test_cli_reports_a_collision_at_the_start_and_offers_the_option(tmp_path, capsys):
    from soothe.cli import main

    for day in ("day1", "day2"):
        (tmp_path / day).mkdir()
        (tmp_path / day / "export.acq").write_bytes(b"not really an acq file")
    deriv = tmp_path / "deriv"
    code = main(["physio", "process", str(tmp_path / "day1"), str(tmp_path / "day2"),
                 "--out", str(deriv), "--no-progress"])
    out = capsys.readouterr()
    assert code == 1
    first = out.err.splitlines()[0]
    assert first.startswith("physio: 2 inputs would write the same outputs"), out.err
    assert "--participant-from" in out.err
    assert str(tmp_path / "day1" / "export.acq") in out.err
    assert str(tmp_path / "day2" / "export.acq") in out.err
    assert "0 processed, 0 up to date, 2 failed" in out.out
    # with the option, both are read (and fail here only because they are not .acq)
    code = main(["physio", "process", "--participant-from", "parent", str(tmp_path / "day1"),
                 str(tmp_path / "day2"), "--out", str(deriv), "--no-progress"])
    out = capsys.readouterr()
    assert "0 processed, 0 up to date, 2 failed" in out.out
    assert "same outputs" not in out.err and "acq" in out.err


def test_task_label_comes_from_the_input(tmp_path):
    from tests.readers_fixtures import write_bids_session

    files = write_bids_session(tmp_path / "raw", seconds=150.0)
    loose = tmp_path / "loose"
    loose.mkdir()
    for f in (files.physio_tsv_gz, files.physio_json, files.events_tsv):
        shutil.copy(f, loose / f.name.replace("task-induction", "task-rest"))
    summary = run_batch([loose], tmp_path / "deriv", progress=False)
    assert (summary["ok"], summary["failed"]) == (1, 0), summary["results"]
    res = summary["results"][0]
    assert res["key"] == "sub-001_ses-1_task-rest"
    assert "_task-rest_" in Path(res["windows"]).name
    # the protocol's own task keeps the short key
    summary = run_batch([files.physio_tsv_gz], tmp_path / "deriv2", progress=False)
    assert summary["results"][0]["key"] == "sub-001_ses-1"


def test_help_defaults_match_the_pipeline():
    from physio import cli
    from physio.phases import DEFAULT_MIN_PARTIAL, DEFAULT_WINDOW_S

    assert (cli._HELP_WINDOW_S, cli._HELP_MIN_PARTIAL) == (DEFAULT_WINDOW_S,
                                                           DEFAULT_MIN_PARTIAL)


def test_copies_of_one_bids_session_in_two_folders(tmp_path):
    """Same sub/ses/task in two folders: both refused, named; --participant-from parent."""
    from tests.readers_fixtures import write_bids_session

    src = write_bids_session(tmp_path / "raw", seconds=150.0)
    for d in ("siteA", "siteB"):
        (tmp_path / d).mkdir()
        for f in (src.physio_tsv_gz, src.physio_json, src.events_tsv):
            shutil.copy(f, tmp_path / d / f.name)
    summary = run_batch([tmp_path / "siteA", tmp_path / "siteB"], tmp_path / "d",
                        progress=False)
    assert (summary["ok"], summary["failed"]) == (0, 2)
    summary = run_batch([tmp_path / "siteA", tmp_path / "siteB"], tmp_path / "d",
                        progress=False, participant_from="parent")
    assert sorted(r["key"] for r in summary["results"]) == ["sub-siteA_ses-1",
                                                             "sub-siteB_ses-1"]


@pytest.mark.parametrize("name", ["physio-sub-01.acq", "x.sub-01_ses-2.edf", "sub-01.acq"])
def test_sub_entity_after_any_separator(name):
    assert recording_labels(Path("/d") / name).participant == "01"
    assert recording_labels(Path("/d/misub-01.acq")).participant == "misub01"


def test_real_acqknowledge_file_names_get_their_own_labels(shared_data):
    files = sorted((shared_data / "biopac").glob("*.acq"))
    if not files:
        pytest.skip("no .acq files in the shared data")
    plan = plan_labels(files)
    assert plan.refused == {}
    labels = {Path(k).name: v[0] for k, v in plan.labels.items()}
    if "physio-5.0.1-c.acq" in labels:
        assert labels["physio-5.0.1-c.acq"] == "physio501c"
    if "physio-4.4.0.acq" in labels:
        assert labels["physio-4.4.0.acq"] == "physio440"
    assert len(set(labels.values())) == len(files)
