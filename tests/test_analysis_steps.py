"""The named steps of the analysis and the report, each on its own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import report_content as rc
from analysis.pipeline import (
    add_phase_outcomes,
    add_secondary_outputs,
    analyse_tables,
    fit_growth_models,
)
from analysis.report_html import report_tables, write_tables
from analysis.synthetic import (
    synthetic_items,
    synthetic_participants,
    synthetic_response_rows,
    synthetic_study_tables,
    synthetic_window_rows,
)
from analysis.tidy_table import (
    build_tidy_table,
    physio_long_rows,
    score_responses,
    selfreport_long_rows,
)
from conditions.scoring import STATE_CONSTRUCTS


@pytest.fixture(scope="module")
def study():
    t = synthetic_study_tables(5, seed=3)
    res = analyse_tables(t.windows, t.responses, t.participants, t.items,
                         measures=("hr_bpm", "scl_us"))
    return t, res


def test_tidy_table_is_the_physio_rows_then_the_selfreport_rows(study):
    t, _ = study
    scores = score_responses(t.responses, t.items)
    physio, selfreport = physio_long_rows(t.windows), selfreport_long_rows(scores)
    tidy = build_tidy_table(t.windows, scores, t.participants)
    assert len(tidy) == len(physio) + len(selfreport)
    assert set(selfreport["measure"]) == set(STATE_CONSTRUCTS)
    assert (selfreport["window"] == 1).all()
    invalid = physio[~physio["valid"]]
    assert invalid["value"].isna().all() and (invalid["reason"] != "").all()


def test_synthetic_steps_draw_one_row_per_window_and_answer():
    rng = np.random.default_rng(0)
    p = synthetic_participants(["neutral"] * 2, rng)
    assert p["participant_id"].tolist() == ["sub-001", "sub-002"]
    from analysis.synthetic import _draw_person

    person = _draw_person("neutral", rng)
    rows = synthetic_window_rows("sub-001", person, {}, rng, invalid_rate=1.0)
    assert len(rows) == 21 and not any(r["ecg_valid"] or r["eda_valid"] for r in rows)
    items = synthetic_items(2)
    answers = synthetic_response_rows("sub-001", "neutral", items, {}, rng)
    assert len(answers) == 2 * len(items)


def test_growth_models_skip_a_measure_without_values_and_say_why(study):
    _, res = study
    analysed = res.analysed.copy()
    analysed.loc[analysed["measure"] == "scl_us", "valid"] = False
    analysed.loc[analysed["measure"] == "scl_us", "reason"] = "saturated"
    timings: dict[str, float] = {}
    growth, skipped = fit_growth_models(analysed, ("hr_bpm", "scl_us"), ("uncorrelated",),
                                        timings)
    assert list(growth) == ["hr_bpm"] and skipped == {"scl_us": "no valid values (saturated)"}
    assert "mixedlm_hr_bpm" in timings


def test_secondary_and_phase_steps_fill_the_result(study):
    t, res = study
    assert res.alphas is not None and res.descriptives is not None
    bare = analyse_tables(t.windows, t.responses, t.participants, t.items,
                          measures=("hr_bpm",), full=False)
    assert bare.alphas is None
    from analysis.selfreport_ancova import selfreport_ancova

    _, models = selfreport_ancova(bare.analysed)
    add_secondary_outputs(bare, t.responses, t.items, models, ("hr_bpm",))
    assert set(bare.time_courses) == {"hr_bpm"} and bare.change is not None
    phases = t.windows.groupby(["participant_id", "session", "phase"], as_index=False).agg(
        lnhf=("lnhf", "mean"), resp_rate_bpm=("resp_rate_bpm", "mean"))
    phases["hf_valid"], phases["hf_reason"] = True, ""
    add_phase_outcomes(bare, phases, t.participants)
    assert bare.phase_descriptives is not None


def test_every_section_step_has_its_title(study, tmp_path):
    _, res = study
    sections = rc.build_sections(res, {})
    titles = [s.title for s in sections]
    assert titles[0] == rc.results_at_a_glance(res, {}).title == "Results at a glance"
    assert rc.hf_section(res).title in titles
    assert rc.selfreport_section(res, {}).title in titles
    assert rc.flow_section(res, {}).title in titles
    assert rc.words_section(res).bullets
    assert [s.title for s in rc.physiology_sections(res, {})] == [
        "Physiology: minute-by-minute growth curves", "Physiology per minute (descriptive)"]
    assert rc.software_section(res).collapsed
    wide = rc.minute_contrasts_wide(res.minute_contrasts)
    assert list(wide.columns[:3]) == ["measure", "contrast", "min 1"]


def test_report_tables_are_written_as_csv(study, tmp_path):
    _, res = study
    planned = rc.planned_contrast_table(res)
    tables = report_tables(res, planned)
    paths = write_tables(res, planned, tmp_path)
    assert set(paths) == {f"table_{k}" for k, v in tables.items() if v is not None}
    back = pd.read_csv(paths["table_planned_contrasts"])
    assert len(back) == len(planned)
    assert (tmp_path / "model_summary_hr_bpm.txt").is_file()


def test_holm_is_bit_identical_to_statsmodels():
    from statsmodels.stats.multitest import multipletests

    from analysis.selfreport_ancova import holm_adjust

    rng = np.random.default_rng(5)
    for size in (1, 2, 6, 13):
        p = rng.uniform(0, 0.3, size)
        p[: size // 3] = p[0]  # ties
        assert np.array_equal(holm_adjust(p), multipletests(p, method="holm")[1])
