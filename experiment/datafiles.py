"""Session data on disk: every response and marker appended and flushed when it happens.

All BIDS paths come from :mod:`conditions.bids`. Besides the BIDS files, each session keeps
under ``sourcedata/sub-<id>/ses-<n>/`` (ignored by the BIDS validator):

- ``session_state.json``: status, completed phases and the session-clock zero, so that
  ``--resume`` knows where to continue. It never names the condition.
- ``session_log.txt``: a timestamped log (screens shown, warnings), flushed per line.
- ``physio_raw/``: the raw LSL chunks the recorder appends while the session runs.

PsychoPy's own records (ExperimentHandler wide CSV and ``.psydat``, one pair per run, saved
after every row) are not here but in the data folder itself, where PsychoPy puts them:
``{participant}_soothe_{date}.csv`` (see :mod:`experiment.psychopy_records`); each run's
entry in ``session_state.json`` names its CSV.

The session clock is the LSL clock minus ``lsl_zero`` (the LSL time at the first session
start). The LSL clock is monotonic and shared by every process on the machine, so a resumed
session continues on the same clock.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from conditions import bids
from experiment.errors import SessionError
from experiment.markers import SentMarker

STATE_NAME = "session_state.json"
LOG_NAME = "session_log.txt"


def utc_now() -> str:
    """ISO 8601 UTC timestamp with milliseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def free_space_mb(path: Path) -> float:
    """Free space on the file system holding ``path`` (or its nearest existing parent)."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free / 1e6


def unique_path(path: Path) -> Path:
    """``path``, or ``stem_2.ext``, ``stem_3.ext``... the first that does not exist yet.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / "a.csv").write_text("x") and unique_path(d / "a.csv").name
    'a_2.csv'
    """
    path = Path(path)
    if not path.exists():
        return path
    stem, suffix = path.name.split(".", 1) if "." in path.name else (path.name, "")
    dot = "." if suffix else ""
    n = 2
    while True:
        candidate = path.with_name(f"{stem}_{n}{dot}{suffix}")
        if not candidate.exists():
            return candidate
        n += 1


def drop_torn_tail(path: Path) -> None:
    r"""Cut a partial last line (a full disk or crash mid-write) so the next append is clean.

    Without this, the next row appended after ``--resume`` would be glued to the torn one.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.tsv"
    >>> _ = p.write_text("a\tb\n1\t2\n3\t")
    >>> drop_torn_tail(p); p.read_text()
    'a\tb\n1\t2\n'
    """
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as fh:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) == b"\n":
            return
        size = fh.seek(0, os.SEEK_END)
        keep = 0
        step = 4096
        pos = size
        while pos > 0:
            start = max(0, pos - step)
            fh.seek(start)
            chunk = fh.read(pos - start)
            i = chunk.rfind(b"\n")
            if i >= 0:
                keep = start + i + 1
                break
            pos = start
        fh.truncate(keep)
        fh.flush()
        os.fsync(fh.fileno())


@dataclass
class SessionState:
    """What ``--resume`` needs. Stored as JSON; never holds the condition."""

    subject: str
    session: str
    session_code: str
    status: str = "running"  # running | incomplete | complete
    completed_phases: list[str] = field(default_factory=list)
    lsl_zero: float = 0.0
    psychopy_zero: float = 0.0
    runs: list[dict[str, Any]] = field(default_factory=list)
    age: str = "n/a"
    sex: str = "n/a"
    initials: str = ""
    # every condition's audio as checked at start-up: sha256 and pilot_placeholder of all
    # five, sorted by hash, no names (reveals nothing); each run also keeps its hashes
    audio_files: list[dict[str, Any]] = field(default_factory=list)
    # never filled (concealment: the played file's hash identifies the condition); kept empty
    # so older state files still load. After unblinding, the played file is the condition's
    # file among ``audio_files``.
    audio_played: dict[str, Any] = field(default_factory=dict)


class SessionData:
    """The files of one participant session, written as things happen.

    Parameters
    ----------
    root : Path
        Raw dataset root.
    subject, session, task : str
        BIDS labels.
    """

    def __init__(self, root: Path, subject: str, session: str, task: str) -> None:
        self.files = bids.SessionFiles(Path(root), subject, session, task)
        self.state: SessionState | None = None

    # ------------------------------------------------------------------ paths
    @property
    def source_dir(self) -> Path:
        return self.files.sourcedata_dir

    @property
    def state_path(self) -> Path:
        return self.source_dir / STATE_NAME

    @property
    def log_path(self) -> Path:
        return self.source_dir / LOG_NAME

    @property
    def physio_raw_dir(self) -> Path:
        return self.source_dir / "physio_raw"

    def has_any_data(self) -> bool:
        """True when this session already wrote something (so a fresh start would collide)."""
        return any(
            p.exists() for p in (self.files.beh_tsv, self.files.events_tsv, self.state_path)
        )

    # ------------------------------------------------------------------ state
    def load_state(self) -> SessionState | None:
        if not self.state_path.is_file():
            return None
        try:
            raw = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise SessionError(f"{self.state_path}: session state unreadable: {exc}") from None
        known = SessionState.__dataclass_fields__
        self.state = SessionState(**{k: v for k, v in raw.items() if k in known})
        return self.state

    def save_state(self) -> None:
        if self.state is None:
            raise SessionError("no session state to save")
        bids.write_json(self.state_path, self.state.__dict__)

    # ------------------------------------------------------------------ clock
    def onset(self, lsl_time: float) -> float:
        """Session-clock time (s) of an LSL-clock time."""
        assert self.state is not None
        return float(lsl_time) - self.state.lsl_zero

    # ------------------------------------------------------------------ appends
    def write_event(self, marker: SentMarker, duration: float = 0.0) -> None:
        """Append one marker to ``_events.tsv`` (flushed and fsync'ed)."""
        drop_torn_tail(self.files.events_tsv)
        bids.append_tsv_row(
            self.files.events_tsv,
            list(bids.EVENTS_COLUMNS),
            {
                "onset": round(self.onset(marker.lsl_time), 6),
                "duration": duration,
                "trial_type": marker.label,
                "value": marker.code,
                "psychopy_time": round(marker.psychopy_time, 6),
                "lsl_time": round(marker.lsl_time, 6),
            },
        )

    def write_response(self, row: dict[str, Any]) -> None:
        """Append one questionnaire response to ``_beh.tsv`` (flushed and fsync'ed)."""
        missing = [c for c in bids.BEH_COLUMNS if c not in row]
        if missing:
            raise SessionError(f"{self.files.beh_tsv}: response lacks column(s) {missing}")
        drop_torn_tail(self.files.beh_tsv)
        bids.append_tsv_row(self.files.beh_tsv, list(bids.BEH_COLUMNS), row)

    def log(self, message: str) -> None:
        """Append a timestamped line to the session log (flushed and fsync'ed)."""
        self.source_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a", encoding="utf-8") as fh:
            fh.write(f"{utc_now()}\t{message}\n")
            fh.flush()
            os.fsync(fh.fileno())

    # ------------------------------------------------------------------ reading back
    def answered_items(self, phase: str) -> set[tuple[str, str]]:
        """(questionnaire, item_id) pairs already answered in ``phase`` (for resume)."""
        if not self.files.beh_tsv.is_file():
            return set()
        table = bids.read_tsv(self.files.beh_tsv, bids.BEH_COLUMNS)
        rows = table[table["phase"] == phase]
        return {(str(q), str(i)) for q, i in zip(rows["questionnaire"], rows["item_id"])}
