"""The simulated study's generative model, as data: the one source of planted effects.

Everything the simulator plants lives here. The signal simulator (``soothe simulate``,
``soothe demo``), the table-level generators (``simulate_study_tables`` and
``analysis.synthetic``) and ``soothe power`` all read these numbers, and
``planted_effects.json`` (written beside every simulated dataset) records them.

Physiology: two latent drives per participant and per moment
    ``vagal`` (v) and ``sympathetic`` (s), dimensionless, 0 at the participant's own rest.
    Conditions act on the drives only, never on a measured index:

    - the vagal drive scales the respiratory sinus arrhythmia: RSA amplitude
      ``A = A0 * exp(v)`` (ms), and through it RMSSD and HF power;
    - heart rate ``HR = HR0 + hr_per_sympathetic * s - hr_per_vagal * v`` (bpm): sympathetic
      drive and vagal withdrawal both raise it;
    - skin conductance level ``SCL = SCL0 + scl_per_sympathetic * s`` (uS), the SCR rate
      ``rate0 * exp(scr_rate_gain * s)`` and the SCR amplitude ``amp0 * exp(scr_amp_gain * s)``;
    - breathing has a rate and a depth; the meditation conditions slow it
      (``MEDITATION_BREATHING``) and a slower breath is a deeper one.

    RMSSD is not planted: it is measured on the beats. For an RSA of amplitude A at
    breathing frequency f sampled once per beat (period T), successive differences have
    RMS ``sqrt(2) * A * sin(pi f T)``, so a constant RSA at a faster heart gives a *lower*
    RMSSD, and slower breathing lowers it too. HF power of the same sinusoid is ``A^2 / 2``
    while f lies in the HF band (0.15-0.40 Hz) and leaves the band when breathing drops
    below 9/min.

Time course
    During the induction each drive moves from the participant's rest by
    ``slope * g(tau)`` with ``tau`` the minutes since audio onset: ``linear``
    ``g = tau``; ``saturating`` ``g = 11 * (1 - exp(-tau / 2.5)) / (1 - exp(-11 / 2.5))``
    (the same end value, 87 % of it by minute 5). After audio offset the offset decays
    exponentially (``RECOVERY_TAU_S``). Questionnaire phases add a small arousal
    (``QUESTIONNAIRE_DRIVE``). Each participant's slope is ``slope + N(0, sd)``, plus a
    person-level step at induction onset and a slow (Ornstein-Uhlenbeck) wander of both
    drives. The implied per-minute slope of each index (what a linear growth model
    estimates) is :func:`implied_index_slopes`.
Self-report
    Each construct's latent state (0-100 VAS points, before reverse keying) is
    ``pre = mean + N(0, person_sd)`` and ``post = pre + shift[condition][construct] +
    N(0, response_sd)``; an item's rating is the latent plus a fixed item bias and
    ``N(0, item_noise_sd)``, reverse-keyed when the item is reversed, clipped to the item's
    scale (and rounded to integers on a Likert scale). Constructs missing from the table
    have zero shift.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import numpy as np

# The coupling gains and the HRV structure are part of this model; they live in their own
# module because the analytic core (physiology) needs them too, and are re-exported here.
# (This module's docstring is written into planted_effects.json: keep it as it is.)
from soothe.simulate import physiology as phys
from soothe.simulate.coupling import COUPLING, HRV_STRUCTURE

#: Induction length the slopes refer to (minutes) -- the protocol's 11-minute audio.
INDUCTION_MIN = 11.0
#: Time constant of the saturating time course (minutes).
SATURATING_TAU_MIN = 2.5
TIME_COURSES = ("linear", "saturating")

#: Planted change of each latent drive per induction minute, by condition.
DRIVE_SLOPES: dict[str, dict[str, float]] = {
    "vagal": {
        "kindness_self": 0.030,
        "body_scan": 0.030,
        "positive_excitement": 0.0,
        "rumination": -0.020,
        "neutral": 0.0,
    },
    "sympathetic": {
        "kindness_self": -0.025,
        "body_scan": -0.025,
        "positive_excitement": 0.050,
        "rumination": 0.033,
        "neutral": 0.0,
    },
}

#: Between-participant SD of each drive's slope (per minute), of the person-level step at
#: induction onset, and the within-person minute-to-minute wander (OU process: SD, tau s).
DRIVE_VARIABILITY: dict[str, dict[str, float]] = {
    "vagal": {"slope_sd": 0.025, "onset_sd": 0.05, "wander_sd": 0.12, "wander_tau_s": 120.0},
    "sympathetic": {"slope_sd": 0.040, "onset_sd": 0.10, "wander_sd": 0.15,
                    "wander_tau_s": 120.0},
}

#: Meditation conditions slow breathing (breaths/min less per induction minute, with the
#: condition's time course); a slower breath is deeper (depth x (rate0/rate)^0.5).
MEDITATION_BREATHING: dict[str, float] = {"kindness_self": 0.15, "body_scan": 0.15}

#: Resting baselines across participants (healthy students; sources in docs/simulation.md).
BASELINE: dict[str, dict[str, float]] = {
    "hr_bpm": {"mean": 72.0, "sd": 10.0, "min": 50.0, "max": 105.0},
    "ln_rmssd": {"mean": 3.65, "sd": 0.45, "min": 2.5, "max": 5.0},  # exp(3.65) = 38 ms
    "ln_scl_us": {"mean": 1.6, "sd": 0.55, "min": 0.0, "max": 3.0},  # median 5 uS
    "breathing_rate_bpm": {"mean": 15.0, "sd": 2.5, "min": 11.0, "max": 20.0},
    "belt_depth_v": {"mean": 0.5, "sd": 0.12, "min": 0.2, "max": 1.0},
}

#: Arousal added to the drives during questionnaire phases (reading, moving the mouse).
QUESTIONNAIRE_DRIVE: dict[str, float] = {"vagal": -0.05, "sympathetic": 0.20}

#: After audio offset the induction offset decays as exp(-dt / tau).
RECOVERY_TAU_S = 150.0
#: The person-level step at induction onset builds up as 1 - exp(-dt / tau) (no jump).
ONSET_TAU_S = 30.0

#: Skin conductance responses (see ``soothe.simulate.eda_synth``).
SCR_MODEL: dict[str, Any] = {
    "base_rate_per_min": {"mean": 2.0, "sd": 0.6, "min": 0.5},
    "questionnaire_rate_factor": 1.5,
    "amplitude_min_us": 0.05,
    "amplitude_mean_extra_us": 0.15,  # amplitude = (min + Exponential(mean_extra)) * gain
    "amplitude_max_us": 1.0,  # typical SCRs are 0.1-1.0 uS (Dawson et al., 2017)
    "min_interval_s": 3.0,  # a response is not re-triggered during the previous one's rise
    "rise_tau_s": 0.75,
    "decay_tau_s": 2.0,
    # EDA non-responders: low, flat SCL, almost no SCRs, no drive coupling
    "non_responder_fraction": 0.12,
    "non_responder_scl_us": 1.0,
    "non_responder_rate_per_min": 0.05,
    "non_responder_coupling": 0.1,
}

#: Self-report: construct-level latent model on 0-100 VAS points.
SELFREPORT_MEAN: dict[str, float] = {
    "self_compassion": 50.0,
    "self_criticism": 40.0,
    "safe_content": 55.0,
    "connected_secure": 50.0,
    "drive_activation": 45.0,
    "threat": 30.0,
    "relaxed": 55.0,
}
SELFREPORT_DEFAULT_MEAN = 50.0
SELFREPORT_SD: dict[str, float] = {
    "person_sd": 12.0,  # between-person SD of the pre-induction latent state
    "response_sd": 6.0,  # between-person SD of the post - pre change
    "item_bias_sd": 5.0,  # fixed per-item offset
    "item_noise_sd": 8.0,  # per-answer noise
}

#: Planted post - pre shift per condition and construct (VAS points; sign = direction of
#: the construct as named, before any reverse keying). Missing entries are 0.
SELFREPORT_SHIFTS: dict[str, dict[str, float]] = {
    "kindness_self": {
        "self_compassion": 12.0,
        "self_criticism": -8.0,
        "safe_content": 10.0,
        "connected_secure": 10.0,
        "relaxed": 8.0,
        "threat": -5.0,
    },
    "body_scan": {
        "self_compassion": 10.0,
        "self_criticism": -6.0,
        "safe_content": 9.0,
        "connected_secure": 8.0,
        "relaxed": 10.0,
        "threat": -5.0,
    },
    "positive_excitement": {
        "self_compassion": 6.0,
        "drive_activation": 12.0,
    },
    "rumination": {
        "self_compassion": -8.0,
        "self_criticism": 10.0,
        "safe_content": -8.0,
        "connected_secure": -6.0,
        "relaxed": -8.0,
        "threat": 10.0,
    },
    "neutral": {},
}

#: Indices whose per-minute slope the analysis estimates (growth models).
INDEX_MEASURES = ("hr_bpm", "ln_rmssd", "lnhf", "scl_us", "breathing_rate_bpm")


def drive_slope(drive: str, condition: str) -> float:
    """Planted population slope per induction minute of a latent drive (0 if none).

    Examples
    --------
    >>> drive_slope("sympathetic", "positive_excitement")
    0.05
    >>> drive_slope("vagal", "positive_excitement")
    0.0
    """
    return float(DRIVE_SLOPES.get(drive, {}).get(condition, 0.0))


def time_course(tau_min: np.ndarray | float, course: str = "linear") -> np.ndarray:
    """Shape ``g(tau)`` of a planted change, in 'minutes of slope' (``g(11) = 11``).

    Examples
    --------
    >>> float(time_course(5.0))
    5.0
    >>> round(float(time_course(5.0, "saturating")) / 11, 2)  # most of the effect by minute 5
    0.88
    >>> round(float(time_course(11.0, "saturating")), 6)
    11.0
    """
    tau = np.clip(np.asarray(tau_min, dtype=float), 0.0, None)
    if course == "linear":
        return tau
    if course == "saturating":
        k = SATURATING_TAU_MIN
        return INDUCTION_MIN * (1 - np.exp(-tau / k)) / (1 - np.exp(-INDUCTION_MIN / k))
    raise ValueError(f"unknown time course {course!r}; expected one of {TIME_COURSES}")


def minute_mean_sd(drive: str, window_s: float = 60.0) -> float:
    """SD of a window mean of a drive's Ornstein-Uhlenbeck wander (exact for OU).

    Examples
    --------
    >>> round(minute_mean_sd("sympathetic") / DRIVE_VARIABILITY["sympathetic"]["wander_sd"], 2)
    0.92
    """
    spec = DRIVE_VARIABILITY[drive]
    r = spec["wander_tau_s"] / window_s
    return float(spec["wander_sd"] * np.sqrt(2 * r * (1 - r * (1 - np.exp(-1 / r)))))


def selfreport_shift(condition: str, construct: str) -> float:
    """Planted post - pre shift in VAS points (0 for constructs not in the table).

    Examples
    --------
    >>> selfreport_shift("rumination", "threat")
    10.0
    >>> selfreport_shift("neutral", "threat")
    0.0
    """
    return float(SELFREPORT_SHIFTS.get(condition, {}).get(construct, 0.0))


def typical_person() -> dict[str, float]:
    """The population-mean participant at rest (for the implied slopes)."""
    return {
        "hr_bpm": BASELINE["hr_bpm"]["mean"],
        "rmssd_ms": float(np.exp(BASELINE["ln_rmssd"]["mean"])),
        "scl_us": float(np.exp(BASELINE["ln_scl_us"]["mean"])),
        "breathing_rate_bpm": BASELINE["breathing_rate_bpm"]["mean"],
    }


@functools.lru_cache(maxsize=8)
def _implied(course: str) -> dict[str, dict[str, float]]:
    person = typical_person()
    minutes = np.arange(1, int(INDUCTION_MIN) + 1) - 0.5  # window centres
    g = time_course(minutes, course)
    out: dict[str, dict[str, float]] = {m: {} for m in INDEX_MEASURES}
    conditions = sorted({c for d in DRIVE_SLOPES.values() for c in d})
    a0 = phys.rsa_amplitude_at_rest(person["rmssd_ms"], person["hr_bpm"],
                                    person["breathing_rate_bpm"])
    for cond in conditions:
        v = drive_slope("vagal", cond) * g
        s = drive_slope("sympathetic", cond) * g
        hr = phys.heart_rate(person["hr_bpm"], v, s)
        br = phys.breathing_rate(person["breathing_rate_bpm"],
                                 MEDITATION_BREATHING.get(cond, 0.0) * g)
        amp = a0 * np.exp(v)
        series = {
            "hr_bpm": hr,
            "ln_rmssd": np.log(phys.rmssd_expected(amp, hr, br)),
            "lnhf": np.log(phys.hf_expected(amp, br)),
            "scl_us": phys.skin_conductance(person["scl_us"], s),
            "breathing_rate_bpm": br,
        }
        for m, y in series.items():
            out[m][cond] = float(np.polyfit(minutes, y, 1)[0])
    return out


def implied_index_slopes(course: str = "linear") -> dict[str, dict[str, float]]:
    """Per-minute slope of each index that the generative model implies, by condition.

    Each index's expected value for the population-mean participant is computed over the
    11 induction minutes from the drives (analytically: see
    :mod:`soothe.simulate.physiology`) and a straight line is fitted through it: the value
    a linear growth model estimates. Positive excitement plants no vagal change, yet its
    ln RMSSD slope is slightly negative: a faster heart samples the same RSA more often.

    Examples
    --------
    >>> s = implied_index_slopes()
    >>> s["hr_bpm"]["positive_excitement"]
    0.3
    >>> -0.01 < s["ln_rmssd"]["positive_excitement"] < 0
    True
    >>> s["lnhf"]["positive_excitement"]
    0.0
    """
    return {m: {c: round(v, 6) for c, v in d.items()} for m, d in _implied(course).items()}


def physio_slope(measure: str, condition: str, course: str = "linear") -> float:
    """Implied slope per induction minute of index ``measure`` under ``condition``.

    Examples
    --------
    >>> physio_slope("hr_bpm", "kindness_self")
    -0.3
    >>> physio_slope("hr_bpm", "neutral")
    0.0
    """
    return float(implied_index_slopes(course).get(measure, {}).get(condition, 0.0))


def planted_effects(course: str = "linear") -> dict[str, Any]:
    """The whole model as one JSON-ready dictionary, with a plain-words description.

    ``physiology.slopes_per_minute`` holds the implied index slopes (what the analysis
    should recover); ``physiology.drive_slopes_per_minute`` what is actually planted.

    Examples
    --------
    >>> doc = planted_effects()
    >>> doc["physiology"]["drive_slopes_per_minute"]["sympathetic"]["rumination"]
    0.033
    >>> doc["physiology"]["slopes_per_minute"]["hr_bpm"]["positive_excitement"]
    0.3
    """
    return {
        "description": __doc__.strip(),
        "physiology": {
            "time_course": course,
            "drive_slopes_per_minute": copy.deepcopy(DRIVE_SLOPES),
            "drive_variability": copy.deepcopy(DRIVE_VARIABILITY),
            "coupling": dict(COUPLING),
            "meditation_breathing_slowing_per_min": dict(MEDITATION_BREATHING),
            "slopes_per_minute": implied_index_slopes(course),
            "slope_units": {
                "hr_bpm": "bpm per induction minute",
                "ln_rmssd": "ln(ms) per induction minute",
                "lnhf": "ln(ms^2) per induction minute",
                "scl_us": "uS per induction minute",
                "breathing_rate_bpm": "breaths/min per induction minute",
            },
            "slopes_note": "implied by the drives for the population-mean participant: least-"
            "squares line through the expected index at induction minutes 1..11 (window "
            "centres); see soothe.simulate.effects.implied_index_slopes",
            "baseline_distribution": copy.deepcopy(BASELINE),
            "questionnaire_drive": dict(QUESTIONNAIRE_DRIVE),
            "recovery_tau_s": RECOVERY_TAU_S,
            "hrv_structure": dict(HRV_STRUCTURE),
            "scr_model": copy.deepcopy(SCR_MODEL),
        },
        "self_report": {
            "scale": "latent state in VAS points 0-100, mapped onto each item's own range",
            "pre_mean": dict(SELFREPORT_MEAN),
            "pre_mean_default": SELFREPORT_DEFAULT_MEAN,
            "sd": dict(SELFREPORT_SD),
            "post_minus_pre_shift": copy.deepcopy(SELFREPORT_SHIFTS),
            "unlisted_constructs": "zero shift",
        },
    }
