"""ECG quality from positive evidence: do the detected beats look like heartbeats?

A QRS detector always finds *something*: in a drift-only or noise-only channel it finds
the largest wiggles, at a plausible rate. Signal-loss rules (``physio.ecg.ecg_segments``)
cannot catch that, because they compare the channel with itself. This module asks for
positive evidence instead:

* **Template correlation per beat** (Orphanidou et al. 2015; Zhao & Zhang 2018, as in
  ``nk.ecg_quality``): every beat of a heart has nearly the same shape, so each detected
  beat is correlated with the median beat of its :data:`TEMPLATE_BLOCK_S` block. The
  ``template_corr`` covers the P wave to the T wave (:data:`BEAT_WINDOW_S`); ``qrs_corr``
  covers the QRS alone (:data:`QRS_WINDOW_S`), which noise in the baseline between beats
  cannot lower. Noise aligned on its own largest wiggles gives a "template" too, but each
  wiggle resembles it only weakly.
* **A window's quality** ``ecg_quality`` is the median ``template_corr`` of its beats
  (0-1; the median so that ectopic beats of another shape do not lower it). The window is
  valid when it is at least :data:`WINDOW_CORR_MIN` (Orphanidou's threshold on the mean
  correlation), when few detections match nothing (:data:`MAX_UNMATCHED_SHARE`), when the
  beats cover the window and when the rate is in :data:`HR_RANGE_BPM` (Orphanidou's
  physiological range).
* A **beat is low quality** when neither correlation reaches :data:`BEAT_CORR_MIN` and
  the RR classification has not already explained it as ectopic (a ventricular beat has
  another shape by definition; it is a heartbeat, labelled by ``beat_class``).

* A beat's **R-peak time is ambiguous** when its QRS matches the template nearly as well
  (:data:`TIMING_RATIO`) at a second alignment :data:`TIMING_SEP_S` away as where the
  engine placed it: two near-equal QRS copies (a recorder artefact) or a placement off the
  template's fiducial. Its time is then uncertain by their separation, tens of ms, against
  the few ms that time-domain HRV needs (Task Force 1996); the successive differences that
  involve it are left out of RMSSD (:func:`physio.hrv.hrv_window`, ``uncertain``), in
  every engine alike. A QRS of any shape that every beat shares (notched, biphasic, wide)
  is in the template and is not ambiguous.

Agreement of two detectors (bSQI; Li, Clifford & Mark 2008) was measured and not used:
neurokit2's detector counts the T waves of MIT-BIH 113 as beats, so a clean record scores
0.55 and the index would measure the second detector rather than the signal.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import scipy.signal as sps

from physio.ecg.ecg_clean import decimate_bspline, integer_factor, resample_to
from physio.zero_phase import sosfiltfilt_lean

#: Beat-shape templates are built per block of this length (s) from the recording's start:
#: long enough for a robust median of >= 30 beats, short enough to follow slow changes of
#: the QRS axis (posture, respiration).
TEMPLATE_BLOCK_S = 60.0
#: Span of one beat around its R peak (s before, s after): the P wave to the end of the T
#: wave at rest (PR <= 0.2 s, QT <= 0.44 s; Orphanidou et al. 2015 use the median RR).
BEAT_WINDOW_S = (0.2, 0.4)
#: Span of the QRS complex alone (s before, s after): a QRS lasts <= 0.12 s.
QRS_WINDOW_S = (0.08, 0.08)
#: A window's median template correlation must reach this (Orphanidou et al. 2015: 0.66).
WINDOW_CORR_MIN = 0.66
#: A beat matches its template when either correlation reaches this (r = 0.5: the beat
#: shares at least a quarter of its variance with the template).
BEAT_CORR_MIN = 0.5
#: Largest share of unexplained non-matching detections in a valid window: more than one
#: in five is movement or noise taken for beats.
MAX_UNMATCHED_SHARE = 0.2
#: Plausible heart rate (bpm) of the window's median RR (Orphanidou et al. 2015).
HR_RANGE_BPM = (40.0, 180.0)
#: Share of the window that must lie between two detected beats (RR <= 3 s, Orphanidou's
#: longest plausible interval).
MIN_COVERAGE = 0.5
MAX_RR_S = 3.0
#: Band of the signal the beats are compared on (Hz): P, QRS and T waves lie below 25 Hz;
#: a steep (4th-order) edge there removes mains hum (50/60 Hz), which a lead that lost the
#: skin picks up and which would otherwise make every "beat" look alike.
QUALITY_BAND_HZ = (0.5, 25.0)
QUALITY_FILTER_ORDER = 4
#: Highest rate (Hz) the beats are compared at (:func:`ecg_quality_input`): ten times the
#: band's upper edge, the detection rate. A faster ECG is brought to it first, so that a
#: heart recorded at 500, 1000 or 2000 Hz gets the same correlations, and the cost does not
#: grow with the recorder's rate.
QUALITY_RATE_HZ = 250.0
#: Fewest beats for a template.
MIN_TEMPLATE_BEATS = 5
#: Separations (s) at which a second alignment of a beat's QRS with its template makes the
#: R-peak time ambiguous: from the width of one R wave (closer alignments are the same
#: peak) to the width of a QRS (<= 0.12 s, so two fiducials of one QRS lie within 0.1 s).
TIMING_SEP_S = (0.02, 0.10)
#: Alignments within this (s) of the detected R peak count as the engine's own placement
#: (sampling and filtering jitter of a few samples).
TIMING_OWN_S = 0.015
#: A second alignment is "nearly as good" at this share of the own one's correlation (and
#: at least :data:`BEAT_CORR_MIN`): for two copies of one QRS the ratio is the second
#: copy's relative amplitude.
TIMING_RATIO = 0.8

CITATIONS = (
    "Orphanidou C. et al. (2015) Signal-quality indices for the electrocardiogram and "
    "photoplethysmogram. IEEE J Biomed Health Inform 19(3):832-838",
    "Zhao Z. & Zhang Y. (2018) SQI quality evaluation mechanism of single-lead ECG signal "
    "based on simple heuristic fusion and fuzzy comprehensive evaluation. Front Physiol 9:727",
    "Task Force of the ESC and NASPE (1996) Heart rate variability: standards of "
    "measurement, physiological interpretation and clinical use. Circulation 93:1043-1065",
)


def quality_filter(sampling_rate: float) -> np.ndarray:
    """The band-pass of :func:`ecg_quality_signal` at ``sampling_rate`` (second-order
    sections), designed once per rate; a fresh copy each call.

    Examples
    --------
    >>> quality_filter(500.0).shape
    (4, 6)
    """
    return _quality_filter(float(sampling_rate)).copy()


@functools.lru_cache(maxsize=8)
def _quality_filter(fs: float) -> np.ndarray:
    return sps.butter(QUALITY_FILTER_ORDER, [QUALITY_BAND_HZ[0], min(QUALITY_BAND_HZ[1],
                                                                     0.45 * fs)],
                      btype="bandpass", fs=fs, output="sos")


def ecg_quality_signal(signal: np.ndarray, sampling_rate: float) -> np.ndarray:
    """The ECG band-passed to :data:`QUALITY_BAND_HZ` (zero phase); NaN becomes 0.

    Examples
    --------
    >>> fs = 500.0
    >>> t = np.arange(0, 10, 1 / fs)
    >>> hum = ecg_quality_signal(0.3 * np.sin(2 * np.pi * 50 * t), fs)
    >>> bool(np.abs(hum[2000:-2000]).max() < 0.003)
    True
    """
    x = np.asarray(signal, dtype=np.float64)
    if not np.isfinite(x).all():  # a copy only when there is something to replace
        x = np.nan_to_num(x)
    return sosfiltfilt_lean(quality_filter(float(sampling_rate)), x)


def ecg_quality_input(signal: np.ndarray, sampling_rate: float) -> tuple[np.ndarray, float]:
    """The ECG the beats are compared on, and its rate: brought to at most
    :data:`QUALITY_RATE_HZ` (as for detection: an integer rate ratio by
    :func:`physio.ecg.ecg_clean.decimate_bspline`, any other by
    :func:`physio.ecg.ecg_clean.resample_to`), then band-passed (:func:`ecg_quality_signal`).

    NaN becomes 0 before the rate changes. An ECG at or below the rate is only band-passed.

    Examples
    --------
    >>> x, fs = ecg_quality_input(np.zeros(4000), 1000.0)
    >>> len(x), fs
    (1000, 250.0)
    >>> ecg_quality_input(np.zeros(100), 100.0)[1]
    100.0
    """
    fs = float(sampling_rate)
    if fs <= QUALITY_RATE_HZ:
        return ecg_quality_signal(signal, fs), fs
    x = np.asarray(signal, dtype=np.float64)
    if not np.isfinite(x).all():
        x = np.nan_to_num(x)
    factor = integer_factor(fs, QUALITY_RATE_HZ)
    x = decimate_bspline(x, factor) if factor else resample_to(x, fs, QUALITY_RATE_HZ)
    return ecg_quality_signal(x, QUALITY_RATE_HZ), QUALITY_RATE_HZ


def beat_template_corr(cleaned: np.ndarray, sampling_rate: float, peaks_s: np.ndarray, *,
                       span_s: tuple[float, float] = BEAT_WINDOW_S,
                       block_s: float = TEMPLATE_BLOCK_S) -> np.ndarray:
    """Pearson correlation of each beat with the median beat of its block.

    Parameters
    ----------
    cleaned : numpy.ndarray
        Band-passed ECG (:func:`ecg_quality_signal`) at ``sampling_rate``.
    sampling_rate : float
        Hz.
    peaks_s : numpy.ndarray
        R-peak times (s from the first sample).
    span_s : (float, float)
        Seconds before and after the peak that make up a beat.
    block_s : float
        Length of the blocks (from the first sample) that get one template each.

    Returns
    -------
    numpy.ndarray
        One correlation per beat; NaN for a beat too close to the ends of the signal or
        in a block with fewer than :data:`MIN_TEMPLATE_BEATS` beats.

    Examples
    --------
    >>> fs = 250.0
    >>> t = np.arange(int(60 * fs)) / fs
    >>> x = sum(np.exp(-0.5 * ((t - b) / 0.01) ** 2) for b in np.arange(1, 59, 0.8))
    >>> r = beat_template_corr(x, fs, np.arange(1, 59, 0.8))
    >>> bool(np.nanmin(r) > 0.99)
    True
    """
    x = np.asarray(cleaned, dtype=np.float64)
    fs = float(sampling_rate)
    idx = np.round(np.asarray(peaks_s, dtype=float) * fs).astype(np.int64)
    a, b = int(round(span_s[0] * fs)), int(round(span_s[1] * fs))
    out = np.full(len(idx), np.nan)
    inside = (idx - a >= 0) & (idx + b < len(x))
    block = np.floor(np.asarray(peaks_s, dtype=float) / block_s).astype(np.int64)
    offsets = np.arange(-a, b)
    for k in np.unique(block[inside]):
        sel = np.flatnonzero(inside & (block == k))
        if len(sel) < MIN_TEMPLATE_BEATS:
            continue
        seg = x[idx[sel, None] + offsets]
        seg = seg - seg.mean(axis=1, keepdims=True)
        tpl = np.median(seg, axis=0)
        tpl -= tpl.mean()
        norm = np.linalg.norm(seg, axis=1) * np.linalg.norm(tpl)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[sel] = np.where(norm > 0, seg @ tpl / norm, np.nan)
    return out


def lag_template_corr(cleaned: np.ndarray, sampling_rate: float, peaks_s: np.ndarray, *,
                      max_lag_s: float | None = None, span_s: tuple[float, float] =
                      QRS_WINDOW_S, block_s: float = TEMPLATE_BLOCK_S
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Correlation of each beat's QRS, shifted by every lag up to ``max_lag_s`` (default:
    the largest of :data:`TIMING_SEP_S`), with the median QRS of its block (aligned on the
    detected peaks).

    Returns
    -------
    lags_s : numpy.ndarray
        The lags (s), from ``-max_lag_s`` to ``max_lag_s``.
    corr : numpy.ndarray
        ``(n_beats, n_lags)``; NaN rows for beats too near the ends or in a block with
        fewer than :data:`MIN_TEMPLATE_BEATS` beats.

    Examples
    --------
    >>> fs = 250.0
    >>> t = np.arange(int(60 * fs)) / fs
    >>> x = sum(np.exp(-0.5 * ((t - b) / 0.01) ** 2) for b in np.arange(1, 59, 0.8))
    >>> lags, r = lag_template_corr(x, fs, np.arange(1, 59, 0.8))
    >>> float(lags[np.nanargmax(r[10])])
    0.0
    """
    x = np.asarray(cleaned, dtype=np.float64)
    fs = float(sampling_rate)
    t = np.asarray(peaks_s, dtype=float)
    idx = np.round(t * fs).astype(np.int64)
    max_lag_s = TIMING_SEP_S[1] if max_lag_s is None else max_lag_s
    a, b, m = (int(round(v * fs)) for v in (*span_s, max_lag_s))
    lags = np.arange(-m, m + 1)
    offsets = np.arange(-a, b)
    out = np.full((len(idx), len(lags)), np.nan)
    inside = (idx - a - m >= 0) & (idx + b + m < len(x))
    block = np.floor(t / block_s).astype(np.int64)
    for k in np.unique(block[inside]):
        sel = np.flatnonzero(inside & (block == k))
        if len(sel) < MIN_TEMPLATE_BEATS:
            continue
        seg = x[idx[sel, None, None] + lags[None, :, None] + offsets[None, None, :]]
        seg -= seg.mean(axis=2, keepdims=True)
        tpl = np.median(seg[:, m], axis=0)
        tpl -= tpl.mean()
        norm = np.linalg.norm(seg, axis=2) * np.linalg.norm(tpl)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[sel] = np.where(norm > 0, seg @ tpl / norm, np.nan)
    return lags / fs, out


def beat_timing_ambiguity(cleaned: np.ndarray, sampling_rate: float, peaks_s: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Which beats have an ambiguous R-peak time, and the separation of the two candidates.

    A beat is ambiguous when its QRS matches the template at a second alignment (a local
    maximum of :func:`lag_template_corr` :data:`TIMING_SEP_S` from the detected peak) at
    least :data:`TIMING_RATIO` times as well as within :data:`TIMING_OWN_S` of the peak,
    and at least :data:`BEAT_CORR_MIN`.

    Returns
    -------
    ambiguous : numpy.ndarray of bool
    separation_ms : numpy.ndarray
        Lag of the best second alignment (ms; NaN where the beat cannot be judged).

    Examples
    --------
    >>> fs = 250.0
    >>> t = np.arange(int(60 * fs)) / fs
    >>> p = np.arange(1, 59, 0.8)
    >>> x = sum(np.exp(-0.5 * ((t - b) / 0.01) ** 2) for b in p)
    >>> x += np.exp(-0.5 * ((t - p[20] - 0.064) / 0.01) ** 2)  # a copy 64 ms later
    >>> amb, sep = beat_timing_ambiguity(x, fs, p)
    >>> np.flatnonzero(amb).tolist(), float(sep[20])
    ([20], 64.0)
    """
    lags, r = lag_template_corr(cleaned, sampling_rate, peaks_s)
    with np.errstate(invalid="ignore"):
        own = np.max(np.where(np.abs(lags) <= TIMING_OWN_S, r, -np.inf), axis=1)
        peak = np.zeros(r.shape, dtype=bool)
        peak[:, 1:-1] = (r[:, 1:-1] >= r[:, :-2]) & (r[:, 1:-1] >= r[:, 2:])
        far = peak & (np.abs(lags) >= TIMING_SEP_S[0] - 1e-9)
        other = np.where(far, r, -np.inf)
        j = np.argmax(other, axis=1)
        second = other[np.arange(len(r)), j]
        ambiguous = (second >= TIMING_RATIO * own) & (second >= BEAT_CORR_MIN)
    judged = np.isfinite(own) & np.isfinite(second)
    sep = np.where(judged, np.abs(lags[j]) * 1000.0, np.nan)
    return ambiguous & judged, sep


def ecg_beat_quality(cleaned: np.ndarray, sampling_rate: float, peaks_s: np.ndarray,
                     beat_class: np.ndarray | None = None) -> pd.DataFrame:
    """Per-beat template correlations and the low-quality flag (the beats-table columns).

    Parameters
    ----------
    cleaned : numpy.ndarray
        Band-passed ECG (:func:`ecg_quality_signal`) at ``sampling_rate``.
    sampling_rate : float
        Hz.
    peaks_s : numpy.ndarray
        R-peak times (s from the first sample).
    beat_class : numpy.ndarray, optional
        ``BeatSeries.beat_class``; an ``ectopic`` beat is never flagged for its shape.

    Returns
    -------
    pandas.DataFrame
        ``template_corr`` (P to T wave), ``qrs_corr`` (QRS alone), ``low_quality`` (bool),
        ``timing_ambiguous`` (bool; never for a low-quality beat, which matches no
        heartbeat shape) and ``timing_sep_ms`` (:func:`beat_timing_ambiguity`).

    Examples
    --------
    >>> fs = 250.0
    >>> t = np.arange(int(60 * fs)) / fs
    >>> x = sum(np.exp(-0.5 * ((t - b) / 0.01) ** 2) for b in np.arange(1, 59, 0.8))
    >>> int(ecg_beat_quality(x, fs, np.arange(1, 59, 0.8))["low_quality"].sum())
    0
    """
    wide = beat_template_corr(cleaned, sampling_rate, peaks_s, span_s=BEAT_WINDOW_S)
    qrs = beat_template_corr(cleaned, sampling_rate, peaks_s, span_s=QRS_WINDOW_S)
    best = np.fmax(wide, qrs)
    explained = np.zeros(len(best), dtype=bool)
    if beat_class is not None:
        explained = np.asarray(beat_class, dtype=object) == "ectopic"
    low = (best < BEAT_CORR_MIN) & ~explained
    ambiguous, sep = beat_timing_ambiguity(cleaned, sampling_rate, peaks_s)
    ambiguous &= ~low  # a beat that matches no heartbeat shape is judged by that rule
    return pd.DataFrame({"template_corr": wide, "qrs_corr": qrs, "low_quality": low,
                         "timing_ambiguous": ambiguous, "timing_sep_ms": sep})


def ecg_window_quality(peaks_s: np.ndarray, beats: pd.DataFrame, start_s: float,
                       end_s: float) -> dict[str, object]:
    """Quality index, validity and reason of one ECG window.

    Parameters
    ----------
    peaks_s : numpy.ndarray
        R-peak times (s), on the same clock as ``start_s``/``end_s``.
    beats : pandas.DataFrame
        :func:`ecg_beat_quality` for those beats (same order).
    start_s, end_s : float
        The window.

    Returns
    -------
    dict
        ``ecg_quality`` (0-1, NaN without beats), ``ecg_valid`` (bool), ``ecg_reason``
        ('' when valid, else plain words), ``ecg_unmatched_share``.

    Examples
    --------
    >>> p = np.arange(0.5, 60, 0.8)
    >>> q = pd.DataFrame({"template_corr": 0.98, "qrs_corr": 0.99, "low_quality": False},
    ...                  index=range(len(p)))
    >>> ecg_window_quality(p, q, 0.0, 60.0)["ecg_valid"]
    True
    """
    t = np.asarray(peaks_s, dtype=float)
    m = (t >= start_s) & (t < end_s)
    corr = beats["template_corr"].to_numpy(dtype=float)[m]
    low = beats["low_quality"].to_numpy(dtype=bool)[m]
    quality = float(np.clip(np.nanmedian(corr), 0, 1)) if np.isfinite(corr).any() else np.nan
    unmatched = float(low.mean()) if len(low) else np.nan
    rr = np.diff(t[m])
    covered = float(rr[rr <= MAX_RR_S].sum()) / max(end_s - start_s, 1e-9)
    hr = 60.0 / float(np.median(rr)) if len(rr) else np.nan
    reason = window_reason(quality, unmatched, covered, hr)
    return {"ecg_quality": quality, "ecg_valid": reason == "", "ecg_reason": reason,
            "ecg_unmatched_share": unmatched}


def window_reason(quality: float, unmatched: float, covered: float, hr_bpm: float) -> str:
    """The first rule an ECG window fails, in plain words ('' when it passes all).

    Examples
    --------
    >>> window_reason(0.27, 0.9, 1.0, 140.0)[:38]
    'beats do not share a shape (median tem'
    >>> window_reason(0.98, 0.0, 1.0, 70.0)
    ''
    """
    if not np.isfinite(quality) or covered < MIN_COVERAGE:
        return (f"too few beats: {covered:.0%} of the window lies between beats "
                f"(< {MIN_COVERAGE:.0%})")
    if quality < WINDOW_CORR_MIN:
        return (f"beats do not share a shape (median template correlation {quality:.2f} "
                f"< {WINDOW_CORR_MIN}): no evidence of a heartbeat")
    if unmatched > MAX_UNMATCHED_SHARE:
        return (f"{unmatched:.0%} of detections match no heartbeat shape "
                f"(> {MAX_UNMATCHED_SHARE:.0%}): movement or noise taken for beats")
    if not HR_RANGE_BPM[0] <= hr_bpm <= HR_RANGE_BPM[1]:
        return (f"heart rate {hr_bpm:.0f} bpm outside {HR_RANGE_BPM[0]:g}-"
                f"{HR_RANGE_BPM[1]:g} bpm")
    return ""


def ecg_quality_methods() -> dict[str, object]:
    """Rules and thresholds in force, for the sidecar (read at call time).

    Examples
    --------
    >>> ecg_quality_methods()["window_corr_min"]
    0.66
    """
    return {
        "method": "QRS template correlation per beat (median beat of its block); window "
                  "quality = median correlation of its beats",
        "template_block_s": TEMPLATE_BLOCK_S, "beat_window_s": list(BEAT_WINDOW_S),
        "qrs_window_s": list(QRS_WINDOW_S), "quality_rate_hz": QUALITY_RATE_HZ,
        "quality_band_hz": list(QUALITY_BAND_HZ),
        "quality_filter_order": QUALITY_FILTER_ORDER, "window_corr_min": WINDOW_CORR_MIN,
        "beat_corr_min": BEAT_CORR_MIN, "max_unmatched_share": MAX_UNMATCHED_SHARE,
        "hr_range_bpm": list(HR_RANGE_BPM), "min_coverage": MIN_COVERAGE,
        "max_rr_s": MAX_RR_S, "min_template_beats": MIN_TEMPLATE_BEATS,
        "timing_ambiguity": {
            "rule": "a beat's R-peak time is ambiguous when its QRS (qrs_window_s) matches "
                    "its block's median QRS at a second alignment (a local maximum of the "
                    "correlation over lags) timing_sep_s away at least timing_ratio times "
                    "as well as within timing_own_s of the detected peak, and at least "
                    "beat_corr_min; the successive differences involving it are excluded "
                    "from RMSSD (counted in excluded_diff_pct) in every engine, never moved "
                    "(Task Force 1996: time-domain HRV needs R-peak times to a few ms)",
            "timing_sep_s": list(TIMING_SEP_S), "timing_own_s": TIMING_OWN_S,
            "timing_ratio": TIMING_RATIO},
        "citations": list(CITATIONS),
    }
