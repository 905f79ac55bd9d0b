"""A second engine: the same windows table computed with neurokit2's own functions.

``soothe physio process --engine neurokit2`` runs this instead of soothe's own ECG, HRV, EDA
and respiration code. Everything around the numbers is shared with the default engine: the
channel choice, the phases and windows (:mod:`physio.phases`), the validity thresholds
(:mod:`physio.hrv.hrv_window`), the output tables and the sidecar. Only the signal processing
differs, and each step is one named neurokit2 function:

=============  =========================================================================
step           neurokit2
=============  =========================================================================
ECG clean      ``ecg_clean(method=ecg_method)``
R peaks        ``ecg_peaks(method=ecg_method)``
correction     ``signal_fixpeaks(method="kubios")`` (Lipponen & Tarvainen, 2019), except
               that a beat which was right is never moved (:func:`undo_right_moves`)
HR, RMSSD      ``hrv_time`` on the corrected peaks of the window
HF             ``hrv_frequency(psd_method="welch")``, windows >= the HF minimum only
EDA            ``eda_phasic(method=eda_method)`` + ``eda_peaks``, SCRs kept when their
               amplitude reaches the same absolute criterion as the default engine
respiration    ``rsp_process`` on a belt; where the belt gives no rate, soothe's ECG-derived
               estimate (:func:`physio.rsp.ecg_rsp`) from neurokit2's R peaks
=============  =========================================================================

:class:`NeuroKit2Engine` puts these steps behind the stages of :class:`physio.engine.Engine`.
The engine exists to cross-check the default one (``bench/bench_engines.py`` prints the
agreement per window) and for labs whose methods section must name neurokit2. It is slower
and uses more memory than the default engine.
"""

from __future__ import annotations

import warnings as _warnings
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import scipy.signal as sps

from physio.ecg.ecg_beats import PREMATURE_FRACTION, BeatSeries
from physio.ecg.ecg_fixpeaks import ecg_fixpeaks
from physio.ecg.ecg_quality import (
    BEAT_CORR_MIN,
    QRS_WINDOW_S,
    beat_template_corr,
    ecg_quality_input,
)
from physio.eda.eda_process import EdaResult
from physio.eda.eda_scr import DEFAULT_SCR_MIN_AMPLITUDE_US
from physio.hrv import hrv_window
from physio.recording import Channel
from physio.rsp import ecg_rsp, rsp_check_units
from physio.rsp.ecg_rsp import DEFAULT_EDR_METHOD
from physio.rsp.rsp_peaks import BreathSeries
from physio.signal_runs import true_runs

#: neurokit2 method names used by this engine (recorded in the sidecar).
NK_ECG_METHOD = "neurokit"
NK_FIXPEAKS_METHOD = "kubios"
NK_EDA_PHASIC_METHOD = "highpass"
NK_EDA_PEAKS_METHOD = "neurokit"
NK_RSP_METHOD = "khodadad2018"
#: A move larger than this share of the local median interval is not a re-timing of the
#: same beat (:func:`undo_right_moves` leaves it).
MAX_MOVE_FRACTION = 0.5
#: The rule of :func:`undo_right_moves` (recorded in the sidecar).
RIGHT_BEAT_RULE = (
    "a beat that signal_fixpeaks moved is put back where it was detected when its QRS "
    f"matches the recording's QRS template there (r >= {BEAT_CORR_MIN}) and the interval "
    f"ending at it is not premature (>= {1 - PREMATURE_FRACTION:.2f} x the 11-beat running "
    "median), in stretches between unchanged beats where every beat was only moved (none "
    f"added or deleted) by at most {MAX_MOVE_FRACTION} x that median: a correction must "
    "never change a beat that was right"
)
#: EDA and respiration are low-frequency signals; neurokit2 gets them at this rate.
NK_SLOW_RATE_HZ = 50.0


def engine_methods() -> dict[str, Any]:
    """The neurokit2 functions, methods and version this engine uses (for the sidecar).

    Examples
    --------
    >>> engine_methods()["engine"]
    'neurokit2'
    """
    # lazy: neurokit2 is slow to import and only this engine needs it
    import neurokit2 as nk

    return {
        "engine": "neurokit2",
        "neurokit2_version": nk.__version__,
        "ecg": {"ecg_clean": NK_ECG_METHOD, "ecg_peaks": NK_ECG_METHOD,
                "signal_fixpeaks": NK_FIXPEAKS_METHOD, "hrv_time": "default",
                "hrv_frequency": "welch", "right_beats_kept": RIGHT_BEAT_RULE},
        "eda": {"eda_phasic": NK_EDA_PHASIC_METHOD, "eda_peaks": NK_EDA_PEAKS_METHOD,
                "resampled_hz": NK_SLOW_RATE_HZ},
        "rsp": {"rsp_process": NK_RSP_METHOD, "resampled_hz": NK_SLOW_RATE_HZ},
    }


def _resample(x: np.ndarray, fs: float, target: float) -> tuple[np.ndarray, float]:
    """Polyphase resampling to ``target`` Hz (anti-aliased); slower signals are kept."""
    if fs <= target:
        return np.asarray(x, float), float(fs)
    ratio = Fraction(target / fs).limit_denominator(1000)
    y = sps.resample_poly(np.asarray(x, float), ratio.numerator, ratio.denominator)
    return y, fs * ratio.numerator / ratio.denominator


def nk_beat_series(ecg_mv: np.ndarray, sampling_rate: float) -> BeatSeries:
    """R peaks by ``nk.ecg_peaks``, corrected by ``nk.signal_fixpeaks(method="kubios")``.

    The result is a :class:`physio.ecg.BeatSeries` on the ECG channel's clock, so the rest of
    the pipeline (windows, validity, beats table, QC) treats it like the default engine's.
    Beats that neurokit2's correction classified (ectopic, missed, extra, long/short) are
    ``corrected``; their class is in ``beat_class``. A move of a beat that was right is
    undone (:func:`undo_right_moves`); ``info["n_moves_undone"]`` counts them.

    Examples
    --------
    >>> import neurokit2 as nk
    >>> ecg = nk.ecg_simulate(duration=30, sampling_rate=250, heart_rate=70, random_state=1)
    >>> b = nk_beat_series(ecg, 250)
    >>> 30 <= len(b.peaks_s) <= 40, b.info["engine"]
    (True, 'neurokit2')
    """
    # lazy: neurokit2 is slow to import and only this engine needs it
    import neurokit2 as nk

    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        cleaned = nk.ecg_clean(ecg_mv, sampling_rate=sampling_rate, method=NK_ECG_METHOD)
        _, info = nk.ecg_peaks(cleaned, sampling_rate=sampling_rate, method=NK_ECG_METHOD)
    peaks = np.asarray(info["ECG_R_Peaks"], dtype=int)
    classes = np.full(len(peaks), "normal", dtype=object)
    if len(peaks) >= 4:
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            fix_info, fixed = nk.signal_fixpeaks(
                peaks, sampling_rate=sampling_rate, iterative=True, method=NK_FIXPEAKS_METHOD
            )
        detected = peaks
        peaks = np.asarray(fixed, dtype=int)
        classes = np.full(len(peaks), "normal", dtype=object)
        for key, label in (("ectopic", "ectopic"), ("longshort", "ectopic"),
                           ("missed", "missed"), ("extra", "extra")):
            idx = np.asarray(np.atleast_1d(fix_info.get(key, [])), dtype=int)
            idx = idx[(idx >= 0) & (idx < len(peaks))]
            classes[idx] = label
        peaks, restored = undo_right_moves(ecg_mv, sampling_rate, detected, peaks)
        classes[restored] = "normal"
    else:
        restored = np.zeros(len(peaks), dtype=bool)
    corrected = classes != "normal"
    t = peaks / float(sampling_rate)
    rr = np.r_[np.nan, np.diff(t) * 1000.0] if len(t) else np.zeros(0)
    reason = np.where(corrected, "neurokit2 signal_fixpeaks (kubios): " + classes.astype(str),
                      "").astype(object)
    return BeatSeries(
        peaks_s=t, rr_ms=rr, corrected=corrected,
        info={**engine_methods(), "sampling_rate": float(sampling_rate),
              "n_corrected": int(corrected.sum()),
              "n_moves_undone": int(restored.sum())},
        beat_class=classes, reason=reason,
    )


def undo_right_moves(ecg_mv: np.ndarray, sampling_rate: float, detected: np.ndarray,
                     fixed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Put back the beats that ``signal_fixpeaks`` moved although they were right.

    Kubios's correction (Lipponen & Tarvainen, 2019) judges a beat by its intervals alone
    and moves an "ectopic" or "long/short" beat to the middle of its neighbours, a sinus
    beat after a long interval too (on the shared lab session, 61 ms off a QRS that matched
    the template with r = 1.00; ``docs/quality.md``). A correction must never change a beat
    that was right, so a move is undone when, at the detected time,

    1. its QRS matches the recording's QRS template (``beat_template_corr`` over
       ``QRS_WINDOW_S``, r >= ``BEAT_CORR_MIN``): a heartbeat, not a T wave or noise; and
    2. the interval ending at it is not premature (>= 1 - ``PREMATURE_FRACTION`` of the
       11-beat running median, the default engine's ectopic threshold): moving a premature
       beat is what Kubios's correction is for.

    The unit is a stretch between two beats ``signal_fixpeaks`` left where they were
    detected: it is put back only when it holds as many detected beats as corrected ones
    (moves only), every one right by 1 and 2 and moved by at most
    :data:`MAX_MOVE_FRACTION` of the local median interval. Beside a beat that neurokit2
    added (at an interpolated time) no placement gives two measured intervals, so such a
    stretch keeps neurokit2's correction.

    Parameters
    ----------
    ecg_mv : numpy.ndarray
        The raw ECG.
    sampling_rate : float
        Hz; ``detected`` and ``fixed`` are sample indices at this rate.
    detected, fixed : numpy.ndarray
        R peaks before and after ``signal_fixpeaks``.

    Returns
    -------
    peaks : numpy.ndarray
        ``fixed`` with the right beats back at their detected sample.
    restored : numpy.ndarray of bool
        Per beat of ``peaks``: its move was undone.

    Examples
    --------
    >>> fs = 250.0
    >>> t = np.arange(int(60 * fs)) / fs
    >>> beats = np.arange(1.0, 59.0, 0.8)
    >>> beats[30] += 0.06                       # a late sinus beat (a long interval)
    >>> ecg = sum(np.exp(-0.5 * ((t - b) / 0.01) ** 2) for b in beats)
    >>> detected = np.round(beats * fs).astype(int)
    >>> fixed = detected.copy()
    >>> fixed[30] = (detected[29] + detected[31]) // 2   # Kubios's move to the middle
    >>> peaks, restored = undo_right_moves(ecg, fs, detected, fixed)
    >>> bool(peaks[30] == detected[30]), np.flatnonzero(restored).tolist()
    (True, [30])
    """
    detected = np.asarray(detected, dtype=np.int64)
    peaks = np.asarray(fixed, dtype=np.int64).copy()
    restored = np.zeros(len(peaks), dtype=bool)
    if len(detected) < 6 or len(peaks) < 2:
        return peaks, restored
    fs = float(sampling_rate)
    rr = np.diff(detected).astype(float)
    medrr = np.r_[np.nan, ecg_fixpeaks(rr / fs)["medrr"] * fs]  # per beat, its interval's
    kept = np.isin(peaks, detected)
    if kept.all():
        return peaks, restored
    cleaned, qfs = ecg_quality_input(ecg_mv, fs)
    corr = beat_template_corr(cleaned, qfs, detected / fs, span_s=QRS_WINDOW_S)
    with np.errstate(invalid="ignore"):
        right = (corr >= BEAT_CORR_MIN) & (np.r_[np.nan, rr] >= (1.0 - PREMATURE_FRACTION)
                                           * medrr)
    # the stretches of changed beats with an unchanged beat on both sides
    stretches = [(a, b) for a, b in true_runs(~kept) if a > 0 and b < len(kept)]
    for i0, i1 in stretches:
        inside = np.flatnonzero((detected > peaks[i0 - 1]) & (detected < peaks[i1]))
        if (len(inside) == i1 - i0 and right[inside].all()
                and (np.abs(detected[inside] - peaks[i0:i1])
                     <= MAX_MOVE_FRACTION * medrr[inside]).all()):
            peaks[i0:i1] = detected[inside]
            restored[i0:i1] = True
    return peaks, restored


def nk_hrv_window(beats: BeatSeries, start_s: float, end_s: float, *,
                  uncertain: np.ndarray | None = None) -> dict[str, Any]:
    """HR, RMSSD, SDNN (``nk.hrv_time``) and HF (``nk.hrv_frequency``) of one window.

    Validity is decided exactly as in the default engine: :func:`physio.hrv.hrv_window` runs
    on the same beats and its verdicts, counts and reasons are kept; where a value is valid,
    neurokit2's value replaces soothe's. Where beats have an ``uncertain`` R-peak time, the
    successive differences involving them are left out of RMSSD, as in the default engine
    (:func:`rmssd_without`).
    """
    # lazy: neurokit2 is slow to import and only this engine needs it
    import neurokit2 as nk

    out = hrv_window(beats, start_s, end_s, uncertain=uncertain)
    inside = (beats.peaks_s >= start_s) & (beats.peaks_s < end_s)
    peaks_idx = np.round(beats.peaks_s[inside] * beats.info["sampling_rate"]).astype(int)
    fs = float(beats.info["sampling_rate"])
    if len(peaks_idx) < 3:
        return out
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        if out.get("ecg_valid") and np.isfinite(out.get("rmssd_ms", np.nan)):
            ht = nk.hrv_time(peaks_idx, sampling_rate=fs)
            out["rmssd_ms"] = float(ht["HRV_RMSSD"].iloc[0])
            out["sdnn_ms"] = float(ht["HRV_SDNN"].iloc[0])
            out["hr_bpm"] = 60000.0 / float(ht["HRV_MeanNN"].iloc[0])
            if uncertain is not None and np.asarray(uncertain, dtype=bool)[inside].any():
                out["rmssd_ms"] = rmssd_without(peaks_idx, fs,
                                                np.asarray(uncertain, dtype=bool)[inside])
        if out.get("hf_valid") and np.isfinite(out.get("hf_ms2", np.nan)):
            hf = nk.hrv_frequency(peaks_idx, sampling_rate=fs, psd_method="welch")
            hf_ms2 = float(hf["HRV_HF"].iloc[0])
            if np.isfinite(hf_ms2) and hf_ms2 > 0:
                out.update(hf_ms2=hf_ms2, lnhf=float(np.log(hf_ms2)))
            else:
                out.update(hf_ms2=np.nan, lnhf=np.nan, hf_valid=False,
                           hf_reason="neurokit2 hrv_frequency gave no HF power")
    return out


def rmssd_without(peaks_idx: np.ndarray, sampling_rate: float, uncertain: np.ndarray
                  ) -> float:
    """``nk.hrv_time``'s RMSSD (root mean square of the successive differences of the
    intervals between ``peaks_idx``) without the differences that involve an ``uncertain``
    beat (three per beat); NaN when none is left.

    Examples
    --------
    >>> p = np.array([0, 200, 420, 600, 800, 1020, 1200])
    >>> round(rmssd_without(p, 250.0, np.zeros(7, bool)), 1)
    118.7
    >>> round(rmssd_without(p, 250.0, np.eye(7, dtype=bool)[6]), 1)
    105.8
    """
    d = np.diff(np.diff(np.asarray(peaks_idx, dtype=float)) / sampling_rate * 1000.0)
    u = np.asarray(uncertain, dtype=bool)
    keep = ~(u[:-2] | u[1:-1] | u[2:])
    return float(np.sqrt(np.mean(d[keep] ** 2))) if keep.any() else float("nan")


def nk_eda_process(eda_us: np.ndarray, sampling_rate: float, *, start_s: float = 0.0,
                   scr_min_amplitude_us: float) -> EdaResult:
    """``nk.eda_clean`` + ``nk.eda_phasic`` + ``nk.eda_peaks`` as a :class:`EdaResult`.

    neurokit2's own ``amplitude_min`` is relative (a fraction of the largest response); the
    engine keeps neurokit2's detection and applies the default engine's absolute amplitude
    criterion, so the two count the same thing.

    Examples
    --------
    >>> import neurokit2 as nk
    >>> eda = 4 + nk.eda_simulate(duration=60, sampling_rate=50, scr_number=3, random_state=2)
    >>> r = nk_eda_process(eda, 50, scr_min_amplitude_us=0.05)
    >>> len(r.scr_amp_us) <= 6, r.info["engine"]
    (True, 'neurokit2')
    """
    # lazy: neurokit2 is slow to import and only this engine needs it
    import neurokit2 as nk

    x, fs = _resample(eda_us, sampling_rate, NK_SLOW_RATE_HZ)
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        cleaned = np.asarray(nk.eda_clean(x, sampling_rate=fs), dtype=float)
        phasic = nk.eda_phasic(cleaned, sampling_rate=fs, method=NK_EDA_PHASIC_METHOD)
        _, info = nk.eda_peaks(phasic["EDA_Phasic"].to_numpy(), sampling_rate=fs,
                               method=NK_EDA_PEAKS_METHOD, amplitude_min=0.0)
    amp = np.asarray(info.get("SCR_Amplitude", []), dtype=float)
    onsets = np.asarray(info.get("SCR_Onsets", []), dtype=float)
    peaks = np.asarray(info.get("SCR_Peaks", []), dtype=float)
    keep = np.isfinite(amp) & (amp >= scr_min_amplitude_us) & np.isfinite(peaks)
    return EdaResult(
        sampling_rate=fs, start_s=float(start_s), clean=cleaned,
        tonic=phasic["EDA_Tonic"].to_numpy(float),
        scr_onset_s=start_s + onsets[keep] / fs, scr_peak_s=start_s + peaks[keep] / fs,
        scr_amp_us=amp[keep],
        info={**engine_methods(), "scr_min_amplitude_us": float(scr_min_amplitude_us),
              "scr_amplitude_from": "neurokit2 eda_peaks SCR_Amplitude (phasic component)"},
    )


def nk_rsp_belt(signal: np.ndarray, sampling_rate: float, *, units: str, name: str = "RSP",
                start_s: float = 0.0, source: str = "") -> BreathSeries:
    """Breaths of a belt from ``nk.rsp_process``, as a :class:`physio.rsp.BreathSeries`.

    A breath runs from one inspiration onset (neurokit2's trough) to the next; its depth is
    the following peak minus the trough, in the belt's units.

    Examples
    --------
    >>> t = np.arange(0, 120, 0.02)
    >>> b = nk_rsp_belt(0.2 * np.sin(2 * np.pi * 0.25 * t), 50.0, units="V")
    >>> round(float(np.median(b.rate_bpm)))
    15
    """
    # lazy: neurokit2 is slow to import and only this engine needs it
    import neurokit2 as nk

    rsp_check_units(units, name=name, source=source)
    x, fs = _resample(signal, sampling_rate, NK_SLOW_RATE_HZ)
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        sig, info = nk.rsp_process(x, sampling_rate=fs, method=NK_RSP_METHOD)
    troughs = np.asarray(info.get("RSP_Troughs", []), dtype=int)
    peaks = np.asarray(info.get("RSP_Peaks", []), dtype=int)
    clean = sig["RSP_Clean"].to_numpy(float)
    onset = start_s + troughs / fs
    amp = np.full(max(len(troughs) - 1, 0), np.nan)
    for k in range(len(amp)):
        after = peaks[(peaks > troughs[k]) & (peaks < troughs[k + 1])]
        if len(after):
            amp[k] = clean[after[0]] - clean[troughs[k]]
    rate = 60.0 / np.diff(onset) if len(onset) > 1 else np.zeros(0)
    return BreathSeries(
        onset_s=onset, rate_bpm=rate, amplitude=amp, source="belt",
        trace_t=start_s + np.arange(len(clean)) / fs, trace_y=clean,
        info={**engine_methods(), "source": "belt", "channel": name, "units": units,
              "sampling_rate_hz": float(fs)},
    )


@dataclass(frozen=True)
class NeuroKit2Engine:
    """neurokit2's functions behind the stages of :class:`physio.engine.Engine`.

    Parameters
    ----------
    scr_min_amplitude_us : float
        The default engine's absolute SCR amplitude criterion (see :func:`nk_eda_process`).
    edr_method : str
        ECG-derived breathing method (:func:`physio.rsp.ecg_rsp`, soothe's).

    Examples
    --------
    >>> NeuroKit2Engine().name
    'neurokit2'
    """

    name = "neurokit2"

    scr_min_amplitude_us: float = DEFAULT_SCR_MIN_AMPLITUDE_US
    edr_method: str = DEFAULT_EDR_METHOD

    def ecg_beats(self, ecg: Channel, millivolts: Callable[..., np.ndarray]) -> BeatSeries:
        """:func:`nk_beat_series` of the whole ECG in mV."""
        return nk_beat_series(millivolts(ecg.data), ecg.sampling_rate)

    def hrv_window(self, beats: BeatSeries, start_s: float, end_s: float, *,
                   uncertain: np.ndarray | None = None) -> dict[str, Any]:
        """:func:`nk_hrv_window`."""
        return nk_hrv_window(beats, start_s, end_s, uncertain=uncertain)

    def eda_process(self, eda: Channel, microsiemens: Callable[..., np.ndarray]) -> EdaResult:
        """:func:`nk_eda_process` of the whole EDA in microsiemens."""
        return nk_eda_process(microsiemens(eda.data), eda.sampling_rate, start_s=eda.start_s,
                              scr_min_amplitude_us=self.scr_min_amplitude_us)

    def rsp_belt(self, rsp: Channel, *, source: str) -> BreathSeries:
        """:func:`nk_rsp_belt`."""
        return nk_rsp_belt(rsp.data, rsp.sampling_rate, units=rsp.units, name=rsp.name,
                           start_s=rsp.start_s, source=source)

    def ecg_breathing(self, beats: BeatSeries, ecg: Channel) -> BreathSeries:
        """soothe's :func:`physio.rsp.ecg_rsp` on neurokit2's beats (this engine has no
        neurokit2 step for ECG-derived breathing)."""
        return ecg_rsp(beats.peaks_s, beats.rr_ms, beats.corrected, ecg=ecg.data,
                       sampling_rate=ecg.sampling_rate, method=self.edr_method,
                       start_s=ecg.start_s)
