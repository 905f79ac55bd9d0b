"""The batch's inputs: recordings found in files and folders, and the labels they get.

Which file endings are recordings, and which are their companions, comes from the reader
registry (:mod:`physio.io.registry`): a new reader is found in folders without a change
here.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from physio.io.registry import companion_suffixes, scan_suffixes
from physio.naming import (
    PARTICIPANT_FROM,
    LabelError,
    collision_message,
    label_collisions,
    recording_labels,
)

log = logging.getLogger("soothe.physio")

#: File endings the folder scan picks up (every reader's ``scan`` endings).
RECORDING_SUFFIXES = scan_suffixes()
#: BIDS physio data, the only recordings of a BIDS dataset.
_BIDS_DATA = ("_physio.tsv.gz", "_physio.tsv")
#: Companions of recordings that a folder scan passes over without reporting them.
_COMPANIONS = (".json", ".md", ".bidsignore", "readme", "changes", "license",
               "dataset_description.json", *companion_suffixes())
_NOT_RECORDINGS = ("_events.tsv", "_beh.tsv", "participants.tsv", "_phases.tsv",
                   "failures.tsv", "_truth-")
_SKIP_DIRS = {"derivatives", "sourcedata", "code", "log", "qc", "group", ".git"}
#: Files a recording's phase overrides may sit in, beside it: ``<input>_phases<ext>``.
_OVERRIDE_ENDINGS = (".json", ".tsv")


def _is_bids_root(folder: Path) -> bool:
    return (folder / "dataset_description.json").is_file() or any(
        p.is_dir() for p in folder.glob("sub-*")
    )


def find_inputs(
    paths: Iterable[str | os.PathLike], skipped: list[Path] | None = None
) -> list[Path]:
    """Recordings named by files or found in folders.

    A folder that is a BIDS dataset contributes every ``*_physio.tsv.gz`` outside
    ``sourcedata/`` and ``derivatives/``; any other folder is scanned recursively for the
    known recording formats (``RECORDING_SUFFIXES``), skipping BIDS side tables.

    Files in a scanned folder that are neither recordings nor their known companions
    (sidecars, events, BrainVision marker/data files, README) are logged as skipped and
    appended to ``skipped`` when it is given, so nothing is ignored silently.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "a.acq").write_bytes(b"x"); _ = (d / "notes.docx").write_text("x")
    >>> left: list[Path] = []
    >>> [p.name for p in find_inputs([d], skipped=left)], [p.name for p in left]
    (['a.acq'], ['notes.docx'])
    """
    found: list[Path] = []
    passed: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_file() or not p.is_dir():
            found.append(p)  # a missing file is reported as a failure by the worker
            continue
        folder_found, folder_passed = scan_folder(p)
        found += folder_found
        passed += folder_passed
    if passed:
        _report_skipped(passed, skipped)
    return _unique(found)


def scan_folder(folder: Path) -> tuple[list[Path], list[Path]]:
    """(recordings, files passed over) in a folder and its sub-folders.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "a.vhdr").write_text("x"); _ = (d / "a.vmrk").write_text("x")
    >>> _ = (d / "a_events.tsv").write_text("x"); _ = (d / "b.xyz").write_text("x")
    >>> [[p.name for p in part] for part in scan_folder(d)]
    [['a.vhdr'], ['b.xyz']]
    """
    bids = _is_bids_root(folder)
    found: list[Path] = []
    passed: list[Path] = []
    for f in sorted(folder.rglob("*")):
        rel = f.relative_to(folder).parts
        if not f.is_file() or any(part in _SKIP_DIRS for part in rel[:-1]):
            continue
        name = f.name.lower()
        if name.startswith("."):
            continue
        if bids:
            if name.endswith(_BIDS_DATA):
                found.append(f)
            elif not _is_companion(name):
                passed.append(f)
            continue
        if any(n in name for n in _NOT_RECORDINGS) or "_desc-" in name:
            continue
        if name.endswith(RECORDING_SUFFIXES):
            found.append(f)
        elif not _is_companion(name):
            passed.append(f)
    return found, passed


def _report_skipped(passed: list[Path], skipped: list[Path] | None) -> None:
    shown = ", ".join(str(f) for f in passed[:20])
    more = f" and {len(passed) - 20} more" if len(passed) > 20 else ""
    log.warning("skipped %d file(s) that are not recordings of a known format: %s%s",
                len(passed), shown, more)
    if skipped is not None:
        skipped.extend(passed)


def _unique(found: list[Path]) -> list[Path]:
    """The files in their order, each once (by resolved path)."""
    out, seen = [], set()
    for f in found:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _is_companion(name: str) -> bool:
    """Files that accompany recordings and are expected in a folder (not reported)."""
    return (name.endswith(_COMPANIONS) or name in _COMPANIONS
            or any(n in name for n in _NOT_RECORDINGS) or "_desc-" in name
            or name.endswith(("_events.tsv", "_scans.tsv", "_sessions.tsv")))


def override_candidates(path: Path) -> list[Path]:
    """The phase override files that may sit beside a recording: ``<input>_phases.json|tsv``.

    Examples
    --------
    >>> [p.name for p in override_candidates(Path("x/sub-1_physio.tsv.gz"))]
    ['sub-1_phases.json', 'sub-1_phases.tsv']
    >>> [p.name for p in override_candidates(Path("rec.acq"))]
    ['rec_phases.json', 'rec_phases.tsv']
    """
    base = path.name
    for suffix in ("_physio.tsv.gz", ".tsv.gz", ".csv.gz"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    else:
        base = path.stem
    return [path.with_name(f"{base}_phases{ext}") for ext in _OVERRIDE_ENDINGS]


def output_key(part: str, ses: str, task: str, protocol_task: str) -> str:
    """The recording's name in the batch: ``sub-X_ses-Y`` (``_task-Z`` for another task).

    Examples
    --------
    >>> output_key("01", "1", "soothe", "soothe"), output_key("01", "1", "rest", "soothe")
    ('sub-01_ses-1', 'sub-01_ses-1_task-rest')
    """
    key = f"sub-{part}_ses-{ses}"
    return key if task == protocol_task else f"{key}_task-{task}"


@dataclass
class LabelPlan:
    """The output labels of a batch's inputs, planned before any work.

    ``labels`` maps each input to its (participant, session, task); ``refused`` maps the
    inputs that cannot be written safely to the reason (two inputs would write the same
    outputs, or a ``--participant-from pattern`` that does not match the path);
    ``collisions`` lists the colliding groups as ``(key, [inputs])``.
    """

    labels: dict[str, tuple[str, str, str | None]]
    refused: dict[str, str]
    collisions: list[tuple[str, list[str]]]

    def message(self) -> str | None:
        """What the batch says at the start, or None when every input has its own outputs."""
        return collision_message(self.collisions) if self.collisions else None


def check_participant_from(participant_from: str, pattern: str | None) -> None:
    """Refuse an unknown ``participant_from`` or a pattern that is no regular expression.

    Raises
    ------
    physio.naming.LabelError
        With the option and what was expected.
    """
    if participant_from not in PARTICIPANT_FROM:
        raise LabelError(f"participant_from={participant_from!r}: expected one of "
                         f"{', '.join(PARTICIPANT_FROM)}")
    if participant_from == "pattern":
        try:
            re.compile(pattern or "")
        except re.error as exc:
            raise LabelError(f"participant pattern {pattern!r} is not a regular expression: "
                             f"{exc}") from None
        if not pattern:
            raise LabelError("participant_from='pattern' needs a regular expression")


def plan_labels(
    files: Sequence[Path],
    settings: dict[str, Any] | None = None,
    participant_from: str = "auto",
    pattern: str | None = None,
) -> LabelPlan:
    """The labels every input will be written under, checked for collisions up front.

    Inputs that would write the same outputs are all refused (none of them is written, so
    nothing is overwritten and no choice between them is made silently); every other input
    is processed. The batch prints :meth:`LabelPlan.message` at the start.

    Parameters
    ----------
    files : the inputs (:func:`find_inputs`)
    settings : the batch settings (an explicit ``participant``/``session`` wins)
    participant_from, pattern : see :func:`physio.naming.recording_labels`

    Raises
    ------
    physio.naming.LabelError
        An unknown ``participant_from`` or a pattern that is not a regular expression.

    Examples
    --------
    >>> plan = plan_labels([Path("a/physio-4.2.0-c.acq"), Path("b/physio-4.3.0-a.acq")])
    >>> plan.labels["a/physio-4.2.0-c.acq"], plan.refused
    (('physio420c', '1', None), {})
    """
    check_participant_from(participant_from, pattern)
    settings = settings or {}
    planned = {}
    refused: dict[str, str] = {}
    for f in files:
        try:
            planned[str(f)] = recording_labels(
                f, participant=settings.get("participant"), session=settings.get("session"),
                participant_from=participant_from, pattern=pattern)
        except LabelError as exc:
            refused[str(f)] = str(exc)
    collisions = label_collisions(planned)
    for key, sources in collisions:
        for src in sources:
            others = " and ".join(o for o in sources if o != src)
            refused[src] = (f"{src}: would write the same outputs ({key}) as {others}, so "
                            "neither is written; give each its own participant label with "
                            "--participant-from stem|parent|pattern REGEX")
    labels = {k: (v.participant, v.session, v.task) for k, v in planned.items()
              if k not in refused}
    return LabelPlan(labels, refused, collisions)
