"""What the report says, independent of its format (HTML or Markdown).

A report is a list of :class:`Section`; each has paragraphs (plain words), figures and
tables. :mod:`analysis.report_html` and :mod:`analysis.report_markdown` only render it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.constants import (
    CONDITIONS,
    PHYSIO_MEASURES,
    display_label,
    measure_label,
)
from analysis.paper_table import apa_table
from analysis.phase_hf import PHASE_OUTCOMES
from analysis.physio_methods import TO_REPORT, checklist_table, methods_paragraphs
from analysis.physio_mixed import MINUTE_CENTRE, N_MINUTES
from analysis.plain_words import ancova_sentence, format_p, physio_sentence
from analysis.precedence import LIMITS
from analysis.provenance import provenance_sentence, provenance_summary_table
from analysis.selfreport_ancova import planned_contrasts
from conditions.scoring import STATE_CONSTRUCTS

METHODS = {
    "self_report": (
        "For each construct, an ANCOVA (OLS) of the post score on condition (treatment-coded, "
        "reference neutral) with the pre score as covariate: post ~ C(condition) + pre. "
        "Planned contrasts: each condition vs neutral, and Kindness (self) and Body scan vs "
        "Positive excitement (6 per construct), Holm-corrected within each construct. Effect "
        "sizes: adjusted mean difference in scale points with its 95% CI, and Cohen's d = "
        "adjusted difference / pooled SD of the post scores of the two groups compared "
        "(the conventional d; 95% CI by the delta method, including the uncertainty of the "
        "SD). The CSV also has d_resid = difference / residual SD of the ANCOVA (sqrt MSE), "
        "which is larger than the conventional d because the pre score removes variance; it "
        "is not comparable with d from other studies. The figure shows the ANCOVA-adjusted "
        "post means (at the sample's mean pre score), i.e. the means the contrasts compare."
    ),
    "physiology": (
        "Per measure (heart rate in bpm, ln RMSSD, SCL in µS), one pre-specified linear "
        "mixed model of the 11 induction minutes (statsmodels MixedLM, REML; BFGS, then "
        "Powell): value ~ C(condition) * minute_c + baseline_c + (1 | participant) + "
        f"(0 + minute_c | participant), i.e. random intercept and slope, uncorrelated; "
        f"minute_c = minute - {MINUTE_CENTRE:g}, baseline_c = the participant's mean over the "
        "valid baseline windows (centred). If it does not converge or a variance is estimated "
        "at 0, a random intercept alone is fitted (then OLS with participant-clustered SEs). "
        "Planned contrasts: the condition × minute slope of each condition vs neutral and of "
        "Kindness (self) and Body scan vs Positive excitement (6 per measure), Wald tests from "
        "the fitted model's t_test with a contrast matrix, Holm-corrected within each measure. "
        "Per-minute differences are descriptive (estimate and 95% CI, no p value). Windows the "
        "pipeline flagged partial are left out. A sensitivity model adds quadratic minute terms "
        "(ML fits of both; likelihood-ratio test and AIC)."
    ),
    "hf": (
        "HF power needs at least 120 s and breathing inside the HF band (9-24 breaths/min); "
        "it is computed per phase by the physiology pipeline and is NaN when breathing was "
        "outside the band. Secondary outcome: ln HF and breathing rate per phase, and an "
        "ANCOVA of the induction value on condition with the baseline value as covariate "
        "(the same planned contrasts, Holm within outcome)."
    ),
    "descriptives": (
        "Time-course figures show, per condition and window, the mean change from each "
        "participant's own baseline mean with a t-based 95% CI (descriptive, not the model). "
        "The paper table gives each participant's mean per phase, then mean (SD) across "
        "participants; the n row is the participants analysed per condition."
    ),
}


@dataclass
class Section:
    """One report section."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)
    figures: list[tuple[str, Path]] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    #: shown folded (HTML <details>); the Markdown report always shows it in full
    collapsed: bool = False
    #: short anchor id for the HTML page
    anchor: str = ""


def _is_p_column(name: str) -> bool:
    return name == "p" or name.startswith("p_") or name.endswith("_p")


def p_cell(p: float) -> str:
    """APA p value for a table cell (no leading ``p``).

    Examples
    --------
    >>> p_cell(0.0036), p_cell(0.00001), p_cell(0.2449), p_cell(float("nan"))
    ('.004', '< .001', '.24', '')
    """
    if pd.isna(p):
        return ""
    return format_p(float(p)).replace("p = ", "").replace("p ", "")


def _round(df: pd.DataFrame, decimals: int = 3) -> pd.DataFrame:
    """Display copy of a table: p values in APA style, df and n as whole numbers."""
    out = df.copy()
    for col in out.columns:
        if _is_p_column(str(col)):
            out[col] = out[col].map(p_cell)
            continue
        if str(col) in ("df", "n") and pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v:.0f}")
            continue
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v:.{decimals}g}"
                                    if abs(v) < 1e-3 and v != 0 else f"{v:.{decimals}f}")
    return out


OPTIMIZER_NAMES = {"bfgs": "BFGS", "powell": "Powell", "lbfgs": "L-BFGS", "nm": "Nelder-Mead"}


def _short_problem(problem: str) -> str:
    """A few words for why one fit was rejected (full statsmodels text stays in the CSV).

    Examples
    --------
    >>> _short_problem("optimizer did not converge; Gradient optimization failed, |grad| = 3")
    'did not converge'
    >>> _short_problem("random-effects covariance is singular (a variance near zero)")
    'was singular'
    """
    words = []
    if "converge" in problem:
        words.append("did not converge")
    if "singular" in problem:
        words.append("was singular")
    if "not finite" in problem:
        words.append("had a non-finite covariance")
    if "fit failed" in problem:
        words.append("failed to fit")
    return " and ".join(words) or "was rejected"


def fallback_summary(attempts: list[dict]) -> str:
    """The rejected fits in readable words, grouped by structure.

    Examples
    --------
    >>> fallback_summary([
    ...     {"structure": "random intercept + slope (correlated)", "optimizer": "bfgs",
    ...      "problem": "optimizer did not converge; Gradient optimization failed"},
    ...     {"structure": "random intercept + slope (correlated)", "optimizer": "powell",
    ...      "problem": "random-effects covariance is singular (...)"},
    ...     {"structure": "random intercept + slope (uncorrelated)", "optimizer": "bfgs",
    ...      "problem": None}])
    'random intercept + slope (correlated): did not converge (BFGS), was singular (Powell)'
    """
    by_structure: dict[str, list[str]] = {}
    for a in attempts:
        if a.get("problem"):
            optimizer = OPTIMIZER_NAMES.get(a["optimizer"], a["optimizer"])
            by_structure.setdefault(a["structure"], []).append(
                f"{_short_problem(a['problem'])} ({optimizer})")
    return "; ".join(f"{k}: {', '.join(v)}" for k, v in by_structure.items())


def physio_sentences(result) -> list[str]:
    """One sentence per planned physiology slope contrast, in the planned order."""
    out = []
    for measure, gm in result.growth.items():
        last = gm.minute_contrasts[gm.minute_contrasts["minute"] == N_MINUTES].set_index(
            "contrast")
        for _, row in gm.slope_contrasts.iterrows():
            out.append(physio_sentence(measure, row, last.loc[row["contrast"]]))
    return out


def contrast_label(condition: str, versus: str) -> str:
    """Display label of a contrast.

    Examples
    --------
    >>> contrast_label("kindness_self", "positive_excitement")
    'Kindness (self) − Positive excitement'
    """
    return f"{display_label(condition)} − {display_label(versus)}"


def _unit(measure: str) -> str:
    return PHYSIO_MEASURES[measure][3] if measure in PHYSIO_MEASURES else ""


def planned_contrast_table(result) -> pd.DataFrame:
    """Every planned contrast (physiology slopes, self-report ANCOVA) in one long table.

    Columns ``kind, outcome, contrast, estimate, ci_low, ci_high, p, p_holm, unit`` with
    display labels; the forest plot and the compact results table are drawn from it.
    """
    rows = []
    for measure, gm in result.growth.items():
        for r in gm.slope_contrasts.itertuples():
            rows.append({"kind": "physiology", "outcome": PHYSIO_MEASURES[measure][2]
                         if measure in PHYSIO_MEASURES else measure,
                         "unit": f"{_unit(measure)}/min",
                         "contrast": contrast_label(r.condition, r.versus),
                         "estimate": r.slope_diff, "ci_low": r.ci_low, "ci_high": r.ci_high,
                         "p": r.p, "p_holm": r.p_holm})
    sr = result.ancova
    for construct in [c for c in STATE_CONSTRUCTS if c in set(sr["construct"])] + [
            c for c in dict.fromkeys(sr["construct"]) if c not in STATE_CONSTRUCTS]:
        for r in sr[sr["construct"] == construct].itertuples():
            rows.append({"kind": "self-report", "outcome": display_label(construct),
                         "unit": "points", "contrast": contrast_label(r.condition, r.versus),
                         "estimate": r.estimate, "ci_low": r.ci_low, "ci_high": r.ci_high,
                         "p": r.p, "p_holm": r.p_holm})
    return pd.DataFrame(rows, columns=["kind", "outcome", "unit", "contrast", "estimate",
                                       "ci_low", "ci_high", "p", "p_holm"])


def compact_results(planned: pd.DataFrame, kind: str,
                    power: dict[tuple[str, str, str], str] | None = None) -> pd.DataFrame:
    """Contrasts as rows, outcomes as columns: ``estimate [95% CI]`` with the Holm p, and the
    power text of :func:`power_cells` when given.

    Examples
    --------
    >>> t = pd.DataFrame({"kind": ["physiology"], "outcome": ["Heart rate"],
    ...     "unit": ["bpm/min"], "contrast": ["Body scan − Neutral"], "estimate": [-0.21],
    ...     "ci_low": [-0.4], "ci_high": [-0.02], "p": [0.01], "p_holm": [0.03]})
    >>> compact_results(t, "physiology").iloc[0].tolist()
    ['Body scan − Neutral', '−0.21 [−0.40, −0.02] p = .030*']
    >>> compact_results(t.assign(p_holm=[0.0001]), "physiology").iloc[0, 1]
    '−0.21 [−0.40, −0.02] p < .001*'
    """
    t = planned[planned["kind"] == kind]
    if t.empty:
        return pd.DataFrame()
    decimals = 2 if kind == "physiology" else 1

    def num(v: float) -> str:
        return f"{v:.{decimals}f}".replace("-", "−")

    cells = [f"{num(e)} [{num(lo)}, {num(hi)}] {format_p(p)}{'*' if p < 0.05 else ''}"
             for e, lo, hi, p in zip(t["estimate"], t["ci_low"], t["ci_high"], t["p_holm"])]
    if power:
        cells = [f"{c}; {power.get((kind, o, k), 'power not cached')}"
                 for c, o, k in zip(cells, t["outcome"], t["contrast"])]
    t = t.assign(cell=cells, column=[f"{o} ({u})" for o, u in zip(t["outcome"], t["unit"])])
    wide = t.pivot_table(index="contrast", columns="column", values="cell", aggfunc="first",
                         sort=False)
    wide = wide[list(dict.fromkeys(t["column"]))].reindex(list(dict.fromkeys(t["contrast"])))
    wide.columns.name = None
    return wide.reset_index().rename(columns={"contrast": "Contrast"})


def fallback_line(measure: str, gm) -> str:
    """One line for a model that fell back from the pre-specified structure ('' if none).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> gm = SimpleNamespace(fallback_reason="x", structure="random intercept", attempts=[
    ...     {"structure": "random intercept + slope (uncorrelated)", "optimizer": "bfgs",
    ...      "problem": "random-effects covariance is singular (the slope variance was "
    ...                 "estimated at 0)"}])
    >>> fallback_line("ln_rmssd", gm)
    'ln RMSSD: random intercept only; the slope variance was estimated at 0.'
    """
    if not gm.fallback_reason:
        return ""
    label = PHYSIO_MEASURES[measure][2] if measure in PHYSIO_MEASURES else measure
    problems = " ".join(str(a.get("problem") or "") for a in gm.attempts)
    if "slope variance was estimated at 0" in problems:
        why = "the slope variance was estimated at 0"
    elif "intercept variance was estimated at 0" in problems:
        why = "the intercept variance was estimated at 0"
    elif "converge" in problems:
        why = "the pre-specified model did not converge"
    else:
        why = "the pre-specified model was rejected (" + _short_problem(problems) + ")"
    what = {"random intercept": "random intercept only"}.get(gm.structure, gm.structure)
    return f"{label}: {what}; {why}."


def variance_text(v: float) -> str:
    """A variance for display: 3 significant digits, never a misleading 0.000.

    Examples
    --------
    >>> variance_text(0.0000123), variance_text(2.5), variance_text(0.0)
    ('1.23e-05', '2.5', '0 (boundary)')
    """
    if not np.isfinite(v):
        return ""
    if v <= 0:
        return "0 (boundary)"
    return f"{v:.3g}"


def ancova_display(ancova: pd.DataFrame) -> pd.DataFrame:
    """The ANCOVA contrast table as shown in the report (formatted strings).

    Examples
    --------
    >>> row = {"construct": "relaxed", "contrast": "rumination - neutral", "n": 40,
    ...        "condition": "rumination", "versus": "neutral",
    ...        "estimate": -3.21, "ci_low": -6.0, "ci_high": -0.4, "df": 34.0, "p": 0.0036,
    ...        "p_holm": 0.0216, "d": -0.41, "d_ci_low": -0.8, "d_ci_high": -0.02,
    ...        "d_resid": -0.7}
    >>> ancova_display(pd.DataFrame([row])).iloc[0][["df", "p", "p (Holm)"]].tolist()
    ['34', '.004', '.022']
    """
    t = ancova
    return pd.DataFrame({
        "construct": t["construct"].map(display_label),
        "contrast": [contrast_label(c, v) for c, v in zip(t["condition"], t["versus"])]
        if "condition" in t.columns else t["contrast"],
        "n": t["n"].map(lambda v: f"{v:.0f}"),
        "difference [95% CI]": [f"{e:+.2f} [{lo:+.2f}, {hi:+.2f}]"
                                for e, lo, hi in zip(t["estimate"], t["ci_low"], t["ci_high"])],
        "df": t["df"].map(lambda v: f"{v:.0f}"),
        "p": t["p"].map(p_cell), "p (Holm)": t["p_holm"].map(p_cell),
        "d (pooled post SD) [95% CI]": [f"{e:+.2f} [{lo:+.2f}, {hi:+.2f}]" for e, lo, hi
                                        in zip(t["d"], t["d_ci_low"], t["d_ci_high"])],
        "d_resid (residual SD)": t["d_resid"].map(lambda v: f"{v:+.2f}"),
    }).reset_index(drop=True)


def selfreport_sentences(ancova: pd.DataFrame) -> list[str]:
    """One sentence per planned contrast, grouped by construct, in the planned order.

    Examples
    --------
    >>> row = {"construct": "relaxed", "versus": "neutral", "estimate": 1.0, "ci_low": -2.0,
    ...        "ci_high": 4.0, "d": 0.1, "d_ci_low": -0.2, "d_ci_high": 0.4, "p_holm": 0.9}
    >>> t = pd.DataFrame([{**row, "condition": "rumination"},
    ...                   {**row, "condition": "kindness_self"}])
    >>> [s.split(",")[1].split()[0] for s in selfreport_sentences(t)]
    ['Kindness', 'Rumination']
    """
    order = {pair: i for i, pair in enumerate(planned_contrasts())}
    constructs = [c for c in STATE_CONSTRUCTS if c in set(ancova["construct"])]
    constructs += [c for c in dict.fromkeys(ancova["construct"]) if c not in constructs]
    t = ancova.assign(_c=pd.Categorical(ancova["construct"], constructs),
                      _o=[order.get((c, v), len(order)) for c, v in
                          zip(ancova["condition"], ancova["versus"])])
    return [ancova_sentence(row) for _, row in t.sort_values(["_c", "_o"]).iterrows()]


def _models_table(result) -> pd.DataFrame:
    rows = []
    for m, g in result.growth.items():
        v = g.variances
        rows.append({"measure": measure_label(m), "structure": g.structure,
                     "participants": g.n_participants, "observations": g.n_observations,
                     "intercept variance": variance_text(v.get("intercept", np.nan)),
                     "slope variance": variance_text(v.get("slope", np.nan)),
                     "residual variance": variance_text(v.get("residual", np.nan))})
    return pd.DataFrame(rows)


def _sensitivity_table(result) -> pd.DataFrame:
    rows = []
    for m, sens in result.sensitivity.items():
        if "error" in sens:
            rows.append({"measure": measure_label(m), "LR χ² (df)": sens["error"]})
            continue
        lin = result.growth[m].slope_contrasts.set_index("contrast")
        for q in sens["slope_contrasts"]:
            c, v = q["contrast"].split(" - ")
            lr = lin.loc[q["contrast"]]
            rows.append({
                "measure": measure_label(m), "contrast": contrast_label(c, v),
                "linear: slope diff [95% CI]":
                    f"{lr['slope_diff']:+.3g} [{lr['ci_low']:+.3g}, {lr['ci_high']:+.3g}]",
                "quadratic: slope diff at min 6 [95% CI]":
                    f"{q['slope_diff_at_minute_6']:+.3g} [{q['ci_low']:+.3g}, "
                    f"{q['ci_high']:+.3g}]",
                "LR χ² (df), p": f"{sens['lr_chi2']:.2f} ({sens['lr_df']}), "
                                 f"{p_cell(sens['lr_p'])}",
                "AIC linear / quadratic": f"{sens['aic_linear']:.1f} / "
                                          f"{sens['aic_quadratic']:.1f}"})
    return pd.DataFrame(rows)


def _slopes_display(result) -> pd.DataFrame:
    s = result.slope_contrasts
    if s.empty:
        return s
    return pd.DataFrame({
        "measure": s["measure"].map(measure_label),
        "contrast": [contrast_label(c, v) for c, v in zip(s["condition"], s["versus"])],
        "slope diff per min [95% CI]": [f"{e:+.3g} [{lo:+.3g}, {hi:+.3g}]" for e, lo, hi
                                        in zip(s["slope_diff"], s["ci_low"], s["ci_high"])],
        "p": s["p"].map(p_cell), "p (Holm)": s["p_holm"].map(p_cell),
        f"difference at minute {MINUTE_CENTRE:g} [95% CI]": [
            f"{e:+.3g} [{lo:+.3g}, {hi:+.3g}]" for e, lo, hi in
            zip(s["mean_diff"], s["mean_diff_ci_low"], s["mean_diff_ci_high"])],
    })


def results_at_a_glance(result, figures: dict[str, Path]) -> Section:
    """The first section: sample, number of planned contrasts passing Holm, compact tables."""
    n_alloc = int(result.flow.loc["allocated", "total"]) if "allocated" in result.flow.index \
        else 0
    n_sr = int(result.flow.loc["analysed (self-report)", "total"]) \
        if "analysed (self-report)" in result.flow.index else 0
    planned = planned_contrast_table(result)
    top = Section("Results at a glance", anchor="results")
    n_sig = int((planned["p_holm"] < 0.05).sum())
    top.paragraphs.append(
        f"{n_alloc} participants were allocated; {n_sr} were analysed after "
        f"{len(result.exclusions)} exclusion(s); {result.n_partial_windows} partial "
        "window(s) of baseline, induction or recovery (a phase's remainder shorter than the "
        "window length) were left out of the physiology. "
        f"{len(planned)} planned contrasts; {n_sig} with Holm-adjusted p < .05 (Holm within "
        "each physiology measure over its 6 slope contrasts, and within each self-report "
        "construct over its 6 ANCOVA contrasts).")
    top.paragraphs.append(
        "Physiology: one pre-specified growth model per measure (random intercept and minute "
        "slope, uncorrelated); estimates are differences in slope per induction minute. "
        "Self-report: ANCOVA-adjusted differences in post scores (points on the 0–100 scale).")
    lines = [fallback_line(m, g) for m, g in result.growth.items()]
    lines = [x for x in lines if x]
    if lines:
        top.paragraphs.append("Model fallbacks: " + " ".join(lines) + " (every attempt in "
                              "report.json, models).")
    for m, why in getattr(result, "skipped", {}).items():
        top.paragraphs.append(f"{measure_label(m)} was not modelled: {why}.")
    if "forest" in figures:
        top.figures.append(("Every planned contrast with its 95% CI; Holm-adjusted p at the "
                            "right of each row (filled marker: Holm p < .05).",
                            figures["forest"]))
    cp = getattr(result, "contrast_power", None)
    cells = power_cells(cp)
    if cp is not None:
        top.paragraphs.append(power_paragraph(cp))
    power_note = (f" Power: the chance that this design (n = {cp['n_per_group']} per group) "
                  "detects the planted effect with the same model and Holm decision; in "
                  f"brackets at the planned n = {cp['n_planned']} per group." if cells else "")
    for kind, caption in (
        ("physiology", "Physiology: difference in slope per induction minute [95% CI], "
                       "Holm-adjusted p (* < .05)."),
        ("self-report", "Self-report: ANCOVA-adjusted difference in post score, points "
                        "[95% CI], Holm-adjusted p (* < .05)."),
    ):
        table = compact_results(planned, kind, cells)
        if len(table):
            top.tables.append((caption + power_note, table))
    return top


def _power_key(row) -> tuple[str, str, str]:
    """(kind, outcome label, contrast label) of a power-table row, as in the planned table."""
    if row.kind == "physio":
        outcome = PHYSIO_MEASURES[row.measure][2] if row.measure in PHYSIO_MEASURES \
            else row.measure
        return "physiology", outcome, contrast_label(row.condition, row.versus)
    return "self-report", display_label(row.measure), contrast_label(row.condition, row.versus)


def power_cells(cp: dict | None) -> dict[tuple[str, str, str], str]:
    """The power text of each planned contrast, keyed like :func:`planned_contrast_table`.

    Examples
    --------
    >>> t = pd.DataFrame({"kind": ["physio"], "measure": ["hr_bpm"],
    ...     "condition": ["body_scan"], "versus": ["neutral"], "truth": [-0.3],
    ...     "power": [0.14], "power_planned": [0.71], "reps": [50]})
    >>> power_cells({"table": t, "n_per_group": 4, "n_planned": 27})
    {('physiology', 'Heart rate', 'Body scan − Neutral'): 'power .14 (.71)'}
    """
    if cp is None or cp.get("table") is None or not len(cp["table"]):
        return {}

    def share(v: float) -> str:
        return "–" if pd.isna(v) else f"{v:.2f}".replace("0.", ".", 1) if v < 1 else "1"

    out = {}
    for row in cp["table"].itertuples():
        if row.truth == 0:
            text = f"no planted effect (false positives {share(row.power)})"
        else:
            text = f"power {share(row.power)} ({share(row.power_planned)})"
        out[_power_key(row)] = text
    return out


def power_paragraph(cp: dict) -> str:
    """What the analysed design can detect, in one paragraph (or how to compute it)."""
    table, n, n_plan = cp.get("table"), cp["n_per_group"], cp["n_planned"]
    if table is None or not len(table) or cp.get("missing"):
        sizes = " and ".join(str(k) for k in cp.get("missing", [n]))
        return (f"Power of the planned contrasts is not cached for n = {sizes} per group; "
                f"compute it with 'python -m analysis.power_cache_write {sizes}' (the model "
                "of soothe power) and re-run soothe analyze.")
    planted = table[table["truth"] != 0]
    reps = int(table["reps"].iloc[0])

    def line(col: str, size: int) -> str:
        p = planted[col]
        return (f"at n = {size} per group, median power {p.median():.2f}, and "
                f"{int((p >= 0.8).sum())} of {len(p)} contrasts reach 0.80")

    return (f"Power at the planted effects (the simulator's effect model, "
            f"soothe.simulate.effects; {reps} simulated studies per n, analysed with these same "
            "models and the same Holm-adjusted decision as soothe power): "
            f"{line('power', n)} (this analysis); {line('power_planned', n_plan)} (the "
            "paradigm's planned size). A contrast that is not significant at low power is no "
            "evidence that the effect is absent.")


def minute_contrasts_wide(mc: pd.DataFrame) -> pd.DataFrame:
    """Per-minute contrasts as one row per measure and contrast, one column per minute.

    Examples
    --------
    >>> mc = pd.DataFrame({"measure": "hr_bpm", "condition": "body_scan",
    ...     "versus": "neutral", "minute": [1, 2], "estimate": [0.1, -0.2],
    ...     "ci_low": [-0.5, -0.9], "ci_high": [0.7, 0.5]})
    >>> minute_contrasts_wide(mc).columns.tolist()
    ['measure', 'contrast', 'min 1', 'min 2']
    """
    wide = mc.assign(cell=[f"{e:+.3g} [{lo:+.3g}, {hi:+.3g}]" for e, lo, hi in
                           zip(mc["estimate"], mc["ci_low"], mc["ci_high"])],
                     label=[contrast_label(c, v) for c, v in
                            zip(mc["condition"], mc["versus"])],
                     m=mc["measure"].map(measure_label))
    wide = wide.pivot_table(index=["m", "label"], columns="minute", values="cell",
                            aggfunc="first", sort=False).reset_index()
    wide.columns = ["measure", "contrast"] + [f"min {c}" for c in wide.columns[2:]]
    return wide


def physio_methods_section(result) -> Section | None:
    """Physiology methods written from the sidecars, with the reporting checklist."""
    summary = getattr(result, "physio_methods", None)
    if summary is None:
        return None
    sec = Section("Physiology methods", anchor="methods")
    sec.paragraphs.extend(methods_paragraphs(summary))
    sec.paragraphs.append(
        "The table lists one row per item of GRAPH (Quintana et al., 2016), the SPR guidelines "
        "for HR/HRV (Quigley et al., 2024), Laborde et al. (2017) and the SPR committee "
        "report on EDA (Boucsein et al., 2012), with the value soothe used or measured and "
        f"its source. '{TO_REPORT}' marks what the data cannot tell; give it by hand.")
    sec.tables.append(("Reporting checklist (also tables/physio_methods_checklist.csv).",
                       checklist_table(summary)))
    return sec


def physiology_sections(result, figures: dict[str, Path]) -> list[Section]:
    """The growth-curve section and, when there are per-minute contrasts, their table."""
    phys = Section("Physiology: minute-by-minute growth curves", anchor="physiology")
    phys.paragraphs.append(METHODS["physiology"])
    if "time_course" in figures:
        phys.figures.append(("Change from baseline per minute (mean ± 95% CI) by condition; "
                             "grey band = induction.", figures["time_course"]))
    phys.tables.append(("Fitted models: structure, sizes and variance components (full "
                        "precision in report.json).", _models_table(result)))
    if len(result.slope_contrasts):
        phys.tables.append(("Planned slope contrasts (condition × minute), Holm within "
                            f"measure, and the difference at minute {MINUTE_CENTRE:g}.",
                            _slopes_display(result)))
    if result.sensitivity:
        phys.tables.append(("Time-course sensitivity: quadratic minute terms beside the "
                            "linear model (same random effects, ML fits): likelihood-ratio "
                            "test and AIC.", _sensitivity_table(result)))
    mc = result.minute_contrasts
    if not len(mc):
        return [phys]
    minutes = Section("Physiology per minute (descriptive)", collapsed=True, anchor="minutes")
    minutes.tables.append(("Difference at each induction minute: estimate [95% CI] "
                           "(descriptive, no test; tables/physio_minute_contrasts.csv).",
                           minute_contrasts_wide(mc)))
    return [phys, minutes]


def hf_section(result) -> Section:
    """The secondary outcome: ln HF power and breathing rate per phase."""
    hf = Section("Secondary: HF power per phase, with breathing rate", anchor="hf")
    hf.paragraphs.append(METHODS["hf"])
    if result.phase_descriptives is None:
        hf.paragraphs.append("No group phases table (group/desc-phases_physio.tsv) was found "
                             "in the derivatives, so HF is not reported.")
        return hf
    if result.hf_reasons:
        hf.paragraphs.append("Phases without a valid HF value: " + "; ".join(
            f"{k}: {v}" for k, v in result.hf_reasons.items()) + ".")
    d = result.phase_descriptives
    hf.tables.append(("ln HF power and breathing rate per phase and condition: mean "
                      "(SD), n valid.", pd.DataFrame({
                          "outcome": [f"{PHASE_OUTCOMES[o][0]} ({PHASE_OUTCOMES[o][1]})"
                                      for o in d["outcome"]],
                          "phase": d["phase"], "condition": d["condition"].map(display_label),
                          "M (SD)": [f"{m:.2f} ({sd:.2f})" for m, sd in
                                     zip(d["mean"], d["sd"])],
                          "n": d["n"], "n without a value": d["n_missing"]})))
    if result.phase_ancova is not None and len(result.phase_ancova):
        a = result.phase_ancova.rename(columns={"outcome": "construct"})
        table = ancova_display(a).rename(columns={"construct": "outcome"})
        hf.tables.append(("Induction value adjusted for the baseline value: planned "
                          "contrasts, Holm within outcome.", table))
    return hf


def selfreport_section(result, figures: dict[str, Path]) -> Section:
    """ANCOVA contrasts, manipulation check and reliability of the state constructs."""
    selfr = Section("Self-report: ANCOVA and manipulation check", anchor="selfreport")
    selfr.paragraphs.append(METHODS["self_report"])
    if "selfreport" in figures:
        selfr.figures.append(("ANCOVA-adjusted post means ± 95% CI per condition, shared "
                              "0–100 axis.", figures["selfreport"]))
    sr = result.ancova
    if len(sr):
        selfr.tables.append((
            "Planned contrasts: adjusted difference in scale points [95% CI]; d = Cohen's d "
            "with the pooled SD of the post scores of the two groups compared [95% CI]; "
            "d_resid = difference / residual SD (sqrt MSE), larger and not comparable with a "
            "conventional d. p unadjusted and Holm-adjusted within construct.",
            ancova_display(sr)))
    if result.change is not None and len(result.change):
        ch = result.change.assign(construct=result.change["construct"].map(display_label),
                                  condition=result.change["condition"].map(display_label))
        selfr.tables.append(("Manipulation check: post − pre change per condition.",
                             _round(ch, 2)))
    if result.alphas is not None and len(result.alphas):
        al = result.alphas.assign(construct=result.alphas["construct"].map(display_label))
        selfr.tables.append(("Reliability: Cronbach's alpha per construct and phase.",
                             _round(al, 2)))
    return selfr


def flow_section(result, figures: dict[str, Path]) -> Section:
    """Participant flow per condition, the exclusions and the rules applied."""
    flow = Section("Participant flow and exclusions", anchor="flow")
    if "flow" in figures:
        flow.figures.append(("CONSORT-style participant flow per condition.", figures["flow"]))
    fl = result.flow.reset_index()
    fl.columns = [display_label(str(c)) if str(c) in CONDITIONS else str(c)
                  for c in fl.columns]
    flow.tables.append(("Participant flow (counts per condition).", fl))
    if len(result.exclusions):
        flow.tables.append(("Exclusions, each with its rule and reason.", result.exclusions))
    else:
        flow.paragraphs.append("No participant met an exclusion rule.")
    if result.rules is not None:
        r = result.rules
        flow.paragraphs.append(
            f"Rules from {Path(str(r.source)).name}: incomplete session "
            f"{'on' if r.incomplete_session else 'off'}"
            f"; missing data {'on' if r.missing_data else 'off'}; invalid windows "
            f"{'on' if r.invalid_windows else 'off'} (more than {r.max_invalid_fraction:.0%} "
            f"invalid in {'/'.join(r.invalid_phases)}, scope {r.invalid_scope}); manipulation "
            f"check {'on' if r.manipulation_check else 'off'}.")
    return flow


def precedence_section(result) -> Section | None:
    """Exploratory temporal precedence (None when it was not computed)."""
    if result.precedence is None or not len(result.precedence):
        return None
    prec = Section("Exploratory: temporal precedence", anchor="precedence")
    prec.paragraphs.append(
        "Does the early physiological change (induction minutes 1-5 minus baseline, "
        "standardised) predict post safe/content and connected/secure beyond condition "
        "and the pre score? post ~ C(condition) + pre + early_change_z.")
    sig = result.precedence[result.precedence["p_holm"] < 0.05]
    prec.paragraphs.append(
        f"{len(sig)} of {len(result.precedence)} tests were significant after Holm "
        "correction." + ("" if sig.empty else " " + "; ".join(
            f"{measure_label(r.predictor)} → {display_label(r.outcome)}: "
            f"{r.estimate_per_sd:+.2f} points per SD ({format_p(r.p_holm)})"
            for r in sig.itertuples())))
    prec.paragraphs.append("Limits: " + LIMITS)
    pr = result.precedence.assign(predictor=result.precedence["predictor"].map(
        measure_label), outcome=result.precedence["outcome"].map(display_label))
    prec.tables.append(("Early change as predictor.", _round(pr, 3)))
    return prec


def descriptive_section(result) -> Section | None:
    """The manuscript-format mean (SD) table (None without descriptives)."""
    if result.descriptives is None:
        return None
    desc = Section("Descriptive table (manuscript format)", anchor="table1")
    desc.paragraphs.append(METHODS["descriptives"])
    desc.tables.append(("Mean (SD) per condition (also paper_table.tex / .md / .csv).",
                        apa_table(result.descriptives)))
    return desc


def words_section(result) -> Section:
    """Every planned contrast as one sentence (folded)."""
    words = Section("Every planned contrast in words", collapsed=True, anchor="words")
    words.paragraphs.append("One sentence per planned contrast, significant or not, in the "
                            "planned order (physiology slopes, then self-report).")
    sr = result.ancova
    words.bullets = physio_sentences(result) + (selfreport_sentences(sr) if len(sr) else [])
    return words


def software_section(result) -> Section:
    """Software versions, input hashes, physiology provenance, command and run times."""
    prov = Section("Software and inputs", collapsed=True, anchor="software")
    versions = result.provenance.get("versions", {})
    prov.tables.append(("Software versions.", pd.DataFrame(
        {"package": list(versions), "version": list(versions.values())})))
    hashes = result.provenance.get("input_sha256", {})
    prov.tables.append(("Inputs (SHA-256).", pd.DataFrame(
        {"input": list(hashes), "sha256": list(hashes.values())})))
    physio_prov = result.provenance.get("physio_derivatives")
    if physio_prov is not None:
        prov.paragraphs.append("Physiology derivatives: " + provenance_sentence(physio_prov))
        table = provenance_summary_table(physio_prov)
        if len(table):
            prov.tables.append((
                "Physiology processing: distinct settings, pipeline code hashes and package "
                "versions, with the number of recordings each (full values and the "
                "per-recording list in report.json, physio_derivatives).", table))
    if result.provenance.get("command"):
        prov.paragraphs.append(f"Command (paths relative to the study folder): "
                               f"{result.provenance['command']}")
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings_s.items())
    prov.paragraphs.append(f"Run times: {timing}.")
    return prov


def build_sections(result, figures: dict[str, Path]) -> list[Section]:
    """All sections of the report, in order (results first, details after)."""
    sections = [results_at_a_glance(result, figures),
                physio_methods_section(result),
                *physiology_sections(result, figures),
                hf_section(result),
                selfreport_section(result, figures),
                flow_section(result, figures),
                precedence_section(result),
                descriptive_section(result),
                words_section(result),
                software_section(result)]
    return [s for s in sections if s is not None]


def condition_order(values) -> list[str]:
    """Conditions in canonical order (unknown ones last)."""
    vals = list(dict.fromkeys(values))
    return [c for c in CONDITIONS if c in vals] + [v for v in vals if v not in CONDITIONS]


__all__ = ["Section", "build_sections", "physio_sentences", "METHODS", "condition_order"]
