"""Process one recording: phases, windows, ECG beats and HRV, EDA, all on the session clock.

:func:`process_recording` is the pure core (a Recording in, tables out);
:func:`process_file` reads one input file, processes it and writes its derivatives. It is a
top-level function of plain arguments, so any executor (a process pool, Dask) can run it.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from conditions.bids import WINDOWS_COLUMNS
from physio.eda import EdaResult, eda_process, eda_window
from physio.eda.eda_decompose import DEFAULT_DECOMPOSE_METHOD
from physio.eda.eda_scr import DEFAULT_SCR_MIN_AMPLITUDE_US
from physio.errors import ChannelError, SignalQualityError
from physio.phases import (
    DEFAULT_MIN_PARTIAL,
    DEFAULT_WINDOW_S,
    PhasePlan,
    phase_windows,
    phases_from_markers,
)
from physio.recording import Recording
from physio.rsp.ecg_rsp import DEFAULT_EDR_METHOD

ECG_KEYS = ("hr_bpm", "rmssd_ms", "sdnn_ms", "hf_ms2", "lnhf", "n_beats", "corrected_pct",
            "excluded_diff_pct", "ecg_valid", "ecg_reason", "hf_valid", "hf_reason")
#: Recordings longer than this are processed in chunks of ``chunk_s`` (bounded memory).
CHUNK_ABOVE_S = 3600.0
#: Chunk length for long recordings (30 min of 1000 Hz ECG needs ~150 MB of work arrays).
DEFAULT_CHUNK_S = 1800.0
#: ECG context on each side of a chunk: the QRS detector's thresholds settle within a few
#: seconds and Lipponen-Tarvainen correction looks at +-45 beats, so beats kept from the
#: chunk core are those an unchunked run finds.
CHUNK_OVERLAP_S = 120.0
#: EDA of any length is converted and decimated in blocks of this many seconds (memory).
EDA_BLOCK_S = 300.0
#: Signal-processing engines: soothe's own, or neurokit2's functions (same windows and rules).
ENGINES = ("soothe", "neurokit2")
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
    #: ``soothe`` (default) or ``neurokit2`` (physio.engine_neurokit2: neurokit2's functions)
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
            raise ValueError(f"engine must be one of {ENGINES}, got {self.engine!r}")
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
    from physio.naming import recording_labels

    settings = settings or PipelineSettings()
    labels = recording_labels(rec.source, rec.meta, participant=settings.participant,
                              session=settings.session)
    return labels.participant, labels.session


def _pick(rec: Recording, kind: str, name: str | None):
    if name:
        if name not in rec.channels:
            raise ChannelError(
                f"{rec.source}: no channel named {name!r} for {kind.upper()}; channels are "
                f"{sorted(rec.channels)}"
            )
        return rec.channels[name]
    if not rec.by_kind(kind):
        return None
    return rec._one(kind)


def _ecg_beats(channel, warnings: list[str], settings: PipelineSettings):
    from physio.ecg import ecg_beats
    from physio.io.units import require_ecg_rate, to_millivolts

    require_ecg_rate(channel)
    if not channel.units.strip():
        warnings.append(
            f"ECG channel {channel.name!r} has no units; processed in arbitrary units "
            "(R-peak timing does not depend on the amplitude scale)"
        )

    def millivolts(data: np.ndarray, copy: bool = True) -> np.ndarray:
        if not channel.units.strip():
            return data
        return to_millivolts(dataclasses.replace(channel, data=data), copy=copy)

    if settings.engine == "neurokit2":
        from physio.engine_neurokit2 import nk_beat_series

        return nk_beat_series(millivolts(channel.data), channel.sampling_rate)
    if channel.duration_s <= settings.chunk_above_s:
        # ecg_beats only reads its input: an ECG already in mV is not copied
        return ecg_beats(millivolts(channel.data, copy=False), channel.sampling_rate)
    return ecg_beats_chunked(channel.data, channel.sampling_rate, convert=millivolts,
                             chunk_s=settings.chunk_s)


def ecg_beats_chunked(
    signal: np.ndarray,
    sampling_rate: float,
    *,
    chunk_s: float = DEFAULT_CHUNK_S,
    overlap_s: float = CHUNK_OVERLAP_S,
    convert=None,
):
    """``physio.ecg.ecg_beats`` on a long ECG, chunk by chunk with overlapping context.

    Each chunk is processed with ``overlap_s`` of signal on either side; only the beats in
    its core are kept, with the RR intervals and correction flags computed with that
    context. Memory is bounded by the chunk length, whatever the recording length.

    Examples
    --------
    >>> import numpy as np
    >>> from physio.ecg import ecg_beats
    >>> fs = 250.0
    >>> t = np.arange(0, 600, 1 / fs)
    >>> ecg = np.exp(-(((t % 0.8) - 0.4) ** 2) / 2e-4)
    >>> a = ecg_beats(ecg, fs)
    >>> b = ecg_beats_chunked(ecg, fs, chunk_s=200, overlap_s=30)
    >>> len(a.peaks_s) == len(b.peaks_s), bool(np.allclose(a.peaks_s, b.peaks_s))
    (True, True)
    """
    from physio.ecg import BeatSeries, ecg_beats
    from physio.eda.eda_quality import release_pages

    fs = float(sampling_rate)
    n = len(signal)
    core = max(1, int(chunk_s * fs))
    ctx = int(overlap_s * fs)
    peaks, rrs, flags, bad, parts = [], [], [], [], []
    info: dict[str, Any] = {}
    for a in range(0, n, core):
        b = min(n, a + core)
        lo, hi = max(0, a - ctx), min(n, b + ctx)
        seg = np.array(signal[lo:hi], dtype=np.float64)
        release_pages(signal)
        if convert is not None:
            seg = convert(seg)
        beats = ecg_beats(seg, fs)
        t = np.asarray(beats.peaks_s) + lo / fs
        keep = (t >= a / fs) & (t < b / fs)
        peaks.append(t[keep])
        rrs.append(np.asarray(beats.rr_ms)[keep])
        flags.append(np.asarray(beats.corrected, dtype=bool)[keep])
        parts.append(beats.subset(keep, lo / fs, (a / fs, b / fs)))
        for s, e in beats.bad_segments_s:
            s, e = max(s + lo / fs, a / fs), min(e + lo / fs, b / fs)
            if e > s:
                if bad and abs(bad[-1][1] - s) < 1e-9:
                    bad[-1] = (bad[-1][0], e)
                else:
                    bad.append((s, e))
        info = info or dict(beats.info)
        del seg, beats
    peaks_s = np.concatenate(peaks) if peaks else np.zeros(0)
    corrected = np.concatenate(flags) if flags else np.zeros(0, bool)
    info.update(chunked={"chunk_s": chunk_s, "overlap_s": overlap_s,
                         "n_chunks": int(np.ceil(n / core))},
                n_corrected=int(corrected.sum()))
    return BeatSeries(peaks_s=peaks_s, rr_ms=np.concatenate(rrs) if rrs else np.zeros(0),
                      corrected=corrected, bad_segments_s=bad, info=info,
                      **BeatSeries.join_labels(parts))


def _ecg_excerpt(channel, beats, start_s: float, seconds: float = 10.0) -> dict[str, Any]:
    """A short ECG stretch with its beats, for the QC figure."""
    fs = channel.sampling_rate
    i0 = max(0, int((start_s - channel.start_s) * fs))
    i1 = min(len(channel.data), i0 + int(seconds * fs))
    step = max(1, int(fs // 250))  # 250 Hz is plenty for a 10-s plot
    t = channel.start_s + np.arange(i0, i1, step) / fs
    pk = np.asarray(beats.peaks_s) + channel.start_s if beats is not None else np.zeros(0)
    sel = (pk >= t[0]) & (pk <= t[-1]) if len(t) else np.zeros(0, dtype=bool)
    corrected = np.asarray(beats.corrected, dtype=bool) if beats is not None else sel
    return {
        "t": t,
        "y": channel.data[i0:i1:step],
        "peaks_s": pk[sel],
        "corrected": corrected[sel] if len(corrected) == len(pk) else np.zeros(sel.sum(), bool),
    }


def process_recording(
    rec: Recording,
    settings: PipelineSettings | None = None,
    *,
    protocol: Any = None,
    overrides: dict[str, tuple[float, float]] | None = None,
) -> RecordingResult:
    """Windowed HR, HRV, SCL and SCRs of one recording.

    Parameters
    ----------
    rec : Recording
        From :func:`physio.io.read_recording` or built by hand.
    settings : PipelineSettings
    protocol : conditions.protocol.Protocol, optional
        The marker table and phase order (default: the shipped protocol).
    overrides : dict, optional
        ``{phase: (start_s, end_s)}`` set by hand.

    Returns
    -------
    RecordingResult
        ``windows`` has every column of ``conditions.bids.WINDOWS_COLUMNS`` (+ ``partial``).

    Raises
    ------
    ChannelError
        Neither an ECG nor an EDA channel, or an ECG below 100 Hz.
    PhaseError
        Markers that contradict each other (see :mod:`physio.phases`).
    """
    from conditions.protocol import load_protocol

    settings = settings or PipelineSettings()
    protocol = protocol or load_protocol(settings.protocol_path)
    where = Path(rec.source).name
    participant, session = recording_ids(rec, settings)
    warnings: list[str] = [f"reader: {n}" for n in (rec.meta or {}).get("reader_notes", [])]
    timings: dict[str, float] = {}

    ecg = _pick(rec, "ecg", settings.ecg_channel)
    eda_ch = _pick(rec, "eda", settings.eda_channel)
    # units given by the user win over the file's (a CSV header rarely carries them)
    if ecg is not None and settings.ecg_units:
        ecg = dataclasses.replace(ecg, units=settings.ecg_units)
    if eda_ch is not None and settings.eda_units:
        eda_ch = dataclasses.replace(eda_ch, units=settings.eda_units)
    belts = rec.by_kind("rsp") if not settings.rsp_channel else []
    if len(belts) > 1:
        # two belts (chest and abdomen) are common: use the first, say so, keep going
        warnings.append(f"{where}: {len(belts)} respiration channels "
                        f"{[c.name for c in belts]}; used {belts[0].name!r} (choose one with "
                        "--rsp-channel NAME)")
    rsp_ch = belts[0] if belts else _pick(rec, "rsp", settings.rsp_channel)
    if rsp_ch is not None and settings.rsp_units:
        rsp_ch = dataclasses.replace(rsp_ch, units=settings.rsp_units)
    ecg_why = "no ECG channel" if ecg is None else ""
    eda_why = "no EDA channel" if eda_ch is None else ""
    if ecg is None and eda_ch is None:
        raise ChannelError(
            f"{rec.source}: neither an ECG nor an EDA channel; channels are "
            f"{ {n: c.kind for n, c in rec.channels.items()} }"
        )
    plan = phases_from_markers(
        rec.markers,
        protocol,
        duration_s=rec.duration_s,
        condition=(rec.meta or {}).get("condition"),
        overrides=overrides,
        where=where,
    )
    warnings += plan.warnings
    windows = phase_windows(plan.phases, settings.window_s, min_partial=settings.min_partial)

    t0 = time.perf_counter()
    beats = None
    if ecg is not None:
        try:
            beats = _ecg_beats(ecg, warnings, settings)
        except (SignalQualityError, ChannelError) as exc:
            if eda_ch is None:
                raise
            # the ECG as a whole is unusable (flat, too short, too slow, unknown units):
            # keep the EDA, and say why in every window
            warnings.append(f"{where}: ECG unusable, HR and HRV are NaN: {exc}")
            ecg_why = f"ECG unusable: {exc}"
            ecg = None
    else:
        warnings.append(f"{where}: no ECG channel; HR and HRV are NaN")
    timings["ecg_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    eda = None
    if eda_ch is not None:
        from physio.io.units import to_microsiemens

        def microsiemens(data: np.ndarray) -> np.ndarray:
            return to_microsiemens(dataclasses.replace(eda_ch, data=data))

        # EDA is converted and decimated block by block at any length: the blocks hold
        # whole decimation blocks, so the result is the one of the whole signal at once,
        # without three full-rate copies of it in memory (a 40-min 1000 Hz session: 57 MB)
        long = eda_ch.duration_s > settings.chunk_above_s
        chunk_s = settings.chunk_s if long else EDA_BLOCK_S
        try:
            if settings.engine == "neurokit2":
                from physio.engine_neurokit2 import nk_eda_process

                eda = nk_eda_process(microsiemens(eda_ch.data), eda_ch.sampling_rate,
                                     start_s=eda_ch.start_s,
                                     scr_min_amplitude_us=settings.scr_min_amplitude_us)
            else:
                eda = eda_process(
                    eda_ch.data,
                    eda_ch.sampling_rate,
                    units=eda_ch.units,
                    start_s=eda_ch.start_s,
                    name=eda_ch.name,
                    method=settings.eda_method,
                    scr_min_amplitude_us=settings.scr_min_amplitude_us,
                    convert=microsiemens,
                    chunk_samples=int(chunk_s * eda_ch.sampling_rate),
                )
        except (SignalQualityError, ChannelError) as exc:
            if beats is None:
                if ecg_why.startswith("ECG unusable"):
                    raise ChannelError(
                        f"{rec.source}: neither channel is usable; {ecg_why}; EDA: {exc}"
                    ) from None
                raise
            # the EDA as a whole is unusable (unknown units...): keep the ECG
            hint = " (give its units, e.g. --eda-units uS)" if "units" in str(exc) else ""
            warnings.append(f"{where}: EDA unusable, SCL and SCRs are NaN: {exc}{hint}")
            eda_why = f"EDA unusable: {exc}{hint}"
        if eda is not None and len(eda.scr_amp_us) == 0:
            warnings.append(
                f"{where}: no SCR >= {settings.scr_min_amplitude_us} uS in the whole "
                "recording: non-responder (SCR counts are 0, not missing)"
            )
    else:
        warnings.append(f"{where}: no EDA channel; SCL and SCRs are NaN")
    timings["eda_s"] = time.perf_counter() - t0

    from physio.hrv_phase import VAGAL_INDEX, phase_table
    from physio.rsp import apply_breathing_rule, rsp_methods

    t0 = time.perf_counter()
    belt, edr = _breathing(rec, rsp_ch, ecg, beats, windows, settings, warnings)
    timings["rsp_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    rows = []
    from physio.hrv import hrv_window

    if settings.engine == "neurokit2":
        from physio.engine_neurokit2 import nk_hrv_window as hrv_window
    for w in windows.itertuples(index=False):
        row: dict[str, Any] = {
            "participant_id": f"sub-{participant}",
            "session": session,
            "condition": plan.condition,
            "phase": w.phase,
            "window": int(w.window),
            "start_s": float(w.start_s),
            "end_s": float(w.end_s),
            "partial": bool(w.partial),
        }
        if beats is not None:
            # beats are on the ECG channel's clock (first sample = 0)
            vals = hrv_window(beats, w.start_s - ecg.start_s, w.end_s - ecg.start_s)
            row.update({k: vals.get(k, np.nan) for k in ECG_KEYS})
        else:
            row.update({k: np.nan for k in ECG_KEYS})
            row.update(ecg_valid=False, ecg_reason=ecg_why, hf_valid=False, hf_reason=ecg_why)
        row.update(_rsp_span(belt, edr, w.start_s, w.end_s))
        apply_breathing_rule(row, row["resp_rate_bpm"])
        if eda is not None:
            row.update(eda_window(eda, w.start_s, w.end_s))
            if row["eda_valid"] and len(eda.scr_amp_us) == 0:
                row["eda_reason"] = "non_responder"
        else:
            row.update({k: np.nan for k in EDA_KEYS})
            row.update(eda_valid=False, eda_reason=eda_why)
        if w.partial:
            note = f"partial window {w.end_s - w.start_s:.0f} s"
            for key in ("ecg_reason", "eda_reason"):
                row[key] = "; ".join(r for r in (row.get(key) or "", note) if r)
        rows.append(row)
    table = pd.DataFrame(rows)
    # columns of the contract this engine does not compute yet stay NaN / n/a
    if "rmssd_ms" in table:
        with np.errstate(divide="ignore", invalid="ignore"):
            table["lnrmssd"] = np.log(table["rmssd_ms"].astype(float))
    for col in WINDOWS_COLUMNS:
        if col not in table:
            table[col] = "n/a" if col == "resp_source" else np.nan
    table = table[list(WINDOWS_COLUMNS)]
    timings["windows_s"] = time.perf_counter() - t0
    phases = phase_table(
        plan.phases,
        {"participant_id": f"sub-{participant}", "session": session,
         "condition": plan.condition},
        hrv=(lambda a, b: hrv_window(beats, a - ecg.start_s, b - ecg.start_s))
        if beats is not None else None,
        rsp=(lambda a, b: _rsp_span(belt, edr, a, b))
        if belt is not None or edr is not None else None,
        eda=(lambda a, b: eda_window(eda, a, b)) if eda is not None else None,
        ecg_reason=ecg_why, eda_reason=eda_why,
    )

    if beats is not None:  # beat_class / reason / removed beats come from physio.ecg
        beats_table = beats.table(offset_s=ecg.start_s)
    else:
        beats_table = pd.DataFrame(
            {"r_peak_s": [], "rr_ms": [], "corrected": [], "beat_class": [], "reason": []}
        )

    info: dict[str, Any] = {
        "ecg": None,
        "eda": eda.info if eda is not None else None,
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
    }
    if ecg is not None:
        info["ecg"] = {
            "channel": ecg.name,
            "sampling_rate_hz": ecg.sampling_rate,
            "units": ecg.units,
            "method": dict(getattr(beats, "info", {}) or {}),
            "bad_segments_s": [list(map(float, s[:2])) + list(s[2:])
                               for s in (getattr(beats, "bad_segments_s", None) or [])],
        }
    info["rsp"] = {"belt": belt.info if belt is not None else None,
                   "ecg_derived": edr.info if edr is not None else None,
                   "rules": rsp_methods()}
    info["vagal_index"] = VAGAL_INDEX
    if eda is not None:
        info["eda"] = {**eda.info, "channel": eda_ch.name,
                       "bad_segments_s": [[a, b, r] for a, b, r in eda.bad_segments_s]}
    excerpt = None
    if ecg is not None:
        first = plan.phases[0].start_s if plan.phases else 0.0
        mid = first + 0.5 * (plan.phases[0].duration_s if plan.phases else 0)
        excerpt = _ecg_excerpt(ecg, beats, max(ecg.start_s, mid))
    return RecordingResult(
        participant=participant,
        session=session,
        windows=table,
        beats=beats_table,
        plan=plan,
        eda=eda,
        ecg_excerpt=excerpt,
        info=info,
        warnings=warnings,
        phases=phases,
        rsp_belt=belt,
        rsp_ecg=edr,
    )


def _rsp_span(belt, edr, start_s: float, end_s: float) -> dict[str, Any]:
    """Breathing of a window or phase: from the belt, else from the ECG, else n/a."""
    from physio.rsp import rsp_window

    r = rsp_window(belt, start_s, end_s) if belt is not None else None
    if (r is None or not np.isfinite(r["resp_rate_bpm"])) and edr is not None:
        r = rsp_window(edr, start_s, end_s)
    r = r or rsp_window(None, start_s, end_s)
    return {k: r[k] for k in ("resp_rate_bpm", "resp_amplitude", "resp_source")}


def _breathing(rec: Recording, rsp_ch, ecg, beats, windows: pd.DataFrame,
               settings: PipelineSettings, warnings: list[str]):
    """(belt breaths or None, ECG-derived breaths or None) of one recording.

    A belt in units it cannot have is an error (ChannelError naming file and channel); a
    belt too short or flat is noted and the ECG-derived estimate fills in. The ECG-derived
    trace is computed only when some window lacks a belt rate.
    """
    from physio.rsp import ecg_rsp, rsp_belt, rsp_check_units, rsp_window

    where = Path(rec.source).name
    belt = None
    if rsp_ch is not None:
        rsp_check_units(rsp_ch.units, name=rsp_ch.name, source=str(rec.source))
        try:
            belt_fn = rsp_belt
            if settings.engine == "neurokit2":
                from physio.engine_neurokit2 import nk_rsp_belt as belt_fn
            belt = belt_fn(rsp_ch.data, rsp_ch.sampling_rate, units=rsp_ch.units,
                            name=rsp_ch.name, start_s=rsp_ch.start_s, source=str(rec.source))
        except SignalQualityError as exc:
            warnings.append(f"{where}: respiration belt unusable, breathing from the ECG "
                            f"where possible: {exc}")
    need_edr = belt is None or any(
        not np.isfinite(rsp_window(belt, a, b)["resp_rate_bpm"])
        for a, b in zip(windows["start_s"], windows["end_s"], strict=True))
    edr = None
    if need_edr and beats is not None and ecg is not None:
        try:
            edr = ecg_rsp(beats.peaks_s, beats.rr_ms, beats.corrected, ecg=ecg.data,
                          sampling_rate=ecg.sampling_rate, method=settings.edr_method,
                          start_s=ecg.start_s)
        except SignalQualityError as exc:
            warnings.append(f"{where}: no ECG-derived breathing rate: {exc}")
    if belt is None and edr is None:
        warnings.append(f"{where}: no breathing rate (no usable belt or ECG); "
                        "resp_source is n/a and the HF breathing rule cannot be applied")
    return belt, edr
