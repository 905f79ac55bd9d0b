"""One simulated participant session in memory, and its ``_events.tsv`` table.

Shared by the study writer (:mod:`soothe.simulate.study`) and the lab-format writers
(:mod:`soothe.simulate.formats`), which both take a :class:`SimulatedSession`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from conditions.protocol import Protocol
from soothe.simulate.participant import ParticipantModel
from soothe.simulate.rr import BeatSeries
from soothe.simulate.timeline import SessionTimeline

#: LSL clock reading at the first physiology sample of a simulated session (s).
LSL_ZERO_S = 10_000.0


@dataclass
class SimulatedSession:
    """One simulated participant session, in memory."""

    participant_id: str  # without 'sub-'
    condition: str
    sex: str
    age: int
    fs: float
    timeline: SessionTimeline
    model: ParticipantModel
    beats: BeatSeries
    ecg_mv: np.ndarray
    eda_us: np.ndarray
    resp_v: np.ndarray
    scrs: pd.DataFrame
    motion_s: np.ndarray
    beh: pd.DataFrame
    truth: pd.DataFrame
    truth_phases: pd.DataFrame = field(default_factory=pd.DataFrame)
    session_code: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def events_table(self, protocol: Protocol) -> pd.DataFrame:
        """The ``_events.tsv`` table: onset, duration, trial_type, value, clock times."""
        return events_table(self.timeline, protocol)


def events_table(timeline: SessionTimeline, protocol: Protocol) -> pd.DataFrame:
    """Markers as the session runner writes them (value = marker code).

    Examples
    --------
    >>> from conditions.protocol import load_protocol
    >>> from soothe.simulate.timeline import build_timeline
    >>> protocol = load_protocol()
    >>> tl = build_timeline(protocol, "neutral", np.random.default_rng(0))
    >>> events_table(tl, protocol)["trial_type"].iloc[0]
    'session_start'
    """
    labels = protocol.markers
    onsets = np.array([o for o, _ in timeline.events])
    codes = [c for _, c in timeline.events]
    psychopy_zero = timeline.events[0][0]  # PsychoPy clock starts at session start
    return pd.DataFrame(
        {
            "onset": np.round(onsets, 4),
            "duration": 0.0,
            "trial_type": [labels.label(c) for c in codes],
            "value": codes,
            "psychopy_time": np.round(onsets - psychopy_zero, 4),
            "lsl_time": np.round(onsets + LSL_ZERO_S, 4),
        }
    )
