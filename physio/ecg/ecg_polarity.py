"""ECG polarity: is the dominant QRS deflection negative (inverted leads or an rS lead)?"""

from __future__ import annotations

import numpy as np

#: Half-width of the window in which a beat is placed on its R peak.
REFINE_HALF_WINDOW_S = 0.05
#: Half-width of the window searched around a detection for the R peak (QRS lasts < 120 ms).
PEAK_HALF_WINDOW_S = 0.075


def beat_windows(n_samples: int, idx: np.ndarray, half: int) -> np.ndarray:
    """A (beats x (2*half+1)) array of sample indices around each beat, clipped to the signal."""
    offs = np.arange(-half, half + 1)
    return np.clip(np.asarray(idx, dtype=np.int64)[:, None] + offs[None, :], 0, n_samples - 1)


def ecg_polarity(cleaned: np.ndarray, peaks: np.ndarray, sampling_rate: float) -> bool:
    """True when the recording's dominant QRS deflection is negative.

    Compares the median positive and the median negative extreme of the cleaned ECG within
    +-75 ms of each detected beat. The decision is made once per recording, so every beat is
    placed on the same fiducial point (which keeps successive differences, hence RMSSD,
    free of fiducial jumps); flipping the signal flips the decision, so an inverted recording
    yields the same beat times.

    Parameters
    ----------
    cleaned : numpy.ndarray
        Output of :func:`physio.ecg.ecg_clean.ecg_clean`.
    peaks : numpy.ndarray
        Approximate beat indices at the same rate.
    sampling_rate : float
        Hz.

    Returns
    -------
    bool

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros(1000); x[[200, 500, 800]] = -1.0
    >>> ecg_polarity(x, np.array([200, 500, 800]), 1000.0)
    True
    """
    if len(peaks) == 0:
        return False
    half = max(int(round(PEAK_HALF_WINDOW_S * sampling_rate)), 1)
    seg = cleaned[beat_windows(len(cleaned), peaks, half)]
    base = np.median(seg, axis=1, keepdims=True)
    pos = np.median(np.max(seg - base, axis=1))
    neg = np.median(-np.min(seg - base, axis=1))
    return bool(neg > pos)


def refine_peaks(cleaned: np.ndarray, approx: np.ndarray, sampling_rate: float,
                 inverted: bool) -> np.ndarray:
    """Place each beat on the local extreme (+-75 ms) of the polarity-corrected cleaned ECG.

    Sub-sample precision comes from a 3-point parabolic fit around the extreme, which matters
    at low sampling rates (at 100 Hz a sample is 10 ms, far more than RMSSD tolerates).

    Returns
    -------
    numpy.ndarray
        Fractional sample positions (float), sorted.
    """
    if len(approx) == 0:
        return np.zeros(0)
    x = -cleaned if inverted else cleaned
    half = max(int(round(REFINE_HALF_WINDOW_S * sampling_rate)), 1)
    win = beat_windows(len(x), approx, half)
    seg = x[win]
    k = np.argmax(seg, axis=1)
    # a maximum on the window edge is the flank of a P or T wave, not this beat's R peak
    # (mixed morphologies, e.g. a negative ectopic QRS in an upright lead): take the largest
    # absolute deflection instead
    edge = (k == 0) | (k == seg.shape[1] - 1)
    if edge.any():
        sub = seg[edge]
        k[edge] = np.argmax(np.abs(sub - np.median(sub, axis=1, keepdims=True)), axis=1)
    idx = win[np.arange(len(win)), k]
    left = x[np.clip(idx - 1, 0, len(x) - 1)]
    mid = x[idx]
    right = x[np.clip(idx + 1, 0, len(x) - 1)]
    denom = left - 2 * mid + right
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.where(denom < 0, 0.5 * (left - right) / denom, 0.0)
    delta = np.clip(np.nan_to_num(delta), -0.5, 0.5)
    return np.sort(idx + delta)
