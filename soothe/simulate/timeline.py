"""A simulated session's timeline: phase times, questionnaire item times and markers.

The timeline follows the protocol exactly as the session runner would: the phases in
order, each phase's onset and offset marker, item onset and response markers, audio onset
and offset, one marker per induction minute (minute 1 starts at audio onset), the
condition code (when ``markers.send_condition_code`` says), and session start and end.
Participant-paced phases get plausible durations. Times are seconds on the session clock
whose zero is the first physiology sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from conditions.protocol import MarkerTable, Phase, Protocol
from conditions.questionnaire_items import Item, load_items

#: Pause between one phase's offset and the next phase's onset (screen change), s.
PHASE_GAP_S = 0.2
#: Audio starts this long after the induction phase onset marker, s.
AUDIO_LAG_S = 0.05
#: Physiology recording runs this long before session start and after session end, s.
RECORD_MARGIN_S = (2.0, 3.0)


@dataclass(frozen=True)
class PhaseSpan:
    """One phase as it happened: marker times and the span its windows cover."""

    name: str
    kind: str
    onset_s: float
    offset_s: float
    window_start_s: float  # induction: audio onset; other phases: phase onset
    window_end_s: float  # induction: audio offset; other phases: phase offset


@dataclass(frozen=True)
class ItemSlot:
    """When one questionnaire item was shown and answered."""

    phase: str
    questionnaire: str
    item: Item
    position: int
    onset_s: float
    response_time_s: float


@dataclass(frozen=True)
class SessionTimeline:
    """Everything time-related about one simulated session."""

    condition: str
    phases: tuple[PhaseSpan, ...]
    items: tuple[ItemSlot, ...]
    events: tuple[tuple[float, int], ...]  # (onset_s, marker code), sorted by onset
    audio_onset_s: float
    audio_offset_s: float
    duration_s: float  # length of the physiology recording

    def phase(self, name: str) -> PhaseSpan:
        """The span of phase ``name``."""
        for span in self.phases:
            if span.name == name:
                return span
        raise KeyError(name)

    def spans_of_kind(self, kind: str) -> list[PhaseSpan]:
        """All phase spans of one kind (e.g. ``questionnaire``)."""
        return [p for p in self.phases if p.kind == kind]


def protocol_items(protocol: Protocol) -> dict[str, list[Item]]:
    """Items of every questionnaire the protocol names, read from their item files."""
    return {name: load_items(ref.file) for name, ref in protocol.questionnaires.items()}


def build_timeline(
    protocol: Protocol,
    condition: str,
    rng: np.random.Generator,
    items: dict[str, list[Item]] | None = None,
    record_margin_s: tuple[float, float] = RECORD_MARGIN_S,
) -> SessionTimeline:
    """Draw one session's timeline.

    Parameters
    ----------
    protocol : Protocol
        Supplies phases, durations, marker codes and questionnaires.
    condition : str
        The allocated condition (its ``duration_s`` is the audio length).
    rng : numpy.random.Generator
        Source of the participant-paced durations and the item order.
    items : dict, optional
        Items per questionnaire (default: read from the protocol's item files).
    record_margin_s : tuple of float
        Physiology recorded before session start and after session end (s): electrode
        settling and debriefing in a real lab.

    Examples
    --------
    >>> from conditions.protocol import load_protocol
    >>> tl = build_timeline(load_protocol(), "neutral", np.random.default_rng(0))
    >>> round(tl.audio_offset_s - tl.audio_onset_s)
    660
    """
    markers = protocol.markers
    items = protocol_items(protocol) if items is None else items
    events: list[tuple[float, int]] = []
    spans: list[PhaseSpan] = []
    slots: list[ItemSlot] = []
    t = float(record_margin_s[0]) + float(rng.uniform(0.0, 1.0))
    events.append((t, markers.event("session_start")))
    t += 0.5
    audio_on = audio_off = math.nan
    for phase in protocol.phases:
        span, phase_events, phase_slots = schedule_phase(
            phase, protocol, condition, items, t, rng
        )
        events.extend(phase_events)
        slots.extend(phase_slots)
        spans.append(span)
        if phase.kind == "induction":
            audio_on, audio_off = span.window_start_s, span.window_end_s
        t = span.offset_s + PHASE_GAP_S
    events.append((t, markers.event("session_end")))
    duration = t + float(record_margin_s[1])
    events = sorted(((round(o, 4), c) for o, c in events), key=lambda e: e[0])
    return SessionTimeline(
        condition=condition,
        phases=tuple(spans),
        items=tuple(slots),
        events=tuple(events),
        audio_onset_s=audio_on,
        audio_offset_s=audio_off,
        duration_s=duration,
    )


def schedule_phase(
    phase: Phase,
    protocol: Protocol,
    condition: str,
    items: dict[str, list[Item]],
    onset: float,
    rng: np.random.Generator,
) -> tuple[PhaseSpan, list[tuple[float, int]], list[ItemSlot]]:
    """One phase starting at ``onset``: its span, its markers (in sending order) and items.

    The induction lasts the condition's audio; a questionnaire is participant-paced item
    by item; a phase with a ``duration_s`` lasts that long; instructions take 45-90 s and
    the end screen 5-10 s.

    Examples
    --------
    >>> from conditions.protocol import load_protocol
    >>> protocol = load_protocol()
    >>> phase = protocol.phases[0]
    >>> span, events, _ = schedule_phase(phase, protocol, "neutral", protocol_items(protocol),
    ...                                  10.0, np.random.default_rng(0))
    >>> span.onset_s, events[0] == (10.0, protocol.markers.phase_onset(phase.name))
    (10.0, True)
    """
    markers = protocol.markers
    events = [(onset, markers.phase_onset(phase.name))]
    slots: list[ItemSlot] = []
    audio: tuple[float, float] | None = None  # the induction's windows cover the audio
    if phase.kind == "induction":
        audio_events, audio_on, audio_off = induction_events(
            markers, condition, protocol.conditions[condition].duration_s, onset
        )
        events.extend(audio_events)
        offset = audio_off + AUDIO_LAG_S
        audio = (audio_on, audio_off)
    elif phase.kind == "questionnaire":
        slots, offset = _questionnaire(
            phase.name, phase.questionnaires, items, protocol, onset, rng
        )
        for s in slots:
            events.append((s.onset_s, markers.event("item_onset")))
            events.append((s.onset_s + s.response_time_s, markers.event("item_response")))
    elif phase.duration_s > 0:
        offset = onset + phase.duration_s
    elif phase.kind == "instructions":
        offset = onset + float(rng.uniform(45.0, 90.0))
    else:  # end screen, participant-paced
        if markers.send_condition_code == "end":
            events.append((onset + 0.01, markers.condition(condition)))
        offset = onset + float(rng.uniform(5.0, 10.0))
    w_start, w_end = audio or (onset, offset)
    events.append((offset, markers.phase_offset(phase.name)))
    return PhaseSpan(phase.name, phase.kind, onset, offset, w_start, w_end), events, slots


def induction_events(
    markers: MarkerTable, condition: str, duration_s: float, onset: float
) -> tuple[list[tuple[float, int]], float, float]:
    """The induction's markers after its onset marker, and the audio onset and offset.

    Audio starts ``AUDIO_LAG_S`` after the phase onset; the condition code follows it when
    ``markers.send_condition_code`` says so; one marker per started induction minute.

    Examples
    --------
    >>> from conditions.protocol import load_protocol
    >>> events, on, off = induction_events(load_protocol().markers, "neutral", 90.0, 0.0)
    >>> len(events), on, off
    (4, 0.05, 90.05)
    """
    audio_on = onset + AUDIO_LAG_S
    audio_off = audio_on + duration_s
    events = [(audio_on, markers.event("audio_onset"))]
    if markers.send_condition_code == "induction_onset":
        events.append((audio_on, markers.condition(condition)))
    n_minutes = math.ceil(duration_s / 60.0 - 1e-9)
    for m in range(1, n_minutes + 1):
        events.append((audio_on + 60.0 * (m - 1), markers.induction_minute(m)))
    events.append((audio_off, markers.event("audio_offset")))
    return events, audio_on, audio_off


def _questionnaire(
    phase: str,
    names: tuple[str, ...],
    items: dict[str, list[Item]],
    protocol: Protocol,
    onset: float,
    rng: np.random.Generator,
) -> tuple[list[ItemSlot], float]:
    """Schedule the items of a questionnaire phase: about 1.5-3 min, participant-paced."""
    ordered: list[tuple[str, Item]] = []
    for name in names:
        qitems = list(items[name])
        if protocol.questionnaires[name].randomise_order:
            qitems = [qitems[i] for i in rng.permutation(len(qitems))]
        ordered.extend((name, it) for it in qitems)
    lead, gap = 3.0, 0.4  # instruction screen, then a short blank between items
    total = float(rng.uniform(90.0, 180.0))
    answer_time = max(total - lead - gap * len(ordered), 1.5 * len(ordered))
    weights = rng.lognormal(0.0, 0.35, size=len(ordered))
    rts = answer_time * weights / weights.sum()
    t = onset + lead
    slots = []
    for pos, ((qname, item), rt) in enumerate(zip(ordered, rts), start=1):
        slots.append(ItemSlot(phase, qname, item, pos, round(t, 4), round(float(rt), 4)))
        t += float(rt) + gap
    return slots, t
