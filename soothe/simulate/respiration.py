"""The respiration-belt channel (V): the same breath whose phase drives the RSA.

The belt signal is ``depth(t) / 2 * w(phi(t))`` plus a slow baseline drift and sensor
noise, where ``phi`` is the breathing phase (:func:`soothe.simulate.rr.respiration_phase`,
the integral of the breathing rate), ``w`` a breath shape with a quicker inspiration
than expiration (a sine with its second harmonic, zero mean) and ``depth`` the
participant's depth (slower breaths are deeper). Breath-to-breath depth varies by about
10 % (a slow random factor). The true breathing rate per window is the mean of the rate
curve over the window (``truth-minutes``: ``breathing_rate_bpm``).
"""

from __future__ import annotations

import numpy as np

from soothe.simulate.noise import NoiseOptions
from soothe.simulate.participant import ParticipantModel, breathing
from soothe.simulate.rr import respiration_phase
from soothe.simulate.timeline import SessionTimeline

#: Grid (Hz) on which the breath phase and depth are computed before interpolation.
RESP_GRID_HZ = 20.0


def breath_shape(phase: np.ndarray) -> np.ndarray:
    """Belt waveform of one breath cycle, zero mean, peak-to-peak about 2.

    Examples
    --------
    >>> x = breath_shape(np.linspace(0, 2 * np.pi, 1000, endpoint=False))
    >>> abs(float(x.mean())) < 1e-9
    True
    """
    return np.sin(phase) + 0.25 * np.sin(2 * phase - 0.5)


def belt_render(
    model: ParticipantModel,
    timeline: SessionTimeline,
    fs: float,
    n_samples: int,
    rng: np.random.Generator,
    noise: NoiseOptions | None = None,
) -> np.ndarray:
    """The respiration-belt signal (V) of a whole session at ``fs`` Hz.

    Examples
    --------
    >>> from conditions.protocol import load_protocol
    >>> from soothe.simulate.timeline import build_timeline
    >>> from soothe.simulate.participant import draw_participant
    >>> rng = np.random.default_rng(0)
    >>> tl = build_timeline(load_protocol(), "neutral", rng)
    >>> belt = belt_render(draw_participant("neutral", rng), tl, 50.0, 5000, rng)
    >>> 0.1 < float(np.ptp(belt)) < 3.0
    True
    """
    noise = noise or NoiseOptions()
    n_grid = int(np.ceil(n_samples / fs * RESP_GRID_HZ)) + 2
    grid = np.arange(n_grid) / RESP_GRID_HZ
    phase = respiration_phase(model, timeline, grid)
    _, depth = breathing(model, timeline, grid)
    # breath-to-breath depth variation: a slow random factor of about +-10 %
    slow = rng.normal(0.0, 1.0, n_grid // int(RESP_GRID_HZ * 4) + 2)
    factor = 1.0 + 0.1 * np.interp(grid, np.arange(len(slow)) * 4.0, slow)
    wave = 0.5 * depth * factor * breath_shape(phase)
    if noise.baseline_wander:  # slow belt drift (posture, belt tension)
        for f in rng.uniform(0.003, 0.02, 2):
            wave += 0.05 * np.sin(2 * np.pi * f * grid + rng.uniform(0, 6.3))
    belt = np.interp(np.arange(n_samples) / fs, grid, wave)
    if noise.sensor_noise:
        belt += rng.normal(0.0, 0.005, n_samples)
    return belt
