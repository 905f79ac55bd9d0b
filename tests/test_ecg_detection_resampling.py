"""The 250 Hz detection copy: B-spline decimator for integer rate ratios, resample_poly else.

Exact ground truth: the kernel's gain is known in closed form (a cascade of four
``factor``-sample means), so in-band gain, rejection at every frequency that folds into the
5-20 Hz QRS band, zero phase, length and the time grid are all checked on sinusoids.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, resample_poly, sosfiltfilt
from scipy.signal._arraytools import odd_ext

from physio.ecg.ecg_clean import (
    BSPLINE_STAGES,
    DETECTION_RATE_HZ,
    bspline_kernel,
    decimate_bspline,
    ecg_detection_signal,
    integer_factor,
)

RATES = (500.0, 750.0, 1000.0, 2000.0)


def fit_amplitude(y: np.ndarray, f: float, fs: float, trim: int = 50) -> tuple[float, float]:
    """(in-phase, quadrature) amplitude of ``y`` against sin/cos at ``f`` (ends trimmed)."""
    t = np.arange(len(y)) / fs
    a = np.c_[np.sin(2 * np.pi * f * t), np.cos(2 * np.pi * f * t)][trim:-trim]
    coef = np.linalg.lstsq(a, y[trim:-trim], rcond=None)[0]
    return float(coef[0]), float(coef[1])


def theoretical_gain(f: float, fs: float, m: int) -> float:
    w = np.pi * f / fs
    return abs(np.sin(m * w) / (m * np.sin(w))) ** BSPLINE_STAGES


def folding_frequencies(fs: float) -> list[float]:
    """Input frequencies that land in 5-20 Hz after sampling at 250 Hz (below fs/2)."""
    out = []
    for k in range(1, int(fs / 2 // DETECTION_RATE_HZ) + 1):
        for d in (-20.0, -12.5, -5.0, 5.0, 12.5, 20.0):
            f = k * DETECTION_RATE_HZ + d
            if f < fs / 2:
                out.append(f)
    return out


@pytest.mark.parametrize("fs", RATES)
def test_passband_gain_is_the_closed_form_and_zero_phase(fs: float) -> None:
    m = int(fs / DETECTION_RATE_HZ)
    t = np.arange(int(20 * fs)) / fs
    for f in (5.0, 10.0, 15.0, 20.0):
        y = decimate_bspline(np.sin(2 * np.pi * f * t), m)
        gain, quad = fit_amplitude(y, f, DETECTION_RATE_HZ)
        assert gain == pytest.approx(theoretical_gain(f, fs, m), abs=1e-9)
        assert gain >= 0.95  # at most -0.45 dB at the top of the QRS band
        assert abs(quad) < 1e-9  # no phase shift: output n sits on input n * factor


@pytest.mark.parametrize("fs", RATES)
def test_everything_that_folds_into_the_qrs_band_is_rejected(fs: float) -> None:
    m = int(fs / DETECTION_RATE_HZ)
    t = np.arange(int(20 * fs)) / fs
    freqs = folding_frequencies(fs)
    assert freqs  # 230-270 Hz at least
    for f in freqs:
        y = decimate_bspline(np.sin(2 * np.pi * f * t), m)
        peak = float(np.abs(y[20:-20]).max())
        # >= 70 dB everywhere (72 dB worst, at 230 Hz from 500 Hz), as the closed form says
        assert peak <= 10 ** (-70 / 20), (fs, f, 20 * np.log10(peak))
        assert peak <= 1.05 * theoretical_gain(f, fs, m) + 1e-12


def test_rejects_folding_mains_harmonic_better_than_resample_poly() -> None:
    """60 Hz x 4 = 240 Hz folds to 10 Hz from 1000 Hz: the decimator beats resample_poly."""
    fs = 1000.0
    t = np.arange(int(20 * fs)) / fs
    x = np.sin(2 * np.pi * 240.0 * t)
    ours = np.abs(decimate_bspline(x, 4)[20:-20]).max()
    poly = np.abs(resample_poly(x, 1, 4)[20:-20]).max()
    assert ours < poly / 10


@pytest.mark.parametrize("m", (2, 3, 4, 5, 8))
def test_equals_a_direct_convolution_at_every_output_including_the_ends(m: int) -> None:
    rng = np.random.default_rng(m)
    h = bspline_kernel(m)
    c = (len(h) - 1) // 2
    assert len(h) % 2 == 1 and h.sum() == pytest.approx(1.0, abs=1e-15)
    for n in range(40 * m, 40 * m + 2 * m + 1):  # every remainder of n / m
        x = rng.normal(size=n)
        ref = np.convolve(odd_ext(x, c + m), h, mode="same")[c + m:c + m + n][::m]
        y = decimate_bspline(x, m)
        assert len(y) == len(resample_poly(x, 1, m)) == -(-n // m)
        np.testing.assert_allclose(y, ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("fs", RATES)
def test_time_grid_matches_resample_poly(fs: float) -> None:
    """A QRS-like pulse lands on the same 250 Hz sample as with resample_poly."""
    m = int(fs / DETECTION_RATE_HZ)
    t = np.arange(int(10 * fs)) / fs
    for centre in (2.0, 4.0131, 7.5077):
        pulse = np.exp(-0.5 * ((t - centre) / 0.012) ** 2)
        ours = decimate_bspline(pulse, m)
        poly = resample_poly(pulse, 1, m)
        assert int(np.argmax(ours)) == int(np.argmax(poly)) == round(centre * DETECTION_RATE_HZ)
        # and the smooth pulse itself agrees to the passband droop
        np.testing.assert_allclose(ours, poly, atol=0.02)


def test_integer_ratios_decimate_and_others_use_resample_poly() -> None:
    rng = np.random.default_rng(0)
    sos = butter(3, [5.0, 20.0], btype="bandpass", fs=DETECTION_RATE_HZ, output="sos")
    for fs in (500.0, 1000.0, 2000.0):
        x = rng.normal(size=int(30 * fs)) + 3.0
        got, fs_d = ecg_detection_signal(x, fs)
        assert fs_d == DETECTION_RATE_HZ
        assert np.array_equal(got, sosfiltfilt(sos, decimate_bspline(x, int(fs / 250))))
    for fs, up, down in ((360.0, 25, 36), (100.0, 5, 2), (1024.0, 125, 512)):
        assert integer_factor(fs, DETECTION_RATE_HZ) is None
        x = rng.normal(size=int(30 * fs))
        got, _ = ecg_detection_signal(x, fs)
        y = resample_poly(x, up, down)
        assert np.array_equal(got, sosfiltfilt(sos, y - np.median(y)))
    # the rate is read as resample_to reads it (nearest fraction, denominator <= 1000)
    assert integer_factor(999.9999, DETECTION_RATE_HZ) == 4
    assert integer_factor(250.0, DETECTION_RATE_HZ) is None


def test_offset_needs_no_median_before_the_band_pass() -> None:
    """Decimator + QRS band-pass remove any constant exactly (sum-1 kernel with odd
    reflection, zero DC gain, steady-state start), ends included."""
    x = np.random.default_rng(1).normal(size=30_000)
    a, _ = ecg_detection_signal(x, 1000.0)
    for offset in (250.0, -1e4):
        b, _ = ecg_detection_signal(x + offset, 1000.0)
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * abs(offset) * 100)


def test_short_signal_and_bad_arguments() -> None:
    for n in range(0, 30):  # shorter than the kernel (13 taps at factor 4) and just longer
        y = decimate_bspline(np.full(n, 3.0), 4)
        assert len(y) == -(-n // 4)
        np.testing.assert_allclose(y, 3.0, rtol=1e-12)  # a constant stays that constant
    for factor, stages in ((1, 4), (0, 4), (4, 3), (4, 0)):
        with pytest.raises(ValueError, match="factor must be >= 2 and stages even"):
            decimate_bspline(np.zeros(1000), factor, stages)


def test_sidecar_names_the_resampler() -> None:
    from physio.ecg import ecg_beats

    fs = 500.0
    t = np.arange(int(20 * fs)) / fs
    ecg = sum(np.exp(-0.5 * ((t - b) / 0.01) ** 2) for b in np.arange(0.5, 20, 0.8))
    info = ecg_beats(ecg, fs).info
    assert info["detection_rate_hz"] == DETECTION_RATE_HZ
    text = info["detection_resampling"]
    assert "B-spline" in text and "resample_poly" in text and "5-20 Hz" in text
