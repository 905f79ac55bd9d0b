"""One recording as the review page shows it: its tables, and its signals read again from
the source file named in its sidecar.

The derivative tables hold the beats, SCRs and windows but not the signals: those are read
from the recording's source file (the sidecar's provenance ``source``), with the channel
choices and reader options recorded there, exactly as the batch read them. The ECG is shown
band-passed (:func:`physio.ecg.ecg_clean`, the detector's own cleaning) so a wandering
baseline does not hide the beats; the EDA in microsiemens; the belt as the pipeline's
cleaned trace with the breaths it found (:func:`physio.rsp.rsp_belt`).
"""

from __future__ import annotations

import functools
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from conditions.bids import SessionFiles
from conditions.errors import SootheError
from physio.batch.recording import read_input
from physio.ecg import ecg_clean
from physio.edits import Edit, read_edits
from physio.edits_apply import MANUAL
from physio.outputs import PROVENANCE_KEY
from physio.pipeline import ecg_millivolts, eda_microsiemens, pick_channel
from physio.recording import Channel, Recording
from physio.review.catalog import session_files_of
from physio.review.decimate import Trace
from physio.rsp import rsp_belt

#: heart rates outside this range (bpm) make an RR interval implausible on the tachogram;
#: the same range the ECG quality rule uses (sidecar ``ecg_quality.hr_range_bpm``)
PLAUSIBLE_HR_BPM = (40.0, 180.0)
#: how beats are coloured, in legend order
BEAT_CLASSES = ("normal", "ectopic", "corrected", "low_quality", "manual", "removed")


class SourceMissingError(SootheError):
    """The recording's source file (named in its sidecar) is not where it was processed."""


@dataclass
class RecordingTables:
    """A recording's derivative tables and sidecar, as last written by the pipeline."""

    files: SessionFiles
    windows_json: Path
    provenance: dict[str, Any]
    beats: pd.DataFrame
    scr: pd.DataFrame
    windows: pd.DataFrame
    edits: list[Edit]
    eda_artifacts: list[tuple[float, float, str]] = field(default_factory=list)

    @property
    def deriv(self) -> Path:
        return self.files.root

    @property
    def edits_tsv(self) -> Path:
        return self.files.edits_tsv(self.files.root)


@dataclass
class RecordingSignals:
    """The signals of a recording, ready to display (each on the session clock)."""

    source: Path
    ecg: Channel | None  # as read: R-peak snapping works on it
    ecg_mv: Trace | None  # band-passed, in mV
    eda_us: Trace | None
    belt: Trace | None  # the pipeline's cleaned belt trace
    breaths_s: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        ends = [t.end_s for t in (self.ecg_mv, self.eda_us, self.belt) if t is not None]
        return max(ends, default=0.0)


def read_table(path: Path) -> pd.DataFrame:
    """A derivative TSV (``n/a`` = missing); an empty table when the file is absent."""
    if not Path(path).is_file():
        return pd.DataFrame()
    return pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=False)


def as_bool(column: pd.Series) -> np.ndarray:
    """A TSV's true/false column as booleans (missing = False)."""
    return column.astype(str).str.lower().isin(("true", "1")).to_numpy()


def beat_display_class(beats: pd.DataFrame) -> np.ndarray:
    """Each beat's colour class: manual, removed, low_quality, ectopic, corrected or normal.

    A beat placed by hand (an analyst's edit, ``beat_class`` ``manual``) is ``manual``; a
    beat deleted by hand is ``removed`` like any removed beat; a beat whose shape matches
    no heartbeat is ``low_quality``.

    Examples
    --------
    >>> b = pd.DataFrame({"beat_class": ["normal", "ectopic", "missed", "normal", "manual"],
    ...                   "corrected": ["false", "true", "true", "false", "false"],
    ...                   "low_quality": ["false", "false", "false", "true", "false"],
    ...                   "reason": ["", "", "", "", ""]})
    >>> beat_display_class(b).tolist()
    ['normal', 'ectopic', 'corrected', 'low_quality', 'manual']
    """
    n = len(beats)
    cls = beats["beat_class"].astype(str).str.lower() if "beat_class" in beats else \
        pd.Series(["normal"] * n)
    corrected = as_bool(beats["corrected"]) if "corrected" in beats else np.zeros(n, bool)
    low = as_bool(beats["low_quality"]) if "low_quality" in beats else np.zeros(n, bool)
    manual = (cls == MANUAL).to_numpy()
    out = np.full(n, "normal", dtype=object)
    out[corrected] = "corrected"
    out[(cls == "ectopic").to_numpy()] = "ectopic"
    out[low] = "low_quality"
    out[(cls == "removed").to_numpy()] = "removed"
    out[manual] = "manual"
    return out


def tachogram_rr(beats: pd.DataFrame) -> np.ndarray:
    """Each beat's interval (ms) from the previous beat kept, as detected: a missed beat
    shows as a doubled interval and an extra one as a short one, so they stand out on the
    tachogram (the table's ``rr_ms`` holds intervals interpolated over flagged beats).

    A removed beat has none (NaN), nor has a beat whose table interval is missing (the
    first beat, and the first after unusable signal).

    Examples
    --------
    >>> b = pd.DataFrame({"r_peak_s": [1.0, 1.8, 2.0, 3.4, 4.2],
    ...                   "rr_ms": [np.nan, 800.0, 700.0, 700.0, 800.0],
    ...                   "beat_class": ["normal", "normal", "removed", "missed", "normal"]})
    >>> tachogram_rr(b).round().tolist()
    [nan, 800.0, nan, 1600.0, 800.0]
    """
    t = beats["r_peak_s"].to_numpy(float)
    out = np.full(len(t), np.nan)
    kept = np.flatnonzero(beats["beat_class"].astype(str).to_numpy() != "removed") \
        if "beat_class" in beats else np.arange(len(t))
    table = beats["rr_ms"].to_numpy(float) if "rr_ms" in beats else np.ones(len(t))
    if len(kept) > 1:
        out[kept[1:]] = np.diff(t[kept]) * 1000.0
    out[~np.isfinite(table)] = np.nan
    return out


def implausible_rr(rr_ms: np.ndarray) -> np.ndarray:
    """True for an RR interval outside :data:`PLAUSIBLE_HR_BPM` (NaN: False).

    Examples
    --------
    >>> implausible_rr(np.array([800.0, 250.0, 2100.0, np.nan])).tolist()
    [False, True, True, False]
    """
    rr = np.asarray(rr_ms, dtype=float)
    lo, hi = 60000.0 / PLAUSIBLE_HR_BPM[1], 60000.0 / PLAUSIBLE_HR_BPM[0]
    with np.errstate(invalid="ignore"):
        return np.isfinite(rr) & ((rr < lo) | (rr > hi))


def read_tables(windows_json: Path) -> RecordingTables:
    """Read a processed recording's sidecar, beats, SCR and windows tables and its edits."""
    files = session_files_of(windows_json)
    deriv = files.root
    prov = json.loads(Path(windows_json).read_text(encoding="utf-8")).get(PROVENANCE_KEY) or {}
    methods = prov.get("methods") or {}
    artefacts = list((methods.get("eda_artifacts") or {}).get("artifacts_s") or [])
    artefacts += list((methods.get("eda") or {}).get("bad_segments_s") or [])
    return RecordingTables(
        files=files, windows_json=Path(windows_json), provenance=prov,
        beats=read_table(files.beats_tsv(deriv)), scr=read_table(files.scr_tsv(deriv)),
        windows=read_table(files.windows_tsv(deriv)), edits=read_edits(files.edits_tsv(deriv)),
        eda_artifacts=[(float(a[0]), float(a[1]), str(a[2]) if len(a) > 2 else "")
                       for a in artefacts])


def source_recording(provenance: dict[str, Any]) -> Recording:
    """Read the recording's source file as the batch read it (channels, reader options).

    Raises
    ------
    SourceMissingError
        The source named in the sidecar is not there any more (moved or renamed).
    """
    src = Path(str(provenance.get("source", "")))
    if not provenance.get("source") or not src.is_file():
        raise SourceMissingError(
            f"the recording's source file {src} is not there any more (moved or renamed?); "
            "the page needs it to draw the signals. Put it back, or re-process the "
            "recording from its new place with 'soothe physio process'")
    settings = provenance.get("settings") or {}
    reader = provenance.get("reader") or {}
    return read_input(src, settings, reader.get("sampling_rate"), reader.get("column_map"))


def ecg_trace(ecg: Channel) -> Trace:
    """The ECG band-passed as the detector cleans it, in mV (gaps stay NaN)."""
    y = ecg_millivolts(ecg)(ecg.data)
    bad = ~np.isfinite(y)
    filled = np.where(bad, 0.0, y) if bad.any() else y
    clean = ecg_clean(filled, ecg.sampling_rate)
    if bad.any():
        clean[bad] = np.nan
    return Trace(ecg.start_s, ecg.sampling_rate, clean)


def belt_breaths(belt: Channel, units: str | None, source: str) -> tuple[Trace | None,
                                                                         np.ndarray, str]:
    """The belt's cleaned trace and breath onsets (:func:`physio.rsp.rsp_belt`), or the
    reason there are none."""
    try:
        breaths = rsp_belt(belt.data, belt.sampling_rate, units=units or belt.units,
                           name=belt.name, start_s=belt.start_s, source=source)
    except SootheError as exc:
        return None, np.zeros(0), f"belt: no breaths ({exc})"
    t, y = np.asarray(breaths.trace_t, float), np.asarray(breaths.trace_y, float)
    if len(t) < 2:
        return None, np.asarray(breaths.onset_s, float), ""
    fs = 1.0 / float(np.median(np.diff(t)))  # the trace kept for display is thinned
    return Trace(float(t[0]), fs, y), np.asarray(breaths.onset_s, float), ""


def read_signals(provenance: dict[str, Any]) -> RecordingSignals:
    """The displayable signals of a recording (see :func:`source_recording`)."""
    rec = source_recording(provenance)
    settings = provenance.get("settings") or {}
    ecg = pick_channel(rec, "ecg", settings.get("ecg_channel"))
    eda = pick_channel(rec, "eda", settings.get("eda_channel"))
    belts = rec.by_kind("rsp")
    belt = (rec.channels.get(settings["rsp_channel"]) if settings.get("rsp_channel")
            else belts[0] if belts else None)
    notes: list[str] = []
    if ecg is not None and settings.get("ecg_units"):
        ecg = Channel(ecg.name, ecg.data, ecg.sampling_rate, settings["ecg_units"], ecg.kind,
                      ecg.start_s)
    if eda is not None and settings.get("eda_units"):
        eda = Channel(eda.name, eda.data, eda.sampling_rate, settings["eda_units"], eda.kind,
                      eda.start_s)
    eda_tr = None
    if eda is not None:
        try:
            eda_tr = Trace(eda.start_s, eda.sampling_rate, eda_microsiemens(eda)(eda.data))
        except SootheError as exc:
            notes.append(f"EDA not shown: {exc}")
    belt_tr, breaths, why = (belt_breaths(belt, settings.get("rsp_units"), str(rec.source))
                             if belt is not None else (None, np.zeros(0), ""))
    notes += [why] if why else []
    return RecordingSignals(source=Path(rec.source), ecg=ecg,
                            ecg_mv=ecg_trace(ecg) if ecg is not None else None, eda_us=eda_tr,
                            belt=belt_tr, breaths_s=breaths, notes=notes)


#: read recordings kept in memory (one analyst opens one or two at a time)
SIGNAL_CACHE_SIZE = 2
_cache_lock = threading.Lock()


@functools.lru_cache(maxsize=SIGNAL_CACHE_SIZE)
def _cached_signals(source: str, mtime_ns: int, provenance_json: str) -> RecordingSignals:
    return read_signals(json.loads(provenance_json))


def recording_signals(provenance: dict[str, Any]) -> RecordingSignals:
    """:func:`read_signals`, read once per source file (until the file changes).

    Several browser tabs of the same recording, and the page re-opened after a save, share
    one read: reading and cleaning a long recording takes seconds.
    """
    src = Path(str(provenance.get("source", "")))
    mtime = src.stat().st_mtime_ns if src.is_file() else -1
    keep = {k: provenance.get(k) for k in ("source", "settings", "reader")}
    with _cache_lock:
        return _cached_signals(str(src), mtime, json.dumps(keep, sort_keys=True, default=str))
