"""The simulated study: signals recover the planted truth, files are complete and reproducible."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conditions import bids
from conditions.protocol import load_protocol
from soothe.simulate import effects
from soothe.simulate.cli import main as simulate_main
from soothe.simulate.noise import NoiseOptions
from soothe.simulate.study import SimulationError, simulate_session, simulate_study_tables
from soothe.simulate.truth import window_spans

PROTOCOL = load_protocol()


def _participant_with_motion(fs: float):
    """A participant whose session has motion artefacts and ectopic beats (the hard case)."""
    for index in range(1, 40):
        s = simulate_session(
            PROTOCOL, "001", "kindness_self", seed=7, index=index, fs=fs, signals=False
        )
        if len(s.motion_s) >= 1 and s.beats.ectopic.sum() >= 2:
            return simulate_session(PROTOCOL, "001", "kindness_self", seed=7, index=index, fs=fs)
    raise AssertionError("no participant with artefacts in 40 draws")


def test_independent_detector_recovers_planted_minute_hr():
    """sleepecg (independent of soothe) finds the beats; per-minute HR within 1 bpm."""
    sleepecg = pytest.importorskip("sleepecg")
    s = _participant_with_motion(1000.0)
    peaks_s = sleepecg.detect_heartbeats(s.ecg_mv, s.fs) / s.fs
    rr = np.r_[np.nan, np.diff(peaks_s) * 1000.0]
    errors = []
    for (_phase, _w, start, end), truth in zip(window_spans(s.timeline), s.truth.itertuples()):
        lo, hi = np.searchsorted(peaks_s, [start, end])
        window_rr = rr[lo:hi][np.isfinite(rr[lo:hi])]
        errors.append(60000.0 / window_rr.mean() - truth.hr_bpm)
    errors = np.abs(np.array(errors))
    assert len(errors) == len(s.truth) >= 25
    # the truth has no HR in a phase's last remainder shorter than 50 s (the pipeline's rule)
    short = np.array([end - start < 50.0 for _p, _w, start, end in window_spans(s.timeline)])
    assert np.isnan(errors[short]).all() and np.isfinite(errors[~short]).all()
    assert errors[~short].max() < 1.0, errors
    # beats are where the truth says (within 10 ms) and none is missed
    nearest = np.abs(peaks_s[:, None] - s.beats.times_s[None, :]).min(axis=0)
    assert np.mean(nearest < 0.010) > 0.995
    # and the truth's HR is the HR the drives imply (HR is linear in the drives; the RSA and
    # LF cycles a window cuts leave a few tenths of a bpm)
    full = (s.truth["end_s"] - s.truth["start_s"]) > 59.9
    assert np.abs(s.truth["hr_bpm"] - s.truth["hr_model_bpm"])[full].max() < 0.75


def test_truth_follows_the_implied_slopes_over_participants():
    """Per-participant induction slopes average to the model's implied slope (within 3 SE)."""
    t = simulate_study_tables(10, seed=11)
    w = t["windows"]
    ind = w[(w["phase"] == "induction") & ~w["partial"]]
    for measure, col in (("hr_bpm", "hr_bpm"), ("ln_rmssd", "lnrmssd"), ("lnhf", "lnhf"),
                         ("scl_us", "scl_us"), ("breathing_rate_bpm", "resp_rate_bpm")):
        for condition, sub in ind.groupby("condition"):
            slopes = [np.polyfit(g["window"].astype(float), g[col].astype(float), 1)[0]
                      for _, g in sub.groupby("participant_id") if g[col].notna().sum() > 5]
            mean, se = np.mean(slopes), np.std(slopes, ddof=1) / np.sqrt(len(slopes))
            planted = effects.physio_slope(measure, condition)
            assert abs(mean - planted) <= 3 * se + 1e-3, (measure, condition, mean, se, planted)
    assert t["planted"]["slopes"] == effects.implied_index_slopes()


def test_selfreport_moves_as_planted():
    t = simulate_study_tables(12, seed=5)
    beh = t["beh"].merge(t["participants"][["participant_id", "condition"]])
    rating = beh["rating"].astype(float)
    lo, hi = beh["scale_min"].astype(float), beh["scale_max"].astype(float)
    beh["keyed"] = np.where(beh["reversed"], lo + hi - rating, rating)
    means = beh.groupby(["condition", "construct", "phase"])["keyed"].mean().unstack("phase")
    change = means["post_questionnaire"] - means["pre_questionnaire"]
    checked = 0
    for (condition, construct), value in change.items():
        planted = effects.selfreport_shift(condition, construct)
        if abs(planted) >= 8:
            assert np.sign(value) == np.sign(planted), (condition, construct, value)
            checked += 1
        if planted == 0:
            assert abs(value) < 8, (condition, construct, value)
    assert checked >= 1
    assert ((beh["rating"] >= beh["scale_min"]) & (beh["rating"] <= beh["scale_max"])).all()


def test_cli_writes_complete_dataset(tmp_path: Path):
    out = tmp_path / "sim"
    code = simulate_main(
        [
            "--participants",
            "3",
            "--seed",
            "4",
            "--out",
            str(out),
            "--fs",
            "100",
            "--quiet",
            "--format",
            "bids",
            "edf",
            "csv",
            "xdf",
        ]
    )
    assert code == 0
    participants = bids.read_participants(out)
    assert list(participants["participant_id"]) == ["sub-001", "sub-002", "sub-003"]
    assert (participants["status"] == "complete").all()
    assert set(participants["condition"]) <= set(PROTOCOL.condition_names)
    assert participants["session_code"].str.match(r"^S-[0-9A-Z]{4}$").all()
    from conditions.allocation import AllocationDB

    db = AllocationDB(bids.allocation_db_path(out))
    assert db.verify() == []
    for row in participants.itertuples():
        alloc = db.lookup(row.participant_id)
        assert alloc.condition.reveal() == row.condition and alloc.session_code == row.session_code
    files = next(iter(bids.iter_sessions(out)))
    events = bids.read_tsv(files.events_tsv, bids.EVENTS_COLUMNS)
    codes = list(events["value"])
    m = PROTOCOL.markers
    for phase in PROTOCOL.phases:
        assert codes.count(m.phase_onset(phase.name)) == 1
        assert codes.count(m.phase_offset(phase.name)) == 1
    for minute in range(1, 12):
        assert codes.count(m.induction_minute(minute)) == 1
    assert codes[0] == m.event("session_start") and codes[-1] == m.event("session_end")
    # a condition marker only when the protocol asks for one (default "never": concealment)
    assert sum(c in m.conditions.values() for c in codes) == (m.send_condition_code != "never")
    onsets = events["onset"].to_numpy()
    assert np.all(np.diff(onsets) >= 0)
    # induction minute markers one minute apart, starting with audio onset
    minute_onsets = events[events["value"].isin(m.induction_minutes)]["onset"].to_numpy()
    assert np.allclose(np.diff(minute_onsets), 60.0, atol=1e-3)
    audio = events.loc[events["value"] == m.event("audio_onset"), "onset"].item()
    assert minute_onsets[0] == pytest.approx(audio)
    beh = bids.read_tsv(files.beh_tsv, bids.BEH_COLUMNS)
    n_items = sum(len(v) for v in _items().values())
    assert len(beh) == 2 * n_items
    q = beh.groupby("phase")["onset"].agg(["min", "max"])
    assert ((q["max"] - q["min"]) > 60).all()  # participant-paced, 1.5-3 minutes
    meta = bids.read_physio_sidecar(files)
    assert meta["Columns"] == ["ecg", "eda", bids.PHYSIO_RSP]
    assert meta["SamplingFrequency"] == 100.0
    assert meta["ecg"]["Units"] == "mV" and meta["eda"]["Units"] == "uS"
    assert meta[bids.PHYSIO_RSP]["Units"] == "V"
    physio = np.loadtxt(files.physio_tsv_gz)
    assert physio.shape[1] == 3 and abs(physio.shape[0] / 100.0 - onsets[-1]) < 10
    # the belt breathes: its dominant frequency is the participant's breathing rate
    belt = physio[:, 2] - physio[:, 2].mean()
    freqs = np.fft.rfftfreq(len(belt), 1 / 100.0)
    peak_bpm = 60 * freqs[np.argmax(np.abs(np.fft.rfft(belt)) * (freqs > 0.05))]
    assert 8 <= peak_bpm <= 22
    truth = bids.read_tsv(files.ground_truth("minutes"))
    assert {
        "phase",
        "window",
        "start_s",
        "end_s",
        "hr_bpm",
        "rmssd_ms",
        "scl_us",
        "condition",
        "lnrmssd",
        "breathing_rate_bpm",
        "vagal",
        "sympathetic",
        "hr_model_bpm",
    } <= set(truth.columns)
    phases = bids.read_tsv(files.ground_truth("phases"))
    assert set(phases["phase"]) == {p.name for p in PROTOCOL.phases}
    assert phases.loc[phases["phase"] == "induction", "lnhf"].notna().all()
    assert (truth.loc[truth["phase"] == "induction", "window"] == range(1, 12)).all()
    beats = bids.read_tsv(files.ground_truth("beats"))
    assert {"r_peak_s", "rr_ms", "ectopic"} <= set(beats.columns)
    doc = json.loads((out / "sourcedata" / "ground_truth" / "planted_effects.json").read_text())
    assert doc["physiology"]["slopes_per_minute"] == effects.implied_index_slopes()
    assert doc["physiology"]["drive_slopes_per_minute"] == effects.DRIVE_SLOPES
    methods = doc["simulation"]["truth_methods"]
    assert "lnhf" in methods["estimated_with_pipeline_estimator"]["columns"]
    assert "breathing_rate_bpm" in methods["analytic_exact"]["columns"]
    # every other format holds the same signal and markers
    _check_formats(out, files, physio, events)


def _items():
    from soothe.simulate.timeline import protocol_items

    return protocol_items(PROTOCOL)


def _check_formats(out: Path, files, physio: np.ndarray, events: pd.DataFrame) -> None:
    import pyxdf
    from edfio import read_edf

    from soothe.simulate.formats import XDF_LSL_ZERO_S, format_path

    pid = files.subject
    streams, _ = pyxdf.load_xdf(str(format_path(out, PROTOCOL, pid, "xdf")))
    by_name = {s["info"]["name"][0]: s for s in streams}
    sig = by_name["SimPhysio"]
    assert np.allclose(sig["time_series"], physio, atol=1e-3 * np.abs(physio).max())
    # after clock synchronisation the first sample sits at the LSL zero
    assert sig["time_stamps"][0] == pytest.approx(XDF_LSL_ZERO_S, abs=1e-3)
    marks = by_name["SootheMarkers"]
    # markers sharing a timestamp (audio onset and minute 1) may come back in either order
    _assert_same_markers(
        np.asarray(marks["time_stamps"]) - XDF_LSL_ZERO_S,
        [int(v[0]) for v in marks["time_series"]],
        events,
    )

    edf = read_edf(format_path(out, PROTOCOL, pid, "edf"))
    ecg = edf.signals[0]
    assert (ecg.label, ecg.physical_dimension, ecg.sampling_frequency) == ("ECG", "mV", 100.0)
    assert np.allclose(ecg.data[: len(physio)], physio[:, 0], atol=0.01)
    resp = edf.signals[2]
    assert (resp.label, resp.physical_dimension) == ("Resp", "V")
    assert np.allclose(resp.data[: len(physio)], physio[:, 2], atol=1e-3)
    chans = sig["info"]["desc"][0]["channels"][0]["channel"]
    assert [(c["label"][0], c["unit"][0]) for c in chans] == [
        ("ECG", "mV"), ("EDA", "uS"), ("RESP", "V")]
    _assert_same_markers(
        [a.onset for a in edf.annotations], [int(a.text) for a in edf.annotations], events
    )

    csv = pd.read_csv(format_path(out, PROTOCOL, pid, "csv"))
    assert list(csv.columns) == ["time_s", "ecg_mV", "eda_uS", "rsp", "trigger"]
    assert np.allclose(csv["eda_uS"], physio[:, 1], atol=1e-4)
    assert np.allclose(csv["rsp"], physio[:, 2], atol=1e-4)
    assert (csv["trigger"] > 0).sum() == len(events)


def _assert_same_markers(times, codes, events: pd.DataFrame) -> None:
    """Same markers at the same times; markers sharing a time may come back in any order."""
    got = sorted(zip(np.round(np.asarray(times, float), 3), codes))
    want = sorted(zip(np.round(events["onset"].to_numpy(float), 3), events["value"]))
    assert len(got) == len(want)
    assert sorted(codes) == sorted(events["value"])
    assert np.allclose([t for t, _ in got], [t for t, _ in want], atol=2e-3)


def test_same_seed_identical_files(tmp_path: Path):
    def run(name: str, seed: int, jobs: int = 1) -> dict[str, bytes]:
        out = tmp_path / name
        argv = ["--participants", "2", "--seed", str(seed), "--out", str(out), "--fs", "100"]
        assert simulate_main([*argv, "--quiet", "--format", "xdf", "--jobs", str(jobs)]) == 0
        return {
            str(p.relative_to(out)): p.read_bytes()
            for p in sorted(out.rglob("*"))
            if p.is_file() and "allocation.sqlite" not in p.name
        }

    a, b, c = run("a", 3), run("b", 3, jobs=2), run("c", 4)  # 2 processes, same files
    assert a.keys() == b.keys() and len(a) > 10
    different = [k for k in a if a[k] != b[k]]
    assert different == []
    assert any(a[k] != c.get(k) for k in a if k.endswith("physio.tsv.gz"))


def test_noise_switches_change_only_their_part():
    clean = simulate_session(
        PROTOCOL, "001", "neutral", seed=1, index=2, fs=250.0, noise=NoiseOptions.none()
    )
    hum = simulate_session(
        PROTOCOL,
        "001",
        "neutral",
        seed=1,
        index=2,
        fs=250.0,
        noise=replace(NoiseOptions.none(), mains_hum=True),
    )
    assert clean.beats.ectopic.sum() == 0 and len(clean.motion_s) == 0
    diff = hum.ecg_mv - clean.ecg_mv
    spectrum = np.abs(np.fft.rfft(diff))
    freqs = np.fft.rfftfreq(len(diff), 1 / 250.0)
    assert abs(freqs[np.argmax(spectrum)] - 50.0) < 0.1
    noisy = simulate_session(PROTOCOL, "001", "neutral", seed=1, index=2, fs=250.0)
    assert not np.allclose(noisy.ecg_mv, clean.ecg_mv)
    # SCR amplitudes respect the floor; EDA stays physiological
    assert (noisy.scrs["amplitude_us"] >= 0.05).all()
    assert noisy.eda_us.min() > 0


def test_bad_arguments_are_clear():
    with pytest.raises(SimulationError, match="sampling rate"):
        simulate_session(PROTOCOL, "001", "neutral", seed=1, index=1, fs=0)
    with pytest.raises(SimulationError, match="unknown condition"):
        simulate_session(PROTOCOL, "001", "calm", seed=1, index=1)
    with pytest.raises(SimulationError):
        simulate_study_tables(0, seed=1)
    with pytest.raises(SimulationError, match="time course"):
        simulate_session(PROTOCOL, "001", "neutral", seed=1, index=1, time_course="cubic")
    with pytest.raises(SimulationError, match="non_responder_fraction"):
        simulate_session(PROTOCOL, "001", "neutral", seed=1, index=1,
                         non_responder_fraction=1.5)


def test_tables_schema():
    t = simulate_study_tables(2, seed=9, measurement_noise=True)
    assert list(t["windows"].columns) == list(bids.WINDOWS_COLUMNS)
    assert list(t["participants"].columns) == list(bids.PARTICIPANTS_COLUMNS)
    assert t["participants"]["condition"].value_counts().eq(2).all()
    assert set(bids.BEH_COLUMNS) <= set(t["beh"].columns)
    again = simulate_study_tables(2, seed=9, measurement_noise=True)
    pd.testing.assert_frame_equal(t["windows"], again["windows"])


def test_record_margins_lengthen_the_recording_and_shift_every_event():
    """The bench's 40-min sessions: physiology before start and after end of the session."""
    proto = load_protocol()
    short = simulate_session(proto, "001", "neutral", seed=4, index=1, fs=100.0)
    long = simulate_session(proto, "001", "neutral", seed=4, index=1, fs=100.0,
                            record_margin_s=(360.0, 360.0))
    t_short, t_long = short.timeline, long.timeline
    extra = t_long.duration_s - t_short.duration_s
    assert extra == pytest.approx(720.0 - 2.0 - 3.0, abs=1e-6)
    assert len(long.ecg_mv) == pytest.approx(len(short.ecg_mv) + extra * 100.0, abs=2)
    shift = np.array(t_long.events)[:, 0] - np.array(t_short.events)[:, 0]
    assert np.allclose(shift, 358.0, atol=1e-3)


def test_record_margin_out_of_range_is_refused(tmp_path: Path):
    with pytest.raises(SimulationError, match="--record-margin-min"):
        simulate_main(["--participants", "1", "--seed", "1", "--out", str(tmp_path / "x"),
                       "--record-margin-min", "-1", "5"])
