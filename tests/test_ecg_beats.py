"""physio.ecg.ecg_beats on synthetic ECG: rates, polarity, ectopics, flat stretches, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from physio.ecg import BeatSeries, ecg_beats
from physio.errors import PhysioError, SignalQualityError
from physio.hrv import hrv_window

WAVES = ((-0.17, 0.022, 0.12), (-0.03, 0.009, -0.1), (0.0, 0.009, 1.1), (0.034, 0.011, -0.25),
         (0.26, 0.045, 0.3))


def render(t_beats: np.ndarray, dur: float, fs: float, seed: int = 0) -> np.ndarray:
    """P-QRS-T Gaussians at the beat times, wander, 50 Hz hum and white noise (mV)."""
    rng = np.random.default_rng(seed)
    n = int(dur * fs)
    t = np.arange(n) / fs
    x = np.zeros(n)
    for c, w, a in WAVES:
        offs = np.arange(int((c - 4.5 * w) * fs) - 1, int((c + 4.5 * w) * fs) + 2)
        r = np.floor(t_beats * fs).astype(np.int64)
        frac = t_beats * fs - r
        idx = r[:, None] + offs[None, :]
        val = a * np.exp(-0.5 * (((offs[None, :] - frac[:, None]) / fs - c) / w) ** 2)
        keep = (idx >= 0) & (idx < n)
        x += np.bincount(idx[keep], weights=val[keep], minlength=n)
    x += 0.15 * np.sin(2 * np.pi * 0.07 * t) + rng.normal(0, 0.01, n)
    if fs > 120:
        x += 0.02 * np.sin(2 * np.pi * 50 * t)
    return x


def sinus_beats(dur: float, seed: int = 0, rr_s: float = 0.85) -> np.ndarray:
    rng = np.random.default_rng(seed)
    k = np.arange(int(dur / 0.5))
    rr = rr_s + 0.04 * np.sin(2 * np.pi * 0.25 * rr_s * k) + rng.normal(0, 0.008, len(k))
    t = 0.6 + np.cumsum(rr)
    return t[t < dur - 0.6]


def rmssd(rr: np.ndarray) -> float:
    d = np.diff(rr)
    d = d[np.isfinite(d)]
    return float(np.sqrt(np.mean(d * d)))


def matched(det: np.ndarray, ref: np.ndarray, tol: float = 0.05) -> tuple[int, int, int]:
    j = np.clip(np.searchsorted(det, ref), 1, len(det) - 1)
    near = np.minimum(np.abs(det[j] - ref), np.abs(det[j - 1] - ref)) <= tol
    tp = int(near.sum())
    return tp, len(det) - tp, len(ref) - tp


@pytest.mark.parametrize("fs", [100.0, 250.0, 500.0, 2000.0])
def test_rates_find_every_beat_with_ms_timing(fs):
    truth = sinus_beats(180.0)
    out = ecg_beats(render(truth, 180.0, fs), fs)
    assert isinstance(out, BeatSeries)
    tp, fp, fn = matched(out.peaks_s, truth)
    assert (fp, fn) == (0, 0)
    err = np.abs(out.peaks_s - truth)
    assert np.median(err) < 0.002 and err.max() < 0.006, err.max()
    true_rr = np.r_[np.nan, np.diff(truth) * 1000]
    assert abs(rmssd(out.rr_ms) - rmssd(true_rr)) / rmssd(true_rr) < 0.05
    assert out.info["sampling_rate"] == fs
    assert not out.info["polarity_inverted"]


def test_inverted_polarity_gives_the_same_beats():
    truth = sinus_beats(120.0, seed=3)
    x = render(truth, 120.0, 500.0, seed=3)
    up = ecg_beats(x, 500.0)
    down = ecg_beats(-x, 500.0)
    assert down.info["polarity_inverted"] and not up.info["polarity_inverted"]
    assert len(up.peaks_s) == len(down.peaks_s) == len(truth)
    np.testing.assert_allclose(up.peaks_s, down.peaks_s, atol=1e-9)


def test_ectopic_beats_are_flagged_and_do_not_inflate_rmssd():
    fs = 500.0
    truth = sinus_beats(300.0, seed=5)
    ect = np.arange(40, len(truth) - 5, 60)  # premature beats at 60 % of the interval
    truth = truth.copy()
    truth[ect] = truth[ect - 1] + 0.6 * (truth[ect] - truth[ect - 1])
    out = ecg_beats(render(truth, 300.0, fs, seed=5), fs)
    assert len(out.peaks_s) == len(truth)
    # the ectopic beats keep their true time and are flagged
    k = np.searchsorted(out.peaks_s, truth[ect] - 0.01)
    assert out.corrected[k].all()
    # exactly the premature and the compensatory interval of each, no neighbour
    assert out.info["n_corrected"] == 2 * len(ect)
    assert set(np.flatnonzero(out.corrected)) == set(k) | set(k + 1)
    true_rr = np.r_[np.nan, np.diff(truth) * 1000]
    ok = np.ones(len(truth), bool)
    ok[ect] = ok[ect + 1] = False
    d = np.diff(true_rr)[ok[1:] & ok[:-1]]
    true_rmssd = float(np.sqrt(np.nanmean(d * d)))
    w = hrv_window(out, 0.0, 300.0)
    assert w["ecg_valid"], w["ecg_reason"]
    assert abs(w["rmssd_ms"] - true_rmssd) / true_rmssd < 0.05
    assert rmssd(np.r_[np.nan, np.diff(out.peaks_s) * 1000]) > 2 * true_rmssd  # raw inflated


@pytest.mark.parametrize("kind", ["flat", "nan", "rail"])
def test_flat_or_missing_stretch_is_a_bad_segment_without_beats(kind):
    fs = 250.0
    truth = sinus_beats(180.0, seed=7)
    x = render(truth, 180.0, fs, seed=7)
    a, b = int(60 * fs), int(100 * fs)
    x[a:b] = {"flat": 0.0, "nan": np.nan, "rail": 5.0}[kind]
    out = ecg_beats(x, fs)
    assert any(s <= 61.0 and e >= 99.0 for s, e in out.bad_segments_s), out.bad_segments_s
    inside = (out.peaks_s > 60.5) & (out.peaks_s < 99.5)
    assert not inside.any()
    # the first beat after the gap has no RR (series broken, nothing interpolated across)
    first_after = np.searchsorted(out.peaks_s, 99.5)
    assert np.isnan(out.rr_ms[first_after])
    assert np.nanmax(out.rr_ms) < 1500
    _, fp, _ = matched(out.peaks_s, truth)
    keep = (truth < 59.5) | (truth > 100.5)
    _, _, fn = matched(out.peaks_s, truth[keep])
    assert fp == 0 and fn <= 2
    w = hrv_window(out, 50.0, 110.0)
    assert np.isnan(w["hr_bpm"]) and np.isnan(w["rmssd_ms"]) and not w["ecg_valid"]
    assert "usable signal" in w["ecg_reason"]
    ok = hrv_window(out, 110.0, 170.0)
    assert ok["ecg_valid"], ok["ecg_reason"]


@pytest.mark.parametrize(
    "signal, fs, match",
    [
        (np.zeros(0), 250.0, "shorter"),
        (np.ones(100), 250.0, "shorter"),
        (np.full(5000, np.nan), 250.0, "finite"),
        (np.zeros(5000), 50.0, "below"),
        (np.zeros((3, 5000)), 250.0, "1-D"),
        (["a"] * 5000, 250.0, "numbers"),
        (np.zeros(5000), "fast", "number"),
    ],
)
def test_bad_input_raises_a_physio_error(signal, fs, match):
    with pytest.raises(SignalQualityError, match=match) as e:
        ecg_beats(signal, fs)
    assert isinstance(e.value, PhysioError)
    assert "ECG" in str(e.value)


def test_all_flat_signal_gives_no_beats_not_an_invention():
    out = ecg_beats(np.zeros(int(30 * 250)), 250.0)
    assert len(out.peaks_s) == 0
    w = hrv_window(out, 0.0, 30.0)
    assert np.isnan(w["hr_bpm"]) and w["n_beats"] == 0 and w["ecg_reason"]


@pytest.mark.parametrize("case", ["spike_at_start", "amplitude_drop"])
def test_detector_recovers_from_level_changes(case):
    fs = 250.0
    truth = sinus_beats(120.0, seed=11)
    x = render(truth, 120.0, fs, seed=11)
    if case == "spike_at_start":
        x[int(1.0 * fs):int(1.1 * fs)] += 40.0  # electrode pop inside the learning period
        ok = truth > 5.0
    else:
        x[int(60 * fs):] *= 0.08  # gain falls 12-fold (lead partly detached)
        ok = np.ones(len(truth), bool)
    out = ecg_beats(x, fs)
    _, fp, _ = matched(out.peaks_s, truth)
    _, _, fn = matched(out.peaks_s, truth[ok])
    assert fn <= 3 and fp <= 1, (fp, fn)


def test_a_pause_without_beats_breaks_the_series_after_the_last_beat_before_it():
    """A > 5-s stretch without beats starts a new run at the first beat after it; the beat
    before it keeps its measured interval (it used to be taken as the first beat of the
    next run, losing one valid interval and labelling the wrong beat)."""
    from physio.ecg.ecg_beats import classify_runs, split_runs

    t = np.r_[np.arange(0.5, 30.0, 0.8), np.arange(37.0, 60.0, 0.8)]
    last = int(np.flatnonzero(t < 30.0)[-1])
    runs = split_runs(t, [], 5.0)
    assert runs.starts.tolist() == [0, last + 1]
    assert list(runs.after) == [last + 1]
    _, rr, _, reason, _ = classify_runs(t, runs, None)
    assert rr[last] == pytest.approx(800.0)
    assert np.isnan(rr[last + 1]) and reason[last + 1].startswith("first beat after")
    assert not reason[last]


def test_sustained_premature_beats_are_flagged_and_void_hrv():
    """Every third beat premature (55 % of the cycle) with its compensatory pause: the
    Lipponen-Tarvainen thresholds scale with the spread of the successive differences, so
    they flagged none of them and the windows were valid with RMSSD ~635 ms. The premature
    intervals are now flagged, and no window reports an RMSSD."""
    fs = 250.0
    sinus = np.cumsum(1.0 + 0.03 * np.sin(np.arange(200) * 2 * np.pi / 10))
    t = sinus.copy()
    pvc = np.zeros(len(t), dtype=bool)
    for k in range(3, len(t) - 1, 3):
        t[k] = t[k - 1] + 0.55 * (sinus[k] - sinus[k - 1])
        pvc[k] = True
    out = ecg_beats(render(t, t[-1] + 1.0, fs), fs)
    j = np.searchsorted(out.peaks_s, t[pvc] - 0.02)
    assert out.corrected[j].mean() > 0.95  # the premature intervals
    assert out.corrected[j + 1].mean() > 0.95  # and their compensatory pauses
    for start in (0.0, 60.0, 120.0):
        w = hrv_window(out, start, start + 60.0)
        assert not (w["ecg_valid"] and np.isfinite(w["rmssd_ms"])), w["rmssd_ms"]


def test_strong_smooth_sinus_arrhythmia_is_not_flagged():
    """Respiratory swings of +-25 % (6/min, RR 1 s), +-23 % with five beats a breath (a
    trough two beats wide) and +-15 % with four are rhythm: the premature-run rule flags
    none of them (+-20 % with four beats a breath would reach its 20 % limit)."""
    from physio.ecg.ecg_beats import premature_runs

    for period_beats, depth in ((10, 0.25), (5, 0.23), (4, 0.15)):
        rr = 1000.0 * (1.0 + depth * np.sin(np.arange(300) * 2 * np.pi / period_beats))
        prem, after = premature_runs(np.r_[np.nan, rr])
        assert not prem.any() and not after.any(), (period_beats, depth)
