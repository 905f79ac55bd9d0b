"""The named steps of the pipeline, the phase plan and the CLI, each on its own, and the
engine registry."""

from __future__ import annotations

import argparse
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from conditions.protocol import load_protocol
from physio.cli import _parser, participant_source, pipeline_settings, print_summary
from physio.engine import ENGINES, Engine, make_engine
from physio.engine_neurokit2 import NeuroKit2Engine
from physio.engine_soothe import SootheEngine
from physio.errors import ChannelError, PhaseError
from physio.hrv import KEYS
from physio.phases import (
    MarkerTimes,
    PhasePlan,
    PhaseSpan,
    decode_markers,
    induction_start,
    marker_phases,
    phase_end,
    plan_condition,
    warn_overlaps,
)
from physio.pipeline import (
    Breathing,
    EcgStage,
    EdaStage,
    PipelineSettings,
    RecordingNotes,
    RecordingSignals,
    beats_table,
    ecg_excerpt,
    ecg_stage,
    eda_stage,
    recording_channels,
    window_row,
    windows_table,
)
from physio.recording import Channel, Recording

FS = 250.0
PROTOCOL = load_protocol()


def beat_ecg(seconds: float = 120.0, start_s: float = 0.0, units: str = "mV") -> Channel:
    t = np.arange(0, seconds, 1 / FS)
    return Channel("ECG", np.exp(-(((t % 0.8) - 0.4) ** 2) / 2e-4), FS, units, "ecg",
                   start_s=start_s)


def notes() -> RecordingNotes:
    return RecordingNotes(Path("/data/sub-1_ses-1_physio.csv"))


# -- engines ---------------------------------------------------------------------------


def test_every_engine_has_every_stage_of_the_interface():
    stages = [n for n in vars(Engine) if not n.startswith("_") and callable(vars(Engine)[n])]
    assert stages == ["ecg_beats", "hrv_window", "eda_process", "rsp_belt", "ecg_breathing"]
    for name, cls in ENGINES.items():
        assert cls.name == name
        for stage in stages:
            assert callable(getattr(cls, stage)), (name, stage)


def test_the_cli_offers_every_engine():
    for name in ENGINES:
        args = _parser().parse_args(["process", "x", "--out", "o", "--engine", name])
        assert PipelineSettings(engine=args.engine).engine == name


def test_make_engine_takes_its_fields_from_the_settings():
    engine = make_engine(PipelineSettings(chunk_s=600.0, eda_method="highpass",
                                          scr_min_amplitude_us=0.1))
    assert engine == SootheEngine(chunk_s=600.0, eda_method="highpass",
                                  scr_min_amplitude_us=0.1)
    nk = make_engine(PipelineSettings(engine="neurokit2", scr_min_amplitude_us=0.2))
    assert nk == NeuroKit2Engine(scr_min_amplitude_us=0.2)
    with pytest.raises(ValueError, match="engine must be one of"):
        make_engine(SimpleNamespace(engine="nk"))


def test_soothe_engine_chunks_a_long_ecg_only():
    ecg = beat_ecg(600.0)
    same = SootheEngine(chunk_above_s=np.inf).ecg_beats(ecg, lambda x, copy=True: x)
    chunked = SootheEngine(chunk_s=200.0, chunk_above_s=0.0).ecg_beats(
        ecg, lambda x, copy=True: x)
    assert "chunked" not in same.info and chunked.info["chunked"]["n_chunks"] == 3
    np.testing.assert_allclose(chunked.peaks_s, same.peaks_s, atol=1e-9)


# -- pipeline steps --------------------------------------------------------------------


def test_recording_channels_uses_the_first_of_two_belts_and_the_users_units():
    rsp = np.sin(np.arange(0, 60, 1 / FS))
    rec = Recording({"ECG": beat_ecg(), "Chest": Channel("Chest", rsp, FS, "V", "rsp"),
                     "Abdomen": Channel("Abdomen", rsp, FS, "V", "rsp")},
                    Path("x.csv"), "csv")
    n = notes()
    ch = recording_channels(rec, PipelineSettings(ecg_units="V", rsp_units="mV"), n)
    assert (ch.ecg.units, ch.eda, ch.rsp.name, ch.rsp.units) == ("V", None, "Chest", "mV")
    assert "2 respiration channels" in n.warnings[0] and "--rsp-channel" in n.warnings[0]


def test_recording_channels_refuses_a_recording_without_ecg_and_eda():
    rec = Recording({"X": Channel("X", np.zeros(10), FS, "", "other")}, Path("x.csv"), "csv")
    with pytest.raises(ChannelError, match="neither an ECG nor an EDA channel"):
        recording_channels(rec, PipelineSettings(), notes())
    with pytest.raises(ChannelError, match="no channel named 'ECG2'"):
        recording_channels(rec, PipelineSettings(ecg_channel="ECG2"), notes())


def test_ecg_stage_keeps_going_without_a_usable_ecg_only_when_there_is_an_eda():
    slow = Channel("ECG", np.zeros(3000), 50.0, "mV", "ecg")
    n = notes()
    stage = ecg_stage(slow, SootheEngine(), n, eda_present=True)
    assert stage.beats is None and stage.reason.startswith("ECG unusable: ")
    assert "100 Hz" in stage.reason and "HR and HRV are NaN" in n.warnings[-1]
    with pytest.raises(ChannelError, match="100 Hz"):
        ecg_stage(slow, SootheEngine(), notes(), eda_present=False)
    assert ecg_stage(None, SootheEngine(), n, eda_present=True).reason == "no ECG channel"


def test_ecg_stage_warns_about_an_ecg_without_units_and_finds_its_beats():
    n = notes()
    stage = ecg_stage(beat_ecg(units=""), SootheEngine(), n, eda_present=False)
    assert stage.reason == "" and 145 <= len(stage.beats.peaks_s) <= 155
    assert "has no units" in n.warnings[0]


def test_eda_stage_names_both_reasons_when_neither_signal_is_usable():
    eda = Channel("EDA", 5 + np.zeros(30000), FS, "", "eda")
    with pytest.raises(ChannelError, match="neither channel is usable; ECG unusable: x; EDA: "):
        eda_stage(eda, SootheEngine(), notes(), EcgStage(None, None, "ECG unusable: x"),
                  scr_min_amplitude_us=0.05)
    n = notes()
    ecg = ecg_stage(beat_ecg(), SootheEngine(), n, eda_present=True)
    stage = eda_stage(eda, SootheEngine(), n, ecg, scr_min_amplitude_us=0.05)
    assert stage.result is None and stage.reason.endswith("(give its units, e.g. --eda-units uS)")


def test_eda_stage_notes_a_non_responder():
    eda = Channel("EDA", 5 + np.zeros(int(120 * FS)), FS, "uS", "eda")
    n = notes()
    stage = eda_stage(eda, SootheEngine(), n, EcgStage(None, None, "no ECG channel"),
                      scr_min_amplitude_us=0.05)
    assert stage.result is not None and len(stage.result.scr_amp_us) == 0
    assert "non-responder" in n.warnings[-1]


def _signals(ecg: Channel | None) -> RecordingSignals:
    engine = SootheEngine()
    stage = (ecg_stage(ecg, engine, notes(), eda_present=True) if ecg is not None
             else EcgStage(None, None, "no ECG channel"))
    return RecordingSignals(engine, stage, EdaStage(None, None, "no EDA channel"),
                            Breathing(None, None))


def test_window_row_measures_the_ecg_on_its_own_clock_and_says_why_values_are_missing():
    ids = {"participant_id": "sub-1", "session": "1", "condition": "n/a"}
    w = SimpleNamespace(phase="baseline", window=1, start_s=10.0, end_s=70.0, partial=False)
    late = window_row(w, ids, _signals(beat_ecg(200.0, start_s=5.0)))
    assert set(KEYS) <= set(late) and late["ecg_valid"] and round(late["hr_bpm"]) == 75
    part = SimpleNamespace(**{**vars(w), "partial": True, "end_s": 45.0})
    none = window_row(part, ids, _signals(None))
    assert np.isnan(none["hr_bpm"]) and none["ecg_valid"] is False
    assert none["ecg_reason"] == "no ECG channel; partial window 35 s"
    assert none["eda_reason"] == "no EDA channel; partial window 35 s"
    assert none["resp_source"] == "n/a"


def test_windows_table_has_the_contract_columns_and_ln_rmssd():
    from conditions.bids import WINDOWS_COLUMNS

    ids = {"participant_id": "sub-1", "session": "1", "condition": "n/a"}
    windows = pd.DataFrame({"phase": ["a", "a"], "window": [1, 2], "start_s": [0.0, 60.0],
                            "end_s": [60.0, 120.0], "partial": [False, False]})
    table = windows_table(windows, ids, _signals(beat_ecg(130.0)))
    assert list(table.columns) == list(WINDOWS_COLUMNS)
    np.testing.assert_allclose(table.lnrmssd, np.log(table.rmssd_ms.astype(float)))


def test_beats_table_and_excerpt_are_on_the_session_clock():
    stage = ecg_stage(beat_ecg(60.0, start_s=5.0), SootheEngine(), notes(), eda_present=False)
    table = beats_table(stage)
    assert table.r_peak_s.iloc[0] == pytest.approx(stage.beats.peaks_s[0] + 5.0)
    plan = PhasePlan([PhaseSpan("baseline", 5.0, 45.0)])
    ex = ecg_excerpt(plan, stage)
    assert ex["t"][0] == pytest.approx(25.0) and len(ex["peaks_s"]) in (12, 13)
    assert ecg_excerpt(plan, EcgStage(None, None, "no ECG channel")) is None
    assert len(beats_table(EcgStage(None, None, "x"))) == 0


# -- phase plan steps ------------------------------------------------------------------


def test_phase_end_prefers_the_offset_then_the_earliest_bound():
    w: list[str] = []
    assert phase_end("rest", 10.0, [5.0, 40.0, 50.0], [], 0.0, 100.0, "x", w) == 40.0
    assert "3 offset markers" in w[-1]
    assert phase_end("rest", 10.0, [], [70.0], 30.0, 100.0, "x", w) == 40.0
    assert "onset + protocol duration" in w[-1]
    assert phase_end("rest", 10.0, [], [], 0.0, 100.0, "x", w) == 100.0
    assert "the end of the recording" in w[-1]
    with pytest.raises(PhaseError, match="comes before its onset"):
        phase_end("rest", 10.0, [5.0], [], 0.0, 100.0, "x", [])


def test_induction_start_and_condition_and_overlaps():
    assert induction_start(100.0, 400.0, {"induction_minute_1": [101.0],
                                          "audio_onset": [100.5]}) == 101.0
    assert induction_start(100.0, 400.0, {"audio_onset": [400.0]}) == 100.0
    w: list[str] = []
    assert plan_condition("n/a", [], "x", w) == "n/a" and not w
    assert plan_condition(None, ["a", "b"], "x", w) == "a" and "several" in w[0]
    warn_overlaps([PhaseSpan("a", 0.0, 10.0), PhaseSpan("b", 8.0, 20.0)], "x", w)
    assert w[-1] == "x: phases 'a' and 'b' overlap by 2.0 s"


def test_marker_phases_cuts_at_the_end_of_the_recording():
    baseline = PROTOCOL.phases[0].name
    times = MarkerTimes(onsets={baseline: [10.0]}, offsets={baseline: [310.0]})
    w: list[str] = []
    (phase,) = marker_phases(PROTOCOL, times, 200.0, "x", w)
    assert (phase.name, phase.start_s, phase.end_s) == (baseline, 10.0, 200.0)
    assert "phase cut at the end of the recording" in w[-1]
    m = pd.DataFrame({"onset_s": [1.0, 2.0], "code": ["n/a", 0]})
    assert decode_markers(m, PROTOCOL) == MarkerTimes()


# -- CLI steps -------------------------------------------------------------------------


def test_cli_steps():
    ap = _parser()
    assert participant_source(ap, ["parent", "a.acq", "b.acq"]) == ("parent", None,
                                                                    ["a.acq", "b.acq"])
    with pytest.raises(SystemExit):
        participant_source(ap, ["pattern"])
    args = ap.parse_args(["process", "x", "--out", "o", "--scr-threshold", "0.1",
                          "--engine", "neurokit2"])
    settings = pipeline_settings(ap, args)
    assert settings["scr_min_amplitude_us"] == 0.1 and settings["engine"] == "neurokit2"
    assert PipelineSettings(**settings).window_s == 60.0
    with pytest.raises(SystemExit):
        pipeline_settings(ap, argparse.Namespace(**{**vars(args), "scr_threshold": 0.0}))


def test_print_summary_returns_1_on_a_failure(capsys):
    summary = {"ok": 1, "skipped": 0, "failed": 1, "qc_index": "qc/index.html",
               "failures_tsv": "failures.tsv", "not_recordings": ["notes.txt"],
               "results": [{"status": "failed", "source": "b.acq", "message": "boom"}]}
    assert print_summary(summary, "deriv") == 1
    out = capsys.readouterr()
    assert "1 processed, 0 up to date, 1 failed; derivatives in deriv" in out.out
    assert "FAILED b.acq: boom" in out.err and "notes.txt" in out.err
