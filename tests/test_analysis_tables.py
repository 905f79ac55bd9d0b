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
    p1 = kept[kept["participant_id"] == pids[1]]
    assert "hr_bpm" not in set(p1["measure"]) and "scl_us" in set(p1["measure"])
    flow = participant_flow(t.participants, ex, CONDITION_NAMES)
    c0 = t.participants.loc[0, "condition"]
    assert flow.loc["allocated", "total"] == len(pids)
    assert flow.loc["completed", c0] == 3
    assert flow.loc["excluded: incomplete_session", c0] == 1
    assert flow.loc["analysed (self-report)", "total"] == len(pids) - 2
    assert flow.loc["analysed (ECG)", "total"] == len(pids) - 3
    assert flow.loc["analysed (EDA)", "total"] == len(pids) - 2


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
