"""From latent drives to what a body shows: the analytic core of the generative model.

Pure functions, shared by the beat generator (``soothe.simulate.rr``), the EDA and
respiration synthesis, the ground truth and :func:`soothe.simulate.effects.implied_index_slopes`.
The expected RMSSD uses the exact result for a sinusoid sampled once per beat: successive
differences of ``A sin(2 pi f t)`` sampled at period ``T`` have RMS
``sqrt(2) A |sin(pi f T)|``. Adding an independent LF sinusoid (amplitude B at f_LF) and
white jitter (sigma) gives

    RMSSD^2 = 2 A^2 sin^2(pi f T) + 2 B^2 sin^2(pi f_LF T) + 2 sigma^2.

HF power of the RSA is ``A^2 / 2`` when the breathing frequency is inside 0.15-0.40 Hz and
(to first order) 0 outside; the white jitter adds its in-band share
``sigma^2 * T * 2 * 0.25`` (a white series of variance sigma^2 sampled at 1/T spreads over
0..1/(2T) Hz).
"""

from __future__ import annotations

import numpy as np

from soothe.simulate.coupling import COUPLING, HRV_STRUCTURE

HF_BAND_HZ = (0.15, 0.40)


def heart_rate(hr0: float | np.ndarray, vagal: np.ndarray | float,
               sympathetic: np.ndarray | float) -> np.ndarray:
    """Heart rate (bpm): sympathetic drive and vagal withdrawal raise it.

    Examples
    --------
    >>> float(heart_rate(70.0, 0.0, 0.5))
    73.0
    >>> float(heart_rate(70.0, 0.2, 0.0))
    69.0
    """
    c = COUPLING
    return (np.asarray(hr0, float) + c["hr_per_sympathetic"] * np.asarray(sympathetic, float)
            - c["hr_per_vagal"] * np.asarray(vagal, float))


def breathing_rate(rate0: float | np.ndarray, slowing: np.ndarray | float) -> np.ndarray:
    """Breathing rate (breaths/min) after a meditation slowing (breaths/min), floor 4/min.

    Examples
    --------
    >>> float(breathing_rate(15.0, 1.5))
    13.5
    """
    return np.maximum(np.asarray(rate0, float) - np.asarray(slowing, float), 4.0)


def skin_conductance(scl0: float | np.ndarray, sympathetic: np.ndarray | float,
                     coupling: float = 1.0) -> np.ndarray:
    """Tonic skin conductance level (uS), floor 0.2 uS.

    Examples
    --------
    >>> float(skin_conductance(5.0, 0.4))
    5.6
    """
    gain = COUPLING["scl_per_sympathetic"] * coupling
    return np.maximum(np.asarray(scl0, float) + gain * np.asarray(sympathetic, float), 0.2)


def _rr_s(hr_bpm: np.ndarray | float) -> np.ndarray:
    return 60.0 / np.asarray(hr_bpm, float)


def rmssd_expected(rsa_amp_ms: np.ndarray | float, hr_bpm: np.ndarray | float,
                   breathing_bpm: np.ndarray | float, lf_amp_ms: float | None = None,
                   white_sd_ms: float | None = None) -> np.ndarray:
    """Expected RMSSD (ms) of the beat model (exact for sinusoids sampled once per beat).

    Examples
    --------
    >>> a = rmssd_expected(30.0, 60.0, 15.0)
    >>> b = rmssd_expected(30.0, 80.0, 15.0)   # same RSA, faster heart
    >>> bool(b < a)
    True
    """
    hrv = HRV_STRUCTURE
    lf = hrv["lf_amp_ms"] if lf_amp_ms is None else lf_amp_ms
    sigma = hrv["white_sd_ms"] if white_sd_ms is None else white_sd_ms
    t = _rr_s(hr_bpm)
    f = np.asarray(breathing_bpm, float) / 60.0
    sq = (2 * np.asarray(rsa_amp_ms, float) ** 2 * np.sin(np.pi * f * t) ** 2
          + 2 * lf**2 * np.sin(np.pi * hrv["lf_hz"] * t) ** 2 + 2 * sigma**2)
    return np.sqrt(sq)


def rsa_amplitude_at_rest(rmssd_ms: float, hr_bpm: float, breathing_bpm: float,
                          lf_amp_ms: float | None = None,
                          white_sd_ms: float | None = None) -> float:
    """The RSA amplitude A0 (ms) that gives ``rmssd_ms`` at rest (inverse of the above).

    At least ``min_rsa_share`` of the resting RMSSD comes from the RSA.

    Examples
    --------
    >>> a0 = rsa_amplitude_at_rest(40.0, 70.0, 15.0)
    >>> round(float(rmssd_expected(a0, 70.0, 15.0)), 6)
    40.0
    """
    hrv = HRV_STRUCTURE
    lf = hrv["lf_amp_ms"] if lf_amp_ms is None else lf_amp_ms
    sigma = hrv["white_sd_ms"] if white_sd_ms is None else white_sd_ms
    t = 60.0 / hr_bpm
    rest = 2 * lf**2 * np.sin(np.pi * hrv["lf_hz"] * t) ** 2 + 2 * sigma**2
    hf_sq = max(rmssd_ms**2 - rest, (hrv["min_rsa_share"] * rmssd_ms) ** 2)
    return float(np.sqrt(hf_sq / 2.0) / abs(np.sin(np.pi * breathing_bpm / 60.0 * t)))


def hf_expected(rsa_amp_ms: np.ndarray | float, breathing_bpm: np.ndarray | float,
                hr_bpm: np.ndarray | float = 72.0, white_sd_ms: float | None = None
                ) -> np.ndarray:
    """Expected HF power (ms^2): the RSA's ``A^2/2`` when breathing is in the HF band.

    Examples
    --------
    >>> round(float(hf_expected(20.0, 15.0)))      # 0.25 Hz: in the band (200 + white jitter)
    204
    >>> float(hf_expected(20.0, 6.0)) < 5          # 0.10 Hz: below the band
    True
    """
    sigma = HRV_STRUCTURE["white_sd_ms"] if white_sd_ms is None else white_sd_ms
    f = np.asarray(breathing_bpm, float) / 60.0
    in_band = (f >= HF_BAND_HZ[0]) & (f <= HF_BAND_HZ[1])
    white = sigma**2 * _rr_s(hr_bpm) * 2 * (HF_BAND_HZ[1] - HF_BAND_HZ[0])
    return np.where(in_band, np.asarray(rsa_amp_ms, float) ** 2 / 2.0, 0.0) + white
