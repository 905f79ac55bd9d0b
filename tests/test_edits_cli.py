"""``soothe physio edits list|export|apply`` (physio.edits_cli)."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conditions.bids import BEATS_COLUMNS, WINDOWS_COLUMNS, parse_session_files, read_tsv
from physio.batch import run_batch
from physio.edits import Edit, EditFileError, read_edits, write_edits
from physio.edits_cli import incoming_edits
from physio.reprocess import reprocess_recording
from soothe.cli import main as soothe_main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    from soothe.simulate import simulate_study

    out = tmp_path_factory.mktemp("raw")
    simulate_study(out, 2, seed=8, fs=250.0)
    return out


@pytest.fixture(scope="module")
def first_run(raw, tmp_path_factory) -> Path:
    deriv = tmp_path_factory.mktemp("deriv")
    assert run_batch([raw], deriv, progress=False)["ok"] == 2
    return deriv


@pytest.fixture
def deriv(first_run, tmp_path) -> Path:
    out = tmp_path / "deriv"
    shutil.copytree(first_run, out)
    return out


def files_of(deriv: Path, i: int):
    windows = sorted(deriv.glob("sub-*/ses-*/beh/*_desc-windows_physio.tsv"))[i]
    return parse_session_files(windows.with_name(
        windows.name.replace("_desc-windows_physio.tsv", "_events.tsv")))


def a_beat(deriv: Path, i: int, phase: str = "baseline", window: int = 2) -> float:
    f = files_of(deriv, i)
    w = read_tsv(f.windows_tsv(deriv), WINDOWS_COLUMNS)
    w = w[(w.phase == phase) & (w.window == window)].iloc[0]
    b = read_tsv(f.beats_tsv(deriv), BEATS_COLUMNS)
    b = b[(b.r_peak_s >= w.start_s) & (b.r_peak_s < w.end_s) & (b.beat_class == "normal")]
    return float(b.r_peak_s.iloc[len(b) // 2])


def run(*words: str) -> int:
    return soothe_main(["physio", "edits", *words])


def test_list_shows_status_counts_and_stale_edits(deriv, capsys):
    assert run("list", str(deriv)) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and all("not reviewed, 0 edit(s)" in line for line in out)
    f = files_of(deriv, 0)
    write_edits(f.edits_tsv(deriv), [Edit("delete_beat", "ecg", a_beat(deriv, 0), author="a"),
                                     Edit("delete_beat", "ecg", 3.0, author="a")])
    assert run("list", str(deriv), "--participant", f.subject) == 0
    line = capsys.readouterr().out
    assert "edited, 2 edit(s)" in line and "NOT APPLIED YET" in line
    assert reprocess_recording(f.windows_json(deriv))["status"] == "ok"
    assert run("list", str(deriv), "--participant", f"sub-{f.subject}") == 0
    out = capsys.readouterr().out
    assert "applied: beats +0 -1 ~0" in out and "NOT APPLIED" not in out
    assert "stale row 2: delete_beat (ecg) at 3.0 s: no beat within 0.05 s" in out


def test_export_then_apply_to_a_fresh_copy_gives_the_same_edit_files(raw, deriv, first_run,
                                                                      tmp_path, capsys):
    f0, f1 = files_of(deriv, 0), files_of(deriv, 1)
    e0 = [Edit("delete_beat", "ecg", a_beat(deriv, 0), author="ana", note="T wave"),
          Edit("reviewed", "all", math.nan, author="ana")]
    e1 = [Edit("mark_unusable", "eda", 100.0, end_s=130.0, author="bo")]
    write_edits(f0.edits_tsv(deriv), e0)
    write_edits(f1.edits_tsv(deriv), e1)
    export = tmp_path / "all_edits.tsv"
    assert run("export", str(deriv), "--out", str(export)) == 0
    assert "exported 3 edit(s) of 2 recording(s)" in capsys.readouterr().out
    header = export.read_text().splitlines()[0].split("\t")
    assert header[:4] == ["participant_id", "session", "task", "action"]
    assert export.with_suffix(".json").is_file()
    fresh = tmp_path / "fresh"
    shutil.copytree(first_run, fresh)
    before = read_tsv(f0.windows_tsv(fresh), WINDOWS_COLUMNS)
    assert run("apply", str(fresh), "--from", str(export)) == 0
    out = capsys.readouterr().out
    assert "2 recording(s) changed and re-processed" in out
    assert read_edits(f0.edits_tsv(fresh)) == e0 and read_edits(f1.edits_tsv(fresh)) == e1
    after = read_tsv(f0.windows_tsv(fresh), WINDOWS_COLUMNS)
    assert (after.n_beats.sum() == before.n_beats.sum() - 1)
    # applying the same file again changes nothing
    assert run("apply", str(fresh), "--from", str(export)) == 0
    assert "0 recording(s) changed" in capsys.readouterr().out
    # and the batch agrees everything is up to date
    s = run_batch([raw], fresh, progress=False)
    assert (s["ok"], s["skipped"], s["failed"]) == (0, 2, 0)


def test_apply_one_recordings_file_by_its_name(deriv, tmp_path, capsys):
    f = files_of(deriv, 1)
    incoming = tmp_path / f.edits_tsv(deriv).name
    write_edits(incoming, [Edit("delete_beat", "ecg", a_beat(deriv, 1), author="bo")])
    assert run("apply", str(deriv), "--from", str(incoming)) == 0
    assert f"{f.prefix}: edits merged, ok" in capsys.readouterr().out
    assert len(read_edits(f.edits_tsv(deriv))) == 1


def test_apply_refuses_a_conflict_and_writes_nothing(deriv, tmp_path, capsys):
    f = files_of(deriv, 0)
    t = a_beat(deriv, 0)
    mine = [Edit("delete_beat", "ecg", t, author="ana")]
    write_edits(f.edits_tsv(deriv), mine)
    other = tmp_path / f.edits_tsv(deriv).name
    write_edits(other, [Edit("move_beat", "ecg", t, new_time_s=t + 0.02, author="bo")])
    windows_before = f.windows_tsv(deriv).read_bytes()
    assert run("apply", str(deriv), "--from", str(other)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    assert "ana deleted the beat" in err[0] and "bo moved the beat" in err[0]
    assert str(f.edits_tsv(deriv)) in err[0]
    assert read_edits(f.edits_tsv(deriv)) == mine
    assert f.windows_tsv(deriv).read_bytes() == windows_before


@pytest.mark.parametrize("name, text, needle", [
    ("sub-001_ses-1_task-soothe_desc-edits_physio.tsv", "", "file is empty"),
    ("sub-001_ses-1_task-soothe_desc-edits_physio.tsv",
     "action\tchannel\ttime\n", "missing time_s"),
    ("notes.tsv", "action\tchannel\ttime_s\tend_s\tnew_time_s\tauthor\tcreated\tnote\n"
     "delete_beat\tecg\t1.0\tn/a\tn/a\ta\t\t\n", "cannot tell which recording"),
    ("sub-999_ses-1_task-soothe_desc-edits_physio.tsv",
     "action\tchannel\ttime_s\tend_s\tnew_time_s\tauthor\tcreated\tnote\n"
     "delete_beat\tecg\t1.0\tn/a\tn/a\ta\t\t\n", "is not a processed recording"),
    ("x.tsv", "participant_id\tsession\ttask\taction\tchannel\ttime_s\tend_s\tnew_time_s\t"
     "author\tcreated\tnote\nsub-0 01\t1\tsoothe\tdelete_beat\tecg\t1\tn/a\tn/a\ta\t\t\n",
     "row 1: participant label"),
])
def test_apply_bad_inputs_give_one_clear_line(deriv, tmp_path, capsys, name, text, needle):
    path = tmp_path / name
    path.write_text(text)
    assert run("apply", str(deriv), "--from", str(path)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and "Traceback" not in err[0]


def test_missing_source_file_and_folder(deriv, tmp_path, capsys):
    assert run("apply", str(deriv), "--from", str(tmp_path / "absent.tsv")) == 1
    assert "cannot read the edit file" in capsys.readouterr().err
    assert run("export", str(tmp_path / "nope"), "--out", str(tmp_path / "x.tsv")) == 1
    assert "derivatives folder not found" in capsys.readouterr().err


def test_incoming_edits_groups_an_export_by_recording(tmp_path):
    path = tmp_path / "e.tsv"
    path.write_text("participant_id\tsession\ttask\taction\tchannel\ttime_s\tend_s\tnew_time_s"
                    "\tauthor\tcreated\tnote\n"
                    "sub-01\t1\tsoothe\tdelete_beat\tecg\t1\tn/a\tn/a\ta\t\t\n"
                    "sub-02\t1\tsoothe\tdelete_scr\teda\t5\tn/a\tn/a\ta\t\t\n"
                    "sub-01\t1\tsoothe\tadd_beat\tecg\t9\tn/a\tn/a\ta\t\t\n")
    got = incoming_edits(path)
    assert [e.action for e in got[("01", "1", "soothe")]] == ["delete_beat", "add_beat"]
    assert len(got[("02", "1", "soothe")]) == 1
    bad = tmp_path / "b.tsv"
    bad.write_text("participant\taction\tchannel\ttime_s\tend_s\tnew_time_s\tauthor\tcreated"
                   "\tnote\n")
    with pytest.raises(EditFileError, match="unknown participant"):
        incoming_edits(bad)


@pytest.mark.parametrize("words", [["physio", "edits", "--help"],
                                   ["physio", "edits", "apply", "--help"]])
def test_edits_help_loads_no_numerical_library(words):
    code = (f"import sys\nsys.argv = ['soothe', *{words!r}]\nfrom soothe.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('LOADED:' + ','.join(sorted({k.split('.')[0] for k in sys.modules} & "
            "{'numpy', 'pandas', 'scipy', 'matplotlib'})))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "LOADED:"


def test_apply_without_files_reprocesses_the_recordings_whose_edits_changed(deriv, capsys):
    f = files_of(deriv, 1)
    write_edits(f.edits_tsv(deriv), [Edit("delete_beat", "ecg", a_beat(deriv, 1), author="c")])
    assert run("apply", str(deriv)) == 0
    out = capsys.readouterr().out
    assert f"{f.prefix}: ok" in out and "1 recording(s) changed" in out
    assert run("apply", str(deriv)) == 0
    assert "0 recording(s) changed and re-processed, 2 up to date" in capsys.readouterr().out
    f.edits_tsv(deriv).unlink()  # removing the edits is a change too
    assert run("apply", str(deriv)) == 0
    assert "1 recording(s) changed" in capsys.readouterr().out
