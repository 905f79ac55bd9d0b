"""The true beat series: RR intervals beat by beat, with planted trends, RSA and ectopics.

Each RR interval is drawn at the time its beat occurs from

    RR = T(t) + A(t) sin(phi_resp(t)) + B sin(2 pi f_LF t) + sigma e,

where ``T = 60000 / HR(t)`` follows the planted heart-rate course, the respiratory sinus
arrhythmia (HF, the participant's breathing rate of 0.2-0.3 Hz) has its amplitude ``A(t)``
solved so the expected RMSSD equals the planted RMSSD(t), ``B`` is a Mayer-wave (LF, 0.1
Hz) oscillation and ``e`` white jitter. For a sinusoid of amplitude A sampled once per
beat, successive differences have RMS ``sqrt(2) A sin(pi f T)``, which gives

    RMSSD^2 = 2 A^2 sin^2(pi f_HF T) + 2 B^2 sin^2(pi f_LF T) + 2 sigma^2.

Premature (ectopic) beats are inserted by moving a sinus beat earlier (55-70 % of its
interval), the classic full compensatory pause; they are flagged in the truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from soothe.simulate import effects
from soothe.simulate.noise import NoiseOptions
from soothe.simulate.participant import ParticipantModel, planted_level
from soothe.simulate.timeline import SessionTimeline

GRID_HZ = 20.0


@dataclass(frozen=True)
class BeatSeries:
    """The true beats of one session."""

    times_s: np.ndarray  # R-peak times on the session clock
    rr_ms: np.ndarray  # interval ending at each beat (NaN for the first)
    ectopic: np.ndarray  # bool: premature beat
    resp_phase: np.ndarray  # respiratory phase at each beat (rad), for ECG amplitude

    def __len__(self) -> int:
        return len(self.times_s)


def generate_beats(
    model: ParticipantModel,
    timeline: SessionTimeline,
    rng: np.random.Generator,
    noise: NoiseOptions | None = None,
) -> BeatSeries:
    """Generate the true beat series for a whole session.

    Examples
    --------
    >>> from conditions.protocol import load_protocol
    >>> from soothe.simulate.timeline import build_timeline
    >>> from soothe.simulate.participant import draw_participant
    >>> rng = np.random.default_rng(0)
    >>> tl = build_timeline(load_protocol(), "neutral", rng)
    >>> beats = generate_beats(draw_participant("neutral", rng), tl, rng)
    >>> bool(np.all(np.diff(beats.times_s) > 0.3))
    True
    """
    noise = noise or NoiseOptions()
    hrv = effects.HRV_STRUCTURE
    n_grid = int(np.ceil((timeline.duration_s + 3.0) * GRID_HZ)) + 1
    grid = np.arange(n_grid) / GRID_HZ
    period_ms = 60000.0 / planted_level(model, timeline, grid, "hr_bpm")
    rmssd_ms = np.exp(planted_level(model, timeline, grid, "ln_rmssd"))
    resp_hz = model.resp_hz + hrv["resp_hz_wander"] * np.sin(
        2 * np.pi * grid / 90.0 + model.resp_wander_phase
    )
    resp_phase = 2 * np.pi * np.cumsum(resp_hz) / GRID_HZ
    lf_amp, sigma = hrv["lf_amp_ms"], hrv["white_sd_ms"]
    lf = lf_amp * np.sin(2 * np.pi * hrv["lf_hz"] * grid + model.lf_phase)
    t_s = period_ms / 1000.0
    lf_part = 2 * lf_amp**2 * np.sin(np.pi * hrv["lf_hz"] * t_s) ** 2
    hf_sq = np.maximum(rmssd_ms**2 - lf_part - 2 * sigma**2, (0.3 * rmssd_ms) ** 2)
    rsa_amp = np.sqrt(hf_sq / 2.0) / np.abs(np.sin(np.pi * resp_hz * t_s))
    rsa = rsa_amp * np.sin(resp_phase)

    n_max = int(timeline.duration_s * 220 / 60) + 10
    jitter = rng.normal(0.0, sigma, n_max)
    times = np.empty(n_max)
    phases = np.empty(n_max)
    t = float(rng.uniform(0.1, 0.8))
    k = 0
    end = timeline.duration_s
    # the recursion t[k+1] = t[k] + RR(t[k]) is inherently sequential; ~3000 steps
    while t < end and k < n_max:
        i = int(t * GRID_HZ)
        times[k] = t
        phases[k] = resp_phase[i]
        rr = period_ms[i] + rsa[i] + lf[i] + jitter[k]
        t += min(max(rr, 300.0), 2000.0) / 1000.0
        k += 1
    times, phases = times[:k], phases[:k]
    ectopic = np.zeros(k, dtype=bool)
    if noise.ectopic_beats and k > 10:
        expected = noise.ectopic_per_min * timeline.duration_s / 60.0
        n_ect = int(rng.poisson(expected))
        candidates = rng.permutation(np.arange(3, k - 3))
        chosen: list[int] = []
        for c in candidates:
            if len(chosen) >= n_ect:
                break
            if all(abs(c - j) > 3 for j in chosen):
                chosen.append(int(c))
        for c in chosen:
            frac = rng.uniform(0.55, 0.70)
            times[c] = times[c - 1] + frac * (times[c] - times[c - 1])
            ectopic[c] = True
    rr_ms = np.empty(k)
    rr_ms[0] = np.nan
    rr_ms[1:] = np.diff(times) * 1000.0
    return BeatSeries(times, rr_ms, ectopic, phases)


def rmssd_valid_intervals(beats: BeatSeries) -> np.ndarray:
    """True for intervals not adjacent to an ectopic beat (used for the true RMSSD).

    The interval ending at a premature beat and the one after it (the compensatory pause)
    are excluded, as an artefact-correcting pipeline would.
    """
    valid = np.isfinite(beats.rr_ms)
    ect = np.flatnonzero(beats.ectopic)
    valid[ect] = False
    valid[np.minimum(ect + 1, len(valid) - 1)] = False
    return valid
