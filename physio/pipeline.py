"""Process one recording: phases, windows, ECG beats and HRV, EDA and breathing, all on the
session clock.

:func:`process_recording` is the pure core (a :class:`~physio.recording.Recording` in,
tables out), a short sequence of named steps, each a public function that can be called and
tested on its own: :func:`recording_channels`, :func:`ecg_stage`, :func:`eda_stage`,
:func:`breathing_stage`, :func:`windows_table`, :func:`phases_table`, :func:`beats_table`,
:func:`recording_info` and :func:`ecg_excerpt`. The signal processing of each stage is the
engine's (:mod:`physio.engine`), chosen once from :attr:`PipelineSettings.engine`; reading
files and writing derivatives are :mod:`physio.batch` and :mod:`physio.outputs`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from conditions.bids import WINDOWS_COLUMNS
from conditions.protocol import load_protocol
from physio.ecg import BeatSeries
from physio.eda import EdaResult, eda_window
from physio.eda.eda_decompose import DEFAULT_DECOMPOSE_METHOD
from physio.eda.eda_scr import DEFAULT_SCR_MIN_AMPLITUDE_US
from physio.edits import BEAT_ACTIONS, SCR_ACTIONS, Edit
from physio.edits_apply import (
    EditLog,
    HandStretches,
    StaleEdit,
    apply_beat_edits,
    apply_scr_edits,
    edited_ecg_quality,
    edited_eda_artifacts,
    hand_stretches,
    mark_ecg_unusable,
    numbered,
    stretch_stale,
)
from physio.engine import ENGINES, Engine, make_engine
from physio.engine_soothe import CHUNK_ABOVE_S, DEFAULT_CHUNK_S
from physio.errors import ChannelError, SignalQualityError
from physio.hrv import KEYS as HRV_KEYS
from physio.hrv_phase import VAGAL_INDEX, phase_table
from physio.io.units import require_ecg_rate, to_microsiemens, to_millivolts
from physio.naming import recording_labels
from physio.phases import (
    DEFAULT_MIN_PARTIAL,
    DEFAULT_WINDOW_S,
    PhasePlan,
    PhaseSpan,
    phase_windows,
    phases_from_markers,
)
from physio.recording import Channel, Recording
from physio.rsp import (
    BreathSeries,
    apply_breathing_rule,
    rsp_check_units,
    rsp_methods,
    rsp_window,
)
from physio.rsp.ecg_rsp import DEFAULT_EDR_METHOD
from physio.signal_quality import (
    BeltQuality,
    EcgQuality,
    EdrQuality,
    apply_ecg_verdict,
    beats_with_quality,
    belt_quality_of,
    bridged_channel,
    drop_scrs_near_artifacts,
    ecg_quality_of,
    eda_artifacts_of,
    eda_span_quality,
    edr_quality_of,
    quality_methods,
    scr_rows,
)

EDA_KEYS = ("scl_us", "sc_mean_us", "scr_count", "scr_rate_per_min", "scr_amp_us", "eda_valid",
            "eda_reason")


@dataclass(frozen=True)
class PipelineSettings:
    """Every setting that changes the numbers (hashed into the sidecar).

    Examples
    --------
    >>> PipelineSettings(window_s=30).as_dict()["window_s"]
    30.0
    """

    window_s: float = DEFAULT_WINDOW_S
    min_partial: float = DEFAULT_MIN_PARTIAL
    ecg_channel: str | None = None
    eda_channel: str | None = None
    ecg_units: str | None = None
    eda_units: str | None = None
    rsp_channel: str | None = None
    rsp_units: str | None = None
    #: a name of :data:`physio.engine.ENGINES`: ``soothe`` (default) or ``neurokit2``
    engine: str = "soothe"
    edr_method: str = DEFAULT_EDR_METHOD
    eda_method: str = DEFAULT_DECOMPOSE_METHOD
    scr_min_amplitude_us: float = DEFAULT_SCR_MIN_AMPLITUDE_US
    protocol_path: str | None = None
    participant: str | None = None
    session: str | None = None
    chunk_s: float = DEFAULT_CHUNK_S
    chunk_above_s: float = CHUNK_ABOVE_S

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {tuple(ENGINES)}, got {self.engine!r}")
        object.__setattr__(self, "window_s", float(self.window_s))
        object.__setattr__(self, "min_partial", float(self.min_partial))
        object.__setattr__(self, "scr_min_amplitude_us", float(self.scr_min_amplitude_us))

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class RecordingResult:
    """Everything derived from one recording."""

    participant: str
    session: str
    windows: pd.DataFrame
    beats: pd.DataFrame
    plan: PhasePlan
    eda: EdaResult | None
    ecg_excerpt: dict[str, Any] | None
    info: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: one row per phase (conditions.bids.PHASES_COLUMNS): HF lives here
    phases: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: breaths of the belt (or None) and of the ECG-derived trace (or None), for the QC
    rsp_belt: Any = None
    rsp_ecg: Any = None
    #: one row per counted SCR (conditions.bids.SCR_COLUMNS), written as ``desc-scr``
    scrs: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: what the hand edits did (:meth:`physio.edits_apply.EditLog.summary`); None: no edits
    manual_corrections: dict[str, Any] | None = None

    def quality(self) -> dict[str, Any]:
        """Quality flags for the sidecar and the QC index."""
        w = self.windows
        n = len(w)
        ecg_ok = float(w["ecg_valid"].astype(bool).mean() * 100) if n else 0.0
        eda_ok = float(w["eda_valid"].astype(bool).mean() * 100) if n else 0.0
        corr = float(self.beats["corrected"].mean() * 100) if len(self.beats) else float("nan")
        n_scr = int(len(self.eda.scr_amp_us)) if self.eda is not None else 0
        return {
            "n_windows": n,
            "ecg_valid_pct": round(ecg_ok, 1),
            "eda_valid_pct": round(eda_ok, 1),
            "corrected_pct": round(corr, 2) if np.isfinite(corr) else None,
            "n_beats": int(len(self.beats)),
            "n_scr": n_scr,
            "non_responder": bool(self.eda is not None and n_scr == 0),
            "n_warnings": len(self.warnings),
        }


def recording_ids(rec: Recording, settings: PipelineSettings | None = None) -> tuple[str, str]:
    """(participant label, session label) without prefixes.

    Order: explicit settings, the recording's metadata (BIDS), a ``sub-X_ses-Y`` pattern in
    the file name (or its folders), else the file name without its format suffixes, letters
    and digits only (rules: :func:`physio.naming.recording_labels`).

    Examples
    --------
    >>> from physio.recording import Recording
    >>> recording_ids(Recording({}, Path("/x/sub-07_ses-2_ecg.edf"), "edf"))
    ('07', '2')
    >>> recording_ids(Recording({}, Path("/x/P 12-a.acq"), "acq"))
    ('P12a', '1')
    >>> recording_ids(Recording({}, Path("/x/physio-4.2.0-c.acq"), "acq"))
    ('physio420c', '1')
    """
    settings = settings or PipelineSettings()
    labels = recording_labels(rec.source, rec.meta, participant=settings.participant,
                              session=settings.session)
    return labels.participant, labels.session


@dataclass
class RecordingNotes:
    """What the steps of one recording say about it: warnings and the time of each stage.

    Examples
    --------
    >>> notes = RecordingNotes(Path("/x/sub-1_ecg.csv"))
    >>> notes.where
    'sub-1_ecg.csv'
    >>> with notes.timed("ecg_s"):
    ...     pass
    >>> sorted(notes.timings_s)
    ['ecg_s']
    """

    #: the recording's source file, as given (named in error messages)
    source: Any
    warnings: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def where(self) -> str:
        """The file name that starts each warning."""
        return Path(self.source).name

    @contextmanager
    def timed(self, key: str) -> Iterator[None]:
        """Time the block into ``timings_s[key]`` (seconds)."""
        t0 = time.perf_counter()
        yield
        self.timings_s[key] = time.perf_counter() - t0


@dataclass
class RecordingChannels:
    """The channels one recording is processed from (None: absent), units as settled."""

    ecg: Channel | None
    eda: Channel | None
    rsp: Channel | None


@dataclass
class EcgStage:
    """The ECG channel and its beats, or None for both with the reason in ``reason``;
    ``quality`` holds the per-beat template correlations (:mod:`physio.signal_quality`)."""

    channel: Channel | None
    beats: BeatSeries | None
    reason: str = ""
    quality: EcgQuality | None = None


@dataclass
class EdaStage:
    """The EDA channel and its result (None when absent or unusable: see ``reason``), and
    the artefact intervals (session clock) bridged before the result was computed."""

    channel: Channel | None
    result: EdaResult | None
    reason: str = ""
    artifacts_s: list[tuple[float, float, str]] = field(default_factory=list)


@dataclass
class Breathing:
    """Breaths of the belt and of the ECG-derived trace (either may be None), and what
    judges them (None: not judged, no rate reported from that source)."""

    belt: BreathSeries | None
    edr: BreathSeries | None
    belt_quality: BeltQuality | None = None
    edr_quality: EdrQuality | None = None
    #: stretches marked unusable/usable by hand (None: no edits)
    hand: HandStretches | None = None


def pick_channel(rec: Recording, kind: str, name: str | None) -> Channel | None:
    """The channel named ``name``, else the only channel of ``kind``, else None.

    Raises
    ------
    ChannelError
        No channel called ``name``, or several channels of ``kind`` and no name.

    Examples
    --------
    >>> rec = Recording({"GSR": Channel("GSR", np.ones(10), 10.0, "uS", "eda")},
    ...                 Path("x.csv"), "csv")
    >>> pick_channel(rec, "eda", None).name, pick_channel(rec, "ecg", None)
    ('GSR', None)
    """
    if name:
        if name not in rec.channels:
            raise ChannelError(
                f"{rec.source}: no channel named {name!r} for {kind.upper()}; channels are "
                f"{sorted(rec.channels)}"
            )
        return rec.channels[name]
    if not rec.by_kind(kind):
        return None
    return rec.one_channel(kind)


def recording_channels(rec: Recording, settings: PipelineSettings,
                       notes: RecordingNotes) -> RecordingChannels:
    """The ECG, EDA and respiration channels, with the units the user gave.

    Units given by the user win over the file's (a CSV header rarely carries them). With
    two belts (chest and abdomen are common) the first is used and a warning says so.

    Raises
    ------
    ChannelError
        A named channel that does not exist, two channels of a kind and no name, or
        neither an ECG nor an EDA channel.
    """
    ecg = pick_channel(rec, "ecg", settings.ecg_channel)
    eda = pick_channel(rec, "eda", settings.eda_channel)
    if ecg is not None and settings.ecg_units:
        ecg = dataclasses.replace(ecg, units=settings.ecg_units)
    if eda is not None and settings.eda_units:
        eda = dataclasses.replace(eda, units=settings.eda_units)
    belts = rec.by_kind("rsp") if not settings.rsp_channel else []
    if len(belts) > 1:
        notes.warnings.append(f"{notes.where}: {len(belts)} respiration channels "
                              f"{[c.name for c in belts]}; used {belts[0].name!r} (choose "
                              "one with --rsp-channel NAME)")
    rsp = belts[0] if belts else pick_channel(rec, "rsp", settings.rsp_channel)
    if rsp is not None and settings.rsp_units:
        rsp = dataclasses.replace(rsp, units=settings.rsp_units)
    if ecg is None and eda is None:
        raise ChannelError(
            f"{rec.source}: neither an ECG nor an EDA channel; channels are "
            f"{ {n: c.kind for n, c in rec.channels.items()} }"
        )
    return RecordingChannels(ecg, eda, rsp)


def ecg_millivolts(ecg: Channel) -> Callable[..., np.ndarray]:
    """``convert(data, copy=True)``: samples of ``ecg`` in mV (as they are without units).

    Examples
    --------
    >>> to_mv = ecg_millivolts(Channel("ECG", np.zeros(3), 250.0, "V", "ecg"))
    >>> to_mv(np.array([0.001, 0.002])).tolist()
    [1.0, 2.0]
    """

    def millivolts(data: np.ndarray, copy: bool = True) -> np.ndarray:
        if not ecg.units.strip():
            return data
        return to_millivolts(dataclasses.replace(ecg, data=data), copy=copy)

    return millivolts


def eda_microsiemens(eda: Channel) -> Callable[[np.ndarray], np.ndarray]:
    """``convert(data)``: samples of ``eda`` in microsiemens (from its units)."""

    def microsiemens(data: np.ndarray) -> np.ndarray:
        return to_microsiemens(dataclasses.replace(eda, data=data))

    return microsiemens


def ecg_stage(ecg: Channel | None, engine: Engine, notes: RecordingNotes, *,
              eda_present: bool) -> EcgStage:
    """The engine's beats of the ECG and their quality; an unusable ECG is a warning while
    there is an EDA.

    The quality of the beats (:func:`physio.signal_quality.ecg_quality_of`) is computed
    here from the beats, whatever the engine, so both engines are judged by one definition.

    Raises
    ------
    SignalQualityError, ChannelError
        An unusable ECG (flat, too short, too slow, unknown units) and no EDA channel.
    """
    if ecg is None:
        notes.warnings.append(f"{notes.where}: no ECG channel; HR and HRV are NaN")
        return EcgStage(None, None, "no ECG channel")
    try:
        require_ecg_rate(ecg)
        if not ecg.units.strip():
            notes.warnings.append(
                f"ECG channel {ecg.name!r} has no units; processed in arbitrary units "
                "(R-peak timing does not depend on the amplitude scale)"
            )
        beats = engine.ecg_beats(ecg, ecg_millivolts(ecg))
    except (SignalQualityError, ChannelError) as exc:
        if not eda_present:
            raise
        # the ECG as a whole is unusable: keep the EDA, and say why in every window
        notes.warnings.append(f"{notes.where}: ECG unusable, HR and HRV are NaN: {exc}")
        return EcgStage(None, None, f"ECG unusable: {exc}")
    return EcgStage(ecg, beats, quality=ecg_quality_of(ecg, beats))


def ecg_edit_stage(ecg: EcgStage, log: EditLog) -> EcgStage:
    """The ECG stage with the hand edits of its beats and its stretches applied.

    Beat edits (:func:`physio.edits_apply.apply_beat_edits`), then the stretches marked
    unusable (:func:`physio.edits_apply.mark_ecg_unusable`), then the per-beat quality of
    the edited beats (:func:`physio.edits_apply.edited_ecg_quality`). Without beats every
    beat edit is stale. The stage comes back as it was when there is nothing to apply.
    """
    rows = numbered(log.edits, BEAT_ACTIONS)
    stretches = log.hand.unusable.get("ecg", [])
    if ecg.beats is None:
        log.stale += [StaleEdit(r, e, f"no ECG beats ({ecg.reason})") for r, e in rows]
        return ecg
    if not rows and not stretches:
        return ecg
    edited = apply_beat_edits(ecg.beats, ecg.channel, rows)
    edited = mark_ecg_unusable(edited, stretches, ecg.channel.start_s)
    log.beats = edited
    quality = (edited_ecg_quality(ecg.quality, edited, ecg.channel)
               if ecg.quality is not None else None)
    return dataclasses.replace(ecg, beats=edited.beats, quality=quality)


def eda_stage(eda: Channel | None, engine: Engine, notes: RecordingNotes, ecg: EcgStage, *,
              scr_min_amplitude_us: float, edit_log: EditLog | None = None) -> EdaStage:
    """The engine's EDA result; an unusable EDA is a warning while the ECG gave beats.

    Artefacts (:func:`physio.signal_quality.eda_artifacts_of`) are bridged before the
    engine sees the signal, and no SCR whose rise lies within 1 s of one is kept.

    A recording without any SCR of at least ``scr_min_amplitude_us`` is noted as a
    non-responder (its SCR counts are 0, not missing).

    With ``edit_log``, the hand stretches change the artefacts before the bridge
    (:func:`physio.edits_apply.edited_eda_artifacts`) and the SCR edits are applied to the
    counted SCRs (:func:`physio.edits_apply.apply_scr_edits`); what they did goes into the
    log.

    Raises
    ------
    SignalQualityError, ChannelError
        An unusable EDA and no ECG beats (a ChannelError naming both reasons when the ECG
        was unusable too).
    """
    if eda is None:
        notes.warnings.append(f"{notes.where}: no EDA channel; SCL and SCRs are NaN")
        return EdaStage(None, None, "no EDA channel")
    try:
        to_us = eda_microsiemens(eda)
        artifacts = eda_artifacts_of(eda, to_us)
        if edit_log is not None:
            artifacts = edited_eda_artifacts(artifacts, edit_log.hand)
        bridged = bridged_channel(eda, to_us, artifacts)
        conv = to_us if bridged is eda else eda_microsiemens(bridged)
        found = engine.eda_process(bridged, conv)
        result = drop_scrs_near_artifacts(found, artifacts)
        if edit_log is not None and numbered(edit_log.edits, SCR_ACTIONS):
            edit_log.scrs = apply_scr_edits(found, result, numbered(edit_log.edits,
                                                                    SCR_ACTIONS))
            result = edit_log.scrs.result
    except (SignalQualityError, ChannelError) as exc:
        if ecg.beats is None:
            if ecg.reason.startswith("ECG unusable"):
                raise ChannelError(
                    f"{notes.source}: neither channel is usable; {ecg.reason}; EDA: {exc}"
                ) from None
            raise
        # the EDA as a whole is unusable (unknown units...): keep the ECG
        hint = " (give its units, e.g. --eda-units uS)" if "units" in str(exc) else ""
        notes.warnings.append(f"{notes.where}: EDA unusable, SCL and SCRs are NaN: "
                              f"{exc}{hint}")
        return EdaStage(eda, None, f"EDA unusable: {exc}{hint}")
    if len(result.scr_amp_us) == 0:
        notes.warnings.append(
            f"{notes.where}: no SCR >= {scr_min_amplitude_us} uS in the whole "
            "recording: non-responder (SCR counts are 0, not missing)"
        )
    return EdaStage(eda, result, artifacts_s=artifacts)


def breathing_stage(rsp: Channel | None, ecg: EcgStage, windows: pd.DataFrame,
                    engine: Engine, notes: RecordingNotes, *,
                    hand: HandStretches | None = None) -> Breathing:
    """Breaths of the belt, and of the ECG when some window lacks a belt rate.

    A belt in units it cannot have is an error; a belt too short or flat is noted and the
    ECG-derived estimate fills in where the belt gives no valid rate. The belt's and the
    ECG-derived breaths' judges (:func:`physio.signal_quality.belt_quality_of`,
    :func:`physio.signal_quality.edr_quality_of`) are prepared here. ``hand`` holds the
    stretches marked unusable or usable by hand (see :func:`belt_span`).

    Raises
    ------
    ChannelError
        A belt whose units cannot be a respiration signal (naming file and channel).
    """
    belt = belt_quality = None
    if rsp is not None:
        rsp_check_units(rsp.units, name=rsp.name, source=str(notes.source))
        try:
            belt = engine.rsp_belt(rsp, source=str(notes.source))
            belt_quality = belt_quality_of(rsp)
        except SignalQualityError as exc:
            belt = None
            notes.warnings.append(f"{notes.where}: respiration belt unusable, breathing from "
                                  f"the ECG where possible: {exc}")
    judged = Breathing(belt, None, belt_quality, hand=hand)
    need_edr = belt is None or any(
        not np.isfinite(breathing_span(judged, None, a, b)["resp_rate_bpm"])
        for a, b in zip(windows["start_s"], windows["end_s"], strict=True))
    edr = edr_quality = None
    if need_edr and ecg.beats is not None and ecg.channel is not None:
        try:
            edr = engine.ecg_breathing(ecg.beats, ecg.channel)
            edr_quality = edr_quality_of(ecg.beats, ecg.channel)
        except SignalQualityError as exc:
            notes.warnings.append(f"{notes.where}: no ECG-derived breathing rate: {exc}")
    if belt is None and edr is None:
        notes.warnings.append(f"{notes.where}: no breathing rate (no usable belt or ECG); "
                              "resp_source is n/a and the HF breathing rule cannot be applied")
    return Breathing(belt, edr, belt_quality, edr_quality, hand=hand)


def belt_span(breathing: Breathing, start_s: float, end_s: float) -> dict[str, Any]:
    """The belt's rate of a span, NaN with the reason unless the belt's judge finds
    breathing in it; ``resp_quality`` is the belt quality.

    The engine's breaths (:func:`physio.rsp.rsp_window`) give the depth and the second
    opinion on the rate; the rate reported where the belt is valid is count-adv's
    (:meth:`physio.signal_quality.BeltQuality.rate`), within 1.5/min of the engine's.

    A span overlapping a stretch of the belt marked unusable by hand has no rate; a span
    covered by stretches marked usable is not judged by the belt quality rule (its rate is
    count-adv's, else the engine's, and NaN when neither counts breaths).
    """
    r = dict(rsp_window(breathing.belt, start_s, end_s))
    r["resp_quality"] = np.nan
    if breathing.belt_quality is None:
        return r
    quality, why = breathing.belt_quality.span(start_s, end_s, r["resp_rate_bpm"])
    r["resp_quality"] = quality
    if not np.isfinite(r["resp_rate_bpm"]):
        return r
    hand = breathing.hand
    if hand is not None and hand.overlaps("resp", start_s, end_s):
        r.update(resp_rate_bpm=np.nan, resp_amplitude=np.nan,
                 resp_reason="marked unusable by hand")
    elif why and not (hand is not None and hand.usable_covers("resp", start_s, end_s)):
        r.update(resp_rate_bpm=np.nan, resp_amplitude=np.nan, resp_reason=why)
    else:
        rate = breathing.belt_quality.rate(start_s, end_s)
        r["resp_rate_bpm"] = rate if np.isfinite(rate) or not why else r["resp_rate_bpm"]
    return r


def breathing_span(breathing: Breathing, ecg_quality: EcgQuality | None, start_s: float,
                   end_s: float) -> dict[str, Any]:
    """Breathing rate of a span: the belt's where valid, else the ECG-derived one where its
    two routes agree on a valid ECG, else NaN with every source's reason.

    Returns
    -------
    dict
        ``resp_rate_bpm``, ``resp_amplitude``, ``resp_source``, ``resp_quality`` (the
        belt's), ``resp_valid``, ``resp_reason``, ``edr_quality``.
    """
    nan = float("nan")
    out = {"resp_rate_bpm": nan, "resp_amplitude": nan, "resp_source": "n/a",
           "resp_quality": nan, "edr_quality": nan}
    reasons = []
    if breathing.belt is not None:
        r = belt_span(breathing, start_s, end_s)
        out["resp_quality"] = r["resp_quality"]
        if np.isfinite(r["resp_rate_bpm"]):
            out.update({k: r[k] for k in ("resp_rate_bpm", "resp_amplitude", "resp_source")})
            return {**out, "resp_valid": True, "resp_reason": ""}
        reasons.append(f"belt: {r['resp_reason']}")
    if breathing.edr_quality is not None:
        rate, quality, why = breathing.edr_quality.span(start_s, end_s)
        out["edr_quality"] = quality
        ecg_ok = ecg_quality is None or ecg_quality.span(start_s, end_s)["ecg_valid"]
        if ecg_ok and np.isfinite(rate):
            out.update(resp_rate_bpm=rate, resp_source="ecg")
            return {**out, "resp_valid": True, "resp_reason": ""}
        reasons.append("ECG-derived: " + (why or "the ECG of the span is not valid"))
    if not reasons:
        reasons.append(rsp_window(None, start_s, end_s)["resp_reason"])
    return {**out, "resp_valid": False, "resp_reason": "; ".join(reasons)}


@dataclass
class RecordingSignals:
    """The processed signals of one recording, measured over any span of the session clock.

    Each measure returns the columns of its signal for ``[start_s, end_s)``; a window or a
    phase is one such span (:func:`window_row`, :func:`phases_table`).
    """

    engine: Engine
    ecg: EcgStage
    eda: EdaStage
    breathing: Breathing
    #: stretches marked unusable/usable by hand (None: no edits)
    hand: HandStretches | None = None

    def hrv_span(self, start_s: float, end_s: float) -> dict[str, Any]:
        """The engine's HR and HRV (beats are on the ECG channel's clock: first sample 0).

        A span covered by ECG stretches marked usable by hand keeps the HRV rules' verdict
        but is not judged by the ECG quality rule."""
        offset = self.ecg.channel.start_s
        unsure = self.ecg.quality.uncertain if self.ecg.quality is not None else None
        vals = dict(self.engine.hrv_window(self.ecg.beats, start_s - offset, end_s - offset,
                                           uncertain=unsure))
        if self.ecg.quality is not None:
            verdict = self.ecg.quality.span(start_s, end_s)
            if self.hand is not None and self.hand.usable_covers("ecg", start_s, end_s):
                verdict = {**verdict, "ecg_valid": True, "ecg_reason": ""}
            apply_ecg_verdict(vals, verdict)
        return vals

    def rsp_span(self, start_s: float, end_s: float) -> dict[str, Any]:
        """Breathing rate and depth, with their quality (:func:`breathing_span`)."""
        return breathing_span(self.breathing, self.ecg.quality, start_s, end_s)

    def eda_span(self, start_s: float, end_s: float) -> dict[str, Any]:
        """SCL and SCRs (:func:`physio.eda.eda_window`), NaN with the reason where
        artefacts cover too much of the span; ``eda_quality`` is its artefact-free share."""
        vals = dict(eda_window(self.eda.result, start_s, end_s))
        verdict = eda_span_quality(self.eda.artifacts_s, start_s, end_s)
        vals["eda_quality"] = verdict["eda_quality"]
        if vals["eda_valid"] and not verdict["eda_valid"]:
            vals.update({k: np.nan for k in EDA_KEYS})
            vals.update(eda_valid=False, eda_reason=verdict["eda_reason"])
        return vals


def window_row(w: Any, ids: dict[str, str], signals: RecordingSignals) -> dict[str, Any]:
    """One row of the windows table: ids, the window, and every signal's values.

    ``w`` has ``phase``, ``window``, ``start_s``, ``end_s`` and ``partial`` (a row of
    :func:`physio.phases.phase_windows`). A missing signal gives NaN with its reason; a
    partial window says so in its reasons.
    """
    row: dict[str, Any] = {
        **ids,
        "phase": w.phase,
        "window": int(w.window),
        "start_s": float(w.start_s),
        "end_s": float(w.end_s),
        "partial": bool(w.partial),
    }
    ecg, eda = signals.ecg, signals.eda
    if ecg.beats is not None:
        vals = signals.hrv_span(w.start_s, w.end_s)
        row.update({k: vals.get(k, np.nan) for k in (*HRV_KEYS, "ecg_quality")})
    else:
        row.update({k: np.nan for k in HRV_KEYS})
        row.update(ecg_valid=False, ecg_reason=ecg.reason, hf_valid=False,
                   hf_reason=ecg.reason)
    row.update(signals.rsp_span(w.start_s, w.end_s))
    apply_breathing_rule(row, row["resp_rate_bpm"])  # a rate only where valid, else NaN
    if eda.result is not None:
        row.update(signals.eda_span(w.start_s, w.end_s))
        if row["eda_valid"] and len(eda.result.scr_amp_us) == 0:
            row["eda_reason"] = "non_responder"
    else:
        row.update({k: np.nan for k in EDA_KEYS})
        row.update(eda_valid=False, eda_reason=eda.reason)
    if w.partial:
        note = f"partial window {w.end_s - w.start_s:.0f} s"
        for key in ("ecg_reason", "eda_reason"):
            row[key] = "; ".join(r for r in (row.get(key) or "", note) if r)
    return row


def windows_table(windows: pd.DataFrame, ids: dict[str, str],
                  signals: RecordingSignals) -> pd.DataFrame:
    """The windows table: :func:`window_row` for each window, in the contract's columns.

    ``lnrmssd`` is computed from ``rmssd_ms``; columns of ``conditions.bids.WINDOWS_COLUMNS``
    no stage computed stay NaN (``resp_source``: ``n/a``).
    """
    table = pd.DataFrame([window_row(w, ids, signals)
                          for w in windows.itertuples(index=False)])
    if "rmssd_ms" in table:
        with np.errstate(divide="ignore", invalid="ignore"):
            table["lnrmssd"] = np.log(table["rmssd_ms"].astype(float))
    for col in WINDOWS_COLUMNS:
        if col not in table:
            table[col] = "n/a" if col == "resp_source" else np.nan
    return table[list(WINDOWS_COLUMNS)]


def phases_table(phases: list[PhaseSpan], ids: dict[str, str],
                 signals: RecordingSignals) -> pd.DataFrame:
    """One row per phase (:func:`physio.hrv_phase.phase_table`) from the same signals."""
    breathing = signals.breathing
    return phase_table(
        phases,
        ids,
        hrv=signals.hrv_span if signals.ecg.beats is not None else None,
        rsp=signals.rsp_span if breathing.belt is not None or breathing.edr is not None else None,
        eda=signals.eda_span if signals.eda.result is not None else None,
        ecg_reason=signals.ecg.reason,
        eda_reason=signals.eda.reason,
    )


def beats_table(ecg: EcgStage) -> pd.DataFrame:
    """The beats table on the session clock (empty without beats).

    Examples
    --------
    >>> list(beats_table(EcgStage(None, None, "no ECG channel")).columns)[4:]
    ['reason', 'template_corr', 'qrs_corr', 'low_quality']
    """
    if ecg.beats is not None:  # beat_class / reason / removed beats come from physio.ecg
        return beats_with_quality(ecg.beats.table(offset_s=ecg.channel.start_s), ecg.quality)
    return beats_with_quality(pd.DataFrame(
        {"r_peak_s": [], "rr_ms": [], "corrected": [], "beat_class": [], "reason": []}
    ), None)


def recording_info(signals: RecordingSignals, timings_s: dict[str, float]) -> dict[str, Any]:
    """Methods, channels and bad segments of each stage, for the sidecar."""
    ecg, eda, breathing = signals.ecg, signals.eda, signals.breathing
    info: dict[str, Any] = {"ecg": None, "eda": None,
                            "timings_s": {k: round(v, 3) for k, v in timings_s.items()}}
    if ecg.beats is not None:
        info["ecg"] = {
            "channel": ecg.channel.name,
            "sampling_rate_hz": ecg.channel.sampling_rate,
            "units": ecg.channel.units,
            "method": dict(getattr(ecg.beats, "info", {}) or {}),
            "bad_segments_s": [list(map(float, s[:2])) + list(s[2:])
                               for s in (getattr(ecg.beats, "bad_segments_s", None) or [])],
        }
    info["rsp"] = {"belt": breathing.belt.info if breathing.belt is not None else None,
                   "ecg_derived": breathing.edr.info if breathing.edr is not None else None,
                   "rules": rsp_methods()}
    info["vagal_index"] = VAGAL_INDEX
    info.update(quality_methods(eda.artifacts_s))
    if eda.result is not None:
        info["eda"] = {**eda.result.info, "channel": eda.channel.name,
                       "bad_segments_s": [[a, b, r] for a, b, r in eda.result.bad_segments_s]}
    return info


def ecg_excerpt(plan: PhasePlan, ecg: EcgStage, seconds: float = 10.0) -> dict[str, Any] | None:
    """A short ECG stretch with its beats, for the QC figure (None without beats).

    The stretch starts in the middle of the first phase (not before the ECG starts).
    """
    if ecg.beats is None:
        return None
    channel, beats = ecg.channel, ecg.beats
    first = plan.phases[0].start_s if plan.phases else 0.0
    mid = first + 0.5 * (plan.phases[0].duration_s if plan.phases else 0)
    fs = channel.sampling_rate
    i0 = max(0, int((max(channel.start_s, mid) - channel.start_s) * fs))
    i1 = min(len(channel.data), i0 + int(seconds * fs))
    step = max(1, int(fs // 250))  # 250 Hz is plenty for a 10-s plot
    t = channel.start_s + np.arange(i0, i1, step) / fs
    pk = np.asarray(beats.peaks_s) + channel.start_s
    sel = (pk >= t[0]) & (pk <= t[-1]) if len(t) else np.zeros(0, dtype=bool)
    corrected = np.asarray(beats.corrected, dtype=bool)
    return {
        "t": t,
        "y": channel.data[i0:i1:step],
        "peaks_s": pk[sel],
        "corrected": corrected[sel] if len(corrected) == len(pk) else np.zeros(sel.sum(), bool),
    }


def note_edits(log: EditLog, signals: RecordingSignals, notes: RecordingNotes,
               where: str) -> None:
    """Record the edits no stage could apply (SCR edits without an EDA result, stretches on
    a channel the recording lacks) as stale, and warn of every stale edit."""
    if signals.eda.result is None:
        log.stale += [StaleEdit(r, e, f"no EDA result ({signals.eda.reason})")
                      for r, e in numbered(log.edits, SCR_ACTIONS)]
    present = {"ecg": signals.ecg.beats is not None, "eda": signals.eda.result is not None,
               "resp": signals.breathing.belt is not None}
    log.stale += stretch_stale(log.edits, present)
    notes.warnings += [s.warning(where) for s in log.all_stale()]


def process_recording(
    rec: Recording,
    settings: PipelineSettings | None = None,
    *,
    protocol: Any = None,
    overrides: dict[str, tuple[float, float]] | None = None,
    edits: Sequence[Edit] = (),
    edits_source: str = "edit file",
) -> RecordingResult:
    """Windowed HR, HRV, breathing, SCL and SCRs of one recording, step by step.

    Parameters
    ----------
    rec : Recording
        From :func:`physio.io.read_recording` or built by hand.
    settings : PipelineSettings
    protocol : conditions.protocol.Protocol, optional
        The marker table and phase order (default: the settings' or the shipped protocol).
    overrides : dict, optional
        ``{phase: (start_s, end_s)}`` set by hand.
    edits : sequence of physio.edits.Edit
        The recording's hand edits (:func:`physio.edits.read_edits`), applied in order
        (:mod:`physio.edits_apply`); a stale edit is a warning naming ``edits_source``.

    Returns
    -------
    RecordingResult
        ``windows`` has every column of ``conditions.bids.WINDOWS_COLUMNS``.

    Raises
    ------
    ChannelError
        Neither an ECG nor an EDA channel (or neither usable), or an ECG below 100 Hz.
    PhaseError
        Markers that contradict each other (see :mod:`physio.phases`).
    """
    settings = settings or PipelineSettings()
    protocol = protocol or load_protocol(settings.protocol_path)
    engine = make_engine(settings)
    notes = RecordingNotes(rec.source, [f"reader: {n}" for n in (rec.meta or {}).get(
        "reader_notes", [])])
    participant, session = recording_ids(rec, settings)
    channels = recording_channels(rec, settings, notes)
    plan = phases_from_markers(rec.markers, protocol, duration_s=rec.duration_s,
                               condition=(rec.meta or {}).get("condition"),
                               overrides=overrides, where=notes.where)
    notes.warnings += plan.warnings
    windows = phase_windows(plan.phases, settings.window_s, min_partial=settings.min_partial)
    log = EditLog(list(edits), hand_stretches(edits)) if edits else None
    with notes.timed("ecg_s"):
        ecg = ecg_stage(channels.ecg, engine, notes, eda_present=channels.eda is not None)
        ecg = ecg_edit_stage(ecg, log) if log is not None else ecg
    with notes.timed("eda_s"):
        eda = eda_stage(channels.eda, engine, notes, ecg, edit_log=log,
                        scr_min_amplitude_us=settings.scr_min_amplitude_us)
    with notes.timed("rsp_s"):
        breathing = breathing_stage(channels.rsp, ecg, windows, engine, notes,
                                    hand=log.hand if log is not None else None)
    signals = RecordingSignals(engine, ecg, eda, breathing,
                               hand=log.hand if log is not None else None)
    if log is not None:
        note_edits(log, signals, notes, edits_source)
    ids = {"participant_id": f"sub-{participant}", "session": session,
           "condition": plan.condition}
    with notes.timed("windows_s"):
        windows = windows_table(windows, ids, signals)
    return RecordingResult(
        participant=participant, session=session, windows=windows, beats=beats_table(ecg),
        plan=plan, eda=eda.result, ecg_excerpt=ecg_excerpt(plan, ecg),
        info=recording_info(signals, notes.timings_s), warnings=notes.warnings,
        phases=phases_table(plan.phases, ids, signals), rsp_belt=breathing.belt,
        rsp_ecg=breathing.edr, scrs=scr_rows(eda.result, windows, ids),
        manual_corrections=log.summary() if log is not None else None,
    )
