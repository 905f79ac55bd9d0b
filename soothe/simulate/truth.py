"""Ground truth per window and per phase, computed with the pipeline's own estimators.

For every phase, windows of 60 s from the phase's window start (the induction: audio
onset, so window m is induction minute m), the last one partial when the phase is not a
whole number of minutes. A beat belongs to the window its R peak falls in (start <= t <
end), and contributes the RR interval ending at it.

Estimated on the true series with the pipeline's estimator (``physio.hrv.hrv_window``,
no second estimator; ``TRUTH_METHODS`` is written into ``planted_effects.json``):

- ``hr_bpm``, ``rmssd_ms``, ``lnrmssd``, ``sdnn_ms``, ``hf_ms2``, ``lnhf``: the true beats
  with each premature beat's interval and the compensatory pause replaced by the
  interpolated sinus intervals and flagged as corrected (as the pipeline's artefact
  correction does), through ``hrv_window`` with the validity gates opened (the truth is
  never NaN for lack of quality). HF needs a window of at least ``MIN_HF_WINDOW_S``.

Exact (analytic) from the model:

- ``scl_us``: mean of the true tonic level over the window;
- ``scr_count`` / ``scr_rate_per_min``: SCR onsets planted in the window;
- ``breathing_rate_bpm`` and ``resp_amplitude`` (belt depth, V peak to peak): means of the
  true rate and depth curves;
- ``vagal``, ``sympathetic``: the latent drives averaged over the window (with wander);
- ``hr_model_bpm``, ``rmssd_model_ms``, ``hf_model_ms2``: the expected value of each index
  from the window's mean drives and breathing (``soothe.simulate.physiology``).

``truth_phases`` gives the same per phase (the phase's whole window span), including HF.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from physio.ecg.ecg_beats import BeatSeries as PhysioBeats
from physio.hrv.hrv_window import hf_power as pipeline_hf
from physio.hrv.hrv_window import hrv_window
from soothe.simulate import physiology as phys
from soothe.simulate.eda_synth import eda_tonic
from soothe.simulate.participant import breathing, drives
from soothe.simulate.rr import BeatSeries
from soothe.simulate.timeline import SessionTimeline

WINDOW_S = 60.0
MIN_WINDOW_S = 1.0
#: Shortest window for the truth's HF (s): the pipeline's own minimum (60 s), less a
#: rounding tolerance so that a full minute whose bounds are rounded keeps its HF.
MIN_HF_WINDOW_S = 59.9

TRUTH_WINDOW_COLUMNS = (
    "participant_id",
    "condition",
    "phase",
    "window",
    "start_s",
    "end_s",
    "hr_bpm",
    "rmssd_ms",
    "lnrmssd",
    "sdnn_ms",
    "hf_ms2",
    "lnhf",
    "scl_us",
    "scr_count",
    "scr_rate_per_min",
    "breathing_rate_bpm",
    "resp_amplitude",
    "vagal",
    "sympathetic",
    "hr_model_bpm",
    "rmssd_model_ms",
    "hf_model_ms2",
    "n_beats",
    "n_ectopic",
)

TRUTH_METHODS: dict[str, Any] = {
    "estimated_with_pipeline_estimator": {
        "columns": ["hr_bpm", "rmssd_ms", "lnrmssd", "sdnn_ms", "hf_ms2", "lnhf"],
        "estimator": "physio.hrv.hrv_window on the true beats (premature beats and their "
        "compensatory pause replaced by interpolated sinus intervals, flagged corrected); "
        "validity gates opened",
    },
    "analytic_exact": {
        "columns": ["scl_us", "scr_count", "scr_rate_per_min", "breathing_rate_bpm",
                    "resp_amplitude", "vagal", "sympathetic"],
        "how": "means of the true curves / counts of the planted events over the window",
    },
    "analytic_expected": {
        "columns": ["hr_model_bpm", "rmssd_model_ms", "hf_model_ms2"],
        "how": "soothe.simulate.physiology from the window's mean drives and breathing "
        "(expected value; the realised beats scatter around it)",
    },
}


def window_spans(timeline: SessionTimeline, window_s: float = WINDOW_S) -> list[tuple]:
    """(phase, window, start_s, end_s) for every window of every phase."""
    out = []
    for span in timeline.phases:
        start = span.window_start_s
        w = 1
        while span.window_end_s - start >= MIN_WINDOW_S:
            end = min(start + window_s, span.window_end_s)
            out.append((span.name, w, start, end))
            start += window_s
            w += 1
    return out


def sinus_beats(beats: BeatSeries) -> Any:
    """The true beats as a ``physio.ecg.BeatSeries`` with premature beats corrected.

    The interval ending at a premature beat and the compensatory pause after it are
    replaced by linear interpolation between the neighbouring sinus intervals and
    flagged ``corrected``, as the pipeline's artefact correction does.
    """
    rr = np.array(beats.rr_ms, dtype=float)
    corrected = np.zeros(len(rr), dtype=bool)
    for c in np.flatnonzero(beats.ectopic):
        pair = [i for i in (c, c + 1) if 0 < i < len(rr)]
        corrected[pair] = True
    bad = np.flatnonzero(corrected)
    good = np.flatnonzero(~corrected & np.isfinite(rr))
    if len(bad) and len(good) >= 2:
        rr[bad] = np.interp(bad, good, rr[good])
    return PhysioBeats(np.asarray(beats.times_s, float), rr, corrected, [], {})


def _hrv(pb: Any, start: float, end: float, min_hf_window_s: float) -> dict[str, Any]:
    return hrv_window(pb, start, end, max_corrected_pct=100.0, max_corrected_hr_pct=100.0,
                      min_coverage=0.0, min_beats=3, min_hf_beats=20,
                      min_hf_window_s=min_hf_window_s)


def _rows(
    spans: list[tuple],
    participant_id: str,
    timeline: SessionTimeline,
    beats: BeatSeries,
    curves: dict[str, np.ndarray],
    scr_onsets: np.ndarray,
    min_hf_window_s: float,
) -> pd.DataFrame:
    pb = sinus_beats(beats)
    grid = curves["t"]
    rows = []
    for phase, w, start, end in spans:
        h = _hrv(pb, start, end, min_hf_window_s)
        a, b = np.searchsorted(grid, [start, end])
        mean = {k: (float(np.mean(v[a:b])) if b > a else np.nan) for k, v in curves.items()
                if k not in ("t", "hr0", "a0")}
        n_scr = int(np.sum((scr_onsets >= start) & (scr_onsets < end)))
        lo, hi = np.searchsorted(beats.times_s, [start, end])
        rmssd = h["rmssd_ms"]
        hr_m = float(phys.heart_rate(curves["hr0"][0], mean["vagal"], mean["sympathetic"]))
        amp = curves["a0"][0] * np.exp(mean["vagal"])
        rows.append({
            "participant_id": participant_id,
            "condition": timeline.condition,
            "phase": phase,
            "window": w,
            "start_s": round(start, 4),
            "end_s": round(end, 4),
            "hr_bpm": h["hr_bpm"],
            "rmssd_ms": rmssd,
            "lnrmssd": float(np.log(rmssd)) if rmssd > 0 else np.nan,
            "sdnn_ms": h["sdnn_ms"],
            "hf_ms2": h["hf_ms2"],
            "lnhf": h["lnhf"],
            "scl_us": mean["scl"],
            "scr_count": n_scr,
            "scr_rate_per_min": n_scr / ((end - start) / 60.0),
            "breathing_rate_bpm": mean["rate"],
            "resp_amplitude": mean["depth"],
            "vagal": mean["vagal"],
            "sympathetic": mean["sympathetic"],
            "hr_model_bpm": hr_m,
            "rmssd_model_ms": float(phys.rmssd_expected(amp, hr_m, mean["rate"])),
            "hf_model_ms2": float(phys.hf_expected(amp, mean["rate"], hr_m)),
            "n_beats": int(hi - lo),
            "n_ectopic": int(beats.ectopic[lo:hi].sum()),
        })
    return pd.DataFrame(rows, columns=list(TRUTH_WINDOW_COLUMNS))


def truth_curves(model: Any, timeline: SessionTimeline, tonic: np.ndarray | None = None,
                 grid_hz: float = 10.0, drift_phase: float = 0.0) -> dict[str, np.ndarray]:
    """The true continuous curves on a regular grid: drives, breathing, tonic SCL."""
    t = np.arange(int(timeline.duration_s * grid_hz)) / grid_hz
    d = drives(model, timeline, t)
    rate, depth = breathing(model, timeline, t)
    scl = eda_tonic(model, timeline, t, drift_phase) if tonic is None else tonic
    return {"t": t, "vagal": d["vagal"], "sympathetic": d["sympathetic"], "rate": rate,
            "depth": depth, "scl": scl, "hr0": np.array([model.baseline["hr_bpm"]]),
            "a0": np.array([model.rsa_amp_ms])}


def truth_windows(
    participant_id: str,
    timeline: SessionTimeline,
    beats: BeatSeries,
    curves: dict[str, np.ndarray],
    scr_onsets: np.ndarray,
    window_s: float = WINDOW_S,
) -> pd.DataFrame:
    """True per-window indices (see the module docstring for which are estimated)."""
    return _rows(window_spans(timeline, window_s), participant_id, timeline, beats, curves,
                 np.asarray(scr_onsets, float), MIN_HF_WINDOW_S)


def truth_phases(
    participant_id: str,
    timeline: SessionTimeline,
    beats: BeatSeries,
    curves: dict[str, np.ndarray],
    scr_onsets: np.ndarray,
) -> pd.DataFrame:
    """True per-phase indices over each phase's whole window span (HF included)."""
    spans = [(p.name, 1, p.window_start_s, p.window_end_s) for p in timeline.phases
             if p.window_end_s - p.window_start_s >= MIN_WINDOW_S]
    out = _rows(spans, participant_id, timeline, beats, curves,
                np.asarray(scr_onsets, float), MIN_HF_WINDOW_S)
    return out.drop(columns=["window"])


def hf_power(times_s: np.ndarray, rr_ms: np.ndarray) -> float:
    """HF power (ms^2) of an RR series with the pipeline's estimator (whole span).

    Examples
    --------
    >>> t = np.cumsum(np.full(300, 0.8))
    >>> rr = 800 + 20 * np.sin(2 * np.pi * 0.25 * t)
    >>> 150 < hf_power(t, rr) < 250
    True
    """
    return pipeline_hf(times_s, rr_ms, float(times_s[0]), float(times_s[-1]))


def truth_beats(beats: BeatSeries) -> pd.DataFrame:
    """The true beats: R-peak time, RR interval ending there, ectopic flag."""
    return pd.DataFrame(
        {
            "r_peak_s": np.round(beats.times_s, 6),
            "rr_ms": np.round(beats.rr_ms, 4),
            "ectopic": beats.ectopic.astype(bool),
        }
    )
