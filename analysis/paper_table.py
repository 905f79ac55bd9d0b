"""The manuscript table: mean (SD) per condition for each measure and phase.

Physiology: each participant's mean over the baseline, induction and recovery windows,
then mean (SD) across participants. Self-report: construct scores pre and post.
"""

from __future__ import annotations

import pandas as pd

from analysis.constants import CONDITIONS, CONSTRUCTS, MODEL_MEASURES, measure_label

PHASE_LABELS = {
    "baseline": "baseline", "induction": "induction", "recovery": "recovery",
    "pre_questionnaire": "pre", "post_questionnaire": "post",
}


def descriptive_table(tidy: pd.DataFrame, measures: tuple[str, ...] = MODEL_MEASURES,
                      decimals: int = 2) -> pd.DataFrame:
    """Rows = measure x phase, columns = conditions, cells 'mean (SD)' (n in the header).

    Examples
    --------
    >>> from analysis.synthetic import synthetic_study_tables
    >>> from analysis.tidy_table import build_tidy_table, score_responses
    >>> t = synthetic_study_tables(3, seed=0)
    >>> tidy = build_tidy_table(t.windows, score_responses(t.responses, t.items),
    ...                         t.participants)
    >>> tab = descriptive_table(tidy)
    >>> tab.columns[:2].tolist()
    ['Measure', 'Phase']
    """
    v = tidy[tidy["valid"]]
    per_person = v.groupby(["participant_id", "condition", "source", "measure", "phase"],
                           sort=False)["value"].mean().reset_index()
    physio = per_person[(per_person["source"] == "physio") & per_person["measure"].isin(measures)]
    sr = per_person[per_person["source"] == "selfreport"]
    conds = [c for c in CONDITIONS if c in set(per_person["condition"])]
    n = tidy.drop_duplicates("participant_id")["condition"].value_counts()
    rows = []
    present = set(physio["measure"])
    order = [(m, p) for m in measures if m in present
             for p in ("baseline", "induction", "recovery")]
    constructs = [c for c in CONSTRUCTS if c in set(sr["measure"])]
    constructs += [c for c in dict.fromkeys(sr["measure"]) if c not in constructs]
    order += [(m, p) for m in constructs for p in ("pre_questionnaire", "post_questionnaire")]
    both = pd.concat([physio, sr])
    grouped = both.groupby(["measure", "phase", "condition"])["value"]
    stats_ = grouped.agg(["mean", "std"])
    for measure, phase in order:
        row = {"Measure": measure_label(measure), "Phase": PHASE_LABELS[phase]}
        for cond in conds:
            key = (measure, phase, cond)
            if key in stats_.index:
                mean, sd = stats_.loc[key]
                d = decimals if measure in measures else 1
                row[f"{cond} (n={int(n.get(cond, 0))})"] = f"{mean:.{d}f} ({sd:.{d}f})"
            else:
                row[f"{cond} (n={int(n.get(cond, 0))})"] = "–"
        rows.append(row)
    return pd.DataFrame(rows)


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (no extra dependency)."""
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def to_latex(table: pd.DataFrame, caption: str, label: str = "tab:descriptives") -> str:
    """A booktabs LaTeX table (escapes underscores)."""

    def esc(s: object) -> str:
        return str(s).replace("_", r"\_").replace("%", r"\%").replace("–", "--")

    cols = list(table.columns)
    lines = [
        r"\begin{table}[ht]", r"\centering", r"\small",
        rf"\caption{{{esc(caption)}}}", rf"\label{{{label}}}",
        r"\begin{tabular}{ll" + "r" * (len(cols) - 2) + "}", r"\toprule",
        " & ".join(esc(c) for c in cols) + r" \\", r"\midrule",
    ]
    previous = None
    for row in table.itertuples(index=False):
        cells = [esc(v) for v in row]
        if cells[0] == previous:
            cells[0] = ""
        else:
            previous = cells[0]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"
