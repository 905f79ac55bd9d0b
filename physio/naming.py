"""Participant, session and task labels of a recording, from its metadata or its path.

The labels name the derivatives (``sub-<participant>_ses-<session>_task-<task>_…``), so
two recordings with the same three labels would write the same files. The rules, in order:

participant
    an explicit label; the recording's metadata (BIDS ``participant_id``); then, by
    ``participant_from``:

    - ``auto`` (default): a ``sub-X`` entity in the file name, else in a parent folder
      name (``sub-01/ses-1/ecg.acq``), else the file name without its format suffixes
      (``.acq``, ``.tsv.gz``, ``.edf``…), letters and digits only
      (``physio-4.2.0-c.acq`` → ``physio420c``);
    - ``stem``: always the file name without its format suffixes;
    - ``parent``: the name of the folder that holds the file;
    - ``pattern``: the first group (or the group named ``participant``) of a regular
      expression searched in the file's path; a group named ``session`` gives the session.
session
    explicit; metadata; ``ses-Y`` in the file name, else in a parent folder; else ``1``.
task
    metadata; ``task-Z`` in the file name; else None (the protocol's task).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from physio.errors import PhysioError

#: Format suffixes removed from a file name before it becomes a label (longest first).
FORMAT_SUFFIXES = (".tsv.gz", ".csv.gz", ".txt.gz", ".tsv", ".csv", ".txt", ".acq", ".xdfz",
                   ".xdf", ".edf", ".bdf", ".vhdr", ".vmrk", ".eeg", ".hea", ".json", ".gz")
PARTICIPANT_FROM = ("auto", "stem", "parent", "pattern")

# an entity starts the name or follows a non-alphanumeric character ("x_sub-01", "a.sub-01")
_SUB = re.compile(r"(?:^|[^A-Za-z0-9])sub-([A-Za-z0-9]+)")
_SES = re.compile(r"(?:^|[^A-Za-z0-9])ses-([A-Za-z0-9]+)")
_TASK = re.compile(r"(?:^|[^A-Za-z0-9])task-([A-Za-z0-9]+)")


class LabelError(PhysioError):
    """Labels cannot be derived, or two recordings would write the same outputs."""


@dataclass(frozen=True)
class RecordingLabels:
    """BIDS labels (without ``sub-``/``ses-``/``task-``) of one recording."""

    participant: str
    session: str
    task: str | None = None

    @property
    def key(self) -> str:
        """``sub-X_ses-Y`` (plus ``_task-Z`` when the input named a task)."""
        key = f"sub-{self.participant}_ses-{self.session}"
        return f"{key}_task-{self.task}" if self.task else key


def clean_label(text: str) -> str:
    """Letters and digits only (BIDS labels are alphanumeric).

    Examples
    --------
    >>> clean_label("P 12-a"), clean_label("sub-07")
    ('P12a', 'sub07')
    """
    return re.sub(r"[^A-Za-z0-9]", "", str(text))


def strip_format_suffix(name: str) -> str:
    """A file name without its format suffixes.

    Examples
    --------
    >>> strip_format_suffix("physio-4.2.0-c.acq"), strip_format_suffix("a.b_physio.tsv.gz")
    ('physio-4.2.0-c', 'a.b_physio')
    >>> strip_format_suffix("rec.XDF"), strip_format_suffix("notes")
    ('rec', 'notes')
    """
    lower = name.lower()
    for suffix in FORMAT_SUFFIXES:
        if lower.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _entity(pattern: re.Pattern[str], path: Path) -> str | None:
    """An entity from the file name, else from the nearest parent folder that has it."""
    for part in (path.name, *reversed(path.parent.parts[-3:])):
        m = pattern.search(part)
        if m:
            return m.group(1)
    return None


def recording_labels(
    path: str | Path,
    meta: Mapping[str, Any] | None = None,
    *,
    participant: str | None = None,
    session: str | None = None,
    participant_from: str = "auto",
    pattern: str | re.Pattern[str] | None = None,
) -> RecordingLabels:
    """The labels of one recording (see the module docstring for the rules).

    Raises
    ------
    LabelError
        An unknown ``participant_from``, or a ``pattern`` that does not match the path.

    Examples
    --------
    >>> recording_labels("/lab/physio-4.2.0-c.acq")
    RecordingLabels(participant='physio420c', session='1', task=None)
    >>> recording_labels("/x/sub-07_ses-2_task-rest_ecg.edf")
    RecordingLabels(participant='07', session='2', task='rest')
    >>> recording_labels("/d/sub-03/ses-2/export.csv")
    RecordingLabels(participant='03', session='2', task=None)
    >>> recording_labels("/d/P14/physio.acq", participant_from="parent").participant
    'P14'
    >>> recording_labels("/d/P14_visit2.acq", participant_from="pattern",
    ...                  pattern=r"P(?P<participant>\\d+)_visit(?P<session>\\d+)")
    RecordingLabels(participant='14', session='2', task=None)
    """
    path = Path(path)
    meta = meta or {}
    if participant_from not in PARTICIPANT_FROM:
        raise LabelError(f"participant_from={participant_from!r}: expected one of "
                         f"{', '.join(PARTICIPANT_FROM)}")
    part = participant or meta.get("participant_id")
    ses = session or meta.get("session")
    if not part:
        if participant_from == "pattern":
            part, from_pattern = _from_pattern(path, pattern)
            ses = ses or from_pattern
        elif participant_from == "parent":
            part = path.parent.name
            if part.startswith("sub-"):
                part = part[4:]
        elif participant_from == "auto":
            part = _entity(_SUB, path)
        if not part:
            part = strip_format_suffix(path.name)
    part = clean_label(str(part).removeprefix("sub-")) or "unknown"
    ses = ses or _entity(_SES, path)
    ses = clean_label(str(ses or "1").removeprefix("ses-")) or "1"
    task = meta.get("task")
    if not task:
        m = _TASK.search(path.name)
        task = m.group(1) if m else None
    task = clean_label(str(task).removeprefix("task-")) if task else None
    return RecordingLabels(part, ses, task or None)


def _from_pattern(path: Path, pattern: str | re.Pattern[str] | None) -> tuple[str, str | None]:
    if pattern is None:
        raise LabelError("participant_from='pattern' needs a regular expression")
    try:
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
    except re.error as exc:
        raise LabelError(f"participant pattern {pattern!r} is not a regular expression: "
                         f"{exc}") from None
    m = rx.search(path.as_posix())
    if not m:
        raise LabelError(f"{path}: the participant pattern {rx.pattern!r} does not match "
                         "this path")
    groups = m.groupdict()
    if groups.get("participant"):
        part = groups["participant"]
    elif m.groups() and m.group(1):
        part = m.group(1)
    else:
        part = m.group(0)
    return part, groups.get("session")


def label_collisions(labels: Mapping[str, RecordingLabels]) -> list[tuple[str, list[str]]]:
    """Groups of inputs whose labels name the same outputs: ``[(key, [input, ...]), ...]``.

    Labels that differ only in letter case collide too: on macOS and Windows they are the
    same file names.

    Examples
    --------
    >>> a = RecordingLabels("physio3", "1")
    >>> label_collisions({"x/physio-3.1.acq": a, "y/physio-3.2.acq": a,
    ...                   "z.acq": RecordingLabels("z", "1")})
    [('sub-physio3_ses-1', ['x/physio-3.1.acq', 'y/physio-3.2.acq'])]
    """
    by_key: dict[str, list[str]] = {}
    shown: dict[str, str] = {}
    for source, lab in labels.items():
        by_key.setdefault(lab.key.lower(), []).append(str(source))
        shown.setdefault(lab.key.lower(), lab.key)
    return [(shown[key], sorted(srcs)) for key, srcs in sorted(by_key.items())
            if len(srcs) > 1]


def collision_message(collisions: Iterable[tuple[str, list[str]]]) -> str:
    """The message that names every pair of inputs that would write the same outputs."""
    collisions = list(collisions)
    lines = [f"{sum(len(s) for _, s in collisions)} inputs would write the same outputs, so "
             "none of them is written (the others are processed):"]
    for key, sources in collisions:
        lines.append(f"  {key}: " + " and ".join(sources))
    lines.append(
        "Give each recording its own participant label with --participant-from stem "
        "(the file name), --participant-from parent (the folder name) or "
        "--participant-from pattern REGEX (a group of the path, e.g. 'P(\\d+)'), "
        "or rename the files (sub-<label>_ses-<label>_...)."
    )
    return "\n".join(lines)
