"""ECG cleaning: the two filtered views the beat detector needs, and nothing more.

* ``ecg_clean`` -- a 0.5-45 Hz zero-phase band-pass at the **original** rate, used to place
  each R peak precisely (sub-millisecond placement matters for RMSSD).
* ``ecg_detection_signal`` -- the signal resampled to :data:`DETECTION_RATE_HZ` and
  band-passed to the QRS band (5-20 Hz, Pan & Tompkins 1985), used to *find* beats cheaply.

References
----------
Pan, J., & Tompkins, W. J. (1985). A real-time QRS detection algorithm. IEEE Transactions on
Biomedical Engineering, 32(3), 230-236.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy import signal as sps

from physio.zero_phase import sosfiltfilt_lean

#: Detection runs at this rate whatever the input rate (100-2000 Hz): QRS energy sits below
#: ~40 Hz, so 250 Hz loses nothing for detection, and it makes the cost independent of the
#: recording's rate. Peaks are placed afterwards on the original-rate signal.
DETECTION_RATE_HZ = 250.0


def ecg_clean(signal: np.ndarray, sampling_rate: float) -> np.ndarray:
    """Band-pass an ECG (0.5-45 Hz, 2nd-order Butterworth, zero phase) at its own rate.

    The high-pass removes baseline wander; the low-pass removes mains hum (50/60 Hz) and EMG
    without shifting the R peak (zero phase). The upper edge is capped below Nyquist for
    low-rate recordings.

    Parameters
    ----------
    signal : numpy.ndarray
        Raw ECG, 1-D, finite (NaNs must be filled by the caller).
    sampling_rate : float
        Hz.

    Returns
    -------
    numpy.ndarray
        Cleaned ECG, same length and rate.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.sin(2 * np.pi * 1.0 * np.arange(2000) / 250.0) + 5.0
    >>> abs(float(ecg_clean(x, 250.0).mean())) < 0.1
    True
    """
    fs = float(sampling_rate)
    high = min(45.0, 0.45 * fs)
    sos = sps.butter(2, [0.5, high], btype="bandpass", fs=fs, output="sos")
    # scipy's sosfiltfilt, bit for bit, with one working copy instead of three (memory)
    return sosfiltfilt_lean(sos, np.asarray(signal, dtype=np.float64))


def resample_to(signal: np.ndarray, sampling_rate: float, target_hz: float) -> np.ndarray:
    """Polyphase resampling from ``sampling_rate`` to ``target_hz`` (anti-aliased).

    ``scipy.signal.resample_poly`` with its default Kaiser-windowed FIR; the rate ratio is
    the nearest fraction with a denominator up to 1000.
    """
    ratio = Fraction(float(target_hz) / float(sampling_rate)).limit_denominator(1000)
    if ratio == 1:
        return np.asarray(signal, dtype=np.float64)
    return sps.resample_poly(np.asarray(signal, dtype=np.float64), ratio.numerator,
                             ratio.denominator)


#: Block means cascaded in :func:`decimate_bspline` (4: a cubic B-spline kernel, odd length,
#: so centred on a sample; see the function for the attenuation this buys).
BSPLINE_STAGES = 4


def integer_factor(sampling_rate: float, target_hz: float) -> int | None:
    """The integer decimation factor from ``sampling_rate`` to ``target_hz``, or None.

    The ratio is read as :func:`resample_to` reads it (nearest fraction with a denominator
    up to 1000), so both paths agree on what rate a recording has.

    Examples
    --------
    >>> integer_factor(1000.0, 250.0), integer_factor(360.0, 250.0), integer_factor(250.0, 250.0)
    (4, None, None)
    """
    ratio = Fraction(float(target_hz) / float(sampling_rate)).limit_denominator(1000)
    if ratio.numerator == 1 and ratio.denominator >= 2:
        return int(ratio.denominator)
    return None


def bspline_kernel(factor: int, stages: int = BSPLINE_STAGES) -> np.ndarray:
    """``stages`` cascaded ``factor``-sample means: ``stages * (factor - 1) + 1`` taps, sum 1.

    Examples
    --------
    >>> (bspline_kernel(2) * 16).tolist()
    [1.0, 4.0, 6.0, 4.0, 1.0]
    """
    h = np.ones(1)
    box = np.ones(int(factor)) / int(factor)
    for _ in range(int(stages)):
        h = np.convolve(h, box)
    return h


def decimate_bspline(signal: np.ndarray, factor: int,
                     stages: int = BSPLINE_STAGES) -> np.ndarray:
    """Decimate by an integer ``factor`` with a symmetric cubic B-spline FIR (zero phase).

    The kernel (:func:`bspline_kernel`) is ``stages`` cascaded means over ``factor``
    samples. A mean over ``factor`` samples has a null at every multiple of the output
    rate ``fs / factor``, which is exactly where the content that folds onto low output
    frequencies sits; four of them in cascade attenuate everything that folds into 5-20 Hz
    at a 250 Hz output by more than ``scipy.signal.resample_poly``'s default filter, with
    a gain slightly below 1 at 5-20 Hz (``bench/bench_ecg_speed.py`` prints the figures;
    ``docs/ecg-hrv.md``, section 1, quotes them). The kernel has
    an odd number of taps, so output sample ``n`` is centred on input sample
    ``n * factor`` (the time grid of ``resample_poly``), and there are
    ``ceil(len / factor)`` outputs, like ``resample_poly``. The ends are extended by odd
    reflection (as ``scipy.signal.filtfilt``), not by zeros. It runs as
    ``scipy.signal.resample_poly`` with this kernel as its filter (polyphase: 13 taps at
    1000 Hz instead of the default 81).

    Parameters
    ----------
    signal : numpy.ndarray
        1-D, finite.
    factor : int
        Decimation factor, >= 2.
    stages : int
        Even number of cascaded means (odd kernel length, so the output is not shifted).

    Returns
    -------
    numpy.ndarray
        ``ceil(len(signal) / factor)`` samples at ``fs / factor``.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(4000) / 1000.0
    >>> y = decimate_bspline(np.cos(2 * np.pi * 10 * t), 4)  # 10 Hz: gain 0.990 ...
    >>> len(y), round(float(y[250]), 4)
    (1000, 0.9902)
    >>> s = decimate_bspline(np.sin(2 * np.pi * 10 * t), 4)  # ... and no time shift
    >>> bool(abs(s[250]) < 1e-12)
    True
    >>> # 240 Hz (the 4th harmonic of 60 Hz mains) would fold to 10 Hz: it is gone
    >>> bool(np.abs(decimate_bspline(np.sin(2 * np.pi * 240 * t), 4)[5:-5]).max() < 1e-5)
    True
    """
    m = int(factor)
    if m < 2 or stages < 2 or stages % 2:
        raise ValueError(f"decimate_bspline: factor must be >= 2 and stages even and >= 2, "
                         f"got factor {factor}, stages {stages}")
    x = np.asarray(signal, dtype=np.float64)
    h = bspline_kernel(m, stages)
    # resample_poly with our kernel as its filter: polyphase (only the kept outputs are
    # computed), delay-compensated (odd symmetric kernel: exactly centred), 'antireflect'
    # is the odd reflection 2 x[0] - x[i]; a signal shorter than the kernel is extended by
    # its end values instead (scipy's antireflect fails on a single sample)
    return sps.resample_poly(x, 1, m, window=h,
                             padtype="antireflect" if len(x) >= len(h) else "edge")


def ecg_detection_signal(signal: np.ndarray, sampling_rate: float) -> tuple[np.ndarray, float]:
    """Resample to :data:`DETECTION_RATE_HZ` and band-pass to the QRS band (5-20 Hz).

    An integer rate ratio (500, 750, 1000, 2000 Hz ...) is decimated with
    :func:`decimate_bspline` (four times cheaper than ``resample_poly`` at 1000 Hz, and it
    rejects what folds into 5-20 Hz better); any other ratio (MIT-BIH's 360 Hz, 100 Hz) goes
    through :func:`resample_to` and has its median subtracted, as before. After the
    decimator no median is needed: the band-pass removes an offset exactly (its gain at 0 Hz
    is zero and ``sosfiltfilt`` starts from the steady state of the first sample), and the
    decimator's odd reflection leaves no step at the ends (``resample_poly`` pads with
    zeros, so there a large offset still leaves a step at the first and last samples).

    Returns
    -------
    (numpy.ndarray, float)
        The QRS-band signal and the rate it is sampled at.

    Examples
    --------
    >>> import numpy as np
    >>> x, fs = ecg_detection_signal(np.random.default_rng(0).normal(size=10000), 1000.0)
    >>> (len(x), fs)
    (2500, 250.0)
    """
    fs_d = DETECTION_RATE_HZ
    factor = integer_factor(sampling_rate, fs_d)
    if factor is not None:
        x = decimate_bspline(signal, factor)
    else:
        x = resample_to(signal, sampling_rate, fs_d)
        # median removed (the band-pass below removes a constant anyway; kept so that these
        # rates give the same values bit for bit as before the B-spline decimator)
        x = x - np.median(x) if len(x) else x
    sos = sps.butter(3, [5.0, 20.0], btype="bandpass", fs=fs_d, output="sos")
    return sps.sosfiltfilt(sos, x), fs_d


#: Plain words for the sidecar (``methods.ecg.method.detection_resampling``).
DETECTION_RESAMPLING = (
    f"to {DETECTION_RATE_HZ:g} Hz: integer rate ratios by a symmetric cubic B-spline FIR "
    f"({BSPLINE_STAGES} cascaded means over the decimation factor, odd reflection at the "
    "ends), other ratios by scipy.signal.resample_poly (Kaiser window, beta 5); then a 5-20 "
    "Hz Butterworth band-pass (order 3, zero phase)")
