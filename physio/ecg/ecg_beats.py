"""From a raw ECG to a corrected beat series: clean -> detect -> polarity -> place -> correct."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from physio.ecg.ecg_clean import (
    DETECTION_RATE_HZ,
    DETECTION_RESAMPLING,
    ecg_clean,
    ecg_detection_signal,
)
from physio.ecg.ecg_fixpeaks import ecg_fixpeaks
from physio.ecg.ecg_peaks import detect_qrs, qrs_feature
from physio.ecg.ecg_polarity import ecg_polarity, refine_peaks
from physio.ecg.ecg_segments import ecg_no_qrs, ecg_unusable, merge_segments
from physio.errors import SignalQualityError

#: Lowest accepted sampling rate: below 100 Hz the R peak cannot be placed well enough for HRV.
MIN_RATE_HZ = 100.0
#: Shortest ECG worth processing (a few beats plus the 8 s threshold initialisation).
MIN_DURATION_S = 5.0
#: No beat for longer than this (s) is signal loss, not rhythm: the RR series is broken there
#: and nothing is interpolated across it. Sinus pauses of 2-3.5 s and 2:1 AV block at 40 bpm
#: (RR 1.5 s) are rhythm and stay in the series; a heart that stops for 5 s is asystole, for
#: which a per-minute HRV value has no meaning.
MAX_GAP_S = 5.0
#: Rounds of extra/missed-beat correction (Kubios iterates until stable; 3 is always enough here).
CORRECTION_ROUNDS = 3

#: Searchback inside a "missed beat" interval accepts a QRS whose integrated squared slope is
#: at least this fraction of the recording's median beat (Pan-Tompkins' second threshold is
#: half of the first, itself a fraction of the running signal level).
RECOVER_FRACTION = 0.3

#: A Lipponen-Tarvainen "longshort" interval is flagged only when it is *short* by at least
#: this fraction of the running median RR: a premature beat without a compensatory pause
#: (premature beats come 20-45 % early). A *long* one is rhythm and kept: on MIT-BIH 113
#: (sinus arrhythmia) every long "longshort" interval ended an annotated normal beat, and
#: slow breathing produces exactly such swings.
PREMATURE_FRACTION = 0.15

#: A single interval shorter by at least this fraction than *both* intervals around it (a
#: couplet: each of two intervals by twice it) is premature beats whatever
#: Lipponen-Tarvainen say: their thresholds scale with the
#: spread of the successive differences, so where premature beats are frequent (bigeminy,
#: couplets; MIT-BIH 106, 223) they flag almost none of them. Sinus rhythm changes smoothly
#: from beat to beat, so a one-beat dip of 20 % against both neighbours is not respiration:
#: on the sinus records 100, 113 and 121 no annotated normal beat has one (113's sinus
#: arrhythmia reaches it at 15 %; ``bench/bench_ecg_accuracy.py`` prints the sensitivity).
PREMATURE_RUN_FRACTION = 0.2
#: Longest run of premature intervals the rule above looks for (a couplet).
MAX_PREMATURE_RUN = 2

#: A Lipponen-Tarvainen "missed" interval with no QRS on a second look is flagged only when it
#: spans two beats: it equals the sum of the intervals before and after it within this
#: fraction. Heart rhythm is locally smooth, so the two hidden intervals resemble their
#: neighbours (MIT-BIH 121's undetectable beat: 1630 ms vs 797 + 801 ms, 2 %); a respiratory
#: swing does not (113: 1353 ms vs 772 + 1237 ms, 48 %), nor does a pause of 2-3.5 s in a 1-s
#: rhythm (>= 29 % unless it is exactly a dropped beat, which is then rightly left out of NN).
MISSED_SUM_TOLERANCE = 0.2

#: beat_class values (conditions.bids.BEATS_COLUMNS)
NORMAL, ECTOPIC, MISSED, EXTRA, REMOVED = "normal", "ectopic", "missed", "extra", "removed"

CITATIONS = [
    "Pan & Tompkins (1985) IEEE TBME 32(3):230-236",
    "Hamilton & Tompkins (1986) IEEE TBME 33(12):1157-1165",
    "Lipponen & Tarvainen (2019) J Med Eng Technol 43(3):173-181",
]

#: Plain-words rules for the sidecar (the same text as docs/ecg-hrv.md).
SEGMENT_RULE = (
    "Only unusable signal removes beats or breaks the RR series: missing samples (NaN), a "
    "flat raw signal (every 0.2-s range < 0.5 % of the typical 2-s range for >= 1 s: a "
    "disconnected lead), clipping (flat at the recording's extreme), or no QRS-band energy "
    "for >= 5 s; also no detected beat for > 5 s. A pause, AV block or long RR interval is "
    "rhythm and stays in the series. The RR intervals across a gap are excluded (NaN), never "
    "filled; every beat removed is listed with beat_class 'removed' and its reason.")
CORRECTION_RULE = (
    "Lipponen & Tarvainen (2019) classification; flagged (corrected=True, RR interpolated for "
    "HR/HF, excluded from RMSSD/SDNN) are only: the premature interval and the compensatory "
    "interval of an ectopic beat (when the premature one is >= 15 % shorter than the running "
    "11-beat median), both intervals of an extra beat, a premature interval without "
    "compensatory pause (>= 15 % short) and the interval that starts at that beat, and a "
    "missed-beat interval that equals the sum of its two neighbours within 20 %; and, "
    "whatever the classification, an interval >= 20 % shorter than both intervals around "
    "it, or two in a row each >= 40 % shorter (premature beats, couplets), and the interval "
    "after them. A "
    "missed-beat interval is first searched again for a QRS at a lower threshold; a beat "
    "found there is added at its true time; any other long "
    "interval (pause, block, respiratory swing) is rhythm and kept. No neighbour is flagged "
    "for being a neighbour; no detected beat is moved or deleted.")


def _correction_parameters() -> dict[str, Any]:
    """The Lipponen-Tarvainen constants in force (read at call time, for the sidecar)."""
    # the module, not the same-named function that physio.ecg re-exports
    m = sys.modules[ecg_fixpeaks.__module__]
    return {"c1": m.C1, "c2": m.C2, "alpha": m.ALPHA, "window_beats": m.WINDOW_BEATS,
            "medfilt_beats": m.MEDFILT_BEATS,
            "min_threshold_fraction_of_median_rr": m.MIN_THRESHOLD_FRACTION,
            "rounds": CORRECTION_ROUNDS, "premature_fraction": PREMATURE_FRACTION,
            "missed_sum_tolerance": MISSED_SUM_TOLERANCE,
            "recover_fraction": RECOVER_FRACTION}


def _segment_parameters() -> dict[str, Any]:
    m = sys.modules[ecg_unusable.__module__]
    return {"block_s": m.BLOCK_S, "flat_fraction": m.FLAT_FRACTION,
            "reference_s": m.REFERENCE_S, "min_flat_s": m.MIN_FLAT_S,
            "no_qrs_min_s": m.NO_QRS_MIN_S, "max_gap_s": MAX_GAP_S}


@dataclass
class BeatSeries:
    """Heartbeats of one ECG channel.

    Attributes
    ----------
    peaks_s : numpy.ndarray
        R-peak times in seconds from the channel's first sample (the caller adds offsets).
        Every beat is a detected QRS at its true time (none is moved or invented).
    rr_ms : numpy.ndarray
        RR interval ending at each beat: NaN for the first beat and for the first beat after
        a gap; interpolated for a ``corrected`` beat, so not always ``diff(peaks_s)``.
    corrected : numpy.ndarray
        Bool per beat: its RR interval is not normal-to-normal and was interpolated.
    bad_segments_s : list of (float, float)
        Unusable stretches (s): missing, flat, clipped, no QRS, no beats.
    info : dict
        Methods, parameters, rules, ``polarity_inverted``, ``n_corrected``,
        ``sampling_rate``, ``bad_segment_kinds``, ``citations``.
    beat_class : numpy.ndarray, optional
        Per beat: ``normal``, ``ectopic``, ``missed`` or ``extra`` (default: ``ectopic`` where
        corrected, else ``normal``).
    reason : numpy.ndarray, optional
        Per beat: why it was flagged ('' for a normal beat).
    removed_s : numpy.ndarray
        Times of detections removed because they lay in unusable signal.
    removed_reason : numpy.ndarray
        Why each was removed.
    """

    peaks_s: np.ndarray
    rr_ms: np.ndarray
    corrected: np.ndarray
    bad_segments_s: list[tuple[float, float]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    beat_class: np.ndarray | None = None
    reason: np.ndarray | None = None
    removed_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    removed_reason: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))

    def __post_init__(self) -> None:
        n = len(self.peaks_s)
        if self.beat_class is None:
            self.beat_class = np.where(np.asarray(self.corrected, bool), ECTOPIC,
                                       NORMAL).astype(object)
        if self.reason is None:
            self.reason = np.where(np.asarray(self.corrected, bool), "corrected",
                                   "").astype(object)
        if len(self.beat_class) != n or len(self.reason) != n:
            raise ValueError("beat_class and reason need one entry per beat")

    def subset(self, keep: np.ndarray, offset_s: float,
               core_s: tuple[float, float]) -> dict[str, np.ndarray]:
        """Labels of the kept beats and the removed beats in ``core_s`` (after adding
        ``offset_s``): one chunk's share for :meth:`join_labels` (chunked processing)."""
        gone = np.asarray(self.removed_s, dtype=float) + offset_s
        inside = (gone >= core_s[0]) & (gone < core_s[1])
        return {"beat_class": np.asarray(self.beat_class, dtype=object)[keep],
                "reason": np.asarray(self.reason, dtype=object)[keep],
                "removed_s": gone[inside],
                "removed_reason": np.asarray(self.removed_reason, dtype=object)[inside]}

    @staticmethod
    def join_labels(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """Concatenate :meth:`subset` outputs into ``BeatSeries`` keyword arguments.

        Examples
        --------
        >>> import numpy as np
        >>> b = BeatSeries(np.array([1.0, 2.0, 3.0]), np.full(3, 800.0), np.zeros(3, bool))
        >>> parts = [b.subset(np.array([True, True, False]), 0.0, (0.0, 2.5)),
        ...          b.subset(np.array([False, False, True]), 0.0, (2.5, 5.0))]
        >>> BeatSeries.join_labels(parts)["beat_class"].tolist()
        ['normal', 'normal', 'normal']
        """
        if not parts:
            return {}
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def table(self, offset_s: float = 0.0) -> pd.DataFrame:
        """The beats table (``conditions.bids.BEATS_COLUMNS``), removed beats included.

        Examples
        --------
        >>> import numpy as np
        >>> b = BeatSeries(np.array([1.0, 2.0]), np.array([np.nan, 1000.0]),
        ...                np.zeros(2, bool), removed_s=np.array([5.0]),
        ...                removed_reason=np.array(["flat signal 4.0-9.0 s"], dtype=object))
        >>> b.table(10.0)[["r_peak_s", "beat_class"]].values.tolist()
        [[11.0, 'normal'], [12.0, 'normal'], [15.0, 'removed']]
        """
        kept = pd.DataFrame({
            "r_peak_s": np.asarray(self.peaks_s, dtype=float) + offset_s,
            "rr_ms": np.asarray(self.rr_ms, dtype=float),
            "corrected": np.asarray(self.corrected, dtype=bool),
            "beat_class": np.asarray(self.beat_class, dtype=object),
            "reason": np.asarray(self.reason, dtype=object),
        })
        if len(self.removed_s) == 0:
            return kept
        gone = pd.DataFrame({
            "r_peak_s": np.asarray(self.removed_s, dtype=float) + offset_s,
            "rr_ms": np.nan, "corrected": False, "beat_class": REMOVED,
            "reason": np.asarray(self.removed_reason, dtype=object),
        })
        out = pd.concat([kept, gone], ignore_index=True)
        return out.sort_values("r_peak_s", kind="stable", ignore_index=True)


def _check_input(signal: Any, sampling_rate: Any) -> tuple[np.ndarray, float]:
    try:
        fs = float(sampling_rate)
    except (TypeError, ValueError):
        raise SignalQualityError(
            f"ECG: sampling_rate must be a number in Hz, got {sampling_rate!r}") from None
    if not np.isfinite(fs) or fs < MIN_RATE_HZ:
        raise SignalQualityError(
            f"ECG: sampling_rate {fs} Hz is below the {MIN_RATE_HZ:.0f} Hz minimum for R-peak "
            "timing")
    try:
        x = np.asarray(signal, dtype=np.float64)
    except (TypeError, ValueError):
        raise SignalQualityError("ECG: signal must be a 1-D array of numbers") from None
    if x.ndim != 1:
        if x.ndim == 2 and 1 in x.shape:
            x = x.ravel()
        else:
            raise SignalQualityError(f"ECG: signal must be 1-D, got shape {x.shape}")
    if len(x) < MIN_DURATION_S * fs:
        raise SignalQualityError(
            f"ECG: {len(x)} samples ({len(x) / fs:.2f} s) is shorter than the "
            f"{MIN_DURATION_S:.0f} s minimum")
    finite = np.isfinite(x)
    if finite.sum() < MIN_DURATION_S * fs:
        raise SignalQualityError(
            f"ECG: only {finite.sum()} finite samples (NaN/inf elsewhere); at least "
            f"{MIN_DURATION_S:.0f} s of signal expected")
    return x, fs


def _bridge(x: np.ndarray, segs: list[tuple[int, int, str]]) -> np.ndarray:
    """Replace unusable samples by a straight line between the usable samples around them."""
    if not segs:
        return x
    bad = np.zeros(len(x), dtype=bool)
    for a, b, _ in segs:
        bad[a:b] = True
    if bad.all():
        return np.zeros_like(x)
    x = x.copy()
    x[bad] = np.interp(np.flatnonzero(bad), np.flatnonzero(~bad), x[~bad])
    return x


def _pair_flags(rr: np.ndarray, cls: dict[str, np.ndarray], klass: np.ndarray,
                reason: np.ndarray) -> None:
    """Flag the intervals Lipponen & Tarvainen classify (beat-indexed ``rr``, in place).

    ``cls`` masks are over ``diff(times)``: mask index ``i`` is the interval ending at beat
    ``i + 1``. Only the classified intervals and the other half of the same event are flagged:

    * ectopic: the classifier marks the interval where the NPN (or PNP) pattern of successive
      differences peaks. When that interval grew (a compensatory pause) the premature interval
      is the one before it; when it shrank (premature) the compensatory one is the one after.
      Both are flagged when the premature one is >= PREMATURE_FRACTION short of the median.
    * extra: the split interval's two halves (the second ends the beat after the extra one).
    * longshort: a short one (>= PREMATURE_FRACTION below the running median) and the
      interval that starts at its (premature) beat, which is not normal-to-normal either.
    * missed: only when the interval spans two beats (:data:`MISSED_SUM_TOLERANCE`).
    """
    last = len(rr) - 1

    def mark(j: np.ndarray, kind: str, why: str) -> None:
        j = j[(j >= 1) & (j <= last)]
        j = j[klass[j] == NORMAL]  # the first class given wins
        klass[j] = kind
        reason[j] = why

    med = np.r_[np.nan, 1000.0 * cls["medrr"]]
    j = np.flatnonzero(cls["ectopic"]) + 1
    grew = rr[j] - rr[j - 1] > 0
    # confirmed only when the premature interval is premature (>= PREMATURE_FRACTION short of
    # the running median): after a real ectopic beat the classifier also fires on the next,
    # normal, interval because it follows the long compensatory pause (MIT-BIH 100, 1565 s:
    # 786 613 917 [782 854] ms, all annotated normal but 613)
    prem = np.where(grew, j - 1, j)
    prem_ok = (prem >= 1) & (prem <= last)
    prem_ok[prem_ok] = rr[prem[prem_ok]] < (1.0 - PREMATURE_FRACTION) * med[prem[prem_ok]]
    j, grew = j[prem_ok], grew[prem_ok]
    mark(np.r_[j[grew], j[~grew] + 1], ECTOPIC,
         "compensatory interval after an ectopic beat (Lipponen-Tarvainen)")
    mark(np.r_[j[grew] - 1, j[~grew]], ECTOPIC,
         "premature interval of an ectopic beat (Lipponen-Tarvainen)")
    j = np.flatnonzero(cls["extra"]) + 1
    mark(j, EXTRA, "extra beat: short interval whose sum with the next is one RR "
                   "(Lipponen-Tarvainen)")
    mark(j + 1, EXTRA, "interval after an extra beat (Lipponen-Tarvainen)")
    j = np.flatnonzero(cls["missed"]) + 1
    j = j[(j >= 2) & (j < last)]
    spans_two = np.abs(rr[j] - rr[j - 1] - rr[j + 1]) <= MISSED_SUM_TOLERANCE * rr[j]
    mark(j[spans_two], MISSED, "interval spans two beats: a QRS was not detected (Lipponen-"
                               "Tarvainen missed; equals the sum of its neighbours)")
    j = np.flatnonzero(cls["longshort"]) + 1
    short = rr[j] < (1.0 - PREMATURE_FRACTION) * med[j]
    mark(j[short], ECTOPIC, "premature interval without compensatory pause "
                            "(Lipponen-Tarvainen short beat)")
    # the interval that starts at that premature beat is not normal-to-normal either
    mark(j[short] + 1, ECTOPIC, "interval after a premature beat (not normal-to-normal)")
    premature, after = premature_runs(rr)
    mark(np.flatnonzero(premature), ECTOPIC,
         f"premature interval: >= {PREMATURE_RUN_FRACTION:.0%} shorter than both intervals "
         "around it (a premature beat or couplet)")
    mark(np.flatnonzero(after), ECTOPIC, "interval after premature beats (not "
                                         "normal-to-normal)")


def premature_runs(rr: np.ndarray, fraction: float | None = None,
                   max_run: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Intervals in runs of ``r`` = 1..``max_run`` each shorter by ``r * fraction`` than both
    intervals that bound the run, and the interval after each run (beat-indexed, as
    ``rr``).

    Defaults: :data:`PREMATURE_RUN_FRACTION`, :data:`MAX_PREMATURE_RUN`. NaN intervals
    (a series' first, a gap) bound nothing.

    Examples
    --------
    >>> rr = np.array([np.nan, 1000, 1000, 600, 1300, 1000, 550, 560, 1350, 1000, 850, 1000])
    >>> prem, after = premature_runs(rr)
    >>> np.flatnonzero(prem).tolist(), np.flatnonzero(after).tolist()
    ([3, 6, 7], [4, 8])
    """
    frac = PREMATURE_RUN_FRACTION if fraction is None else fraction
    longest = MAX_PREMATURE_RUN if max_run is None else max_run
    x = np.asarray(rr, dtype=np.float64)
    n = len(x)
    premature = np.zeros(n, dtype=bool)
    after = np.zeros(n, dtype=bool)
    with np.errstate(invalid="ignore"):
        for run in range(1, longest + 1):
            if n < run + 2:
                break
            before, nxt = x[:n - run - 1], x[run + 1:]
            # each further beat of a run must come another `frac` early: a respiratory
            # trough two beats wide lies at most ~20 % below its bounds (the simulator's
            # strongest RSA, +-23 % at 15/min: 0.78-0.80), a ventricular couplet ~30-60 %
            bound = (1.0 - frac * run) * np.fmin(before, nxt)  # NaN when either is missing
            inner = np.ones(n - run - 1, dtype=bool)
            for k in range(run):
                inner &= x[1 + k:n - run + k] < bound
            starts = np.flatnonzero(inner & np.isfinite(before) & np.isfinite(nxt)) + 1
            for k in range(run):
                premature[starts + k] = True
            after[starts + run] = True
    return premature, after & ~premature


def _correct_run(p: np.ndarray, recover: Callable[[float, float], float | None],
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
    """Classify one contiguous run of beat times (s).

    Returns times, rr_ms, beat_class, reason, counts. Non-destructive: a detected beat is never
    deleted or moved (on MIT-BIH, deleting Lipponen-Tarvainen "extra" beats and inserting
    "missed" ones at the midpoint removed real premature beats and invented beats in
    compensatory pauses; ``docs/ecg-hrv.md``, section 8). A "missed" interval is searched
    again for a QRS at a lower threshold (``recover``); a beat found there is added at its
    true time (a real, detected beat). Without one the long interval is rhythm (a pause, a
    block, a slow respiratory swing) and is kept. Flagged intervals get an RR interpolated
    from the neighbouring normal intervals (for HR and HF; RMSSD and SDNN leave them out).
    """
    counts = {"recovered": 0, "extra": 0, "missed": 0, "ectopic": 0, "longshort": 0,
              "long_kept": 0}
    cls = None  # the classification of the current p, once computed
    for _ in range(CORRECTION_ROUNDS):
        if len(p) < 6:
            break
        cls = ecg_fixpeaks(np.diff(p))
        missed = np.flatnonzero(cls["missed"]) + 1
        found = [recover(p[m - 1], p[m]) for m in missed]
        found = [f for f in found if f is not None]
        if not found:
            break
        counts["recovered"] += len(found)
        p = np.sort(np.concatenate([p, found]))
        cls = None
    rr = np.full(len(p), np.nan)
    klass = np.full(len(p), NORMAL, dtype=object)
    reason = np.full(len(p), "", dtype=object)
    if len(p) < 2:
        return p, rr, klass, reason, counts
    rr[1:] = np.diff(p) * 1000.0
    if len(p) >= 6:
        if cls is None:  # unchanged since the last round: the same classification
            cls = ecg_fixpeaks(np.diff(p))
        for kind in ("extra", "ectopic", "longshort"):
            counts[kind] += int(cls[kind].sum())
        _pair_flags(rr, cls, klass, reason)
        counts["missed"] = int((klass == MISSED).sum())
        counts["long_kept"] = int(cls["missed"].sum()) - counts["missed"]
    corrected = klass != NORMAL
    good = np.isfinite(rr) & ~corrected
    if corrected.any() and good.sum() >= 2:
        rr[corrected] = np.interp(p[corrected], p[good], rr[good])
    return p, rr, klass, reason, counts


def ecg_beats(signal: np.ndarray, sampling_rate: float, *, max_gap_s: float = MAX_GAP_S,
              correct: bool = True) -> BeatSeries:
    """Detect heartbeats in a raw ECG and build the corrected RR series.

    Steps: 1) unusable stretches of the raw signal (missing, flat, clipped; see
    :mod:`physio.ecg.ecg_segments`) are found and bridged by a straight line; 2) resample to
    250 Hz (a cubic B-spline FIR decimator for integer rate ratios, ``resample_poly``
    otherwise) and band-pass to the QRS band; 3) adaptive-threshold QRS detection with
    searchback, T-wave and P-wave rejection (:mod:`physio.ecg.ecg_peaks`); 4) polarity
    decided once per recording and every beat placed, with sub-sample precision, on the
    extreme of the 0.5-45 Hz cleaned ECG at the original rate (1-4: :func:`locate_beats`);
    5) detections inside unusable stretches are removed, each listed with its reason
    (:func:`remove_unusable_beats`), and the series is broken there and at gaps longer than
    ``max_gap_s`` (:func:`split_runs`); 6) Lipponen & Tarvainen (2019) classification per
    run (:func:`classify_runs`): only ectopic (premature + compensatory), extra and
    premature-short intervals are flagged (see :data:`CORRECTION_RULE`).

    Parameters
    ----------
    signal : numpy.ndarray
        Raw ECG, 1-D, any units, either polarity; NaN marks missing samples.
    sampling_rate : float
        Hz, at least 100.
    max_gap_s : float
        Longest beat-to-beat interval treated as rhythm (s); longer is signal loss.
    correct : bool
        Apply the classification (step 6).

    Returns
    -------
    BeatSeries

    Raises
    ------
    physio.errors.SignalQualityError
        Empty, too short, all-NaN or non-numeric input, or a rate below 100 Hz.

    Examples
    --------
    >>> import numpy as np
    >>> fs = 500.0
    >>> t = np.arange(int(60 * fs)) / fs
    >>> ecg = np.random.default_rng(0).normal(0, 0.005, len(t))
    >>> beats_t = np.arange(0.5, 60, 0.8)
    >>> for b in beats_t:
    ...     ecg += np.exp(-0.5 * ((t - b) / 0.01) ** 2)
    >>> out = ecg_beats(ecg, fs)
    >>> len(out.peaks_s), round(float(np.nanmean(out.rr_ms))), int(out.corrected.sum())
    (75, 800, 0)
    """
    x, fs = _check_input(signal, sampling_rate)
    located = locate_beats(x, fs)
    t, removed, removed_why = remove_unusable_beats(located.times_s, located.segments)
    runs = split_runs(t, located.segments, max_gap_s)
    recover = qrs_recovery(located, t) if correct else None
    peaks_s, rr_ms, beat_class, reason, counts = classify_runs(t, runs, recover)
    corrected = beat_class != NORMAL
    info = beats_info(max_gap_s=max_gap_s, correct=correct, fs=fs,
                      inverted=located.inverted, n_beats=len(peaks_s),
                      n_corrected=int(corrected.sum()), n_removed=len(removed),
                      counts=counts, segments=runs.segments)
    return BeatSeries(peaks_s=peaks_s, rr_ms=rr_ms, corrected=corrected,
                      bad_segments_s=[(float(a), float(b)) for a, b, _ in runs.segments],
                      info=info, beat_class=beat_class, reason=reason,
                      removed_s=np.asarray(removed, dtype=float),
                      removed_reason=np.asarray(removed_why, dtype=object))


@dataclass
class LocatedBeats:
    """Beats found in a raw ECG, before any run is split or interval classified.

    ``times_s`` are the detections placed on the cleaned ECG (s, one per peak);
    ``segments`` the unusable stretches ``(start_s, end_s, kind)``; ``feature`` the
    integrated squared slope at ``detection_rate`` Hz; ``cleaned`` the 0.5-45 Hz ECG at
    ``sampling_rate``; ``inverted`` its polarity.
    """

    times_s: np.ndarray
    segments: list[tuple[float, float, str]]
    feature: np.ndarray
    detection_rate: float
    cleaned: np.ndarray
    sampling_rate: float
    inverted: bool


def locate_beats(x: np.ndarray, fs: float) -> LocatedBeats:
    """Steps 1-4 of :func:`ecg_beats`: unusable stretches, detection, polarity, placement.

    ``x`` is the checked raw ECG (NaN where missing) at ``fs`` Hz.
    """
    nan_mask = ~np.isfinite(x)
    unusable = ecg_unusable(x, fs, nan_mask if nan_mask.any() else None)
    x = _bridge(x, unusable)
    qrs, fs_d = ecg_detection_signal(x, fs)
    segs = [(a / fs, b / fs, k) for a, b, k in unusable]
    segs += [(a / fs_d, b / fs_d, "no QRS") for a, b in ecg_no_qrs(qrs, fs_d)]
    segs = merge_segments(segs)
    feat, slope_d = qrs_feature(qrs, fs_d)
    idx_d = detect_qrs(qrs, fs_d, feature=(feat, slope_d))
    approx = np.minimum(np.round(idx_d * fs / fs_d).astype(np.int64), len(x) - 1)
    cleaned = ecg_clean(x, fs)
    inverted = ecg_polarity(cleaned, approx, fs)
    t = refine_peaks(cleaned, approx, fs, inverted) / fs
    if len(t) > 1:  # two detections placed on the same peak
        t = t[np.r_[True, np.diff(t) > 0.2]]
    return LocatedBeats(t, segs, feat, fs_d, cleaned, fs, inverted)


def remove_unusable_beats(t: np.ndarray, segments: list[tuple[float, float, str]]
                          ) -> tuple[np.ndarray, list[float], list[str]]:
    """Drop the detections inside unusable stretches: (kept times, removed, reasons).

    Examples
    --------
    >>> kept, gone, why = remove_unusable_beats(np.array([1.0, 2.0, 3.0]),
    ...                                         [(1.5, 2.5, "flat")])
    >>> kept.tolist(), [float(g) for g in gone], why
    ([1.0, 3.0], [2.0], ['inside unusable signal (flat) 1.50-2.50 s'])
    """
    removed: list[float] = []
    removed_why: list[str] = []
    for a, b, k in segments:
        inside = (t >= a) & (t < b)
        if inside.any():
            removed += list(t[inside])
            removed_why += [f"inside unusable signal ({k}) {a:.2f}-{b:.2f} s"] * int(inside.sum())
            t = t[~inside]
    return t, removed, removed_why


@dataclass
class BeatRuns:
    """Contiguous runs of beats: ``[starts[k], ends[k])`` index the beat times; ``after``
    gives the reason for the first beat of a run that follows signal loss; ``segments``
    are the unusable stretches, long gaps without beats included."""

    starts: np.ndarray
    ends: np.ndarray
    after: dict[int, str]
    segments: list[tuple[float, float, str]]


def split_runs(t: np.ndarray, segments: list[tuple[float, float, str]], max_gap_s: float
               ) -> BeatRuns:
    """Break the beat series at unusable stretches and at gaps longer than ``max_gap_s``.

    Examples
    --------
    >>> runs = split_runs(np.array([1.0, 2.0, 3.0, 4.0]), [(2.5, 2.8, "flat")], 5.0)
    >>> runs.starts.tolist(), runs.ends.tolist(), runs.after[2][:36]
    ([0, 2], [2, 4], 'first beat after signal loss (flat) ')
    >>> split_runs(np.array([1.0, 2.0, 9.0, 10.0]), [], 5.0).starts.tolist()  # no beats 2-9 s
    [0, 2]
    """
    segs = list(segments)
    for i in np.flatnonzero(np.diff(t) > max_gap_s) + 1:
        span = (float(t[i - 1]), float(t[i]))
        if not any(a < span[1] and b > span[0] for a, b, _ in segs):
            segs.append((*span, "no beats"))
    segs = merge_segments(segs)
    breaks = np.zeros(len(t), dtype=bool)
    after = {}
    for a, b, k in segs:
        # the first beat after the stretch's start: a "no beats" gap starts exactly on the
        # beat before it, which belongs to the run before the gap
        j = int(np.searchsorted(t, a, side="right"))
        if 0 < j < len(t):
            breaks[j] = True
            after[j] = f"first beat after signal loss ({k}) {a:.2f}-{b:.2f} s: interval excluded"
    starts = np.r_[0, np.flatnonzero(breaks)].astype(np.int64)
    ends = np.r_[starts[1:], len(t)].astype(np.int64)
    return BeatRuns(starts, ends, after, segs)


def qrs_recovery(located: LocatedBeats, t: np.ndarray
                 ) -> Callable[[float, float], float | None]:
    """The searchback of a "missed beat" interval ``(t0, t1)``: a QRS there, or None.

    A QRS is accepted when its integrated squared slope is at least
    :data:`RECOVER_FRACTION` of the median beat's; it is placed like every other beat.
    """
    feat, fs_d, fs = located.feature, located.detection_rate, located.sampling_rate
    beat_feat = feat[np.minimum(np.round(t * fs_d).astype(np.int64), len(feat) - 1)]
    min_feat = RECOVER_FRACTION * float(np.median(beat_feat)) if len(t) else np.inf
    xs = -located.cleaned if located.inverted else located.cleaned

    def recover(t0: float, t1: float) -> float | None:
        a = int((t0 + 0.25) * fs_d)
        b = int((t1 - 0.25) * fs_d)
        if b <= a:
            return None
        k = a + int(np.argmax(feat[a:b]))
        if feat[k] < min_feat:
            return None
        return float(refine_peaks(xs, np.array([round(k * fs / fs_d)]), fs, False)[0] / fs)

    return recover


def classify_runs(t: np.ndarray, runs: BeatRuns,
                  recover: Callable[[float, float], float | None] | None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
    """Step 6 of :func:`ecg_beats` per run: (times, rr_ms, beat_class, reason, counts).

    With ``recover`` None nothing is classified: every beat is normal and each run's
    intervals are plain differences.
    """
    peaks, rrs, classes, reasons = [], [], [], []
    counts = {"recovered": 0, "extra": 0, "missed": 0, "ectopic": 0, "longshort": 0,
              "long_kept": 0}
    for a, b in zip(runs.starts, runs.ends, strict=True):
        run = t[a:b]
        if recover is not None:
            p, rr, klass, why, cnt = _correct_run(run, recover)
            for k in counts:
                counts[k] += cnt[k]
        else:
            p = run
            rr = np.r_[np.nan, np.diff(run) * 1000.0] if len(run) else np.zeros(0)
            klass = np.full(len(run), NORMAL, dtype=object)
            why = np.full(len(run), "", dtype=object)
        if a in runs.after and len(why):
            why[0] = runs.after[a]
        peaks.append(p)
        rrs.append(rr)
        classes.append(klass)
        reasons.append(why)
    return (np.concatenate(peaks) if peaks else np.zeros(0),
            np.concatenate(rrs) if rrs else np.zeros(0),
            np.concatenate(classes) if classes else np.zeros(0, dtype=object),
            np.concatenate(reasons) if reasons else np.zeros(0, dtype=object), counts)


def beats_info(*, max_gap_s: float, correct: bool, fs: float, inverted: bool, n_beats: int,
               n_corrected: int, n_removed: int, counts: dict[str, int],
               segments: list[tuple[float, float, str]]) -> dict[str, Any]:
    """The ``BeatSeries.info`` of :func:`ecg_beats`: methods, rules, parameters, counts."""
    return {
        "method": "soothe adaptive-threshold QRS detector + Lipponen-Tarvainen classification",
        "detector": "Pan-Tompkins/Hamilton-style, searchback, T- and P-wave rejection",
        "detection_rate_hz": DETECTION_RATE_HZ,
        "detection_resampling": DETECTION_RESAMPLING,
        "cleaning": "Butterworth band-pass 0.5-45 Hz (order 2, zero phase) at original rate",
        "segment_rule": SEGMENT_RULE,
        "segment_parameters": _segment_parameters(),
        "correction": "Lipponen & Tarvainen (2019), non-destructive" if correct else "none",
        "correction_rule": CORRECTION_RULE if correct else "none",
        "parameters": {"max_gap_s": max_gap_s, "correct": correct},
        "correction_parameters": _correction_parameters() if correct else None,
        "sampling_rate": fs,
        "polarity_inverted": inverted,
        "n_beats": int(n_beats),
        "n_corrected": int(n_corrected),
        "n_removed": int(n_removed),
        "artefacts": counts,
        "bad_segment_kinds": [k for _, _, k in segments],
        "citations": CITATIONS,
    }
