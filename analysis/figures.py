"""Figures of the report: physiology time courses, pre/post self-report (Okabe-Ito colours).

Every function returns a ``matplotlib.figure.Figure`` built without pyplot, so nothing
depends on a display; :func:`save_figure` writes PNG and SVG.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.constants import (
    CONDITIONS,
    MODEL_MEASURES,
    PALETTE,
    PHYSIO_MEASURES,
    display_label,
    measure_label,
)
from analysis.report_content import p_cell
from conditions.scoring import STATE_CONSTRUCTS

PHYSIO_UNITS = {m: v[3] for m, v in PHYSIO_MEASURES.items()}

#: x position of each window: baseline -5..-1, induction 1..11, recovery after a gap.
RECOVERY_X0 = 12.5


def window_x(phase: str, window: int) -> float:
    """x coordinate of a window on the session time axis (minutes, induction onset = 0).

    Examples
    --------
    >>> window_x("baseline", 5), window_x("induction", 1), window_x("recovery", 1)
    (-1.0, 1.0, 13.5)
    """
    if phase == "baseline":
        return float(window) - 6.0
    if phase == "induction":
        return float(window)
    return RECOVERY_X0 + float(window)


def plot_time_courses(summaries: dict[str, pd.DataFrame], *, show: bool = False):
    """Mean change from baseline +- 95% CI per window and condition, one panel per measure.

    Parameters
    ----------
    summaries : dict
        measure -> :func:`analysis.physio_mixed.baseline_change_summary` output.

    Examples
    --------
    >>> from analysis.synthetic import synthetic_study_tables
    >>> from analysis.tidy_table import build_tidy_table, score_responses
    >>> from analysis.physio_mixed import baseline_change_summary
    >>> t = synthetic_study_tables(3, seed=0)
    >>> tidy = build_tidy_table(t.windows, score_responses(t.responses, t.items),
    ...                         t.participants)
    >>> fig = plot_time_courses({"hr_bpm": baseline_change_summary(tidy, "hr_bpm")})
    >>> len(fig.axes)
    1
    """
    # lazy: matplotlib is heavy; analyses without figures (power replicates) skip it
    from matplotlib.figure import Figure

    measures = [m for m in MODEL_MEASURES if m in summaries] + [
        m for m in summaries if m not in MODEL_MEASURES]
    n = len(measures)
    ncols = 2 if n > 1 else 1
    nrows = int(np.ceil(n / ncols))
    fig = Figure(figsize=(6.2 * ncols, 3.8 * nrows))
    for i, measure in enumerate(measures):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        s = summaries[measure]
        ax.axvspan(0.5, 11.5, color="#f0f0f0", zorder=0)
        ax.axhline(0.0, color="#444444", lw=0.8, ls="--", zorder=1)
        for cond in CONDITIONS:
            c = s[s["condition"] == cond]
            if c.empty:
                continue
            for phase in ("baseline", "induction", "recovery"):
                p = c[c["phase"] == phase].sort_values("window")
                if p.empty:
                    continue
                x = [window_x(phase, w) for w in p["window"]]
                ax.plot(x, p["mean_change"], color=PALETTE[cond], lw=1.8, marker="o", ms=3,
                        label=display_label(cond) if phase == "induction" else None,
                        zorder=3)
                ax.fill_between(x, p["ci_low"], p["ci_high"], color=PALETTE[cond], alpha=0.15,
                                lw=0, zorder=2)
        ax.set_xticks([-5, -1, 1, 6, 11, 13.5, 17.5])
        ax.set_xticklabels(["B1", "B5", "1", "6", "11", "R1", "R5"])
        ax.set_xlabel("baseline (B) · induction minute · recovery (R)")
        ax.set_ylabel(f"Δ from baseline ({PHYSIO_UNITS.get(measure, '')})")
        ax.set_title(measure_label(measure), fontsize=10)
        if i == 0:
            ax.legend(fontsize=7, frameon=False, loc="best")
    fig.suptitle("Physiology by minute: mean change from baseline ± 95% CI", fontsize=11)
    fig.tight_layout()
    return fig


def plot_selfreport_adjusted(adjusted: pd.DataFrame, *, scale: tuple[float, float] = (0, 100),
                             show: bool = False):
    """ANCOVA-adjusted post means ± 95% CI per condition, one panel per construct.

    The means the planned contrasts compare (post score at the sample's mean pre score), on
    one shared axis (the questionnaire's 0-100 scale), so panels can be compared and a
    pre-score imbalance does not show up as an effect.

    Examples
    --------
    >>> am = pd.DataFrame({"construct": ["relaxed"] * 2, "condition": ["neutral", "body_scan"],
    ...                    "adjusted_mean": [50.0, 60.0], "ci_low": [45.0, 55.0],
    ...                    "ci_high": [55.0, 65.0]})
    >>> fig = plot_selfreport_adjusted(am)
    >>> [float(v) for v in fig.axes[0].get_ylim()]
    [0.0, 100.0]
    """
    # lazy: matplotlib is heavy; analyses without figures (power replicates) skip it
    from matplotlib.figure import Figure

    constructs = [c for c in STATE_CONSTRUCTS if c in set(adjusted["construct"])]
    constructs += [c for c in dict.fromkeys(adjusted["construct"]) if c not in constructs]
    n = max(len(constructs), 1)
    ncols = min(n, 4)
    nrows = int(np.ceil(n / ncols))
    fig = Figure(figsize=(2.6 * ncols + 0.8, 3.3 * nrows))
    axes = fig.subplots(nrows, ncols, sharey=True, squeeze=False).ravel()
    for i, construct in enumerate(constructs):
        ax = axes[i]
        c = adjusted[adjusted["construct"] == construct].set_index("condition")
        conds = [k for k in CONDITIONS if k in c.index]
        for k, cond in enumerate(conds):
            row = c.loc[cond]
            ax.errorbar([k], [row["adjusted_mean"]],
                        yerr=[[row["adjusted_mean"] - row["ci_low"]],
                              [row["ci_high"] - row["adjusted_mean"]]],
                        color=PALETTE[cond], marker="o", ms=5, lw=1.8, capsize=3,
                        label=display_label(cond))
        ax.set_xticks(range(len(conds)))
        ax.set_xticklabels([display_label(k) for k in conds], rotation=55, ha="right",
                           fontsize=7)
        ax.set_xlim(-0.6, len(conds) - 0.4)
        ax.set_ylim(*scale)
        ax.grid(axis="y", color="#e5e5e5", lw=0.6)
        ax.set_title(display_label(construct), fontsize=9)
        if i % ncols == 0:
            ax.set_ylabel("adjusted post score (0–100)", fontsize=8)
    for ax in axes[len(constructs):]:
        ax.axis("off")
    fig.suptitle("Self-report after the induction: ANCOVA-adjusted means (at the mean pre "
                 "score) ± 95% CI", fontsize=10)
    fig.tight_layout()
    return fig


def plot_forest(contrasts: pd.DataFrame, *, show: bool = False):
    """Every planned contrast with its 95% CI and Holm p, one panel per outcome.

    ``contrasts`` columns: ``outcome`` (display label with unit), ``contrast`` (display
    label), ``estimate``, ``ci_low``, ``ci_high``, ``p_holm``. Rows keep their order; a
    filled marker is Holm p < .05.

    Examples
    --------
    >>> t = pd.DataFrame({"outcome": ["HR (bpm/min)"] * 2, "contrast": ["A − B", "C − B"],
    ...                   "estimate": [-0.2, 0.1], "ci_low": [-0.4, -0.1],
    ...                   "ci_high": [0.0, 0.3], "p_holm": [0.04, 0.5]})
    >>> len(plot_forest(t).axes)
    1
    """
    # lazy: matplotlib is heavy; analyses without figures (power replicates) skip it
    from matplotlib.figure import Figure

    outcomes = list(dict.fromkeys(contrasts["outcome"]))
    n = max(len(outcomes), 1)
    ncols = min(n, 5)
    nrows = int(np.ceil(n / ncols))
    labels = list(dict.fromkeys(contrasts["contrast"]))
    height = 0.32 * len(labels) + 1.1
    fig = Figure(figsize=(2.75 * ncols + 2.6, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for i, outcome in enumerate(outcomes):
        ax = axes[i]
        t = contrasts[contrasts["outcome"] == outcome].set_index("contrast")
        ax.axvline(0.0, color="#444444", lw=0.8, ls="--")
        for k, lab in enumerate(labels):
            if lab not in t.index:
                continue
            r = t.loc[lab]
            y = len(labels) - 1 - k
            sig = bool(r["p_holm"] < 0.05)
            ax.plot([r["ci_low"], r["ci_high"]], [y, y], color="#0072B2", lw=1.6)
            ax.plot([r["estimate"]], [y], marker="o", ms=5, color="#0072B2",
                    mfc="#0072B2" if sig else "white")
            ax.annotate(p_cell(r["p_holm"]), xy=(1.0, y), xycoords=("axes fraction", "data"),
                        xytext=(3, 0), textcoords="offset points", va="center", fontsize=6.5,
                        fontweight="bold" if sig else "normal")
        ax.set_ylim(-0.7, len(labels) - 0.3)
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels(labels[::-1] if i % ncols == 0 else [], fontsize=7)
        ax.tick_params(axis="x", labelsize=7)
        ax.set_title(outcome, fontsize=8)
    for ax in axes[len(outcomes):]:
        ax.axis("off")
    fig.suptitle("Every planned contrast: estimate and 95% CI; Holm-adjusted p at the right "
                 "(filled = Holm p < .05)", fontsize=9)
    return fig


def plot_power_curves(power: pd.DataFrame, *, show: bool = False):
    """Power against n per group, one line per contrast (``n_per_group, contrast, power``)."""
    # lazy: matplotlib is heavy; analyses without figures (power replicates) skip it
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 5.5))
    ax = fig.add_subplot(1, 1, 1)
    styles = ["-", "--", ":", "-."]
    for k, (contrast, g) in enumerate(power.groupby("contrast", sort=False)):
        cond = next((c for c in CONDITIONS if c in str(contrast)), None)
        g = g.sort_values("n_per_group")
        ax.plot(g["n_per_group"], g["power"], marker="o", lw=1.5,
                color=PALETTE.get(cond or "", "#333333"), ls=styles[k % len(styles)],
                label=contrast)
    ax.axhline(0.8, color="#444444", lw=0.8, ls="--")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("participants per condition")
    ax.set_ylabel("power (Holm-adjusted p < α)")
    ax.legend(fontsize=7, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle("Power by simulation", fontsize=11)
    fig.tight_layout()
    return fig


def save_figure(fig, stem: Path) -> dict[str, Path]:
    """Save ``fig`` as ``stem.png`` (150 dpi) and ``stem.svg``; return both paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = {"png": stem.with_suffix(".png"), "svg": stem.with_suffix(".svg")}
    fig.savefig(out["png"], dpi=150)
    fig.savefig(out["svg"])
    return out
