"""Optional temporal-precedence test: does early physiological change predict later
self-reported safeness and connectedness beyond condition?

For each physio measure the early change is the participant's mean over induction minutes
1-5 minus their baseline mean. For each outcome construct (``safe_content``,
``connected_secure``)::

    post ~ C(condition, Treatment('neutral')) + pre + early_change_z

``early_change_z`` is standardised, so its coefficient is in scale points per SD of early
change. Limits: the design randomises condition, not physiology, so this is an
observational association within conditions; the post questionnaire follows the whole
induction, so "early" only orders the physiological change before the rating, it does not
establish that the change caused it; many tests are run (Holm-corrected here).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.constants import REFERENCE
from analysis.selfreport_ancova import holm_adjust, prepost_wide

OUTCOMES = ("safe_content", "connected_secure")
PREDICTORS = ("hr_bpm", "ln_rmssd", "scl_us")
EARLY_MINUTES = (1, 5)

LIMITS = (
    "Condition is randomised, physiology is not: the early-change coefficient is an "
    "association among participants within conditions, open to confounding by traits that "
    "drive both (e.g. trait self-compassion, fitness, posture). Early change precedes the "
    "post rating in time, which is necessary but not sufficient for a causal ordering; the "
    "rating is given once after the induction, so no within-person lagged test is possible. "
    "p values are Holm-corrected over the measure x outcome tests."
)


def early_change(tidy: pd.DataFrame, measure: str) -> pd.Series:
    """Mean over induction minutes 1-5 minus the baseline mean, per participant."""
    m = tidy[(tidy["measure"] == measure) & tidy["valid"]]
    base = m[m["phase"] == "baseline"].groupby("participant_id")["value"].mean()
    lo, hi = EARLY_MINUTES
    early = m[(m["phase"] == "induction") & m["window"].between(lo, hi)].groupby(
        "participant_id")["value"].mean()
    return (early - base).dropna()


def temporal_precedence(tidy: pd.DataFrame) -> pd.DataFrame:
    """One row per physio measure x outcome: the early-change coefficient and its test.

    Examples
    --------
    >>> from analysis.synthetic import synthetic_study_tables
    >>> from analysis.tidy_table import build_tidy_table, score_responses
    >>> t = synthetic_study_tables(5, seed=0)
    >>> tidy = build_tidy_table(t.windows, score_responses(t.responses, t.items),
    ...                         t.participants)
    >>> len(temporal_precedence(tidy))
    6
    """
    # lazy: statsmodels is the analysis's heaviest import; report and table code skip it
    import statsmodels.formula.api as smf

    wide = prepost_wide(tidy)
    rows = []
    for measure in PREDICTORS:
        change = early_change(tidy, measure)
        if change.std(ddof=1) == 0 or len(change) < 10:
            continue
        z = (change - change.mean()) / change.std(ddof=1)
        for outcome in OUTCOMES:
            d = wide[wide["construct"] == outcome].copy()
            d["early_change_z"] = d["participant_id"].map(z)
            d = d.dropna(subset=["pre", "post", "early_change_z"])
            if d["condition"].nunique() < 2 or REFERENCE not in set(d["condition"]):
                continue
            fit = smf.ols(
                f"post ~ C(condition, Treatment('{REFERENCE}')) + pre + early_change_z", d
            ).fit()
            lo, hi = fit.conf_int().loc["early_change_z"]
            rows.append({"predictor": measure, "outcome": outcome, "n": int(fit.nobs),
                         "estimate_per_sd": float(fit.params["early_change_z"]),
                         "ci_low": float(lo), "ci_high": float(hi),
                         "p": float(fit.pvalues["early_change_z"])})
    out = pd.DataFrame(rows, columns=["predictor", "outcome", "n", "estimate_per_sd", "ci_low",
                                      "ci_high", "p"])
    out["p_holm"] = holm_adjust(out["p"]) if len(out) else np.array([])
    return out
