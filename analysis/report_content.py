"""What the report says, independent of its format (HTML or Markdown).

A report is a list of :class:`Section`; each has paragraphs (plain words), figures and
tables. :mod:`analysis.report_html` and :mod:`analysis.report_markdown` only render it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.constants import CONDITIONS, CONSTRUCTS, measure_label
from analysis.physio_mixed import MINUTE_CENTRE, N_MINUTES
from analysis.plain_words import ancova_sentence, format_p, physio_sentence
from analysis.precedence import LIMITS
from analysis.provenance import provenance_sentence, provenance_summary_table

METHODS = {
    "self_report": (
        "For each construct, an ANCOVA (OLS) of the post score on condition (treatment-coded, "
        "reference neutral) with the pre score as covariate: post ~ C(condition) + pre. "
        "Planned contrasts: each condition vs neutral, and kindness_self and body_scan vs "
        "positive_excitement (6 per construct), Holm-corrected within each construct. Effect "
        "sizes: adjusted mean difference in scale points with its 95% CI, and Cohen's d = "
        "adjusted difference / pooled SD of the post scores of the two groups compared "
        "(the conventional d; 95% CI by the delta method, including the uncertainty of the "
        "SD). The CSV also has d_resid = difference / residual SD of the ANCOVA (sqrt MSE), "
        "which is larger than the conventional d because the pre score removes variance; it "
        "is not comparable with d from other studies."
    ),
    "physiology": (
        "Per measure (HR in bpm, ln RMSSD, ln HF, SCL in µS), a linear mixed model of the 11 "
        "induction minutes (statsmodels MixedLM, REML; BFGS, then Powell if BFGS fails): value ~ "
        "C(condition) * minute_c + baseline_c + (1 + minute_c | participant), with minute_c "
        f"= minute - {MINUTE_CENTRE:g} and baseline_c the participant's mean over the valid "
        "baseline windows (centred). If that model does not converge or its random-effects "
        "covariance is singular (a variance near zero or a correlation near ±1), simpler "
        "structures are fitted in turn: uncorrelated random intercept and slope, then random "
        "intercept only (which understates the uncertainty of slope differences when slopes "
        "vary between people); if all fail, OLS with participant-clustered SEs. Contrasts vs "
        "neutral at each minute m are "
        "b_condition + (m - 6) * b_condition:minute, with Wald 95% CIs from the fixed-effect "
        "covariance. Log-scale contrasts are reported as percentage differences."
    ),
    "descriptives": (
        "Time-course figures show, per condition and window, the mean change from each "
        "participant's own baseline mean with a t-based 95% CI (descriptive, not the model). "
        "The paper table gives each participant's mean per phase, then mean (SD) across "
        "participants."
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


def key_findings(result) -> list[str]:
    """Plain-words sentences: physiology at the last minute, and self-report contrasts."""
    out = []
    for measure, gm in result.growth.items():
        last = gm.minute_contrasts[gm.minute_contrasts["minute"] == N_MINUTES]
        slopes = gm.slope_contrasts.set_index("condition")
        for _, row in last.iterrows():
            out.append(physio_sentence(measure, row, slopes.loc[row["condition"]]))
    return out


def ancova_display(ancova: pd.DataFrame) -> pd.DataFrame:
    """The ANCOVA contrast table as shown in the report (formatted strings).

    Examples
    --------
    >>> row = {"construct": "relaxed", "contrast": "rumination - neutral", "n": 40,
    ...        "estimate": -3.21, "ci_low": -6.0, "ci_high": -0.4, "df": 34.0, "p": 0.0036,
    ...        "p_holm": 0.0216, "d": -0.41, "d_ci_low": -0.8, "d_ci_high": -0.02,
    ...        "d_resid": -0.7}
    >>> ancova_display(pd.DataFrame([row])).iloc[0][["df", "p", "p (Holm)"]].tolist()
    ['34', '.004', '.022']
    """
    t = ancova
    return pd.DataFrame({
        "construct": t["construct"], "contrast": t["contrast"],
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
    ['kindness', 'rumination']
    """
    from analysis.selfreport_ancova import planned_contrasts

    order = {pair: i for i, pair in enumerate(planned_contrasts())}
    constructs = [c for c in CONSTRUCTS if c in set(ancova["construct"])]
    constructs += [c for c in dict.fromkeys(ancova["construct"]) if c not in constructs]
    t = ancova.assign(_c=pd.Categorical(ancova["construct"], constructs),
                      _o=[order.get((c, v), len(order)) for c, v in
                          zip(ancova["condition"], ancova["versus"])])
    return [ancova_sentence(row) for _, row in t.sort_values(["_c", "_o"]).iterrows()]


def build_sections(result, figures: dict[str, Path]) -> list[Section]:
    """All sections of the report, in order."""
    sections: list[Section] = []
    n_alloc = int(result.flow.loc["allocated", "total"]) if "allocated" in result.flow.index \
        else 0
    n_sr = int(result.flow.loc["analysed (self-report)", "total"]) \
        if "analysed (self-report)" in result.flow.index else 0
    intro = Section("Summary")
    intro.paragraphs.append(
        f"{n_alloc} participants were allocated; {n_sr} were analysed after "
        f"{len(result.exclusions)} exclusion(s). Every number below is in the CSV tables beside "
        "this report, and report.json records the methods, parameters, software versions and "
        "the SHA-256 of every input.")
    fallbacks = [f"{measure_label(m)} was fitted with {g.structure} because the richer "
                 f"fit(s) were rejected ({fallback_summary(g.attempts)})"
                 for m, g in result.growth.items() if g.fallback_reason]
    if fallbacks:
        intro.paragraphs.append("Model fallbacks: " + "; ".join(fallbacks) + " (every attempt "
                                "is listed in the Fitted models table and report.json).")
    else:
        intro.paragraphs.append("All growth-curve models converged with correlated random "
                                "intercepts and minute slopes (no fallback was needed).")
    intro.bullets = key_findings(result)
    sr = result.ancova
    sections.append(intro)
    if len(sr):
        # Every planned contrast gets its sentence, significant or not (no selective
        # reporting): each condition vs neutral, then the self-compassion conditions vs
        # positive excitement, construct by construct.
        n_sig = int((sr["p_holm"] < 0.05).sum())
        planned = Section("Summary: every planned self-report contrast")
        planned.paragraphs.append(
            f"All {len(sr)} planned ANCOVA contrasts ({sr['construct'].nunique()} constructs "
            f"x {len(sr) // max(sr['construct'].nunique(), 1)}), in the planned order; "
            f"{n_sig} are significant after Holm correction within construct.")
        planned.bullets = selfreport_sentences(sr)
        sections.append(planned)

    flow = Section("Participant flow and exclusions")
    if "flow" in figures:
        flow.figures.append(("CONSORT-style participant flow per condition.", figures["flow"]))
    flow.tables.append(("Participant flow (counts per condition).",
                        result.flow.reset_index()))
    if len(result.exclusions):
        flow.tables.append(("Exclusions, each with its rule and reason.", result.exclusions))
    else:
        flow.paragraphs.append("No participant met an exclusion rule.")
    if result.rules is not None:
        r = result.rules
        flow.paragraphs.append(
            f"Rules from {r.source}: incomplete session {'on' if r.incomplete_session else 'off'}"
            f"; missing data {'on' if r.missing_data else 'off'}; invalid windows "
            f"{'on' if r.invalid_windows else 'off'} (more than {r.max_invalid_fraction:.0%} "
            f"invalid in {'/'.join(r.invalid_phases)}, scope {r.invalid_scope}); manipulation "
            f"check {'on' if r.manipulation_check else 'off'}.")
    sections.append(flow)

    phys = Section("Physiology: minute-by-minute growth curves")
    phys.paragraphs.append(METHODS["physiology"])
    if "time_course" in figures:
        phys.figures.append(("Change from baseline per minute (mean ± 95% CI) by condition; "
                             "grey band = induction.", figures["time_course"]))
    for m, why in getattr(result, "skipped", {}).items():
        phys.paragraphs.append(f"{measure_label(m)} was not modelled: {why}.")
    model_rows = []
    for m, g in result.growth.items():
        model_rows.append({"measure": m, "structure": g.structure,
                           "participants": g.n_participants, "observations": g.n_observations,
                           "rejected fits (full messages in tables/physio_models.csv)":
                               fallback_summary(g.attempts) or "none"})
    phys.tables.append(("Fitted models.", pd.DataFrame(model_rows)))
    slopes = result.slope_contrasts
    if len(slopes):
        phys.tables.append((
            "Condition × minute interaction against neutral (difference in slope per minute) "
            f"and the difference at minute {MINUTE_CENTRE:g} (mean_diff).",
            _round(slopes.drop(columns=["z"]))))
    mc = result.minute_contrasts
    if len(mc):
        wide = mc.assign(cell=[f"{e:+.3g} [{lo:+.3g}, {hi:+.3g}]" for e, lo, hi in
                               zip(mc["estimate"], mc["ci_low"], mc["ci_high"])])
        wide = wide.pivot_table(index=["measure", "condition"], columns="minute", values="cell",
                                aggfunc="first").reset_index()
        wide.columns = [str(c) if not isinstance(c, int) else f"min {c}" for c in wide.columns]
        phys.tables.append(("Contrast against neutral at each induction minute: estimate "
                            "[95% CI] (model scale; full table with p in "
                            "tables/physio_minute_contrasts.csv).", wide))
    sections.append(phys)

    selfr = Section("Self-report: ANCOVA and manipulation check")
    selfr.paragraphs.append(METHODS["self_report"])
    if "selfreport" in figures:
        selfr.figures.append(("Construct scores before and after the induction (mean ± 95% CI)",
                              figures["selfreport"]))
    if len(sr):
        selfr.tables.append((
            "Planned contrasts: adjusted difference in scale points [95% CI]; d = Cohen's d "
            "with the pooled SD of the post scores of the two groups compared [95% CI]; "
            "d_resid = difference / residual SD (sqrt MSE), larger and not comparable with a "
            "conventional d. p unadjusted and Holm-adjusted within construct.",
            ancova_display(sr)))
    if result.change is not None and len(result.change):
        selfr.tables.append(("Manipulation check: post − pre change per condition.",
                             _round(result.change, 2)))
    if result.alphas is not None and len(result.alphas):
        selfr.tables.append(("Reliability: Cronbach's alpha per construct and phase.",
                             _round(result.alphas, 2)))
    sections.append(selfr)

    if result.precedence is not None and len(result.precedence):
        prec = Section("Exploratory: temporal precedence")
        prec.paragraphs.append(
            "Does the early physiological change (induction minutes 1-5 minus baseline, "
            "standardised) predict post safe_content and connected_secure beyond condition "
            "and the pre score? post ~ C(condition) + pre + early_change_z.")
        sig = result.precedence[result.precedence["p_holm"] < 0.05]
        prec.paragraphs.append(
            f"{len(sig)} of {len(result.precedence)} tests were significant after Holm "
            "correction." + ("" if sig.empty else " " + "; ".join(
                f"{r.predictor} → {r.outcome}: {r.estimate_per_sd:+.2f} points per SD "
                f"({format_p(r.p_holm)})" for r in sig.itertuples())))
        prec.paragraphs.append("Limits: " + LIMITS)
        prec.tables.append(("Early change as predictor.", _round(result.precedence, 3)))
        sections.append(prec)

    if result.descriptives is not None:
        desc = Section("Descriptive table (manuscript format)")
        desc.paragraphs.append(METHODS["descriptives"])
        desc.tables.append(("Mean (SD) per condition (also as paper_table.csv / .md / .tex).",
                            result.descriptives))
        sections.append(desc)

    prov = Section("Software and inputs")
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
        prov.paragraphs.append(f"Command: {result.provenance['command']}")
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings_s.items())
    prov.paragraphs.append(f"Run times: {timing}.")
    sections.append(prov)
    return sections


def condition_order(values) -> list[str]:
    """Conditions in canonical order (unknown ones last)."""
    vals = list(dict.fromkeys(values))
    return [c for c in CONDITIONS if c in vals] + [v for v in vals if v not in CONDITIONS]


__all__ = ["Section", "build_sections", "key_findings", "METHODS", "condition_order", "np"]
