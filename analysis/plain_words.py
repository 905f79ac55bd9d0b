"""Model results in plain words, one sentence per contrast."""

from __future__ import annotations

import math

import pandas as pd

from analysis.constants import PHYSIO_MEASURES, display_label

LOG_MEASURES = {"ln_rmssd": "RMSSD", "lnhf": "HF power"}


def format_p(p: float) -> str:
    """APA-style p value.

    Examples
    --------
    >>> format_p(0.00001), format_p(0.0234), format_p(0.5)
    ('p < .001', 'p = .023', 'p = .50')
    """
    if not math.isfinite(p):
        return "p = n/a"
    if p < 0.001:
        return "p < .001"
    if p < 0.01:
        return f"p = {p:.3f}".replace("0.", ".")
    return f"p = {p:.3f}".replace("0.", ".") if p < 0.1 else f"p = {p:.2f}".replace("0.", ".")


def _nice(cond: str) -> str:
    return cond.replace("_", " ")


def physio_sentence(measure: str, slope_row: pd.Series, last_row: pd.Series) -> str:
    """One sentence for a planned slope contrast: the slope difference (Holm p), then the
    difference at the last induction minute (descriptive, CI only).

    Examples
    --------
    >>> slope = pd.Series({"condition": "kindness_self", "versus": "positive_excitement",
    ...                    "slope_diff": -0.3, "ci_low": -0.4, "ci_high": -0.2,
    ...                    "p_holm": 1e-5})
    >>> last = pd.Series({"minute": 11, "estimate": -2.9, "ci_low": -4.0, "ci_high": -1.8})
    >>> physio_sentence("hr_bpm", slope, last)[:80]
    'Heart rate, Kindness (self) against Positive excitement: the slope was 0.3 bpm/m'
    """
    _, _, label, unit = PHYSIO_MEASURES.get(measure, (measure, "", measure, ""))
    who = f"{display_label(str(slope_row['condition']))} against " \
          f"{display_label(str(slope_row['versus']))}"
    s_est, s_lo, s_hi = (float(slope_row[k]) for k in ("slope_diff", "ci_low", "ci_high"))
    p_holm = float(slope_row["p_holm"])
    if p_holm < 0.05:
        how = f"the slope was {abs(s_est):.3g} {unit}/min {'higher' if s_est > 0 else 'lower'}"
    else:
        how = f"the slopes did not reliably differ ({s_est:+.3g} {unit}/min)"
    text = (f"{label}, {who}: {how} (95% CI {s_lo:+.3g} to {s_hi:+.3g}; Holm "
            f"{format_p(p_holm)})")
    est, lo, hi = (float(last_row[k]) for k in ("estimate", "ci_low", "ci_high"))
    minute = int(last_row["minute"])
    if measure in LOG_MEASURES:
        def pct(x: float) -> float:
            return 100.0 * (math.exp(x) - 1.0)

        text += (f"; at minute {minute} the difference was {pct(est):+.0f}% of "
                 f"{LOG_MEASURES[measure]} (95% CI {pct(lo):+.0f}% to {pct(hi):+.0f}%).")
    else:
        text += (f"; at minute {minute} the difference was {est:+.2f} {unit} "
                 f"(95% CI {lo:+.2f} to {hi:+.2f}).")
    return text


def ancova_sentence(row: pd.Series | dict) -> str:
    """One sentence for a planned self-report contrast, significant or not.

    The verb follows the Holm-adjusted p (the test the report claims); the CI of the
    difference is the unadjusted 95% CI. ``d`` is Cohen's d with the pooled SD of the post
    scores (see :mod:`analysis.selfreport_ancova`).

    Examples
    --------
    >>> row = pd.Series({"construct": "self_compassion", "condition": "kindness_self",
    ...     "versus": "neutral", "estimate": 11.3, "ci_low": 7.1, "ci_high": 15.5,
    ...     "d": 0.95, "d_ci_low": 0.6, "d_ci_high": 1.3, "p_holm": 0.0001})
    >>> ancova_sentence(row)[:60]
    'Adjusting for the pre score, Kindness (self) raised self-com'
    >>> ancova_sentence({**row, "p_holm": 0.2})[:76]
    'Adjusting for the pre score, Kindness (self) did not reliably change self-co'
    """
    est, lo, hi = float(row["estimate"]), float(row["ci_low"]), float(row["ci_high"])
    p_holm = float(row["p_holm"])
    construct = display_label(str(row["construct"])).lower()
    versus = display_label(str(row["versus"]))
    if p_holm < 0.05:
        verb = "raised" if est > 0 else "lowered"
        what = f"{verb} {construct} by {abs(est):.1f} points against {versus}"
    else:
        what = f"did not reliably change {construct} against {versus}: {est:+.1f} points"
    return (f"Adjusting for the pre score, {display_label(str(row['condition']))} {what} "
            f"(95% CI {lo:+.1f} to {hi:+.1f}; Cohen's d = {float(row['d']):+.2f} "
            f"[{float(row['d_ci_low']):+.2f}, {float(row['d_ci_high']):+.2f}], pooled post "
            f"SD; Holm {format_p(p_holm)}).")
