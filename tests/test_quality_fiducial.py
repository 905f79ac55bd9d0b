"""A beat whose R-peak time is ambiguous (two near-equal QRS alignments) has its successive
differences left out of RMSSD, in both engines alike; a QRS of any shape shared by every
beat (notched, biphasic) is never flagged, nor is a beat of a clean sinus record."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from physio.ecg import BeatSeries, ecg_beats
from physio.ecg.ecg_quality import beat_timing_ambiguity, ecg_quality_input
from physio.engine_neurokit2 import rmssd_without
from physio.hrv import hrv_window
from physio.io.read_wfdb import read_wfdb
from physio.recording import Channel
from physio.signal_quality import beats_with_quality, ecg_quality_of

DATA = Path(os.environ.get("SOOTHE_SHARED_DATA")
            or Path(__file__).resolve().parents[1].parent / "shared" / "data")
#: (centre s from R, width s, amplitude mV) of each QRS shape
QRS = {"normal": ((-0.03, 0.009, -0.1), (0.0, 0.009, 1.1), (0.034, 0.011, -0.25)),
       "notched": ((0.0, 0.009, 0.9), (0.02, 0.006, -0.2), (0.045, 0.009, 0.75),
                   (0.08, 0.011, -0.2)),
       "biphasic": ((0.0, 0.009, 0.7), (0.03, 0.011, -0.75))}
WAVES = ((-0.17, 0.022, 0.12), (0.26, 0.045, 0.3))  # P and T


def ecg(fs: float, shape: str = "normal", copy_ms: float = 0.0, n_copies: int = 0,
        seed: int = 0, duration_s: float = 240.0):
    """Sinus ECG with respiratory RR modulation; ``n_copies`` beats get a second copy of
    their QRS ``copy_ms`` later. Returns (signal, true beat times, planted mask)."""
    rng = np.random.default_rng(seed)
    k = np.arange(400)
    rr = 0.85 + 0.04 * np.sin(2 * np.pi * k * 0.85 / 4.0) + rng.normal(0, 0.006, 400)
    t = 1.0 + np.r_[0.0, np.cumsum(rr[:-1])]
    t = t[t < duration_s - 1.0]
    planted = np.zeros(len(t), bool)
    planted[rng.choice(np.arange(10, len(t) - 10), n_copies, replace=False)] = True
    x = np.zeros(int(duration_s * fs))
    tt = np.arange(len(x)) / fs
    parts = [(t, c, w, a) for c, w, a in (*QRS[shape], *WAVES)]
    parts += [(t[planted] + copy_ms / 1000, c, w, a) for c, w, a in QRS[shape]]
    for times, c, w, a in parts:
        for b in times:
            sl = slice(max(0, int((b + c - 5 * w) * fs)), int((b + c + 5 * w) * fs) + 2)
            x[sl] += a * np.exp(-0.5 * ((tt[sl] - b - c) / w) ** 2)
    x += 0.05 * np.sin(2 * np.pi * 0.3 * tt) + rng.normal(0, 0.008, len(x))
    return x, t, planted


def nearest(true_s: np.ndarray, peaks_s: np.ndarray) -> np.ndarray:
    j = np.clip(np.searchsorted(true_s, peaks_s), 1, len(true_s) - 1)
    return np.where(np.abs(true_s[j] - peaks_s) < np.abs(true_s[j - 1] - peaks_s), j, j - 1)


def rmssd(t: np.ndarray) -> float:
    d = np.diff(np.diff(t) * 1000.0)
    return float(np.sqrt(np.mean(d * d)))


@pytest.mark.parametrize("fs", [250.0, 500.0, 1000.0])
@pytest.mark.parametrize("copy_ms", [40.0, 64.0, 80.0])
def test_planted_double_qrs_are_exactly_the_ambiguous_beats(fs, copy_ms):
    x, t, planted = ecg(fs, copy_ms=copy_ms, n_copies=8)
    b = ecg_beats(x, fs)
    q = ecg_quality_of(Channel("ECG", x, fs, "mV", "ecg"), b)
    assert q.uncertain is not None
    assert sorted(nearest(t, b.peaks_s)[q.uncertain]) == sorted(np.flatnonzero(planted))
    seps = q.beats["timing_sep_ms"].to_numpy()[q.uncertain]
    assert np.all(np.abs(seps - copy_ms) <= 1000.0 / min(fs, 250.0) + 1)
    # RMSSD over the whole record: with the rule within 1 ms of the truth, never worse
    end = float(b.peaks_s[-1]) + 1.0
    before = hrv_window(b, 0.0, end, max_excluded_diff_pct=100.0)["rmssd_ms"]
    after = hrv_window(b, 0.0, end, max_excluded_diff_pct=100.0,
                       uncertain=q.uncertain)["rmssd_ms"]
    assert abs(after - rmssd(t)) < 1.0
    assert abs(after - rmssd(t)) <= abs(before - rmssd(t)) + 0.2


@pytest.mark.parametrize("fs", [250.0, 500.0, 1000.0])
@pytest.mark.parametrize("shape", ["normal", "notched", "biphasic"])
def test_a_qrs_shape_every_beat_shares_is_never_ambiguous(fs, shape):
    x, _, _ = ecg(fs, shape=shape)
    b = ecg_beats(x, fs)
    q = ecg_quality_of(Channel("ECG", x, fs, "mV", "ecg"), b)
    assert int(q.uncertain.sum()) == 0
    table = beats_with_quality(b.table(), q)
    assert not table["reason"].astype(str).str.contains("ambiguous").any()


def test_ambiguous_beat_reason_in_the_beats_table():
    x, t, planted = ecg(250.0, copy_ms=64.0, n_copies=3)
    b = ecg_beats(x, 250.0)
    q = ecg_quality_of(Channel("ECG", x, 250.0, "mV", "ecg"), b)
    table = beats_with_quality(b.table(), q)
    hit = table["reason"].astype(str).str.contains("R-peak timing ambiguous")
    assert int(hit.sum()) == 3
    assert table.loc[hit, "reason"].str.contains(r"(?:60|64|68) ms apart").all()  # 4-ms lags
    assert not table.loc[hit, "corrected"].any()  # kept as detected, never moved


def test_both_engines_exclude_the_same_differences():
    t = np.cumsum(np.r_[1.0, np.tile([0.8, 0.86, 0.83], 30)])
    fs = 250.0
    b = BeatSeries(t, np.r_[np.nan, np.diff(t) * 1000], np.zeros(len(t), bool), [],
                   {"sampling_rate": fs})
    unsure = np.zeros(len(t), bool)
    unsure[[20, 50]] = True
    end = float(t[-1]) + 0.5
    w = hrv_window(b, 0.0, end, uncertain=unsure)
    kept = hrv_window(b, 0.0, end)
    assert w["excluded_diff_pct"] == pytest.approx(100 * 6 / (len(t) - 2))
    assert kept["excluded_diff_pct"] == 0.0
    nk = rmssd_without(np.round(t * fs).astype(int), fs, unsure)
    assert nk == pytest.approx(w["rmssd_ms"], abs=0.5)


def test_beat_timing_ambiguity_needs_a_template():
    fs = 250.0
    amb, sep = beat_timing_ambiguity(np.zeros(int(10 * fs)), fs, np.array([2.0, 4.0]))
    assert not amb.any() and np.isnan(sep).all()


@pytest.mark.skipif(not (DATA / "mitdb" / "100.dat").exists(), reason="no shared MIT-BIH")
@pytest.mark.parametrize("record", ["100", "113", "121"])
def test_no_beat_of_a_clean_sinus_record_is_ambiguous(record):
    x = read_wfdb(DATA / "mitdb" / record).channels["MLII"].data
    b = ecg_beats(x, 360.0)
    cleaned, fs = ecg_quality_input(x, 360.0)
    amb, _ = beat_timing_ambiguity(cleaned, fs, b.peaks_s)
    assert int(amb.sum()) == 0


@pytest.mark.parametrize(("start", "end"), [(-300.0, -240.0), (-30.0, 30.0), (10.0, 70.0),
                                            (60.0, 120.0), (200.0, 260.0)])
def test_uncertain_beats_in_windows_before_inside_and_after_the_beats(start, end):
    # a window before the ECG's first beat (a phase before the channel starts), one
    # straddling it, ones inside, and one after the last beat: the flags of the beats in
    # the window (and of the beat before it) are used, never another window's
    t = np.cumsum(np.r_[1.0, np.tile([0.8, 0.86, 0.83], 40)])
    b = BeatSeries(t, np.r_[np.nan, np.diff(t) * 1000], np.zeros(len(t), bool), [], {})
    unsure = np.zeros(len(t), bool)
    unsure[[30, 90]] = True
    w = hrv_window(b, start, end, uncertain=unsure)
    inside = np.flatnonzero((t >= start) & (t < end))
    if len(inside) < 3:
        assert w["excluded_diff_pct"] != w["excluded_diff_pct"] or w["n_beats"] == len(inside)
        return
    lo, hi = inside[0], inside[-1] + 1
    flagged = unsure[lo:hi] | np.r_[False, unsure][lo:hi]  # an interval with a flagged end
    bad = flagged[1:] | flagged[:-1]
    if lo == 0:
        bad = bad[1:]  # the recording's first beat has no interval
    assert w["excluded_diff_pct"] == pytest.approx(100 * bad.sum() / len(bad))
