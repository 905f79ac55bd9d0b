"""One simulated participant: baseline physiology, planted slopes, and their time course.

``planted_offset`` is the single definition of the condition-dependent time course that the
RR series, the EDA tonic level and the table-level simulation all follow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from soothe.simulate import effects
from soothe.simulate.timeline import SessionTimeline

MEASURES = ("hr_bpm", "ln_rmssd", "scl_us")


@dataclass(frozen=True)
class ParticipantModel:
    """Traits of one simulated participant (all drawn from ``effects``)."""

    condition: str
    baseline: dict[str, float]  # hr_bpm, ln_rmssd, scl_us at rest
    slopes: dict[str, float]  # this participant's planted slope per induction minute
    resp_hz: float
    resp_wander_phase: float
    lf_phase: float
    scr_rate_per_min: float


def _clipped_normal(rng: np.random.Generator, spec: dict[str, float]) -> float:
    value = rng.normal(spec["mean"], spec["sd"])
    return float(np.clip(value, spec.get("min", -np.inf), spec.get("max", np.inf)))


def draw_participant(condition: str, rng: np.random.Generator) -> ParticipantModel:
    """Draw a participant's baseline and slopes for ``condition``.

    Examples
    --------
    >>> m = draw_participant("rumination", np.random.default_rng(1))
    >>> 52 <= m.baseline["hr_bpm"] <= 100
    True
    """
    baseline = {k: _clipped_normal(rng, effects.BASELINE[k]) for k in MEASURES}
    slopes = {
        k: effects.physio_slope(k, condition) + float(rng.normal(0.0, effects.SLOPE_SD[k]))
        for k in MEASURES
    }
    hrv = effects.HRV_STRUCTURE
    scr = effects.SCR_MODEL["base_rate_per_min"]
    return ParticipantModel(
        condition=condition,
        baseline=baseline,
        slopes=slopes,
        resp_hz=float(rng.uniform(hrv["resp_hz_min"], hrv["resp_hz_max"])),
        resp_wander_phase=float(rng.uniform(0, 2 * np.pi)),
        lf_phase=float(rng.uniform(0, 2 * np.pi)),
        scr_rate_per_min=max(float(rng.normal(scr["mean"], scr["sd"])), scr["min"]),
    )


def planted_offset(
    model: ParticipantModel, timeline: SessionTimeline, t: np.ndarray, measure: str
) -> np.ndarray:
    """The planted offset from baseline of ``measure`` at session times ``t`` (s).

    Zero before the induction; ``slope * (t - audio_onset) / 60`` during it; after audio
    offset an exponential return to baseline; plus the small questionnaire-phase offset.

    Examples
    --------
    >>> from conditions.protocol import load_protocol
    >>> from soothe.simulate.timeline import build_timeline
    >>> rng = np.random.default_rng(0)
    >>> tl = build_timeline(load_protocol(), "kindness_self", rng)
    >>> m = draw_participant("kindness_self", rng)
    >>> t = np.array([tl.audio_onset_s + 330.0])
    >>> bool(np.isclose(planted_offset(m, tl, t, "hr_bpm")[0], m.slopes["hr_bpm"] * 5.5))
    True
    """
    t = np.asarray(t, dtype=float)
    slope = model.slopes[measure]
    on, off = timeline.audio_onset_s, timeline.audio_offset_s
    out = np.zeros_like(t)
    during = (t >= on) & (t < off)
    out[during] = slope * (t[during] - on) / 60.0
    after = t >= off
    end_value = slope * (off - on) / 60.0
    out[after] = end_value * np.exp(-(t[after] - off) / effects.RECOVERY_TAU_S)
    q_offset = effects.QUESTIONNAIRE_OFFSET.get(measure, 0.0)
    if q_offset:
        for span in timeline.spans_of_kind("questionnaire"):
            out[(t >= span.onset_s) & (t < span.offset_s)] += q_offset
    return out


def planted_level(
    model: ParticipantModel, timeline: SessionTimeline, t: np.ndarray, measure: str
) -> np.ndarray:
    """Baseline plus planted offset (HR in bpm, ln RMSSD in ln ms, SCL in uS)."""
    return model.baseline[measure] + planted_offset(model, timeline, t, measure)
