"""The session runner's named steps, each on its own (no window, no audio device)."""

from __future__ import annotations

import argparse
import io
import threading
from pathlib import Path

import numpy as np
import pytest

from conditions import bids
from conditions.allocation import AllocationDB, ConcealedCondition
from conditions.protocol import PHASE_KINDS, load_protocol
from experiment import cli as run_cli
from experiment import session as session_mod
from experiment.dialog import StartInfo
from experiment.errors import SessionCancelled, SessionError
from experiment.session import (
    Session,
    SessionOptions,
    close_session_files,
    load_session_to_close,
    mark_allocation_incomplete,
    mark_closed_incomplete,
)
from experiment.signals import cli as signals_cli
from experiment.signals.monitor import Frame
from experiment.signals.page import CheckState, start_judging
from physio.review.local_server import free_port

INFO = StartInfo(participant="P01", session="1", age=30, sex="female", initials="ab")


def _session(tmp_path: Path, **kw) -> Session:
    options = SessionOptions(data_root=tmp_path / "data", out=io.StringIO(), simulate=True,
                             record=False, **kw)
    session = Session(options)
    session.protocol = load_protocol()
    return session


def _allocated(tmp_path: Path, **kw) -> tuple[Session, object]:
    session = _session(tmp_path, **kw)
    session.setup_allocation_db()
    info = session.setup_data(session.setup_start_info())
    allocation = session.setup_allocation(info)
    session.setup_state(info, allocation)
    return session, allocation


def test_step_runners_cover_every_phase_kind(tmp_path):
    runners = _session(tmp_path).step_runners()
    assert set(runners) == set(PHASE_KINDS)
    assert all(callable(r) for r in runners.values())


def test_check_free_space_warns_then_refuses(tmp_path, monkeypatch):
    session = _session(tmp_path, min_free_mb=500.0)
    monkeypatch.setattr(session_mod, "free_space_mb", lambda root: 100.0)
    session.check_free_space()
    assert "only 100 MB free" in session.warnings[-1]
    monkeypatch.setattr(session_mod, "free_space_mb", lambda root: 10.0)
    with pytest.raises(SessionError, match="refusing to start"):
        session.check_free_space()


def test_setup_start_info_takes_the_given_entries_or_refuses(tmp_path, monkeypatch):
    session = _session(tmp_path, start_info=INFO)
    session.setup_allocation_db()
    assert session.setup_start_info() == INFO
    monkeypatch.setattr(session_mod, "ask_start_info", lambda refusal: None)
    with pytest.raises(SessionCancelled):
        _session(tmp_path).setup_start_info()


def test_allocation_steps_keep_the_condition_concealed(tmp_path):
    session, allocation = _allocated(tmp_path, start_info=INFO)
    assert bids.allocation_db_path(tmp_path / "data").is_file()  # --simulate creates it
    assert isinstance(session._condition, ConcealedCondition)
    assert session._condition.reveal() in session.protocol.condition_names
    assert session.state.session_code == allocation.session_code
    run_index, checked = session.setup_run_record(INFO, {"a.wav": {"sha256": "ff",
                                                                   "pilot_placeholder": False}},
                                                  None)
    assert run_index == 1 and checked == [{"sha256": "ff", "pilot_placeholder": False}]
    assert session.state.runs[-1]["audio_sha256"] == ["ff"]
    session.setup_participant_row(INFO, allocation)
    row = bids.read_participants(tmp_path / "data").iloc[0]
    assert (row["participant_id"], row["session_code"]) == ("sub-P01", allocation.session_code)
    console = session.opt.out.getvalue()
    assert allocation.session_code in console
    assert not any(name in console for name in session.protocol.condition_names)


def test_a_resumed_session_keeps_the_saved_age_and_sex(tmp_path):
    session, _ = _allocated(tmp_path, start_info=INFO)
    session.data.save_state()
    resumed = _session(tmp_path, start_info=INFO, resume=True)
    info = resumed.setup_data(StartInfo("P01", "1", 41, "male", "ab"))
    assert (info.age, info.sex) == (30, "female") and "saved age/sex" in resumed.warnings[-1]


def test_close_session_steps(tmp_path):
    root = tmp_path / "data"
    with pytest.raises(SessionError, match="nothing to close"):
        load_session_to_close(root, "P01", "1")
    session, _ = _allocated(tmp_path, start_info=INFO)
    session.setup_run_record(INFO, {}, None)
    session.data.save_state()
    data, state = load_session_to_close(root, "P01", "1")
    said: list[str] = []
    assert close_session_files(data, state, said.append) == []
    assert said == ["no physiology was recorded in this session"]
    mark_closed_incomplete(root, data, state)
    assert data.load_state().status == "incomplete"
    assert state.runs[0]["outcome"] == "killed" and len(state.runs) == 2
    assert bids.read_participants(root).iloc[0]["status"] == "incomplete"
    assert mark_allocation_incomplete(root, "P01") == []
    assert AllocationDB(bids.allocation_db_path(root)).session_status("P01") == "incomplete"
    problems = mark_allocation_incomplete(root, "P01", tmp_path / "absent.sqlite")
    assert problems and "not found" in problems[0]


def _run_args(**kw) -> argparse.Namespace:
    return run_cli._run_parser().parse_args([f"--{k.replace('_', '-')}={v}" if v is not True
                                             else f"--{k.replace('_', '-')}"
                                             for k, v in kw.items()])


def test_run_cli_steps():
    with pytest.raises(SessionError, match="--speed only makes sense"):
        run_cli.check_run_args(_run_args(speed=2))
    with pytest.raises(SessionError, match="--close needs --participant"):
        run_cli.check_run_args(_run_args(close=True))
    run_cli.check_run_args(_run_args(participant="P01"))
    args = _run_args(simulate=True)
    info = run_cli.start_info_from_args(args)
    assert (info.participant, info.initials) == ("sim1", "SIM")
    assert run_cli.start_info_from_args(_run_args()) is None  # the dialog asks
    options = run_cli.session_options(args, info, None)
    assert options.simulate and not options.fullscreen and options.stream_wait_s == 3.0
    assert run_cli.start_simulated_device(_run_args()) == (None, None)
    run_cli.stop_simulated_device(None)


def test_configured_source_ids_read_the_lab_config(tmp_path, monkeypatch):
    from experiment.lab_config import StreamSpec, write_lab_config

    monkeypatch.setenv("SOOTHE_LAB_CONFIG", str(tmp_path / "absent.json"))
    assert signals_cli.configured_source_ids() is None
    cfg = write_lab_config(tmp_path / "lab.json", [StreamSpec("amp", "ECG", "amp-1"),
                                                   StreamSpec("mk", "Markers", "mk-1")],
                           written_by="t", written="now")
    monkeypatch.setenv("SOOTHE_LAB_CONFIG", str(cfg))
    assert signals_cli.configured_source_ids() == ["amp-1"]


def test_page_steps_judge_in_the_background_on_a_free_port():
    port = free_port()
    assert 0 < port < 65536

    class Monitor:
        def frame(self):
            return Frame(0.0, {"ECG": (np.arange(5000) / 500, np.zeros(5000), 500.0)}, [])

    state, stop = CheckState(), threading.Event()
    thread = start_judging(Monitor(), state, stop)
    for _ in range(200):
        if state.n_judged:
            break
        thread.join(0.05)
    stop.set()
    thread.join(5)
    assert state.n_judged >= 1 and state.verdicts["ECG"].status == "no signal"


def test_core_minus_lsl_is_a_finite_clock_offset(tmp_path, monkeypatch):
    from experiment.lsl_config import write_lsl_config

    monkeypatch.setenv("LSLAPICFG", str(write_lsl_config(tmp_path / "lsl.cfg")))
    from experiment.clocks import core_minus_lsl

    offset = core_minus_lsl()
    assert np.isfinite(offset)
    assert abs(core_minus_lsl() - offset) < 0.01  # the same two clocks, read again
