"""The session timeline, built only from the protocol (never hard-coded).

Time compression (``--simulate --speed K``) shortens the clock-timed phases (rest and the
induction) by K; participant-paced phases (instructions, questionnaires, end) are unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    """One phase to run, with its (possibly compressed) duration."""

    phase: object  # conditions.protocol.Phase
    run_s: float  # seconds on the wall clock; 0 = participant-paced

    @property
    def name(self) -> str:
        return self.phase.name

    @property
    def kind(self) -> str:
        return self.phase.kind


def compressed(duration_s: float, speed: float) -> float:
    """``duration_s`` compressed by ``speed`` (>= 1).

    Examples
    --------
    >>> compressed(300, 60)
    5.0
    """
    if speed < 1:
        raise ValueError(f"speed must be >= 1, got {speed}")
    return float(duration_s) / float(speed)


def build_timeline(protocol, speed: float = 1.0, completed: Iterable[str] = ()) -> list[Step]:
    """The phases still to run, in protocol order, skipping ``completed`` ones.

    Examples
    --------
    >>> from conditions.protocol import load_protocol
    >>> steps = build_timeline(load_protocol(), speed=60)
    >>> [(s.name, s.run_s) for s in steps][:2]
    [('instructions', 0.0), ('baseline', 5.0)]
    """
    done = set(completed)
    return [
        Step(phase, compressed(phase.duration_s, speed) if phase.duration_s > 0 else 0.0)
        for phase in protocol.phases
        if phase.name not in done
    ]


def induction_minute_offsets(play_s: float, speed: float, n_codes: int) -> list[tuple[int, float]]:
    """(minute, seconds after audio onset) for every induction minute that starts in time.

    Minute 1 starts at audio onset; minute n at (n-1)*60/speed.

    Examples
    --------
    >>> induction_minute_offsets(30.0, 10.0, 11)[:3]
    [(1, 0.0), (2, 6.0), (3, 12.0)]
    """
    step = 60.0 / float(speed)
    n = min(n_codes, max(1, math.ceil(play_s / step - 1e-9)))
    return [(m, (m - 1) * step) for m in range(1, n + 1)]
