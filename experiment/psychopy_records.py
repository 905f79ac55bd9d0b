"""The session's records as a PsychoPy user expects them (PsychoPy's own ExperimentHandler).

One run of ``soothe run`` writes, in the configured data folder (``--data``, the BIDS root,
where a PsychoPy experiment keeps its ``data/`` files):

- ``{participant}_{expName}_{date}.csv``: PsychoPy's wide CSV (``saveAsWideText``), one row
  per routine: ``dialog``, ``signal_check``, ``instructions``, ``baseline``, one per
  questionnaire item, ``induction``, ``recovery``, ``end``. Every row carries PsychoPy's own
  columns (``thisRow.t``, ``notes``, ``participant``, ``session``, ``date``, ``expName``,
  ``psychopyVersion``, ``frameRate``, ``expStart``) and Builder's component names
  (``routine``, ``<routine>.started``, ``<routine>.stopped``, ``slider.response``,
  ``slider.rt``, ``key_resp.keys``, ``sound.started``...), times in seconds on the run's
  clock (Builder's ``globalClock``).
- ``{participant}_{expName}_{date}.psydat``: the pickled ExperimentHandler
  (``psychopy.misc.fromFile`` reads it).

Both are rewritten after every row through a temporary file and an atomic rename, so a
``kill -9`` keeps every row written before it and never leaves a torn file. A resumed
session is a new run with its own pair of files (the date differs; never overwritten).
The condition is never written here (the CSV is experimenter-visible).

:func:`write_events_levels` gives ``task-<task>_events.json`` a ``Levels`` entry for every
marker code in the protocol (``value``) and every label (``trial_type``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from conditions import bids
from experiment.datafiles import unique_path

EXP_NAME = "soothe"
IGNORE_LINES = ("*_soothe_*.csv", "*_soothe_*.psydat")

_KIND_TEXT = {
    "phase_onset": "the {} phase starts",
    "phase_offset": "the {} phase ends",
    "condition": "the condition code of '{}' (sent when the protocol says; concealment)",
    "induction_minute": "minute {} of the induction audio starts",
}
_EVENT_TEXT = {
    "session_start": "the session starts (first screen shown)",
    "session_end": "the session ended complete",
    "session_abort": "the experimenter aborted the session (Escape, confirmed)",
    "item_onset": "a questionnaire item appears on screen",
    "item_response": "the participant confirmed a questionnaire answer",
    "audio_onset": "the induction audio starts playing",
    "audio_offset": "the induction audio stops",
}


def marker_levels(markers) -> dict[str, str]:
    """``{code: 'label: meaning'}`` for every code of a protocol's marker table.

    Examples
    --------
    >>> from conditions.protocol import load_protocol
    >>> levels = marker_levels(load_protocol().markers)
    >>> levels["20"]
    'baseline_onset: the baseline phase starts'
    """
    out = {}
    for code, label in markers.all_codes().items():
        kind, name = markers.decode(code)
        text = _EVENT_TEXT.get(name, name) if kind == "event" else _KIND_TEXT[kind].format(name)
        out[str(code)] = f"{label}: {text}"
    return out


def write_events_levels(root: Path, task: str, markers) -> Path:
    """Add ``Levels`` for ``value`` and ``trial_type`` to the dataset's events sidecar."""
    path = Path(root) / f"task-{task}_events.json"
    sidecar = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else \
        bids.columns_sidecar(bids.EVENTS_COLUMNS)
    levels = marker_levels(markers)
    sidecar.setdefault("value", {})["Levels"] = levels
    sidecar.setdefault("trial_type", {})["Levels"] = {
        text.split(": ", 1)[0]: text.split(": ", 1)[1] for text in levels.values()}
    bids.write_json(path, sidecar)
    return path


def _ignore_psychopy_files(root: Path) -> None:
    """The PsychoPy files are not BIDS: list them in ``.bidsignore``."""
    path = Path(root) / ".bidsignore"
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    missing = [line for line in IGNORE_LINES if line not in lines]
    if missing:
        bids.atomic_write_text(path, "\n".join([*lines, *missing]) + "\n")


def measure_frame_rate(win) -> float | None:
    """The window's real frame rate (Hz) as PsychoPy measures it, or None when unstable."""
    try:
        rate = win.getActualFrameRate(nIdentical=10, nMaxFrames=120, nWarmUpFrames=10,
                                      threshold=1)
    except Exception:  # a window that cannot flip: no figure rather than no session
        return None
    return float(rate) if rate else None


class PsychopyRecords:
    """PsychoPy's ExperimentHandler for one run, saved after every row.

    Parameters
    ----------
    data_dir : Path
        The configured data folder (the BIDS root).
    participant, session, session_code : str
        Written in every row (never the condition).
    frame_rate : float or None
        Measured with :func:`measure_frame_rate`.
    """

    def __init__(self, data_dir: Path, participant: str, session: str, session_code: str,
                 frame_rate: float | None = None) -> None:
        # lazy: PsychoPy takes seconds to load; `soothe run --close` imports this module
        import psychopy
        from psychopy import core, data

        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _ignore_psychopy_files(self.data_dir)
        date = data.getDateStr()
        self.info: dict[str, Any] = {
            "participant": participant, "session": session, "session_code": session_code,
            "date": date, "expName": EXP_NAME, "psychopyVersion": psychopy.__version__,
            "frameRate": round(frame_rate, 3) if frame_rate else "",
            "expStart": data.getDateStr(format="%Y-%m-%d %Hh%M.%S.%f %z",
                                        fractionalSecondDigits=6),
        }
        self.csv_path = unique_path(self.data_dir / f"{participant}_{EXP_NAME}_{date}.csv")
        self.psydat_path = self.csv_path.with_suffix(".psydat")
        self.clock = core.Clock()  # Builder's globalClock: 0 at the start of this run
        self.exp = data.ExperimentHandler(
            name=EXP_NAME, extraInfo=self.info, savePickle=False, saveWideText=False,
            # named (PsychoPy warns in the session log that "no data will be saved in the
            # event of a crash" otherwise), but PsychoPy itself saves nothing: save() writes
            # the CSV and .psydat after every row
            dataFileName=str(self.csv_path.with_suffix("")), autoLog=False,
        )
        self._started: dict[str, float] = {}
        self.closed = False

    # ------------------------------------------------------------------ rows
    def now(self) -> float:
        return round(self.clock.getTime(), 6)

    def add_row(self, routine: str, values: dict[str, Any]) -> None:
        """One row: ``routine``, the values, PsychoPy's columns; then saved to disk."""
        self.exp.addData("thisRow.t", self.now())
        self.exp.addData("routine", routine)
        for key, value in values.items():
            self.exp.addData(key, value)
        self.exp.nextEntry()
        self.save()

    def routine_started(self, name: str) -> None:
        self._started[name] = self.now()

    def routine_ended(self, name: str, **values: Any) -> None:
        """The row of a routine with its ``.started`` and ``.stopped`` times."""
        self.add_row(name, {f"{name}.started": self._started.pop(name, ""),
                            f"{name}.stopped": self.now(), **values})

    def item_row(self, row: dict[str, Any], routine: str, shown_s: float | None = None
                 ) -> None:
        """A questionnaire item: Builder's ``slider.response``/``slider.rt`` and the item."""
        stopped = self.now()
        if shown_s is None:  # the slider's rt runs from the item's first flip
            shown_s = stopped - float(row["response_time"])
        values = {
            f"{routine}.started": round(shown_s, 6),
            f"{routine}.stopped": stopped,
            "slider.response": row["rating"], "slider.rt": row["response_time"],
        }
        values.update({k: v for k, v in row.items() if k not in ("rating", "response_time")})
        self.add_row(routine, values)

    # ------------------------------------------------------------------ saving
    def save(self) -> None:
        """Rewrite the CSV and the .psydat through temporary files and atomic renames."""
        tmp_csv = self.csv_path.with_name(f".{self.csv_path.stem}.tmp.csv")
        written = self.exp.saveAsWideText(str(tmp_csv), delim=",",
                                          fileCollisionMethod="overwrite", sortColumns=False)
        self._fsync(Path(written or tmp_csv))
        os.replace(Path(written or tmp_csv), self.csv_path)
        tmp_pickle = self.psydat_path.with_name(f".{self.psydat_path.stem}.tmp.psydat")
        written = self.exp.saveAsPickle(str(tmp_pickle), fileCollisionMethod="overwrite")
        self._fsync(Path(written or tmp_pickle))
        os.replace(Path(written or tmp_pickle), self.psydat_path)

    @staticmethod
    def _fsync(path: Path) -> None:
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())

    def close(self) -> None:
        """Final save; PsychoPy's own save at interpreter exit is switched off."""
        if self.closed:
            return
        if self.exp.entries:
            self.save()
        self.exp.abort()
        self.closed = True


# ====================================================================== session hooks
def open_for_session(session) -> PsychopyRecords:
    """Called by the session once its window is open: frame rate, records, first rows."""
    rate = measure_frame_rate(session.win)
    session.state.runs[-1]["frame_rate_hz"] = round(rate, 3) if rate else None
    session.data.save_state()
    session.log(f"frame rate measured: {f'{rate:.3f} Hz' if rate else 'unstable (n/a)'}")
    write_events_levels(session.opt.data_root, session.protocol.task, session.protocol.markers)
    records = PsychopyRecords(session.opt.data_root, session.state.subject,
                              session.state.session, session.state.session_code, rate)
    run = session.state.runs[-1]
    run["psychopy_csv"] = records.csv_path.name  # in --data; --close and --resume name it
    session.data.save_state()
    records.add_row("dialog", {"dialog.age": session.state.age, "dialog.sex": session.state.sex,
                               "dialog.initials": session.state.initials,
                               "dialog.resumed": bool(run.get("resumed")),
                               "run": run.get("run")})
    check = getattr(session, "signal_check", None) or {}
    values: dict[str, Any] = {"signal_check.outcome": check.get("outcome", "not run"),
                              "signal_check.overall": check.get("overall", "")}
    for kind, verdict in (check.get("channels") or {}).items():
        values[f"signal_check.{kind}"] = f"{verdict['status']}: {verdict['reason']}"
    records.add_row("signal_check", values)
    session.say(f"PsychoPy data file: {records.csv_path}")
    return records
