"""Names shared by the analysis modules: conditions, constructs, measures and palette."""

from __future__ import annotations

from conditions.protocol import CONDITION_NAMES

#: Conditions in canonical order; ``neutral`` is the reference of every model.
CONDITIONS: tuple[str, ...] = CONDITION_NAMES
REFERENCE = "neutral"
SELF_COMPASSION_CONDITIONS: tuple[str, ...] = ("kindness_self", "body_scan")
ACTIVE_CONTROL = "positive_excitement"

#: Physiological measures of the tidy table: name -> (window column, validity column,
#: label, unit). ``ln_rmssd`` is the ``lnrmssd`` column (log(rmssd_ms) where that is absent).
PHYSIO_MEASURES: dict[str, tuple[str, str, str, str]] = {
    "hr_bpm": ("hr_bpm", "ecg_valid", "Heart rate", "bpm"),
    "rmssd_ms": ("rmssd_ms", "ecg_valid", "RMSSD", "ms"),
    "ln_rmssd": ("lnrmssd", "ecg_valid", "ln RMSSD", "ln(ms)"),
    "sdnn_ms": ("sdnn_ms", "ecg_valid", "SDNN", "ms"),
    "lnhf": ("lnhf", "hf_valid", "ln HF power", "ln(ms²)"),
    "scl_us": ("scl_us", "eda_valid", "Skin conductance level", "µS"),
    "scr_rate_per_min": ("scr_rate_per_min", "eda_valid", "SCR rate", "1/min"),
}

#: Measures modelled minute by minute: HR, ln RMSSD (the per-minute vagal index; Laborde et
#: al., 2017) and SCL. HF needs >= 120 s and breathing in its band, so it is a phase-level
#: secondary outcome (:mod:`analysis.phase_hf`), not a growth-curve outcome.
MODEL_MEASURES: tuple[str, ...] = ("hr_bpm", "ln_rmssd", "scl_us")

#: Which signal each measure comes from (for exclusions by invalid windows).
MEASURE_SIGNAL: dict[str, str] = {
    "hr_bpm": "ecg",
    "rmssd_ms": "ecg",
    "ln_rmssd": "ecg",
    "sdnn_ms": "ecg",
    "lnhf": "ecg",
    "scl_us": "eda",
    "scr_rate_per_min": "eda",
}

PHYSIO_PHASES: tuple[str, ...] = ("baseline", "induction", "recovery")
QUESTIONNAIRE_PHASES: tuple[str, ...] = ("pre_questionnaire", "post_questionnaire")

#: Okabe & Ito (2008) colour-blind-safe palette, one colour per condition.
PALETTE: dict[str, str] = {
    "kindness_self": "#0072B2",
    "body_scan": "#009E73",
    "positive_excitement": "#E69F00",
    "rumination": "#D55E00",
    "neutral": "#7F7F7F",
}


#: Short display labels for tables and figures (the protocol's labels are the long titles).
CONDITION_LABELS: dict[str, str] = {
    "kindness_self": "Kindness (self)",
    "body_scan": "Body scan",
    "positive_excitement": "Positive excitement",
    "rumination": "Rumination",
    "neutral": "Neutral",
}

#: Display labels of the state constructs.
CONSTRUCT_LABELS: dict[str, str] = {
    "self_compassion": "Self-compassion",
    "self_criticism": "Self-criticism",
    "safe_content": "Safe/content",
    "connected_secure": "Connected/secure",
    "drive_activation": "Drive/activation",
    "threat": "Threat",
    "relaxed": "Relaxed",
}


def display_label(name: str) -> str:
    """Manuscript label of a condition, construct or physiological measure.

    Examples
    --------
    >>> display_label("kindness_self"), display_label("self_compassion")
    ('Kindness (self)', 'Self-compassion')
    >>> display_label("scl_us"), display_label("new_thing")
    ('Skin conductance level (µS)', 'New thing')
    """
    if name in CONDITION_LABELS:
        return CONDITION_LABELS[name]
    if name in CONSTRUCT_LABELS:
        return CONSTRUCT_LABELS[name]
    if name in PHYSIO_MEASURES:
        return measure_label(name)
    return name.replace("_", " ").capitalize()


def measure_label(measure: str) -> str:
    """Readable label with unit, e.g. ``'Heart rate (bpm)'``.

    Examples
    --------
    >>> measure_label("hr_bpm")
    'Heart rate (bpm)'
    >>> measure_label("self_compassion")
    'self compassion'
    """
    if measure in PHYSIO_MEASURES:
        _, _, label, unit = PHYSIO_MEASURES[measure]
        return f"{label} ({unit})"
    return measure.replace("_", " ")
