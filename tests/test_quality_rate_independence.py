"""The quality indices do not depend on the recorder's sampling rate: the same body
recorded at 1000, 250 and 100 Hz (each recorder with its anti-alias filter) gets the same
belt band share and the same ECG template correlations."""

from __future__ import annotations

import numpy as np
from scipy.signal import decimate

from physio.ecg import ecg_beats
from physio.ecg.ecg_quality import QUALITY_RATE_HZ, ecg_beat_quality, ecg_quality_input
from physio.rsp.rsp_quality import breathing_band_share
from soothe.simulate.ecg_stress import stress_case


def recorded(x: np.ndarray, factor: int) -> np.ndarray:
    """What a recorder at 1/factor of the rate records: anti-aliased, then sampled."""
    return decimate(x, factor, ftype="fir", zero_phase=True)


def test_belt_band_share_is_the_same_at_every_rate():
    rng = np.random.default_rng(0)
    t = np.arange(0, 60, 1 / 1000)
    for noise in (0.3, 1.0, 3.0):  # broadband sensor noise, SD relative to a breath
        x = np.sin(2 * np.pi * 0.25 * t) + noise * rng.normal(size=len(t))
        shares = [breathing_band_share(x, 1000.0),
                  breathing_band_share(recorded(x, 4), 250.0),
                  breathing_band_share(recorded(x, 10), 100.0)]
        assert max(shares) - min(shares) < 0.01, (noise, shares)


def test_belt_band_share_still_rejects_noise_at_every_rate():
    rng = np.random.default_rng(1)
    for fs in (25.0, 100.0, 1000.0):
        assert breathing_band_share(rng.normal(size=int(60 * fs)), fs) < 0.1


def test_ecg_template_corr_is_the_same_at_every_rate():
    c = stress_case("rate_1000hz", duration_s=120.0, seed=0)
    x = c.ecg + 0.05 * np.random.default_rng(1).normal(size=len(c.ecg))
    peaks = ecg_beats(x, 1000.0).peaks_s
    corr = {}
    for fs, signal in ((1000.0, x), (500.0, recorded(x, 2)), (250.0, recorded(x, 4))):
        cleaned, fs_q = ecg_quality_input(signal, fs)
        assert fs_q == QUALITY_RATE_HZ
        corr[fs] = ecg_beat_quality(cleaned, fs_q, peaks)["template_corr"].to_numpy()
    assert np.nanmax(np.abs(corr[1000.0] - corr[250.0])) < 0.005
    assert np.nanmax(np.abs(corr[500.0] - corr[250.0])) < 0.005


def test_ecg_quality_input_keeps_slow_recorders_and_replaces_nan():
    x = np.r_[np.zeros(50), np.nan, np.zeros(949)]
    cleaned, fs = ecg_quality_input(x, 100.0)
    assert fs == 100.0 and len(cleaned) == 1000 and np.isfinite(cleaned).all()
    cleaned, fs = ecg_quality_input(np.r_[x, x, x, x], 360.0)
    assert fs == QUALITY_RATE_HZ and np.isfinite(cleaned).all()
