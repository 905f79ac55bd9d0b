"""The true beat series: RR intervals beat by beat, driven by the latent drives.

Each RR interval is drawn at the time its beat occurs from

    RR = T(t) + A(t) sin(phi_resp(t)) + B sin(2 pi f_LF t) + sigma e,

where ``T = 60000 / HR(t)`` with HR set by the sympathetic drive and vagal withdrawal,
``A(t) = A0 exp(v(t))`` is the respiratory sinus arrhythmia whose amplitude only the vagal
drive sets and whose phase follows the participant's breathing (``phi_resp``, the same
phase the respiration belt shows), ``B`` a Mayer-wave (LF, 0.1 Hz) oscillation and ``e``
white jitter. RMSSD and HF are *measured* on these beats, never planted; see
:mod:`soothe.simulate.physiology` for their expected values.

Premature (ectopic) beats are inserted by moving a sinus beat earlier (55-70 % of its
interval), the classic full compensatory pause; they are flagged in the truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from soothe.simulate import effects
from soothe.simulate.noise import NoiseOptions
from soothe.simulate.participant import ParticipantModel, breathing, drives
from soothe.simulate.physiology import heart_rate
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
    d = drives(model, timeline, grid)
    period_ms = 60000.0 / heart_rate(model.baseline["hr_bpm"], d["vagal"], d["sympathetic"])
    resp_phase = respiration_phase(model, timeline, grid)
    lf_amp, sigma = hrv["lf_amp_ms"], hrv["white_sd_ms"]
    lf = lf_amp * np.sin(2 * np.pi * hrv["lf_hz"] * grid + model.lf_phase)
    rsa = model.rsa_amp_ms * np.exp(d["vagal"]) * np.sin(resp_phase)

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
        # people differ a lot in how many premature beats they have: a gamma-distributed
        # personal rate (shape 1) around the population mean
        rate = noise.ectopic_per_min * float(rng.gamma(1.0, 1.0))
        expected = rate * timeline.duration_s / 60.0
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


def respiration_phase(model: ParticipantModel, timeline: SessionTimeline,
                      grid: np.ndarray) -> np.ndarray:
    """Breathing phase (rad) on a regular ``grid`` (s): the integral of the breathing rate.

    The RSA and the respiration belt share it, so the heart follows the breath.
    """
    rate, _ = breathing(model, timeline, grid)
    dt = grid[1] - grid[0] if len(grid) > 1 else 1.0
    return 2 * np.pi * np.cumsum(rate / 60.0) * dt
