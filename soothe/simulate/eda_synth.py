"""EDA synthesis: a tonic level and skin conductance responses, both set by the
sympathetic drive.

The tonic level is the participant's resting SCL plus ``scl_per_sympathetic`` times the
sympathetic drive, plus a very slow drift. SCRs arrive as a Poisson process whose rate is
``rate0 * exp(scr_rate_gain * s)`` (and higher during questionnaires); each has a Bateman
shape ``exp(-t/tau_decay) - exp(-t/tau_rise)`` scaled to its peak amplitude
``(>= 0.05 uS) * exp(scr_amp_gain * s)``. So SCL, SCR rate and SCR amplitude rise
together under sympathetic drive. EDA non-responders (``eda_responder`` False) have a low
SCL, almost no SCRs and a weak coupling to the drive.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import oaconvolve

from soothe.simulate import effects
from soothe.simulate.noise import NoiseOptions
from soothe.simulate.participant import ParticipantModel, drives
from soothe.simulate.physiology import skin_conductance
from soothe.simulate.timeline import SessionTimeline


def eda_tonic(
    model: ParticipantModel, timeline: SessionTimeline, t: np.ndarray, drift_phase: float = 0.0
) -> np.ndarray:
    """True tonic skin conductance level (uS) at session times ``t``.

    Examples
    --------
    >>> from conditions.protocol import load_protocol
    >>> from soothe.simulate.timeline import build_timeline
    >>> from soothe.simulate.participant import draw_participant
    >>> rng = np.random.default_rng(0)
    >>> tl = build_timeline(load_protocol(), "neutral", rng)
    >>> bool(eda_tonic(draw_participant("neutral", rng), tl, np.array([10.0]))[0] > 0)
    True
    """
    t = np.asarray(t, dtype=float)
    s = sympathetic_at(model, timeline, t)
    base = skin_conductance(model.baseline["scl_us"], s, model.eda_coupling)
    # very slow drift (hydration, temperature): +-0.05 uS over ~20 min, zero-mean
    drift = 0.05 * np.sin(2 * np.pi * t / 1200.0 + drift_phase)
    return np.maximum(base + drift, 0.2)


def sympathetic_at(model: ParticipantModel, timeline: SessionTimeline, t: np.ndarray,
                   grid_hz: float = 10.0) -> np.ndarray:
    """The sympathetic drive at times ``t`` (computed on a ``grid_hz`` grid, interpolated)."""
    t = np.asarray(t, dtype=float)
    if len(t) < 4 * timeline.duration_s * grid_hz:
        return drives(model, timeline, t)["sympathetic"]
    grid = np.arange(0.0, timeline.duration_s + 1.0, 1.0 / grid_hz)
    return np.interp(t, grid, drives(model, timeline, grid)["sympathetic"])


def bateman_kernel(fs: float) -> np.ndarray:
    """One SCR of peak amplitude 1, sampled at ``fs`` Hz."""
    rise, decay = effects.SCR_MODEL["rise_tau_s"], effects.SCR_MODEL["decay_tau_s"]
    t = np.arange(int(np.ceil(8 * decay * fs))) / fs
    kernel = np.exp(-t / decay) - np.exp(-t / rise)
    return kernel / kernel.max()


def draw_scrs(
    model: ParticipantModel, timeline: SessionTimeline, rng: np.random.Generator
) -> pd.DataFrame:
    """SCR onsets (s), peak times (s) and amplitudes (uS) for the whole session."""
    cfg = effects.SCR_MODEL
    step = 0.5
    grid = np.arange(0.0, timeline.duration_s, step)
    s = drives(model, timeline, grid)["sympathetic"]
    gain = model.eda_coupling
    rate = model.scr_rate_per_min * np.exp(effects.COUPLING["scr_rate_gain"] * gain * s)
    for span in timeline.spans_of_kind("questionnaire"):
        rate[(grid >= span.onset_s) & (grid < span.offset_s)] *= cfg["questionnaire_rate_factor"]
    hits = rng.random(len(grid)) < rate / 60.0 * step
    onsets = grid[hits] + rng.uniform(0, step, hits.sum())
    # a new response is not triggered while the previous one is still rising: onsets
    # closer than the SCR rise (rise to peak ~1.2 s, plus latency jitter) merge into one
    if len(onsets) > 1:
        keep = np.ones(len(onsets), dtype=bool)
        last = onsets[0]
        for i in range(1, len(onsets)):
            if onsets[i] - last < cfg["min_interval_s"]:
                keep[i] = False
            else:
                last = onsets[i]
        onsets = onsets[keep]
    amps = cfg["amplitude_min_us"] + rng.exponential(cfg["amplitude_mean_extra_us"], len(onsets))
    s_at = np.interp(onsets, grid, s)
    amps = amps * np.exp(effects.COUPLING["scr_amp_gain"] * gain * np.clip(s_at, 0.0, None))
    amps = np.minimum(amps, cfg["amplitude_max_us"])
    rise, decay = cfg["rise_tau_s"], cfg["decay_tau_s"]
    t_peak = np.log(decay / rise) * rise * decay / (decay - rise)
    return pd.DataFrame({"onset_s": onsets, "peak_s": onsets + t_peak, "amplitude_us": amps})


def eda_render(tonic: np.ndarray, scrs: pd.DataFrame, fs: float) -> np.ndarray:
    """Tonic plus SCRs (uS) at ``fs`` Hz."""
    n = len(tonic)
    impulses = np.zeros(n)
    idx = np.round(scrs["onset_s"].to_numpy() * fs).astype(np.int64)
    ok = idx < n
    np.add.at(impulses, idx[ok], scrs["amplitude_us"].to_numpy()[ok])
    phasic = oaconvolve(impulses, bateman_kernel(fs))[:n]
    return tonic + phasic


def eda_add_noise(
    eda: np.ndarray,
    fs: float,
    rng: np.random.Generator,
    noise: NoiseOptions,
    motion_times_s: np.ndarray,
) -> np.ndarray:
    """Add sensor noise and motion artefacts (sharp transients) to EDA (in place)."""
    n = len(eda)
    if noise.sensor_noise:
        eda += rng.normal(0.0, noise.eda_noise_sd_us, n)
    for start in motion_times_s:
        i0 = int(start * fs)
        if i0 >= n:
            continue
        length = min(int(2.0 * fs), n - i0)
        shape = np.exp(-np.arange(length) / (0.3 * fs))
        eda[i0 : i0 + length] += rng.choice([-1.0, 1.0]) * rng.uniform(0.2, 0.6) * shape
    np.maximum(eda, 0.05, out=eda)
    return eda
