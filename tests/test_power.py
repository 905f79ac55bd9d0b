"""``soothe power``: power by simulation with the project simulator and the same models."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis.power import planted_contrasts, summarise_power
from soothe.cli import main as soothe_main


def test_power_counts_only_significant_hits_in_the_planted_direction():
    reps = pd.DataFrame({
        "kind": "physio", "measure": "hr_bpm", "condition": "kindness_self",
        "versus": "neutral", "truth": -0.35, "n_per_group": 27,
        "estimate": [-0.3, -0.4, 0.2, -0.1, -0.5],
        "p": [0.001, 0.01, 0.001, 0.3, 0.04],
    })
    row = summarise_power(reps).iloc[0]
    assert row["power"] == pytest.approx(3 / 5)  # the significant wrong-sign one is no hit
    assert row["ci_low"] < 0.6 < row["ci_high"]
    null = reps.assign(truth=0.0)
    row0 = summarise_power(null).iloc[0]
    assert row0["power"] == pytest.approx(4 / 5)  # type-I rate counts either direction
    assert "type I" in row0["contrast"]


def test_planted_contrasts_follow_the_simulator_effect_model():
    from soothe.simulate.effects import SELFREPORT_SHIFTS, implied_index_slopes

    slopes = implied_index_slopes()
    truth = planted_contrasts({"slopes": slopes, "shifts": SELFREPORT_SHIFTS})
    t = truth.set_index(["kind", "measure", "condition", "versus"])["truth"]
    assert t[("physio", "hr_bpm", "kindness_self", "neutral")] == slopes["hr_bpm"][
        "kindness_self"]
    # the paper's key contrast: self-compassion against positive excitement
    assert t[("physio", "lnhf", "body_scan", "positive_excitement")] == pytest.approx(
        slopes["lnhf"]["body_scan"] - slopes["lnhf"]["positive_excitement"])
    expected = SELFREPORT_SHIFTS["kindness_self"]["self_compassion"] - SELFREPORT_SHIFTS[
        "positive_excitement"]["self_compassion"]
    assert t[("selfreport", "self_compassion", "kindness_self", "positive_excitement")] == \
        expected
    assert t[("selfreport", "drive_activation", "rumination", "neutral")] == 0.0


def test_power_cli_writes_table_figure_and_sidecar(tmp_path, capsys):
    out = tmp_path / "power"
    code = soothe_main(["power", "--n-per-group", "4", "--reps", "1", "--n-grid", "3",
                        "--seed", "2", "--out", str(out), "--jobs", "1", "--quiet"])
    assert code == 0
    table = pd.read_csv(out / "power.csv")
    assert sorted(table["n_per_group"].unique()) == [3, 4]
    assert table["power"].between(0, 1).all()
    phys = table[table["kind"] == "physio"]
    assert set(phys["measure"]) == {"hr_bpm", "ln_rmssd", "lnhf", "scl_us"}
    side = json.loads((out / "power.json").read_text())
    assert side["simulator"] == ["analysis.synthetic"]
    assert side["parameters"]["reps"] == 1
    assert side["parameters"]["structures"] == ["uncorrelated", "intercept"]
    from soothe.simulate.effects import implied_index_slopes

    assert side["effect_model"]["slopes_per_minute"] == implied_index_slopes()
    assert (out / "power.png").stat().st_size > 5000 and (out / "power.svg").is_file()
    printed = capsys.readouterr().out
    # the run-time estimate comes first, before any result
    assert printed.index("estimated run time") < printed.index("power at n = 4 per group")
    assert np.isfinite(table["mean_estimate"]).all()


def test_power_cli_defaults_to_a_power_vs_n_curve(monkeypatch, tmp_path):
    import analysis.power

    seen = {}

    def fake_run_power(grid, reps, **kw):
        seen["grid"] = list(grid)
        raise SystemExit(0)

    monkeypatch.setattr(analysis.power, "run_power", fake_run_power)
    with pytest.raises(SystemExit):
        soothe_main(["power", "--reps", "1", "--out", str(tmp_path)])
    assert seen["grid"] == [10, 20, 27, 40]
    with pytest.raises(SystemExit):
        soothe_main(["power", "--n-per-group", "30", "--reps", "1", "--out", str(tmp_path)])
    assert seen["grid"] == [10, 20, 27, 30, 40]
    with pytest.raises(SystemExit):
        soothe_main(["power", "--n-grid", "", "--reps", "1", "--out", str(tmp_path)])
    assert seen["grid"] == [27]


def test_power_defaults_are_sized_for_five_minutes_on_two_cores():
    from analysis import power

    assert power.DEFAULT_JOBS == 2
    assert power.DEFAULT_REPS * len(power.DEFAULT_N_GRID.split(",")) <= 80
    # the estimate scales with n and divides over the workers
    assert power.estimate_seconds([10, 40], 2, 2, pilot_s=5.0, pilot_n=10) == pytest.approx(
        (5 + 20) * 2 / 2)


def test_power_cli_refuses_a_saturating_course_on_the_synthetic_simulator(tmp_path):
    with pytest.raises(SystemExit):
        soothe_main(["power", "--reps", "1", "--time-course", "saturating",
                     "--out", str(tmp_path)])


def test_beats_simulator_replicate_joins_truth_and_estimates():
    from analysis.power import one_replicate

    r = one_replicate(3, seed=4, measures=("hr_bpm",), simulator="beats")
    phys = r[r["kind"] == "physio"]
    assert set(phys["versus"]) >= {"neutral"}
    assert (phys["simulator"] == "soothe.simulate").all()
    assert phys["estimate"].notna().all()


def test_power_and_analyze_agree_on_significance_for_the_same_study(tmp_path):
    """One simulated study through both paths: ``soothe power``'s replicate and
    ``soothe analyze`` judge every planned contrast alike (Holm-adjusted p < .05)."""
    from analysis.constants import MODEL_MEASURES, PHYSIO_MEASURES, display_label
    from analysis.power import one_replicate, significant
    from analysis.report_content import contrast_label
    from analysis.synthetic import synthetic_study_tables, write_synthetic_dataset
    from conditions import bids
    from soothe.cli import main as soothe_main

    n, seed = 8, 5
    t = synthetic_study_tables(n, seed)
    for col in bids.WINDOWS_COLUMNS:
        if col not in t.windows.columns:
            t.windows[col] = False if col == "partial" else "n/a" if col == "resp_source" \
                else float("nan")
    write_synthetic_dataset(t, tmp_path / "raw", tmp_path / "deriv")
    assert soothe_main(["analyze", str(tmp_path / "raw"), str(tmp_path / "deriv"), "--out",
                        str(tmp_path / "report")]) == 0
    report = pd.read_csv(tmp_path / "report" / "tables" / "planned_contrasts.csv")
    report_sig = dict(zip(zip(report["outcome"], report["contrast"]),
                          significant(report["p_holm"])))
    power = one_replicate(n, seed, measures=MODEL_MEASURES)
    power_sig = {}
    for r in power.itertuples():
        outcome = PHYSIO_MEASURES[r.measure][2] if r.kind == "physio" else \
            display_label(r.measure)
        power_sig[(outcome, contrast_label(r.condition, r.versus))] = bool(r.p < 0.05)
    assert set(power_sig) == set(report_sig)
    assert power_sig == report_sig
    assert 0 < sum(report_sig.values()) < len(report_sig)  # a real test: some of each
