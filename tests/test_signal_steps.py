"""The named steps of ecg_beats, detect_qrs and ecg_rsp, each checked on its own."""

from __future__ import annotations

import numpy as np
from scipy.signal import find_peaks

from physio.ecg.ecg_beats import (
    beats_info,
    classify_runs,
    ecg_beats,
    locate_beats,
    qrs_recovery,
    remove_unusable_beats,
    split_runs,
)
from physio.ecg.ecg_clean import ecg_detection_signal
from physio.ecg.ecg_peaks import (
    candidate_slopes,
    detect_qrs,
    drop_isolated_small,
    qrs_feature,
    threshold_qrs,
)
from physio.rsp.ecg_rsp import edr_combine, edr_traces


def _ecg(fs: float = 500.0, seconds: float = 60.0, rr_s: float = 0.8) -> np.ndarray:
    t = np.arange(int(seconds * fs)) / fs
    x = np.random.default_rng(1).normal(0, 0.005, len(t))
    for b in np.arange(0.5, seconds, rr_s):
        x += np.exp(-0.5 * ((t - b) / 0.01) ** 2)
    return x


def test_ecg_beats_is_the_chain_of_its_steps():
    x, fs = _ecg(), 500.0
    x[10_000:11_000] = np.nan  # 2 s missing: one unusable stretch
    located = locate_beats(x, fs)
    assert len(located.segments) == 1 and "missing" in located.segments[0][2]
    t, removed, why = remove_unusable_beats(located.times_s, located.segments)
    assert all("missing" in w for w in why) and len(t) + len(removed) == len(located.times_s)
    runs = split_runs(t, located.segments, 5.0)
    assert len(runs.starts) == 2 and list(runs.after) == [int(runs.starts[1])]
    recover = qrs_recovery(located, t)
    assert recover(float(t[3]), float(t[4])) is None  # nothing hidden between two beats
    peaks, rr, klass, reason, counts = classify_runs(t, runs, recover)
    assert np.isnan(rr[runs.starts[1]]) and reason[runs.starts[1]].startswith("first beat")
    whole = ecg_beats(x, fs)
    np.testing.assert_array_equal(whole.peaks_s, peaks)
    np.testing.assert_array_equal(whole.rr_ms, rr)
    info = beats_info(max_gap_s=5.0, correct=True, fs=fs, inverted=located.inverted,
                      n_beats=len(peaks), n_corrected=0, n_removed=len(removed),
                      counts=counts, segments=runs.segments)
    assert info == whole.info
    plain = classify_runs(t, runs, None)  # correct=False: plain differences, all normal
    assert set(plain[2]) == {"normal"}


def test_detect_qrs_is_the_chain_of_its_steps():
    band, fs_d = ecg_detection_signal(_ecg(), 500.0)
    feat, slope = qrs_feature(band, fs_d)
    cand, _ = find_peaks(feat, distance=int(round(0.2 * fs_d)))
    beats = threshold_qrs(cand, feat, candidate_slopes(cand, slope, fs_d), fs_d)
    assert len(beats) == 75  # one per simulated beat, 0.5 s to 59.7 s
    np.testing.assert_array_equal(drop_isolated_small(beats, feat), detect_qrs(band, fs_d))


def test_edr_combine_aligns_the_amplitude_trace_with_rsa():
    t = np.cumsum(np.full(600, 0.75))
    breath = np.sin(2 * np.pi * 0.25 * t)
    used, traces = edr_traces(t, 750 + 40 * breath)
    assert used == "rsa"
    grid, rsa = traces[0]
    flipped = (grid, -rsa)  # an amplitude swing of the opposite sign (another lead)
    both = edr_combine(grid, [traces[0], flipped])
    alone = edr_combine(grid, [traces[0]])
    ok = np.isfinite(both) & np.isfinite(alone)
    assert np.corrcoef(both[ok], alone[ok])[0, 1] > 0.99
