"""Apply an analyst's hand edits (:mod:`physio.edits`) to one recording's processed signals.

The pipeline (:func:`physio.pipeline.process_recording`) calls these steps, in this order,
every time it processes a recording that has an edit file; rows are applied in file order:

1. :func:`hand_stretches`: the stretches marked unusable or usable, per channel (a later
   row wins over an earlier one where they overlap);
2. :func:`apply_beat_edits`: delete, add (snapped to the R peak) and move beats of the
   engine's :class:`~physio.ecg.BeatSeries`; the intervals next to an edited beat become
   the measured ones, every other beat keeps its automatic values;
3. :func:`mark_ecg_unusable`: beats in an ECG stretch marked unusable are removed, the
   interval across it is excluded and the stretch joins the bad segments;
4. :func:`edited_ecg_quality`: the per-beat ECG quality follows the edited beats;
5. :func:`edited_eda_artifacts`: EDA stretches marked unusable become artefacts (bridged,
   SCRs near them dropped), automatic artefacts inside stretches marked usable are dropped;
6. :func:`apply_scr_edits`: counted SCRs deleted, dropped or deleted ones restored;
7. breathing: a belt window overlapping a stretch marked unusable has no belt rate
   (:func:`physio.pipeline.belt_span`).

An edit that matches nothing is *stale* (:class:`StaleEdit`): it is applied to nothing,
reported as a warning and in the sidecar, and stays in the edit file.

``mark_usable`` overrides the automatic quality rules, never what cannot be computed:

- ECG: a window whose span is covered (at least :data:`USABLE_COVER`) by stretches marked
  usable is not judged by the ECG quality rule (template correlation, unmatched beats,
  beat coverage, HR range: ``physio.ecg.ecg_quality``); the HRV rules (enough beats, enough
  normal-to-normal differences, no gap) still apply, and beats removed in automatically
  detected unusable signal (missing, flat, clipped, no QRS) are not restored.
- EDA: automatic artefacts inside the stretch are dropped (not bridged, SCRs near them
  kept, the window judged without them); the signal is used as recorded.
- Belt: a window covered by stretches marked usable is not judged by the belt quality
  rule; a window whose breaths the engine cannot count still has no rate.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from physio.ecg import BeatSeries
from physio.ecg.ecg_beats import MAX_GAP_S
from physio.eda import EdaResult
from physio.edits import (
    MATCH_S,
    REFRACTORY_S,
    SCR_MATCH_S,
    STRETCH_ACTIONS,
    Edit,
    review_status,
    snap_to_r_peak,
)
from physio.recording import Channel
from physio.signal_quality import EcgQuality, ecg_quality_of

#: The share of a window that stretches marked usable must cover for the analyst's verdict
#: to replace the automatic one: a stretch drawn by hand over a window misses its edges by
#: a second or two, and what is left (<= 5 %, 3 s of a minute) cannot carry a verdict.
USABLE_COVER = 0.95
#: beat_class of a beat added or moved by hand (conditions.bids.BEATS_COLUMNS).
MANUAL = "manual"
#: The channels a stretch marked on ``all`` applies to.
STRETCH_CHANNELS = ("ecg", "eda", "resp")

Stretch = tuple[float, float, str]  # (start_s, end_s, author) on the session clock


@dataclass(frozen=True)
class StaleEdit:
    """An edit that matched nothing: its 1-based row in the edit file, the edit, why.

    Examples
    --------
    >>> s = StaleEdit(3, Edit("delete_beat", "ecg", 12.5, author="ana"), "no beat within 0.05 s")
    >>> s.as_dict()["row"], s.warning("x_desc-edits_physio.tsv")[:44]
    (3, 'x_desc-edits_physio.tsv: row 3: delete_beat ')
    """

    row: int
    edit: Edit
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """The sidecar's entry (``manual_corrections.stale``)."""
        t = self.edit.time_s
        return {"row": self.row, "action": self.edit.action, "channel": self.edit.channel,
                "time_s": None if math.isnan(t) else t, "reason": self.reason}

    def warning(self, where: str) -> str:
        """The run's warning: file, row, action, time and why."""
        return (f"{where}: row {self.row}: {self.edit.action} ({self.edit.channel}) at "
                f"{self.edit.time_s:.3f} s is stale, applied to nothing: {self.reason} "
                "(kept in the edit file)")


@dataclass
class HandStretches:
    """Stretches marked unusable and usable by hand, per channel (``ecg``, ``eda``,
    ``resp``), session clock, sorted and not overlapping within a channel."""

    unusable: dict[str, list[Stretch]] = field(default_factory=dict)
    usable: dict[str, list[Stretch]] = field(default_factory=dict)

    def seconds(self, which: str) -> dict[str, float]:
        """Total seconds per channel of ``unusable`` or ``usable``."""
        table = self.unusable if which == "unusable" else self.usable
        return {ch: round(sum(b - a for a, b, _ in table.get(ch, [])), 3)
                for ch in STRETCH_CHANNELS}

    def overlaps(self, channel: str, start_s: float, end_s: float) -> list[Stretch]:
        """The stretches marked unusable on ``channel`` that overlap ``[start_s, end_s)``."""
        return [s for s in self.unusable.get(channel, []) if s[0] < end_s and s[1] > start_s]

    def usable_covers(self, channel: str, start_s: float, end_s: float) -> bool:
        """True when stretches marked usable cover :data:`USABLE_COVER` of the span."""
        length = end_s - start_s
        if length <= 0 or not self.usable.get(channel):
            return False
        got = sum(max(0.0, min(b, end_s) - max(a, start_s)) for a, b, _ in self.usable[channel])
        return got >= USABLE_COVER * length


def subtract_span(stretches: list[Stretch], a: float, b: float) -> list[Stretch]:
    """``stretches`` with ``[a, b)`` cut out of each.

    Examples
    --------
    >>> subtract_span([(0.0, 10.0, "x")], 2.0, 3.0)
    [(0.0, 2.0, 'x'), (3.0, 10.0, 'x')]
    """
    out = []
    for s0, s1, who in stretches:
        if s1 <= a or s0 >= b:
            out.append((s0, s1, who))
            continue
        if s0 < a:
            out.append((s0, a, who))
        if s1 > b:
            out.append((b, s1, who))
    return out


def hand_stretches(edits: Sequence[Edit]) -> HandStretches:
    """The stretches each channel ends up marked, the rows applied in file order.

    A stretch marked unusable cancels an earlier usable mark over its span, and the
    reverse; ``all`` marks every channel.

    Examples
    --------
    >>> h = hand_stretches([Edit("mark_unusable", "all", 10.0, end_s=20.0, author="a"),
    ...                     Edit("mark_usable", "eda", 15.0, end_s=30.0, author="b")])
    >>> h.unusable["eda"], h.usable["eda"], h.unusable["ecg"]
    ([(10.0, 15.0, 'a')], [(15.0, 30.0, 'b')], [(10.0, 20.0, 'a')])
    """
    out = HandStretches()
    for e in edits:
        if e.action not in STRETCH_ACTIONS:
            continue
        channels = STRETCH_CHANNELS if e.channel == "all" else (e.channel,)
        add, cut = ((out.unusable, out.usable) if e.action == "mark_unusable"
                    else (out.usable, out.unusable))
        for ch in channels:
            cut[ch] = subtract_span(cut.get(ch, []), e.time_s, e.end_s)
            add[ch] = sorted(subtract_span(add.get(ch, []), e.time_s, e.end_s)
                             + [(e.time_s, e.end_s, e.author)])
    return out


# --------------------------------------------------------------------------------------
# Beats
# --------------------------------------------------------------------------------------


@dataclass
class BeatEdits:
    """The beats after the hand edits, and what was done.

    ``source`` gives, per kept beat, the index of the engine's beat it is (-1: added by
    hand); ``hand`` the ``(beat_class, reason)`` of each beat placed by hand, by its id.
    """

    beats: BeatSeries
    source: np.ndarray
    added: int = 0
    deleted: int = 0
    moved: int = 0
    stale: list[StaleEdit] = field(default_factory=list)


@dataclass
class _Working:
    """Beats being edited: times (channel clock), ids (engine index; >= n: added)."""

    t: np.ndarray
    ids: np.ndarray
    hand: dict[int, tuple[str, str]] = field(default_factory=dict)
    removed_t: list[float] = field(default_factory=list)
    removed_why: list[str] = field(default_factory=list)
    next_id: int = 0

    def nearest(self, x: float) -> int | None:
        """Index of the beat within MATCH_S of ``x`` (the nearest), else None."""
        if not len(self.t):
            return None
        j = int(np.argmin(np.abs(self.t - x)))
        return j if abs(self.t[j] - x) <= MATCH_S else None

    def clash(self, x: float, skip: int | None = None) -> float | None:
        """The time of a beat closer than REFRACTORY_S to ``x`` (other than ``skip``)."""
        d = np.abs(self.t - x)
        if skip is not None:
            d[skip] = np.inf
        j = int(np.argmin(d)) if len(d) else -1
        return float(self.t[j]) if j >= 0 and d[j] < REFRACTORY_S else None

    def put(self, j: int | None, x: float, ident: int, why: tuple[str, str]) -> None:
        """Place beat ``ident`` at ``x`` (replacing index ``j`` when given), keep order."""
        if j is not None:
            self.t, self.ids = np.delete(self.t, j), np.delete(self.ids, j)
        k = int(np.searchsorted(self.t, x))
        self.t, self.ids = np.insert(self.t, k, x), np.insert(self.ids, k, ident)
        self.hand[ident] = why


def _edit_one_beat(w: _Working, e: Edit, offset: float, ecg: Channel,
                   inverted: bool | None) -> str:
    """Apply one beat edit to ``w``: '' when applied, else why it is stale."""
    who = e.author or "unnamed analyst"
    if e.action == "add_beat":
        try:
            x = snap_to_r_peak(ecg, e.time_s, inverted=inverted) - offset
        except ValueError as exc:
            return str(exc)
        near = w.clash(x)
        if near is not None:
            return (f"a beat at {near + offset:.3f} s is closer than {REFRACTORY_S} s to the "
                    f"R peak at {x + offset:.3f} s")
        w.put(None, x, w.next_id, (MANUAL, f"added by hand ({who})"))
        w.next_id += 1
        return ""
    j = w.nearest(e.time_s - offset)
    if j is None:
        return f"no beat within {MATCH_S} s"
    if e.action == "delete_beat":
        w.removed_t.append(float(w.t[j]))
        w.removed_why.append(f"deleted by hand ({who})")
        w.hand.pop(int(w.ids[j]), None)
        w.t, w.ids = np.delete(w.t, j), np.delete(w.ids, j)
        return ""
    x = e.new_time_s - offset
    near = w.clash(x, skip=j)
    if near is not None:
        return f"the new time is closer than {REFRACTORY_S} s to the beat at {near + offset:.3f} s"
    old = float(w.t[j]) + offset
    w.put(j, x, int(w.ids[j]), (MANUAL, f"moved by hand from {old:.3f} s ({who})"))
    return ""


def _gap_between(beats: BeatSeries, t0: float, t1: float) -> bool:
    """True when ``(t0, t1)`` is too long to be an interval or crosses a bad segment."""
    max_gap = float((beats.info.get("parameters") or {}).get("max_gap_s", MAX_GAP_S))
    if t1 - t0 > max_gap:
        return True
    return any(a < t1 and b > t0 for a, b in beats.bad_segments_s)


def _rebuild(beats: BeatSeries, w: _Working) -> BeatSeries:
    """The BeatSeries of the edited beats: an engine's beat keeps its values unless it was
    placed by hand or its preceding beat changed; those intervals are measured."""
    n = len(beats.peaks_s)
    rr = np.full(len(w.t), np.nan)
    corrected = np.zeros(len(w.t), dtype=bool)
    klass = np.empty(len(w.t), dtype=object)
    reason = np.empty(len(w.t), dtype=object)
    auto_rr = np.asarray(beats.rr_ms, dtype=float)
    auto_corr = np.asarray(beats.corrected, dtype=bool)
    for j, q in enumerate(w.ids.tolist()):
        prev = int(w.ids[j - 1]) if j > 0 else None
        same_prev = q < n and prev == (q - 1 if q > 0 else None) and prev not in w.hand
        if q < n and q not in w.hand and same_prev:
            rr[j], corrected[j] = auto_rr[q], auto_corr[q]
            klass[j], reason[j] = beats.beat_class[q], beats.reason[q]
            continue
        if j > 0 and not _gap_between(beats, float(w.t[j - 1]), float(w.t[j])):
            rr[j] = (w.t[j] - w.t[j - 1]) * 1000.0
        if q in w.hand:
            klass[j], reason[j] = w.hand[q]
        else:  # an engine's beat whose interval now starts at another beat
            klass[j] = "normal" if auto_corr[q] else beats.beat_class[q]
            reason[j] = "interval measured after a hand edit"
    removed_s = np.r_[np.asarray(beats.removed_s, dtype=float), w.removed_t]
    removed_why = np.r_[np.asarray(beats.removed_reason, dtype=object),
                        np.asarray(w.removed_why, dtype=object)]
    return dataclasses.replace(beats, peaks_s=w.t.copy(), rr_ms=rr, corrected=corrected,
                               beat_class=klass, reason=reason, removed_s=removed_s,
                               removed_reason=removed_why)


def apply_beat_edits(beats: BeatSeries, ecg: Channel,
                     rows: Sequence[tuple[int, Edit]]) -> BeatEdits:
    """Delete, add and move beats as the edit rows say, in file order.

    ``delete_beat`` removes the beat within ``MATCH_S`` (it stays in the beats table as
    ``removed``, reason ``deleted by hand (author)``); ``add_beat`` inserts a beat at the
    R peak of the click (:func:`physio.edits.snap_to_r_peak`), unless a beat is already
    within ``REFRACTORY_S``; ``move_beat`` moves the beat within ``MATCH_S`` to
    ``new_time_s`` as given (the analyst placed it). The intervals ending at or starting
    from an edited beat are measured (``corrected`` False: an analyst checked them), or
    NaN across a gap; every other beat keeps the engine's values.

    Parameters
    ----------
    beats : BeatSeries
        The engine's beats (channel clock).
    ecg : physio.recording.Channel
        The ECG they come from (its ``start_s`` is the session-clock offset).
    rows : sequence of (int, Edit)
        The beat edits with their 1-based rows in the edit file.

    Examples
    --------
    >>> t = np.arange(1.0, 10.0)
    >>> b = BeatSeries(t, np.r_[np.nan, np.full(8, 1000.0)], np.zeros(9, bool))
    >>> ch = Channel("ecg", np.zeros(1000), 100.0, kind="ecg")
    >>> out = apply_beat_edits(b, ch, [(1, Edit("delete_beat", "ecg", 5.01, author="a")),
    ...                                (2, Edit("delete_beat", "ecg", 5.5, author="a"))])
    >>> out.beats.rr_ms.tolist()[3:5], out.deleted, out.stale[0].reason
    ([1000.0, 2000.0], 1, 'no beat within 0.05 s')
    """
    offset = float(ecg.start_s)
    n = len(beats.peaks_s)
    w = _Working(np.asarray(beats.peaks_s, dtype=float).copy(), np.arange(n), next_id=n)
    inverted = (beats.info or {}).get("polarity_inverted")
    counts = {"add_beat": 0, "delete_beat": 0, "move_beat": 0}
    stale = []
    for row, e in rows:
        why = _edit_one_beat(w, e, offset, ecg, inverted)
        if why:
            stale.append(StaleEdit(row, e, why))
        else:
            counts[e.action] += 1
    source = np.where(w.ids < n, w.ids, -1)
    source[[i for i, q in enumerate(w.ids.tolist()) if q in w.hand]] = -1
    return BeatEdits(_rebuild(beats, w), source.astype(np.int64), counts["add_beat"],
                     counts["delete_beat"], counts["move_beat"], stale)


def mark_ecg_unusable(edited: BeatEdits, stretches: list[Stretch], offset_s: float
                      ) -> BeatEdits:
    """Remove the beats inside ECG stretches marked unusable, exclude the interval across
    each, and add the stretches to the bad segments (the HRV coverage rule counts them).

    Examples
    --------
    >>> b = BeatSeries(np.arange(1.0, 10.0), np.r_[np.nan, np.full(8, 1000.0)],
    ...                np.zeros(9, bool))
    >>> e = mark_ecg_unusable(BeatEdits(b, np.arange(9)), [(3.5, 5.5, "a")], 0.0)
    >>> e.beats.peaks_s.tolist()[:4], float(e.beats.rr_ms[3]), e.beats.bad_segments_s
    ([1.0, 2.0, 3.0, 6.0], nan, [(3.5, 5.5)])
    """
    if not stretches:
        return edited
    b = edited.beats
    t = np.asarray(b.peaks_s, dtype=float)
    keep = np.ones(len(t), dtype=bool)
    gone, why = [], []
    rr = np.asarray(b.rr_ms, dtype=float).copy()
    reason = np.asarray(b.reason, dtype=object).copy()
    segments = list(b.bad_segments_s)
    for a, z, who in stretches:
        a, z = a - offset_s, z - offset_s
        inside = (t >= a) & (t < z)
        gone += t[inside].tolist()
        why += [f"inside a stretch marked unusable by hand ({who or 'unnamed analyst'}) "
                f"{a + offset_s:.2f}-{z + offset_s:.2f} s"] * int(inside.sum())
        keep &= ~inside
        after = int(np.searchsorted(t, z))
        if after < len(t):
            rr[after] = np.nan
            reason[after] = "first beat after a stretch marked unusable by hand: interval excluded"
        new: list[Stretch] = [(a, z, "")]
        for s0, s1 in segments:  # the bad segments are summed: never count a second twice
            new = subtract_span(new, s0, s1)
        segments += [(p0, p1) for p0, p1, _ in new]
    info = dict(b.info or {})
    info["bad_segment_kinds"] = list(info.get("bad_segment_kinds", [])) + \
        ["marked unusable by hand"] * (len(segments) - len(b.bad_segments_s))
    beats = dataclasses.replace(
        b, peaks_s=t[keep], rr_ms=rr[keep], corrected=np.asarray(b.corrected)[keep],
        beat_class=np.asarray(b.beat_class, dtype=object)[keep], reason=reason[keep],
        bad_segments_s=segments, info=info,
        removed_s=np.r_[np.asarray(b.removed_s, dtype=float), gone],
        removed_reason=np.r_[np.asarray(b.removed_reason, dtype=object),
                             np.asarray(why, dtype=object)])
    return dataclasses.replace(edited, beats=beats, source=edited.source[keep])


def edited_ecg_quality(auto: EcgQuality, edited: BeatEdits, ecg: Channel) -> EcgQuality:
    """The per-beat ECG quality of the edited beats.

    An engine's beat keeps its automatic values (so a window nobody edited is judged as
    before); a beat placed by hand gets the correlations measured at its place, and is
    never ``low_quality`` (an analyst saw it is a heartbeat).
    """
    src = edited.source
    table = auto.beats.iloc[np.clip(src, 0, None)].reset_index(drop=True).copy()
    hand = np.flatnonzero(src < 0)
    if len(hand):
        measured = ecg_quality_of(ecg, edited.beats).beats
        for col in table.columns:
            table.loc[hand, col] = measured[col].to_numpy()[hand]
        table.loc[hand, "low_quality"] = False
        if "timing_ambiguous" in table:  # the analyst placed it: its time is not ambiguous
            table.loc[hand, "timing_ambiguous"] = False
    table["low_quality"] = table["low_quality"].astype(bool)
    return EcgQuality(np.asarray(edited.beats.peaks_s, dtype=float) + ecg.start_s, table)


# --------------------------------------------------------------------------------------
# EDA
# --------------------------------------------------------------------------------------


def edited_eda_artifacts(artifacts: list[tuple[float, float, str]], hand: HandStretches
                         ) -> list[tuple[float, float, str]]:
    """The EDA artefacts with the hand stretches: usable ones cut out of the automatic
    artefacts, unusable ones added (reason ``marked unusable by hand``); unchanged (the
    same list) without EDA stretches.

    Examples
    --------
    >>> h = hand_stretches([Edit("mark_usable", "eda", 0.0, end_s=12.0),
    ...                     Edit("mark_unusable", "eda", 50.0, end_s=55.0)])
    >>> edited_eda_artifacts([(10.0, 14.0, "slope")], h)
    [(12.0, 14.0, 'slope'), (50.0, 55.0, 'marked unusable by hand')]
    """
    bad, good = hand.unusable.get("eda", []), hand.usable.get("eda", [])
    if not bad and not good:
        return artifacts
    out = list(artifacts)
    for a, b, _ in good + bad:
        out = subtract_span(out, a, b)
    out += [(a, b, "marked unusable by hand") for a, b, _ in bad]
    return sorted(out)


@dataclass
class ScrEdits:
    """The SCRs after the hand edits, and what was done."""

    result: EdaResult
    deleted: int = 0
    restored: int = 0
    stale: list[StaleEdit] = field(default_factory=list)


def _scr_pick(peaks: np.ndarray, x: float) -> int | None:
    if not len(peaks):
        return None
    j = int(np.argmin(np.abs(peaks - x)))
    return j if abs(peaks[j] - x) <= SCR_MATCH_S else None


def apply_scr_edits(found: EdaResult, counted: EdaResult,
                    rows: Sequence[tuple[int, Edit]]) -> ScrEdits:
    """Delete counted SCRs and restore deleted or artefact-dropped ones, in file order.

    ``found`` is the engine's result before SCRs near artefacts were dropped, ``counted``
    after. ``delete_scr`` drops the counted SCR whose peak is within ``SCR_MATCH_S``;
    ``restore_scr`` brings back an SCR deleted by hand or dropped near an artefact whose
    peak is within it. Anything else is stale.

    Examples
    --------
    >>> r = EdaResult(10.0, 0.0, np.zeros(3), np.zeros(3), np.array([1.0, 5.0]),
    ...               np.array([2.0, 6.0]), np.array([0.1, 0.2]))
    >>> out = apply_scr_edits(r, r, [(1, Edit("delete_scr", "eda", 6.3)),
    ...                               (2, Edit("restore_scr", "eda", 2.0))])
    >>> out.result.scr_peak_s.tolist(), out.deleted, out.stale[0].reason[:20]
    ([2.0], 1, 'the SCR at 2.000 s i')
    """
    keys = ("scr_onset_s", "scr_peak_s", "scr_amp_us")
    cur = {k: np.asarray(getattr(counted, k), dtype=float) for k in keys}
    out = ScrEdits(counted)
    deleted: list[tuple[float, float, float]] = []
    for row, e in rows:
        j = _scr_pick(cur["scr_peak_s"], e.time_s)
        if e.action == "delete_scr":
            if j is None:
                out.stale.append(StaleEdit(row, e, f"no counted SCR peak within {SCR_MATCH_S} s"))
                continue
            deleted.append(tuple(float(cur[k][j]) for k in keys))
            cur = {k: np.delete(v, j) for k, v in cur.items()}
            out.deleted += 1
            continue
        if j is not None:
            out.stale.append(StaleEdit(row, e, f"the SCR at {cur['scr_peak_s'][j]:.3f} s is "
                                               "counted already"))
            continue
        pool = deleted + [tuple(float(getattr(found, k)[i]) for k in keys)
                          for i in range(len(found.scr_peak_s))
                          if not np.any(np.isclose(cur["scr_peak_s"], found.scr_peak_s[i]))]
        i = _scr_pick(np.array([p[1] for p in pool]), e.time_s)
        if i is None:
            out.stale.append(StaleEdit(row, e, "no SCR deleted by hand or dropped near an "
                                               f"artefact peaks within {SCR_MATCH_S} s"))
            continue
        if pool[i] in deleted:
            deleted.remove(pool[i])
        k = int(np.searchsorted(cur["scr_peak_s"], pool[i][1]))
        cur = {key: np.insert(cur[key], k, pool[i][n]) for n, key in enumerate(keys)}
        out.restored += 1
    if out.deleted or out.restored:
        out.result = dataclasses.replace(counted, **cur)
    return out


# --------------------------------------------------------------------------------------
# The record
# --------------------------------------------------------------------------------------


@dataclass
class EditLog:
    """What the edits of one recording did (``RecordingResult.manual_corrections``)."""

    edits: Sequence[Edit]
    hand: HandStretches
    beats: BeatEdits | None = None
    scrs: ScrEdits | None = None
    stale: list[StaleEdit] = field(default_factory=list)

    def all_stale(self) -> list[StaleEdit]:
        """Every stale edit, in row order."""
        found = list(self.stale)
        found += self.beats.stale if self.beats is not None else []
        found += self.scrs.stale if self.scrs is not None else []
        return sorted(found, key=lambda s: s.row)

    def summary(self) -> dict[str, Any]:
        """The sidecar's ``manual_corrections`` (without the file and its hash)."""
        reviewed = [e for e in self.edits if e.action == "reviewed"]
        b, s = self.beats, self.scrs
        return {
            "status": review_status(self.edits),
            "n_edits": len(self.edits),
            "beats_added": b.added if b else 0,
            "beats_deleted": b.deleted if b else 0,
            "beats_moved": b.moved if b else 0,
            "n_beats": int(len(b.beats.peaks_s)) if b else None,
            "unusable_s": self.hand.seconds("unusable"),
            "usable_s": self.hand.seconds("usable"),
            "scrs_deleted": s.deleted if s else 0,
            "scrs_restored": s.restored if s else 0,
            "reviewed": bool(reviewed),
            "review_note": reviewed[-1].note if reviewed else "",
            "authors": sorted({e.author for e in self.edits if e.author}),
            "stale": [x.as_dict() for x in self.all_stale()],
        }


def numbered(edits: Sequence[Edit], actions: Sequence[str]) -> list[tuple[int, Edit]]:
    """The edits whose action is in ``actions``, with their 1-based rows.

    Examples
    --------
    >>> numbered([Edit("reviewed", "all", math.nan), Edit("delete_scr", "eda", 1.0)],
    ...          ["delete_scr"])[0][0]
    2
    """
    return [(i, e) for i, e in enumerate(edits, start=1) if e.action in actions]


def stretch_stale(edits: Sequence[Edit], present: dict[str, bool]) -> list[StaleEdit]:
    """Stretches marked on a channel the recording does not have (or could not use)."""
    out = []
    for row, e in numbered(edits, STRETCH_ACTIONS):
        missing = [ch for ch in (STRETCH_CHANNELS if e.channel == "all" else (e.channel,))
                   if not present.get(ch)]
        if e.channel != "all" and missing:
            out.append(StaleEdit(row, e, f"the recording has no usable {e.channel} channel"))
    return out

