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
    CONSTRUCTS,
    MODEL_MEASURES,
    PALETTE,
    PHYSIO_MEASURES,
    measure_label,
)

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
                        label=cond.replace("_", " ") if phase == "induction" else None,
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


def plot_selfreport_prepost(tidy: pd.DataFrame, *, show: bool = False):
    """Pre and post construct means ± 95% CI per condition, one panel per construct.

    Examples
    --------
    >>> from analysis.synthetic import synthetic_study_tables
    >>> from analysis.tidy_table import build_tidy_table, score_responses
    >>> t = synthetic_study_tables(3, seed=0)
    >>> tidy = build_tidy_table(t.windows, score_responses(t.responses, t.items),
    ...                         t.participants)
    >>> fig = plot_selfreport_prepost(tidy)
    >>> len(fig.axes) >= 7
    True
    """
    from matplotlib.figure import Figure
    from scipy import stats

    sr = tidy[(tidy["source"] == "selfreport") & tidy["valid"]]
    constructs = [c for c in CONSTRUCTS if c in set(sr["measure"])]
    constructs += [c for c in dict.fromkeys(sr["measure"]) if c not in constructs]
    n = max(len(constructs), 1)
    ncols = 4
    nrows = int(np.ceil(n / ncols))
    fig = Figure(figsize=(3.4 * ncols, 3.0 * nrows))
    offsets = np.linspace(-0.12, 0.12, len(CONDITIONS))
    for i, construct in enumerate(constructs):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        c = sr[sr["measure"] == construct]
        for k, cond in enumerate(CONDITIONS):
            means, halves = [], []
            for phase in ("pre_questionnaire", "post_questionnaire"):
                v = c.loc[(c["condition"] == cond) & (c["phase"] == phase), "value"].dropna()
                m = float(v.mean()) if len(v) else np.nan
                h = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))) \
                    if len(v) > 1 else np.nan
                means.append(m)
                halves.append(h)
            ax.errorbar(np.array([0.0, 1.0]) + offsets[k], means, yerr=halves,
                        color=PALETTE[cond], marker="o", ms=4, lw=1.6, capsize=2,
                        label=cond.replace("_", " "))
        ax.set_xticks([0, 1])
        ax.set_xticklabels(["pre", "post"])
        ax.set_xlim(-0.4, 1.4)
        ax.set_title(construct.replace("_", " "), fontsize=10)
        ax.set_ylabel("score (mean ± 95% CI)", fontsize=8)
    if constructs:
        handles, labels = fig.axes[0].get_legend_handles_labels()
        legend_ax = fig.add_subplot(nrows, ncols, nrows * ncols) if n < nrows * ncols else None
        if legend_ax is not None:
            legend_ax.axis("off")
            legend_ax.legend(handles, labels, loc="center", frameon=False, fontsize=9)
    fig.suptitle("Self-report before and after the induction", fontsize=11)
    fig.tight_layout()
    return fig


def plot_power_curves(power: pd.DataFrame, *, show: bool = False):
    """Power against n per group, one line per contrast (``n_per_group, contrast, power``)."""
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
    ax.set_ylabel("power (α = .05)")
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
