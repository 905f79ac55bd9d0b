"""Parameter recovery: the fitted contrasts recover the effects the simulator planted.

Design (also in docs/analysis.md and docs/simulation.md). Studies are simulated at table
level with the project's simulator (``soothe.simulate.simulate_study_tables``: the true
beats of the generative model through the pipeline's HRV estimator, and questionnaire
answers) and analysed with ``analysis.pipeline.analyse_tables`` -- the same exclusions,
ANCOVA and the pre-specified growth-curve model as ``soothe analyze``. Compared
quantities, per seed:

* physiology (16+): the condition x minute coefficient against neutral (``slope_diff``,
  change per induction minute) for HR (bpm), ln RMSSD, ln HF and SCL (uS) x 4 conditions,
  against the slope the generative model implies (``effects.implied_index_slopes``);
* self-report (42): the ANCOVA adjusted difference for the 6 planned contrasts x 7
  constructs, against the planted shift(condition) - shift(versus) in VAS points.

Criteria: (1) sign -- for every non-zero planted quantity, the mean estimate over seeds has
the planted sign and no seed's 95% CI lies entirely on the wrong side of zero;
(2) magnitude -- the planted value lies inside the 95% CI for >= 90% of all
quantity x seed pairs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.pipeline import analyse_tables
from analysis.power import (
    PRESPECIFIED_STRUCTURES,
    estimated_contrasts,
    planted_contrasts,
    simulate_tables,
)

SEEDS = (1, 2, 3)
N_PER_GROUP = 10
MEASURES = ("hr_bpm", "ln_rmssd", "lnhf", "scl_us")


@pytest.fixture(scope="module")
def recovery() -> pd.DataFrame:
    parts = []
    for seed in SEEDS:
        t, simulator = simulate_tables(N_PER_GROUP, seed, simulator="beats")
        assert simulator == "soothe.simulate", "the recovery test must use the project simulator"
        res = analyse_tables(t.windows, t.responses, t.participants, t.items, measures=MEASURES,
                             full=False, structures=PRESPECIFIED_STRUCTURES)
        joined = planted_contrasts(t.planted, MEASURES).merge(
            estimated_contrasts(res), on=["kind", "measure", "condition", "versus"],
            how="inner")
        joined["seed"] = seed
        parts.append(joined)
    return pd.concat(parts, ignore_index=True)


def test_every_planted_quantity_was_estimated(recovery):
    per_seed = recovery.groupby("seed")["kind"].value_counts().unstack()
    assert (per_seed["physio"] >= 4 * len(MEASURES)).all()  # every condition vs neutral
    assert (per_seed["selfreport"] == 42).all()
    assert recovery[["estimate", "ci_low", "ci_high"]].notna().all().all()
    # the plan has effects of both signs and nulls, so both criteria are exercised
    assert (recovery["truth"] > 0).any() and (recovery["truth"] < 0).any()
    assert (recovery["truth"] == 0).any()


def test_sign_of_every_planted_effect_is_recovered(recovery):
    planted = recovery[recovery["truth"] != 0]
    mean_est = planted.groupby(["kind", "measure", "condition", "versus"]).agg(
        truth=("truth", "first"), estimate=("estimate", "mean"))
    wrong = mean_est[np.sign(mean_est["estimate"]) != np.sign(mean_est["truth"])]
    assert wrong.empty, f"mean estimate has the wrong sign:\n{wrong}"
    wrong_ci = planted[((planted["truth"] > 0) & (planted["ci_high"] < 0))
                       | ((planted["truth"] < 0) & (planted["ci_low"] > 0))]
    assert wrong_ci.empty, f"CI excludes zero on the wrong side:\n{wrong_ci}"


def test_planted_magnitude_is_inside_the_95ci_for_at_least_90_percent(recovery):
    inside = (recovery["ci_low"] <= recovery["truth"]) & (recovery["truth"] <= recovery["ci_high"])
    coverage = float(inside.mean())
    missed = recovery.loc[~inside, ["seed", "measure", "condition", "versus", "truth",
                                    "estimate", "ci_low", "ci_high"]]
    assert coverage >= 0.90, f"coverage {coverage:.1%}; missed:\n{missed}"
    # physiology alone must not hide behind the many self-report contrasts
    phys = inside[recovery["kind"] == "physio"]
    assert phys.mean() >= 0.80, f"physiology coverage {phys.mean():.1%}"


@pytest.fixture(scope="module")
def study_5x27():
    t, _ = simulate_tables(27, 2027, simulator="beats")
    res = analyse_tables(t.windows, t.responses, t.participants, t.items, measures=MEASURES,
                         full=False, structures=PRESPECIFIED_STRUCTURES)
    est = estimated_contrasts(res)
    return planted_contrasts(t.planted, MEASURES).merge(
        est, on=["kind", "measure", "condition", "versus"]).set_index(
        ["measure", "condition", "versus"])


def test_excitement_raises_hr_without_a_spurious_vagal_effect(study_5x27):
    """5 x 27 study: positive excitement vs neutral raises HR; ln RMSSD and ln HF do not
    rise (95 % CI lower bound <= 0); every CI covers what the generative model implies."""
    key = ("positive_excitement", "neutral")
    hr = study_5x27.loc[("hr_bpm", *key)]
    assert hr["ci_low"] > 0, hr
    for measure in ("ln_rmssd", "lnhf"):
        row = study_5x27.loc[(measure, *key)]
        assert row["ci_low"] <= 0, (measure, row)
    for measure in MEASURES:
        row = study_5x27.loc[(measure, *key)]
        assert row["ci_low"] <= row["truth"] <= row["ci_high"], (measure, row)
