"""The simulated study: participants, allocation, signals, files and ground truth.

``simulate_session`` makes one participant's whole session in memory (timeline, true beats,
ECG, EDA, questionnaire answers, ground truth). ``write_session`` writes it through the data
contract (``conditions.bids``) exactly as a real session would be written.
``simulate_study`` does both for N participants allocated by the real allocation database,
and ``simulate_study_tables`` gives the same effect model at table level (no signals) for
power analysis.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from conditions import bids
from conditions.errors import SootheError
from conditions.protocol import Protocol, load_protocol
from conditions.questionnaire_items import Item
from soothe.simulate import effects
from soothe.simulate.ecg_synth import ecg_add_noise, ecg_render
from soothe.simulate.eda_synth import draw_scrs, eda_add_noise, eda_render
from soothe.simulate.noise import NoiseOptions
from soothe.simulate.participant import ParticipantModel, draw_participant
from soothe.simulate.respiration import belt_render
from soothe.simulate.rr import BeatSeries, generate_beats
from soothe.simulate.selfreport import item_biases, latent_states, simulate_beh
from soothe.simulate.timeline import (
    RECORD_MARGIN_S,
    SessionTimeline,
    build_timeline,
    protocol_items,
)
from soothe.simulate.truth import (
    TRUTH_METHODS,
    truth_beats,
    truth_curves,
    truth_phases,
    truth_windows,
)

#: Where the allocation clock of a simulated study starts (fixed, for reproducible files).
SIM_DATE = "2026-01-05T09:00:00+00:00"
SESSION = "1"
TONIC_TRUTH_HZ = 10.0
#: Units of the respiration-belt channel in every format the simulator writes.
RESP_UNITS = "V"


class SimulationError(SootheError, ValueError):
    """Bad simulator arguments (for example a non-positive sampling rate)."""


@dataclass
class SimulatedSession:
    """One simulated participant session, in memory."""

    participant_id: str  # without 'sub-'
    condition: str
    sex: str
    age: int
    fs: float
    timeline: SessionTimeline
    model: ParticipantModel
    beats: BeatSeries
    ecg_mv: np.ndarray
    eda_us: np.ndarray
    resp_v: np.ndarray
    scrs: pd.DataFrame
    motion_s: np.ndarray
    beh: pd.DataFrame
    truth: pd.DataFrame
    truth_phases: pd.DataFrame = field(default_factory=pd.DataFrame)
    session_code: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def events_table(self, protocol: Protocol) -> pd.DataFrame:
        """The ``_events.tsv`` table: onset, duration, trial_type, value, clock times."""
        return events_table(self.timeline, protocol)


def _check_fs(fs: float) -> float:
    fs = float(fs)
    if not np.isfinite(fs) or fs < 50 or fs > 10000:
        raise SimulationError(f"sampling rate must be 50-10000 Hz, got {fs}")
    return fs


def participant_rng(seed: int, index: int, stream: int) -> np.random.Generator:
    """An independent, reproducible generator per (study seed, participant, purpose)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index), int(stream)]))


def simulate_session(
    protocol: Protocol,
    participant_id: str,
    condition: str,
    *,
    seed: int,
    index: int,
    fs: float = 1000.0,
    noise: NoiseOptions | None = None,
    sex: str = "female",
    age: int = 30,
    items: dict[str, list[Item]] | None = None,
    biases: dict[str, float] | None = None,
    signals: bool = True,
    record_margin_s: tuple[float, float] = RECORD_MARGIN_S,
    time_course: str = "linear",
    non_responder_fraction: float | None = None,
) -> SimulatedSession:
    """Simulate one participant session (signals at ``fs`` Hz) in memory.

    Parameters
    ----------
    protocol : Protocol
        Timeline, markers and questionnaires.
    participant_id : str
        Label without ``sub-``.
    condition : str
        One of the protocol's conditions.
    seed, index : int
        Study seed and participant index; together they fix every random draw.
    fs : float
        Sampling rate of ECG and EDA (Hz).
    noise : NoiseOptions
        Artefact switches (default: realistic).
    signals : bool
        False skips the ECG/EDA rendering (the truth and answers are still made).
    record_margin_s : tuple of float
        Seconds of physiology before session start and after session end.
    time_course : {'linear', 'saturating'}
        Shape of the planted drive changes during the induction (``effects.time_course``).
    non_responder_fraction : float, optional
        Chance of being an EDA non-responder (default ``effects.SCR_MODEL``, 0.12).

    Examples
    --------
    >>> s = simulate_session(load_protocol(), "001", "neutral", seed=1, index=1, fs=100.0)
    >>> s.ecg_mv.shape == s.eda_us.shape == s.resp_v.shape
    True
    """
    fs = _check_fs(fs)
    if condition not in protocol.conditions:
        raise SimulationError(
            f"unknown condition {condition!r}; expected one of {list(protocol.conditions)}"
        )
    noise = noise or NoiseOptions()
    items = protocol_items(protocol) if items is None else items
    if biases is None:
        biases = item_biases([it for lst in items.values() for it in lst], seed)
    timeline = build_timeline(
        protocol, condition, participant_rng(seed, index, 1), items, record_margin_s
    )
    if time_course not in effects.TIME_COURSES:
        raise SimulationError(
            f"unknown time course {time_course!r}; expected one of {list(effects.TIME_COURSES)}"
        )
    if non_responder_fraction is not None and not 0 <= non_responder_fraction <= 1:
        raise SimulationError(
            f"non_responder_fraction must be in [0, 1], got {non_responder_fraction}"
        )
    model = draw_participant(
        condition,
        participant_rng(seed, index, 2),
        time_course=time_course,
        non_responder_fraction=non_responder_fraction,
    )
    beats = generate_beats(model, timeline, participant_rng(seed, index, 3), noise)
    rng_sr = participant_rng(seed, index, 4)
    beh = simulate_beh(
        timeline, latent_states(_constructs(items), condition, rng_sr), biases, rng_sr
    )
    rng_eda = participant_rng(seed, index, 5)
    drift_phase = float(rng_eda.uniform(0, 2 * np.pi))
    scrs = draw_scrs(model, timeline, rng_eda)
    curves = truth_curves(model, timeline, grid_hz=TONIC_TRUTH_HZ, drift_phase=drift_phase)
    onsets = scrs["onset_s"].to_numpy()
    truth = truth_windows(participant_id, timeline, beats, curves, onsets)
    phases = truth_phases(participant_id, timeline, beats, curves, onsets)
    rng_sig = participant_rng(seed, index, 6)
    n_motion = (
        rng_sig.poisson(noise.motion_per_hour * timeline.duration_s / 3600.0)
        if noise.motion_artefacts
        else 0
    )
    motion = np.sort(rng_sig.uniform(5.0, timeline.duration_s - 5.0, n_motion))
    n = int(round(timeline.duration_s * fs))
    if signals:
        ecg = ecg_render(beats, fs, n, rng_sig, amplitude_scale=float(rng_sig.uniform(0.7, 1.4)))
        ecg_add_noise(ecg, fs, rng_sig, noise, model.resp_hz, motion)
        # the tonic level is slow: the truth's 10 Hz curve, interpolated to fs
        tonic = np.interp(np.arange(n) / fs, curves["t"], curves["scl"])
        eda = eda_render(tonic, scrs, fs)
        eda_add_noise(eda, fs, rng_sig, noise, motion)
        resp = belt_render(model, timeline, fs, n, participant_rng(seed, index, 7), noise)
    else:
        ecg = eda = resp = np.empty(0)
    return SimulatedSession(
        participant_id=participant_id,
        condition=condition,
        sex=sex,
        age=int(age),
        fs=fs,
        timeline=timeline,
        model=model,
        beats=beats,
        ecg_mv=ecg,
        eda_us=eda,
        resp_v=resp,
        scrs=scrs,
        motion_s=motion,
        beh=beh,
        truth=truth,
        truth_phases=phases,
    )


def _constructs(items: dict[str, list[Item]]) -> list[str]:
    return sorted({it.construct for lst in items.values() for it in lst})


def events_table(timeline: SessionTimeline, protocol: Protocol) -> pd.DataFrame:
    """Markers as the session runner writes them (value = marker code)."""
    labels = protocol.markers
    onsets = np.array([o for o, _ in timeline.events])
    codes = [c for _, c in timeline.events]
    psychopy_zero = timeline.events[0][0]  # PsychoPy clock starts at session start
    lsl_zero = 10_000.0  # LSL clock reading at the first physiology sample
    return pd.DataFrame(
        {
            "onset": np.round(onsets, 4),
            "duration": 0.0,
            "trial_type": [labels.label(c) for c in codes],
            "value": codes,
            "psychopy_time": np.round(onsets - psychopy_zero, 4),
            "lsl_time": np.round(onsets + lsl_zero, 4),
        }
    )


def write_session(root: Path, protocol: Protocol, session: SimulatedSession) -> bids.SessionFiles:
    """Write one simulated session into the raw dataset ``root`` through the data contract."""
    files = bids.SessionFiles(Path(root), session.participant_id, SESSION, protocol.task)
    bids.write_tsv(files.beh_tsv, session.beh, bids.BEH_COLUMNS)
    bids.write_tsv(files.events_tsv, session.events_table(protocol), bids.EVENTS_COLUMNS)
    bids.write_physio(
        files,
        {
            bids.PHYSIO_ECG: session.ecg_mv,
            bids.PHYSIO_EDA: session.eda_us,
            bids.PHYSIO_RSP: session.resp_v,
        },
        session.fs,
        {bids.PHYSIO_ECG: "mV", bids.PHYSIO_EDA: "uS", bids.PHYSIO_RSP: RESP_UNITS},
        start_time=0.0,
        descriptions={
            bids.PHYSIO_ECG: "Electrocardiogram, lead II-like (simulated)",
            bids.PHYSIO_EDA: "Electrodermal activity, skin conductance (simulated)",
            bids.PHYSIO_RSP: "Respiration belt, chest expansion (simulated)",
        },
        extra={"Manufacturer": "soothe simulator", "SoftwareVersions": _version()},
    )
    bids.write_tsv(files.ground_truth("beats"), truth_beats(session.beats))
    bids.write_tsv(files.ground_truth("minutes"), session.truth)
    bids.write_tsv(files.ground_truth("phases"), session.truth_phases)
    bids.write_tsv(files.ground_truth("scrs"), session.scrs.round(4))
    bids.write_json(
        files.ground_truth("participant").with_suffix(".json"),
        {
            "participant_id": f"sub-{session.participant_id}",
            "condition": session.condition,
            "fs": session.fs,
            "baseline": session.model.baseline,
            "drive_slopes_per_minute": session.model.drive_slopes,
            "drive_onset_step": session.model.drive_onset,
            "rsa_amplitude_at_rest_ms": session.model.rsa_amp_ms,
            "time_course": session.model.time_course,
            "eda_responder": session.model.eda_responder,
            "scr_rate_per_min": session.model.scr_rate_per_min,
            "audio_onset_s": session.timeline.audio_onset_s,
            "audio_offset_s": session.timeline.audio_offset_s,
            "motion_artefacts_s": session.motion_s,
            "n_ectopic": int(session.beats.ectopic.sum()),
        },
    )
    return files


def _version() -> str:
    from soothe import __version__

    return f"soothe {__version__}"


def draw_demographics(seed: int, index: int) -> tuple[str, int]:
    """Sex (the stratum) and age of participant ``index``."""
    rng = participant_rng(seed, index, 0)
    sex = "female" if rng.random() < 0.6 else "male"
    return sex, int(rng.integers(18, 46))


def simulate_study(
    out: Path,
    n_participants: int,
    seed: int,
    *,
    fs: float = 1000.0,
    noise: NoiseOptions | None = None,
    formats: tuple[str, ...] = ("bids",),
    protocol: Protocol | None = None,
    progress: bool = False,
    jobs: int = 1,
    record_margin_s: tuple[float, float] = RECORD_MARGIN_S,
    time_course: str = "linear",
    non_responder_fraction: float | None = None,
) -> pd.DataFrame:
    """Simulate and write a whole study; return the participants table.

    Participants are allocated by the real allocation database
    (``conditions.bids.allocation_db_path(out)``), stratified by sex. Ground truth and the
    effect model go to ``out/sourcedata/ground_truth/``; other formats (``edf``, ``csv``,
    ``xdf``) to ``out/sourcedata/formats/<fmt>/``. ``jobs`` > 1 simulates and writes
    sessions in that many processes (allocation stays sequential, in participant order, so
    the output is identical to a one-process run). ``record_margin_s`` is the physiology
    recorded before session start and after session end (s), e.g. ``(360, 360)`` turns the
    default ~28-min protocol into ~40-min recordings. ``time_course`` and
    ``non_responder_fraction`` are passed to :func:`simulate_session`.
    """
    from experiment.allocation import AllocationDB

    if n_participants < 1:
        raise SimulationError(f"--participants must be at least 1, got {n_participants}")
    unknown = set(formats) - {"bids", "edf", "csv", "xdf"}
    if unknown:
        raise SimulationError(f"unknown format(s) {sorted(unknown)}; use bids, edf, csv, xdf")
    fs = _check_fs(fs)
    protocol = protocol or load_protocol()
    out = Path(out)
    bids.ensure_dataset(out, protocol.study_name + " (simulated)", protocol.task)
    db_path = bids.allocation_db_path(out)
    db = (
        AllocationDB(db_path)
        if db_path.exists()
        else AllocationDB.create(db_path, protocol, seed=seed)
    )
    items = protocol_items(protocol)
    biases = item_biases([it for lst in items.values() for it in lst], seed)
    truth_dir = out / "sourcedata" / "ground_truth"
    if time_course not in effects.TIME_COURSES:
        raise SimulationError(
            f"unknown time course {time_course!r}; expected one of {list(effects.TIME_COURSES)}"
        )
    bids.write_json(
        truth_dir / "planted_effects.json",
        planted_effects_document(seed, fs, noise, time_course, non_responder_fraction),
    )
    base_minutes = pd.Timestamp(SIM_DATE)
    jobs_args = []
    for i in range(1, n_participants + 1):
        pid = f"{i:03d}"
        sex, age = draw_demographics(seed, i)
        when = (base_minutes + pd.Timedelta(minutes=50 * (i - 1))).isoformat()
        alloc = db.allocate(pid, {"sex": sex}, machine="simulator", allocated_at=when)
        # during the session the condition stays out of participants.tsv (concealment)
        bids.upsert_participant(
            out,
            {
                "participant_id": f"sub-{pid}",
                "age": age,
                "sex": sex,
                "condition": "n/a",
                "session_code": alloc.session_code,
                "status": "n/a",
            },
        )
        jobs_args.append(
            (
                out,
                protocol,
                pid,
                alloc.condition,
                seed,
                i,
                fs,
                noise,
                sex,
                age,
                items,
                biases,
                formats,
                record_margin_s,
                time_course,
                non_responder_fraction,
            )
        )
    rows = []

    def finish(pid: str, condition: str, truth: pd.DataFrame) -> None:
        db.mark_session(pid, "complete")
        bids.upsert_participant(
            out, {"participant_id": f"sub-{pid}", "condition": condition, "status": "complete"}
        )
        rows.append(truth)

    bar = None
    if progress:
        # a live bar on a terminal; one plain line per participant in a log or a pipe
        from physio.progress import BatchProgress

        bar = BatchProgress(n_participants, "simulate", unit="participant")
    if jobs <= 1 or n_participants == 1:
        for job in jobs_args:
            finish(job[2], job[3], _simulate_and_write(*job))
            if bar is not None:
                bar.update(f"sub-{job[2]}")
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) as pool:
            futures = [pool.submit(_simulate_and_write, *job) for job in jobs_args]
            for job, future in zip(jobs_args, futures):
                finish(job[2], job[3], future.result())
                if bar is not None:
                    bar.update(f"sub-{job[2]}")
    if bar is not None:
        bar.close()
    if rows:
        all_truth = pd.concat(rows, ignore_index=True)
        bids.write_tsv(truth_dir / "truth-windows_all.tsv", all_truth)
    return bids.read_participants(out)


def _simulate_and_write(
    out: Path,
    protocol: Protocol,
    pid: str,
    condition: str,
    seed: int,
    index: int,
    fs: float,
    noise: NoiseOptions | None,
    sex: str,
    age: int,
    items: dict[str, list[Item]],
    biases: dict[str, float],
    formats: tuple[str, ...],
    record_margin_s: tuple[float, float] = RECORD_MARGIN_S,
    time_course: str = "linear",
    non_responder_fraction: float | None = None,
) -> pd.DataFrame:
    """Simulate one session and write it in every requested format; return its truth."""
    from soothe.simulate import formats as fmt

    session = simulate_session(
        protocol,
        pid,
        condition,
        seed=seed,
        index=index,
        fs=fs,
        noise=noise,
        sex=sex,
        age=age,
        items=items,
        biases=biases,
        record_margin_s=record_margin_s,
        time_course=time_course,
        non_responder_fraction=non_responder_fraction,
    )
    if "bids" in formats:
        write_session(out, protocol, session)
    for name in formats:
        if name != "bids":
            fmt.write_format(name, out, protocol, session)
    return session.truth


def planted_effects_document(
    seed: int,
    fs: float,
    noise: NoiseOptions | None,
    time_course: str = "linear",
    non_responder_fraction: float | None = None,
) -> dict[str, Any]:
    """``planted_effects.json``: the generative model plus the run's settings."""
    from dataclasses import asdict

    doc = effects.planted_effects(time_course)
    doc["simulation"] = {
        "seed": int(seed),
        "sampling_rate_hz": float(fs),
        "noise": asdict(noise or NoiseOptions()),
        "time_course": time_course,
        "non_responder_fraction": effects.SCR_MODEL["non_responder_fraction"]
        if non_responder_fraction is None
        else float(non_responder_fraction),
        "channels": {
            bids.PHYSIO_ECG: "mV",
            bids.PHYSIO_EDA: "uS",
            bids.PHYSIO_RSP: RESP_UNITS + " (respiration belt)",
        },
        "truth_files": {
            "beats": "sub-X_ses-1_task-T_truth-beats.tsv: r_peak_s, rr_ms, ectopic",
            "minutes": "sub-X_ses-1_task-T_truth-minutes.tsv: per-window truth "
            "(soothe.simulate.truth.TRUTH_WINDOW_COLUMNS)",
            "phases": "sub-X_ses-1_task-T_truth-phases.tsv: the same per phase (HF per phase)",
            "scrs": "sub-X_ses-1_task-T_truth-scrs.tsv: onset_s, peak_s, amplitude_us",
        },
        "truth_methods": TRUTH_METHODS,
    }
    return doc


# --------------------------------------------------------------------------------------
# Table level: the same model without signals (power analysis, analysis tests)
# --------------------------------------------------------------------------------------


def simulate_study_tables(
    n_per_group: int,
    seed: int,
    *,
    measurement_noise: bool = False,
    protocol: Protocol | None = None,
    noise: NoiseOptions | None = None,
    time_course: str = "linear",
) -> dict[str, Any]:
    """A balanced simulated study as tables: participants, true windows, answers.

    The same effect model and the same true-series computations as the full simulator,
    without rendering ECG or EDA (about 30 ms per participant).

    Parameters
    ----------
    n_per_group : int
        Participants per condition.
    seed : int
        Study seed.
    measurement_noise : bool
        Add pipeline-like measurement error to the windowed values (HR sd 0.3 bpm, RMSSD
        5 % and HF 15 % multiplicative, SCL sd 0.03 uS, breathing sd 0.2/min) instead of
        the exact truth.
    time_course : {'linear', 'saturating'}
        Shape of the planted drive changes (``soothe.simulate.effects.time_course``).

    Returns
    -------
    dict
        ``participants`` (PARTICIPANTS_COLUMNS), ``windows`` (WINDOWS_COLUMNS, true values
        from ``soothe.simulate.truth``; ``scr_amp_us`` needs the signal and is NaN),
        ``beh`` (BEH_COLUMNS plus ``participant_id`` and ``session``) and ``planted``
        (``slopes``: the implied index slopes, ``shifts``: self-report, ``time_course``).

    Examples
    --------
    >>> t = simulate_study_tables(1, seed=3)
    >>> sorted(t)
    ['beh', 'participants', 'planted', 'windows']
    >>> t["participants"]["condition"].nunique()
    5
    """
    if n_per_group < 1:
        raise SimulationError(f"n_per_group must be at least 1, got {n_per_group}")
    protocol = protocol or load_protocol()
    noise = noise or NoiseOptions()
    items = protocol_items(protocol)
    biases = item_biases([it for lst in items.values() for it in lst], seed)
    conditions = list(protocol.condition_names)
    order = np.random.default_rng(np.random.SeedSequence([int(seed), 4242])).permutation(
        np.repeat(np.arange(len(conditions)), n_per_group)
    )
    participants, windows, behs = [], [], []
    noise_rng = np.random.default_rng(np.random.SeedSequence([int(seed), 777]))
    for i, ci in enumerate(order, start=1):
        pid = f"{i:03d}"
        condition = conditions[ci]
        sex, age = draw_demographics(seed, i)
        s = simulate_session(
            protocol,
            pid,
            condition,
            seed=seed,
            index=i,
            noise=noise,
            sex=sex,
            age=age,
            items=items,
            biases=biases,
            signals=False,
            time_course=time_course,
        )
        participants.append(
            {
                "participant_id": f"sub-{pid}",
                "age": age,
                "sex": sex,
                "condition": condition,
                "session_code": hashlib.sha1(f"{seed}:{pid}".encode()).hexdigest()[:6].upper(),
                "status": "complete",
            }
        )
        win = _windows_from_truth(s.truth, measurement_noise, noise_rng)
        windows.append(win)
        beh = s.beh.copy()
        beh.insert(0, "session", SESSION)
        beh.insert(0, "participant_id", f"sub-{pid}")
        behs.append(beh)
    return {
        "participants": pd.DataFrame(participants, columns=list(bids.PARTICIPANTS_COLUMNS)),
        "windows": pd.concat(windows, ignore_index=True),
        "beh": pd.concat(behs, ignore_index=True),
        "planted": {
            "slopes": effects.implied_index_slopes(time_course),
            "shifts": effects.SELFREPORT_SHIFTS,
            "time_course": time_course,
        },
    }


def _windows_from_truth(
    truth: pd.DataFrame, measurement_noise: bool, rng: np.random.Generator
) -> pd.DataFrame:
    out = pd.DataFrame({c: np.nan for c in bids.WINDOWS_COLUMNS}, index=truth.index)
    out = out.astype(object)
    out["participant_id"] = "sub-" + truth["participant_id"].astype(str)
    out["session"] = SESSION
    for col in (
        "condition",
        "phase",
        "window",
        "start_s",
        "end_s",
        "hr_bpm",
        "rmssd_ms",
        "lnrmssd",
        "sdnn_ms",
        "hf_ms2",
        "lnhf",
        "scl_us",
        "scr_count",
        "scr_rate_per_min",
        "n_beats",
    ):
        out[col] = truth[col].to_numpy()
    out["resp_rate_bpm"] = truth["breathing_rate_bpm"].to_numpy()
    out["resp_amplitude"] = truth["resp_amplitude"].to_numpy()
    out["resp_source"] = "belt"
    out["sc_mean_us"] = truth["scl_us"].to_numpy()
    out["partial"] = (truth["end_s"] - truth["start_s"]).to_numpy() < 60.0 - 1e-6
    out["corrected_pct"] = 100.0 * truth["n_ectopic"] / truth["n_beats"].clip(lower=1)
    out["excluded_diff_pct"] = 200.0 * truth["n_ectopic"] / truth["n_beats"].clip(lower=1)
    if measurement_noise:
        n = len(out)
        out["hr_bpm"] = truth["hr_bpm"].to_numpy() + rng.normal(0, 0.3, n)
        out["rmssd_ms"] = truth["rmssd_ms"].to_numpy() * np.exp(rng.normal(0, 0.05, n))
        out["lnrmssd"] = np.log(out["rmssd_ms"].astype(float))
        out["scl_us"] = truth["scl_us"].to_numpy() + rng.normal(0, 0.03, n)
        out["hf_ms2"] = truth["hf_ms2"].to_numpy() * np.exp(rng.normal(0, 0.15, n))
        out["lnhf"] = np.log(out["hf_ms2"].astype(float))
        out["resp_rate_bpm"] = truth["breathing_rate_bpm"].to_numpy() + rng.normal(0, 0.2, n)
    ok_ecg = np.isfinite(out["hr_bpm"].astype(float)) & np.isfinite(out["rmssd_ms"].astype(float))
    out["ecg_valid"] = ok_ecg
    out["ecg_reason"] = np.where(ok_ecg, "", "too few beats in window")
    ok_hf = np.isfinite(out["hf_ms2"].astype(float))
    out["hf_valid"] = ok_hf
    out["hf_reason"] = np.where(ok_hf, "", "window shorter than 60 s (Task Force, 1996)")
    out["eda_valid"] = np.isfinite(out["scl_us"].astype(float))
    out["eda_reason"] = np.where(out["eda_valid"], "scr_amp_us not simulated at table level", "")
    for col in (
        "hr_bpm",
        "rmssd_ms",
        "lnrmssd",
        "sdnn_ms",
        "hf_ms2",
        "lnhf",
        "scl_us",
        "sc_mean_us",
        "scr_count",
        "scr_rate_per_min",
        "scr_amp_us",
        "resp_rate_bpm",
        "resp_amplitude",
        "start_s",
        "end_s",
        "corrected_pct",
        "excluded_diff_pct",
    ):
        out[col] = out[col].astype(float)
    out["partial"] = out["partial"].astype(bool)
    out["window"] = out["window"].astype(int)
    out["n_beats"] = out["n_beats"].astype(int)
    return out
