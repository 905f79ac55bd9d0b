"""``soothe simulate`` progress in a log or a pipe: one plain line per participant."""

from __future__ import annotations

from soothe.simulate.cli import main as simulate_main


def test_simulate_progress_is_one_line_per_participant_off_a_terminal(tmp_path, capsys):
    argv = ["--participants", "2", "--seed", "3", "--out", str(tmp_path / "raw"), "--fs", "100"]
    assert simulate_main(argv) == 0
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("simulate:")]
    assert lines == ["simulate: 1/2 sub-001", "simulate: 2/2 sub-002"]
    assert "\r" not in err and "it/s" not in err and "participant/s" not in err
