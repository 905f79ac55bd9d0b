"""Skin conductance responses: trough-to-peak detection with an amplitude threshold."""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfiltfilt

#: Minimum SCR amplitude (µS), measured on the 1 Hz-smoothed signal that finds the response.
#: Boucsein et al. (2012, Psychophysiology 49:1017, SPR recommendations) allow 0.01-0.05 µS
#: provided the criterion is above the noise; on the shared lab recording 0.01 µS counted
#: noise as responses. 0.05 µS is the upper end of the recommended range and clears that
#: noise (``docs/respiration-eda.md``, "SCR amplitude criterion", gives the figures).
DEFAULT_SCR_MIN_AMPLITUDE_US = 0.05
#: Onset-finding smoother: a 1 Hz low-pass removes the wiggles that would split one SCR
#: into several rises while keeping its 1-3 s rise (Boucsein, 2012, ch. 2.3).
SCR_SMOOTH_HZ = 1.0
#: Rises shorter than this are noise or artefacts, not SCRs (typical rise 1-3 s).
SCR_MIN_RISE_S = 0.3
#: Rises longer than this are tonic drifts, not SCRs.
SCR_MAX_RISE_S = 6.0


def eda_scr(
    clean: np.ndarray,
    sampling_rate: float,
    *,
    amplitude_min: float = DEFAULT_SCR_MIN_AMPLITUDE_US,
) -> dict[str, np.ndarray]:
    """Detect SCRs in a cleaned EDA signal (µS) by the trough-to-peak method.

    Each rise of the (1 Hz smoothed) signal from a local minimum (onset) to the next
    local maximum (peak) is an SCR when its amplitude, measured on that same smoothed
    signal, is at least ``amplitude_min`` and its rise time is plausible. Measuring on the
    signal that found the rise means noise above 1 Hz can neither create nor inflate a
    response. NaN stretches end any rise.

    Returns
    -------
    dict
        ``onset_idx``, ``peak_idx``, ``recovery_idx`` (int sample indices into ``clean``;
        recovery is the first trough after the peak or the return to the onset level)
        and ``amp_us``.

    Examples
    --------
    >>> fs = 25.0
    >>> t = np.arange(0, 60, 1 / fs)
    >>> bump = np.where(t > 20, (t - 20) * np.exp(-(t - 20) / 1.5), 0)
    >>> scr = eda_scr(5 + 0.2 * bump, fs)
    >>> len(scr["peak_idx"]), round(float(t[scr["peak_idx"][0]]), 0)
    (1, 21.0)
    """
    x = np.asarray(clean, dtype=np.float64)
    empty = {"onset_idx": np.zeros(0, dtype=np.int64), "peak_idx": np.zeros(0, dtype=np.int64),
             "recovery_idx": np.zeros(0, dtype=np.int64), "amp_us": np.zeros(0)}
    finite = np.isfinite(x)
    if finite.sum() < 10:
        return empty
    filled, smooth = scr_smooth(x, finite, sampling_rate)
    onsets, peaks = rising_runs(smooth)
    if len(onsets) == 0:
        return empty
    # amplitude on the same smoothed signal that found the rise (peak minus onset)
    amp = smooth[peaks] - smooth[onsets]
    rise_s = (peaks - onsets) / sampling_rate
    ok = (amp >= amplitude_min) & (rise_s >= SCR_MIN_RISE_S) & (rise_s <= SCR_MAX_RISE_S)
    # a rise touching signal loss is not a response
    if not finite.all():
        bad_cum = np.r_[0, np.cumsum(~finite)]
        ok &= (bad_cum[peaks + 1] - bad_cum[onsets]) == 0
    on_ok, pk_ok = onsets[ok], peaks[ok]
    return {
        "onset_idx": on_ok.astype(np.int64),
        "peak_idx": pk_ok.astype(np.int64),
        "recovery_idx": scr_recovery(filled, onsets, on_ok, pk_ok).astype(np.int64),
        "amp_us": amp[ok],
    }


def scr_smooth(x: np.ndarray, finite: np.ndarray, sampling_rate: float
               ) -> tuple[np.ndarray, np.ndarray]:
    """(gaps filled, then :data:`SCR_SMOOTH_HZ` low-passed): the signals SCRs are found on.

    NaN samples are filled by linear interpolation; a signal too short to filter (or a
    rate too low for the smoother) is returned unsmoothed.

    Examples
    --------
    >>> x = np.r_[np.zeros(50), np.nan, np.ones(49)]
    >>> filled, smooth = scr_smooth(x, np.isfinite(x), 25.0)
    >>> float(filled[50]), bool(0 < smooth[50] < 1)
    (0.5, True)
    """
    idx = np.arange(len(x))
    filled = np.interp(idx, idx[finite], x[finite]) if not finite.all() else x
    smooth = filled
    if len(x) > 30 and SCR_SMOOTH_HZ < 0.45 * sampling_rate:
        sos = butter(2, SCR_SMOOTH_HZ, btype="lowpass", fs=sampling_rate, output="sos")
        smooth = sosfiltfilt(sos, filled)
    return filled, smooth


def rising_runs(smooth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(onsets, peaks): first and last sample of every rising run of ``smooth``, paired.

    Examples
    --------
    >>> on, pk = rising_runs(np.array([3.0, 1, 2, 4, 3, 5, 6]))
    >>> on.tolist(), pk.tolist()
    ([1, 4], [3, 6])
    """
    d = np.diff(smooth)
    rising = d > 0
    edges = np.diff(rising.astype(np.int8))
    onsets = np.flatnonzero(edges == 1) + 1
    peaks = np.flatnonzero(edges == -1) + 1  # the last sample of the run (+1 in x)
    if rising[0]:
        onsets = np.r_[0, onsets]
    if rising[-1]:
        peaks = np.r_[peaks, len(d)]
    n = min(len(onsets), len(peaks))
    return onsets[:n], peaks[:n]


def scr_recovery(filled: np.ndarray, onsets: np.ndarray, scr_onsets: np.ndarray,
                 scr_peaks: np.ndarray) -> np.ndarray:
    """Where each response has decayed: the first trough after its peak (the next rise of
    any size, from ``onsets``) or, before it, the return to the onset level.

    Examples
    --------
    >>> x = np.array([0.0, 1, 2, 1, 0, 1, 0])
    >>> scr_recovery(x, np.array([0, 4]), np.array([0]), np.array([2])).tolist()
    [4]
    """
    nxt = np.searchsorted(onsets, scr_peaks, side="left")
    recovery = np.where(nxt < len(onsets), onsets[np.minimum(nxt, len(onsets) - 1)],
                        len(filled) - 1)
    for k in range(len(scr_onsets)):
        seg = filled[scr_peaks[k] : recovery[k]]
        back = np.flatnonzero(seg <= filled[scr_onsets[k]])
        if len(back):
            recovery[k] = scr_peaks[k] + back[0]
    return recovery
