"""physio.ecg + physio.hrv recover the planted per-window HR and RMSSD of a simulated session."""

from __future__ import annotations

import numpy as np
import pytest

from physio.ecg import ecg_beats
from physio.hrv import hrv_window

simulate = pytest.importorskip("soothe.simulate.study")


@pytest.mark.parametrize("condition, seed", [("kindness_self", 1), ("rumination", 2)])
def test_planted_hr_and_rmssd_are_recovered(condition, seed):
    from conditions.protocol import load_protocol

    s = simulate.simulate_session(load_protocol(), "sub-01", condition, seed=seed, index=0,
                                  fs=250.0)
    beats = ecg_beats(s.ecg_mv, s.fs)
    # every true beat found, ectopic ones flagged
    true_t = s.beats.times_s
    j = np.clip(np.searchsorted(beats.peaks_s, true_t), 1, len(beats.peaks_s) - 1)
    dist = np.minimum(np.abs(beats.peaks_s[j] - true_t), np.abs(beats.peaks_s[j - 1] - true_t))
    assert (dist < 0.01).mean() > 0.998
    k = np.searchsorted(beats.peaks_s, true_t[s.beats.ectopic] - 0.01)
    assert beats.corrected[k].all()
    n_valid = 0
    for row in s.truth.itertuples():
        w = hrv_window(beats, row.start_s, row.end_s)
        if not w["ecg_valid"]:
            assert w["ecg_reason"]
            continue
        n_valid += 1
        assert abs(w["hr_bpm"] - row.hr_bpm) < 1.0, (row.phase, row.window)
        assert abs(w["rmssd_ms"] - row.rmssd_ms) < 0.1 * row.rmssd_ms, (row.phase, row.window)
    assert n_valid >= 0.8 * len(s.truth)
