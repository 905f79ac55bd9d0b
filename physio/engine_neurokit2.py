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
correction     ``signal_fixpeaks(method="kubios")`` (Lipponen & Tarvainen, 2019)
HR, RMSSD      ``hrv_time`` on the corrected peaks of the window
HF             ``hrv_frequency(psd_method="welch")``, windows >= the HF minimum only
EDA            ``eda_phasic(method=eda_method)`` + ``eda_peaks``, SCRs kept when their
               amplitude reaches the same absolute criterion as the default engine
respiration    ``rsp_process`` on a belt; without a belt, no breathing rate (``n/a``)
=============  =========================================================================

The engine exists to cross-check the default one (``bench/bench_engines.py`` prints the
agreement per window) and for labs whose methods section must name neurokit2. It is slower
and uses more memory than the default engine.
"""

from __future__ import annotations

import dataclasses
import warnings as _warnings
from typing import Any

import numpy as np
import pandas as pd

#: neurokit2 method names used by this engine (recorded in the sidecar).
NK_ECG_METHOD = "neurokit"
NK_FIXPEAKS_METHOD = "kubios"
NK_EDA_PHASIC_METHOD = "highpass"
NK_EDA_PEAKS_METHOD = "neurokit"
NK_RSP_METHOD = "khodadad2018"
#: EDA and respiration are low-frequency signals; neurokit2 gets them at this rate.
NK_SLOW_RATE_HZ = 50.0


def engine_methods() -> dict[str, Any]:
    """The neurokit2 functions, methods and version this engine uses (for the sidecar).

    Examples
    --------
    >>> engine_methods()["engine"]
    'neurokit2'
    """
    import neurokit2 as nk

    return {
        "engine": "neurokit2",
        "neurokit2_version": nk.__version__,
        "ecg": {"ecg_clean": NK_ECG_METHOD, "ecg_peaks": NK_ECG_METHOD,
                "signal_fixpeaks": NK_FIXPEAKS_METHOD, "hrv_time": "default",
                "hrv_frequency": "welch"},
        "eda": {"eda_phasic": NK_EDA_PHASIC_METHOD, "eda_peaks": NK_EDA_PEAKS_METHOD,
                "resampled_hz": NK_SLOW_RATE_HZ},
        "rsp": {"rsp_process": NK_RSP_METHOD, "resampled_hz": NK_SLOW_RATE_HZ},
    }


def _resample(x: np.ndarray, fs: float, target: float) -> tuple[np.ndarray, float]:
    """Polyphase resampling to ``target`` Hz (anti-aliased); slower signals are kept."""
    from fractions import Fraction

    from scipy.signal import resample_poly

    if fs <= target:
        return np.asarray(x, float), float(fs)
    ratio = Fraction(target / fs).limit_denominator(1000)
    y = resample_poly(np.asarray(x, float), ratio.numerator, ratio.denominator)
    return y, fs * ratio.numerator / ratio.denominator


@dataclasses.dataclass
class NkBeats:
    """R peaks found and corrected by neurokit2, on the ECG channel's clock."""

    peaks_s: np.ndarray
    flagged: np.ndarray  # beats neurokit2's kubios correction classified as artefacts
    sampling_rate: float


def nk_ecg_beats(ecg_mv: np.ndarray, sampling_rate: float) -> NkBeats:
    """R peaks by ``nk.ecg_peaks`` corrected by ``nk.signal_fixpeaks(method="kubios")``.

    Examples
    --------
    >>> import neurokit2 as nk
    >>> ecg = nk.ecg_simulate(duration=30, sampling_rate=250, heart_rate=70, random_state=1)
    >>> b = nk_ecg_beats(ecg, 250)
    >>> 30 <= len(b.peaks_s) <= 40
    True
    """
    import neurokit2 as nk

    cleaned = nk.ecg_clean(ecg_mv, sampling_rate=sampling_rate, method=NK_ECG_METHOD)
    _, info = nk.ecg_peaks(cleaned, sampling_rate=sampling_rate, method=NK_ECG_METHOD)
    peaks = np.asarray(info["ECG_R_Peaks"], dtype=int)
    flagged = np.zeros(len(peaks), dtype=bool)
    if len(peaks) >= 4:
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            fix_info, fixed = nk.signal_fixpeaks(
                peaks, sampling_rate=sampling_rate, iterative=True, method=NK_FIXPEAKS_METHOD
            )
        bad: set[int] = set()
        for key in ("ectopic", "missed", "extra", "longshort"):
            bad.update(int(i) for i in np.atleast_1d(fix_info.get(key, [])))
        peaks = np.asarray(fixed, dtype=int)
        flagged = np.zeros(len(peaks), dtype=bool)
        idx = [i for i in bad if 0 <= i < len(peaks)]
        flagged[idx] = True
    return NkBeats(peaks / sampling_rate, flagged, float(sampling_rate))


def nk_hrv_window(beats: NkBeats, start_s: float, end_s: float) -> dict[str, Any]:
    """HR, RMSSD, SDNN (``nk.hrv_time``) and HF (``nk.hrv_frequency``) of one window.

    The validity thresholds are the default engine's (:mod:`physio.hrv.hrv_window`): too
    few beats, too little coverage or too many flagged beats give NaN with the reason.
    """
    import neurokit2 as nk

    from physio.hrv import hrv_window as rules

    out: dict[str, Any] = {k: np.nan for k in ("hr_bpm", "rmssd_ms", "sdnn_ms", "hf_ms2",
                                                "lnhf", "corrected_pct", "excluded_diff_pct")}
    inside = (beats.peaks_s >= start_s) & (beats.peaks_s < end_s)
    n = int(inside.sum())
    out["n_beats"] = n
    dur = end_s - start_s
    if n < rules.MIN_BEATS + 1:
        reason = f"too few beats ({n})"
        out.update(ecg_valid=False, ecg_reason=reason, hf_valid=False, hf_reason=reason)
        return out
    t = beats.peaks_s[inside]
    flag = beats.flagged[inside]
    rr = np.diff(t) * 1000.0
    pair_bad = flag[1:] | flag[:-1]
    out["corrected_pct"] = 100.0 * float(flag.mean())
    diffs_bad = pair_bad[1:] | pair_bad[:-1] if len(pair_bad) > 1 else pair_bad
    out["excluded_diff_pct"] = 100.0 * float(diffs_bad.mean()) if len(diffs_bad) else np.nan
    coverage = float(rr[~pair_bad].sum() / 1000.0 / dur) if dur > 0 else 0.0
    out["hr_bpm"] = 60000.0 / float(np.mean(rr))
    max_excluded = getattr(rules, "MAX_EXCLUDED_DIFF_PCT", rules.MAX_CORRECTED_PCT)
    if coverage < rules.MIN_COVERAGE:
        reason = f"coverage {coverage:.0%} < {rules.MIN_COVERAGE:.0%}"
        out.update(hr_bpm=np.nan, ecg_valid=False, ecg_reason=reason, hf_valid=False,
                   hf_reason=reason)
        return out
    peaks_idx = np.round(t * beats.sampling_rate).astype(int)
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        ht = nk.hrv_time(peaks_idx, sampling_rate=beats.sampling_rate)
    if out["excluded_diff_pct"] > max_excluded:
        reason = f"{out['excluded_diff_pct']:.0f}% of successive differences excluded"
        out.update(ecg_valid=False, ecg_reason=reason, hf_valid=False, hf_reason=reason)
        return out
    out["rmssd_ms"] = float(ht["HRV_RMSSD"].iloc[0])
    out["sdnn_ms"] = float(ht["HRV_SDNN"].iloc[0])
    out.update(ecg_valid=True, ecg_reason="")
    min_hf = float(getattr(rules, "MIN_HF_WINDOW_S", 120.0))
    if dur + 1e-6 < min_hf:
        out.update(hf_valid=False, hf_reason=f"window shorter than {min_hf:.0f} s")
        return out
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        hf = nk.hrv_frequency(peaks_idx, sampling_rate=beats.sampling_rate, psd_method="welch")
    hf_ms2 = float(hf["HRV_HF"].iloc[0])
    if not np.isfinite(hf_ms2) or hf_ms2 <= 0:
        out.update(hf_valid=False, hf_reason="neurokit2 gave no HF power")
        return out
    out.update(hf_ms2=hf_ms2, lnhf=float(np.log(hf_ms2)), hf_valid=True, hf_reason="")
    return out


@dataclasses.dataclass
class NkEda:
    """Tonic, raw and SCRs from neurokit2, on the EDA channel's clock (µS)."""

    time_s: np.ndarray
    raw_us: np.ndarray
    tonic_us: np.ndarray
    scr_onset_s: np.ndarray
    scr_amp_us: np.ndarray


def nk_eda(eda_us: np.ndarray, sampling_rate: float, start_s: float,
           scr_min_amplitude_us: float) -> NkEda:
    """``nk.eda_phasic`` + ``nk.eda_peaks``; SCRs below the absolute criterion are dropped.

    neurokit2's own ``amplitude_min`` is relative (a fraction of the largest response); the
    engine keeps neurokit2's detection and applies the same absolute amplitude criterion as
    the default engine, so the two count the same thing.

    Examples
    --------
    >>> import neurokit2 as nk
    >>> eda = nk.eda_simulate(duration=60, sampling_rate=50, scr_number=3, random_state=2)
    >>> r = nk_eda(eda, 50, 0.0, 0.05)
    >>> len(r.scr_amp_us) <= 6
    True
    """
    import neurokit2 as nk

    x, fs = _resample(eda_us, sampling_rate, NK_SLOW_RATE_HZ)
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        cleaned = nk.eda_clean(x, sampling_rate=fs)
        phasic = nk.eda_phasic(cleaned, sampling_rate=fs, method=NK_EDA_PHASIC_METHOD)
        _, info = nk.eda_peaks(phasic["EDA_Phasic"].to_numpy(), sampling_rate=fs,
                               method=NK_EDA_PEAKS_METHOD, amplitude_min=0.0)
    amp = np.asarray(info.get("SCR_Amplitude", []), dtype=float)
    onsets = np.asarray(info.get("SCR_Onsets", []), dtype=float)
    keep = np.isfinite(amp) & (amp >= scr_min_amplitude_us) & np.isfinite(onsets)
    t = start_s + np.arange(len(x)) / fs
    return NkEda(t, x, phasic["EDA_Tonic"].to_numpy(), start_s + onsets[keep] / fs, amp[keep])


def nk_eda_window(eda: NkEda, start_s: float, end_s: float) -> dict[str, Any]:
    """SCL (mean tonic), mean raw SC and SCRs of one window."""
    inside = (eda.time_s >= start_s) & (eda.time_s < end_s)
    if not inside.any():
        return {"scl_us": np.nan, "sc_mean_us": np.nan, "scr_count": np.nan,
                "scr_rate_per_min": np.nan, "scr_amp_us": np.nan, "eda_valid": False,
                "eda_reason": "no EDA samples in the window"}
    scr = (eda.scr_onset_s >= start_s) & (eda.scr_onset_s < end_s)
    n = int(scr.sum())
    return {
        "scl_us": float(np.mean(eda.tonic_us[inside])),
        "sc_mean_us": float(np.mean(eda.raw_us[inside])),
        "scr_count": n,
        "scr_rate_per_min": n / ((end_s - start_s) / 60.0),
        "scr_amp_us": float(np.mean(eda.scr_amp_us[scr])) if n else np.nan,
        "eda_valid": True,
        "eda_reason": "",
    }


def nk_rsp(belt: np.ndarray, sampling_rate: float, start_s: float) -> pd.DataFrame:
    """Breathing rate and amplitude from a belt with ``nk.rsp_process``.

    Returns a frame with ``time_s``, ``rate_bpm`` and ``amplitude`` per sample (at
    :data:`NK_SLOW_RATE_HZ`).
    """
    import neurokit2 as nk

    x, fs = _resample(belt, sampling_rate, NK_SLOW_RATE_HZ)
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        sig, _ = nk.rsp_process(x, sampling_rate=fs, method=NK_RSP_METHOD)
    return pd.DataFrame({
        "time_s": start_s + np.arange(len(x)) / fs,
        "rate_bpm": sig["RSP_Rate"].to_numpy(float),
        "amplitude": sig["RSP_Amplitude"].to_numpy(float),
    })


def nk_rsp_window(rsp: pd.DataFrame | None, start_s: float, end_s: float) -> dict[str, Any]:
    """Median breathing rate and depth of one window (``n/a`` without a belt)."""
    if rsp is None:
        return {"resp_rate_bpm": np.nan, "resp_amplitude": np.nan, "resp_source": "n/a"}
    t = rsp["time_s"].to_numpy()
    inside = (t >= start_s) & (t < end_s)
    if not inside.any():
        return {"resp_rate_bpm": np.nan, "resp_amplitude": np.nan, "resp_source": "belt"}
    return {
        "resp_rate_bpm": float(np.nanmedian(rsp["rate_bpm"].to_numpy()[inside])),
        "resp_amplitude": float(np.nanmedian(rsp["amplitude"].to_numpy()[inside])),
        "resp_source": "belt",
    }
