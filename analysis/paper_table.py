"""The manuscript table: mean (SD) and n per condition for each measure and phase.

Physiology: each participant's mean over the valid baseline, induction and recovery
windows, then mean (SD) across participants. Self-report: construct scores pre and post.
Every cell has its own n (participants with a value in that cell), so a participant
excluded from one signal (e.g. ECG) is not counted on that signal's rows. Rows and columns
carry display labels (:func:`analysis.constants.display_label`), not raw codes.
"""

from __future__ import annotations

import pandas as pd

from analysis.constants import CONDITIONS, MODEL_MEASURES, display_label
from conditions.scoring import STATE_CONSTRUCTS

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
    constructs = [c for c in STATE_CONSTRUCTS if c in set(sr["measure"])]
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


def apa_table(descriptives: pd.DataFrame) -> pd.DataFrame:
    """The manuscript (APA) layout of :func:`descriptive_table`: one n row, M (SD) cells.

    The n row gives the participants analysed per condition (the largest cell n); a cell
    based on fewer people (e.g. a participant excluded from one signal) carries its own
    ``[n = k]``.

    Examples
    --------
    >>> d = pd.DataFrame({"Measure": ["HR", "HR"], "Phase": ["baseline", "induction"],
    ...                   "Neutral M (SD)": ["70.0 (5.0)", "71.0 (5.0)"],
    ...                   "Neutral n": [4, 3]})
    >>> apa_table(d).values.tolist()
    [['n', '', '4'], ['HR', 'baseline', '70.0 (5.0)'], ['', 'induction', '71.0 (5.0) [n = 3]']]
    """
    groups = _condition_groups([str(c) for c in descriptives.columns]) or []
    out = pd.DataFrame({"Measure": descriptives["Measure"].astype(str),
                        "Phase": descriptives["Phase"].astype(str)})
    n_row: dict[str, str] = {"Measure": "n", "Phase": ""}
    for g in groups:
        n = descriptives[f"{g} n"].astype(int)
        n_max = int(n.max()) if len(n) else 0
        n_row[g] = str(n_max)
        cells = descriptives[f"{g} {MEAN_SD}"].astype(str)
        out[g] = [c if k == n_max or c == "–" else f"{c} [n = {k}]" for c, k in zip(cells, n)]
    out.loc[out["Measure"].duplicated(), "Measure"] = ""
    return pd.concat([pd.DataFrame([n_row]), out], ignore_index=True)


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


def to_latex(table: pd.DataFrame, caption: str, label: str = "tab:descriptives",
             note: str = "") -> str:
    r"""An APA-style booktabs LaTeX table (horizontal rules only) via ``Styler.to_latex``.

    Examples
    --------
    >>> t = pd.DataFrame({"Measure": ["n", "Self-compassion"], "Phase": ["", "pre"],
    ...                   "Kindness (self)": ["3", "50.1 (9.9)"]})
    >>> tex = to_latex(t, "Means & SDs")
    >>> r"\toprule" in tex, "|" in tex, r"Means \& SDs" in tex
    (True, False, True)
    """
    body = table.astype(str)
    styler = body.style.hide(axis="index").format(escape="latex")
    styler = styler.format_index(escape="latex", axis="columns")
    # Styler escapes cells, not the caption; the caption gets the same treatment here
    caption_tex = "".join({"&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#", "$": r"\$"}.get(
        ch, ch) for ch in caption)
    tex = styler.to_latex(caption=caption_tex,
                          label=label, position="ht", position_float="centering",
                          hrules=True, column_format="ll" + "r" * (body.shape[1] - 2))
    if note:
        tex = tex.replace("\\end{tabular}\n", "\\end{tabular}\n\\par\\smallskip\n"
                          "{\\footnotesize \\textit{Note.} " + note.replace("%", r"\%")
                          + "}\n")
    return tex
