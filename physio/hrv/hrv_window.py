"""Heart rate and HRV for one time window of a :class:`physio.ecg.BeatSeries`, with validity.

Validity rules (every number is a module constant, reported by :func:`hrv_methods` to the
sidecar):

* **By events, not by beats.** RMSSD and SDNN use normal-to-normal (NN) intervals only: a
  successive difference is *excluded* when either of its intervals was flagged by the beat
  classification (ectopic, missed, extra) or crosses a gap. RMSSD/SDNN are valid when at least
  ``min_nn_pairs`` differences remain and at most ``max_excluded_diff_pct`` % (25 %) were
  excluded. One premature beat excludes 3 differences (the premature and the compensatory
  interval touch 3), so 25 % allows 5-6 isolated premature beats in a minute at 70 bpm. Why
  25 %: RMSSD then rests on >= 3/4 of the minute's differences, which widens its sampling
  error by at most 1/sqrt(0.75) = 1.15; and by measurement the excluded differences carry
  no bias: ``bench/bench_ecg_accuracy.py`` prints valid windows and the worst RMSSD error
  against annotated NN intervals (MIT-BIH 100/113/121, 60-s windows) for limits of 5-40 %:
  the worst error is the same 2.3 ms from 10 % to 40 %, while the valid windows of record
  100 go 22 (5 %), 27 (10-15 %), 28 (20 %), 30 (25 %). The old beat-count rule (5 %
  corrected) voided windows with two premature beats (100: 8 of 30 minutes).
* Mean HR uses all intervals (flagged ones interpolated) and stays valid up to
  ``max_corrected_hr_pct`` % flagged beats.
* **HF** needs a window of at least ``min_hf_window_s`` (120 s: >= 10 cycles of 0.15 Hz would
  be 67 s; Laborde et al. 2017 recommend >= 2 min for HF; Task Force 1996) and at least
  ``min_hf_beats`` intervals.
* Window lengths are compared with a tolerance of :data:`LENGTH_TOLERANCE_S` (1 ms), so a
  window cut at a non-integer marker time (59.99999... s long) is a full window.
* A window shorter than ``min_window_s`` (50 s: a partial last remainder of a phase) gets no
  HR/HRV value: it is not comparable with full minutes and the analysis leaves it out.
* Too little usable signal (gaps: ``min_coverage`` of the window must be covered by valid RR
  intervals) or too few beats makes everything NaN.

Every NaN comes with a human-readable reason; no value is ever filled in.

References
----------
Task Force of the European Society of Cardiology and the North American Society of Pacing and
Electrophysiology (1996). Heart rate variability: standards of measurement, physiological
interpretation and clinical use. Circulation, 93(5), 1043-1065.
Laborde, S., Mosley, E., & Thayer, J. F. (2017). Heart rate variability and cardiac vagal
tone in psychophysiological research. Frontiers in Psychology, 8, 213.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.interpolate import CubicSpline

from physio.ecg.ecg_beats import BeatSeries
from physio.scipy_signal import signal as sps

HF_BAND_HZ = (0.15, 0.40)
#: Rate at which the RR series is interpolated for the HF spectrum.
RR_RESAMPLE_HZ = 4.0
#: Welch segment length (s), overlap fraction and taper for the HF spectrum.
WELCH_SEGMENT_S = 120.0
WELCH_OVERLAP = 0.5
WELCH_WINDOW = "hann"

# Validity thresholds (see the module docstring). hrv_window reads them at call time, and
# hrv_methods() reports the same values to the sidecar.
#: Above this % of excluded successive differences RMSSD, SDNN and HF are NaN.
MAX_EXCLUDED_DIFF_PCT = 25.0
#: Fewest normal-to-normal successive differences for RMSSD and SDNN.
MIN_NN_PAIRS = 20
#: Above this % of flagged beats the mean HR is NaN too.
MAX_CORRECTED_HR_PCT = 20.0
#: Shortest window for HF (s): 2 min (Laborde et al. 2017; Task Force 1996).
MIN_HF_WINDOW_S = 120.0
#: Shortest window with HR/HRV values (s): a remainder shorter than this is partial.
MIN_WINDOW_S = 50.0
#: Window lengths are compared with this tolerance (s), one sample at 1000 Hz.
LENGTH_TOLERANCE_S = 1e-3
#: Least fraction of the window covered by valid RR intervals.
MIN_COVERAGE = 0.8
#: Fewest valid RR intervals for HR.
MIN_BEATS = 10
#: Fewest valid RR intervals for HF.
MIN_HF_BEATS = 40

KEYS = ("hr_bpm", "rmssd_ms", "sdnn_ms", "hf_ms2", "lnhf", "n_beats", "corrected_pct",
        "excluded_diff_pct", "ecg_valid", "ecg_reason", "hf_valid", "hf_reason")


def hf_power(times_s: np.ndarray, rr_ms: np.ndarray, start_s: float, end_s: float) -> float:
    """HF power (ms^2, 0.15-0.40 Hz) of an RR series in one window.

    The RR series (value at each beat time) is interpolated at 4 Hz with a cubic spline over
    the window, linearly detrended, and its power spectral density estimated with Welch's
    method (Hann window, segments of up to 120 s with 50 % overlap, i.e. a single Hann
    periodogram for windows up to 2 min); the PSD is integrated over the HF band.

    Chosen by measurement on RR series with a known 30 ms modulation (true power 450 ms^2,
    2-min windows, tests/test_hrv_window.py): cubic spline + Welch recovered 444-452 ms^2 at
    0.25 Hz and 425-442 at 0.35 Hz; linear interpolation lost a quarter to 40 % (342-348 and
    264-274 ms^2: it low-passes the series); Lomb-Scargle on the raw series gave 446-451 and
    444-450, about as good, but its PSD scaling is less standard. Cost: < 1 ms per window.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.cumsum(np.full(400, 0.8))
    >>> rr = 800 + 20 * np.sin(2 * np.pi * 0.25 * t)  # 20 ms at 0.25 Hz -> 200 ms^2
    >>> 150 < hf_power(t, rr, 10.0, 250.0) < 250
    True
    """
    grid = np.arange(start_s, end_s, 1.0 / RR_RESAMPLE_HZ)
    if len(grid) < 8 or len(times_s) < 2:
        return float("nan")
    if len(times_s) < 4:
        return float("nan")
    y = CubicSpline(times_s, rr_ms)(np.clip(grid, times_s[0], times_s[-1]))
    y = sps.detrend(y, type="linear")
    nper = min(len(y), int(WELCH_SEGMENT_S * RR_RESAMPLE_HZ))
    f, pxx = sps.welch(y, fs=RR_RESAMPLE_HZ, window=WELCH_WINDOW, nperseg=nper,
                       noverlap=int(nper * WELCH_OVERLAP), detrend=False, scaling="density")
    band = (f >= HF_BAND_HZ[0]) & (f <= HF_BAND_HZ[1])
    if band.sum() < 2:
        return float("nan")
    return float(np.trapezoid(pxx[band], f[band]))


def hrv_methods() -> dict[str, Any]:
    """The HRV method and validity thresholds in force, for the JSON sidecar.

    Read from this module's constants at call time, the same ones :func:`hrv_window` and
    :func:`hf_power` use, so the sidecar cannot drift from the computation.

    Examples
    --------
    >>> m = hrv_methods()
    >>> m["validity"]["max_excluded_diff_pct"], m["hf"]["interpolation_hz"]
    (25.0, 4.0)
    """
    return {
        "time_domain": "mean HR = 60000 / mean RR (flagged intervals interpolated); RMSSD over "
                       "successive differences of two normal-to-normal intervals; SDNN "
                       "(ddof=1) over normal-to-normal intervals",
        "hf": {
            "band_hz": list(HF_BAND_HZ),
            "interpolation": "cubic spline",
            "interpolation_hz": RR_RESAMPLE_HZ,
            "detrend": "linear",
            "psd": "welch",
            "welch_window": WELCH_WINDOW,
            "welch_segment_s": WELCH_SEGMENT_S,
            "welch_overlap": WELCH_OVERLAP,
            "lnhf": "natural log of HF power (ms^2)",
        },
        "validity": {
            "rule": (f"RMSSD/SDNN/HF valid when >= {MIN_NN_PAIRS} normal-to-normal successive "
                     f"differences remain and <= {MAX_EXCLUDED_DIFF_PCT:g} % of the window's "
                     "successive differences are excluded (flagged interval or gap); HR valid "
                     f"up to {MAX_CORRECTED_HR_PCT:g} % flagged beats; HF needs a window of "
                     f">= {MIN_HF_WINDOW_S:g} s; no value for a window shorter than "
                     f"{MIN_WINDOW_S:g} s (partial remainder); lengths compared within "
                     f"{LENGTH_TOLERANCE_S * 1000:g} ms"),
            "max_excluded_diff_pct": MAX_EXCLUDED_DIFF_PCT,
            "min_nn_pairs": MIN_NN_PAIRS,
            "max_corrected_hr_pct": MAX_CORRECTED_HR_PCT,
            "min_coverage": MIN_COVERAGE,
            "min_beats": MIN_BEATS,
            "min_hf_beats": MIN_HF_BEATS,
            "min_hf_window_s": MIN_HF_WINDOW_S,
            "min_window_s": MIN_WINDOW_S,
            "length_tolerance_s": LENGTH_TOLERANCE_S,
            "partial_windows": (f"a phase's last remainder shorter than the nominal window is "
                                f"flagged partial and left out of the analysis; below "
                                f"{MIN_WINDOW_S:g} s it has no HR/HRV value (NaN, reason given)"),
            "reference": "Task Force of the ESC and NASPE (1996), Circulation 93(5); Laborde, "
                         "Mosley & Thayer (2017), Front Psychol 8:213",
        },
    }


def _coverage(beats: BeatSeries, rr_t: np.ndarray, rr: np.ndarray, start_s: float,
              end_s: float) -> float:
    """Fraction of the window covered by valid RR intervals and outside bad segments."""
    dur = end_s - start_s
    if dur <= 0:
        return 0.0
    lo = np.maximum(rr_t - rr / 1000.0, start_s)
    hi = np.minimum(rr_t, end_s)
    covered = float(np.clip(hi - lo, 0, None).sum())
    bad = 0.0
    for a, b in beats.bad_segments_s:
        bad += max(0.0, min(b, end_s) - max(a, start_s))
    return max(0.0, min(covered, dur - bad)) / dur


def hrv_window(beats: BeatSeries, start_s: float, end_s: float, *,
               max_excluded_diff_pct: float | None = None,
               min_nn_pairs: int | None = None, max_corrected_pct: float | None = None,
               max_corrected_hr_pct: float | None = None,
               min_hf_window_s: float | None = None, min_window_s: float | None = None,
               min_coverage: float | None = None,
               min_beats: int | None = None, min_hf_beats: int | None = None,
               rmssd_exclude_corrected: bool = True) -> dict[str, Any]:
    """Mean HR, RMSSD, SDNN, HF and ln HF of the beats in ``[start_s, end_s)``, with validity.

    Parameters
    ----------
    beats : BeatSeries
        From :func:`physio.ecg.ecg_beats` (times on the same clock as the window).
    start_s, end_s : float
        Window bounds (s). A beat belongs to the window when its time is in
        ``[start_s, end_s)``; its RR interval is the one ending at it.
    max_excluded_diff_pct : float, optional
        Above this percentage of excluded successive differences RMSSD, SDNN and HF are NaN
        (default ``MAX_EXCLUDED_DIFF_PCT``, 20).
    min_nn_pairs : int, optional
        Fewest normal-to-normal successive differences (``MIN_NN_PAIRS``, 20).
    max_corrected_pct : float, optional
        An extra, beat-count rule (the one before issue 10): RMSSD, SDNN and HF are also NaN
        above this percentage of flagged beats. Not applied by default.
    max_corrected_hr_pct : float, optional
        Above this percentage of flagged beats the mean HR is NaN too
        (``MAX_CORRECTED_HR_PCT``, 20).
    min_hf_window_s : float, optional
        Shortest window for HF (``MIN_HF_WINDOW_S``, 120 s).
    min_window_s : float, optional
        Shortest window with any HR/HRV value (``MIN_WINDOW_S``, 50 s).
    min_coverage : float, optional
        Least fraction of the window covered by valid RR intervals (``MIN_COVERAGE``, 0.8).
    min_beats : int, optional
        Fewest valid RR intervals for HR (``MIN_BEATS``, 10).
    min_hf_beats : int, optional
        Fewest valid RR intervals for HF (``MIN_HF_BEATS``, 40).
    rmssd_exclude_corrected : bool
        Drop successive differences that touch a flagged interval (the NN definition) instead
        of using the interpolated intervals.

    Returns
    -------
    dict
        Keys ``hr_bpm, rmssd_ms, sdnn_ms, hf_ms2, lnhf, n_beats, corrected_pct,
        excluded_diff_pct, ecg_valid, ecg_reason, hf_valid, hf_reason`` (see
        ``conditions.bids.WINDOWS_COLUMNS``). ``ecg_valid`` is True only when HR, RMSSD and
        SDNN are all valid; ``ecg_reason`` says which values are NaN and why.

    Examples
    --------
    >>> import numpy as np
    >>> from physio.ecg import BeatSeries
    >>> t = np.cumsum(np.full(200, 0.75))
    >>> rr = np.r_[np.nan, np.diff(t) * 1000]
    >>> b = BeatSeries(t, rr, np.zeros(200, bool), [], {})
    >>> out = hrv_window(b, 10.0, 70.0)
    >>> round(out["hr_bpm"]), out["ecg_valid"], out["hf_reason"]
    (80, True, 'window shorter than 120 s (60 s; Laborde et al. 2017, Task Force 1996)')
    """
    # defaults resolved at call time: the module constants are what hrv_methods() reports
    max_excl = MAX_EXCLUDED_DIFF_PCT if max_excluded_diff_pct is None else max_excluded_diff_pct
    min_nn_pairs = MIN_NN_PAIRS if min_nn_pairs is None else min_nn_pairs
    max_corrected_hr_pct = (MAX_CORRECTED_HR_PCT if max_corrected_hr_pct is None
                            else max_corrected_hr_pct)
    min_hf_window_s = MIN_HF_WINDOW_S if min_hf_window_s is None else min_hf_window_s
    min_window_s = MIN_WINDOW_S if min_window_s is None else min_window_s
    min_coverage = MIN_COVERAGE if min_coverage is None else min_coverage
    min_beats = MIN_BEATS if min_beats is None else min_beats
    min_hf_beats = MIN_HF_BEATS if min_hf_beats is None else min_hf_beats
    tol = LENGTH_TOLERANCE_S
    nan = float("nan")
    out: dict[str, Any] = {"hr_bpm": nan, "rmssd_ms": nan, "sdnn_ms": nan, "hf_ms2": nan,
                           "lnhf": nan, "n_beats": 0, "corrected_pct": nan,
                           "excluded_diff_pct": nan, "ecg_valid": False, "ecg_reason": "",
                           "hf_valid": False, "hf_reason": ""}
    dur = float(end_s) - float(start_s)
    if not np.isfinite(dur) or dur <= 0:
        out["ecg_reason"] = out["hf_reason"] = f"empty window [{start_s}, {end_s})"
        return out
    t = np.asarray(beats.peaks_s, dtype=np.float64)
    lo, hi = np.searchsorted(t, [start_s, end_s], side="left")
    tw = t[lo:hi]
    rr = np.asarray(beats.rr_ms, dtype=np.float64)[lo:hi]
    corr = np.asarray(beats.corrected, dtype=bool)[lo:hi]
    n = len(tw)
    out["n_beats"] = int(n)
    if n == 0:
        out["ecg_reason"] = out["hf_reason"] = "no beats in window"
        return out
    cpct = 100.0 * float(corr.sum()) / n
    out["corrected_pct"] = cpct
    # successive differences of the window's beats: excluded when an interval is flagged
    # or missing (the first beat after a gap)
    d = np.diff(rr)
    bad_d = ~np.isfinite(d)
    if rmssd_exclude_corrected:
        bad_d |= corr[1:] | corr[:-1]
    if lo == 0 and len(d):  # the recording's first beat has no interval: nothing excluded
        d, bad_d = d[1:], bad_d[1:]
    n_d = len(d)
    epct = 100.0 * float(bad_d.sum()) / n_d if n_d else nan
    out["excluded_diff_pct"] = epct
    if dur < min_window_s - tol:
        out["ecg_reason"] = out["hf_reason"] = (
            f"window {dur:.1f} s shorter than {min_window_s:g} s (partial remainder of a "
            "phase; left out of the analysis)")
        return out
    ok = np.isfinite(rr)
    cov = _coverage(beats, tw[ok], rr[ok], start_s, end_s)
    if ok.sum() < min_beats:
        out["ecg_reason"] = out["hf_reason"] = (
            f"too few beats: {int(ok.sum())} valid RR intervals < {min_beats}")
        return out
    if cov < min_coverage:
        out["ecg_reason"] = out["hf_reason"] = (
            f"too little usable signal: {100 * cov:.0f}% of window covered < "
            f"{100 * min_coverage:.0f}% (missing/flat/clipped stretches or gaps)")
        return out
    if cpct > max_corrected_hr_pct:
        out["ecg_reason"] = out["hf_reason"] = (
            f"{cpct:.1f}% flagged beats > {max_corrected_hr_pct:g}% (HR, HRV)")
        return out
    out["hr_bpm"] = float(60000.0 / np.mean(rr[ok]))
    n_nn = int(n_d - bad_d.sum())
    if max_corrected_pct is not None and cpct > max_corrected_pct:
        out["ecg_reason"] = out["hf_reason"] = (
            f"RMSSD/SDNN/HF not computed: {cpct:.1f}% flagged beats > {max_corrected_pct:g}%; "
            "HR kept")
        return out
    if n_nn < min_nn_pairs or epct > max_excl:
        why = (f"{epct:.1f}% of successive differences excluded > {max_excl:g}%"
               if epct > max_excl else
               f"too few normal-to-normal successive differences: {n_nn} < {min_nn_pairs}")
        reason = f"RMSSD/SDNN/HF not computed: {why} (ectopic/artefact/gap); HR kept"
        out["ecg_reason"] = out["hf_reason"] = reason
        return out
    dd = d[~bad_d]
    out["rmssd_ms"] = float(np.sqrt(np.mean(dd * dd)))
    nn = ok & ~corr if rmssd_exclude_corrected else ok
    out["sdnn_ms"] = float(np.std(rr[nn], ddof=1))
    out["ecg_valid"] = True
    if dur < min_hf_window_s - tol:
        out["hf_reason"] = (f"window shorter than {min_hf_window_s:g} s ({dur:.0f} s; "
                            "Laborde et al. 2017, Task Force 1996)")
        return out
    if ok.sum() < min_hf_beats:
        out["hf_reason"] = f"too few beats for HF: {int(ok.sum())} < {min_hf_beats}"
        return out
    hf = hf_power(tw[ok], rr[ok], start_s, end_s)
    if not np.isfinite(hf) or hf <= 0:
        out["hf_reason"] = "HF power could not be estimated"
        return out
    out["hf_ms2"] = hf
    out["lnhf"] = float(np.log(hf))
    out["hf_valid"] = True
    return out
