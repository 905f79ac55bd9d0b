"""The pictures in docs/ show what their command gives today.

Beside every picture ``python -m analysis.doc_pictures`` writes the numbers it shows. These
tests recompute them with the same command and compare. The signal check and the power
model run in the default suite; the full demo and the full power curve are slow.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis import doc_pictures as dp
from analysis.power_cache import power_model_key

DOCS = Path(__file__).resolve().parents[1] / "docs"
#: How far a live signal value may wander between two runs of the same scenario (the
#: simulated device streams in real time, so a 10-s window never holds the same samples).
TOLERANCE = {"ECG": 6.0, "EDA": 0.6, "RESP": 3.0}


def _fresh_verdict(scenario: str, tmp_path: Path) -> dict:
    out = tmp_path / f"{scenario}.json"
    dp.soothe_command("signals", "--simulate", scenario, "--seconds", str(dp.SIGNAL_SECONDS),
                      "--verdict", str(out), "--no-browser", ok=dp.SIGNAL_EXIT_CODES)
    return json.loads(out.read_text(encoding="utf-8"))


def check_signal_picture(scenario: str, tmp_path: Path) -> None:
    shown = json.loads((DOCS / "signals" / f"{scenario}.json").read_text(encoding="utf-8"))
    fresh = _fresh_verdict(scenario, tmp_path)
    assert fresh["overall"] == shown["overall"], scenario
    for name, card in shown["channels"].items():
        now = fresh["channels"][name]
        assert now["status"] == card["status"], (scenario, name, now["reason"])
        if card.get("value") is not None and now.get("value") is not None:
            assert abs(now["value"] - card["value"]) <= TOLERANCE[name], (scenario, name)


@pytest.mark.parametrize("scenario", ["good", "ecg_lead_off"])
def test_signal_snapshots_show_todays_verdicts(scenario, tmp_path):
    check_signal_picture(scenario, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("scenario", dp.SIGNAL_SCENARIOS)
def test_every_signal_snapshot_shows_todays_verdict(scenario, tmp_path):
    check_signal_picture(scenario, tmp_path)


def test_every_picture_has_its_numbers_beside_it():
    assert (DOCS / "report-screenshot.json").is_file()
    for scenario in dp.SIGNAL_SCENARIOS:
        assert (DOCS / "signals" / f"{scenario}.json").is_file(), scenario


def test_the_power_pictures_were_made_with_todays_effect_model():
    for name in ("power-n27", "simulation-power"):
        shown = json.loads((DOCS / f"{name}.json").read_text(encoding="utf-8"))
        assert shown["model_sha256"] == power_model_key()["sha256"], (
            f"docs/{name}.png was drawn with another effect model or decision; run "
            "python -m analysis.doc_pictures --only power")


@pytest.mark.slow
def test_the_power_picture_shows_todays_power(tmp_path):
    shown = json.loads((DOCS / "power-n27.json").read_text(encoding="utf-8"))
    dp.make_power_pictures(docs=tmp_path, reps=dp.POWER_REPS)
    fresh = json.loads((tmp_path / "power-n27.json").read_text(encoding="utf-8"))
    assert fresh["power"] == shown["power"]


@pytest.mark.slow
def test_the_report_screenshot_shows_todays_demo(tmp_path):
    shown = json.loads((DOCS / "report-screenshot.json").read_text(encoding="utf-8"))
    demo = tmp_path / "demo"
    dp.soothe_command("demo", "--out", str(demo), "--seed", str(dp.DEMO_SEED),
                      "--participants", str(dp.DEMO_PARTICIPANTS))
    fresh = dp.report_numbers(demo / "report")
    assert fresh == {k: v for k, v in shown.items() if k != "command"}
