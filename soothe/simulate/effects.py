"""The simulated study's effect model, as data.

Everything the simulator plants lives here, so that the analysis can read the same numbers
(``planted_effects()`` and the ``planted_effects.json`` written beside every simulated
dataset) and check that it recovers them.

Physiology
    During the induction the planted change relative to the participant's own resting
    baseline is a LINEAR ramp in time since audio onset: ``offset(t) = slope * t / 60`` with
    ``t`` in seconds, so the true value averaged over induction minute ``m`` (m = 1..11) is
    ``baseline + slope * (m - 0.5)``. A model ``value ~ condition * minute + baseline``
    recovers ``slope`` as the condition's minute coefficient (minus neutral's, which is 0).
    Heart rate is planted in bpm, RMSSD on the natural-log scale (``slope`` = change of
    ln RMSSD per minute, i.e. about ``100 * slope`` % per minute), SCL in uS (tonic level).
    Each participant's slope is ``slope + N(0, sd)``. After the audio ends the offset
    decays exponentially back toward baseline (time constant ``recovery_tau_s``).
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
from typing import Any

#: Planted slope per induction minute, by measure and condition.
PHYSIO_SLOPES: dict[str, dict[str, float]] = {
    "hr_bpm": {
        "kindness_self": -0.35,
        "body_scan": -0.35,
        "positive_excitement": 0.30,
        "rumination": 0.30,
        "neutral": 0.0,
    },
    "ln_rmssd": {
        "kindness_self": 0.025,
        "body_scan": 0.025,
        "positive_excitement": 0.0,
        "rumination": -0.020,
        "neutral": 0.0,
    },
    "scl_us": {
        "kindness_self": -0.040,
        "body_scan": -0.040,
        "positive_excitement": 0.0,
        "rumination": 0.040,
        "neutral": 0.0,
    },
}

#: Between-participant SD of each planted slope (same units as the slope).
SLOPE_SD: dict[str, float] = {"hr_bpm": 0.10, "ln_rmssd": 0.008, "scl_us": 0.012}

#: Units and plain-words meaning of each measure.
MEASURE_UNITS: dict[str, str] = {
    "hr_bpm": "bpm per induction minute",
    "ln_rmssd": "ln(ms) per induction minute (x100 = approx. % change of RMSSD per minute)",
    "scl_us": "uS per induction minute (tonic skin conductance level)",
}

#: Resting baseline distribution across participants.
BASELINE: dict[str, dict[str, float]] = {
    "hr_bpm": {"mean": 72.0, "sd": 8.0, "min": 52.0, "max": 100.0},
    "ln_rmssd": {"mean": 3.6, "sd": 0.35, "min": 2.6, "max": 4.6},  # exp(3.6) = 37 ms
    "scl_us": {"mean": 5.0, "sd": 2.0, "min": 1.0, "max": 15.0},
}

#: Offsets (relative to baseline) held during questionnaire phases: reading and moving the
#: mouse raise arousal a little. Not part of the induction model.
QUESTIONNAIRE_OFFSET: dict[str, float] = {"hr_bpm": 1.5, "ln_rmssd": -0.05, "scl_us": 0.15}

#: After audio offset the induction offset decays as exp(-dt / tau).
RECOVERY_TAU_S = 150.0

#: Heart-rate variability structure (see ``soothe.simulate.rr``).
HRV_STRUCTURE: dict[str, float] = {
    "resp_hz_min": 0.20,  # each participant's breathing rate is drawn in [min, max]
    "resp_hz_max": 0.30,
    "resp_hz_wander": 0.02,  # slow wander of the breathing rate (Hz)
    "lf_hz": 0.1,  # Mayer-wave (baroreflex) oscillation
    "lf_amp_ms": 12.0,
    "white_sd_ms": 4.0,  # beat-to-beat jitter not explained by HF/LF
}

#: Skin conductance responses (see ``soothe.simulate.eda_synth``).
SCR_MODEL: dict[str, Any] = {
    "base_rate_per_min": {"mean": 2.0, "sd": 0.6, "min": 0.5},
    # rate multiplier = exp(gain * (SCL offset in uS)); arousal raises the SCR rate
    "rate_gain_per_us": 1.5,
    "questionnaire_rate_factor": 1.5,
    "amplitude_min_us": 0.05,
    "amplitude_mean_extra_us": 0.15,  # amplitude = min + Exponential(mean_extra)
    "rise_tau_s": 0.75,
    "decay_tau_s": 2.0,
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


def physio_slope(measure: str, condition: str) -> float:
    """Planted slope per induction minute of ``measure`` under ``condition`` (0 if none).

    Examples
    --------
    >>> physio_slope("hr_bpm", "kindness_self")
    -0.35
    >>> physio_slope("hr_bpm", "neutral")
    0.0
    """
    return float(PHYSIO_SLOPES.get(measure, {}).get(condition, 0.0))


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


def planted_effects() -> dict[str, Any]:
    """The whole effect model as one JSON-ready dictionary, with a plain-words description.

    Examples
    --------
    >>> planted_effects()["physiology"]["slopes_per_minute"]["scl_us"]["rumination"]
    0.04
    """
    return {
        "description": __doc__.strip(),
        "physiology": {
            "slopes_per_minute": copy.deepcopy(PHYSIO_SLOPES),
            "slope_units": dict(MEASURE_UNITS),
            "slope_between_participant_sd": dict(SLOPE_SD),
            "window_mean_at_minute_m": "baseline + slope * (m - 0.5); minute 1 starts at "
            "audio onset (marker induction_minute_1)",
            "baseline_distribution": copy.deepcopy(BASELINE),
            "questionnaire_phase_offset": dict(QUESTIONNAIRE_OFFSET),
            "recovery_tau_s": RECOVERY_TAU_S,
            "hrv_structure": dict(HRV_STRUCTURE),
            "lnhf_note": "HF power is not planted directly: it comes from the respiratory "
            "modulation of RR whose amplitude is set to reach the planted RMSSD, so ln HF follows "
            "the ln RMSSD course only approximately (measured on 6 per group, seed 11: about "
            "+0.025 to +0.034 per minute for the self-compassion conditions, -0.034 for "
            "rumination, within +-0.015 of 0 for neutral and positive excitement). The truth "
            "files give per-window HF from the true RR series as a reference.",
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
