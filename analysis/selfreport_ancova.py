"""Self-report ANCOVA per construct: post ~ condition + pre, with planned contrasts.

Planned contrasts (Kirschner et al., 2019): each condition against neutral, and the two
self-compassion conditions against positive excitement. The adjusted mean difference
(scale points) is the contrast of the condition coefficients.

Standardised effect sizes (two, clearly named):

* ``d`` -- the conventional Cohen's d: adjusted difference / pooled SD of the **post**
  scores of the two groups compared, ``s_p = sqrt(((n1-1) s1^2 + (n2-1) s2^2) /
  (n1 + n2 - 2))``. Dividing by the raw (unadjusted) outcome SD keeps d on the metric of
  a two-group comparison, so it can be compared with other studies and used in power
  analyses (Borenstein et al., 2009, ch. 4; Lakens, 2013). Its 95% CI uses the delta
  method, with both the ANCOVA precision of the difference and the sampling error of
  ``s_p``: ``SE(d) = sqrt(SE_adj^2 / s_p^2 + d^2 / (2 (n1 + n2 - 2)))``, ``d +- t * SE(d)``
  with ``t`` the ANCOVA's critical value.
* ``d_resid`` -- adjusted difference / residual SD of the ANCOVA, sqrt(MSE), CI scaled
  the same way. The covariate removes the pre-score variance from sqrt(MSE), so this
  value is larger (about 1 / sqrt(1 - r^2) times, r the pre-post correlation) and is NOT
  comparable with a conventional d; it is kept only as a secondary, labelled column.

p values are Holm-corrected over the contrasts of one construct.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.constants import ACTIVE_CONTROL, CONDITIONS, REFERENCE, SELF_COMPASSION_CONDITIONS

CONTRAST_COLUMNS = (
    "construct", "contrast", "condition", "versus", "n", "estimate", "ci_low", "ci_high",
    "se", "t", "df", "p", "p_holm", "sd_post_pooled", "d", "d_ci_low", "d_ci_high",
    "d_resid", "d_resid_ci_low", "d_resid_ci_high",
)


def holm_adjust(p: Sequence[float]) -> np.ndarray:
    """Holm (1979) step-down adjusted p values; NaN stays NaN.

    The same arithmetic as statsmodels' ``multipletests(method="holm")`` (sorted p times
    m, m-1, ..., 1, running maximum, capped at 1), written out because statsmodels' Holm
    branch ends with a full garbage collection on every call, which is slow inside a
    process that holds many figures. ``tests/test_analysis_models.py`` compares the two.

    Examples
    --------
    >>> holm_adjust([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        finite = p[ok]
        order = np.argsort(finite)
        raw = finite[order] * np.arange(finite.size, 0, -1)
        adjusted = np.minimum(np.maximum.accumulate(raw), 1.0)
        back = np.empty_like(adjusted)
        back[order] = adjusted
        out[ok] = back
    return out


def planned_contrasts(conditions: Sequence[str] = CONDITIONS) -> list[tuple[str, str]]:
    """(condition, versus) pairs of the planned contrasts among ``conditions``.

    A pair is planned only when both of its conditions are present.

    Examples
    --------
    >>> planned_contrasts()[-1]
    ('body_scan', 'positive_excitement')
    >>> planned_contrasts(["neutral", "body_scan"])
    [('body_scan', 'neutral')]
    """
    pairs = [(c, REFERENCE) for c in conditions if c != REFERENCE]
    if ACTIVE_CONTROL in conditions:
        pairs += [(c, ACTIVE_CONTROL) for c in SELF_COMPASSION_CONDITIONS if c in conditions]
    return pairs


def pooled_sd(a: Sequence[float], b: Sequence[float]) -> tuple[float, int]:
    """Pooled SD of two samples and their total n (NaN when either has n < 2).

    Examples
    --------
    >>> sd, n = pooled_sd([1.0, 3.0], [2.0, 6.0])
    >>> round(sd, 4), n
    (2.2361, 4)
    """
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    n = x.size + y.size
    if x.size < 2 or y.size < 2:
        return float("nan"), n
    ss = (x.size - 1) * x.var(ddof=1) + (y.size - 1) * y.var(ddof=1)
    return float(np.sqrt(ss / (n - 2))), n


def prepost_wide(tidy: pd.DataFrame) -> pd.DataFrame:
    """Self-report rows of the tidy table as ``participant_id, condition, construct, pre, post``."""
    sr = tidy[tidy["source"] == "selfreport"]
    wide = sr.pivot_table(
        index=["participant_id", "condition", "measure"], columns="phase", values="value",
        aggfunc="mean",
    ).reset_index()
    wide = wide.rename(
        columns={"measure": "construct", "pre_questionnaire": "pre", "post_questionnaire": "post"}
    )
    for col in ("pre", "post"):
        if col not in wide.columns:
            wide[col] = np.nan
    wide.columns.name = None
    return wide[["participant_id", "condition", "construct", "pre", "post"]]


def fit_construct_ancova(data: pd.DataFrame, construct: str) -> tuple[pd.DataFrame, object]:
    """Fit ``post ~ C(condition, Treatment('neutral')) + pre`` and test the planned contrasts.

    Parameters
    ----------
    data : DataFrame
        One row per participant with ``condition``, ``pre``, ``post``.
    construct : str
        Label used in the output.

    Returns
    -------
    (DataFrame, RegressionResults)
        Contrasts (:data:`CONTRAST_COLUMNS`) and the fitted OLS model.

    Examples
    --------
    >>> from analysis.synthetic import synthetic_study_tables
    >>> from analysis.tidy_table import build_tidy_table, score_responses
    >>> t = synthetic_study_tables(8, seed=2)
    >>> tidy = build_tidy_table(t.windows, score_responses(t.responses, t.items),
    ...                         t.participants)
    >>> w = prepost_wide(tidy)
    >>> table, _ = fit_construct_ancova(w[w["construct"] == "self_compassion"],
    ...                                 "self_compassion")
    >>> bool(table.set_index("contrast").loc["kindness_self - neutral", "estimate"] > 0)
    True
    """
    # lazy: statsmodels is the analysis's heaviest import; report and table code skip it
    import statsmodels.formula.api as smf
    from scipy import stats

    d = data.dropna(subset=["pre", "post", "condition"])
    present = [c for c in CONDITIONS if c in set(d["condition"])]
    if REFERENCE not in present:
        raise ValueError(f"{construct}: no '{REFERENCE}' participants; cannot fit the ANCOVA")
    model = smf.ols(f"post ~ C(condition, Treatment('{REFERENCE}')) + pre", data=d).fit()
    names = list(model.params.index)

    def coef(cond: str) -> str:
        return f"C(condition, Treatment('{REFERENCE}'))[T.{cond}]"

    sigma = float(np.sqrt(model.mse_resid))
    crit = float(stats.t.ppf(0.975, model.df_resid))
    rows = []
    for cond, versus in planned_contrasts(present):
        vec = np.zeros(len(names))
        vec[names.index(coef(cond))] = 1.0
        if versus != REFERENCE:
            vec[names.index(coef(versus))] = -1.0
        test = model.t_test(vec)
        est = float(np.squeeze(test.effect))
        se = float(np.squeeze(test.sd))
        lo, hi = (float(v) for v in np.squeeze(test.conf_int(alpha=0.05)))
        sd_p, n_pair = pooled_sd(d.loc[d["condition"] == cond, "post"],
                                 d.loc[d["condition"] == versus, "post"])
        d_conv = est / sd_p
        d_se = float(np.sqrt((se / sd_p) ** 2 + d_conv**2 / (2.0 * max(n_pair - 2, 1))))
        rows.append(
            {
                "construct": construct, "contrast": f"{cond} - {versus}", "condition": cond,
                "versus": versus, "n": int(model.nobs), "estimate": est, "ci_low": lo,
                "ci_high": hi, "se": se, "t": float(np.squeeze(test.tvalue)),
                "df": float(model.df_resid), "p": float(np.squeeze(test.pvalue)),
                "sd_post_pooled": sd_p, "d": d_conv, "d_ci_low": d_conv - crit * d_se,
                "d_ci_high": d_conv + crit * d_se, "d_resid": est / sigma,
                "d_resid_ci_low": lo / sigma, "d_resid_ci_high": hi / sigma,
            }
        )
    table = pd.DataFrame(rows)
    table["p_holm"] = holm_adjust(table["p"])
    return table[list(CONTRAST_COLUMNS)], model


def selfreport_ancova(tidy: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, object]]:
    """The ANCOVA and planned contrasts of every construct in the tidy table.

    Returns the contrast table (all constructs) and the fitted models by construct.
    Constructs that cannot be fitted (too few people) are skipped.
    """
    wide = prepost_wide(tidy)
    tables, models = [], {}
    for construct, data in wide.groupby("construct", sort=False):
        if data.dropna(subset=["pre", "post"])["condition"].nunique() < 2:
            continue
        table, model = fit_construct_ancova(data, str(construct))
        tables.append(table)
        models[str(construct)] = model
    out = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(
        columns=list(CONTRAST_COLUMNS))
    return out, models


def adjusted_means(models: dict[str, object]) -> pd.DataFrame:
    """ANCOVA-adjusted post means per construct and condition, at the sample's mean pre score.

    From each construct's fitted OLS model (``get_prediction`` at the mean pre score), with
    the 95% CI of the adjusted mean. These are the means the planned contrasts compare.

    Examples
    --------
    >>> from analysis.synthetic import synthetic_study_tables
    >>> from analysis.tidy_table import build_tidy_table, score_responses
    >>> t = synthetic_study_tables(6, seed=2)
    >>> tidy = build_tidy_table(t.windows, score_responses(t.responses, t.items),
    ...                         t.participants)
    >>> _, models = selfreport_ancova(tidy)
    >>> am = adjusted_means(models)
    >>> list(am.columns)
    ['construct', 'condition', 'n', 'pre_mean', 'adjusted_mean', 'ci_low', 'ci_high']
    """
    rows = []
    for construct, model in models.items():
        data = model.model.data.frame
        pre = float(data["pre"].mean())
        conds = [c for c in CONDITIONS if c in set(data["condition"])]
        grid = pd.DataFrame({"condition": conds, "pre": pre})
        pred = model.get_prediction(grid).summary_frame(alpha=0.05)
        counts = data["condition"].value_counts()
        for k, cond in enumerate(conds):
            rows.append({"construct": construct, "condition": cond, "n": int(counts[cond]),
                         "pre_mean": pre, "adjusted_mean": float(pred["mean"].iloc[k]),
                         "ci_low": float(pred["mean_ci_lower"].iloc[k]),
                         "ci_high": float(pred["mean_ci_upper"].iloc[k])})
    return pd.DataFrame(rows, columns=["construct", "condition", "n", "pre_mean",
                                       "adjusted_mean", "ci_low", "ci_high"])


def change_scores(tidy: pd.DataFrame) -> pd.DataFrame:
    """Manipulation check: post - pre change per construct and condition (mean, SD, 95% CI).

    Examples
    --------
    >>> from analysis.synthetic import synthetic_study_tables
    >>> from analysis.tidy_table import build_tidy_table, score_responses
    >>> t = synthetic_study_tables(4, seed=0)
    >>> tidy = build_tidy_table(t.windows, score_responses(t.responses, t.items),
    ...                         t.participants)
    >>> list(change_scores(tidy).columns)[:4]
    ['construct', 'condition', 'n', 'mean_change']
    """
    # lazy: scipy.stats is a heavy import; report and table code skip it
    from scipy import stats

    wide = prepost_wide(tidy).dropna(subset=["pre", "post"])
    wide["change"] = wide["post"] - wide["pre"]
    rows = []
    for (construct, cond), g in wide.groupby(["construct", "condition"], sort=False):
        n = len(g)
        mean = float(g["change"].mean())
        sd = float(g["change"].std(ddof=1)) if n > 1 else float("nan")
        lo, hi = (stats.t.interval(0.95, n - 1, loc=mean, scale=sd / np.sqrt(n)) if n > 1
                  else (float("nan"), float("nan")))
        rows.append({"construct": construct, "condition": cond, "n": n, "mean_change": mean,
                     "sd_change": sd, "ci_low": float(lo), "ci_high": float(hi)})
    out = pd.DataFrame(rows, columns=["construct", "condition", "n", "mean_change", "sd_change",
                                      "ci_low", "ci_high"])
    order = {c: i for i, c in enumerate(CONDITIONS)}
    out["_o"] = out["condition"].map(order)
    return out.sort_values(["construct", "_o"]).drop(columns="_o").reset_index(drop=True)
