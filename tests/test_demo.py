"""``soothe demo``: the whole chain on a small simulated study, and its output folder's safety.

The default test runs the demo as a user would (``python -m soothe demo``) on 10 participants
at 250 Hz and checks that the report states a heart-rate finding for every condition and
none against the planted pattern. The full default
demo (20 participants, 1000 Hz) is marked slow.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from soothe import demo
from soothe.cli import main as soothe_main

REPO = Path(__file__).resolve().parents[1]


def run_demo(out: Path, *options: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), MPLBACKEND="Agg")
    return subprocess.run(
        [sys.executable, "-m", "soothe", "demo", "--out", str(out), *options],
        cwd=out.parent, env=env, capture_output=True, text=True, timeout=1200,
    )


def hr_findings(report_md: Path) -> dict[str, str]:
    """condition -> 'raised' | 'lowered' | 'no change', from the report's heart-rate sentences."""
    found = {}
    # one sentence per planned slope contrast (analysis.plain_words.physio_sentence)
    pattern = (r"Heart rate, ([A-Za-z ()]+?) against Neutral: (?:the slope was \S+ bpm/min "
               r"(higher|lower)|the slopes did not reliably differ)")
    for label, verb in re.findall(pattern, report_md.read_text(encoding="utf-8")):
        cond = label.lower().replace("(", "").replace(")", "")
        found[cond] = {"higher": "raised", "lower": "lowered"}.get(verb, "no change")
    return found


def check_demo_output(out: Path, proc: subprocess.CompletedProcess) -> dict[str, str]:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = out / "report" / "report.html"
    assert report.is_file() and report.stat().st_size > 10_000
    assert f"report:                  {report.resolve()}" in proc.stdout
    # each stage echoes the real sub-command a user would type
    for command in ("$ soothe simulate ", "$ soothe physio process ", "$ soothe analyze "):
        assert command in proc.stdout, command
    assert (out / "raw" / "dataset_description.json").is_file()
    assert (out / demo.DEMO_MARKER).is_file()
    findings = hr_findings(out / "report" / "report.md")
    assert set(findings) == {"kindness self", "body scan", "positive excitement", "rumination"}
    return findings


def test_small_demo_reports_the_planted_heart_rate_pattern(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    proc = run_demo(out, "--participants", "10", "--fs", "250", "--jobs", "1")
    findings = check_demo_output(out, proc)
    # planted: kindness and body scan lower HR, positive excitement and rumination raise it.
    # The simulator now has realistic between-person variability (docs/simulation.md), so
    # 2 participants per condition cannot make a change reliable; what must never happen
    # is a reliable change against the plan.
    assert findings["kindness self"] in ("lowered", "no change")
    assert findings["body scan"] in ("lowered", "no change")
    assert findings["positive excitement"] in ("raised", "no change")
    assert findings["rumination"] in ("raised", "no change")


@pytest.mark.slow
def test_default_demo_reports_the_planted_heart_rate_pattern(tmp_path: Path) -> None:
    out = tmp_path / "soothe-demo"
    findings = check_demo_output(out, run_demo(out))
    # 4 per condition with realistic variability: no reliable change against the plan
    # (power per contrast is far below 1 at this n; see soothe power)
    planted = {"kindness self": "lowered", "body scan": "lowered",
               "positive excitement": "raised", "rumination": "raised"}
    assert all(findings[c] in (v, "no change") for c, v in planted.items()), findings


# --- the --out folder: only a folder the demo made is ever deleted --------------------------


@pytest.fixture
def no_simulation(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Stops the demo at its first stage (which must not start on a refused folder)."""
    import soothe.simulate.cli

    calls: list[list[str]] = []

    def fake_simulate(argv: list[str]) -> int:
        calls.append(argv)
        return 1

    monkeypatch.setattr(soothe.simulate.cli, "main", fake_simulate)
    return calls


def real_study(root: Path) -> Path:
    """A study laid out like the demo's folder: root/raw/ is a BIDS dataset."""
    (root / "raw" / "sub-01").mkdir(parents=True)
    (root / "raw" / "dataset_description.json").write_text('{"Name": "my study"}')
    (root / "raw" / "participants.tsv").write_text("participant_id\nsub-01\n")
    (root / "notes.txt").write_text("irreplaceable")
    return root


@pytest.mark.parametrize("keep", [False, True])
def test_demo_refuses_a_folder_it_did_not_make(
    tmp_path: Path, no_simulation: list, keep: bool, capsys: pytest.CaptureFixture
) -> None:
    study = real_study(tmp_path / "study")
    before = sorted(p.relative_to(study) for p in study.rglob("*"))
    argv = ["demo", "--out", str(study)] + (["--keep"] if keep else [])
    assert soothe_main(argv) == 1
    err = capsys.readouterr().err
    assert "soothe demo: error: --out" in err and str(study) in err
    assert demo.DEMO_MARKER in err and "not made by soothe demo" in err
    assert sorted(p.relative_to(study) for p in study.rglob("*")) == before
    assert (study / "notes.txt").read_text() == "irreplaceable"
    assert no_simulation == []


def test_demo_refuses_a_file(tmp_path: Path) -> None:
    target = tmp_path / "results.txt"
    target.write_text("x")
    with pytest.raises(demo.DemoFolderError, match=r"results\.txt: is a file"):
        demo.prepare_demo_folder(target)
    assert target.read_text() == "x"


def test_demo_replaces_its_own_folder(tmp_path: Path, no_simulation: list) -> None:
    out = tmp_path / "soothe-demo"
    assert demo.main(["--out", str(out)]) == 1  # stopped by the fake simulation
    assert (out / demo.DEMO_MARKER).is_file()
    (out / "raw").mkdir()
    (out / "raw" / "stale.tsv").write_text("from the last run")

    demo.main(["--out", str(out), "--keep"])
    assert (out / "raw" / "stale.tsv").exists()

    demo.main(["--out", str(out)])
    assert not (out / "raw" / "stale.tsv").exists()
    assert (out / demo.DEMO_MARKER).is_file()
    assert len(no_simulation) == 3
    assert no_simulation[-1][no_simulation[-1].index("--out") + 1] == str(out / "raw")


def test_demo_uses_an_empty_existing_folder(tmp_path: Path, no_simulation: list) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    demo.main(["--out", str(out)])
    assert (out / demo.DEMO_MARKER).is_file()
    assert len(no_simulation) == 1
