"""The manuscript table: mean (SD) and n per condition for each measure and phase.

Physiology: each participant's mean over the valid baseline, induction and recovery
windows, then mean (SD) across participants. Self-report: construct scores pre and post.
Every cell has its own n (participants with a value in that cell), so a participant
excluded from one signal (e.g. ECG) is not counted on that signal's rows. Rows and columns
carry display labels (:func:`analysis.constants.display_label`), not raw codes.
"""

from __future__ import annotations

import pandas as pd

from analysis.constants import CONDITIONS, CONSTRUCTS, MODEL_MEASURES, display_label

PHASE_LABELS = {
    "baseline": "baseline", "induction": "induction", "recovery": "recovery",
    "pre_questionnaire": "pre", "post_questionnaire": "post",
}


MEAN_SD = "M (SD)"


def descriptive_table(tidy: pd.DataFrame, measures: tuple[str, ...] = MODEL_MEASURES,
                      decimals: int = 2) -> pd.DataFrame:
    """Rows = measure x phase; per condition a ``'<label> M (SD)'`` and a ``'<label> n'`` column.

    Parameters
    ----------
    tidy : DataFrame
        The tidy table after exclusions (signal-level exclusions already removed).
    measures : tuple of str
        Physiological measures to include (self-report constructs are always included).
    decimals : int
        Decimals of the physiological rows (constructs: 1).

    Examples
    --------
    >>> from analysis.synthetic import synthetic_study_tables
    >>> from analysis.tidy_table import build_tidy_table, score_responses
    >>> t = synthetic_study_tables(3, seed=0)
    >>> tidy = build_tidy_table(t.windows, score_responses(t.responses, t.items),
    ...                         t.participants)
    >>> tab = descriptive_table(tidy)
    >>> tab.columns[:4].tolist()
    ['Measure', 'Phase', 'Kindness (self) M (SD)', 'Kindness (self) n']
    >>> tab.iloc[0, :2].tolist()
    ['Heart rate (bpm)', 'baseline']
    """
    v = tidy[tidy["valid"]]
    per_person = v.groupby(["participant_id", "condition", "source", "measure", "phase"],
                           sort=False)["value"].mean().reset_index()
    physio = per_person[(per_person["source"] == "physio") & per_person["measure"].isin(measures)]
    sr = per_person[per_person["source"] == "selfreport"]
    conds = [c for c in CONDITIONS if c in set(tidy["condition"].dropna())]
    present = set(physio["measure"])
    order = [(m, p) for m in measures if m in present
             for p in ("baseline", "induction", "recovery")]
    constructs = [c for c in CONSTRUCTS if c in set(sr["measure"])]
    constructs += [c for c in dict.fromkeys(sr["measure"]) if c not in constructs]
    order += [(m, p) for m in constructs for p in ("pre_questionnaire", "post_questionnaire")]
    both = pd.concat([physio, sr])
    stats_ = both.groupby(["measure", "phase", "condition"])["value"].agg(
        ["mean", "std", "count"])
    rows = []
    for measure, phase in order:
        row: dict[str, object] = {"Measure": display_label(measure),
                                  "Phase": PHASE_LABELS[phase]}
        d = decimals if measure in measures else 1
        for cond in conds:
            label = display_label(cond)
            key = (measure, phase, cond)
            if key in stats_.index:
                mean, sd, n = stats_.loc[key]
                sd_text = "–" if pd.isna(sd) else f"{sd:.{d}f}"
                row[f"{label} {MEAN_SD}"] = f"{mean:.{d}f} ({sd_text})"
                row[f"{label} n"] = int(n)
            else:
                row[f"{label} {MEAN_SD}"] = "–"
                row[f"{label} n"] = 0
        rows.append(row)
    return pd.DataFrame(rows)


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (no extra dependency)."""
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


#: LaTeX special characters and their escaped forms (backslash first).
_LATEX_ESCAPES = (
    ("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("$", r"\$"), ("#", r"\#"),
    ("_", r"\_"), ("{", r"\{"), ("}", r"\}"), ("~", r"\textasciitilde{}"),
    ("^", r"\textasciicircum{}"), ("–", "--"), ("µ", r"$\mu$"),
)


def latex_escape(text: object) -> str:
    r"""Escape LaTeX's special characters in a table cell.

    Examples
    --------
    >>> print(latex_escape("ln HF power (ln(ms^2)) & 5% of x_1 {a}"))
    ln HF power (ln(ms\textasciicircum{}2)) \& 5\% of x\_1 \{a\}
    """
    out = []
    for ch in str(text):
        for raw, escaped in _LATEX_ESCAPES:
            if ch == raw:
                out.append(escaped)
                break
        else:
            out.append(ch)
    return "".join(out)


def _condition_groups(cols: list[str]) -> list[str] | None:
    """Condition labels when the columns are ``<label> M (SD)``, ``<label> n`` pairs."""
    rest = cols[2:]
    if not rest or len(rest) % 2:
        return None
    labels = []
    for a, b in zip(rest[::2], rest[1::2]):
        if not (a.endswith(f" {MEAN_SD}") and b.endswith(" n")
                and a[: -len(MEAN_SD) - 1] == b[:-2]):
            return None
        labels.append(b[:-2])
    return labels


def to_latex(table: pd.DataFrame, caption: str, label: str = "tab:descriptives") -> str:
    r"""A booktabs LaTeX table (every cell escaped; two-level header per condition).

    Examples
    --------
    >>> t = pd.DataFrame({"Measure": ["Self-compassion"], "Phase": ["pre"],
    ...                   "Kindness (self) M (SD)": ["50.1 (9.9)"], "Kindness (self) n": [3]})
    >>> tex = to_latex(t, "Means & SDs")
    >>> r"\multicolumn{2}{c}{Kindness (self)}" in tex, r"Means \& SDs" in tex
    (True, True)
    """
    cols = [str(c) for c in table.columns]
    groups = _condition_groups(cols)
    lines = [
        r"\begin{table}[ht]", r"\centering", r"\small",
        rf"\caption{{{latex_escape(caption)}}}", rf"\label{{{label}}}",
        r"\begin{tabular}{ll" + "r" * (len(cols) - 2) + "}", r"\toprule",
    ]
    if groups:
        lines.append(" & ".join(["", ""] + [rf"\multicolumn{{2}}{{c}}{{{latex_escape(g)}}}"
                                           for g in groups]) + r" \\")
        lines.append(" ".join(rf"\cmidrule(lr){{{3 + 2 * k}-{4 + 2 * k}}}"
                              for k in range(len(groups))))
        lines.append(" & ".join([latex_escape(cols[0]), latex_escape(cols[1])]
                                + [r"\textit{M} (\textit{SD})", r"\textit{n}"] * len(groups))
                     + r" \\")
    else:
        lines.append(" & ".join(latex_escape(c) for c in cols) + r" \\")
    lines.append(r"\midrule")
    previous = None
    for row in table.itertuples(index=False):
        cells = [latex_escape(v) for v in row]
        if cells[0] == previous:
            cells[0] = ""
        else:
            previous = cells[0]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"
