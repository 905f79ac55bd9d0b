"""R-peak detection: adaptive-threshold QRS detector with searchback and T-wave rejection.

The detector follows Pan & Tompkins (1985) and Hamilton & Tompkins (1986) -- squared slope,
150 ms moving-window integration, signal/noise peak levels, a 200 ms refractory period, a
searchback for missed beats at 1.66 x the running RR, and T-wave rejection by slope within
360 ms of a beat -- run on a 250 Hz copy of the signal so that the cost does not depend on the
recording's rate. Each detection is then placed on the local extreme of the original-rate,
polarity-corrected, cleaned ECG (see :func:`physio.ecg.ecg_polarity.ecg_polarity`).

On the shared MIT-BIH records this is more accurate than every neurokit2 detector tried as
a single method (``docs/ecg-hrv.md``, section 8).

References
----------
Pan, J., & Tompkins, W. J. (1985). A real-time QRS detection algorithm. IEEE Transactions on
Biomedical Engineering, 32(3), 230-236.
Hamilton, P. S., & Tompkins, W. J. (1986). Quantitative investigation of QRS detection rules
using the MIT/BIH arrhythmia database. IEEE Transactions on Biomedical Engineering, 33(12),
1157-1165.
"""

from __future__ import annotations

import numpy as np
from scipy import signal as sps
from scipy.ndimage import median_filter, uniform_filter1d

#: Physiological refractory period: no two QRS complexes closer than 200 ms (Pan & Tompkins).
REFRACTORY_S = 0.2
#: A candidate within this time of the previous beat may be a T wave (Pan & Tompkins).
T_WAVE_WINDOW_S = 0.36
#: ... and is taken as a T wave when its maximum slope is below this fraction of the beat's.
T_WAVE_SLOPE_RATIO = 0.5
#: A beat followed within the T-wave window by a candidate this many times steeper was a P wave.
P_WAVE_SLOPE_RATIO = 1.5
P_WAVE_HEIGHT_RATIO = 1.5
#: A detection whose integrated squared slope is below this fraction of the median of the
#: LOCAL_BEATS beats on either side is noise, not a QRS (:func:`drop_isolated_small`):
#: 2 % of the energy is 14 % of the slope, far below any conducted or ectopic QRS.
ISOLATED_SMALL_FRACTION = 0.02
LOCAL_BEATS = 8
#: A beat raises the running QRS level as if it were at most this multiple of that level.
#: Hamilton & Tompkins (1986) found outlier-robust (median) levels better than means for
#: the same reason: where PVCs carry many times the energy of the normal beats (MIT-BIH
#: 106, V1), an uncapped level lifts the threshold above the normal beats that follow and
#: misses them (``docs/ecg-hrv.md``, section 8).
SPK_CAP = 2.0
#: With no beat for this long (s) the signal level is re-learnt from the recent candidates.
RELEARN_S = 2.5
#: Searchback for a missed beat when no beat was found for this multiple of the running RR.
SEARCHBACK_RR = 1.66


def qrs_feature(qrs_band: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Squared slope integrated over 150 ms (centred, so no lag), and the absolute slope."""
    slope = np.abs(np.gradient(qrs_band))
    width = max(int(round(0.15 * fs)), 1)
    return uniform_filter1d(slope * slope, width, mode="nearest"), slope


def detect_qrs(qrs_band: np.ndarray, fs: float, *,
               feature: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Indices (at ``fs``) of QRS complexes in a QRS-band signal.

    Parameters
    ----------
    qrs_band : numpy.ndarray
        Output of :func:`physio.ecg.ecg_clean.ecg_detection_signal`.
    fs : float
        Its sampling rate.
    feature : (numpy.ndarray, numpy.ndarray), optional
        ``qrs_feature(qrs_band, fs)`` when the caller has it already (it is not recomputed).

    Returns
    -------
    numpy.ndarray
        Sorted integer indices of detected QRS complexes (feature maxima).

    Examples
    --------
    >>> import numpy as np
    >>> from physio.ecg.ecg_clean import ecg_detection_signal
    >>> fs = 500.0
    >>> t = np.arange(int(30 * fs)) / fs
    >>> ecg = sum(np.exp(-0.5 * ((t - b) / 0.01) ** 2) for b in np.arange(0.5, 30, 0.8))
    >>> band, fs_d = ecg_detection_signal(ecg, fs)
    >>> idx = detect_qrs(band, fs_d)
    >>> len(idx), (idx[:3] / fs_d).tolist()
    (37, [0.5, 1.3, 2.1])
    >>> bool(np.array_equal(idx, detect_qrs(band, fs_d, feature=qrs_feature(band, fs_d))))
    True
    """
    feat, slope = qrs_feature(qrs_band, fs) if feature is None else feature
    if len(feat) < 3 or not np.any(feat > 0):
        return np.zeros(0, dtype=np.int64)
    cand, _ = sps.find_peaks(feat, distance=int(round(REFRACTORY_S * fs)))
    if len(cand) == 0:
        return np.zeros(0, dtype=np.int64)
    beats = threshold_qrs(cand, feat, candidate_slopes(cand, slope, fs), fs)
    return drop_isolated_small(beats, feat)


def candidate_slopes(cand: np.ndarray, slope: np.ndarray, fs: float) -> np.ndarray:
    """The steepest slope within +-75 ms of each candidate.

    The same as ``maximum_filter1d(slope, 2 * half + 1, mode="nearest")[cand]``, computed
    at the candidates only.

    Examples
    --------
    >>> candidate_slopes(np.array([1, 50]), np.arange(100.0), 100.0).tolist()
    [9.0, 58.0]
    """
    half = max(int(round(0.075 * fs)), 1)
    around = np.clip(cand[:, None] + np.arange(-half, half + 1), 0, len(slope) - 1)
    return slope[around].max(axis=1)


def initial_levels(cand: np.ndarray, feat: np.ndarray, fs: float) -> tuple[float, float]:
    """Signal and noise peak levels learnt from the candidates of the first 8 s.

    Examples
    --------
    >>> initial_levels(np.arange(6), np.array([1.0, 2, 3, 4, 5, 6]), 1.0)
    (5.0, 1.75)
    """
    top = np.sort(feat[cand[cand < cand[0] + int(8 * fs)]])
    return float(np.median(top[-max(3, len(top) // 3):])), float(np.median(top)) * 0.5


def threshold_qrs(cand: np.ndarray, feat: np.ndarray, cand_slope: np.ndarray, fs: float
                  ) -> np.ndarray:
    """Pan-Tompkins adaptive thresholds over the candidates: the accepted QRS indices.

    ``cand`` are the feature's local maxima at least the refractory period apart,
    ``cand_slope`` their :func:`candidate_slopes`. The signal and noise levels start from
    the first 8 s (:func:`initial_levels`); a candidate above the threshold is a beat
    unless it is a T wave (within :data:`T_WAVE_WINDOW_S` of a beat and less steep); a
    steeper or taller candidate right after a beat replaces it (that "beat" was a P wave);
    with no beat for
    :data:`SEARCHBACK_RR` x the running RR the best rejected candidate is taken
    (:func:`searchback_pick`); with none for :data:`RELEARN_S` the levels are re-learnt.
    """
    refr = int(round(REFRACTORY_S * fs))
    spk, npk = initial_levels(cand, feat, fs)
    # the loop keeps its state in local variables and runs on Python lists: the same IEEE
    # doubles as numpy's scalars (identical results) without the cost of indexing numpy
    # arrays one by one
    heights = feat[cand].tolist()
    slopes = cand_slope.tolist()
    cand = cand.tolist()
    beats: list[int] = []
    beat_slope: list[float] = []
    beat_height: list[float] = []
    rr_hist: list[int] = []
    pending: list[int] = []  # candidate numbers rejected since the last beat
    t_win = int(round(T_WAVE_WINDOW_S * fs))
    relearn = int(round(RELEARN_S * fs))

    def accept(k: int, weight: float) -> None:
        nonlocal spk
        idx = cand[k]
        if beats:
            rr_hist.append(idx - beats[-1])
            if len(rr_hist) > 8:
                rr_hist.pop(0)
        beats.append(idx)
        beat_slope.append(slopes[k])
        beat_height.append(heights[k])
        # a beat counts at most SPK_CAP x the current level: one huge ectopic complex must
        # not lift the threshold above the normal beats that follow it
        spk = weight * min(heights[k], SPK_CAP * spk) + (1 - weight) * spk

    for k in range(len(cand)):
        i = cand[k]
        h = heights[k]
        # searchback: a beat was probably missed between the last beat and this candidate
        if beats and rr_hist and pending and (
                i - beats[-1] > SEARCHBACK_RR * (sum(rr_hist) / len(rr_hist))):
            best = searchback_pick(pending, cand, heights, slopes, i, beats[-1],
                                   beat_slope[-1], 0.5 * (npk + 0.25 * (spk - npk)), refr,
                                   t_win)
            if best is not None:
                accept(best, 0.25)
            pending = [j for j in pending if cand[j] > beats[-1] + refr]
        # relearn: nothing accepted for RELEARN_S (the signal level dropped, e.g. a lead was
        # re-attached, or a huge artefact inflated the initial level): restart the signal
        # level from the largest recent candidate instead of waiting forever
        since = i - (beats[-1] if beats else cand[0])
        if since > relearn and h <= npk + 0.25 * (spk - npk):
            spk = max([heights[j] for j in pending if i - cand[j] <= relearn] + [h])
            npk = min(npk, 0.25 * spk)
        if h > npk + 0.25 * (spk - npk):
            near = bool(beats) and i - beats[-1] < t_win
            if near and slopes[k] < T_WAVE_SLOPE_RATIO * beat_slope[-1]:
                npk = 0.125 * h + 0.875 * npk
                pending.append(k)
                continue
            if beats and i - beats[-1] < refr:
                continue
            if near and (slopes[k] > P_WAVE_SLOPE_RATIO * beat_slope[-1]
                         or h > P_WAVE_HEIGHT_RATIO * beat_height[-1]):
                # the previous "beat" was a P wave (or a noise spike) before this QRS
                del beats[-1], beat_slope[-1], beat_height[-1], rr_hist[-1:]
            accept(k, 0.125)
            pending = []
        else:
            npk = 0.125 * h + 0.875 * npk
            pending.append(k)
    return np.asarray(beats, dtype=np.int64)


def searchback_pick(pending: list[int], cand: list[int], heights: list[float],
                    slopes: list[float], now: int, last_beat: int, last_slope: float,
                    threshold: float, refr: int, t_win: int) -> int | None:
    """The rejected candidate to take as a missed beat, or None.

    The tallest candidate since ``last_beat`` that is not a T wave (Pan & Tompkins apply
    the T-wave test to searchback beats too: the T wave before a sinus pause must not
    become a beat), when it clears ``threshold`` (half the first threshold) and is a
    refractory period away from both ``last_beat`` and the candidate at ``now``.

    Examples
    --------
    >>> searchback_pick([0, 1], [300, 500], [2.0, 5.0], [1.0, 1.0], 800, 100, 1.0,
    ...                 1.0, 50, 90)
    1
    """
    qrs_like = [j for j in pending if cand[j] - last_beat >= t_win
                or slopes[j] >= T_WAVE_SLOPE_RATIO * last_slope]
    if not qrs_like:
        return None
    best = max(qrs_like, key=lambda j: heights[j])
    if heights[best] > threshold and cand[best] - last_beat > refr and now - cand[best] > refr:
        return best
    return None


def drop_isolated_small(beats: np.ndarray, feat: np.ndarray) -> np.ndarray:
    """Drop "beats" with under :data:`ISOLATED_SMALL_FRACTION` of their neighbours' energy.

    Such a beat is noise picked up after the detector relearnt its level in a long pause;
    after a gain drop the following beats are small too, so the local median (over
    :data:`LOCAL_BEATS` beats on either side) follows them and they are kept.

    Examples
    --------
    >>> feat = np.ones(100); feat[50] = 0.001
    >>> drop_isolated_small(np.arange(10, 100, 10), feat).tolist()
    [10, 20, 30, 40, 60, 70, 80, 90]
    """
    if len(beats) < 3 or ISOLATED_SMALL_FRACTION <= 0:
        return beats
    h = feat[beats]
    local = median_filter(h, size=2 * LOCAL_BEATS + 1, mode="nearest")
    return beats[h >= ISOLATED_SMALL_FRACTION * local]
