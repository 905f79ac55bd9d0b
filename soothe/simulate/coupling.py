"""How the latent drives reach the body: the coupling gains and the HRV structure.

These constants are part of the generative model (:mod:`soothe.simulate.effects`, which
re-exports them and writes them into ``planted_effects.json``). They live in a module of
their own because both the model (``effects``: the implied index slopes) and the analytic
core (:mod:`soothe.simulate.physiology`) need them, and ``effects`` uses ``physiology``:
keeping them here lets each of those import the other in one direction only.
"""

from __future__ import annotations

#: How the drives reach the body (units per unit of drive).
COUPLING: dict[str, float] = {
    "hr_per_sympathetic": 6.0,  # bpm
    "hr_per_vagal": 5.0,  # bpm lower per unit of vagal drive (vagal withdrawal raises HR)
    "scl_per_sympathetic": 1.5,  # uS
    "scr_rate_gain": 2.0,  # SCR rate x exp(gain * s)
    "scr_amp_gain": 1.0,  # SCR amplitude x exp(gain * s)
}

#: Heart-rate variability besides the RSA (see ``soothe.simulate.rr``).
HRV_STRUCTURE: dict[str, float] = {
    "breathing_wander_bpm": 0.6,  # slow wander of the breathing rate (breaths/min)
    "lf_hz": 0.1,  # Mayer-wave (baroreflex) oscillation
    "lf_amp_ms": 10.0,
    "white_sd_ms": 3.0,  # beat-to-beat jitter not explained by HF/LF
    "min_rsa_share": 0.3,  # the RSA carries at least this share of the resting RMSSD
}
