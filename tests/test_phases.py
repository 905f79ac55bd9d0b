"""Markers to protocol phases: normal case, each missing/duplicated-marker rule, overrides,
and the windows cut from the phases."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conditions.protocol import load_protocol
from physio.errors import PhaseError
from physio.phases import (
    PhaseSpan,
    phase_windows,
    phases_from_markers,
    read_overrides,
)

PROTOCOL = load_protocol()
M = PROTOCOL.markers


def markers(*pairs: tuple[float, int]) -> pd.DataFrame:
    return pd.DataFrame({"onset_s": [float(t) for t, _ in pairs], "code": [c for _, c in pairs]})


def full_session() -> list[tuple[float, int]]:
    return [
        (2.0, M.event("session_start")),
        (3.0, M.phase_onset("instructions")), (60.0, M.phase_offset("instructions")),
        (61.0, M.phase_onset("baseline")), (361.0, M.phase_offset("baseline")),
        (362.0, M.phase_onset("pre_questionnaire")), (500.0, M.phase_offset("pre_questionnaire")),
        (501.0, M.phase_onset("induction")), (501.05, M.event("audio_onset")),
        (1161.05, M.event("audio_offset")), (1161.5, M.phase_offset("induction")),
        (1162.0, M.phase_onset("post_questionnaire")),
        (1300.0, M.phase_offset("post_questionnaire")),
        (1301.0, M.phase_onset("recovery")), (1601.0, M.phase_offset("recovery")),
        (1602.0, M.condition("body_scan")),
    ]  # fmt: skip


def spans(plan) -> dict[str, tuple[float, float]]:
    return {p.name: (p.start_s, p.end_s) for p in plan.phases}


def test_full_session_maps_every_phase_without_warnings():
    plan = phases_from_markers(markers(*full_session()), PROTOCOL, duration_s=1700)
    s = spans(plan)
    assert s["baseline"] == (61.0, 361.0)
    assert s["recovery"] == (1301.0, 1601.0)
    assert plan.condition == "body_scan"
    assert plan.warnings == []


def test_induction_windows_start_at_audio_onset():
    plan = phases_from_markers(markers(*full_session()), PROTOCOL, duration_s=1700)
    assert spans(plan)["induction"][0] == pytest.approx(501.05)
    w = phase_windows(plan.phases, 60.0)
    ind = w[w.phase == "induction"]
    assert len(ind) == 11 and not ind.partial.any()
    assert ind.start_s.iloc[0] == pytest.approx(501.05)


def test_metadata_condition_wins_over_marker_with_warning():
    plan = phases_from_markers(markers(*full_session()), PROTOCOL, duration_s=1700,
                               condition="neutral")
    assert plan.condition == "neutral"
    assert any("metadata kept" in w for w in plan.warnings)


def test_no_condition_anywhere_is_na():
    pairs = [p for p in full_session() if p[1] != M.condition("body_scan")]
    assert phases_from_markers(markers(*pairs), PROTOCOL, duration_s=1700).condition == "n/a"


def test_duplicated_onset_keeps_first_and_says_so():
    pairs = full_session() + [(70.0, M.phase_onset("baseline"))]
    plan = phases_from_markers(markers(*pairs), PROTOCOL, duration_s=1700)
    assert spans(plan)["baseline"] == (61.0, 361.0)
    assert any("'baseline' has 2 onset markers" in w and "first kept" in w
               for w in plan.warnings)
    assert any("not in time order" in w for w in plan.warnings)


def test_missing_offset_uses_next_onset_or_protocol_duration():
    pairs = [p for p in full_session() if p[1] != M.phase_offset("pre_questionnaire")]
    pairs = [p for p in pairs if p[1] != M.phase_offset("baseline")]
    plan = phases_from_markers(markers(*pairs), PROTOCOL, duration_s=1700)
    s = spans(plan)
    # untimed questionnaire: ends at the induction onset
    assert s["pre_questionnaire"] == (362.0, 501.0)
    # timed baseline (300 s): onset + duration comes before the next onset
    assert s["baseline"] == (61.0, 361.0)
    assert sum("no offset marker" in w for w in plan.warnings) == 2


def test_missing_onset_of_timed_phase_is_offset_minus_duration():
    pairs = [p for p in full_session() if p[1] != M.phase_onset("recovery")]
    plan = phases_from_markers(markers(*pairs), PROTOCOL, duration_s=1700)
    assert spans(plan)["recovery"] == (1301.0, 1601.0)
    assert any("no onset marker" in w for w in plan.warnings)


def test_offset_before_onset_is_an_error_naming_the_phase():
    pairs = [(100.0, M.phase_offset("baseline")), (200.0, M.phase_onset("baseline"))]
    with pytest.raises(PhaseError, match="baseline.*before its onset"):
        phases_from_markers(markers(*pairs), PROTOCOL, duration_s=600, where="rec.acq")


def test_recording_ending_early_cuts_the_phase_and_warns():
    plan = phases_from_markers(markers(*full_session()), PROTOCOL, duration_s=1400)
    assert spans(plan)["recovery"] == (1301.0, 1400.0)
    assert any("before phase 'recovery' ends" in w for w in plan.warnings)


def test_no_phase_markers_means_whole_recording_with_warning():
    plan = phases_from_markers(markers((10.0, 1), (20.0, 2)), PROTOCOL, duration_s=900)
    assert spans(plan) == {"recording": (0.0, 900.0)}
    assert any("no protocol phase markers" in w for w in plan.warnings)


def test_unknown_codes_are_ignored_with_a_warning():
    plan = phases_from_markers(markers(*full_session(), (50.0, 250)), PROTOCOL, duration_s=1700)
    assert any("[250]" in w for w in plan.warnings)


def test_overrides_replace_marker_times(tmp_path):
    tsv = tmp_path / "o.tsv"
    tsv.write_text("recording\tphase\tstart_s\tend_s\nsub-01_ses-1\tbaseline\t65\t365\n"
                   "sub-02_ses-1\tbaseline\t1\t2\n")
    hand = read_overrides(tsv, ("sub-01_ses-1",))
    assert hand == {"baseline": (65.0, 365.0)}
    plan = phases_from_markers(markers(*full_session()), PROTOCOL, duration_s=1700,
                               overrides=hand)
    assert spans(plan)["baseline"] == (65.0, 365.0)
    assert [p.source for p in plan.phases if p.name == "baseline"] == ["override"]
    js = tmp_path / "o.json"
    js.write_text(json.dumps({"phases": {"recovery": {"start_s": 1300, "end_s": 1590}}}))
    assert read_overrides(js) == {"recovery": (1300.0, 1590.0)}


def test_overrides_work_without_any_markers():
    plan = phases_from_markers(markers(), PROTOCOL, duration_s=1000,
                               overrides={"baseline": (0.0, 300.0)})
    assert spans(plan) == {"baseline": (0.0, 300.0)}


@pytest.mark.parametrize(
    "content, match",
    [
        ("phase\tstart_s\nbaseline\t1\n", "lacks column"),
        ("phase\tstart_s\tend_s\nnot_a_phase\t1\t2\n", "not in the protocol"),
        ("phase\tstart_s\tend_s\nbaseline\t5\t2\n", "start_s < end_s"),
    ],
)
def test_bad_override_files_give_clear_errors(tmp_path, content, match):
    path = tmp_path / "bad.tsv"
    path.write_text(content)
    with pytest.raises(PhaseError, match=match):
        hand = read_overrides(path)
        phases_from_markers(markers(), PROTOCOL, duration_s=100, overrides=hand)


def test_windows_partial_rules_and_lengths():
    phases = [PhaseSpan("baseline", 0.0, 300.0), PhaseSpan("recovery", 400.0, 530.0),
              PhaseSpan("end", 600.0, 610.0)]
    w = phase_windows(phases, 60.0)
    assert w[w.phase == "baseline"].window.tolist() == [1, 2, 3, 4, 5]
    rec = w[w.phase == "recovery"]
    assert rec.window.tolist() == [1, 2]  # the 10 s remainder (< 50 %) is dropped
    assert (w.phase == "end").sum() == 0
    w30 = phase_windows(phases, 30.0)
    assert (w30.phase == "baseline").sum() == 10
    kept = phase_windows([PhaseSpan("recovery", 0.0, 150.0)], 60.0)
    assert kept.partial.tolist() == [False, False, True]
    assert kept.end_s.iloc[-1] == 150.0
    assert np.allclose(np.diff(w.start_s[w.phase == "baseline"]), 60.0)
    with pytest.raises(PhaseError):
        phase_windows(phases, 0.0)
