"""``soothe analyze``: one self-contained HTML report, a Markdown twin, tables, figures and a
JSON sidecar that makes every number traceable; clear errors on bad input."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from analysis.synthetic import synthetic_study_tables, write_synthetic_dataset
from soothe.cli import main as soothe_main

CODE_A, CODE_B = "a" * 64, "b" * 64


def contract_windows(t):
    """Give the synthetic windows every column of the current data contract (NaN/False for
    the ones the table-level simulator does not fill)."""
    from conditions import bids

    for col in bids.WINDOWS_COLUMNS:
        if col not in t.windows.columns:
            t.windows[col] = False if col == "partial" else "n/a" if col == "resp_source" \
                else float("nan")
    return t


def _write_provenance_sidecars(raw, deriv):
    """Windows sidecars as soothe physio process writes them: 20 sessions processed with
    code A, 9 with code B, the last one without a sidecar."""
    from conditions import bids
    from physio.outputs import PROVENANCE_KEY

    sessions = list(bids.iter_sessions(raw))
    for i, files in enumerate(sessions[:-1]):
        block = {"settings": {"window_s": 60.0, "eda_method": "troughs"},
                 "settings_sha256": "5" * 64, "code_sha256": CODE_A if i < 20 else CODE_B,
                 "package_versions": {"neurokit2": "0.2.13", "numpy": "2.4.6"},
                 "processed_at": f"2026-01-{i + 1:02d}T10:00:00+00:00"}
        bids.write_json(files.windows_json(deriv), {"Description": "x", PROVENANCE_KEY: block})
    return sessions


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    t = contract_windows(synthetic_study_tables(6, seed=8))
    t.participants.loc[2, "status"] = "incomplete"
    write_synthetic_dataset(t, root / "raw", root / "deriv")
    _write_provenance_sidecars(root / "raw", root / "deriv")
    out = root / "report"
    code = soothe_main(["analyze", str(root / "raw"), str(root / "deriv"), "--out", str(out)])
    return code, out, t


def test_analyze_writes_every_artefact(analysed):
    code, out, _ = analysed
    assert code == 0
    for rel in ("report.html", "report.md", "report.json", "paper_table.csv", "paper_table.md",
                "paper_table.tex", "tables/tidy_long.parquet", "tables/tidy_long.tsv",
                "tables/tidy_long.json", "tables/selfreport_ancova_contrasts.csv",
                "tables/physio_minute_contrasts.csv", "tables/physio_slope_contrasts.csv",
                "tables/exclusions.csv", "tables/participant_flow.csv",
                "tables/reliability_alpha.csv", "tables/temporal_precedence.csv"):
        assert (out / rel).is_file(), rel
    for fig in ("forest", "flow", "time_course", "selfreport"):
        for ext in ("png", "svg"):
            path = out / "figures" / f"{fig}.{ext}"
            assert path.is_file() and path.stat().st_size > 5000, path


def test_html_is_self_contained_and_says_results_in_words(analysed):
    _, out, _ = analysed
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 4
    # nothing is loaded from elsewhere
    assert not re.search(r'src="(?!data:)', html)
    assert "<link" not in html
    # in words; whether 6 per group make the change reliable depends on the simulated
    # between-person variability, but a reliable change must go the planned way (lower)
    said = (r"Heart rate, Kindness \(self\) against {}: "
            r"the slope(s did not reliably differ| was \S+ bpm/min lower)")
    assert re.search(said.format("Neutral"), html)
    assert "incomplete_session" in html
    assert "statsmodels" in html and "Software versions" in html
    md = (out / "report.md").read_text()
    assert "](figures/time_course.png)" in md
    assert re.search(said.format("Positive excitement"), md)
    # results first: the forest plot and the compact tables come before any method text
    assert md.index("figures/forest.png") < md.index("## Physiology")


def test_sidecar_traces_inputs_methods_versions_and_outputs(analysed):
    _, out, _ = analysed
    side = json.loads((out / "report.json").read_text())
    assert set(side["versions"]) >= {"python", "numpy", "pandas", "statsmodels"}
    assert any(k.startswith("participants") for k in side["input_sha256"])
    assert all(re.fullmatch(r"[0-9a-f]{64}", v) for v in side["input_sha256"].values())
    assert "ANCOVA" in side["methods"]["self_report"]
    assert set(side["models"]) == {"hr_bpm", "ln_rmssd", "scl_us"}
    assert "tables/selfreport_ancova_contrasts.csv" in side["outputs_sha256"]


def test_exclusion_and_numbers_in_tables_match_the_data(analysed):
    _, out, t = analysed
    ex = pd.read_csv(out / "tables" / "exclusions.csv")
    assert ex["participant_id"].tolist() == [t.participants.loc[2, "participant_id"]]
    tidy = pd.read_parquet(out / "tables" / "tidy_long.parquet")
    assert tidy["participant_id"].nunique() == len(t.participants)
    dropped = t.participants.loc[2, "participant_id"]
    assert tidy.loc[tidy["participant_id"] == dropped, "excluded"].all()
    assert set(tidy.loc[tidy["participant_id"] == dropped, "exclusion_rule"]) == {
        "incomplete_session"}
    assert not tidy.loc[tidy["participant_id"] != dropped, "excluded"].any()
    paper = pd.read_csv(out / "paper_table.csv")
    assert {"Measure", "Phase"} <= set(paper.columns)
    assert [c for c in paper.columns if c.startswith("Kindness (self)")] == [
        "Kindness (self) M (SD)", "Kindness (self) n"]
    tex = (out / "paper_table.tex").read_text()
    assert "\\toprule" in tex and "\\bottomrule" in tex and "|" not in tex  # APA: no vertical
    body = tex.split("\\midrule")[1]
    assert "_" not in body  # display labels, not raw codes
    # one n row (participants analysed per condition), not an n column per condition
    assert sum(line.startswith("n &") for line in body.splitlines()) == 1
    assert "Kindness (self) n" not in tex


def test_missing_derivatives_is_a_clear_error(tmp_path, capsys):
    t = contract_windows(synthetic_study_tables(1, seed=1))
    write_synthetic_dataset(t, tmp_path / "raw", tmp_path / "deriv")
    (tmp_path / "deriv" / "group" / "desc-windows_physio.parquet").unlink()
    (tmp_path / "deriv" / "group" / "desc-windows_physio.tsv").unlink()
    code = soothe_main(["analyze", str(tmp_path / "raw"), str(tmp_path / "deriv"), "--out",
                        str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 1
    assert "desc-windows_physio.tsv" in err and "soothe physio process" in err
    assert "Traceback" not in err


def _md_table(md: str, caption_start: str) -> pd.DataFrame:
    """The Markdown table that follows the bold caption starting with ``caption_start``."""
    lines = md.splitlines()
    start = next(i for i, x in enumerate(lines) if x.startswith(f"**{caption_start}"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return pd.DataFrame(rows[2:], columns=rows[0])


def test_summary_has_one_sentence_per_planned_contrast_significant_or_not(analysed):
    _, out, _ = analysed
    contrasts = pd.read_csv(out / "tables" / "selfreport_ancova_contrasts.csv")
    md = (out / "report.md").read_text()
    section = md.split("## Every planned contrast in words")[1].split("\n## ")[0]
    sentences = [x for x in section.splitlines() if x.startswith("- Adjusting for the pre")]
    assert len(sentences) == len(contrasts) == 42
    assert (contrasts["p_holm"] >= 0.05).any()  # non-significant ones are reported too
    assert sum("did not reliably change" in s for s in sentences) == int(
        (contrasts["p_holm"] >= 0.05).sum())
    assert sum("against Positive excitement" in s for s in sentences) == 14
    from analysis.constants import display_label

    for row in contrasts.itertuples():
        who = f"{display_label(row.condition)} "
        what = f"{display_label(row.construct).lower()} "
        mine = [s for s in sentences if s.startswith(f"- Adjusting for the pre score, {who}")
                and what in s and f"against {display_label(row.versus)}" in s]
        assert len(mine) == 1, row.contrast
        assert f"95% CI {row.ci_low:+.1f} to {row.ci_high:+.1f}" in mine[0]
        assert "Holm p" in mine[0] and "pooled post SD" in mine[0]


def test_ancova_table_uses_apa_p_whole_df_and_names_the_d(analysed):
    _, out, _ = analysed
    md = (out / "report.md").read_text()
    table = _md_table(md, "Planned contrasts")
    assert len(table) == 42
    assert table["df"].str.fullmatch(r"\d+").all()
    apa = r"< \.001|\.\d{2,3}|1\.00"
    assert table["p"].str.fullmatch(apa).all(), table["p"].tolist()
    assert table["p (Holm)"].str.fullmatch(apa).all()
    assert "d (pooled post SD) [95% CI]" in table.columns
    assert "pooled SD of the post scores" in md
    csv = pd.read_csv(out / "tables" / "selfreport_ancova_contrasts.csv")
    assert table["df"].iloc[0] == f"{csv['df'].iloc[0]:.0f}"
    # every p in the report's tables is APA-formatted (no "0.00" p values)
    slopes = _md_table(md, "Planned slope contrasts")
    assert slopes["p"].str.fullmatch(apa).all(), slopes["p"].tolist()


def test_fallbacks_are_summarised_readably(analysed):
    _, out, _ = analysed
    md = (out / "report.md").read_text()
    models = _md_table(md, "Fitted models")
    assert len(models) == 3
    assert not re.search("grad|mle_retvals|Check", md)
    # variances are never shown as a rounded 0.000
    assert not models[["intercept variance", "slope variance"]].isin(["0.000", "0"]).any().any()
    assert "was singular and a richer structure was singular" not in md
    assert "did not converge and a richer structure" not in md


def test_physiology_provenance_is_carried_into_report_json_and_text(analysed):
    _, out, t = analysed
    side = json.loads((out / "report.json").read_text())
    prov = side["physio_derivatives"]
    assert prov["n_sessions"] == len(t.participants) == 30
    assert prov["n_with_provenance"] == 29 and len(prov["missing"]) == 1
    assert prov["code_sha256"] == {CODE_A: 20, CODE_B: 9}
    assert prov["neurokit2"] == {"0.2.13": 29}
    assert prov["settings"][0]["n"] == 29
    assert prov["settings"][0]["settings"]["eda_method"] == "troughs"
    assert prov["processed_at"] == ["2026-01-01T10:00:00+00:00", "2026-01-29T10:00:00+00:00"]
    md = (out / "report.md").read_text()
    assert "29 of 30 recordings carry a provenance block: 1 settings set(s) and 2 pipeline " \
           "code version(s)" in md
    assert "NOT all processed with the same settings and code" in md
    table = _md_table(md, "Physiology processing")
    code_rows = table[table["what"] == "pipeline code (code_sha256)"]
    assert dict(zip(code_rows["sha256"], code_rows["recordings"])) == {
        CODE_A[:12]: "20", CODE_B[:12]: "9"}
    assert table["details"].str.contains("neurokit2 0.2.13").any()
