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
  error by at most 1/sqrt(0.75) = 1.15, and the excluded differences carry no measurable
  bias (``bench/bench_ecg_accuracy.py`` prints the sensitivity to this limit on annotated
  MIT-BIH records; ``docs/ecg-hrv.md``, section 4, quotes it). A beat-count rule (a few %
  corrected beats) voided windows with two premature beats.
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

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import signal as sps
from scipy.interpolate import CubicSpline

from physio.ecg.ecg_beats import BeatSeries

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

    Chosen by measurement on RR series with a known modulation, against linear
    interpolation (which low-passes the series and loses HF power) and Lomb-Scargle (about
    as accurate, with a less standard PSD scaling); ``docs/ecg-hrv.md``, section 4, gives
    the figures.

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


@dataclass(frozen=True)
class HrvLimits:
    """The validity thresholds one :func:`hrv_window` call applies (see the module docstring).

    Build it with :func:`hrv_limits`, which fills every threshold not given from the module
    constants at call time.
    """

    max_excluded_diff_pct: float
    min_nn_pairs: int
    max_corrected_pct: float | None
    max_corrected_hr_pct: float
    min_hf_window_s: float
    min_window_s: float
    min_coverage: float
    min_beats: int
    min_hf_beats: int


def hrv_limits(*, max_excluded_diff_pct: float | None = None, min_nn_pairs: int | None = None,
               max_corrected_pct: float | None = None,
               max_corrected_hr_pct: float | None = None,
               min_hf_window_s: float | None = None, min_window_s: float | None = None,
               min_coverage: float | None = None, min_beats: int | None = None,
               min_hf_beats: int | None = None) -> HrvLimits:
    """The thresholds given, the module constants for the rest (read now, not at import).

    ``max_corrected_pct`` has no constant: ``None`` leaves that extra rule off.

    Examples
    --------
    >>> lim = hrv_limits(min_beats=5)
    >>> lim.min_beats, lim.max_excluded_diff_pct == MAX_EXCLUDED_DIFF_PCT
    (5, True)
    """
    def pick(value, default):
        return default if value is None else value

    return HrvLimits(
        max_excluded_diff_pct=pick(max_excluded_diff_pct, MAX_EXCLUDED_DIFF_PCT),
        min_nn_pairs=pick(min_nn_pairs, MIN_NN_PAIRS),
        max_corrected_pct=max_corrected_pct,
        max_corrected_hr_pct=pick(max_corrected_hr_pct, MAX_CORRECTED_HR_PCT),
        min_hf_window_s=pick(min_hf_window_s, MIN_HF_WINDOW_S),
        min_window_s=pick(min_window_s, MIN_WINDOW_S),
        min_coverage=pick(min_coverage, MIN_COVERAGE),
        min_beats=pick(min_beats, MIN_BEATS),
        min_hf_beats=pick(min_hf_beats, MIN_HF_BEATS))


@dataclass(frozen=True)
class WindowBeats:
    """The beats of one window and their successive differences (see :func:`window_beats`).

    ``times_s``, ``rr_ms`` and ``corrected`` are per beat; ``valid`` marks a finite RR
    interval; ``diffs_ms`` are the successive differences and ``excluded`` marks those left
    out of RMSSD (a flagged or missing interval).
    """

    times_s: np.ndarray
    rr_ms: np.ndarray
    corrected: np.ndarray
    valid: np.ndarray
    diffs_ms: np.ndarray
    excluded: np.ndarray

    @property
    def corrected_pct(self) -> float:
        """Percentage of the window's beats whose interval is flagged."""
        return 100.0 * float(self.corrected.sum()) / len(self.times_s)

    @property
    def excluded_pct(self) -> float:
        """Percentage of successive differences excluded (NaN without any difference)."""
        n_d = len(self.diffs_ms)
        return 100.0 * float(self.excluded.sum()) / n_d if n_d else float("nan")


def window_beats(beats: BeatSeries, start_s: float, end_s: float, *,
                 exclude_corrected: bool = True,
                 uncertain: np.ndarray | None = None) -> WindowBeats:
    """The beats in ``[start_s, end_s)`` and which of their successive differences count.

    A difference is excluded when one of its intervals is missing (the first beat after a
    gap) or, with ``exclude_corrected``, flagged, or when it ends or starts at a beat whose
    time is ``uncertain`` (one flag per beat of ``beats``; the three differences that
    involve such a beat are excluded, the beat and its intervals are kept as they are). The
    recording's first beat has no interval; its difference is dropped, not counted as
    excluded.

    Examples
    --------
    >>> from physio.ecg import BeatSeries
    >>> t = np.arange(1.0, 11.0)
    >>> rr = np.r_[np.nan, np.full(9, 1000.0)]
    >>> corr = np.zeros(10, bool); corr[5] = True
    >>> w = window_beats(BeatSeries(t, rr, corr, [], {}), 0.0, 20.0)
    >>> len(w.times_s), len(w.diffs_ms), int(w.excluded.sum())
    (10, 8, 2)
    >>> unsure = np.zeros(10, bool); unsure[3] = True
    >>> int(window_beats(BeatSeries(t, rr, corr * 0, [], {}), 0.0, 20.0,
    ...                  uncertain=unsure).excluded.sum())
    3
    """
    t = np.asarray(beats.peaks_s, dtype=np.float64)
    lo, hi = np.searchsorted(t, [start_s, end_s], side="left")
    rr = np.asarray(beats.rr_ms, dtype=np.float64)[lo:hi]
    corr = np.asarray(beats.corrected, dtype=bool)[lo:hi]
    d = np.diff(rr)
    bad_d = ~np.isfinite(d)
    if exclude_corrected:
        bad_d |= corr[1:] | corr[:-1]
    if uncertain is not None:  # an interval is uncertain when either of its beats is
        u = np.asarray(uncertain, dtype=bool)
        before = np.r_[False, u][lo:hi]  # each beat's predecessor (none for the first)
        iv = u[lo:hi] | before
        bad_d |= iv[1:] | iv[:-1]
    if lo == 0 and len(d):  # the recording's first beat has no interval: nothing excluded
        d, bad_d = d[1:], bad_d[1:]
    return WindowBeats(t[lo:hi], rr, corr, np.isfinite(rr), d, bad_d)


def hr_invalid_reason(beats: BeatSeries, w: WindowBeats, start_s: float, end_s: float,
                      limits: HrvLimits) -> str:
    """Why the window has no HR (and so no HRV) value; '' when HR is valid.

    In order: a partial window (shorter than ``min_window_s``), too few valid intervals,
    too little of the window covered by them, too many flagged beats.
    """
    dur = float(end_s) - float(start_s)
    if dur < limits.min_window_s - LENGTH_TOLERANCE_S:
        return (f"window {dur:.1f} s shorter than {limits.min_window_s:g} s (partial "
                "remainder of a phase; left out of the analysis)")
    ok = w.valid
    cov = _coverage(beats, w.times_s[ok], w.rr_ms[ok], start_s, end_s)
    if ok.sum() < limits.min_beats:
        return f"too few beats: {int(ok.sum())} valid RR intervals < {limits.min_beats}"
    if cov < limits.min_coverage:
        return (f"too little usable signal: {100 * cov:.0f}% of window covered < "
                f"{100 * limits.min_coverage:.0f}% (missing/flat/clipped stretches or gaps)")
    cpct = w.corrected_pct
    if cpct > limits.max_corrected_hr_pct:
        return f"{cpct:.1f}% flagged beats > {limits.max_corrected_hr_pct:g}% (HR, HRV)"
    return ""


def hrv_invalid_reason(w: WindowBeats, limits: HrvLimits) -> str:
    """Why RMSSD, SDNN and HF are not computed (HR kept); '' when they are."""
    cpct, epct = w.corrected_pct, w.excluded_pct
    n_nn = int(len(w.diffs_ms) - w.excluded.sum())
    if limits.max_corrected_pct is not None and cpct > limits.max_corrected_pct:
        return (f"RMSSD/SDNN/HF not computed: {cpct:.1f}% flagged beats > "
                f"{limits.max_corrected_pct:g}%; HR kept")
    max_excl = limits.max_excluded_diff_pct
    if n_nn < limits.min_nn_pairs or epct > max_excl:
        why = (f"{epct:.1f}% of successive differences excluded > {max_excl:g}%"
               if epct > max_excl else
               f"too few normal-to-normal successive differences: {n_nn} < "
               f"{limits.min_nn_pairs}")
        return f"RMSSD/SDNN/HF not computed: {why} (ectopic/artefact/gap); HR kept"
    return ""


def mean_hr_bpm(w: WindowBeats) -> float:
    """Mean HR: 60000 / mean of every valid interval (flagged ones interpolated)."""
    return float(60000.0 / np.mean(w.rr_ms[w.valid]))


def rmssd_sdnn(w: WindowBeats, *, exclude_corrected: bool = True) -> dict[str, float]:
    """RMSSD over the kept successive differences and SDNN over the NN intervals.

    Examples
    --------
    >>> from physio.ecg import BeatSeries
    >>> t = np.cumsum(np.tile([0.8, 0.9], 20))
    >>> w = window_beats(BeatSeries(t, np.r_[np.nan, np.diff(t) * 1000], np.zeros(40, bool)),
    ...                  0.0, 100.0)
    >>> {k: round(v) for k, v in rmssd_sdnn(w).items()}
    {'rmssd_ms': 100, 'sdnn_ms': 51}
    """
    dd = w.diffs_ms[~w.excluded]
    nn = w.valid & ~w.corrected if exclude_corrected else w.valid
    return {"rmssd_ms": float(np.sqrt(np.mean(dd * dd))),
            "sdnn_ms": float(np.std(w.rr_ms[nn], ddof=1))}


def hf_values(w: WindowBeats, start_s: float, end_s: float, limits: HrvLimits
              ) -> dict[str, Any]:
    """``hf_ms2``, ``lnhf``, ``hf_valid`` and ``hf_reason`` of a window whose HRV is valid."""
    nan = float("nan")
    dur = float(end_s) - float(start_s)
    out: dict[str, Any] = {"hf_ms2": nan, "lnhf": nan, "hf_valid": False, "hf_reason": ""}
    ok = w.valid
    if dur < limits.min_hf_window_s - LENGTH_TOLERANCE_S:
        out["hf_reason"] = (f"window shorter than {limits.min_hf_window_s:g} s ({dur:.0f} s; "
                            "Laborde et al. 2017, Task Force 1996)")
    elif ok.sum() < limits.min_hf_beats:
        out["hf_reason"] = f"too few beats for HF: {int(ok.sum())} < {limits.min_hf_beats}"
    else:
        hf = hf_power(w.times_s[ok], w.rr_ms[ok], start_s, end_s)
        if not np.isfinite(hf) or hf <= 0:
            out["hf_reason"] = "HF power could not be estimated"
        else:
            out.update(hf_ms2=hf, lnhf=float(np.log(hf)), hf_valid=True)
    return out


def hrv_window(beats: BeatSeries, start_s: float, end_s: float, *,
               max_excluded_diff_pct: float | None = None,
               min_nn_pairs: int | None = None, max_corrected_pct: float | None = None,
               max_corrected_hr_pct: float | None = None,
               min_hf_window_s: float | None = None, min_window_s: float | None = None,
               min_coverage: float | None = None, min_beats: int | None = None,
               min_hf_beats: int | None = None, rmssd_exclude_corrected: bool = True,
               uncertain: np.ndarray | None = None) -> dict[str, Any]:
    """Mean HR, RMSSD, SDNN, HF and ln HF of the beats in ``[start_s, end_s)``, with validity.

    Steps: :func:`window_beats` -> :func:`hr_invalid_reason` -> :func:`mean_hr_bpm` ->
    :func:`hrv_invalid_reason` -> :func:`rmssd_sdnn` -> :func:`hf_values`. A beat belongs
    to the window when its time is in ``[start_s, end_s)``; its RR interval is the one
    ending at it.

    Parameters
    ----------
    beats : BeatSeries
        From :func:`physio.ecg.ecg_beats` (times on the same clock as the window).
    start_s, end_s : float
        Window bounds (s).
    max_excluded_diff_pct, min_nn_pairs, max_corrected_hr_pct, min_hf_window_s, \
min_window_s, min_coverage, min_beats, min_hf_beats : optional
        Override the module constants of the same name in capitals (defaults: 25 %, 20
        differences, 20 %, 120 s, 50 s, 0.8, 10 and 40 intervals); see :class:`HrvLimits`.
    max_corrected_pct : float, optional
        An extra, beat-count rule: RMSSD, SDNN and HF are also NaN above this percentage of
        flagged beats. Not applied by default.
    rmssd_exclude_corrected : bool
        Drop successive differences that touch a flagged interval (the NN definition).
    uncertain : numpy.ndarray, optional
        Per beat: R-peak time ambiguous; its differences are excluded (:func:`window_beats`).

    Returns
    -------
    dict
        The keys :data:`KEYS` (see ``conditions.bids.WINDOWS_COLUMNS``). ``ecg_valid`` is
        True only when HR, RMSSD and SDNN are all valid; ``ecg_reason`` says which values
        are NaN and why.

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
    limits = hrv_limits(
        max_excluded_diff_pct=max_excluded_diff_pct, min_nn_pairs=min_nn_pairs,
        max_corrected_pct=max_corrected_pct, max_corrected_hr_pct=max_corrected_hr_pct,
        min_hf_window_s=min_hf_window_s, min_window_s=min_window_s,
        min_coverage=min_coverage, min_beats=min_beats, min_hf_beats=min_hf_beats)
    nan = float("nan")
    out: dict[str, Any] = {"hr_bpm": nan, "rmssd_ms": nan, "sdnn_ms": nan, "hf_ms2": nan,
                           "lnhf": nan, "n_beats": 0, "corrected_pct": nan,
                           "excluded_diff_pct": nan, "ecg_valid": False, "ecg_reason": "",
                           "hf_valid": False, "hf_reason": ""}
    dur = float(end_s) - float(start_s)
    if not np.isfinite(dur) or dur <= 0:
        return {**out, "ecg_reason": f"empty window [{start_s}, {end_s})",
                "hf_reason": f"empty window [{start_s}, {end_s})"}
    w = window_beats(beats, start_s, end_s, exclude_corrected=rmssd_exclude_corrected,
                     uncertain=uncertain)
    out["n_beats"] = len(w.times_s)
    if not len(w.times_s):
        return {**out, "ecg_reason": "no beats in window", "hf_reason": "no beats in window"}
    out.update(corrected_pct=w.corrected_pct, excluded_diff_pct=w.excluded_pct)
    reason = hr_invalid_reason(beats, w, start_s, end_s, limits)
    if not reason:
        out["hr_bpm"] = mean_hr_bpm(w)
        reason = hrv_invalid_reason(w, limits)
    if reason:
        return {**out, "ecg_reason": reason, "hf_reason": reason}
    out.update(rmssd_sdnn(w, exclude_corrected=rmssd_exclude_corrected), ecg_valid=True)
    out.update(hf_values(w, start_s, end_s, limits))
    return out
