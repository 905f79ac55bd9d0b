"""physio.hrv.hrv_window: values on known RR series and every validity rule."""

from __future__ import annotations

import numpy as np
import pytest

from conditions.bids import WINDOWS_COLUMNS
from physio.ecg import BeatSeries
from physio.hrv import KEYS, hf_power, hrv_window


def series(dur: float = 300.0, rr0: float = 800.0, amp: float = 30.0, f: float = 0.25,
           seed: int = 0) -> BeatSeries:
    """RR (ms) = rr0 + amp*sin(2 pi f t) + small noise; times are the cumulative sum."""
    rng = np.random.default_rng(seed)
    t = [0.5]
    while t[-1] < dur:
        t.append(t[-1] + (rr0 + amp * np.sin(2 * np.pi * f * t[-1]) + rng.normal(0, 2)) / 1000)
    t = np.asarray(t)
    rr = np.r_[np.nan, np.diff(t) * 1000]
    return BeatSeries(t, rr, np.zeros(len(t), bool), [], {})


def test_keys_are_the_windows_table_columns():
    out = hrv_window(series(), 10.0, 70.0)
    assert tuple(out) == KEYS
    assert set(KEYS) <= set(WINDOWS_COLUMNS)


def test_values_match_direct_computation():
    b = series()
    out = hrv_window(b, 60.0, 240.0)
    sel = (b.peaks_s >= 60.0) & (b.peaks_s < 240.0)
    rr = b.rr_ms[sel]
    assert out["hr_bpm"] == pytest.approx(60000 / rr.mean())
    assert out["rmssd_ms"] == pytest.approx(np.sqrt(np.mean(np.diff(rr) ** 2)))
    assert out["sdnn_ms"] == pytest.approx(rr.std(ddof=1))
    assert out["n_beats"] == sel.sum() and out["corrected_pct"] == 0.0
    assert out["ecg_valid"] and out["hf_valid"] and out["ecg_reason"] == out["hf_reason"] == ""
    assert out["lnhf"] == pytest.approx(np.log(out["hf_ms2"]))


def test_hf_power_of_a_known_sinusoid():
    # RR modulated by 30 ms at 0.25 Hz: HF power = 30^2 / 2 = 450 ms^2
    b = series(amp=30.0)
    hf = [hrv_window(b, a, a + 120.0)["hf_ms2"] for a in (0.0, 120.0)]
    assert np.allclose(hf, 450.0, rtol=0.05), hf
    low = hrv_window(series(amp=30.0, f=0.05), 0.0, 120.0)["hf_ms2"]
    assert low < 0.1 * hf[0]  # LF modulation is not HF power


def test_short_window_has_no_hf_with_reason():
    out = hrv_window(series(), 10.0, 70.0)
    assert out["ecg_valid"] and np.isfinite(out["rmssd_ms"])
    assert np.isnan(out["hf_ms2"]) and np.isnan(out["lnhf"]) and not out["hf_valid"]
    assert out["hf_reason"].startswith("window shorter than 120 s")
    assert hrv_window(series(), 10.0, 130.0)["hf_valid"]
    assert hrv_window(series(), 10.0, 70.0, min_hf_window_s=60.0)["hf_valid"]


def test_excluded_differences_rule():
    b = series()
    sel = np.flatnonzero((b.peaks_s >= 60) & (b.peaks_s < 120))
    b.corrected[sel[5::12]] = True  # every 12th beat: 2 of 24 differences excluded
    out = hrv_window(b, 60.0, 120.0)
    n_d = len(sel) - 1
    assert out["excluded_diff_pct"] == pytest.approx(100 * 2 * len(sel[5::12]) / n_d)
    assert out["corrected_pct"] == pytest.approx(100 * len(sel[5::12]) / len(sel))
    assert out["ecg_valid"] and np.isfinite(out["rmssd_ms"])
    rr = b.rr_ms[sel]
    keep = ~(b.corrected[sel][1:] | b.corrected[sel][:-1])
    assert out["rmssd_ms"] == pytest.approx(np.sqrt(np.mean(np.diff(rr)[keep] ** 2)))
    assert out["sdnn_ms"] == pytest.approx(rr[~b.corrected[sel]].std(ddof=1))
    strict = hrv_window(b, 60.0, 120.0, max_excluded_diff_pct=10.0)
    assert not strict["ecg_valid"] and np.isnan(strict["rmssd_ms"])
    assert np.isfinite(strict["hr_bpm"]) and "excluded" in strict["ecg_reason"]
    by_beats = hrv_window(b, 60.0, 120.0, max_corrected_pct=5.0)  # the old, optional rule
    assert not by_beats["ecg_valid"] and "flagged beats > 5%" in by_beats["ecg_reason"]
    b.corrected[sel[::3]] = True  # ~33 % of beats: HR goes too
    worse = hrv_window(b, 60.0, 120.0)
    assert np.isnan(worse["hr_bpm"]) and "flagged" in worse["ecg_reason"]


def test_bad_segment_coverage_and_gap():
    b = series()
    b.bad_segments_s = [(100.0, 130.0)]
    keep = (b.peaks_s < 100.0) | (b.peaks_s > 130.0)
    t = b.peaks_s[keep]
    rr = np.r_[np.nan, np.diff(t) * 1000]
    rr[np.searchsorted(t, 130.0)] = np.nan  # broken series after the gap
    gap = BeatSeries(t, rr, np.zeros(len(t), bool), b.bad_segments_s, {})
    out = hrv_window(gap, 90.0, 150.0)
    assert np.isnan(out["hr_bpm"]) and not out["ecg_valid"]
    assert "usable signal" in out["ecg_reason"]
    ok = hrv_window(gap, 140.0, 200.0)
    assert ok["ecg_valid"]


def test_too_few_beats_and_empty_window():
    b = series()
    out = hrv_window(b, 10.0, 15.0, min_window_s=0.0)
    assert np.isnan(out["hr_bpm"]) and "too few beats" in out["ecg_reason"]
    empty = hrv_window(b, 500.0, 560.0)
    assert empty["n_beats"] == 0 and "no beats" in empty["ecg_reason"]
    backwards = hrv_window(b, 60.0, 60.0)
    assert np.isnan(backwards["hr_bpm"]) and backwards["ecg_reason"]


def test_hf_power_needs_data():
    assert np.isnan(hf_power(np.array([1.0]), np.array([800.0]), 0.0, 60.0))


def test_partial_window_below_50_s_has_no_values():
    # regression: a 36.6-s "minute 11" came out ECG-valid and entered the model
    out = hrv_window(series(), 100.0, 136.6)
    assert not out["ecg_valid"] and not out["hf_valid"]
    assert all(np.isnan(out[k]) for k in ("hr_bpm", "rmssd_ms", "sdnn_ms", "hf_ms2"))
    assert "shorter than 50 s" in out["ecg_reason"] and out["n_beats"] > 40
    assert hrv_window(series(), 100.0, 150.0)["ecg_valid"]  # 50 s is enough


def test_full_windows_at_any_onset_keep_hf():
    # regression: a window starting at a non-integer time is 59.99999... s long
    # and lost HF to a `dur < 60` test; with a tolerance no full window is short
    b = series(dur=900.0)
    rng = np.random.default_rng(4)
    for onset in rng.uniform(0.0, 400.0, 200):
        for length in (60.0, 120.0):
            out = hrv_window(b, onset, onset + length, min_hf_window_s=length)
            assert out["hf_valid"], (onset, length, out["hf_reason"])


def test_named_steps_give_the_reasons_hrv_window_reports():
    from physio.hrv.hrv_window import (
        hf_values,
        hr_invalid_reason,
        hrv_invalid_reason,
        hrv_limits,
        rmssd_sdnn,
        window_beats,
    )

    b = series()
    corrected = b.corrected.copy()
    corrected[100:130] = True  # 30 flagged beats in a row
    flagged = BeatSeries(b.peaks_s, b.rr_ms, corrected, [], {})
    limits = hrv_limits()
    w = window_beats(flagged, 60.0, 120.0)
    assert w.excluded.sum() >= 30 and w.corrected_pct > 20
    assert hr_invalid_reason(flagged, w, 60.0, 120.0, limits).endswith("(HR, HRV)")
    assert hr_invalid_reason(flagged, w, 60.0, 120.0,
                             hrv_limits(max_corrected_hr_pct=100.0)) == ""
    assert "successive differences excluded" in hrv_invalid_reason(w, limits)
    assert hrv_invalid_reason(w, hrv_limits(max_excluded_diff_pct=100.0)) == ""
    clean = window_beats(b, 60.0, 240.0)
    assert rmssd_sdnn(clean) == {k: hrv_window(b, 60.0, 240.0)[k]
                                 for k in ("rmssd_ms", "sdnn_ms")}
    hf = hf_values(clean, 60.0, 240.0, limits)
    assert hf["hf_valid"] and hf["lnhf"] == pytest.approx(np.log(hf["hf_ms2"]))
    assert hf_values(clean, 60.0, 120.0, limits)["hf_reason"].startswith(
        "window shorter than 120 s")
