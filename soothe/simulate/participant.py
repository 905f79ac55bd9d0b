"""One simulated participant: resting traits, planted drive slopes, and the drives over time.

``drives`` is the single definition of the latent vagal and sympathetic drives that the
beat series, the EDA, the respiration and the ground truth all follow; ``breathing``
gives the breathing rate and depth. See :mod:`soothe.simulate.effects` for the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from soothe.simulate import effects
from soothe.simulate.physiology import breathing_rate, rsa_amplitude_at_rest
from soothe.simulate.timeline import SessionTimeline

DRIVES = ("vagal", "sympathetic")
#: Grid (Hz) on which the slow drive wander is drawn before interpolation.
WANDER_GRID_HZ = 1.0


@dataclass(frozen=True)
class ParticipantModel:
    """Traits of one simulated participant (all drawn from ``effects``)."""

    condition: str
    baseline: dict[str, float]  # hr_bpm, ln_rmssd, scl_us, breathing_rate_bpm, belt_depth_v
    drive_slopes: dict[str, float]  # this participant's slope per induction minute
    drive_onset: dict[str, float]  # person-level step at induction onset
    rsa_amp_ms: float  # RSA amplitude at rest (A0)
    lf_phase: float
    scr_rate_per_min: float
    eda_responder: bool
    time_course: str = "linear"
    wander_seed: int = 0

    @property
    def slopes(self) -> dict[str, float]:
        """This participant's drive slopes (kept under the old name for callers)."""
        return dict(self.drive_slopes)

    @property
    def resp_hz(self) -> float:
        """Resting breathing frequency (Hz)."""
        return self.baseline["breathing_rate_bpm"] / 60.0

    @property
    def eda_coupling(self) -> float:
        """1 for EDA responders, ``non_responder_coupling`` otherwise."""
        return 1.0 if self.eda_responder else effects.SCR_MODEL["non_responder_coupling"]


def _clipped_normal(rng: np.random.Generator, spec: dict[str, float]) -> float:
    value = rng.normal(spec["mean"], spec["sd"])
    return float(np.clip(value, spec.get("min", -np.inf), spec.get("max", np.inf)))


def draw_participant(
    condition: str,
    rng: np.random.Generator,
    *,
    time_course: str = "linear",
    non_responder_fraction: float | None = None,
) -> ParticipantModel:
    """Draw a participant's resting traits and drive slopes for ``condition``.

    Examples
    --------
    >>> m = draw_participant("rumination", np.random.default_rng(1))
    >>> 50 <= m.baseline["hr_bpm"] <= 105
    True
    >>> m.drive_slopes["vagal"] < 0.1
    True
    """
    effects.time_course(0.0, time_course)  # refuse an unknown course early
    b = effects.BASELINE
    hr0 = _clipped_normal(rng, b["hr_bpm"])
    ln_rmssd0 = _clipped_normal(rng, b["ln_rmssd"])
    scl0 = float(np.exp(_clipped_normal(rng, b["ln_scl_us"])))
    br0 = _clipped_normal(rng, b["breathing_rate_bpm"])
    depth0 = _clipped_normal(rng, b["belt_depth_v"])
    var = effects.DRIVE_VARIABILITY
    slopes = {d: effects.drive_slope(d, condition) + float(rng.normal(0, var[d]["slope_sd"]))
              for d in DRIVES}
    onset = {d: float(rng.normal(0.0, var[d]["onset_sd"])) for d in DRIVES}
    scr = effects.SCR_MODEL
    frac = scr["non_responder_fraction"] if non_responder_fraction is None else (
        non_responder_fraction)
    responder = bool(rng.random() >= frac)
    rate = max(float(rng.normal(scr["base_rate_per_min"]["mean"],
                                scr["base_rate_per_min"]["sd"])), scr["base_rate_per_min"]["min"])
    if not responder:
        scl0 = float(scr["non_responder_scl_us"] * np.exp(rng.normal(0, 0.2)))
        rate = scr["non_responder_rate_per_min"]
    baseline = {"hr_bpm": hr0, "ln_rmssd": ln_rmssd0, "scl_us": scl0,
                "breathing_rate_bpm": br0, "belt_depth_v": depth0}
    return ParticipantModel(
        condition=condition,
        baseline=baseline,
        drive_slopes=slopes,
        drive_onset=onset,
        rsa_amp_ms=rsa_amplitude_at_rest(float(np.exp(ln_rmssd0)), hr0, br0),
        lf_phase=float(rng.uniform(0, 2 * np.pi)),
        scr_rate_per_min=rate,
        eda_responder=responder,
        time_course=time_course,
        wander_seed=int(rng.integers(0, 2**31 - 1)),
    )


def induction_course(model: ParticipantModel, timeline: SessionTimeline, t: np.ndarray,
                     slope: float, onset: float = 0.0) -> np.ndarray:
    """A planted offset at times ``t`` (s): 0 before the audio, ``onset + slope * g(tau)``
    during it, an exponential return to 0 after it.

    Examples
    --------
    >>> from conditions.protocol import load_protocol
    >>> from soothe.simulate.timeline import build_timeline
    >>> rng = np.random.default_rng(0)
    >>> tl = build_timeline(load_protocol(), "kindness_self", rng)
    >>> m = draw_participant("kindness_self", rng)
    >>> round(float(induction_course(m, tl, np.array([tl.audio_onset_s + 330.0]), 0.1)[0]), 6)
    0.55
    """
    t = np.asarray(t, dtype=float)
    on, off = timeline.audio_onset_s, timeline.audio_offset_s
    out = np.zeros_like(t)
    during = (t >= on) & (t < off)
    dt = t[during] - on
    step = onset * (1.0 - np.exp(-dt / effects.ONSET_TAU_S))
    out[during] = step + slope * effects.time_course(dt / 60.0, model.time_course)
    after = t >= off
    end = onset * (1.0 - np.exp(-(off - on) / effects.ONSET_TAU_S)) + slope * float(
        effects.time_course((off - on) / 60.0, model.time_course))
    out[after] = end * np.exp(-(t[after] - off) / effects.RECOVERY_TAU_S)
    return out


def _wander(model: ParticipantModel, duration_s: float, t: np.ndarray, drive: str) -> np.ndarray:
    """Ornstein-Uhlenbeck wander of one drive (stationary, zero mean), at times ``t``."""
    spec = effects.DRIVE_VARIABILITY[drive]
    sd, tau = spec["wander_sd"], spec["wander_tau_s"]
    if sd <= 0:
        return np.zeros_like(np.asarray(t, float))
    rng = np.random.default_rng([model.wander_seed, DRIVES.index(drive)])
    n = int(np.ceil((duration_s + 5.0) * WANDER_GRID_HZ)) + 2
    a = np.exp(-1.0 / (WANDER_GRID_HZ * tau))
    e = rng.normal(0.0, sd * np.sqrt(1 - a * a), n)
    e[0] = rng.normal(0.0, sd)
    x = lfilter([1.0], [1.0, -a], e)
    return np.interp(t, np.arange(n) / WANDER_GRID_HZ, x)


def drives(model: ParticipantModel, timeline: SessionTimeline, t: np.ndarray,
           *, wander: bool = True) -> dict[str, np.ndarray]:
    """The latent vagal and sympathetic drives at session times ``t`` (s).

    ``wander=False`` gives the planted part only (condition, person slope and onset step,
    questionnaire arousal): the drives' expected course.

    Examples
    --------
    >>> from conditions.protocol import load_protocol
    >>> from soothe.simulate.timeline import build_timeline
    >>> rng = np.random.default_rng(0)
    >>> tl = build_timeline(load_protocol(), "neutral", rng)
    >>> d = drives(draw_participant("neutral", rng), tl, np.array([1.0]), wander=False)
    >>> float(d["vagal"][0]), float(d["sympathetic"][0])
    (0.0, 0.0)
    """
    t = np.asarray(t, dtype=float)
    out = {}
    for d in DRIVES:
        x = induction_course(model, timeline, t, model.drive_slopes[d], model.drive_onset[d])
        q = effects.QUESTIONNAIRE_DRIVE.get(d, 0.0)
        if q:
            for span in timeline.spans_of_kind("questionnaire"):
                x[(t >= span.onset_s) & (t < span.offset_s)] += q
        if wander:
            x = x + _wander(model, timeline.duration_s, t, d)
        out[d] = x
    return out


def breathing(model: ParticipantModel, timeline: SessionTimeline, t: np.ndarray,
              *, wander: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Breathing rate (breaths/min) and belt depth (V, peak to peak) at times ``t``.

    Examples
    --------
    >>> from conditions.protocol import load_protocol
    >>> from soothe.simulate.timeline import build_timeline
    >>> rng = np.random.default_rng(0)
    >>> tl = build_timeline(load_protocol(), "body_scan", rng)
    >>> m = draw_participant("body_scan", rng)
    >>> t = np.array([tl.audio_onset_s - 10, tl.audio_offset_s - 1])
    >>> rate, depth = breathing(m, tl, t, wander=False)
    >>> bool(rate[1] < rate[0] and depth[1] > depth[0])   # meditation: slower, deeper
    True
    """
    t = np.asarray(t, dtype=float)
    slowing = induction_course(model, timeline, t,
                               effects.MEDITATION_BREATHING.get(model.condition, 0.0))
    rate0 = model.baseline["breathing_rate_bpm"]
    rate = breathing_rate(rate0, slowing)
    if wander:
        w = effects.HRV_STRUCTURE["breathing_wander_bpm"]
        rate = np.maximum(rate + w * np.sin(2 * np.pi * t / 90.0 + model.lf_phase * 1.7), 4.0)
    depth = model.baseline["belt_depth_v"] * np.sqrt(rate0 / rate)
    return rate, depth
