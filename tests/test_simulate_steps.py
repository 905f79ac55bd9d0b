"""The simulator's named steps, each on its own (the whole chain: tests/test_simulate.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conditions import bids
from conditions.protocol import load_protocol
from soothe.simulate import study
from soothe.simulate.coupling import COUPLING, HRV_STRUCTURE
from soothe.simulate.errors import SimulationError
from soothe.simulate.noise import NoiseOptions
from soothe.simulate.participant import draw_participant
from soothe.simulate.rr import generate_beats
from soothe.simulate.simulated_session import LSL_ZERO_S, events_table
from soothe.simulate.timeline import build_timeline, induction_events, protocol_items

PROTOCOL = load_protocol()
REPO = Path(__file__).resolve().parents[1]


def _person(index: int = 1, condition: str = "rumination"):
    timeline = build_timeline(PROTOCOL, condition, study.participant_rng(5, index, 1))
    model = draw_participant(condition, study.participant_rng(5, index, 2))
    beats = generate_beats(model, timeline, study.participant_rng(5, index, 3), NoiseOptions())
    return timeline, model, beats


def test_the_steps_rebuild_the_session_simulate_session_makes():
    timeline, model, beats = _person()
    items = protocol_items(PROTOCOL)
    biases = study.item_biases([it for lst in items.values() for it in lst], 5)
    beh = study.simulate_answers(timeline, items, "rumination", biases,
                                 study.participant_rng(5, 1, 4))
    truth = study.simulate_truth("001", model, timeline, beats, study.participant_rng(5, 1, 5))
    rng = study.participant_rng(5, 1, 6)
    noise = NoiseOptions()
    motion = study.draw_motion(noise, timeline.duration_s, rng)
    ecg, eda, resp = study.render_signals(model, timeline, beats, truth, motion, noise, 100.0,
                                          rng, study.participant_rng(5, 1, 7))
    s = study.simulate_session(PROTOCOL, "001", "rumination", seed=5, index=1, fs=100.0)
    pd.testing.assert_frame_equal(beh, s.beh)
    pd.testing.assert_frame_equal(truth.windows, s.truth)
    pd.testing.assert_frame_equal(truth.phases, s.truth_phases)
    pd.testing.assert_frame_equal(truth.scrs, s.scrs)
    for mine, theirs in ((motion, s.motion_s), (ecg, s.ecg_mv), (eda, s.eda_us),
                         (resp, s.resp_v)):
        np.testing.assert_array_equal(mine, theirs)
    assert len(ecg) == len(eda) == len(resp) == round(timeline.duration_s * 100.0)


def test_motion_artefacts_are_inside_the_recording_and_off_when_switched_off():
    rng = np.random.default_rng(0)
    motion = study.draw_motion(NoiseOptions(motion_per_hour=60.0), 1800.0, rng)
    assert len(motion) > 10 and np.all(np.diff(motion) >= 0)
    assert motion.min() >= 5.0 and motion.max() <= 1795.0
    off = NoiseOptions().without("motion_artefacts")
    assert study.draw_motion(off, 1800.0, rng).size == 0


def test_argument_checks_name_what_is_wrong():
    with pytest.raises(SimulationError, match="50-10000 Hz"):
        study.check_fs(20)
    with pytest.raises(SimulationError, match="time course 'sudden'"):
        study.check_model_options("sudden", None)
    with pytest.raises(SimulationError, match=r"\[0, 1\]"):
        study.check_model_options("linear", 1.5)
    with pytest.raises(SimulationError, match="at least 1"):
        study.check_study_arguments(0, ("bids",), 250.0, "linear")
    with pytest.raises(SimulationError, match="unknown format"):
        study.check_study_arguments(1, ("bids", "mat"), 250.0, "linear")
    assert study.SimulationError is SimulationError


def test_allocation_is_reproducible_and_registers_without_the_condition(tmp_path: Path):
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        bids.ensure_dataset(out, "sim", PROTOCOL.task)
        _db, participants = study.allocate_participants(out, PROTOCOL, 3, 6)
        for p in participants:
            study.register_participant(out, p)
        runs.append((participants, bids.read_participants(out)))
    (first, table), (second, _) = runs
    assert first == second
    assert [p.participant_id for p in first] == [f"{i:03d}" for i in range(1, 7)]
    assert {p.condition for p in first} <= set(PROTOCOL.conditions)
    assert table["condition"].isna().all()  # written as n/a
    assert list(table["session_code"]) == [p.session_code for p in first]


def test_run_sessions_finishes_in_participant_order(tmp_path: Path):
    out = tmp_path / "raw"
    bids.ensure_dataset(out, "sim", PROTOCOL.task)
    _db, participants = study.allocate_participants(out, PROTOCOL, 3, 2)
    items = protocol_items(PROTOCOL)
    settings = study.StudySettings(out, PROTOCOL, 3, 50.0, NoiseOptions.none(), items,
                                   study.item_biases([i for v in items.values() for i in v], 3),
                                   ("bids", "csv"))
    done = []
    study.run_sessions(settings, participants, lambda p, truth: done.append((p, truth)))
    assert [p for p, _ in done] == participants
    assert all(set(truth["participant_id"]) == {p.participant_id} for p, truth in done)
    assert len(list((out / "sourcedata" / "formats" / "csv").glob("*.csv"))) == 2


def test_table_level_rows():
    assert study.balanced_conditions(["a", "b", "c"], 2, seed=1) == \
        study.balanced_conditions(["a", "b", "c"], 2, seed=1)
    s = study.simulate_session(PROTOCOL, "004", "neutral", seed=2, index=4, signals=False,
                               sex="male", age=33)
    row = study.table_participant_row(s, seed=2)
    assert row["participant_id"] == "sub-004" and row["condition"] == "neutral"
    assert row["age"] == 33 and len(row["session_code"]) == 6
    beh = study.table_beh(s)
    assert list(beh.columns[:2]) == ["participant_id", "session"]
    assert (beh["participant_id"] == "sub-004").all() and len(beh) == len(s.beh)


def test_events_table_uses_the_lsl_zero_and_induction_events_count_minutes():
    timeline, _model, _beats = _person()
    ev = events_table(timeline, PROTOCOL)
    np.testing.assert_allclose(ev["lsl_time"] - ev["onset"], LSL_ZERO_S)
    events, on, off = induction_events(PROTOCOL.markers, "neutral", 600.0, 10.0)
    minutes = [c for _, c in events
               if c in {PROTOCOL.markers.induction_minute(m) for m in range(1, 11)}]
    assert len(minutes) == 10 and off - on == 600.0


def test_coupling_constants_are_the_models():
    from soothe.simulate import effects

    assert effects.COUPLING is COUPLING and effects.HRV_STRUCTURE is HRV_STRUCTURE


def test_the_simulator_does_not_load_the_session_runner_when_imported():
    code = ("import sys, soothe.simulate.study, soothe.simulate.formats\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'experiment'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
