"""ECG-derived respiration (EDR): a breathing trace from the beats when there is no belt.

Breathing modulates the ECG in two ways that survive any lead placement:

* **RSA** (respiratory sinus arrhythmia): the RR interval shortens during inspiration.
  :func:`edr_rsa` interpolates the normal-to-normal RR series at 4 Hz.
* **QRS amplitude**: chest expansion moves the heart's electrical axis relative to the
  electrodes, so the R-to-S amplitude swings with each breath. :func:`edr_amplitude`
  takes the QRS peak-to-trough range within +-50 ms of each R peak, interpolated at 4 Hz.

:func:`ecg_rsp` turns either trace (or both, z-scored and sign-aligned: ``combined``) into
a :class:`~physio.rsp.rsp_peaks.BreathSeries` with the same cleaning and breath detection
as a belt. The default method was chosen by measurement (``bench/bench_rsp.py``, quoted in
``docs/respiration-eda.md``).
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline

from physio.errors import SignalQualityError
from physio.rsp.rsp_clean import MIN_RSP_DURATION_S, rsp_clean
from physio.rsp.rsp_peaks import BreathSeries, rsp_breaths

#: Band of the EDR traces (Hz), 6-30 breaths/min: narrower than a belt's, because the
#: RR series also carries the 0.1 Hz Mayer wave and beat-to-beat jitter.
EDR_BAND_HZ = (0.1, 0.5)
#: Rate of the interpolated EDR traces (Hz).
EDR_RATE_HZ = 4.0
#: Half-width (s) of the QRS window around each R peak for the amplitude EDR.
QRS_HALF_WIDTH_S = 0.05
#: EDR methods and the default (see the module docstring and bench/bench_rsp.py).
EDR_METHODS = ("rsa", "amplitude", "combined")
DEFAULT_EDR_METHOD = "combined"


def _beat_grid(peaks_s: np.ndarray, values: np.ndarray, ok: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """Cubic-spline a beat-by-beat series onto a 4 Hz grid; NaN across long gaps."""
    t, v = np.asarray(peaks_s, float)[ok], np.asarray(values, float)[ok]
    if len(t) < 4:
        return np.zeros(0), np.zeros(0)
    grid = np.arange(t[0], t[-1], 1.0 / EDR_RATE_HZ)
    y = CubicSpline(t, v)(grid)
    # a gap of more than 3 s between usable beats is lost signal, not a breath
    gap = np.diff(t) > 3.0
    if gap.any():
        j = np.searchsorted(t, grid, side="right") - 1
        y[gap[np.clip(j, 0, len(gap) - 1)] & (j < len(gap))] = np.nan
    return grid, y


def edr_rsa(peaks_s: np.ndarray, rr_ms: np.ndarray, corrected: np.ndarray | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
    """The RR series (ms) on a 4 Hz grid, from uncorrected beats only.

    Examples
    --------
    >>> t = np.cumsum(np.full(100, 0.8))
    >>> g, y = edr_rsa(t, np.r_[np.nan, np.full(99, 800.0)])
    >>> round(float(g[1] - g[0]), 2), bool(np.allclose(y, 800))
    (0.25, True)
    """
    rr = np.asarray(rr_ms, float)
    ok = np.isfinite(rr)
    if corrected is not None:
        ok &= ~np.asarray(corrected, bool)
    return _beat_grid(peaks_s, rr, ok)


def edr_amplitude(ecg: np.ndarray, sampling_rate: float, peaks_s: np.ndarray,
                  corrected: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """QRS peak-to-trough amplitude at each beat, on a 4 Hz grid.

    ``peaks_s`` are on the ECG's own clock (first sample = 0).

    Examples
    --------
    >>> fs = 250.0
    >>> t = np.arange(0, 60, 1 / fs)
    >>> beats = np.arange(0.5, 59.5, 0.8)
    >>> ecg = sum(np.exp(-((t - b) ** 2) / 2e-4) for b in beats)
    >>> g, y = edr_amplitude(ecg, fs, beats)
    >>> bool(np.allclose(y, 1.0, atol=0.01))
    True
    """
    x = np.asarray(ecg)
    fs = float(sampling_rate)
    pk = np.round(np.asarray(peaks_s, float) * fs).astype(np.int64)
    half = max(1, int(round(QRS_HALF_WIDTH_S * fs)))
    idx = pk[:, None] + np.arange(-half, half + 1)[None, :]
    inside = (idx[:, 0] >= 0) & (idx[:, -1] < len(x))
    seg = np.asarray(x[np.clip(idx, 0, len(x) - 1)], dtype=np.float64)
    amp = np.ptp(seg, axis=1)
    ok = inside & np.isfinite(amp)
    if corrected is not None:
        ok &= ~np.asarray(corrected, bool)
    return _beat_grid(peaks_s, amp, ok)


def _zscore(y: np.ndarray) -> np.ndarray:
    sd = np.nanstd(y)
    return (y - np.nanmean(y)) / sd if sd > 0 else y * 0.0


def ecg_rsp(
    peaks_s: np.ndarray,
    rr_ms: np.ndarray,
    corrected: np.ndarray | None = None,
    *,
    ecg: np.ndarray | None = None,
    sampling_rate: float | None = None,
    method: str = DEFAULT_EDR_METHOD,
    start_s: float = 0.0,
    band_hz: tuple[float, float] = EDR_BAND_HZ,
) -> BreathSeries:
    """Breaths estimated from the ECG's beats (and its waveform, for the amplitude EDR).

    Parameters
    ----------
    peaks_s, rr_ms, corrected : numpy.ndarray
        From :class:`physio.ecg.BeatSeries` (ECG clock).
    ecg, sampling_rate : optional
        The ECG (any units) and its rate, needed by ``amplitude`` and ``combined``;
        without them ``combined`` falls back to ``rsa``.
    method : {'rsa', 'amplitude', 'combined'}
    start_s : float
        Session time of the ECG's first sample (added to every time).

    Raises
    ------
    SignalQualityError
        Too few beats for a breathing trace.
    ValueError
        An unknown method.

    Examples
    --------
    >>> t = np.cumsum(np.full(400, 0.75))
    >>> rr = 750 + 40 * np.sin(2 * np.pi * 0.25 * t)
    >>> b = ecg_rsp(t, rr, method="rsa")
    >>> round(float(np.nanmedian(b.rate_bpm)), 1), b.source
    (15.0, 'ecg')
    """
    used, traces = edr_traces(peaks_s, rr_ms, corrected, ecg=ecg,
                              sampling_rate=sampling_rate, method=method)
    grid = traces[0][0]
    if len(grid) / EDR_RATE_HZ < MIN_RSP_DURATION_S:
        raise SignalQualityError(
            f"ECG-derived respiration: {len(grid) / EDR_RATE_HZ:.0f} s of usable beats, "
            f"shorter than the {MIN_RSP_DURATION_S:g} s needed for a breathing rate")
    y = edr_combine(grid, traces, band_hz)
    breaths = rsp_breaths(y, EDR_RATE_HZ, start_s=start_s + float(grid[0]), source="ecg")
    breaths.amplitude = np.full(len(breaths.rate_bpm), np.nan)
    breaths.info = {
        "source": "ecg",
        "edr_method": used,
        "edr_methods": {"rsa": "NN intervals, cubic spline at 4 Hz",
                        "amplitude": f"QRS peak-to-trough within +-{QRS_HALF_WIDTH_S * 1000:g} "
                                     "ms of each R peak, cubic spline at 4 Hz",
                        "combined": "sum of the z-scored RSA and amplitude traces, the "
                                    "amplitude's sign aligned with RSA"}[used],
        "band_hz": list(band_hz),
        "filter": "linear detrend + Butterworth order 2 band-pass, zero phase",
        **breaths.info,
    }
    return breaths


def edr_traces(peaks_s: np.ndarray, rr_ms: np.ndarray, corrected: np.ndarray | None = None,
               *, ecg: np.ndarray | None = None, sampling_rate: float | None = None,
               method: str = DEFAULT_EDR_METHOD
               ) -> tuple[str, list[tuple[np.ndarray, np.ndarray]]]:
    """The method used and its 4 Hz trace(s) ``(grid, values)``: RSA first, then amplitude.

    ``combined`` without the ECG waveform falls back to ``rsa``; ``amplitude`` without it
    is an error.

    Raises
    ------
    ValueError
        An unknown method, or ``amplitude`` without ``ecg`` and ``sampling_rate``.

    Examples
    --------
    >>> t = np.cumsum(np.full(100, 0.8))
    >>> used, traces = edr_traces(t, np.r_[np.nan, np.full(99, 800.0)])
    >>> used, len(traces)
    ('rsa', 1)
    """
    if method not in EDR_METHODS:
        raise ValueError(f"EDR method {method!r}: expected one of {EDR_METHODS}")
    used = method
    if method in ("amplitude", "combined") and (ecg is None or sampling_rate is None):
        if method == "amplitude":
            raise ValueError("the amplitude EDR needs the ECG signal and its sampling rate")
        used = "rsa"
    traces = []
    if used in ("rsa", "combined"):
        traces.append(edr_rsa(peaks_s, rr_ms, corrected))
    if used in ("amplitude", "combined"):
        traces.append(edr_amplitude(ecg, sampling_rate, peaks_s, corrected))
    return used, traces


def edr_combine(grid: np.ndarray, traces: list[tuple[np.ndarray, np.ndarray]],
                band_hz: tuple[float, float] = EDR_BAND_HZ) -> np.ndarray:
    """One breathing trace on ``grid``: each trace cleaned like a belt, two summed z-scored.

    The amplitude swing's sign depends on the lead, so it is aligned with the RSA trace
    (the sign of their correlation) before the two are added.
    """
    cleaned = []
    for g, y in traces:
        y = np.interp(grid, g, y, left=np.nan, right=np.nan) if len(g) != len(grid) else y
        cleaned.append(rsp_clean(y, EDR_RATE_HZ, name="ECG-derived", band_hz=band_hz))
    if len(cleaned) == 1:
        return cleaned[0]
    a, b = _zscore(cleaned[0]), _zscore(cleaned[1])
    both = np.isfinite(a) & np.isfinite(b)
    r = float(np.corrcoef(a[both], b[both])[0, 1]) if both.sum() > 10 else 0.0
    return a + (np.sign(r) if r != 0 else 1.0) * b
