"""Tidy table, exclusions and participant flow of the analysis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.errors import AnalysisError
from analysis.exclusions import (
    apply_exclusions,
    find_exclusions,
    load_exclusion_rules,
    participant_flow,
)
from analysis.synthetic import synthetic_study_tables
from analysis.tidy_table import TIDY_COLUMNS, build_tidy_table, score_responses, write_tidy_table
from conditions.protocol import CONDITION_NAMES


@pytest.fixture(scope="module")
def study():
    return synthetic_study_tables(4, seed=11, invalid_rate=0.0)


def _tidy(t):
    return build_tidy_table(t.windows, score_responses(t.responses, t.items), t.participants)


def test_tidy_table_has_one_row_per_participant_phase_window_measure(study):
    tidy = _tidy(study)
    assert list(tidy.columns) == list(TIDY_COLUMNS)
    keys = ["participant_id", "session", "phase", "window", "measure"]
    assert not tidy.duplicated(keys).any()
    n = len(study.participants)
    hr = tidy[tidy["measure"] == "hr_bpm"]
    assert len(hr) == n * (5 + 11 + 5)
    sc = tidy[tidy["measure"] == "self_compassion"]
    assert sorted(sc["phase"].unique()) == ["post_questionnaire", "pre_questionnaire"]
    assert len(sc) == 2 * n
    # ln RMSSD is the log of rmssd_ms, row for row
    w = study.windows.set_index(["participant_id", "phase", "window"])["rmssd_ms"]
    ln = tidy[tidy["measure"] == "ln_rmssd"].set_index(["participant_id", "phase", "window"])
    np.testing.assert_allclose(ln["value"], np.log(w.loc[ln.index]))
    # condition and demographics come from participants.tsv
    cond = study.participants.set_index("participant_id")["condition"]
    assert (tidy["condition"] == tidy["participant_id"].map(cond)).all()


def test_invalid_windows_keep_their_row_with_nan_and_reason(study):
    windows = study.windows.copy()
    i = windows.index[(windows["phase"] == "induction") & (windows["window"] == 3)][0]
    windows.loc[i, ["ecg_valid", "ecg_reason"]] = [False, "flat ECG"]
    windows.loc[i, ["hf_valid", "hf_reason"]] = [False, "ECG invalid"]
    tidy = build_tidy_table(windows, score_responses(study.responses, study.items),
                            study.participants)
    pid = windows.loc[i, "participant_id"]
    row = tidy[(tidy["participant_id"] == pid) & (tidy["measure"] == "hr_bpm")
               & (tidy["phase"] == "induction") & (tidy["window"] == 3)].iloc[0]
    assert np.isnan(row["value"]) and not row["valid"] and row["reason"] == "flat ECG"
    scl = tidy[(tidy["participant_id"] == pid) & (tidy["measure"] == "scl_us")
               & (tidy["phase"] == "induction") & (tidy["window"] == 3)].iloc[0]
    assert scl["valid"] and np.isfinite(scl["value"])


def test_selfreport_scores_reverse_key_items(study):
    scores = score_responses(study.responses, study.items)
    r = study.responses
    pid = study.participants["participant_id"].iloc[0]
    mine = r[(r["participant_id"] == pid) & (r["phase"] == "pre_questionnaire")
             & (r["construct"] == "threat")]
    keyed = np.where(mine["reversed"], 100 - mine["rating"], mine["rating"])
    got = scores[(scores["participant_id"] == pid) & (scores["phase"] == "pre_questionnaire")
                 & (scores["construct"] == "threat")]["score"].iloc[0]
    assert got == pytest.approx(keyed.mean())


def test_write_tidy_table_round_trips_with_dictionary(study, tmp_path):
    tidy = _tidy(study)
    paths = write_tidy_table(tidy, tmp_path, {"Name": "test"})
    back = pd.read_parquet(paths["parquet"])
    pd.testing.assert_frame_equal(back, tidy)
    tsv = pd.read_csv(paths["tsv"], sep="\t", na_values="n/a", keep_default_na=False)
    assert len(tsv) == len(tidy)
    import json

    dictionary = json.loads(paths["json"].read_text())
    assert set(TIDY_COLUMNS) <= set(dictionary)
    assert "hr_bpm" in dictionary["measure"]["Levels"]
    assert "self_compassion" in dictionary["measure"]["Levels"]


def test_exclusions_each_rule_with_reason(study, tmp_path):
    t = synthetic_study_tables(4, seed=12, invalid_rate=0.0)
    pids = t.participants["participant_id"].tolist()
    t.participants.loc[0, "status"] = "incomplete"
    # participant 1: half of the ECG windows invalid -> excluded from ECG measures only
    w = t.windows
    mask = (w["participant_id"] == pids[1]) & (w["phase"].isin(["baseline", "induction"]))
    idx = w.index[mask][::2]
    w.loc[idx, "ecg_valid"] = False
    w.loc[idx, "ecg_reason"] = "noise"
    # participant 2: no post questionnaire
    t.responses = t.responses[~((t.responses["participant_id"] == pids[2])
                                & (t.responses["phase"] == "post_questionnaire"))]
    tidy = _tidy(t)
    rules = load_exclusion_rules()
    ex = find_exclusions(tidy, t.participants, rules)
    got = {(r.participant_id, r.rule, r.scope) for r in ex.itertuples()}
    assert got == {(pids[0], "incomplete_session", "all"), (pids[1], "invalid_windows", "ecg"),
                   (pids[2], "missing_data", "all")}
    assert ex["reason"].str.len().min() > 5
    assert "50%" in ex.set_index("participant_id").loc[pids[1], "reason"]
    kept = apply_exclusions(tidy, ex)
    assert pids[0] not in set(kept["participant_id"])
    # the written table keeps every row and marks the excluded ones, consistently
    from analysis.tidy_table import mark_exclusions

    marked = mark_exclusions(tidy, ex)
    assert len(marked) == len(tidy)
    pd.testing.assert_frame_equal(
        marked[~marked["excluded"]][list(TIDY_COLUMNS)].reset_index(drop=True), kept)
    p1_rules = marked[marked["participant_id"] == pids[1]].groupby("measure")[
        "exclusion_rule"].first()
    assert p1_rules["hr_bpm"] == "invalid_windows" and p1_rules["scl_us"] == ""
    paths = write_tidy_table(marked, tmp_path, {"Name": "test"})
    back = pd.read_parquet(paths["parquet"])
    assert back["excluded"].sum() == marked["excluded"].sum() > 0
    assert "excluded" in paths["json"].read_text()
    p1 = kept[kept["participant_id"] == pids[1]]
    assert "hr_bpm" not in set(p1["measure"]) and "scl_us" in set(p1["measure"])
    flow = participant_flow(t.participants, ex, CONDITION_NAMES)
    c0 = t.participants.loc[0, "condition"]
    assert flow.loc["allocated", "total"] == len(pids)
    assert flow.loc["completed", c0] == 3
    assert flow.loc["incomplete session (not completed)", c0] == 1
    # an incomplete session leaves at completion; it is not excluded a second time
    assert "excluded: incomplete_session" not in flow.index
    assert flow.loc["excluded: missing_data", "total"] == 1
    assert flow.loc["analysed (self-report)", "total"] == len(pids) - 2
    assert flow.loc["analysed (ECG)", "total"] == len(pids) - 3
    assert flow.loc["analysed (EDA)", "total"] == len(pids) - 2
    _assert_flow_adds_up(flow)


def _assert_flow_adds_up(flow):
    excluded = [r for r in flow.index if str(r).startswith("excluded: ")]
    for col in flow.columns:
        c = flow[col]
        assert c["allocated"] == c["completed"] + c["incomplete session (not completed)"], col
        kept = c.get("incomplete, kept (incomplete_session rule off)", 0)
        assert c["completed"] + kept == c["analysed (self-report)"] + c[excluded].sum(), col
        for sig in ("ECG", "EDA"):
            lost = c.get(f"excluded from {sig}: invalid_windows", 0)
            assert c["analysed (self-report)"] == c[f"analysed ({sig})"] + lost, (col, sig)


def test_flow_adds_up_per_condition_and_the_diagram_shows_those_numbers(tmp_path):
    t = synthetic_study_tables(3, seed=14, invalid_rate=0.0)
    p = t.participants
    pids = p["participant_id"].tolist()
    cond = p.set_index("participant_id")["condition"]
    # one incomplete session, one missing post questionnaire (both in the first condition)
    first = [x for x in pids if cond[x] == CONDITION_NAMES[0]]
    p.loc[p["participant_id"] == first[0], "status"] = "incomplete"
    t.responses = t.responses[~((t.responses["participant_id"] == first[1])
                                & (t.responses["phase"] == "post_questionnaire"))]
    # one participant of the last condition loses most ECG windows -> ECG only
    last = [x for x in pids if cond[x] == CONDITION_NAMES[-1]][0]
    w = t.windows
    bad = w.index[(w["participant_id"] == last) & (w["phase"] != "recovery")]
    w.loc[bad, ["ecg_valid", "ecg_reason"]] = [False, "noise"]
    tidy = _tidy(t)
    ex = find_exclusions(tidy, p, load_exclusion_rules())
    flow = participant_flow(p, ex, CONDITION_NAMES)
    _assert_flow_adds_up(flow)
    c0, c4 = CONDITION_NAMES[0], CONDITION_NAMES[-1]
    assert flow.loc["allocated", c0] == 3 and flow.loc["completed", c0] == 2
    assert flow.loc["analysed (self-report)", c0] == 1
    assert flow.loc["analysed (ECG)", c4] == 2 and flow.loc["analysed (EDA)", c4] == 3

    # the diagram's boxes carry the same numbers
    from analysis.constants import display_label
    from analysis.flow import plot_participant_flow

    fig = plot_participant_flow(flow)
    texts = [x.get_text() for x in fig.axes[0].texts if x.get_text()]  # not the arrows
    first_col = [x for x in texts if x.startswith(display_label(c0))][0]
    assert "allocated n = 3" in first_col
    col_texts = texts[texts.index(first_col):texts.index(first_col) + 4]
    assert "completed\nn = 2\nincomplete session: 1" in col_texts
    excluded_box = [x for x in col_texts if x.startswith("excluded")][0]
    assert "missing_data: 1" in excluded_box and "incomplete_session" not in excluded_box
    analysed_box = [x for x in col_texts if x.startswith("analysed")][0]
    assert "self-report: 1" in analysed_box
    last_col = [x for x in texts if x.startswith(display_label(c4))][0]
    i = texts.index(last_col)
    assert "ECG: 2" in texts[i + 3] and "EDA: 3" in texts[i + 3]
    assert "N = 15; completed 14, incomplete 1" in texts[0]

    # incomplete_session rule off: the incomplete session is kept and still adds up
    cfg = tmp_path / "ex.toml"
    cfg.write_text("[incomplete_session]\nenabled = false\n")
    ex_off = find_exclusions(tidy, p, load_exclusion_rules(cfg))
    flow_off = participant_flow(p, ex_off, CONDITION_NAMES)
    assert flow_off.loc["incomplete, kept (incomplete_session rule off)", c0] == 1
    _assert_flow_adds_up(flow_off)


def test_manipulation_check_is_off_by_default_and_works_when_on(tmp_path):
    t = synthetic_study_tables(6, seed=13, invalid_rate=0.0)
    tidy = _tidy(t)
    assert find_exclusions(tidy, t.participants, load_exclusion_rules()).empty
    cfg = tmp_path / "ex.toml"
    cfg.write_text("[manipulation_check]\nenabled = true\nconstruct = 'self_compassion'\n"
                   "conditions = ['kindness_self']\nmin_change = 100.0\n")
    ex = find_exclusions(tidy, t.participants, load_exclusion_rules(cfg))
    assert set(ex["rule"]) == {"manipulation_check"}
    assert set(ex["condition"]) == {"kindness_self"}
    assert len(ex) == 6


@pytest.mark.parametrize("text, needle", [
    ("[invalid_windows]\nmax_invalid_fraction = 2.0\n", "max_invalid_fraction"),
    ("[invalid_windows]\nscope = 'everything'\n", "scope"),
    ("[manipulation_check]\nenabled = 'yes'\n", "enabled"),
    ("[bogus]\nx = 1\n", "unknown section"),
    ("not toml [", "not valid TOML"),
])
def test_bad_exclusion_config_names_file_and_key(tmp_path, text, needle):
    cfg = tmp_path / "ex.toml"
    cfg.write_text(text)
    with pytest.raises(AnalysisError, match=needle) as err:
        load_exclusion_rules(cfg)
    assert str(cfg) in str(err.value)


def test_paper_table_values_and_n_per_signal_match_the_tidy_table():
    from analysis.constants import display_label
    from analysis.paper_table import descriptive_table, to_latex

    t = synthetic_study_tables(4, seed=15, invalid_rate=0.0)
    pids = t.participants["participant_id"].tolist()
    cond = t.participants.set_index("participant_id")["condition"]
    ks = [x for x in pids if cond[x] == "kindness_self"]
    w = t.windows
    bad = w.index[(w["participant_id"] == ks[0]) & (w["phase"] != "recovery")]
    w.loc[bad, ["ecg_valid", "ecg_reason"]] = [False, "noise"]  # ECG-only exclusion
    tidy = _tidy(t)
    ex = find_exclusions(tidy, t.participants, load_exclusion_rules())
    assert ex[["participant_id", "scope"]].values.tolist() == [[ks[0], "ecg"]]
    analysed = apply_exclusions(tidy, ex)
    tab = descriptive_table(analysed).set_index(["Measure", "Phase"])
    # labels, not raw codes
    assert "Kindness (self) M (SD)" in tab.columns and "kindness_self" not in "".join(
        tab.columns)
    assert ("Self-compassion", "pre") in tab.index and ("Heart rate (bpm)", "baseline") in tab.index

    def expected(measure, phase, condition, decimals):
        v = tidy[(tidy["measure"] == measure) & (tidy["phase"] == phase)
                 & (tidy["condition"] == condition) & tidy["valid"]
                 & ~((tidy["participant_id"] == ks[0]) & (tidy["measure"].isin(
                     ["hr_bpm", "ln_rmssd", "lnhf"])))]
        per_person = v.groupby("participant_id")["value"].mean()
        return (f"{per_person.mean():.{decimals}f} ({per_person.std(ddof=1):.{decimals}f})",
                len(per_person))

    for measure, phase, decimals in (("hr_bpm", "induction", 2), ("scl_us", "recovery", 2),
                                     ("self_compassion", "post_questionnaire", 1)):
        row = tab.loc[(display_label(measure), {"induction": "induction",
                                                "recovery": "recovery",
                                                "post_questionnaire": "post"}[phase])]
        for c in CONDITION_NAMES:
            cell, n = expected(measure, phase, c, decimals)
            assert row[f"{display_label(c)} M (SD)"] == cell, (measure, c)
            assert row[f"{display_label(c)} n"] == n, (measure, c)
    # the ECG-excluded participant counts on EDA and self-report rows, not on ECG rows
    assert tab.loc[("Heart rate (bpm)", "baseline"), "Kindness (self) n"] == 3
    assert tab.loc[("Skin conductance level (µS)", "baseline"), "Kindness (self) n"] == 4
    assert tab.loc[("Self-compassion", "pre"), "Kindness (self) n"] == 4
    from analysis.paper_table import apa_table

    apa = apa_table(tab.reset_index())
    # one n row; the ECG cells of the excluded participant's condition carry their own n
    assert apa.iloc[0].tolist()[:3] == ["n", "", "4"]
    hr = apa[apa["Phase"] == "baseline"].iloc[0]
    assert hr["Kindness (self)"].endswith("[n = 3]")
    tex = to_latex(apa, "Mean (SD) & n: 100% of x_1")
    assert "Kindness (self)" in tex and "|" not in tex
    assert r"Mean (SD) \& n: 100\% of x\_1" in tex
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert "ms^2" not in tex and "kindness_self" not in tex


def test_partial_windows_from_a_nullable_boolean_column() -> None:
    # the group Parquet stores 'partial' as pandas' nullable boolean; a missing flag is not
    # a partial window, and must not raise
    from analysis.tidy_table import drop_partial_windows

    w = pd.DataFrame({"phase": ["induction"] * 3, "window": [1, 2, 3],
                      "partial": pd.array([False, pd.NA, True], dtype="boolean")})
    kept, n = drop_partial_windows(w)
    assert kept["window"].tolist() == [1, 2] and n == 1
