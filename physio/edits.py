"""An analyst's hand edits of one recording: the edit file, its checks, merging, snapping.

An edit file (``..._desc-edits_physio.tsv``, columns :data:`conditions.bids.EDITS_COLUMNS`,
plus a JSON sidecar) sits next to a recording's derivative tables. It is never changed by
processing: ``soothe physio process`` reads it and applies its rows, in file order, every
time it re-processes the recording. The raw data are never touched.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> path = Path(tempfile.mkdtemp()) / "sub-1_ses-1_task-x_desc-edits_physio.tsv"
>>> edits = [Edit("delete_beat", "ecg", 12.345, author="ana"),
...          Edit("mark_unusable", "eda", 30.0, end_s=42.5, author="ana"),
...          Edit("reviewed", "all", float("nan"), author="ana", note="checked")]
>>> write_edits(path, edits)
>>> read_edits(path) == edits
True
>>> review_status(read_edits(path)), review_status([]), review_status(edits[2:])
('edited', 'not reviewed', 'reviewed')
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from conditions.bids import EDITS_COLUMNS, columns_sidecar, write_json, write_tsv
from conditions.errors import SootheError
from physio.ecg.ecg_clean import ecg_clean, ecg_detection_signal
from physio.ecg.ecg_peaks import detect_qrs
from physio.ecg.ecg_polarity import ecg_polarity
from physio.recording import Channel

#: Every action an edit row may hold, in the order the review page offers them.
ACTIONS: tuple[str, ...] = ("add_beat", "delete_beat", "move_beat", "mark_unusable",
                            "mark_usable", "delete_scr", "restore_scr", "reviewed")
#: Every channel an edit row may name.
EDIT_CHANNELS: tuple[str, ...] = ("ecg", "eda", "resp", "all")
#: The channels each action may name.
ACTION_CHANNELS: dict[str, tuple[str, ...]] = {
    "add_beat": ("ecg",), "delete_beat": ("ecg",), "move_beat": ("ecg",),
    "mark_unusable": ("ecg", "eda", "resp", "all"), "mark_usable": ("ecg", "eda", "resp", "all"),
    "delete_scr": ("eda",), "restore_scr": ("eda",), "reviewed": ("all",),
}
#: Actions on one beat, on one SCR, and on a stretch of signal.
BEAT_ACTIONS = ("add_beat", "delete_beat", "move_beat")
SCR_ACTIONS = ("delete_scr", "restore_scr")
STRETCH_ACTIONS = ("mark_unusable", "mark_usable")

#: A delete or move edit names the detected beat whose R peak lies within this of its
#: time_s. A QRS is ~0.1 s wide, so an R peak stays within +-0.05 s of any point of its
#: own QRS: a re-detection after a change of method moves a beat by a few ms, never by
#: this much, and the neighbouring beat (>= 0.25 s away) is never within it.
MATCH_S = 0.05
#: An added beat goes to the R peak within this of the click: a click anywhere on a QRS
#: (~0.1 s wide) is within +-0.05 s of that QRS's R peak, and the T wave's peak, the next
#: largest deflection, is >= 0.15 s after it.
SNAP_S = 0.05
#: No two heartbeats are closer than ~0.25 s (240 bpm, above any resting or exercising
#: adult rate, and the ventricles' refractory period): an added beat this close to an
#: existing one is the same beat clicked twice, and the edit is stale.
REFRACTORY_S = 0.25
#: A delete_scr/restore_scr edit names the SCR whose peak lies within this of its time_s.
#: An SCR rises over 1-3 s (Boucsein 2012), so two counted SCRs' peaks are > 1 s apart and
#: +-0.5 s names one of them; the peak of a re-detected SCR moves by far less.
SCR_MATCH_S = 0.5
#: The ECG around a click that is band-passed to find its R peak (and the recording's
#: polarity, when not given): long enough that the filter's start-up at the edges
#: (a 0.5 Hz high-pass settles within ~2 s) does not reach the click.
SNAP_CONTEXT_S = 10.0

_ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]00:00)?$")


def tolerances() -> dict[str, float]:
    """The tolerances used when edits are applied (recorded in the edit file's sidecar).

    Examples
    --------
    >>> tolerances()["MATCH_S"]
    0.05
    """
    return {"MATCH_S": MATCH_S, "SNAP_S": SNAP_S, "REFRACTORY_S": REFRACTORY_S,
            "SCR_MATCH_S": SCR_MATCH_S}


class EditFileError(SootheError, ValueError):
    """An edit file (or one edit) is not valid.

    The message names the file, the row (1 = first row after the header), the column and
    what was expected.
    """


class EditConflictError(EditFileError):
    """Two analysts' edits of the same beat, SCR or stretch disagree (see :func:`merge_edits`)."""


def _nan_singleton(value: Any) -> float:
    """``value`` as a float, with every NaN the same object (so equal edits compare equal)."""
    x = float(value)
    return math.nan if math.isnan(x) else x


@dataclass(frozen=True)
class Edit:
    """One hand edit of a recording (a row of the edit file).

    Parameters
    ----------
    action : str
        One of :data:`ACTIONS`.
    channel : str
        One of :data:`ACTION_CHANNELS` ``[action]``.
    time_s : float
        Session-clock time: the beat deleted or moved, the click of an added beat, the SCR's
        peak or a stretch's start (NaN for ``reviewed``).
    end_s : float
        A stretch's end (``mark_unusable``/``mark_usable``), else NaN.
    new_time_s : float
        Where a moved beat goes (``move_beat``), else NaN.
    author, created, note : str
        Who, when (ISO 8601 UTC, seconds) and why.

    Raises
    ------
    ValueError
        When a field is not valid for the action (see :func:`edit_problem`).

    Examples
    --------
    >>> Edit("move_beat", "ecg", 10.0, new_time_s=10.02).new_time_s
    10.02
    >>> Edit("move_beat", "ecg", 10.0)
    Traceback (most recent call last):
    ...
    ValueError: new_time_s: expected the moved beat's new time (s) for move_beat
    """

    action: str
    channel: str
    time_s: float
    end_s: float = math.nan
    new_time_s: float = math.nan
    author: str = ""
    created: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        for name in ("time_s", "end_s", "new_time_s"):
            object.__setattr__(self, name, _nan_singleton(getattr(self, name)))
        for name in ("action", "channel", "author", "created", "note"):
            object.__setattr__(self, name, str(getattr(self, name)))
        problem = edit_problem(self)
        if problem is not None:
            raise ValueError(f"{problem[0]}: {problem[1]}")


def edit_problem(edit: Any) -> tuple[str, str] | None:
    """``(column, what was expected)`` for the first invalid field of an edit, or None.

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> edit_problem(NS(action="delete_beat", channel="eda", time_s=1.0, end_s=math.nan,
    ...                 new_time_s=math.nan, created=""))
    ('channel', "expected ecg for delete_beat, got 'eda'")
    """
    action = edit.action
    if action not in ACTIONS:
        return "action", f"expected one of {', '.join(ACTIONS)}, got {action!r}"
    allowed = ACTION_CHANNELS[action]
    if edit.channel not in allowed:
        return "channel", f"expected {' or '.join(allowed)} for {action}, got {edit.channel!r}"
    return _time_problem(edit) or _created_problem(edit.created)


def _time_problem(edit: Any) -> tuple[str, str] | None:
    """The time columns' problem (see :func:`edit_problem`)."""
    action, t, end, new = edit.action, edit.time_s, edit.end_s, edit.new_time_s
    for name, value in (("time_s", t), ("end_s", end), ("new_time_s", new)):
        if math.isinf(value) or value < 0:
            return name, f"expected a time >= 0 s on the session clock, got {value!r}"
    if action != "reviewed" and math.isnan(t):
        return "time_s", f"expected a time (s) for {action}"
    if action in STRETCH_ACTIONS:
        if math.isnan(end):
            return "end_s", f"expected the stretch's end (s) for {action}"
        if end <= t:
            return "end_s", f"expected an end after time_s ({t!r} s), got {end!r}"
    elif not math.isnan(end):
        return "end_s", f"expected n/a for {action} (only stretches have an end)"
    if action == "move_beat":
        if math.isnan(new):
            return "new_time_s", "expected the moved beat's new time (s) for move_beat"
    elif not math.isnan(new):
        return "new_time_s", f"expected n/a for {action} (only move_beat has a new time)"
    return None


def _created_problem(created: str) -> tuple[str, str] | None:
    if created and not _ISO_RE.match(created):
        return "created", f"expected ISO 8601 UTC time like 2026-01-31T14:05:09Z, got {created!r}"
    return None


def now_utc() -> str:
    """The current UTC time as an edit's ``created`` (ISO 8601, seconds, ``Z``)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------
# Reading and writing
# --------------------------------------------------------------------------------------


#: Columns an exported edit file (one file for many recordings) adds in front.
EXPORT_ID_COLUMNS: tuple[str, ...] = ("participant_id", "session", "task")


def _split_rows(path: Path, text: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of an edit file's text; raises on an empty file or a short row."""
    if not text.strip():
        raise EditFileError(f"{path}: file is empty; expected the header line "
                            f"{chr(9).join(EDITS_COLUMNS)!r}")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    header = [c.strip() for c in lines[0].rstrip("\r").split("\t")]
    rows = []
    for i, line in enumerate(lines[1:], start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        fields_ = line.split("\t")
        if len(fields_) != len(header):
            raise EditFileError(
                f"{path}: row {i}: {len(fields_)} fields, expected {len(header)} "
                f"({', '.join(header)}); is the file truncated?")
        rows.append(fields_)
    return header, rows


def _check_header(path: Path, header: list[str], extra: Sequence[str]) -> None:
    missing = [c for c in EDITS_COLUMNS if c not in header]
    unknown = [c for c in header if c not in EDITS_COLUMNS and c not in extra]
    if missing or unknown or len(set(header)) != len(header):
        raise EditFileError(
            f"{path}: header: expected the columns {', '.join(EDITS_COLUMNS)}"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unknown {', '.join(unknown)}" if unknown else "")
            + ("; a column appears twice" if len(set(header)) != len(header) else ""))


def _parse_time(path: Path, row: int, column: str, text: str) -> float:
    text = text.strip()
    if text in ("", "n/a"):
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise EditFileError(f"{path}: row {row}, column {column}: expected a time in seconds "
                            f"or n/a, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise EditFileError(f"{path}: row {row}, column {column}: expected a time >= 0 s, "
                            f"got {text!r}")
    return value


def _parse_row(path: Path, row: int, values: dict[str, str]) -> Edit:
    """One edit from a row's text values (``n/a`` = missing), or an explained error."""
    def text(name: str) -> str:
        v = values[name].strip()
        return "" if v == "n/a" else v

    kw: dict[str, Any] = {name: text(name) for name in ("action", "channel", "author",
                                                          "created", "note")}
    for name in ("time_s", "end_s", "new_time_s"):
        kw[name] = _parse_time(path, row, name, values[name])
    problem = edit_problem(_Fields(**kw))
    if problem is not None:
        raise EditFileError(f"{path}: row {row}, column {problem[0]}: {problem[1]}")
    return Edit(**kw)


@dataclass
class _Fields:
    """An edit's fields before they are known to be valid."""

    action: str
    channel: str
    time_s: float
    end_s: float
    new_time_s: float
    author: str
    created: str
    note: str


def read_edit_rows(path: Path, *, extra: Sequence[str] = ()
                   ) -> list[tuple[dict[str, str], Edit]]:
    """Each row of an edit file as ``(its values of the extra columns, the edit)``.

    ``extra`` names the columns allowed besides :data:`EDITS_COLUMNS` (an export's
    :data:`EXPORT_ID_COLUMNS`). Raises :class:`EditFileError` like :func:`read_edits`.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EditFileError(f"{path}: cannot read the edit file: {exc}") from None
    header, rows = _split_rows(path, text)
    _check_header(path, header, extra)
    out = []
    for i, fields_ in enumerate(rows, start=1):
        values = dict(zip(header, fields_, strict=True))
        ids = {c: values[c].strip() for c in extra if c in values}
        out.append((ids, _parse_row(path, i, values)))
    return out


def read_edits(path: Path) -> list[Edit]:
    """The edits of one recording, in file order (``[]`` when the file does not exist).

    Raises
    ------
    EditFileError
        Naming the file, the row (1 = first row after the header), the column and what was
        expected: an empty or truncated file, a missing or mislabelled column, an unknown
        action, a channel the action does not take, a time that is not a number >= 0, a
        stretch that ends before it starts, a move without its new time.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> read_edits(d / "absent.tsv")
    []
    >>> _ = (d / "bad.tsv").write_text(
    ...     "\\t".join(EDITS_COLUMNS) + "\\nerase_beat\\tecg\\t1.0\\tn/a\\tn/a\\ta\\t\\t\\n")
    >>> read_edits(d / "bad.tsv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    physio.edits.EditFileError: .../bad.tsv: row 1, column action: expected one of ...
    """
    path = Path(path)
    if not path.exists():
        return []
    return [edit for _, edit in read_edit_rows(path)]


def edits_table(edits: Sequence[Edit]) -> pd.DataFrame:
    """The edits as a table with :data:`EDITS_COLUMNS` (NaN = ``n/a``)."""
    rows = [asdict(e) for e in edits]
    return pd.DataFrame(rows, columns=list(EDITS_COLUMNS)).astype(
        {"time_s": float, "end_s": float, "new_time_s": float})


def edits_sidecar(edits: Sequence[Edit]) -> dict[str, Any]:
    """The JSON sidecar of an edit file: columns, description, authors, tolerances."""
    return {
        "Description": "Hand edits of one recording's beats, SCRs and usable stretches, made "
                       "by an analyst; applied in file order every time the recording is "
                       "processed (the raw data are never changed). Times are on the "
                       "session clock.",
        "Authors": sorted({e.author for e in edits if e.author}),
        "Tolerances": tolerances(),
        "TolerancesDescription": {
            "MATCH_S": "a delete/move edit names the detected beat within this (s)",
            "SNAP_S": "an added beat goes to the R peak within this (s) of the click",
            "REFRACTORY_S": "an added beat closer than this (s) to a beat is stale",
            "SCR_MATCH_S": "an SCR edit names the SCR whose peak is within this (s)",
        },
        **columns_sidecar(EDITS_COLUMNS),
    }


def write_edits(path: Path, edits: Sequence[Edit]) -> None:
    """Write an edit file and its JSON sidecar, each atomically (temporary file + rename).

    A reader (or a crash) never sees a partial file: each file is either the old or the
    new one whole. The sidecar is written first, so the TSV (the data) is never newer than
    a sidecar that does not describe it.

    Examples
    --------
    >>> import json, tempfile
    >>> p = Path(tempfile.mkdtemp()) / "e_desc-edits_physio.tsv"
    >>> write_edits(p, [Edit("delete_scr", "eda", 5.0, author="bo")])
    >>> json.loads(p.with_suffix(".json").read_text())["Authors"]
    ['bo']
    """
    path = Path(path)
    for e in edits:
        if not isinstance(e, Edit):
            raise TypeError(f"write_edits: expected Edit objects, got {type(e).__name__}")
    write_json(path.with_suffix(".json"), edits_sidecar(edits))
    write_tsv(path, edits_table(edits), EDITS_COLUMNS)


# --------------------------------------------------------------------------------------
# Status and merging
# --------------------------------------------------------------------------------------


def review_status(edits: Sequence[Edit]) -> str:
    """``'not reviewed'`` (no edits), ``'reviewed'`` (only ``reviewed`` rows) or ``'edited'``.

    Examples
    --------
    >>> review_status([Edit("reviewed", "all", math.nan), Edit("delete_scr", "eda", 3.0)])
    'edited'
    """
    if not edits:
        return "not reviewed"
    return "reviewed" if all(e.action == "reviewed" for e in edits) else "edited"


def _key(edit: Edit) -> tuple[Any, ...]:
    """What makes two rows the same edit (``created`` and ``note`` aside)."""
    return (edit.action, edit.channel, edit.time_s, edit.end_s, edit.new_time_s, edit.author)


def _same_target(a: Edit, b: Edit) -> bool:
    """True when two edits act on the same beat, SCR or (overlapping) stretch."""
    if a.action in ("delete_beat", "move_beat") and b.action in ("delete_beat", "move_beat"):
        return abs(a.time_s - b.time_s) <= MATCH_S
    if a.action == b.action == "add_beat":
        return abs(a.time_s - b.time_s) < REFRACTORY_S
    if a.action in SCR_ACTIONS and b.action in SCR_ACTIONS:
        return abs(a.time_s - b.time_s) <= SCR_MATCH_S
    if a.action in STRETCH_ACTIONS and b.action in STRETCH_ACTIONS:
        channels = {a.channel, b.channel}
        same = len(channels) == 1 or "all" in channels
        return same and a.time_s < b.end_s and b.time_s < a.end_s
    return False


def _agree(a: Edit, b: Edit) -> bool:
    """True when two edits of the same target do the same thing."""
    if a.action != b.action:
        return False
    if a.action == "move_beat":
        return abs(a.new_time_s - b.new_time_s) <= MATCH_S
    if a.action in STRETCH_ACTIONS:
        return a.channel == b.channel and a.time_s == b.time_s and a.end_s == b.end_s
    return True


def describe_edit(edit: Edit) -> str:
    """An edit in words, for messages.

    Examples
    --------
    >>> describe_edit(Edit("move_beat", "ecg", 12.5, new_time_s=12.53))
    'moved the beat at 12.500 s to 12.530 s'
    """
    a, t = edit.action, edit.time_s
    if a == "move_beat":
        return f"moved the beat at {t:.3f} s to {edit.new_time_s:.3f} s"
    if a in STRETCH_ACTIONS:
        word = "unusable" if a == "mark_unusable" else "usable"
        return f"marked {edit.channel} {t:.3f}-{edit.end_s:.3f} s {word}"
    if a == "reviewed":
        return "marked the recording reviewed"
    verb = {"add_beat": "added a beat at", "delete_beat": "deleted the beat at",
            "delete_scr": "deleted the SCR at", "restore_scr": "restored the SCR at"}[a]
    return f"{verb} {t:.3f} s"


def merge_edits(saved: Sequence[Edit], incoming: Sequence[Edit], *, where: str) -> list[Edit]:
    """A recording's saved edits with a second analyst's (or a script's) edits added.

    The saved rows come first, in their order, then each incoming row that is new:

    - a row identical to one already there (``created`` and ``note`` aside) appears once;
    - a row by another author that does the same thing to the same beat, SCR or stretch
      (both deleted the beat, both moved it to within ``MATCH_S``) is kept once, the first;
    - a row that touches nothing an earlier row of another author touches is appended;
    - a row by another author that disagrees about the same thing (one deleted a beat the
      other moved, or both moved it to different places; one marked a stretch unusable and
      the other usable where they overlap; one deleted an SCR the other restored) raises
      :class:`EditConflictError`. Rows by the same author are never a conflict: the later
      one is that analyst's later decision, applied in file order.

    Parameters
    ----------
    saved, incoming : sequence of Edit
    where : str
        The edit file (or recording) named in a conflict's message.

    Raises
    ------
    EditConflictError
        Naming ``where``, both authors, both edits and how to resolve it.

    Examples
    --------
    >>> a = [Edit("delete_beat", "ecg", 10.0, author="ana")]
    >>> b = [Edit("delete_beat", "ecg", 10.0, author="ana", note="again"),
    ...      Edit("add_beat", "ecg", 20.0, author="bo")]
    >>> [e.action for e in merge_edits(a, b, where="x.tsv")]
    ['delete_beat', 'add_beat']
    >>> merge_edits(a, [Edit("move_beat", "ecg", 10.01, new_time_s=10.2, author="bo")],
    ...             where="x.tsv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    physio.edits.EditConflictError: x.tsv: ana deleted the beat at 10.000 s but bo moved ...
    """
    out = list(saved)
    keys = {_key(e) for e in out}
    for new in incoming:
        if _key(new) in keys:
            continue
        others = [old for old in out if old.author != new.author and _same_target(old, new)]
        clash = next((old for old in others if not _agree(old, new)), None)
        if clash is not None:
            raise EditConflictError(
                f"{where}: {clash.author or 'an unnamed analyst'} {describe_edit(clash)} but "
                f"{new.author or 'an unnamed analyst'} {describe_edit(new)}; the two edits "
                "disagree. Decide which is right, delete the other row from its file (or "
                "edit it so both agree), then merge again")
        if others:
            continue
        out.append(new)
        keys.add(_key(new))
    return out


# --------------------------------------------------------------------------------------
# Snapping a click to its R peak
# --------------------------------------------------------------------------------------


def _local_ecg(ecg: Channel, t_s: float) -> tuple[np.ndarray, int, float]:
    """The finite ECG within :data:`SNAP_CONTEXT_S` of ``t_s``, its first index and the
    click's (fractional) index in it."""
    fs = ecg.sampling_rate
    i = (t_s - ecg.start_s) * fs
    n = len(ecg.data)
    if not (0 <= i < n):
        raise ValueError(f"{t_s:.3f} s is outside the ECG ({ecg.start_s:.3f}-"
                         f"{ecg.start_s + ecg.duration_s:.3f} s)")
    lo = max(0, int(i - SNAP_CONTEXT_S * fs))
    hi = min(n, int(i + SNAP_CONTEXT_S * fs) + 1)
    seg = np.array(ecg.data[lo:hi], dtype=np.float64)
    bad = ~np.isfinite(seg)
    if bad.all():
        raise ValueError(f"the ECG around {t_s:.3f} s holds no samples")
    if bad.any():  # bridge missing samples so the filter runs; no R peak is made there
        good = np.flatnonzero(~bad)
        seg[bad] = np.interp(np.flatnonzero(bad), good, seg[good])
    return seg, lo, i - lo


def snap_to_r_peak(ecg: Channel, t_s: float, *, inverted: bool | None = None) -> float:
    """The session-clock time of the R peak a click at ``t_s`` falls on.

    The ECG around the click is band-passed as for detection
    (:func:`physio.ecg.ecg_clean.ecg_clean`); the R peak is the largest deflection in the
    recording's QRS polarity within ``SNAP_S`` of the click, placed between samples by a
    3-point parabola, as the detector places its beats.

    Parameters
    ----------
    ecg : physio.recording.Channel
        The recording's ECG (its ``start_s`` puts it on the session clock).
    t_s : float
        The click, on the session clock.
    inverted : bool, optional
        The recording's polarity (``BeatSeries.info['polarity_inverted']``); decided from
        the beats detected around the click when not given.

    Returns
    -------
    float

    Examples
    --------
    >>> fs = 500.0
    >>> t = np.arange(int(20 * fs)) / fs
    >>> x = sum(np.exp(-0.5 * ((t - b) / 0.01) ** 2) for b in np.arange(0.5, 20, 0.8))
    >>> round(snap_to_r_peak(Channel("ecg", x, fs, kind="ecg"), 10.13), 3)
    10.1
    >>> round(snap_to_r_peak(Channel("ecg", -x, fs, kind="ecg", start_s=100.0), 110.07), 3)
    110.1
    """
    seg, lo, i = _local_ecg(ecg, float(t_s))
    fs = ecg.sampling_rate
    cleaned = ecg_clean(seg, fs)
    if inverted is None:
        band, fs_d = ecg_detection_signal(seg, fs)
        approx = np.minimum(np.round(detect_qrs(band, fs_d) * fs / fs_d).astype(np.int64),
                            len(seg) - 1)
        inverted = ecg_polarity(cleaned, approx, fs)
    x = -cleaned if inverted else cleaned
    w0 = max(0, int(math.ceil(i - SNAP_S * fs)))
    w1 = min(len(x), int(math.floor(i + SNAP_S * fs)) + 1)
    k = w0 + int(np.argmax(x[w0:w1]))
    left, mid, right = x[max(k - 1, 0)], x[k], x[min(k + 1, len(x) - 1)]
    denom = left - 2 * mid + right
    delta = 0.5 * (left - right) / denom if denom < 0 else 0.0
    return float(ecg.start_s + (lo + k + min(max(delta, -0.5), 0.5)) / fs)


__all__ = ["ACTIONS", "EDIT_CHANNELS", "Edit", "EditConflictError", "EditFileError",
           "MATCH_S", "REFRACTORY_S", "SCR_MATCH_S", "SNAP_S", "merge_edits", "read_edits",
           "review_status", "snap_to_r_peak", "write_edits"]
