"""EDA chain: units, cleaning, SCR detection and threshold, tonic level, signal loss,
per-window values and non-responders."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from physio.eda import (
    eda_clean,
    eda_decompose,
    eda_process,
    eda_quality,
    eda_scr,
    eda_to_microsiemens,
    eda_window,
)
from physio.errors import ChannelError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from bench_eda_methods import simulate_eda  # noqa: E402

FS = 100.0


def bumps(times, amps, duration=120.0, fs=FS, base=5.0):
    t = np.arange(0, duration, 1 / fs)
    x = np.full_like(t, base) + 0.0005 * np.sin(2 * np.pi * 0.3 * t)
    for on, a in zip(times, amps):
        k = np.clip(t - on, 0, None)
        shape = np.exp(-k / 3.0) - np.exp(-k / 0.7)
        x += a * shape / shape.max()
    return t, x


def test_units_conversion():
    assert eda_to_microsiemens(np.array([200.0]), "kOhm")[0] == pytest.approx(5.0)
    assert eda_to_microsiemens(np.array([2e-6]), "S")[0] == pytest.approx(2.0)
    assert eda_to_microsiemens(np.array([3.0]), "µS")[0] == 3.0
    with pytest.raises(ChannelError, match="unknown units 'mV'"):
        eda_to_microsiemens(np.array([1.0]), "mV", name="GSR")


def test_clean_decimates_and_removes_mains():
    t = np.arange(0, 60, 0.001)
    clean, fs = eda_clean(4 + 0.2 * np.sin(2 * np.pi * 50 * t), 1000.0)
    assert fs == 25.0 and len(clean) == 1500
    assert np.ptp(clean[25:-25]) < 1e-3


def test_scr_detection_amplitude_and_threshold():
    t, x = bumps([20, 50, 80], [0.3, 0.08, 0.005])
    clean, fs = eda_clean(x, FS)
    scr = eda_scr(clean, fs)
    assert len(scr["peak_idx"]) == 2  # the 0.005 uS bump is below the 0.05 default
    assert scr["amp_us"] == pytest.approx([0.3, 0.08], rel=0.1)
    assert abs(scr["onset_idx"][0] / fs - 20) < 0.5
    assert len(eda_scr(clean, fs, amplitude_min=0.003)["peak_idx"]) == 3
    assert len(eda_scr(clean, fs, amplitude_min=0.1)["peak_idx"]) == 1


def _planted(amps, *, noise_us=0.0, seed=0):
    """SCRs every 12 s with the given amplitudes, plus 1.3-2.7 Hz noise (sum of tones)."""
    onsets = 10 + 12 * np.arange(len(amps))
    t, x = bumps(onsets, amps, duration=float(onsets[-1] + 15))
    rng = np.random.default_rng(seed)
    for f in (1.3, 1.9, 2.7):
        x += noise_us / 3 * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3))
    return eda_clean(x, FS)


def test_scr_default_criterion_is_0_05_us_on_planted_responses():
    # planted just above (0.056) and just below (0.044) the 0.05 uS criterion, alternating
    clean, fs = _planted([0.056, 0.044] * 6)
    scr = eda_scr(clean, fs)
    assert len(scr["amp_us"]) == 6
    assert scr["amp_us"] == pytest.approx(np.full(6, 0.056), rel=0.05)
    peaks_s = scr["peak_idx"] / fs
    assert np.allclose((peaks_s - 10) // 12 % 2, 0)  # exactly the "above" ones


def test_scr_amplitude_is_measured_on_the_smoothed_signal():
    # noise above 1 Hz (0.03 uS peak to peak, as on the shared lab recording) must not
    # lift a 0.044 uS response over the 0.05 criterion, nor sink a 0.056 one below it
    clean, fs = _planted([0.056, 0.044] * 6, noise_us=0.03, seed=4)
    assert np.ptp(clean[: int(8 * fs)]) > 0.02  # the noise is really there
    scr = eda_scr(clean, fs)
    peaks_s = scr["peak_idx"] / fs
    assert len(peaks_s) == 6 and np.allclose((peaks_s - 10) // 12 % 2, 0)


def test_scl_and_mean_skin_conductance():
    t, x = bumps([20, 50, 80], [0.3, 0.3, 0.3])
    res = eda_process(x, FS)
    w = eda_window(res, 0, 120)
    # the mean includes the responses, the tonic level does not
    assert w["scl_us"] == pytest.approx(5.0, abs=0.02)
    assert w["sc_mean_us"] == pytest.approx(float(np.mean(x)), abs=0.005)
    assert w["sc_mean_us"] > w["scl_us"] + 0.02


def test_trough_tonic_beats_the_filters_on_simulated_eda():
    eda, tonic_true, onsets, _ = simulate_eda(20, 100.0, seed=3)
    clean, fs = eda_clean(eda, 100.0)
    truth = tonic_true.reshape(20, 6000).mean(axis=1)
    errors = {}
    for method in ("troughs", "median", "highpass"):
        tonic, phasic = eda_decompose(clean, fs, method=method)
        est = tonic[: 20 * 1500].reshape(20, 1500).mean(axis=1)
        errors[method] = np.median(np.abs(est - truth))
        assert np.allclose(tonic + phasic, clean, equal_nan=True)
    assert errors["troughs"] < 0.05
    assert errors["troughs"] < errors["median"] and errors["troughs"] < errors["highpass"]
    with pytest.raises(ValueError, match="method"):
        eda_decompose(clean, fs, method="cvx")


def test_quality_finds_each_kind_of_signal_loss():
    rng = np.random.default_rng(0)
    x = 5 + 0.01 * rng.standard_normal(int(100 * FS))
    x[1000:1800] = 5.123  # 8 s frozen
    x[3000:3300] = x.max() + 1  # 3 s pinned at the maximum
    x[5000:5200] = np.nan
    x[7000:7400] = 0.01  # electrode off
    found = eda_quality(x, FS)
    reasons = {r: [(a, b) for a, b, r2 in found if r2 == r] for _, _, r in found}
    assert reasons["flat"] == [pytest.approx((10.0, 18.0), abs=0.02)]
    # pinned at the maximum, and at the minimum (which is also out of range)
    assert reasons["saturated"] == [pytest.approx((30.0, 33.0), abs=0.02),
                                    pytest.approx((70.0, 74.0), abs=0.02)]
    assert reasons["nan"] == [pytest.approx((50.0, 52.0))]
    assert reasons["out_of_range"] == [pytest.approx((70.0, 74.0), abs=0.02)]
    assert eda_quality(5 + 0.01 * rng.standard_normal(1000), FS) == []


def test_window_values_and_invalid_windows():
    t, x = bumps([20, 30, 80], [0.3, 0.2, 0.1], duration=180)
    x[int(130 * FS) : int(160 * FS)] = np.nan  # half of the third minute lost
    res = eda_process(x, FS)
    w1 = eda_window(res, 0, 60)
    assert w1["eda_valid"] and w1["scr_count"] == 2
    assert w1["scr_rate_per_min"] == 2.0
    assert w1["scr_amp_us"] == pytest.approx(0.25, rel=0.15)
    assert w1["scl_us"] == pytest.approx(5.0, abs=0.03)
    w3 = eda_window(res, 120, 180)
    assert not w3["eda_valid"] and np.isnan(w3["scl_us"])
    assert "signal loss 50%" in w3["eda_reason"] and "nan" in w3["eda_reason"]
    beyond = eda_window(res, 150, 300)
    assert not beyond["eda_valid"] and "covers" in beyond["eda_reason"]


def test_kohm_input_and_session_clock():
    t, x = bumps([40], [0.3])
    res = eda_process(1000.0 / x, FS, units="kOhm", start_s=100.0)
    assert 140 < res.scr_peak_s[0] < 143
    assert np.nanmean(res.tonic) == pytest.approx(5.0, abs=0.05)


def test_no_scrs_is_zero_count_not_missing():
    t = np.arange(0, 120, 1 / FS)
    res = eda_process(3 + 0.001 * np.sin(0.1 * t), FS)
    w = eda_window(res, 0, 60)
    assert len(res.scr_amp_us) == 0
    assert w["scr_count"] == 0 and w["eda_valid"] and np.isnan(w["scr_amp_us"])


def test_true_runs_is_the_one_run_finder_of_ecg_and_eda():
    from physio.signal_runs import true_runs

    mask = np.array([True, False, True, True, False, False, True])
    assert true_runs(mask) == [(0, 1), (2, 4), (6, 7)]
    assert all(type(v) is int for run in true_runs(mask) for v in run)
    assert true_runs(np.zeros(4, bool)) == []
    assert true_runs(np.ones(3, bool)) == [(0, 3)]
