"""The two clocks of a session: PsychoPy's (screen flips, audio onsets) and LSL's (markers,
physiology samples).

Both count seconds on the same machine but from different zeros; a marker stamped on the
PsychoPy clock is moved to the LSL clock by their difference, measured here.
"""

from __future__ import annotations


def core_minus_lsl() -> float:
    """PsychoPy clock minus LSL clock (s), from the tightest of a few back-to-back readings.

    Each reading brackets one LSL clock read between two PsychoPy clock reads; the pair
    with the shortest bracket gives the difference with the least scheduling noise.
    """
    # liblsl reads its config (LSLAPICFG) when pylsl loads, after keep_lsl_on_machine()
    # lazy: pylsl must load after the LSL config is set; PsychoPy takes seconds to load
    import pylsl
    from psychopy import core

    best = (float("inf"), 0.0)
    for _ in range(10):
        a = core.getTime()
        b = pylsl.local_clock()
        c = core.getTime()
        best = min(best, (c - a, (a + c) / 2 - b))
    return best[1]
