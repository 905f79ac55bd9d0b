"""The self-contained HTML report (figures embedded as base64) and all report files."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import pandas as pd

from analysis.report_content import METHODS, Section, build_sections
from analysis.tidy_table import file_sha256
from conditions import bids

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1180px;
margin:24px auto;padding:0 16px;color:#222;line-height:1.45}
h1{border-bottom:2px solid #0072B2;padding-bottom:6px}h2{color:#0072B2;margin-top:2em}
table{border-collapse:collapse;font-size:12px;margin:8px 0 18px 0}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right}
th{background:#f3f6fa}td:first-child,th:first-child{text-align:left}
figure{margin:10px 0}figcaption{font-size:13px;color:#555}
img{max-width:100%;border:1px solid #eee}.caption{font-weight:600;font-size:13px}
li{margin-bottom:4px}.scroll{overflow-x:auto}
"""


def _img(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="figure" src="data:image/png;base64,{data}">'


def render_html(sections: list[Section], title: str) -> str:
    """Render sections to one self-contained HTML page."""
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
           f"<h1>{html.escape(title)}</h1>"]
    for sec in sections:
        out.append(f"<h2>{html.escape(sec.title)}</h2>")
        for p in sec.paragraphs:
            out.append(f"<p>{html.escape(p)}</p>")
        if sec.bullets:
            out.append("<ul>" + "".join(f"<li>{html.escape(b)}</li>" for b in sec.bullets)
                       + "</ul>")
        for caption, path in sec.figures:
            out.append(f"<figure>{_img(path)}<figcaption>{html.escape(caption)}</figcaption>"
                       "</figure>")
        for caption, table in sec.tables:
            out.append(f'<p class="caption">{html.escape(caption)}</p><div class="scroll">')
            out.append(table.to_html(index=False, na_rep="", border=0, escape=True))
            out.append("</div>")
    out.append("</body></html>")
    return "\n".join(out)


def write_reports(result, out_dir: Path) -> dict[str, Path]:
    """Write figures, CSV tables, paper table, report.html, report.md and report.json."""
    from analysis.figures import plot_selfreport_prepost, plot_time_courses, save_figure
    from analysis.flow import plot_participant_flow
    from analysis.paper_table import to_latex, to_markdown
    from analysis.report_markdown import render_markdown

    out_dir = Path(out_dir)
    fig_dir, tab_dir = out_dir / "figures", out_dir / "tables"
    fig_dir.mkdir(parents=True, exist_ok=True)
    tab_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    figures: dict[str, Path] = {}
    for key, fig in (
        ("flow", plot_participant_flow(result.flow)),
        ("time_course", plot_time_courses(result.time_courses) if result.time_courses
         else None),
        ("selfreport", plot_selfreport_prepost(result.analysed)),
    ):
        if fig is None:
            continue
        saved = save_figure(fig, fig_dir / key)
        figures[key] = saved["png"]
        paths[f"figure_{key}_png"] = saved["png"]
        paths[f"figure_{key}_svg"] = saved["svg"]
    tables: dict[str, pd.DataFrame | None] = {
        "participant_flow": result.flow.reset_index(),
        "exclusions": result.exclusions,
        "selfreport_ancova_contrasts": result.ancova,
        "physio_minute_contrasts": result.minute_contrasts,
        "physio_slope_contrasts": result.slope_contrasts,
        "selfreport_change_scores": result.change,
        "reliability_alpha": result.alphas,
        "temporal_precedence": result.precedence,
        "physio_models": pd.DataFrame([
            {"measure": m, "structure": g.structure, "fallback_reason": g.fallback_reason,
             "n_participants": g.n_participants, "n_observations": g.n_observations,
             "attempts": json.dumps(g.attempts)} for m, g in result.growth.items()]),
    }
    for name, table in tables.items():
        if table is None:
            continue
        paths[f"table_{name}"] = tab_dir / f"{name}.csv"
        table.to_csv(paths[f"table_{name}"], index=False)
    for m, g in result.growth.items():
        (tab_dir / f"model_summary_{m}.txt").write_text(g.summary_text + "\n", encoding="utf-8")
    if result.descriptives is not None:
        d = result.descriptives
        d.to_csv(out_dir / "paper_table.csv", index=False)
        (out_dir / "paper_table.md").write_text(to_markdown(d), encoding="utf-8")
        (out_dir / "paper_table.tex").write_text(
            to_latex(d, "Physiology and self-report by condition: mean (SD)."), encoding="utf-8")
        paths["paper_table_csv"] = out_dir / "paper_table.csv"
    title = "soothe analysis report: self-compassion induction paradigm"
    sections = build_sections(result, figures)
    paths["report_html"] = out_dir / "report.html"
    bids.atomic_write_text(paths["report_html"], render_html(sections, title))
    paths["report_md"] = out_dir / "report.md"
    bids.atomic_write_text(paths["report_md"], render_markdown(sections, title, out_dir))
    sidecar = {
        "Name": "soothe analyze report",
        "methods": METHODS,
        "parameters": {
            "exclusion_rules": result.rules.raw if result.rules else {},
            "minute_centre": 6, "alpha": 0.05, "multiplicity": "Holm within construct",
            "mixedlm": {"reml": True, "optimizers": ["bfgs", "powell"],
                        "fallback_chain": [
                            "random intercept + slope (correlated)",
                            "random intercept + slope (uncorrelated)", "random intercept",
                            "OLS (participant-clustered SE)"]},
        },
        "models": {m: {"structure": g.structure, "fallback_reason": g.fallback_reason,
                       "attempts": g.attempts, "n_participants": g.n_participants,
                       "n_observations": g.n_observations}
                   for m, g in result.growth.items()},
        **result.provenance,
        "timings_s": result.timings_s,
        "outputs_sha256": {str(p.relative_to(out_dir)): file_sha256(p)
                           for k, p in sorted(paths.items()) if k.startswith("table_")},
    }
    paths["report_json"] = out_dir / "report.json"
    bids.write_json(paths["report_json"], sidecar)
    return paths
