"""Minute-by-minute growth-curve models of the physiology (Kirschner et al., 2019).

Per measure (HR, ln RMSSD, SCL) one pre-specified linear mixed model of the induction
minutes, the same for every measure and in ``soothe power``::

    value ~ C(condition, Treatment('neutral')) * minute_c + baseline_c
            + (1 | participant) + (0 + minute_c | participant)

i.e. a random intercept and a random minute slope, uncorrelated. ``minute_c`` = minute - 6
(minute 1..11 centred at the middle of the induction) and ``baseline_c`` = the
participant's mean over the valid baseline windows, centred at the sample mean. Fitted by
REML (statsmodels MixedLM; BFGS, then Powell if BFGS fails). Only when that model does not
converge or a variance is estimated at zero is a random intercept alone fitted (then OLS
with participant-clustered SEs); the fallback is one line in the report and every attempt
is in ``report.json``.

Planned contrasts (Kirschner et al., 2019): the slope (condition x minute) of every
condition against neutral and of kindness_self and body_scan against positive_excitement,
tested with the fitted result's ``t_test`` and a contrast matrix, Holm-corrected within
each measure (``statsmodels.stats.multitest.multipletests``). Per-minute differences are
descriptive (estimate and 95% CI, no p value).

:func:`time_course_sensitivity` refits the chosen structure with quadratic minute terms
and compares the two by a likelihood-ratio test (ML fits) and AIC.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.constants import CONDITIONS, REFERENCE
from analysis.selfreport_ancova import holm_adjust, planned_contrasts

MINUTE_CENTRE = 6.0
N_MINUTES = 11

MINUTE_CONTRAST_COLUMNS = (
    "measure", "contrast", "condition", "versus", "minute", "estimate", "se", "ci_low",
    "ci_high",
)
SLOPE_CONTRAST_COLUMNS = (
    "measure", "contrast", "condition", "versus", "slope_diff", "se", "ci_low", "ci_high",
    "z", "p", "p_holm", "mean_diff", "mean_diff_ci_low", "mean_diff_ci_high",
)


@dataclass
class GrowthModel:
    """One fitted growth-curve model and its contrasts."""

    measure: str
    structure: str  # a label of STRUCTURES, or "OLS (participant-clustered SE)"
    fallback_reason: str
    n_participants: int
    n_observations: int
    fe_params: pd.Series
    fe_cov: pd.DataFrame
    minute_contrasts: pd.DataFrame
    slope_contrasts: pd.DataFrame
    summary_text: str = ""
    attempts: list[dict[str, Any]] = field(default_factory=list)
    variances: dict[str, float] = field(default_factory=dict)
    structure_key: str = ""
    sensitivity: dict[str, Any] = field(default_factory=dict)


def planned_pairs(present: list[str] | tuple[str, ...]) -> list[tuple[str, str]]:
    """(condition, versus) of the planned slope contrasts among the conditions present:
    the same pairs as the ANCOVA's (:func:`analysis.selfreport_ancova.planned_contrasts`).

    Examples
    --------
    >>> planned_pairs(CONDITIONS)[-2:]
    [('kindness_self', 'positive_excitement'), ('body_scan', 'positive_excitement')]
    >>> len(planned_pairs(CONDITIONS))
    6
    """
    return planned_contrasts(present)


def _coef(cond: str) -> str:
    return f"C(condition, Treatment('{REFERENCE}'))[T.{cond}]"


def model_data(tidy: pd.DataFrame, measure: str) -> pd.DataFrame:
    """Induction minutes of one measure with each participant's baseline mean.

    Returns columns ``participant_id, condition, minute, minute_c, value, baseline_value,
    baseline_c``; participants without a valid baseline window are left out.

    Examples
    --------
    >>> from analysis.synthetic import synthetic_study_tables
    >>> from analysis.tidy_table import build_tidy_table, score_responses
    >>> t = synthetic_study_tables(1, seed=0, invalid_rate=0.0)
    >>> tidy = build_tidy_table(t.windows, score_responses(t.responses, t.items),
    ...                         t.participants)
    >>> d = model_data(tidy, "hr_bpm")
    >>> len(d), float(d["minute_c"].min())
    (55, -5.0)
    """
    m = tidy[(tidy["measure"] == measure) & tidy["valid"]]
    base = m[m["phase"] == "baseline"].groupby("participant_id")["value"].mean()
    ind = m[(m["phase"] == "induction") & m["window"].between(1, N_MINUTES)]
    d = ind[["participant_id", "condition", "window", "value"]].rename(
        columns={"window": "minute"})
    d = d.assign(baseline_value=d["participant_id"].map(base)).dropna(
        subset=["baseline_value", "value", "condition"])
    d["minute"] = d["minute"].astype(float)
    d["minute_c"] = d["minute"] - MINUTE_CENTRE
    d["baseline_c"] = d["baseline_value"] - d.drop_duplicates("participant_id")[
        "baseline_value"].mean()
    return d.reset_index(drop=True)


#: Optimizers tried in turn for each random-effects structure. BFGS is fast and usually
#: enough; Powell (derivative-free) rescues fits where the residual variance is small
#: relative to the random-effects variance and the gradient methods stall.
OPTIMIZERS: tuple[tuple[str, ...], ...] = (("bfgs",), ("powell",))

#: Random-effects structures: key -> (label, re_formula, vc_formula).
STRUCTURES: dict[str, tuple[str, str, dict[str, str] | None]] = {
    "correlated": ("random intercept + slope (correlated)", "~minute_c", None),
    "uncorrelated": ("random intercept + slope (uncorrelated)", "1",
                     {"slope": "0 + minute_c"}),
    "intercept": ("random intercept", "1", None),
}

#: The pre-specified model of every measure, and its only fallback, in order. The
#: correlated structure is not pre-specified: with the baseline covariate absorbing most
#: intercept variance its correlation sits near +-1 (singular) in samples of this size.
PRESPECIFIED: tuple[str, ...] = ("uncorrelated", "intercept")

FIXED_FORMULA = f"value ~ C(condition, Treatment('{REFERENCE}')) * minute_c + baseline_c"
QUADRATIC_FORMULA = (f"value ~ C(condition, Treatment('{REFERENCE}')) * (minute_c + "
                     "I(minute_c ** 2)) + baseline_c")


def _fit_mixed(d: pd.DataFrame, structure: str, method: tuple[str, ...] = ("bfgs",), *,
               formula: str = FIXED_FORMULA, reml: bool = True) -> tuple[Any, str]:
    """Fit one MixedLM; return (result, problem) where problem is '' when it is usable.

    Every statsmodels warning is captured (never printed) and summarised in ``problem``.
    """
    # lazy: statsmodels is the analysis's heaviest import; report and table code skip it
    import statsmodels.formula.api as smf
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    _, re_formula, vc_formula = STRUCTURES[structure]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = smf.mixedlm(formula, d, groups=d["participant_id"], re_formula=re_formula,
                                vc_formula=vc_formula)
            result = model.fit(reml=reml, method=list(method))
        except (np.linalg.LinAlgError, ValueError) as exc:
            return None, f"fit failed: {exc}"
    # statsmodels' "MLE may be on the boundary" warning uses an absolute variance threshold
    # (0.01) that flags every measure with small units (ln RMSSD, SCL); singularity is
    # checked below on a scale-free basis instead.
    problems = sorted({str(w.message).split("\n")[0] for w in caught
                       if issubclass(w.category, (ConvergenceWarning, RuntimeWarning))
                       and "boundary of the parameter space" not in str(w.message)})
    if not getattr(result, "converged", False):
        problems.insert(0, "optimizer did not converge")
    cov_re = np.atleast_2d(np.asarray(result.cov_re, dtype=float))
    vcomp = np.asarray(getattr(result, "vcomp", []), dtype=float).ravel()
    scale = max(float(result.scale), 1e-300)
    if not (np.all(np.isfinite(cov_re)) and np.all(np.isfinite(vcomp))):
        problems.append("random-effects covariance is not finite")
    else:
        # Scale-free check: slope variances expressed over the half-range of minute_c
        # (5 min), relative to the residual variance. A near-zero eigenvalue (a variance at
        # zero or a correlation at +-1) is a singular fit.
        half = np.diag([1.0] + [N_MINUTES // 2] * (cov_re.shape[0] - 1))
        eig = np.linalg.eigvalsh(half @ cov_re @ half) / scale
        rel_vc = vcomp * (N_MINUTES // 2) ** 2 / scale
        if eig.min() <= 1e-4:
            problems.append("random-effects covariance is singular (the intercept variance "
                            "was estimated at 0)" if cov_re.shape[0] == 1 else
                            "random-effects covariance is singular (a variance near zero "
                            "or a correlation near +-1)")
        if rel_vc.size and rel_vc.min() <= 1e-4:
            problems.append("random-effects covariance is singular (the slope variance was "
                            "estimated at 0)")
    fe_cov = np.asarray(result.cov_params().loc[result.fe_params.index, result.fe_params.index])
    if not np.all(np.isfinite(fe_cov)):
        problems.append("fixed-effect covariance is not finite")
    return result, "; ".join(problems)


def _fit_ols_cluster(d: pd.DataFrame, formula: str = FIXED_FORMULA) -> Any:
    # lazy: statsmodels is the analysis's heaviest import; report and table code skip it
    import statsmodels.formula.api as smf

    groups = pd.factorize(d["participant_id"])[0]
    return smf.ols(formula, d).fit(cov_type="cluster", cov_kwds={"groups": groups})


def _variances(result: Any) -> dict[str, float]:
    """Random-effect variances and the residual variance of a MixedLM fit (full precision)."""
    if not hasattr(result, "cov_re"):
        return {"residual": float(result.scale)}
    out = {"intercept": float(np.atleast_2d(np.asarray(result.cov_re))[0, 0])}
    cov_re = np.atleast_2d(np.asarray(result.cov_re, dtype=float))
    if cov_re.shape[0] > 1:
        out["slope"] = float(cov_re[1, 1])
        out["intercept_slope_cov"] = float(cov_re[0, 1])
    vcomp = np.asarray(getattr(result, "vcomp", []), dtype=float).ravel()
    if vcomp.size:
        out["slope"] = float(vcomp[0])
    out["residual"] = float(result.scale)
    return out


def fit_growth_model(
    tidy: pd.DataFrame, measure: str, *, structures: tuple[str, ...] = PRESPECIFIED,
) -> GrowthModel:
    """Fit the pre-specified growth-curve model of one measure (with its fallback).

    This is the one model function of ``soothe analyze`` and ``soothe power``.

    Parameters
    ----------
    tidy : DataFrame
        The tidy long table (after exclusions).
    measure : str
        ``hr_bpm``, ``ln_rmssd`` or ``scl_us`` (any physio measure works).
    structures : tuple of str
        Keys of :data:`STRUCTURES` to try in order (each with every optimizer of
        :data:`OPTIMIZERS`) before the OLS fallback; default :data:`PRESPECIFIED`.

    Returns
    -------
    GrowthModel

    Examples
    --------
    >>> from analysis.synthetic import synthetic_study_tables
    >>> from analysis.tidy_table import build_tidy_table, score_responses
    >>> t = synthetic_study_tables(6, seed=4)
    >>> tidy = build_tidy_table(t.windows, score_responses(t.responses, t.items),
    ...                         t.participants)
    >>> gm = fit_growth_model(tidy, "hr_bpm")
    >>> s = gm.slope_contrasts.set_index("contrast")
    >>> bool(s.loc["kindness_self - neutral", "slope_diff"] < 0
    ...      < s.loc["rumination - neutral", "slope_diff"])
    True
    >>> len(s), bool((s["p_holm"] >= s["p"]).all())
    (6, True)
    """
    d = model_data(tidy, measure)
    present = [c for c in CONDITIONS if c in set(d["condition"])]
    if REFERENCE not in present or len(present) < 2:
        raise ValueError(f"{measure}: need '{REFERENCE}' and one other condition to fit")
    labels = {k: v[0] for k, v in STRUCTURES.items()}
    attempts: list[dict[str, Any]] = []
    result, structure, key_used, reason = None, "", "", ""
    for key in structures:
        for method in OPTIMIZERS:
            res, problem = _fit_mixed(d, key, method)
            attempts.append({"structure": labels[key], "optimizer": "+".join(method),
                             "problem": problem or None})
            if res is not None and not problem:
                result, structure, key_used = res, labels[key], key
                break
        if result is not None:
            break
    if result is None:
        result = _fit_ols_cluster(d)
        structure, key_used = "OLS (participant-clustered SE)", "ols"
    if structure != labels[structures[0]]:
        failed = [a for a in attempts if a["problem"]]
        reason = "; then ".join(f"{a['structure']} ({a['optimizer']}): {a['problem']}"
                                for a in failed)
    fe = result.fe_params if hasattr(result, "fe_params") else result.params
    cov = result.cov_params().loc[fe.index, fe.index]
    minute_tab, slope_tab = _contrasts(measure, result, list(fe.index), present)
    try:
        summary = str(result.summary())
    except Exception:  # summary formatting must never break the analysis
        summary = ""
    return GrowthModel(
        measure=measure, structure=structure, fallback_reason=reason,
        n_participants=int(d["participant_id"].nunique()), n_observations=len(d),
        fe_params=fe, fe_cov=cov, minute_contrasts=minute_tab, slope_contrasts=slope_tab,
        summary_text=summary, attempts=attempts, variances=_variances(result),
        structure_key=key_used,
    )


def contrast_vector(names: list[str], cond: str, versus: str, minute_weight: float | None
                    ) -> np.ndarray:
    """One row of a contrast matrix over the fixed effects ``names``.

    ``minute_weight`` None: the slope (condition x minute) difference; a number w: the
    difference at ``minute_c = w`` (main effect + w x interaction).

    Examples
    --------
    >>> names = ["Intercept", _coef("body_scan"), _coef("neutral"), "minute_c",
    ...          f"{_coef('body_scan')}:minute_c"]
    >>> contrast_vector(names, "body_scan", "neutral", None).tolist()
    [0.0, 0.0, 0.0, 0.0, 1.0]
    """
    vec = np.zeros(len(names))
    for c, sign in ((cond, 1.0), (versus, -1.0)):
        if c == REFERENCE:
            continue
        if minute_weight is None:
            vec[names.index(f"{_coef(c)}:minute_c")] += sign
        else:
            vec[names.index(_coef(c))] += sign
            vec[names.index(f"{_coef(c)}:minute_c")] += sign * minute_weight
    return vec


def _test(result: Any, matrix: np.ndarray) -> tuple[np.ndarray, ...]:
    """Estimates, SEs, 95% CIs, statistics and p of each row of ``matrix`` (``t_test``)."""
    res = result.t_test(matrix)
    ci = np.atleast_2d(res.conf_int(alpha=0.05))
    return (np.atleast_1d(np.squeeze(res.effect)), np.atleast_1d(np.squeeze(res.sd)),
            ci[:, 0], ci[:, 1], np.atleast_1d(np.squeeze(res.tvalue)),
            np.atleast_1d(np.squeeze(res.pvalue)))


def _contrasts(
    measure: str, result: Any, names: list[str], present: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    pairs = planned_pairs(present)
    labels = [f"{c} - {v}" for c, v in pairs]
    slope = _test(result, np.vstack([contrast_vector(names, c, v, None) for c, v in pairs]))
    mean = _test(result, np.vstack([contrast_vector(names, c, v, 0.0) for c, v in pairs]))
    slope_tab = pd.DataFrame({
        "measure": measure, "contrast": labels, "condition": [c for c, _ in pairs],
        "versus": [v for _, v in pairs], "slope_diff": slope[0], "se": slope[1],
        "ci_low": slope[2], "ci_high": slope[3], "z": slope[4], "p": slope[5],
        "p_holm": holm_adjust(slope[5]),
        "mean_diff": mean[0], "mean_diff_ci_low": mean[2], "mean_diff_ci_high": mean[3],
    })
    minute_rows = []
    for minute in range(1, N_MINUTES + 1):
        mat = np.vstack([contrast_vector(names, c, v, minute - MINUTE_CENTRE) for c, v in pairs])
        est, se, lo, hi, _, _ = _test(result, mat)
        for k, (c, v) in enumerate(pairs):
            minute_rows.append({"measure": measure, "contrast": labels[k], "condition": c,
                                "versus": v, "minute": minute, "estimate": est[k],
                                "se": se[k], "ci_low": lo[k], "ci_high": hi[k]})
    return (pd.DataFrame(minute_rows, columns=list(MINUTE_CONTRAST_COLUMNS)),
            slope_tab[list(SLOPE_CONTRAST_COLUMNS)])


def time_course_sensitivity(tidy: pd.DataFrame, gm: GrowthModel) -> dict[str, Any]:
    """Linear against quadratic minute terms, with the random effects of ``gm``.

    Both models are refitted by maximum likelihood (REML likelihoods of models with
    different fixed effects are not comparable): likelihood-ratio chi2 with df = the added
    quadratic terms, and AIC of each. The slope contrasts of the quadratic model (the
    condition x minute terms, i.e. the slope difference at minute 6) sit beside the linear
    ones.

    Returns
    -------
    dict
        ``lr_chi2, lr_df, lr_p, aic_linear, aic_quadratic, preferred, structure,
        slope_contrasts`` (list of dicts), or ``{"error": ...}`` when a fit fails.
    """
    # lazy: scipy.stats is a heavy import; report and table code skip it
    from scipy import stats

    d = model_data(tidy, gm.measure)
    key = gm.structure_key
    fits = {}
    for name, formula in (("linear", FIXED_FORMULA), ("quadratic", QUADRATIC_FORMULA)):
        if key in STRUCTURES:
            res, problem = None, "no fit"
            for method in OPTIMIZERS:
                res, problem = _fit_mixed(d, key, method, formula=formula, reml=False)
                if res is not None and "fit failed" not in problem:
                    break
            if res is None:
                return {"error": f"{name} ML fit failed: {problem}"}
        else:
            # lazy: statsmodels is the heaviest import of the analysis (see _fit_mixed)
            import statsmodels.formula.api as smf

            res = smf.ols(formula, d).fit()
        fits[name] = res
    ll_lin, ll_quad = float(fits["linear"].llf), float(fits["quadratic"].llf)
    k_lin = len(fits["linear"].params)
    k_quad = len(fits["quadratic"].params)
    df = k_quad - k_lin
    chi2 = max(2.0 * (ll_quad - ll_lin), 0.0)
    aic_lin, aic_quad = -2 * ll_lin + 2 * k_lin, -2 * ll_quad + 2 * k_quad
    quad = fits["quadratic"]
    present = [c for c in CONDITIONS if c in set(d["condition"])]
    names = list(quad.fe_params.index if hasattr(quad, "fe_params") else quad.params.index)
    pairs = planned_pairs(present)
    est, se, lo, hi, _, p = _test(quad, np.vstack([contrast_vector(names, c, v, None)
                                                    for c, v in pairs]))
    return {
        "structure": gm.structure, "fit": "ML (both models)",
        "quadratic_terms": "I(minute_c ** 2) and its condition interactions",
        "lr_chi2": chi2, "lr_df": int(df), "lr_p": float(stats.chi2.sf(chi2, df)),
        "aic_linear": aic_lin, "aic_quadratic": aic_quad,
        "preferred_by_aic": "quadratic" if aic_quad < aic_lin else "linear",
        "slope_contrasts": [
            {"contrast": f"{c} - {v}", "slope_diff_at_minute_6": float(est[k]),
             "ci_low": float(lo[k]), "ci_high": float(hi[k]), "p": float(p[k])}
            for k, (c, v) in enumerate(pairs)],
    }


def baseline_change_summary(tidy: pd.DataFrame, measure: str) -> pd.DataFrame:
    """Per condition, phase and window: mean change from each person's baseline, 95% CI.

    The descriptive time course drawn in the figures (not the model); the t interval is
    ``scipy.stats.t.interval``.
    """
    # lazy: scipy.stats is a heavy import; report and table code skip it
    from scipy import stats

    m = tidy[(tidy["measure"] == measure) & tidy["valid"] & (tidy["source"] == "physio")]
    base = m[m["phase"] == "baseline"].groupby("participant_id")["value"].mean()
    m = m.assign(change=m["value"] - m["participant_id"].map(base)).dropna(subset=["change"])
    rows = []
    for (cond, phase, window), g in m.groupby(["condition", "phase", "window"]):
        n = len(g)
        mean = float(g["change"].mean())
        if n > 1:
            lo, hi = stats.t.interval(0.95, n - 1, loc=mean, scale=stats.sem(g["change"]))
        else:
            lo = hi = float("nan")
        rows.append({"measure": measure, "condition": cond, "phase": phase,
                     "window": int(window), "n": n, "mean_change": mean,
                     "ci_low": float(lo), "ci_high": float(hi)})
    return pd.DataFrame(rows)
