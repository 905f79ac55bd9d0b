"""CONSORT-style participant-flow diagram (matplotlib, no pyplot state)."""

from __future__ import annotations

import pandas as pd

from analysis.constants import PALETTE, display_label
from analysis.exclusions import INCOMPLETE_STAGE, KEPT_INCOMPLETE_STAGE


def plot_participant_flow(flow: pd.DataFrame, *, show: bool = False):
    """Draw the flow: allocated -> completed -> excluded (per reason) -> analysed.

    Parameters
    ----------
    flow : DataFrame
        Output of :func:`analysis.exclusions.participant_flow` (stages x conditions).
    show : bool
        Ignored unless an interactive backend is in use (kept for API symmetry).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> f = pd.DataFrame({"neutral": [3, 3, 3, 3], "total": [3, 3, 3, 3]},
    ...                  index=["allocated", "completed", "analysed (self-report)",
    ...                         "analysed (ECG)"])
    >>> fig = plot_participant_flow(f)
    >>> len(fig.axes)
    1
    """
    # lazy: matplotlib is heavy; analyses without figures (power replicates) skip it
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch

    conditions = [c for c in flow.columns if c != "total"]
    n_cols = max(len(conditions), 1)
    fig = Figure(figsize=(2.3 * n_cols + 1.0, 7.2))
    ax = fig.add_subplot(1, 1, 1)
    ax.set_xlim(0, n_cols)
    ax.set_ylim(0, 10)
    ax.axis("off")

    def box(x: float, y: float, w: float, h: float, text: str, edge: str = "#333333",
            size: float = 8.0) -> None:
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h,
                                    boxstyle="round,pad=0.02,rounding_size=0.08",
                                    fc="white", ec=edge, lw=1.4))
        ax.text(x, y, text, ha="center", va="center", fontsize=size, wrap=True)

    def arrow(x0: float, y0: float, x1: float, y1: float) -> None:
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops={"arrowstyle": "->", "color": "#555555", "lw": 1.0})

    total = flow["total"] if "total" in flow.columns else flow.sum(axis=1)
    top = f"Allocated (randomised)\nN = {int(total.get('allocated', 0))}"
    if "completed" in flow.index:
        top += (f"; completed {int(total['completed'])}, incomplete "
                f"{int(total.get(INCOMPLETE_STAGE, 0))}")
    box(n_cols / 2, 9.3, min(3.2, n_cols * 0.9), 0.9, top, size=9)
    excl_rows = [i for i in flow.index if str(i).startswith("excluded")]
    analysed_rows = [i for i in flow.index if str(i).startswith("analysed")]
    for k, cond in enumerate(conditions):
        x = k + 0.5
        colour = PALETTE.get(cond, "#333333")
        arrow(n_cols / 2, 8.85, x, 8.15)
        col = flow[cond]
        label = display_label(cond)
        box(x, 7.7, 0.9, 0.8, f"{label}\nallocated n = {int(col.get('allocated', 0))}",
            edge=colour)
        arrow(x, 7.3, x, 6.75)
        completed = f"completed\nn = {int(col.get('completed', 0))}"
        completed += f"\nincomplete session: {int(col.get(INCOMPLETE_STAGE, 0))}"
        if KEPT_INCOMPLETE_STAGE in flow.index:
            completed += f"\n(+ {int(col[KEPT_INCOMPLETE_STAGE])} incomplete kept)"
        box(x, 6.35, 0.9, 0.8, completed, edge=colour, size=7)
        arrow(x, 5.95, x, 5.35)
        lines = [f"{str(r).replace('excluded', '').strip(': ')}: {int(col[r])}"
                 for r in excl_rows]
        text = "excluded\n" + ("\n".join(lines) if lines else "none")
        box(x, 4.4, 0.9, 1.8, text, edge="#999999", size=7)
        arrow(x, 3.5, x, 2.85)
        lines = [f"{str(r).replace('analysed', '').strip(' ()')}: {int(col[r])}"
                 for r in analysed_rows]
        box(x, 1.9, 0.9, 1.8, "analysed\n" + "\n".join(lines), edge=colour, size=7.5)
    fig.suptitle("Participant flow (CONSORT)", fontsize=11)
    fig.tight_layout()
    return fig
