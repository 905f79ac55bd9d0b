"""Self-report ANCOVA and the physiology growth-curve models: numbers checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import physio_mixed
from analysis.physio_mixed import MINUTE_CENTRE, fit_growth_model, model_data
from analysis.selfreport_ancova import change_scores, fit_construct_ancova, planned_contrasts
from analysis.synthetic import synthetic_study_tables
from analysis.tidy_table import build_tidy_table, score_responses
from conditions.protocol import CONDITION_NAMES


def _ancova_data(seed: int = 0, n: int = 15) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    effect = {"kindness_self": 8.0, "body_scan": 6.0, "positive_excitement": 3.0,
              "rumination": -5.0, "neutral": 0.0}
    for cond in CONDITION_NAMES:
        pre = rng.normal(50, 10, n)
        post = 10 + 0.8 * pre + effect[cond] + rng.normal(0, 5, n)
        rows += [{"participant_id": f"{cond}{i}", "condition": cond, "pre": a, "post": b}
                 for i, (a, b) in enumerate(zip(pre, post))]
    return pd.DataFrame(rows)


def test_planned_contrasts_are_the_six_of_the_paradigm():
    assert planned_contrasts() == [
        ("kindness_self", "neutral"), ("body_scan", "neutral"),
        ("positive_excitement", "neutral"), ("rumination", "neutral"),
        ("kindness_self", "positive_excitement"), ("body_scan", "positive_excitement")]


def test_ancova_contrasts_match_a_hand_built_least_squares_fit():
    d = _ancova_data()
    table, model = fit_construct_ancova(d, "x")
    conds = ["kindness_self", "body_scan", "positive_excitement", "rumination"]
    X = np.column_stack([np.ones(len(d))] + [(d["condition"] == c).to_numpy(float)
                                              for c in conds] + [d["pre"].to_numpy()])
    beta, *_ = np.linalg.lstsq(X, d["post"].to_numpy(), rcond=None)
    resid = d["post"].to_numpy() - X @ beta
    dfree = len(d) - X.shape[1]
    sigma2 = resid @ resid / dfree
    cov = sigma2 * np.linalg.inv(X.T @ X)
    t = table.set_index("contrast")
    assert t.loc["kindness_self - neutral", "estimate"] == pytest.approx(beta[1])
    diff = beta[1] - beta[3]
    se = np.sqrt(cov[1, 1] + cov[3, 3] - 2 * cov[1, 3])
    assert t.loc["kindness_self - positive_excitement", "estimate"] == pytest.approx(diff)
    assert t.loc["kindness_self - positive_excitement", "se"] == pytest.approx(se)
    from scipy import stats

    half = stats.t.ppf(0.975, dfree) * se
    assert t.loc["kindness_self - positive_excitement", "ci_low"] == pytest.approx(diff - half)
    # d_resid: the secondary, residual-SD version
    assert t.loc["kindness_self - neutral", "d_resid"] == pytest.approx(
        beta[1] / np.sqrt(sigma2))
    assert t.loc["kindness_self - neutral", "d_resid_ci_low"] == pytest.approx(
        t.loc["kindness_self - neutral", "ci_low"] / np.sqrt(sigma2))
    # Holm: adjusted p >= raw p, monotone in the raw ordering, and the smallest is p * 6
    assert (table["p_holm"] >= table["p"] - 1e-15).all()
    smallest = table["p"].idxmin()
    assert table.loc[smallest, "p_holm"] == pytest.approx(min(1.0, table["p"].min() * 6))
    assert table["n"].iloc[0] == len(d)


def test_ancova_d_is_the_conventional_d_with_the_pooled_post_sd():
    d = _ancova_data(seed=1)
    table, model = fit_construct_ancova(d, "x")
    t = table.set_index("contrast")
    for cond, versus in (("kindness_self", "neutral"), ("body_scan", "positive_excitement")):
        a = d.loc[d["condition"] == cond, "post"].to_numpy()
        b = d.loc[d["condition"] == versus, "post"].to_numpy()
        sp = np.sqrt(((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1))
                     / (a.size + b.size - 2))
        row = t.loc[f"{cond} - {versus}"]
        assert row["sd_post_pooled"] == pytest.approx(sp)
        assert row["d"] == pytest.approx(row["estimate"] / sp)
        # delta-method CI: ANCOVA precision of the difference + sampling error of the SD
        from scipy import stats

        se_d = np.sqrt((row["se"] / sp) ** 2 + row["d"] ** 2 / (2 * (a.size + b.size - 2)))
        half = stats.t.ppf(0.975, model.df_resid) * se_d
        assert row["d_ci_low"] == pytest.approx(row["d"] - half)
        assert row["d_ci_high"] == pytest.approx(row["d"] + half)
    # The pre score explains most of the post variance here (r ~ .85), so the residual-SD
    # version is clearly larger; the conventional d must not be that one.
    ratio = (t["d_resid"] / t["d"]).to_numpy()
    assert (ratio > 1.3).all()
    assert not np.allclose(t["d"], t["d_resid"])


def test_change_scores_are_post_minus_pre_per_condition():
    t = synthetic_study_tables(5, seed=3)
    tidy = build_tidy_table(t.windows, score_responses(t.responses, t.items), t.participants)
    ch = change_scores(tidy)
    sc = tidy[(tidy["measure"] == "self_compassion") & (tidy["condition"] == "rumination")]
    wide = sc.pivot_table(index="participant_id", columns="phase", values="value")
    expected = (wide["post_questionnaire"] - wide["pre_questionnaire"]).mean()
    got = ch[(ch["construct"] == "self_compassion") & (ch["condition"] == "rumination")]
    change = (wide["post_questionnaire"] - wide["pre_questionnaire"]).dropna()
    from scipy import stats

    half = stats.t.ppf(0.975, len(change) - 1) * change.std(ddof=1) / np.sqrt(len(change))
    assert float(got["mean_change"].iloc[0]) == pytest.approx(expected)
    assert int(got["n"].iloc[0]) == len(change)
    assert float(got["sd_change"].iloc[0]) == pytest.approx(change.std(ddof=1))
    assert float(got["ci_low"].iloc[0]) == pytest.approx(expected - half)
    assert float(got["ci_high"].iloc[0]) == pytest.approx(expected + half)


@pytest.fixture(scope="module")
def tidy12():
    t = synthetic_study_tables(8, seed=21)
    return build_tidy_table(t.windows, score_responses(t.responses, t.items), t.participants)


def test_growth_model_minute_contrasts_combine_main_and_interaction(tidy12):
    gm = fit_growth_model(tidy12, "hr_bpm")
    # the structure used is the first attempt without a problem, and every earlier
    # attempt was rejected for a stated reason
    usable = [i for i, a in enumerate(gm.attempts) if a["problem"] is None]
    assert usable, gm.attempts
    assert gm.structure == gm.attempts[usable[0]]["structure"]
    assert all(a["problem"] for a in gm.attempts[:usable[0]])
    assert gm.n_participants == tidy12["participant_id"].nunique()
    fe, cov = gm.fe_params, gm.fe_cov
    main = "C(condition, Treatment('neutral'))[T.kindness_self]"
    inter = main + ":minute_c"
    mc = gm.minute_contrasts[(gm.minute_contrasts["condition"] == "kindness_self")
                             & (gm.minute_contrasts["versus"] == "neutral")]
    assert mc["minute"].tolist() == list(range(1, 12))
    for minute in (1, 6, 11):
        row = mc[mc["minute"] == minute].iloc[0]
        k = minute - MINUTE_CENTRE
        assert row["estimate"] == pytest.approx(fe[main] + k * fe[inter])
        var = cov.loc[main, main] + k * k * cov.loc[inter, inter] + 2 * k * cov.loc[main, inter]
        assert row["se"] == pytest.approx(np.sqrt(var))
        assert row["ci_low"] == pytest.approx(row["estimate"] - 1.959964 * row["se"])
    slope = gm.slope_contrasts.set_index("contrast").loc["kindness_self - neutral"]
    assert slope["slope_diff"] == pytest.approx(fe[inter])
    # planted: -0.30 bpm/min for kindness_self vs 0 for neutral (analysis.synthetic)
    assert slope["ci_low"] < -0.30 < slope["ci_high"]


def test_model_data_uses_each_participants_baseline_mean(tidy12):
    d = model_data(tidy12, "scl_us")
    pid = d["participant_id"].iloc[0]
    m = tidy12[(tidy12["participant_id"] == pid) & (tidy12["measure"] == "scl_us")
               & (tidy12["phase"] == "baseline") & tidy12["valid"]]
    assert d.loc[d["participant_id"] == pid, "baseline_value"].iloc[0] == pytest.approx(
        m["value"].mean())
    assert set(d["minute"]) == set(range(1, 12))


def test_fallback_is_taken_and_said_when_the_prespecified_model_fails(tidy12, monkeypatch):
    real = physio_mixed._fit_mixed

    def failing(d, structure, method=("bfgs",), **kw):
        if structure == "uncorrelated":
            return None, "fit failed: forced for the test"
        return real(d, structure, method, **kw)

    monkeypatch.setattr(physio_mixed, "_fit_mixed", failing)
    gm = fit_growth_model(tidy12, "hr_bpm")
    # the pre-specified structure (both optimizers), then the random intercept
    assert [a["structure"] for a in gm.attempts][:3] == [
        "random intercept + slope (uncorrelated)"] * 2 + ["random intercept"]
    assert gm.structure == "random intercept"
    assert "forced for the test" in gm.fallback_reason

    def all_fail(d, structure, method=("bfgs",), **kw):
        return None, "fit failed: forced"

    monkeypatch.setattr(physio_mixed, "_fit_mixed", all_fail)
    gm = fit_growth_model(tidy12, "hr_bpm")
    assert gm.structure == "OLS (participant-clustered SE)"
    assert len(gm.attempts) == 4 and gm.fallback_reason.count("forced") == 4
    assert np.isfinite(gm.slope_contrasts["se"]).all()


def test_every_measure_starts_from_the_same_prespecified_model(tidy12):
    for measure in ("hr_bpm", "ln_rmssd", "scl_us"):
        gm = fit_growth_model(tidy12, measure)
        assert gm.attempts[0]["structure"] == "random intercept + slope (uncorrelated)"


def test_singular_random_effects_are_detected():
    # No between-person slope variance and no person offset beyond baseline: the
    # pre-specified structure is singular and must not be accepted silently.
    t = synthetic_study_tables(6, seed=5, invalid_rate=0.0)
    w = t.windows
    rng = np.random.default_rng(0)
    slope = {"kindness_self": -0.3, "rumination": 0.3}
    w["hr_bpm"] = [70 + (slope.get(c, 0.0) * k if ph == "induction" else 0.0)
                   + rng.normal(0, 1.0)
                   for c, ph, k in zip(w["condition"], w["phase"], w["window"])]
    tidy = build_tidy_table(w, score_responses(t.responses, t.items), t.participants)
    gm = fit_growth_model(tidy, "hr_bpm")
    first = gm.attempts[0]
    assert first["structure"] == "random intercept + slope (uncorrelated)"
    assert first["problem"], "a zero-variance random effect must be reported"
    assert gm.fallback_reason


def test_holm_adjustment_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests

    from analysis.selfreport_ancova import holm_adjust

    rng = np.random.default_rng(4)
    for _ in range(4):  # multipletests runs gc.collect(): keep the loop short
        p = rng.random(rng.integers(1, 12)) ** 3
        np.testing.assert_allclose(holm_adjust(p), multipletests(p, method="holm")[1])
    assert np.isnan(holm_adjust([0.01, np.nan])[1])
