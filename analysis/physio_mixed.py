"""Minute-by-minute growth-curve models of the physiology (Kirschner et al., 2019).

Per measure (HR, ln RMSSD, ln HF, SCL) a linear mixed model of the induction minutes::

    value ~ C(condition, Treatment('neutral')) * minute_c + baseline_c
            + (1 + minute_c | participant)

``minute_c`` = minute - 6 (minute 1..11 centred at the middle of the induction) and
``baseline_c`` = the participant's mean over the valid baseline windows, centred at the
sample mean. Fitted by REML (statsmodels MixedLM; BFGS, then Powell if BFGS fails). When
the model does not converge, or its random-effects covariance is singular, simpler
structures are fitted in turn: uncorrelated random intercept and slope, then random
intercept only; if all fail, OLS with participant-clustered standard errors is used. The
structure that was used is recorded and stated in the report.

Contrasts against neutral at minute m combine the condition and condition x minute
coefficients with the fixed-effect covariance matrix (Wald z, 95% CI).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.constants import CONDITIONS, REFERENCE

MINUTE_CENTRE = 6.0
N_MINUTES = 11

MINUTE_CONTRAST_COLUMNS = (
    "measure", "condition", "minute", "estimate", "se", "ci_low", "ci_high", "z", "p",
)
SLOPE_CONTRAST_COLUMNS = (
    "measure", "condition", "slope_diff", "se", "ci_low", "ci_high", "z", "p",
    "mean_diff", "mean_diff_ci_low", "mean_diff_ci_high", "mean_diff_p",
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

#: Random-effects structures, most to least complex: key -> (label, re_formula, vc_formula).
STRUCTURES: dict[str, tuple[str, str, dict[str, str] | None]] = {
    "correlated": ("random intercept + slope (correlated)", "~minute_c", None),
    # Same variances without their correlation: the usual first simplification when the
    # correlation sits at +-1 (e.g. when the baseline covariate absorbs the intercept).
    "uncorrelated": ("random intercept + slope (uncorrelated)", "1",
                     {"slope": "0 + minute_c"}),
    "intercept": ("random intercept", "1", None),
}


def _fit_mixed(d: pd.DataFrame, structure: str, method: tuple[str, ...] = ("bfgs",)
               ) -> tuple[Any, str]:
    """Fit one MixedLM; return (result, problem) where problem is '' when it is usable."""
    import statsmodels.formula.api as smf
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    _, re_formula, vc_formula = STRUCTURES[structure]
    formula = f"value ~ C(condition, Treatment('{REFERENCE}')) * minute_c + baseline_c"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = smf.mixedlm(formula, d, groups=d["participant_id"], re_formula=re_formula,
                                vc_formula=vc_formula)
            result = model.fit(reml=True, method=list(method))
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
        if eig.min() <= 1e-4 or (rel_vc.size and rel_vc.min() <= 1e-4):
            problems.append("random-effects covariance is singular (a variance near zero "
                            "or a correlation near +-1)")
    fe_cov = np.asarray(result.cov_params().loc[result.fe_params.index, result.fe_params.index])
    if not np.all(np.isfinite(fe_cov)):
        problems.append("fixed-effect covariance is not finite")
    return result, "; ".join(problems)


def _fit_ols_cluster(d: pd.DataFrame) -> Any:
    import statsmodels.formula.api as smf

    formula = f"value ~ C(condition, Treatment('{REFERENCE}')) * minute_c + baseline_c"
    groups = pd.factorize(d["participant_id"])[0]
    return smf.ols(formula, d).fit(cov_type="cluster", cov_kwds={"groups": groups})


def fit_growth_model(
    tidy: pd.DataFrame, measure: str, *,
    structures: tuple[str, ...] = ("correlated", "uncorrelated", "intercept"),
) -> GrowthModel:
    """Fit the growth-curve model of one measure with the fallback chain.

    Parameters
    ----------
    tidy : DataFrame
        The tidy long table (after exclusions).
    measure : str
        ``hr_bpm``, ``ln_rmssd``, ``lnhf`` or ``scl_us`` (any physio measure works).
    structures : tuple of str
        Keys of :data:`STRUCTURES` to try in order (each with every optimizer of
        :data:`OPTIMIZERS`) before the OLS fallback.

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
    >>> s = gm.slope_contrasts.set_index("condition")
    >>> bool(s.loc["kindness_self", "slope_diff"] < 0 < s.loc["rumination", "slope_diff"])
    True
    """
    d = model_data(tidy, measure)
    present = [c for c in CONDITIONS if c in set(d["condition"])]
    if REFERENCE not in present or len(present) < 2:
        raise ValueError(f"{measure}: need '{REFERENCE}' and one other condition to fit")
    labels = {k: v[0] for k, v in STRUCTURES.items()}
    attempts: list[dict[str, Any]] = []
    result, structure, reason = None, "", ""
    for key in structures:
        for method in OPTIMIZERS:
            res, problem = _fit_mixed(d, key, method)
            attempts.append({"structure": labels[key], "optimizer": "+".join(method),
                             "problem": problem or None})
            if res is not None and not problem:
                result, structure = res, labels[key]
                break
        if result is not None:
            break
    if result is None:
        result = _fit_ols_cluster(d)
        structure = "OLS (participant-clustered SE)"
    if structure != labels[structures[0]]:
        failed = [a for a in attempts if a["problem"]]
        reason = "; then ".join(f"{a['structure']} ({a['optimizer']}): {a['problem']}"
                                for a in failed)
    fe = result.fe_params if hasattr(result, "fe_params") else result.params
    cov = result.cov_params().loc[fe.index, fe.index]
    minute_tab, slope_tab = _contrasts(measure, fe, cov, present)
    try:
        summary = str(result.summary())
    except Exception:  # summary formatting must never break the analysis
        summary = ""
    return GrowthModel(
        measure=measure, structure=structure, fallback_reason=reason,
        n_participants=int(d["participant_id"].nunique()), n_observations=len(d),
        fe_params=fe, fe_cov=cov, minute_contrasts=minute_tab, slope_contrasts=slope_tab,
        summary_text=summary, attempts=attempts,
    )


def _wald(vec: np.ndarray, fe: pd.Series, cov: pd.DataFrame) -> tuple[float, float, float]:
    from scipy import stats

    est = float(vec @ fe.to_numpy())
    se = float(np.sqrt(max(vec @ cov.to_numpy() @ vec, 0.0)))
    z = est / se if se > 0 else float("nan")
    p = float(2 * stats.norm.sf(abs(z))) if np.isfinite(z) else float("nan")
    return est, se, p


def _contrasts(
    measure: str, fe: pd.Series, cov: pd.DataFrame, present: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    names = list(fe.index)
    minute_rows, slope_rows = [], []
    for cond in present:
        if cond == REFERENCE:
            continue
        main, inter = _coef(cond), f"{_coef(cond)}:minute_c"
        for minute in range(1, N_MINUTES + 1):
            vec = np.zeros(len(names))
            vec[names.index(main)] = 1.0
            vec[names.index(inter)] = minute - MINUTE_CENTRE
            est, se, p = _wald(vec, fe, cov)
            minute_rows.append({"measure": measure, "condition": cond, "minute": minute,
                                "estimate": est, "se": se, "ci_low": est - 1.959964 * se,
                                "ci_high": est + 1.959964 * se, "z": est / se if se else np.nan,
                                "p": p})
        vec = np.zeros(len(names))
        vec[names.index(inter)] = 1.0
        s_est, s_se, s_p = _wald(vec, fe, cov)
        vec = np.zeros(len(names))
        vec[names.index(main)] = 1.0
        m_est, m_se, m_p = _wald(vec, fe, cov)
        slope_rows.append({
            "measure": measure, "condition": cond, "slope_diff": s_est, "se": s_se,
            "ci_low": s_est - 1.959964 * s_se, "ci_high": s_est + 1.959964 * s_se,
            "z": s_est / s_se if s_se else np.nan, "p": s_p, "mean_diff": m_est,
            "mean_diff_ci_low": m_est - 1.959964 * m_se,
            "mean_diff_ci_high": m_est + 1.959964 * m_se, "mean_diff_p": m_p,
        })
    return (pd.DataFrame(minute_rows, columns=list(MINUTE_CONTRAST_COLUMNS)),
            pd.DataFrame(slope_rows, columns=list(SLOPE_CONTRAST_COLUMNS)))


def baseline_change_summary(tidy: pd.DataFrame, measure: str) -> pd.DataFrame:
    """Per condition, phase and window: mean change from each person's baseline, 95% CI.

    The descriptive time course drawn in the figures (not the model).
    """
    from scipy import stats

    m = tidy[(tidy["measure"] == measure) & tidy["valid"] & (tidy["source"] == "physio")]
    base = m[m["phase"] == "baseline"].groupby("participant_id")["value"].mean()
    m = m.assign(change=m["value"] - m["participant_id"].map(base)).dropna(subset=["change"])
    rows = []
    for (cond, phase, window), g in m.groupby(["condition", "phase", "window"]):
        n = len(g)
        mean = float(g["change"].mean())
        sd = float(g["change"].std(ddof=1)) if n > 1 else float("nan")
        half = float(stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n)) if n > 1 else float("nan")
        rows.append({"measure": measure, "condition": cond, "phase": phase,
                     "window": int(window), "n": n, "mean_change": mean,
                     "ci_low": mean - half, "ci_high": mean + half})
    return pd.DataFrame(rows)
