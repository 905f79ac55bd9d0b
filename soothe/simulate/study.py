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
import multiprocessing as mp
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from conditions import bids
from conditions.allocation import AllocationDB
from conditions.protocol import Protocol, load_protocol
from conditions.questionnaire_items import Item
from physio.progress import BatchProgress
from soothe import __version__
from soothe.simulate import effects, formats
from soothe.simulate.ecg_synth import ecg_add_noise, ecg_render
from soothe.simulate.eda_synth import draw_scrs, eda_add_noise, eda_render
from soothe.simulate.errors import SimulationError
from soothe.simulate.noise import NoiseOptions
from soothe.simulate.participant import ParticipantModel, draw_participant
from soothe.simulate.respiration import belt_render
from soothe.simulate.rr import BeatSeries, generate_beats
from soothe.simulate.selfreport import item_biases, latent_states, simulate_beh
from soothe.simulate.simulated_session import SimulatedSession
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
#: The physiology formats ``simulate_study`` writes (``bids`` is the raw dataset itself).
STUDY_FORMATS: tuple[str, ...] = ("bids", "edf", "csv", "xdf")


def check_fs(fs: float) -> float:
    """The sampling rate as a float, or :class:`SimulationError` outside 50-10000 Hz.

    Examples
    --------
    >>> check_fs(250)
    250.0
    """
    fs = float(fs)
    if not np.isfinite(fs) or fs < 50 or fs > 10000:
        raise SimulationError(f"sampling rate must be 50-10000 Hz, got {fs}")
    return fs


def check_condition(protocol: Protocol, condition: str) -> None:
    """Raise :class:`SimulationError` unless ``condition`` is one of the protocol's.

    Examples
    --------
    >>> check_condition(load_protocol(), "neutral") is None
    True
    """
    if condition not in protocol.conditions:
        raise SimulationError(
            f"unknown condition {condition!r}; expected one of {list(protocol.conditions)}"
        )


def check_model_options(time_course: str, non_responder_fraction: float | None) -> None:
    """Raise :class:`SimulationError` for an unknown time course or a fraction outside [0, 1].

    Examples
    --------
    >>> check_model_options("saturating", 0.5) is None
    True
    """
    if time_course not in effects.TIME_COURSES:
        raise SimulationError(
            f"unknown time course {time_course!r}; expected one of {list(effects.TIME_COURSES)}"
        )
    if non_responder_fraction is not None and not 0 <= non_responder_fraction <= 1:
        raise SimulationError(
            f"non_responder_fraction must be in [0, 1], got {non_responder_fraction}"
        )


def participant_rng(seed: int, index: int, stream: int) -> np.random.Generator:
    """An independent, reproducible generator per (study seed, participant, purpose)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index), int(stream)]))


def study_constructs(items: dict[str, list[Item]]) -> list[str]:
    """The constructs the items measure, sorted by name."""
    return sorted({it.construct for lst in items.values() for it in lst})


def simulate_answers(
    timeline: SessionTimeline,
    items: dict[str, list[Item]],
    condition: str,
    biases: dict[str, float],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The questionnaire answers (``_beh.tsv`` rows): latent states, then item ratings."""
    return simulate_beh(timeline, latent_states(study_constructs(items), condition, rng), biases,
                        rng)


@dataclass
class EdaTruth:
    """The SCRs, the slow true curves and the true per-window and per-phase tables."""

    scrs: pd.DataFrame
    curves: dict[str, np.ndarray]
    windows: pd.DataFrame
    phases: pd.DataFrame


def simulate_truth(
    participant_id: str,
    model: ParticipantModel,
    timeline: SessionTimeline,
    beats: BeatSeries,
    rng: np.random.Generator,
) -> EdaTruth:
    """Draw the SCRs and compute the ground truth (per window and per phase)."""
    drift_phase = float(rng.uniform(0, 2 * np.pi))
    scrs = draw_scrs(model, timeline, rng)
    curves = truth_curves(model, timeline, grid_hz=TONIC_TRUTH_HZ, drift_phase=drift_phase)
    onsets = scrs["onset_s"].to_numpy()
    return EdaTruth(
        scrs=scrs,
        curves=curves,
        windows=truth_windows(participant_id, timeline, beats, curves, onsets),
        phases=truth_phases(participant_id, timeline, beats, curves, onsets),
    )


def draw_motion(noise: NoiseOptions, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """Times (s) of the motion artefacts: a Poisson count, uniform times, sorted."""
    n_motion = (
        rng.poisson(noise.motion_per_hour * duration_s / 3600.0) if noise.motion_artefacts else 0
    )
    return np.sort(rng.uniform(5.0, duration_s - 5.0, n_motion))


def render_signals(
    model: ParticipantModel,
    timeline: SessionTimeline,
    beats: BeatSeries,
    truth: EdaTruth,
    motion: np.ndarray,
    noise: NoiseOptions,
    fs: float,
    rng: np.random.Generator,
    rng_belt: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ECG (mV), EDA (uS) and respiration belt (V) at ``fs`` Hz, with their artefacts."""
    n = int(round(timeline.duration_s * fs))
    ecg = ecg_render(beats, fs, n, rng, amplitude_scale=float(rng.uniform(0.7, 1.4)))
    ecg_add_noise(ecg, fs, rng, noise, model.resp_hz, motion)
    # the tonic level is slow: the truth's 10 Hz curve, interpolated to fs
    tonic = np.interp(np.arange(n) / fs, truth.curves["t"], truth.curves["scl"])
    eda = eda_render(tonic, truth.scrs, fs)
    eda_add_noise(eda, fs, rng, noise, motion)
    resp = belt_render(model, timeline, fs, n, rng_belt, noise)
    return ecg, eda, resp


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
    fs = check_fs(fs)
    check_condition(protocol, condition)
    check_model_options(time_course, non_responder_fraction)
    noise = noise or NoiseOptions()
    items = protocol_items(protocol) if items is None else items
    if biases is None:
        biases = item_biases([it for lst in items.values() for it in lst], seed)
    timeline = build_timeline(
        protocol, condition, participant_rng(seed, index, 1), items, record_margin_s
    )
    model = draw_participant(condition, participant_rng(seed, index, 2), time_course=time_course,
                             non_responder_fraction=non_responder_fraction)
    beats = generate_beats(model, timeline, participant_rng(seed, index, 3), noise)
    beh = simulate_answers(timeline, items, condition, biases, participant_rng(seed, index, 4))
    truth = simulate_truth(participant_id, model, timeline, beats,
                           participant_rng(seed, index, 5))
    rng_sig = participant_rng(seed, index, 6)
    motion = draw_motion(noise, timeline.duration_s, rng_sig)
    if signals:
        ecg, eda, resp = render_signals(model, timeline, beats, truth, motion, noise, fs,
                                        rng_sig, participant_rng(seed, index, 7))
    else:
        ecg = eda = resp = np.empty(0)
    return SimulatedSession(
        participant_id=participant_id, condition=condition, sex=sex, age=int(age), fs=fs,
        timeline=timeline, model=model, beats=beats, ecg_mv=ecg, eda_us=eda, resp_v=resp,
        scrs=truth.scrs, motion_s=motion, beh=beh, truth=truth.windows,
        truth_phases=truth.phases,
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
        extra={"Manufacturer": "soothe simulator", "SoftwareVersions": f"soothe {__version__}"},
    )
    write_session_truth(files, session)
    return files


def write_session_truth(files: bids.SessionFiles, session: SimulatedSession) -> None:
    """Write the session's ground truth: beats, windows, phases, SCRs and the person model."""
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


def draw_demographics(seed: int, index: int) -> tuple[str, int]:
    """Sex (the stratum) and age of participant ``index``."""
    rng = participant_rng(seed, index, 0)
    sex = "female" if rng.random() < 0.6 else "male"
    return sex, int(rng.integers(18, 46))


# --------------------------------------------------------------------------------------
# The whole study: allocation, then each session simulated and written
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudyParticipant:
    """One participant of a simulated study, as allocated."""

    index: int
    participant_id: str  # without 'sub-'
    sex: str
    age: int
    session_code: str
    condition: str


@dataclass(frozen=True)
class StudySettings:
    """What every session of one simulated study shares (sent to each worker process)."""

    out: Path
    protocol: Protocol
    seed: int
    fs: float
    noise: NoiseOptions | None
    items: dict[str, list[Item]]
    biases: dict[str, float]
    formats: tuple[str, ...]
    record_margin_s: tuple[float, float] = RECORD_MARGIN_S
    time_course: str = "linear"
    non_responder_fraction: float | None = None


def check_study_arguments(
    n_participants: int, formats: tuple[str, ...], fs: float, time_course: str
) -> float:
    """Validate ``simulate_study``'s arguments before anything is written; return ``fs``.

    Examples
    --------
    >>> check_study_arguments(2, ("bids", "xdf"), 250, "linear")
    250.0
    """
    if n_participants < 1:
        raise SimulationError(f"--participants must be at least 1, got {n_participants}")
    unknown = set(formats) - set(STUDY_FORMATS)
    if unknown:
        raise SimulationError(f"unknown format(s) {sorted(unknown)}; use bids, edf, csv, xdf")
    fs = check_fs(fs)
    check_model_options(time_course, None)
    return fs


def allocate_participants(
    out: Path, protocol: Protocol, seed: int, n_participants: int
) -> tuple[Any, list[StudyParticipant]]:
    """Allocate participants 1..N with the study's allocation database, in order.

    The database (``conditions.bids.allocation_db_path(out)``) is created with ``seed`` on
    first use. Each participant is stratified by sex and allocated on a fixed clock
    (``SIM_DATE`` plus 50 min per participant) so the files are reproducible. This is the
    simulator's only door to the allocation database, and the only place that reveals an
    allocated condition (the simulator plays the participant and must know it).
    Returns the open database (for ``mark_session``) and the participants.
    """
    db_path = bids.allocation_db_path(out)
    db = (
        AllocationDB(db_path)
        if db_path.exists()
        else AllocationDB.create(db_path, protocol, seed=seed)
    )
    participants = []
    start = pd.Timestamp(SIM_DATE)
    for i in range(1, n_participants + 1):
        pid = f"{i:03d}"
        sex, age = draw_demographics(seed, i)
        when = (start + pd.Timedelta(minutes=50 * (i - 1))).isoformat()
        alloc = db.allocate(pid, {"sex": sex}, machine="simulator", allocated_at=when)
        participants.append(StudyParticipant(i, pid, sex, age, alloc.session_code,
                                             alloc.condition.reveal()))
    return db, participants


def register_participant(out: Path, participant: StudyParticipant) -> None:
    """Add the participant to ``participants.tsv`` as the session runner would at the start.

    During the session the condition stays out of ``participants.tsv`` (concealment).
    """
    bids.upsert_participant(
        out,
        {
            "participant_id": f"sub-{participant.participant_id}",
            "age": participant.age,
            "sex": participant.sex,
            "condition": "n/a",
            "session_code": participant.session_code,
            "status": "n/a",
        },
    )


def simulate_and_write(settings: StudySettings, participant: StudyParticipant) -> pd.DataFrame:
    """Simulate one session and write it in every requested format; return its truth."""
    session = simulate_session(
        settings.protocol,
        participant.participant_id,
        participant.condition,
        seed=settings.seed,
        index=participant.index,
        fs=settings.fs,
        noise=settings.noise,
        sex=participant.sex,
        age=participant.age,
        items=settings.items,
        biases=settings.biases,
        record_margin_s=settings.record_margin_s,
        time_course=settings.time_course,
        non_responder_fraction=settings.non_responder_fraction,
    )
    if "bids" in settings.formats:
        write_session(settings.out, settings.protocol, session)
    for name in settings.formats:
        if name != "bids":
            formats.write_format(name, settings.out, settings.protocol, session)
    return session.truth


def run_sessions(
    settings: StudySettings,
    participants: list[StudyParticipant],
    finish: Callable[[StudyParticipant, pd.DataFrame], None],
    *,
    jobs: int = 1,
    progress: bool = False,
) -> None:
    """Simulate and write every session, in ``jobs`` processes; ``finish`` each in order.

    ``finish(participant, truth)`` runs in this process, in participant order, whatever
    ``jobs`` is, so the output is identical to a one-process run. ``progress`` shows a live
    bar on a terminal and one plain line per participant in a log or a pipe.
    """
    bar = BatchProgress(len(participants), "simulate", unit="participant") if progress else None

    def done(participant: StudyParticipant, truth: pd.DataFrame) -> None:
        finish(participant, truth)
        if bar is not None:
            bar.update(f"sub-{participant.participant_id}")

    if jobs <= 1 or len(participants) == 1:
        for participant in participants:
            done(participant, simulate_and_write(settings, participant))
    else:
        with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) as pool:
            futures = [pool.submit(simulate_and_write, settings, p) for p in participants]
            for participant, future in zip(participants, futures):
                done(participant, future.result())
    if bar is not None:
        bar.close()


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
    fs = check_study_arguments(n_participants, formats, fs, time_course)
    protocol = protocol or load_protocol()
    out = Path(out)
    bids.ensure_dataset(out, protocol.study_name + " (simulated)", protocol.task)
    db, participants = allocate_participants(out, protocol, seed, n_participants)
    items = protocol_items(protocol)
    truth_dir = out / "sourcedata" / "ground_truth"
    bids.write_json(
        truth_dir / "planted_effects.json",
        planted_effects_document(seed, fs, noise, time_course, non_responder_fraction),
    )
    for participant in participants:
        register_participant(out, participant)
    settings = StudySettings(
        out, protocol, seed, fs, noise, items,
        item_biases([it for lst in items.values() for it in lst], seed),
        formats, record_margin_s, time_course, non_responder_fraction,
    )
    rows = []

    def finish(participant: StudyParticipant, truth: pd.DataFrame) -> None:
        db.mark_session(participant.participant_id, "complete")
        bids.upsert_participant(out, {"participant_id": f"sub-{participant.participant_id}",
                                      "condition": participant.condition, "status": "complete"})
        rows.append(truth)

    run_sessions(settings, participants, finish, jobs=jobs, progress=progress)
    bids.write_tsv(truth_dir / "truth-windows_all.tsv", pd.concat(rows, ignore_index=True))
    return bids.read_participants(out)


def planted_effects_document(
    seed: int,
    fs: float,
    noise: NoiseOptions | None,
    time_course: str = "linear",
    non_responder_fraction: float | None = None,
) -> dict[str, Any]:
    """``planted_effects.json``: the generative model plus the run's settings."""
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
    without rendering ECG or EDA.

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
    conditions = balanced_conditions(list(protocol.condition_names), n_per_group, seed)
    participants, windows, behs = [], [], []
    noise_rng = np.random.default_rng(np.random.SeedSequence([int(seed), 777]))
    for i, condition in enumerate(conditions, start=1):
        sex, age = draw_demographics(seed, i)
        s = simulate_session(
            protocol, f"{i:03d}", condition, seed=seed, index=i, noise=noise, sex=sex,
            age=age, items=items, biases=biases, signals=False, time_course=time_course,
        )
        participants.append(table_participant_row(s, seed))
        windows.append(_windows_from_truth(s.truth, measurement_noise, noise_rng))
        behs.append(table_beh(s))
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


def balanced_conditions(conditions: list[str], n_per_group: int, seed: int) -> list[str]:
    """Each condition ``n_per_group`` times, in a random order fixed by ``seed``.

    Examples
    --------
    >>> sorted(balanced_conditions(["a", "b"], 2, seed=1))
    ['a', 'a', 'b', 'b']
    """
    order = np.random.default_rng(np.random.SeedSequence([int(seed), 4242])).permutation(
        np.repeat(np.arange(len(conditions)), n_per_group)
    )
    return [conditions[ci] for ci in order]


def table_participant_row(session: SimulatedSession, seed: int) -> dict[str, Any]:
    """The ``participants.tsv`` row of a table-level participant (session complete)."""
    pid = session.participant_id
    return {
        "participant_id": f"sub-{pid}",
        "age": session.age,
        "sex": session.sex,
        "condition": session.condition,
        "session_code": hashlib.sha1(f"{seed}:{pid}".encode()).hexdigest()[:6].upper(),
        "status": "complete",
    }


def table_beh(session: SimulatedSession) -> pd.DataFrame:
    """The session's answers with ``participant_id`` and ``session`` columns in front."""
    beh = session.beh.copy()
    beh.insert(0, "session", SESSION)
    beh.insert(0, "participant_id", f"sub-{session.participant_id}")
    return beh


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
