"""The self-contained HTML report (figures embedded as base64) and all report files."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import jinja2
import pandas as pd

from analysis.constants import CONDITIONS
from analysis.figures import (
    plot_forest,
    plot_selfreport_adjusted,
    plot_time_courses,
    save_figure,
)
from analysis.flow import plot_participant_flow
from analysis.paper_table import apa_table, to_latex, to_markdown
from analysis.physio_methods import checklist_table
from analysis.physio_mixed import planned_pairs
from analysis.report_content import METHODS, Section, build_sections, planned_contrast_table
from analysis.report_markdown import render_markdown
from conditions import bids
from conditions.checksum import sha256_file

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1240px;
margin:24px auto;padding:0 16px;color:#222;line-height:1.45}
h1{border-bottom:2px solid #0072B2;padding-bottom:6px;font-size:26px}
h2{color:#0072B2;margin-top:1.6em}nav{font-size:13px;margin-bottom:10px}
nav a{color:#0072B2;text-decoration:none}
table{border-collapse:collapse;font-size:12px;margin:8px 0 18px 0}
th,td{border:none;border-bottom:1px solid #ddd;padding:3px 8px;text-align:right}
thead th{border-top:2px solid #333;border-bottom:1px solid #333}
tbody tr:last-child td{border-bottom:2px solid #333}
td:first-child,th:first-child{text-align:left}
table.text td,table.text th{text-align:left;vertical-align:top}
figure{margin:10px 0}figcaption{font-size:13px;color:#555}
img{max-width:100%}.caption{font-weight:600;font-size:13px}
li{margin-bottom:4px}.scroll{overflow-x:auto}
details{margin-top:1.6em}summary{color:#0072B2;font-size:1.4em;font-weight:bold;cursor:pointer}
"""


def _environment():
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=jinja2.select_autoescape(["html", "j2"]))


def is_text_table(table: pd.DataFrame, min_chars: int = 60) -> bool:
    """True for a table of sentences (left-aligned), not numbers.

    Examples
    --------
    >>> is_text_table(pd.DataFrame({"item": ["x"], "value": ["a " * 40]}))
    True
    >>> is_text_table(pd.DataFrame({"n": [3]}))
    False
    """
    cells = table.astype(str).to_numpy().ravel()
    return bool(len(cells)) and max(len(c) for c in cells) >= min_chars


def render_html(sections: list[Section], title: str) -> str:
    """Render sections to one self-contained HTML page (``templates/report.html.j2``).

    Examples
    --------
    >>> s = Section("Results <1>", paragraphs=["a & b"], anchor="r")
    >>> page = render_html([s], "Report")
    >>> "Results &lt;1&gt;" in page, "a &amp; b" in page
    (True, True)
    """
    view = [{"title": s.title, "anchor": s.anchor or f"s{k}", "collapsed": s.collapsed,
             "paragraphs": s.paragraphs, "bullets": s.bullets,
             "figures": [{"caption": c, "data": base64.b64encode(Path(p).read_bytes()).decode(
                 "ascii")} for c, p in s.figures],
             "tables": [{"caption": c, "html": t.to_html(
                 index=False, na_rep="", border=0, escape=True,
                 classes="text" if is_text_table(t) else None)} for c, t in s.tables]}
            for k, s in enumerate(sections)]
    return _environment().get_template("report.html.j2").render(
        title=title, css=CSS, sections=view)


def report_figures(result, planned: pd.DataFrame, fig_dir: Path
                   ) -> tuple[dict[str, Path], dict[str, Path]]:
    """Draw and save the report's figures; return (PNG per figure, every written path)."""
    paths: dict[str, Path] = {}
    figures: dict[str, Path] = {}
    forest = planned.assign(outcome=[f"{o} ({u})" for o, u in
                                     zip(planned["outcome"], planned["unit"])])
    for key, fig in (
        ("forest", plot_forest(forest) if len(forest) else None),
        ("flow", plot_participant_flow(result.flow)),
        ("time_course", plot_time_courses(result.time_courses) if result.time_courses
         else None),
        ("selfreport", plot_selfreport_adjusted(result.adjusted_means)
         if result.adjusted_means is not None and len(result.adjusted_means) else None),
    ):
        if fig is None:
            continue
        saved = save_figure(fig, fig_dir / key)
        figures[key] = saved["png"]
        paths[f"figure_{key}_png"] = saved["png"]
        paths[f"figure_{key}_svg"] = saved["svg"]
    return figures, paths


def report_tables(result, planned: pd.DataFrame) -> dict[str, pd.DataFrame | None]:
    """The CSV tables of the report folder by file stem (None: not computed)."""
    return {
        "participant_flow": result.flow.reset_index(),
        "exclusions": result.exclusions,
        "selfreport_ancova_contrasts": result.ancova,
        "physio_minute_contrasts": result.minute_contrasts,
        "physio_slope_contrasts": result.slope_contrasts,
        "planned_contrasts": planned,
        "selfreport_adjusted_means": result.adjusted_means,
        "phase_hf_descriptives": result.phase_descriptives,
        "phase_hf_ancova": result.phase_ancova,
        "selfreport_change_scores": result.change,
        "reliability_alpha": result.alphas,
        "temporal_precedence": result.precedence,
        "physio_methods_checklist": checklist_table(result.physio_methods)
        if getattr(result, "physio_methods", None) is not None else None,
        "planned_power": planned_power_table(result),
        "physio_models": pd.DataFrame([
            {"measure": m, "structure": g.structure, "fallback_reason": g.fallback_reason,
             "n_participants": g.n_participants, "n_observations": g.n_observations,
             "attempts": json.dumps(g.attempts)} for m, g in result.growth.items()]),
    }


def planned_power_table(result) -> pd.DataFrame | None:
    """The power of each planned contrast shown in the report (None when not computed)."""
    cp = getattr(result, "contrast_power", None)
    if cp is None or cp.get("table") is None or not len(cp["table"]):
        return None
    return cp["table"].assign(n_per_group=cp["n_per_group"], n_planned=cp["n_planned"])


def write_tables(result, planned: pd.DataFrame, tab_dir: Path) -> dict[str, Path]:
    """Write every report table as CSV and each model's summary text; return the CSV paths."""
    paths: dict[str, Path] = {}
    for name, table in report_tables(result, planned).items():
        if table is None:
            continue
        paths[f"table_{name}"] = tab_dir / f"{name}.csv"
        table.to_csv(paths[f"table_{name}"], index=False)
    for m, g in result.growth.items():
        # statsmodels' summary rounds variances to 3 decimals (0.000 for small units); the
        # full-precision values follow it
        full = "\n".join(f"  {k}: {v:.6g}" for k, v in g.variances.items())
        (tab_dir / f"model_summary_{m}.txt").write_text(
            f"{g.summary_text}\nVariance components (full precision):\n{full}\n",
            encoding="utf-8")
    return paths


def write_paper_table(descriptives: pd.DataFrame, out_dir: Path) -> Path:
    """Write the manuscript table as CSV, Markdown and LaTeX; return the CSV path."""
    descriptives.to_csv(out_dir / "paper_table.csv", index=False)
    apa = apa_table(descriptives)
    (out_dir / "paper_table.md").write_text(to_markdown(apa), encoding="utf-8")
    (out_dir / "paper_table.tex").write_text(
        to_latex(apa, "Physiology and self-report by condition: mean (SD).",
                 note="The n row gives the participants analysed per condition; a cell "
                 "based on fewer participants gives its own n. HR in bpm, ln RMSSD in "
                 "ln(ms), SCL in µS; self-report on the 0–100 scale."),
        encoding="utf-8")
    return out_dir / "paper_table.csv"


def report_sidecar(result, out_dir: Path, paths: dict[str, Path]) -> dict:
    """The content of ``report.json``: methods, parameters, contrasts, models, provenance
    and the SHA-256 of every written table."""
    return {
        "Name": "soothe analyze report",
        "methods": METHODS,
        "parameters": {
            "exclusion_rules": result.rules.raw if result.rules else {},
            "minute_centre": 6, "alpha": 0.05,
            "multiplicity": {
                "physiology": "Holm within each measure over its planned slope contrasts "
                              "(statsmodels multipletests, method='holm')",
                "self_report": "Holm within each construct over its planned ANCOVA contrasts",
                "per_minute": "none: per-minute differences are descriptive (95% CI only)"},
            "planned_contrasts": [f"{c} - {v}" for c, v in planned_pairs(CONDITIONS)],
            "mixedlm": {"reml": True, "optimizers": ["bfgs", "powell"],
                        "prespecified": "random intercept + slope (uncorrelated)",
                        "fallback_chain": ["random intercept + slope (uncorrelated)",
                                           "random intercept",
                                           "OLS (participant-clustered SE)"]},
            "partial_windows_excluded": result.n_partial_windows,
        },
        "physio_contrasts": result.slope_contrasts.to_dict(orient="records"),
        "selfreport_contrasts": result.ancova.to_dict(orient="records"),
        "models": {m: {"structure": g.structure, "fallback_reason": g.fallback_reason,
                       "attempts": g.attempts, "n_participants": g.n_participants,
                       "n_observations": g.n_observations, "variances": g.variances,
                       "time_course_sensitivity": result.sensitivity.get(m)}
                   for m, g in result.growth.items()},
        "physio_methods": getattr(result, "physio_methods", None),
        "contrast_power": {k: v for k, v in (getattr(result, "contrast_power", None) or {}
                                             ).items() if k != "table"},
        "phase_hf": {"hf_invalid_reasons": result.hf_reasons,
                     "present": result.phase_descriptives is not None},
        **result.provenance,
        "timings_s": result.timings_s,
        "outputs_sha256": {str(p.relative_to(out_dir)): sha256_file(p)
                           for k, p in sorted(paths.items()) if k.startswith("table_")},
    }


def write_reports(result, out_dir: Path) -> dict[str, Path]:
    """Write figures, CSV tables, paper table, report.html, report.md and report.json."""
    out_dir = Path(out_dir)
    fig_dir, tab_dir = out_dir / "figures", out_dir / "tables"
    fig_dir.mkdir(parents=True, exist_ok=True)
    tab_dir.mkdir(parents=True, exist_ok=True)
    planned = planned_contrast_table(result)
    figures, paths = report_figures(result, planned, fig_dir)
    paths.update(write_tables(result, planned, tab_dir))
    if result.descriptives is not None:
        paths["paper_table_csv"] = write_paper_table(result.descriptives, out_dir)
    title = "soothe analysis report: self-compassion induction paradigm"
    sections = build_sections(result, figures)
    paths["report_html"] = out_dir / "report.html"
    bids.atomic_write_text(paths["report_html"], render_html(sections, title))
    paths["report_md"] = out_dir / "report.md"
    bids.atomic_write_text(paths["report_md"], render_markdown(sections, title, out_dir))
    paths["report_json"] = out_dir / "report.json"
    bids.write_json(paths["report_json"], report_sidecar(result, out_dir, paths))
    return paths
