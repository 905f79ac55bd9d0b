"""Belt breathing quality, a second breath counter, and ECG-derived breathing quality.

* **count-adv** (Schäfer & Kratky 2008): the breath counter that held best against
  talking and movement in their comparison. On the band-passed trace, every local
  extremum is found; the vertical distance between successive extrema is compared with
  :data:`COUNT_ADV_FRACTION` x their third quartile, and the closest pair below it is
  removed, again and again, until every remaining swing is large enough. What remains
  alternates peak, trough, peak; each trough-to-trough cycle is one breath. Small wiggles
  (speech, a cough) are removed as pairs, so they never split a breath.
* **Belt quality per window** asks for positive evidence of breathing, not only for a
  signal: the belt must not be quiet, most of its power must lie in the breathing band,
  and two independent counters (soothe's hysteresis counter and count-adv) must agree
  within :data:`AGREE_BPM`. A belt that stops carrying breathing gives band-passed noise:
  it still crosses zero, so every counter "counts" it, but the counters disagree.
* **ECG-derived breathing quality**: RSA and QRS-amplitude modulation are two independent
  routes from breathing into the ECG, and whether breathing modulates either depends on
  the person and the moment (Birrenkott et al. 2018). Where the two rates agree within
  :data:`AGREE_BPM`, breathing drives both and their mean is reported; where they
  disagree, the one route whose trace repeats itself one breath later
  (:func:`breathing_periodicity` >= :data:`MIN_PERIODICITY`) gives the rate; otherwise
  (neither periodic, or both periodic and disagreeing) the rate is NaN with the reason
  (:func:`edr_window_verdict`).
"""

from __future__ import annotations

import functools
import heapq

import numpy as np
import scipy.signal as sps

from physio.rsp.rsp_clean import RSP_BAND_HZ, RSP_PROCESS_HZ, rsp_clean, rsp_decimate
from physio.rsp.rsp_peaks import BreathSeries

#: count-adv threshold: 0.3 x the third quartile of the swings (Schäfer & Kratky 2008).
COUNT_ADV_FRACTION = 0.3
#: Breath lengths the periodicity looks for (s): 2-40 breaths/min.
PERIOD_RANGE_S = (1.5, 30.0)
#: Least normalised autocorrelation at one breath for a trace to carry breathing in a
#: window (an ECG-derived route, :func:`edr_window_verdict`): below it the trace shares
#: less than a quarter of its variance with itself one breath later (the same 0.5 as a
#: beat's template correlation in physio.ecg.ecg_quality).
MIN_PERIODICITY = 0.5
#: Two counters (or two ECG modulations) agree when their rates differ by at most this
#: (breaths/min): the issue's accuracy criterion for a breathing rate.
AGREE_BPM = 1.5

CITATIONS = (
    "Schäfer A. & Kratky K. W. (2008) Estimation of breathing rate from respiratory sinus "
    "arrhythmia: comparison of various methods. Ann Biomed Eng 36(3):476-485",
    "Charlton P. H. et al. (2016) An assessment of algorithms to estimate respiratory rate "
    "from the electrocardiogram and photoplethysmogram. Physiol Meas 37(4):610-626",
    "Birrenkott D. A., Pimentel M. A. F., Watkinson P. J. & Clifton D. A. (2018) A robust "
    "fusion model for estimating respiratory rate from photoplethysmography and "
    "electrocardiography. IEEE Trans Biomed Eng 65(9):2033-2041",
)


def local_extrema(y: np.ndarray) -> np.ndarray:
    """Indices of alternating local maxima and minima of a finite trace (plateaus once).

    Examples
    --------
    >>> local_extrema(np.array([0.0, 1.0, 0.0, -1.0, 0.0, 2.0, 0.0])).tolist()
    [1, 3, 5]
    """
    d = np.sign(np.diff(np.asarray(y, dtype=float)))
    nz = np.flatnonzero(d)
    if len(nz) < 2:
        return np.zeros(0, dtype=np.int64)
    turns = np.flatnonzero(d[nz][1:] != d[nz][:-1])
    return nz[turns + 1].astype(np.int64)


def count_adv(clean: np.ndarray, sampling_rate: float, *,
              fraction: float | None = None) -> np.ndarray:
    """Breath times (s from the first sample) by count-adv (Schäfer & Kratky 2008).

    Parameters
    ----------
    clean : numpy.ndarray
        Band-passed, zero-mean breathing trace (e.g. :func:`physio.rsp.rsp_clean`); NaN is
        treated as 0.
    sampling_rate : float
        Hz.
    fraction : float, optional
        Swings smaller than ``fraction`` x their third quartile are removed (default
        :data:`COUNT_ADV_FRACTION`, read at call time).

    Returns
    -------
    numpy.ndarray
        Time of each trough that starts a breath; breath k lasts until trough k+1.

    Examples
    --------
    >>> fs = 10.0
    >>> t = np.arange(0, 60, 1 / fs)
    >>> y = np.sin(2 * np.pi * 0.25 * t) + 0.05 * np.sin(2 * np.pi * 3 * t)
    >>> troughs = count_adv(y, fs)
    >>> len(troughs), round(float(60 / np.median(np.diff(troughs))), 1)
    (15, 15.0)
    """
    y = np.nan_to_num(np.asarray(clean, dtype=float))
    ext = local_extrema(y)
    if len(ext) < 4:
        return np.zeros(0)
    vals = y[ext]
    share = COUNT_ADV_FRACTION if fraction is None else fraction
    limit = share * np.percentile(np.abs(np.diff(vals)), 75)
    keep = remove_small_swings(vals, limit)
    ext_a, vals_a = ext[keep], vals[keep]
    is_trough = np.r_[vals_a[:-1] < vals_a[1:], vals_a[-1] < vals_a[-2]]
    return ext_a[is_trough] / float(sampling_rate)


def remove_small_swings(vals: np.ndarray, limit: float, min_left: int = 4) -> np.ndarray:
    """count-adv's pruning: remove the pair of neighbouring extrema with the smallest swing
    below ``limit``, again and again, while more than ``min_left - 1`` remain.

    A heap over a linked list gives the result of the literal repeated search in
    O(n log n), so a 24-h belt is pruned in seconds.

    Returns
    -------
    numpy.ndarray
        Bool mask of the extrema that remain.

    Examples
    --------
    >>> remove_small_swings(np.array([0.0, 1.0, 0.9, 1.0, 0.0, 1.0]), 0.5).tolist()
    [True, False, False, True, True, True]
    """
    n = len(vals)
    nxt = np.arange(1, n + 1)
    prv = np.arange(-1, n - 1)
    alive = np.ones(n, dtype=bool)
    heap = [(abs(vals[i + 1] - vals[i]), i, i + 1) for i in range(n - 1)]
    heapq.heapify(heap)
    left = n
    while heap and left >= min_left:
        swing, i, j = heapq.heappop(heap)
        if not (alive[i] and alive[j] and nxt[i] == j):
            continue  # a stale entry: one end was removed since
        if swing >= limit:
            break
        alive[i] = alive[j] = False
        left -= 2
        p, q = prv[i], nxt[j]
        if p >= 0:
            nxt[p] = q
        if q < n:
            prv[q] = p
        if p >= 0 and q < n:
            heapq.heappush(heap, (abs(vals[q] - vals[p]), p, q))
    return alive


def window_rate(times_s: np.ndarray, start_s: float, end_s: float) -> float:
    """Median breathing rate (breaths/min) of the cycles whose middle lies in the window.

    Examples
    --------
    >>> round(window_rate(np.arange(0, 60, 4.0), 0, 60), 1)
    15.0
    """
    t = np.asarray(times_s, dtype=float)
    if len(t) < 3:
        return float("nan")
    mid = 0.5 * (t[1:] + t[:-1])
    period = np.diff(t)
    sel = (mid >= start_s) & (mid < end_s) & (period >= PERIOD_RANGE_S[0]) & (
        period <= PERIOD_RANGE_S[1])
    return float(60.0 / np.median(period[sel])) if sel.sum() >= 2 else float("nan")


def breathing_periodicity(clean: np.ndarray, sampling_rate: float) -> float:
    """Highest normalised autocorrelation at a lag of one breath (:data:`PERIOD_RANGE_S`).

    Band-passed noise decorrelates within a fraction of a second and has no second peak;
    breathing repeats itself one breath later.

    Examples
    --------
    >>> fs = 10.0
    >>> t = np.arange(0, 60, 1 / fs)
    >>> round(breathing_periodicity(np.sin(2 * np.pi * 0.25 * t), fs), 1)
    0.9
    """
    y = np.nan_to_num(np.asarray(clean, dtype=float))
    y = y - y.mean()
    n = len(y)
    fs = float(sampling_rate)
    lo, hi = int(PERIOD_RANGE_S[0] * fs), min(int(PERIOD_RANGE_S[1] * fs), n // 2)
    if hi <= lo or not np.any(y):
        return 0.0
    spec = np.fft.rfft(y, 2 * n)
    ac = np.fft.irfft(spec * np.conj(spec))[:n]
    ac = ac / ac[0]
    seg = ac[lo:hi]
    # the first peak after the autocorrelation has crossed zero (not the tail of lag 0)
    below = np.flatnonzero(seg < 0)
    if not len(below):
        return 0.0
    return float(max(0.0, seg[below[0]:].max()))


#: A window whose band-passed belt trace is quieter than this share of the recording's
#: loud (90th percentile) window holds no breathing: a breath moves the chest by at least
#: a fifth of a deep breath, while a belt that lost the chest records only its own noise.
MIN_AMPLITUDE_RATIO = 0.1
#: Least share of a window's power (above the band's lower edge) that lies in the
#: breathing band: chest excursion has almost no power above 0.7 Hz, while sensor noise is
#: broadband, so a belt that records noise puts most of its power above the band.
MIN_BAND_SHARE = 0.5
#: Percentile of the windows' trace SD that stands for the recording's breathing depth.
REFERENCE_PERCENTILE = 90.0


def belt_trace(signal: np.ndarray, sampling_rate: float) -> tuple[np.ndarray, float, float]:
    """The band-passed belt trace soothe's counter sees: ``(clean, rate_hz, delay_s)``.

    Examples
    --------
    >>> t = np.arange(0, 60, 0.04)
    >>> clean, fs, delay = belt_trace(np.sin(2 * np.pi * 0.25 * t), 25.0)
    >>> fs, len(clean) == len(t)
    (25.0, True)
    """
    trace, fs, delay_s = rsp_decimate(signal, sampling_rate)
    return rsp_clean(trace, fs), float(fs), float(delay_s)


@functools.lru_cache(maxsize=8)
def welch_stft(nperseg: int, sampling_rate: float) -> sps.ShortTimeFFT:
    """The short-time Fourier transform :func:`scipy.signal.welch` builds for ``nperseg``
    samples (its default periodic Hann window, half overlap, one-sided, scaled to a PSD),
    made once per length and rate: a recording's windows share one length, and building
    it (the window and its scale) costs more than the spectrum of a short window.

    Examples
    --------
    >>> welch_stft(8, 4.0).hop, welch_stft(8, 4.0) is welch_stft(8, 4.0)
    (4, True)
    """
    # ("hann", fftbins=True) is the periodic Hann window welch uses; the name "hann_periodic"
    # exists only from SciPy 1.17
    win = sps.get_window("hann", nperseg, fftbins=True)
    return sps.ShortTimeFFT(win, nperseg - nperseg // 2, sampling_rate, fft_mode="onesided",
                            mfft=nperseg, scale_to="psd", phase_shift=None)


def welch_psd(x: np.ndarray, sampling_rate: float, nperseg: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """``scipy.signal.welch(x, fs=sampling_rate, nperseg=nperseg)`` of a real 1-D float
    array, the same operations on a transform made once (:func:`welch_stft`), so the same
    numbers (``tests/test_rsp_quality_welch.py`` holds them to scipy's, bit for bit).

    Examples
    --------
    >>> f, p = welch_psd(np.sin(np.arange(64) * np.pi / 2), 4.0, 16)
    >>> float(f[int(np.argmax(p))])
    1.0
    """
    sft = welch_stft(int(nperseg), float(sampling_rate))
    noverlap = nperseg - sft.hop
    pxx = sft.spectrogram(x, x, detr="constant", p0=0, p1=(len(x) - noverlap) // sft.hop,
                          k_offset=nperseg // 2)
    pxx[1:-1 if sft.mfft % 2 == 0 else None] *= 2  # one-sided: rows are frequencies
    pxx = pxx.mean(axis=-1) if pxx.shape[-1] > 1 else pxx[..., 0]
    return sft.f, pxx


def breathing_band_share(raw: np.ndarray, sampling_rate: float) -> float:
    """Share of a raw belt window's power above 0.05 Hz that lies in the breathing band.

    The power is measured on the belt brought to the breathing trace's rate
    (:func:`physio.rsp.rsp_clean.rsp_decimate`, 50 Hz for a belt faster than 100 Hz): so
    the share does not depend on the recorder's rate (a 1000 Hz belt would otherwise add
    sensor noise up to 500 Hz to the total, a 100 Hz belt only up to 50 Hz), and a belt's
    power above 25 Hz, which is not breathing, does not count either way.

    Examples
    --------
    >>> fs = 25.0
    >>> t = np.arange(0, 60, 1 / fs)
    >>> round(breathing_band_share(np.sin(2 * np.pi * 0.25 * t), fs), 2)
    1.0
    >>> bool(breathing_band_share(np.random.default_rng(0).normal(size=len(t)), fs) < 0.2)
    True
    """
    y, fs, _ = rsp_decimate(np.asarray(raw, dtype=float), sampling_rate)
    y = y[np.isfinite(y)]
    if len(y) < 4 * fs:
        return float("nan")
    nperseg = min(len(y), int(30 * fs))
    f, p = welch_psd(y - y.mean(), fs, nperseg)
    band = p[(f >= RSP_BAND_HZ[0]) & (f <= RSP_BAND_HZ[1])].sum()
    total = band + p[f > RSP_BAND_HZ[1]].sum()
    return float(band / total) if total > 0 else float("nan")


def belt_window_verdict(soothe_bpm: float, count_adv_bpm: float, amplitude_ratio: float,
                        band_share: float = 1.0) -> tuple[float, str]:
    """Belt quality (0-1) and reason ('' when valid) of one window.

    Examples
    --------
    >>> belt_window_verdict(15.0, 15.4, 0.8)
    (0.87, '')
    >>> belt_window_verdict(22.0, 25.0, 0.01)[1][:14]
    'belt is quiet:'
    """
    if not np.isfinite(amplitude_ratio) or amplitude_ratio < MIN_AMPLITUDE_RATIO:
        return 0.0, (f"belt is quiet: {amplitude_ratio:.0%} of its breathing depth "
                     f"(< {MIN_AMPLITUDE_RATIO:.0%}); no breathing recorded")
    if not np.isfinite(band_share) or band_share < MIN_BAND_SHARE:
        return 0.0, (f"belt carries noise, not breathing: {band_share:.0%} of its power in "
                     f"{RSP_BAND_HZ[0]:g}-{RSP_BAND_HZ[1]:g} Hz (< {MIN_BAND_SHARE:.0%})")
    if not (np.isfinite(soothe_bpm) and np.isfinite(count_adv_bpm)):
        return 0.0, "too few breaths for a rate"
    gap = abs(soothe_bpm - count_adv_bpm)
    quality = round(float(np.clip(1.0 - gap / (2 * AGREE_BPM), 0.0, 1.0)), 2)
    if gap > AGREE_BPM:
        return quality, (f"breath counters disagree ({soothe_bpm:.1f} vs {count_adv_bpm:.1f}"
                         f"/min, > {AGREE_BPM}/min): talking, movement or no breathing")
    return quality, ""


def trace_periodicity(series: BreathSeries, start_s: float, end_s: float) -> float:
    """:func:`breathing_periodicity` of a breath series' cleaned trace within
    ``[start_s, end_s)`` (NaN when the series carries no trace there).

    Examples
    --------
    >>> t = np.arange(0, 120, 0.25)
    >>> b = BreathSeries(np.zeros(0), np.zeros(0), np.zeros(0), "ecg", trace_t=t,
    ...                  trace_y=np.sin(2 * np.pi * 0.25 * t))
    >>> round(trace_periodicity(b, 0.0, 60.0), 1)
    0.9
    """
    t = np.asarray(series.trace_t, dtype=float)
    sel = (t >= start_s) & (t < end_s)
    if sel.sum() < 4:
        return float("nan")
    fs = 1.0 / float(np.median(np.diff(t[sel])))
    return round(breathing_periodicity(np.asarray(series.trace_y)[sel], fs), 3)


def edr_window_verdict(rsa_bpm: float, amplitude_bpm: float,
                       rsa_periodicity: float = float("nan"),
                       amplitude_periodicity: float = float("nan")
                       ) -> tuple[float, float, str]:
    """ECG-derived rate, quality (0-1) and reason from its two modulations.

    Each route (RSA, QRS amplitude) carries breathing in a window when its trace repeats
    itself one breath later: normalised autocorrelation >= :data:`MIN_PERIODICITY` (the
    autocorrelation respiratory quality index of Birrenkott et al. 2018, who found that
    whether breathing modulates a route at all depends on the person and the moment).

    1. The two rates within :data:`AGREE_BPM` of each other: their mean, ``edr_quality``
       1 - gap / (2 x AGREE_BPM) (two independent routes agreeing are evidence of
       breathing).
    2. Otherwise, exactly one route carries breathing: its rate, ``edr_quality`` its
       periodicity (the other route follows something else, or has too few breaths).
    3. Otherwise NaN with the reason: both routes periodic and disagreeing (two
       breathing-like rhythms, no way to tell which), or neither periodic.

    Examples
    --------
    >>> edr_window_verdict(15.0, 15.6)
    (15.3, 0.8, '')
    >>> edr_window_verdict(9.0, 16.0)[0]
    nan
    >>> edr_window_verdict(9.0, 16.0, 0.2, 0.7)
    (16.0, 0.7, '')
    >>> edr_window_verdict(9.0, 16.0, 0.6, 0.7)[2][:31]
    'RSA and QRS-amplitude breathing'
    """
    rates = np.array([rsa_bpm, amplitude_bpm], dtype=float)
    if np.isfinite(rates).all() and abs(rsa_bpm - amplitude_bpm) <= AGREE_BPM:
        gap = abs(rsa_bpm - amplitude_bpm)
        quality = round(float(np.clip(1.0 - gap / (2 * AGREE_BPM), 0.0, 1.0)), 2)
        return round(0.5 * (rsa_bpm + amplitude_bpm), 2), quality, ""
    period = np.array([rsa_periodicity, amplitude_periodicity], dtype=float)
    breathing = np.isfinite(rates) & np.isfinite(period) & (period >= MIN_PERIODICITY)
    if breathing.sum() == 1:
        k = int(np.flatnonzero(breathing)[0])
        return round(float(rates[k]), 2), round(float(period[k]), 2), ""
    if breathing.all():
        return float("nan"), 0.0, (
            f"RSA and QRS-amplitude breathing are both periodic and disagree "
            f"({rsa_bpm:.1f} vs {amplitude_bpm:.1f}/min, > {AGREE_BPM}/min)")
    if not np.isfinite(rates).all():
        return float("nan"), 0.0, "too few ECG-derived breaths for a rate"
    gap = abs(rsa_bpm - amplitude_bpm)
    quality = round(float(np.clip(1.0 - gap / (2 * AGREE_BPM), 0.0, 1.0)), 2)
    return float("nan"), quality, (
        f"RSA and QRS-amplitude breathing disagree ({rsa_bpm:.1f} vs "
        f"{amplitude_bpm:.1f}/min, > {AGREE_BPM}/min) and neither repeats itself "
        f"(periodicity < {MIN_PERIODICITY:g}): not breathing-driven")


def rsp_quality_methods() -> dict[str, object]:
    """Rules and thresholds in force, for the sidecar (read at call time).

    Examples
    --------
    >>> rsp_quality_methods()["agree_bpm"]
    1.5
    """
    return {
        "belt_counter": "count-adv (Schäfer & Kratky 2008) on the band-passed belt trace",
        "count_adv_fraction": COUNT_ADV_FRACTION, "period_range_s": list(PERIOD_RANGE_S),
        "min_amplitude_ratio": MIN_AMPLITUDE_RATIO,
        "reference_percentile": REFERENCE_PERCENTILE, "min_band_share": MIN_BAND_SHARE,
        "band_share_rate_hz": RSP_PROCESS_HZ,
        "band_hz": list(RSP_BAND_HZ), "agree_bpm": AGREE_BPM,
        "min_periodicity": MIN_PERIODICITY,
        "edr_rule": ("the mean of the RSA and QRS-amplitude rates when they agree within "
                     "agree_bpm; otherwise the rate of the one route whose trace's "
                     "normalised autocorrelation at one breath is >= "
                     f"{MIN_PERIODICITY:g} (it carries breathing; Birrenkott et al. 2018); "
                     "else NaN"),
        "citations": list(CITATIONS),
    }
