"""Model results in plain words, one sentence per contrast."""

from __future__ import annotations

import math

import pandas as pd

from analysis.constants import PHYSIO_MEASURES

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


def physio_sentence(measure: str, minute_row: pd.Series, slope_row: pd.Series) -> str:
    """One sentence for a condition's contrast against neutral at the last minute.

    Examples
    --------
    >>> row = pd.Series({"condition": "kindness_self", "minute": 11, "estimate": -2.9,
    ...                  "ci_low": -4.0, "ci_high": -1.8, "p": 0.0001})
    >>> slope = pd.Series({"slope_diff": -0.3, "ci_low": -0.4, "ci_high": -0.2, "p": 1e-5})
    >>> physio_sentence("hr_bpm", row, slope)[:63]
    'Against neutral, kindness self lowered heart rate by 2.9 bpm at'
    """
    cond, minute = _nice(str(minute_row["condition"])), int(minute_row["minute"])
    est, lo, hi, p = (float(minute_row[k]) for k in ("estimate", "ci_low", "ci_high", "p"))
    clear = lo > 0 or hi < 0
    if measure in LOG_MEASURES:
        name = LOG_MEASURES[measure]

        def pct(x: float) -> float:
            return 100.0 * (math.exp(x) - 1.0)

        amount = f"{abs(pct(est)):.0f}%"
        ci = f"95% CI {pct(lo):+.0f}% to {pct(hi):+.0f}%"
        unit_slope = "ln units"
    else:
        _, _, label, unit = PHYSIO_MEASURES.get(measure, (measure, "", measure, ""))
        name = label.lower() if measure != "scl_us" else "skin conductance level (SCL)"
        decimals = 1 if measure == "hr_bpm" else 2
        amount = f"{abs(est):.{decimals}f} {unit}"
        ci = f"95% CI {lo:+.{decimals}f} to {hi:+.{decimals}f}"
        unit_slope = f"{unit}"
    if clear:
        verb = "raised" if est > 0 else "lowered"
        text = (f"Against neutral, {cond} {verb} {name} by {amount} at minute {minute} "
                f"({ci}, {format_p(p)})")
    else:
        sign = "+" if est >= 0 else "-"
        text = (f"Against neutral, {cond} did not reliably change {name} at minute {minute} "
                f"({sign}{amount}, {ci}, {format_p(p)})")
    s_est, s_lo, s_hi = (float(slope_row[k]) for k in ("slope_diff", "ci_low", "ci_high"))
    text += (f"; the difference changed by {s_est:+.3g} {unit_slope} per minute "
             f"(95% CI {s_lo:+.3g} to {s_hi:+.3g}, {format_p(float(slope_row['p']))}).")
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
    'Adjusting for the pre score, kindness self raised self compa'
    >>> ancova_sentence({**row, "p_holm": 0.2})[:74]
    'Adjusting for the pre score, kindness self did not reliably change self co'
    """
    est, lo, hi = float(row["estimate"]), float(row["ci_low"]), float(row["ci_high"])
    p_holm = float(row["p_holm"])
    construct, versus = _nice(str(row["construct"])), _nice(str(row["versus"]))
    if p_holm < 0.05:
        verb = "raised" if est > 0 else "lowered"
        what = f"{verb} {construct} by {abs(est):.1f} points against {versus}"
    else:
        what = f"did not reliably change {construct} against {versus}: {est:+.1f} points"
    return (f"Adjusting for the pre score, {_nice(str(row['condition']))} {what} "
            f"(95% CI {lo:+.1f} to {hi:+.1f}; Cohen's d = {float(row['d']):+.2f} "
            f"[{float(row['d_ci_low']):+.2f}, {float(row['d_ci_high']):+.2f}], pooled post "
            f"SD; Holm {format_p(p_holm)}).")
