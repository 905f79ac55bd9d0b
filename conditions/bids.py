"""The data contract: every path and table schema of a soothe dataset, defined once.

The session runner and the simulator write through this module; the physiology pipeline
and the analysis read through it. The layout is BIDS (raw data) and BIDS-Derivatives
(pipeline outputs)::

    RAW/
      dataset_description.json  README  participants.tsv  participants.json
      task-<task>_events.json   task-<task>_beh.json       (inherited sidecars)
      sub-<id>/ses-<n>/beh/
        sub-<id>_ses-<n>_task-<task>_beh.tsv          questionnaire responses
        sub-<id>_ses-<n>_task-<task>_events.tsv       markers (value = marker code)
        sub-<id>_ses-<n>_task-<task>_physio.tsv.gz    ECG and EDA, no header
        sub-<id>_ses-<n>_task-<task>_physio.json      SamplingFrequency, StartTime, Columns
      sourcedata/                                     allocation DB, ground truth, logs
    DERIV/                                            (BIDS derivatives, GeneratedBy soothe)
      sub-<id>/ses-<n>/beh/
        ..._desc-windows_physio.tsv  (+ .json sidecar: methods, parameters, versions, hash)
        ..._desc-beats_physio.tsv    ..._desc-phases_physio.tsv    ..._desc-scr_physio.tsv
        ..._events.tsv               (the windows as BIDS events: onset, duration, phase)
      group/desc-windows_physio.tsv  group/desc-windows_physio.parquet
      qc/sub-<id>_ses-<n>_qc.png     qc/index.html
      failures.tsv                   log/
      dataset_description.json  README  .bidsignore (qc/, group/, log/, failures.tsv, *_desc-*)

Times in ``_events.tsv`` and ``_physio.json`` (``StartTime``) are seconds on one session
clock whose zero is the first physiology sample.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from conditions.errors import DatasetError
from conditions.protocol import load_protocol

BIDS_VERSION = "1.9.0"
LABEL_RE = re.compile(r"^[A-Za-z0-9]+$")

# --------------------------------------------------------------------------------------
# Table schemas: column -> (description, units or None). Order is the on-disk order.
# --------------------------------------------------------------------------------------

PARTICIPANTS_COLUMNS: dict[str, tuple[str, str | None]] = {
    "participant_id": ("BIDS participant label, 'sub-<id>'", None),
    "age": ("Age in years at the session", "year"),
    "sex": ("Sex or gender as reported in the start dialog (stratum)", None),
    "condition": (
        "Allocated induction condition. Only in unblinded datasets (simulated ones): a real "
        "study's participants.tsv has no such column, the condition stays in the allocation "
        "database until 'soothe allocation export --unblind' writes "
        "sourcedata/allocation_unblinded.tsv",
        None,
    ),
    "session_code": ("Neutral session code shown to the experimenter", None),
    "status": ("Session status: complete, incomplete (aborted or crashed) or n/a", None),
}
#: Columns of participants.tsv that only an unblinded dataset has (written only when a row
#: carries a real value for them, or the file already has them).
PARTICIPANTS_UNBLINDED_ONLY: tuple[str, ...] = ("condition",)
#: participants.tsv of a real (blinded) study: no condition column.
PARTICIPANTS_BLINDED_COLUMNS: dict[str, tuple[str, str | None]] = {
    k: v for k, v in PARTICIPANTS_COLUMNS.items() if k not in PARTICIPANTS_UNBLINDED_ONLY
}
#: ``sourcedata/allocation_unblinded.tsv``, written by ``soothe allocation export --unblind``.
ALLOCATION_UNBLINDED_COLUMNS: dict[str, tuple[str, str | None]] = {
    "participant_id": ("BIDS participant label, 'sub-<id>'", None),
    "condition": ("Allocated induction condition (unblinded)", None),
}

BEH_COLUMNS: dict[str, tuple[str, str | None]] = {
    "phase": ("Protocol phase in which the item was answered", None),
    "questionnaire": ("Questionnaire name from the protocol", None),
    "item_id": ("Item identifier from the item file", None),
    "construct": ("Construct the item measures", None),
    "reversed": ("True when the item is reverse-keyed (rating is stored unreversed)", None),
    "position": ("1-based position of the item in the order shown", None),
    "onset": ("Item onset on the session clock", "s"),
    "rating": ("Rating on the item's own scale (min..max), as given", None),
    "response_time": ("Time from item onset to the confirming response", "s"),
    "scale_min": ("Lowest possible rating", None),
    "scale_max": ("Highest possible rating", None),
}

EVENTS_COLUMNS: dict[str, tuple[str, str | None]] = {
    "onset": ("Event onset on the session clock (zero = first physiology sample)", "s"),
    "duration": ("Event duration (0 for instantaneous markers)", "s"),
    "trial_type": ("Marker label from the protocol's marker table", None),
    "value": ("Marker code (1-255) as sent to the recorder", None),
    "psychopy_time": ("PsychoPy clock time when the marker was sent", "s"),
    "lsl_time": ("LSL clock time (pylsl.local_clock) when the marker was sent", "s"),
}

#: Windowed physiology (per recording, and concatenated in the group table).
#: Per-minute rows: ln RMSSD is the per-minute vagal index (Laborde et al., 2017). HF needs
#: at least 120 s (Task Force, 1996: 1 min absolute minimum), so in 60-s windows hf_ms2 is
#: NaN with a reason and HF is reported per phase (PHASES_COLUMNS) and in windows >= 120 s.
WINDOWS_COLUMNS: dict[str, tuple[str, str | None]] = {
    "participant_id": ("BIDS participant label, 'sub-<id>'", None),
    "session": ("Session label", None),
    "condition": ("Allocated condition", None),
    "phase": ("Protocol phase", None),
    "window": ("1-based window index within the phase (minute n for 60 s windows)", None),
    "start_s": ("Window start on the session clock", "s"),
    "end_s": ("Window end on the session clock", "s"),
    "partial": (
        "True for a phase's last remainder shorter than the nominal window length; the "
        "analysis leaves partial windows out",
        None,
    ),
    "hr_bpm": ("Mean heart rate from the normal-to-normal RR series", "bpm"),
    "rmssd_ms": ("Root mean square of successive normal-to-normal RR differences", "ms"),
    "lnrmssd": ("Natural log of rmssd_ms (the per-minute vagal index)", "ln(ms)"),
    "sdnn_ms": ("Standard deviation of normal-to-normal RR intervals", "ms"),
    "hf_ms2": ("High-frequency HRV power, 0.15-0.40 Hz", "ms²"),
    "lnhf": ("Natural log of hf_ms2", "ln(ms²)"),
    "n_beats": ("Number of beats in the window", None),
    "corrected_pct": ("Percentage of beats flagged by the beat correction", "%"),
    "excluded_diff_pct": (
        "Percentage of successive RR differences excluded (artefact, ectopic beat or gap)",
        "%",
    ),
    "ecg_quality": (
        "ECG quality 0-1: median correlation of the window's beats with their QRS template "
        "(Orphanidou et al. 2015); the window is ECG-invalid below 0.66, when more than 20 % "
        "of its detections match no beat shape, when beats cover less than half of it or "
        "when its heart rate is outside 40-180 bpm (rules in the sidecar's ecg_quality)",
        None,
    ),
    "ecg_valid": ("True when the HR/HRV values of the window are valid", None),
    "ecg_reason": ("Why HR/HRV values are NaN or flagged ('' when valid)", None),
    "hf_valid": ("True when HF power is valid for this window", None),
    "hf_reason": ("Why HF power is NaN ('' when valid)", None),
    "resp_rate_bpm": ("Median breathing rate", "breaths/min"),
    "resp_amplitude": ("Median breath depth, belt only (in the belt's units)", None),
    "resp_source": ("Where the breathing rate comes from: belt, ecg or n/a", None),
    "resp_quality": (
        "Belt quality 0-1 (NaN without a belt): agreement of two breath counters (count-adv, "
        "Schäfer & Kratky 2008, and the engine's), 0 when the belt is quiet or carries noise; "
        "the belt gives no rate unless valid (rules in the sidecar's rsp_quality)",
        None,
    ),
    "resp_valid": ("True when resp_rate_bpm holds a valid breathing rate", None),
    "resp_reason": ("Why resp_rate_bpm is NaN, per source ('' when valid)", None),
    "edr_quality": (
        "ECG-derived breathing quality 0-1 (NaN when not computed): agreement of its RSA and "
        "QRS-amplitude rates; the ECG-derived rate is reported only where they agree within "
        "1.5/min",
        None,
    ),
    "scl_us": ("Skin conductance level: mean of the tonic (SCR-free) EDA", "µS"),
    "sc_mean_us": ("Mean raw skin conductance over the window", "µS"),
    "scr_count": ("Number of SCRs above the amplitude threshold", None),
    "scr_rate_per_min": ("SCR rate", "1/min"),
    "scr_amp_us": ("Mean SCR amplitude", "µS"),
    "eda_quality": (
        "EDA quality 0-1: artefact-free share of the window (range and slope rules, "
        "Kleckner et al. 2018); EDA-invalid below 0.5 (rules in the sidecar's eda_artifacts)",
        None,
    ),
    "eda_valid": ("True when the EDA values of the window are valid", None),
    "eda_reason": ("Why EDA values are NaN or flagged ('' when valid)", None),
}

#: Phase-level physiology (per recording, and concatenated in the group table): one row per
#: protocol phase (the 5-min baseline, the whole induction, recovery...). HF is computed here.
PHASES_COLUMNS: dict[str, tuple[str, str | None]] = {
    "participant_id": ("BIDS participant label, 'sub-<id>'", None),
    "session": ("Session label", None),
    "condition": ("Allocated condition", None),
    "phase": ("Protocol phase", None),
    "start_s": ("Phase start on the session clock", "s"),
    "end_s": ("Phase end on the session clock", "s"),
    "hr_bpm": ("Mean heart rate from the normal-to-normal RR series", "bpm"),
    "rmssd_ms": ("Root mean square of successive normal-to-normal RR differences", "ms"),
    "lnrmssd": ("Natural log of rmssd_ms", "ln(ms)"),
    "sdnn_ms": ("Standard deviation of normal-to-normal RR intervals", "ms"),
    "hf_ms2": ("High-frequency HRV power, 0.15-0.40 Hz", "ms²"),
    "lnhf": ("Natural log of hf_ms2", "ln(ms²)"),
    "n_beats": ("Number of beats in the phase", None),
    "excluded_diff_pct": (
        "Percentage of successive RR differences excluded (artefact, ectopic beat or gap)",
        "%",
    ),
    "ecg_valid": ("True when the HR/HRV values of the phase are valid", None),
    "ecg_reason": ("Why HR/HRV values are NaN or flagged ('' when valid)", None),
    "hf_valid": ("True when HF power is valid for this phase", None),
    "hf_reason": ("Why HF power is NaN ('' when valid), e.g. 'breathing below the HF band'", None),
    "resp_rate_bpm": ("Median breathing rate", "breaths/min"),
    "resp_amplitude": ("Median breath depth, belt only (in the belt's units)", None),
    "resp_source": ("Where the breathing rate comes from: belt, ecg or n/a", None),
    "scl_us": ("Skin conductance level: mean of the tonic (SCR-free) EDA", "µS"),
    "sc_mean_us": ("Mean raw skin conductance over the phase", "µS"),
    "scr_rate_per_min": ("SCR rate", "1/min"),
    "eda_valid": ("True when the EDA values of the phase are valid", None),
    "eda_reason": ("Why EDA values are NaN or flagged ('' when valid)", None),
}

def column_dtypes(schema: Mapping[str, Any], *, text: Sequence[str] = (),
                  integer: Sequence[str] = (), boolean: Sequence[str] = ()) -> dict[str, str]:
    """The pandas dtype of each column of ``schema``: what a value of the column is.

    ``text`` columns are nullable strings (a label such as session ``'01'`` stays text),
    ``integer`` columns nullable integers (``Int64``) and ``boolean`` columns nullable
    booleans: nullable because a value can be missing (``n/a``) in any row. Every other
    column is ``float64``. A table written per recording and the group table concatenating
    them use the same dtypes, so they hold the same values and the same text.

    Examples
    --------
    >>> column_dtypes({"phase": 0, "window": 0, "hr_bpm": 0, "ecg_valid": 0},
    ...               text=["phase"], integer=["window"], boolean=["ecg_valid"])
    {'phase': 'string', 'window': 'Int64', 'hr_bpm': 'float64', 'ecg_valid': 'boolean'}
    """
    kinds = {**{c: "string" for c in text}, **{c: "Int64" for c in integer},
             **{c: "boolean" for c in boolean}}
    unknown = [c for c in kinds if c not in schema]
    if unknown:
        raise ValueError(f"column_dtypes: {unknown} not in the schema {list(schema)}")
    return {c: kinds.get(c, "float64") for c in schema}


#: Label and reason columns of the windows and phases tables (text).
_SUMMARY_TEXT = ("participant_id", "session", "condition", "phase", "ecg_reason", "hf_reason",
                 "resp_source", "eda_reason")
#: dtype of each column of WINDOWS_COLUMNS (per recording and in the group table).
WINDOWS_DTYPES: dict[str, str] = column_dtypes(
    WINDOWS_COLUMNS, text=(*_SUMMARY_TEXT, "resp_reason"),
    integer=("window", "n_beats", "scr_count"),
    boolean=("partial", "ecg_valid", "hf_valid", "eda_valid", "resp_valid"))
#: dtype of each column of PHASES_COLUMNS (per recording and in the group table).
PHASES_DTYPES: dict[str, str] = column_dtypes(
    PHASES_COLUMNS, text=_SUMMARY_TEXT, integer=("n_beats",),
    boolean=("ecg_valid", "hf_valid", "eda_valid"))

BEATS_COLUMNS: dict[str, tuple[str, str | None]] = {
    "r_peak_s": ("R-peak time on the session clock", "s"),
    "rr_ms": ("RR interval ending at this beat (NaN for the first beat)", "ms"),
    "corrected": ("True when the beat was inserted, moved or its interval interpolated", None),
    "beat_class": (
        "normal, ectopic (premature or compensatory interval), missed, extra, removed, or "
        "manual (added or moved by hand: the recording's edit file)",
        None,
    ),
    "reason": ("Why the beat was flagged, removed or edited ('' for a normal beat)", None),
    "template_corr": (
        "Correlation of the beat (0.2 s before to 0.4 s after the R peak) with the median "
        "beat of its 60-s block, on the ECG band-passed to 0.5-25 Hz (NaN: removed beat, "
        "edge, or too few beats in the block)",
        None,
    ),
    "qrs_corr": ("Correlation of the beat's QRS (±0.08 s) with the template's", None),
    "low_quality": (
        "True when neither correlation reaches 0.5 and the beat is not classified ectopic: "
        "a detection that does not look like the recording's heartbeats",
        None,
    ),
}

#: Skin conductance responses (per recording): one row per counted SCR. SCRs whose rise lies
#: within 1 s of an EDA artefact are not counted and not listed.
SCR_COLUMNS: dict[str, tuple[str, str | None]] = {
    "participant_id": ("BIDS participant label, 'sub-<id>'", None),
    "session": ("Session label", None),
    "condition": ("Allocated condition", None),
    "phase": ("Protocol phase of the window holding the SCR's peak ('n/a': none)", None),
    "window": ("Window (within the phase) holding the SCR's peak, as in the windows table",
               None),
    "onset_s": ("SCR onset on the session clock", "s"),
    "peak_s": ("SCR peak on the session clock", "s"),
    "amplitude_us": ("SCR amplitude, onset to peak", "µS"),
    "rise_time_s": ("Rise time, onset to peak", "s"),
}

#: Hand edits of one recording (``..._desc-edits_physio.tsv``), one row per edit, applied in
#: file order every time the recording is processed. Times are on the session clock, the
#: clock of the beats' ``r_peak_s``, the SCRs' ``peak_s`` and the windows' ``start_s``.
EDITS_COLUMNS: dict[str, tuple[str, str | None]] = {
    "action": ("add_beat, delete_beat, move_beat, mark_unusable, mark_usable, delete_scr, "
               "restore_scr or reviewed", None),
    "channel": ("ecg (beats), eda (SCRs), ecg/eda/resp/all (stretches), all (reviewed)", None),
    "time_s": ("The beat deleted or moved, the click of an added beat (snapped to the local "
               "R peak when applied), the SCR's peak, or a stretch's start; n/a for reviewed",
               "s"),
    "end_s": ("A stretch's end (mark_unusable, mark_usable), else n/a", "s"),
    "new_time_s": ("Where a moved beat goes (move_beat), else n/a", "s"),
    "author": ("Who made the edit", None),
    "created": ("When the edit was made (ISO 8601, UTC, seconds)", None),
    "note": ("Free text (may be empty)", None),
}

FAILURES_COLUMNS: dict[str, tuple[str, str | None]] = {
    "source": ("Input file that failed", None),
    "error_type": ("Error class", None),
    "message": ("What was wrong", None),
    "time": ("When the failure happened (ISO 8601)", None),
}

#: Canonical physio column names (BIDS recommends 'cardiac' and 'eda'-like names; we keep
#: explicit signal names and give units per column in the sidecar).
PHYSIO_ECG = "ecg"
PHYSIO_EDA = "eda"
#: Respiration belt column: BIDS names the breathing channel 'respiratory'.
PHYSIO_RSP = "respiratory"


def columns_sidecar(schema: Mapping[str, tuple[str, str | None]]) -> dict[str, Any]:
    """A BIDS column-description sidecar for a schema.

    Examples
    --------
    >>> columns_sidecar(BEATS_COLUMNS)["rr_ms"]["Units"]
    'ms'
    """
    out: dict[str, Any] = {}
    for name, (description, units) in schema.items():
        entry: dict[str, Any] = {"Description": description}
        if units:
            entry["Units"] = units
        out[name] = entry
    return out


# --------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------


def check_label(value: str, what: str) -> str:
    """Validate a BIDS label (alphanumeric only) and return it."""
    value = str(value)
    if value.startswith("sub-") and what == "participant":
        value = value[4:]
    if value.startswith("ses-") and what == "session":
        value = value[4:]
    if not LABEL_RE.match(value):
        raise DatasetError(
            f"{what} label {value!r} is not a valid BIDS label: letters and digits only"
        )
    return value


@dataclass(frozen=True)
class SessionFiles:
    """Every file of one participant session, in the raw dataset and its derivatives.

    Parameters
    ----------
    root : Path
        The raw dataset root.
    subject : str
        Participant label without ``sub-``.
    session : str
        Session label without ``ses-``.
    task : str
        BIDS task label (the protocol's ``study.task``).

    Examples
    --------
    >>> f = SessionFiles(Path("/data"), "001", "1", "induction")
    >>> f.events_tsv.name
    'sub-001_ses-1_task-induction_events.tsv'
    >>> f.windows_tsv(Path("/deriv")).as_posix()
    '/deriv/sub-001/ses-1/beh/sub-001_ses-1_task-induction_desc-windows_physio.tsv'
    """

    root: Path
    subject: str
    session: str
    task: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))
        object.__setattr__(self, "subject", check_label(self.subject, "participant"))
        object.__setattr__(self, "session", check_label(self.session, "session"))
        object.__setattr__(self, "task", check_label(self.task, "task"))

    @property
    def participant_id(self) -> str:
        return f"sub-{self.subject}"

    @property
    def prefix(self) -> str:
        return f"sub-{self.subject}_ses-{self.session}_task-{self.task}"

    def _rel_dir(self) -> Path:
        return Path(f"sub-{self.subject}") / f"ses-{self.session}" / "beh"

    @property
    def beh_dir(self) -> Path:
        return self.root / self._rel_dir()

    @property
    def beh_tsv(self) -> Path:
        return self.beh_dir / f"{self.prefix}_beh.tsv"

    @property
    def events_tsv(self) -> Path:
        return self.beh_dir / f"{self.prefix}_events.tsv"

    @property
    def physio_tsv_gz(self) -> Path:
        return self.beh_dir / f"{self.prefix}_physio.tsv.gz"

    @property
    def physio_json(self) -> Path:
        return self.beh_dir / f"{self.prefix}_physio.json"

    # sourcedata (ignored by the validator): per-session extras
    @property
    def sourcedata_dir(self) -> Path:
        return self.root / "sourcedata" / f"sub-{self.subject}" / f"ses-{self.session}"

    def ground_truth(self, kind: str) -> Path:
        """Simulator ground truth: kind is 'beats', 'minutes' or 'windows'."""
        return self.root / "sourcedata" / "ground_truth" / f"{self.prefix}_truth-{kind}.tsv"

    # derivatives
    def derivative(self, deriv_root: Path, desc: str, ext: str = ".tsv") -> Path:
        return Path(deriv_root) / self._rel_dir() / f"{self.prefix}_desc-{desc}_physio{ext}"

    def windows_tsv(self, deriv_root: Path) -> Path:
        return self.derivative(deriv_root, "windows")

    def windows_json(self, deriv_root: Path) -> Path:
        return self.derivative(deriv_root, "windows", ".json")

    def beats_tsv(self, deriv_root: Path) -> Path:
        return self.derivative(deriv_root, "beats")

    def phases_tsv(self, deriv_root: Path) -> Path:
        return self.derivative(deriv_root, "phases")

    def scr_tsv(self, deriv_root: Path) -> Path:
        """The skin conductance responses of one recording (``SCR_COLUMNS``)."""
        return self.derivative(deriv_root, "scr")

    def edits_tsv(self, deriv_root: Path) -> Path:
        """The analyst's hand edits of one recording (``EDITS_COLUMNS``; ``.json`` sidecar).

        Examples
        --------
        >>> SessionFiles(Path("/d"), "001", "1", "induction").edits_tsv(Path("/x")).name
        'sub-001_ses-1_task-induction_desc-edits_physio.tsv'
        """
        return self.derivative(deriv_root, "edits")

    def windows_events_tsv(self, deriv_root: Path) -> Path:
        """The windows as a BIDS events file in the derivatives (onset, duration, phase).

        BIDS has no suffix for windowed physiology summaries, so the ``_desc-`` tables are
        listed in the derivatives' ``.bidsignore``; this file is the validator-visible record
        of which segment each window covers.
        """
        return Path(deriv_root) / self._rel_dir() / f"{self.prefix}_events.tsv"

    def qc_png(self, deriv_root: Path) -> Path:
        return Path(deriv_root) / "qc" / f"sub-{self.subject}_ses-{self.session}_qc.png"


def group_windows_paths(deriv_root: Path) -> tuple[Path, Path]:
    """(TSV, Parquet) paths of the batch's group windows table."""
    base = Path(deriv_root) / "group"
    return base / "desc-windows_physio.tsv", base / "desc-windows_physio.parquet"


def group_phases_paths(deriv_root: Path) -> tuple[Path, Path]:
    """(TSV, Parquet) paths of the batch's group phases table."""
    base = Path(deriv_root) / "group"
    return base / "desc-phases_physio.tsv", base / "desc-phases_physio.parquet"


def failures_tsv(deriv_root: Path) -> Path:
    """The batch failures table."""
    return Path(deriv_root) / "failures.tsv"


def qc_index_html(deriv_root: Path) -> Path:
    return Path(deriv_root) / "qc" / "index.html"


def participants_tsv(root: Path) -> Path:
    return Path(root) / "participants.tsv"


def allocation_unblinded_tsv(root: Path) -> Path:
    """Unblinded allocation (participant_id, condition) that the analysis reads when
    ``participants.tsv`` has no condition column; written by ``allocation export --unblind``."""
    return Path(root) / "sourcedata" / "allocation_unblinded.tsv"


def allocation_db_path(root: Path) -> Path:
    """Default allocation database of a study whose raw dataset is ``root``."""
    return Path(root) / "sourcedata" / "allocation.sqlite"


def parse_session_files(path: Path) -> SessionFiles:
    """Recover a SessionFiles from any file of a session (raw or derivative).

    Raises
    ------
    DatasetError
        When the name does not follow ``sub-X_ses-Y_task-Z_...``.
    """
    path = Path(path)
    m = re.match(r"^sub-([A-Za-z0-9]+)_ses-([A-Za-z0-9]+)_task-([A-Za-z0-9]+)_", path.name)
    if not m:
        raise DatasetError(f"{path}: file name does not follow sub-<id>_ses-<n>_task-<task>_...")
    # root is 4 levels up from the file: root/sub/ses/beh/file
    root = path.parent.parent.parent.parent
    return SessionFiles(root, m.group(1), m.group(2), m.group(3))


def iter_sessions(root: Path, task: str | None = None) -> Iterator[SessionFiles]:
    """All sessions of a raw dataset that have an events file, sorted."""
    root = Path(root)
    pattern = f"sub-*/ses-*/beh/sub-*_ses-*_task-{task or '*'}_events.tsv"
    for events in sorted(root.glob(pattern)):
        yield parse_session_files(events)


# --------------------------------------------------------------------------------------
# Writing: atomic whole files, and flushed appends for live sessions
# --------------------------------------------------------------------------------------


def _new_file_mode() -> int:
    """The mode ``open(path, "w")`` would give a new file under the current umask."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so a reader never sees a partial file.

    The bytes go to a temporary file in the same folder, are fsync'ed, then renamed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); a lab's data is shared through group and
        # umask, so give it the mode a plain open() would have
        if hasattr(os, "fchmod"):  # not on Windows before Python 3.13
            os.fchmod(fd, _new_file_mode())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Text version of :func:`atomic_write_bytes` (UTF-8, LF)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically with stable formatting."""
    atomic_write_text(
        path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n"
    )


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _format_value(value: Any) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return "n/a"
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return "n/a"
        return repr(float(value))
    text = str(value)
    if text == "" or text.lower() == "nan":
        return "n/a"
    return text.replace("\t", " ").replace("\n", " ")


def write_tsv(path: Path, table: pd.DataFrame, schema: Mapping[str, Any] | None = None) -> None:
    """Write a BIDS TSV atomically: tab-separated, ``n/a`` for missing values.

    When ``schema`` is given the columns are checked and written in schema order.
    """
    if schema is not None:
        missing = [c for c in schema if c not in table.columns]
        if missing:
            raise DatasetError(f"{path}: table is missing column(s) {missing}")
        table = table[list(schema)]
    lines = ["\t".join(map(str, table.columns))]
    lines.extend(map("\t".join, zip(*(_format_column(table.iloc[:, i])
                                      for i in range(table.shape[1])))))
    atomic_write_text(path, "\n".join(lines) + "\n")


def _format_column(column: pd.Series) -> list[str]:
    """Each value of ``column`` as :func:`_format_value` writes it, a column at a time.

    Float and integer columns (the bulk of the beats and windows tables) are formatted
    without a per-value type check; anything else goes through :func:`_format_value`.

    Examples
    --------
    >>> _format_column(pd.Series([0.1, np.nan, np.inf, 2.0]))
    ['0.1', 'n/a', 'n/a', '2.0']
    >>> _format_column(pd.Series([1, 2])), _format_column(pd.Series([True, False]))
    (['1', '2'], ['true', 'false'])
    """
    if not isinstance(column.dtype, np.dtype):  # pandas extension types (Int64, string...)
        return [_format_value(v) for v in column.tolist()]
    kind = column.dtype.kind
    values = column.to_numpy()
    if kind == "f":
        finite = np.isfinite(values)
        out = list(map(repr, values.tolist()))
        if not finite.all():
            for i in np.flatnonzero(~finite).tolist():
                out[i] = "n/a"
        return out
    if kind in "iu":
        return list(map(str, values.tolist()))
    return [_format_value(v) for v in values.tolist()]


def append_tsv_row(path: Path, columns: Sequence[str], row: Mapping[str, Any]) -> None:
    """Append one row to a TSV, writing the header first if the file is new.

    The row is flushed and fsync'ed before returning, so a crash or ``kill -9`` right
    after never loses it. Used by the session runner for every response and event.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists() or path.stat().st_size == 0
    line = "\t".join(_format_value(row.get(c)) for c in columns) + "\n"
    with open(path, "a", encoding="utf-8") as fh:
        if new:
            fh.write("\t".join(columns) + "\n")
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def read_tsv(path: Path, schema: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Read a BIDS TSV (``n/a`` = missing) and check the schema's columns are present.

    A trailing partial line (a crash mid-write) is dropped rather than failing the read.

    Raises
    ------
    DatasetError
        When the file is missing, empty or lacks a schema column.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        raise DatasetError(f"{path}: file is empty; expected a header line")
    if not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1] if "\n" in text else text + "\n"
    try:
        table = pd.read_csv(
            io.StringIO(text), sep="\t", na_values=["n/a"], keep_default_na=False, dtype=object
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise DatasetError(f"{path}: not a valid TSV: {exc}") from None
    if schema is not None:
        missing = [c for c in schema if c not in table.columns]
        if missing:
            raise DatasetError(f"{path}: missing column(s) {missing}; expected {list(schema)}")
    return _coerce_numeric(table)


def _coerce_numeric(table: pd.DataFrame) -> pd.DataFrame:
    out = table.copy()
    for col in out.columns:
        converted = pd.to_numeric(out[col], errors="coerce")
        # keep a column numeric only if every non-missing value parsed
        if converted.notna().sum() == out[col].notna().sum():
            out[col] = converted
        else:
            lowered = out[col].dropna().astype(str).str.lower()
            if len(lowered) and lowered.isin(["true", "false"]).all():
                out[col] = out[col].map(lambda v: None if pd.isna(v) else str(v).lower() == "true")
    return out


# --------------------------------------------------------------------------------------
# Dataset-level files
# --------------------------------------------------------------------------------------


def ensure_dataset(root: Path, name: str, task: str, *, generated_by: str = "soothe",
                   authors: Sequence[str] | None = None) -> None:
    """Create the dataset-level files of a raw dataset if they do not exist yet.

    ``authors`` (BIDS ``Authors``) default to the ``[study] authors`` of the default protocol
    (``conditions/protocol.toml``).

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> ensure_dataset(root, "demo", "induction", authors=["A. Author", "B. Author"])
    >>> json.loads((root / "dataset_description.json").read_text())["Authors"]
    ['A. Author', 'B. Author']
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if authors is None:
        authors = load_protocol().authors
    desc = root / "dataset_description.json"
    if not desc.exists():
        write_json(
            desc,
            {
                "Name": name,
                "BIDSVersion": BIDS_VERSION,
                "DatasetType": "raw",
                "License": "CC0",
                "Authors": list(authors),
                "GeneratedBy": [{"Name": generated_by}],
            },
        )
    readme = root / "README"
    if not readme.exists():
        atomic_write_text(
            readme,
            f"{name}\n\nRaw data of the self-compassion induction paradigm, written by soothe.\n"
            "Questionnaires are in *_beh.tsv, markers in *_events.tsv, ECG and EDA in "
            "*_physio.tsv.gz.\n",
        )
    sidecars = {
        root / "participants.json": columns_sidecar(PARTICIPANTS_BLINDED_COLUMNS),
        root / f"task-{task}_events.json": columns_sidecar(EVENTS_COLUMNS),
        root / f"task-{task}_beh.json": columns_sidecar(BEH_COLUMNS),
    }
    for path, content in sidecars.items():
        if not path.exists():
            write_json(path, content)
    bidsignore = root / ".bidsignore"
    if not bidsignore.exists():
        atomic_write_text(bidsignore, "sourcedata/\n")


def _read_participants_file(root: Path) -> pd.DataFrame | None:
    path = participants_tsv(root)
    if not path.exists():
        return None
    return read_tsv(path, {"participant_id": None})


def read_participants(root: Path) -> pd.DataFrame:
    """The participants table (empty with the schema's columns when there is none).

    The table always has a ``condition`` column: from ``participants.tsv`` when the file has
    one (an unblinded, e.g. simulated, dataset); otherwise from the unblinded allocation
    export ``sourcedata/allocation_unblinded.tsv`` when it exists; otherwise empty (NaN,
    still blinded).
    """
    table = _read_participants_file(root)
    if table is None:
        return pd.DataFrame(columns=list(PARTICIPANTS_COLUMNS))
    if "condition" not in table.columns:
        unblinded = allocation_unblinded_tsv(root)
        conditions: dict = {}
        if unblinded.is_file():
            copy = read_tsv(unblinded, ALLOCATION_UNBLINDED_COLUMNS)
            conditions = dict(zip(copy["participant_id"].astype(str), copy["condition"]))
        table["condition"] = table["participant_id"].astype(str).map(conditions)
    return table


def upsert_participant(root: Path, row: Mapping[str, Any]) -> None:
    """Insert or update one participant's row of ``participants.tsv`` (atomic).

    The read-modify-write holds an exclusive advisory lock on the sibling file
    ``.participants.tsv.lock`` (``fcntl.flock``; ``msvcrt.locking`` on Windows), so sessions
    ending at the same moment on one machine never lose each other's row. The file itself
    is replaced atomically, so readers never see a torn table.
    """
    pid = row.get("participant_id")
    if not pid or not str(pid).startswith("sub-"):
        raise DatasetError(f"participant_id must look like 'sub-<id>', got {pid!r}")
    check_label(str(pid), "participant")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".participants.tsv.lock", "a+b") as lock:
        if os.name == "nt":  # pragma: no cover - Windows only
            # lazy: msvcrt exists on Windows only
            import msvcrt

            lock.seek(0)
            while True:  # LK_LOCK gives up after ~10 s; keep waiting for the other writer
                try:
                    msvcrt.locking(lock.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    continue
        else:
            # lazy: fcntl exists on POSIX only
            import fcntl

            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            table = _read_participants_file(root)
            if table is None:
                table = pd.DataFrame(columns=list(PARTICIPANTS_BLINDED_COLUMNS))
            # a blinded study's file never gains a condition column: only a real value
            # (a simulated, unblinded dataset) or an existing column keeps it
            schema = dict(PARTICIPANTS_COLUMNS)
            for col in PARTICIPANTS_UNBLINDED_ONLY:
                value = row.get(col)
                has_value = value is not None and not (
                    pd.api.types.is_scalar(value) and pd.isna(value)) and str(value) != "n/a"
                if col not in table.columns and not has_value:
                    del schema[col]
            row = {k: v for k, v in row.items() if k in schema}
            for col in schema:
                if col not in table.columns:
                    table[col] = None
            table = table.astype(object)
            mask = table["participant_id"] == pid
            if mask.any():
                for key, value in row.items():
                    table.loc[mask, key] = value
            else:
                new = {c: row.get(c) for c in schema}
                table = pd.concat([table, pd.DataFrame([new])], ignore_index=True)
            table = table.sort_values("participant_id").reset_index(drop=True)
            write_tsv(participants_tsv(root), table, schema)
            if "condition" in schema:
                _describe_condition_column(root)
        finally:
            if os.name == "nt":  # pragma: no cover - Windows only
                lock.seek(0)
                msvcrt.locking(lock.fileno(), msvcrt.LK_UNLCK, 1)
            else:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _describe_condition_column(root: Path) -> None:
    """An unblinded participants.tsv: describe its condition column in participants.json."""
    sidecar = Path(root) / "participants.json"
    if not sidecar.is_file():
        return
    content = json.loads(sidecar.read_text(encoding="utf-8"))
    if "condition" not in content:
        content.update(columns_sidecar({"condition": PARTICIPANTS_COLUMNS["condition"]}))
        write_json(sidecar, content)


# --------------------------------------------------------------------------------------
# Physiology files
# --------------------------------------------------------------------------------------


def write_physio(
    files: SessionFiles,
    signals: Mapping[str, np.ndarray],
    sampling_rate: float,
    units: Mapping[str, str],
    *,
    start_time: float = 0.0,
    descriptions: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
    decimals: int = 6,
) -> None:
    """Write ``_physio.tsv.gz`` and its JSON sidecar (atomically).

    Parameters
    ----------
    files : SessionFiles
        Where to write.
    signals : mapping of column name to 1-D array
        All columns share one sampling rate (BIDS physio requirement).
    sampling_rate : float
        In Hz.
    units : mapping of column name to unit string (e.g. ``{"ecg": "mV", "eda": "uS"}``).
    start_time : float
        Time of the first sample on the session clock, in seconds.
    """
    names = list(signals)
    if not names:
        raise DatasetError(f"{files.physio_tsv_gz}: no signal columns to write")
    lengths = {n: len(signals[n]) for n in names}
    if len(set(lengths.values())) != 1:
        raise DatasetError(f"{files.physio_tsv_gz}: columns differ in length {lengths}")
    missing_units = [n for n in names if n not in units]
    if missing_units:
        raise DatasetError(f"{files.physio_tsv_gz}: no units for column(s) {missing_units}")
    # lazy: pyarrow is heavy to import, and of this module only the physiology writer needs it
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    # Arrow's CSV writer is much faster than np.savetxt on long sessions.
    # Values are rounded to `decimals` places so the text stays short (1e-6 mV / uS is far
    # below any amplifier's resolution).
    columns = {
        n: np.round(np.asarray(signals[n], dtype=np.float64), decimals) for n in names
    }
    buf = io.BytesIO()
    pa_csv.write_csv(
        pa.table(columns),
        buf,
        pa_csv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none"),
    )
    # compresslevel 1: these files are large and written often; size is secondary.
    payload = gzip.compress(buf.getvalue(), compresslevel=1, mtime=0)
    atomic_write_bytes(files.physio_tsv_gz, payload)
    sidecar: dict[str, Any] = {
        "SamplingFrequency": float(sampling_rate),
        "StartTime": float(start_time),
        "Columns": names,
    }
    for n in names:
        entry: dict[str, Any] = {"Units": units[n]}
        if descriptions and n in descriptions:
            entry["Description"] = descriptions[n]
        sidecar[n] = entry
    if extra:
        sidecar.update(extra)
    write_json(files.physio_json, sidecar)


def read_physio_sidecar(files: SessionFiles) -> dict[str, Any]:
    """Read and check a ``_physio.json`` sidecar."""
    path = files.physio_json
    if not path.is_file():
        raise DatasetError(f"{path}: physio sidecar not found (needed for the sampling rate)")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(meta, dict):
        raise DatasetError(f"{path}: expected a JSON object")
    for key in ("SamplingFrequency", "StartTime", "Columns"):
        if key not in meta:
            raise DatasetError(f"{path}: required key {key!r} is missing")
    fs = meta["SamplingFrequency"]
    if isinstance(fs, bool) or not isinstance(fs, (int, float)) or not fs > 0:
        raise DatasetError(f"{path}: SamplingFrequency must be a positive number, got {fs!r}")
    cols = meta["Columns"]
    if not isinstance(cols, list) or not cols or not all(isinstance(c, str) for c in cols):
        raise DatasetError(f"{path}: Columns must be a non-empty list of names, got {cols!r}")
    return meta
