"""The demo echoes each stage as the real sub-command a user would type."""

from __future__ import annotations

from soothe import demo


def test_stage_echoes_the_real_sub_command_and_runs_it(capsys):
    seen = []

    def physio_main(argv):
        seen.append(argv)
        return 0

    code, _ = demo._stage("2/3 process", "physio process", physio_main,
                          ["demo out/raw", "--out", "d", "--jobs", "2"])
    out = capsys.readouterr().out
    assert code == 0
    assert seen == [["process", "demo out/raw", "--out", "d", "--jobs", "2"]]
    assert "$ soothe physio process 'demo out/raw' --out d --jobs 2\n" in out

    demo._stage("3/3 report", "analyze", lambda argv: seen.append(argv) or 0,
                ["raw", "deriv", "--out", "report"])
    out = capsys.readouterr().out
    assert "$ soothe analyze raw deriv --out report\n" in out
    assert seen[-1] == ["raw", "deriv", "--out", "report"]
    assert "soothe raw" not in out
