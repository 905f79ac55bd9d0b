"""Noise switches of the simulator: each realistic artefact can be turned off on its own."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class NoiseOptions:
    """Which artefacts to add, and how much.

    The defaults are realistic but processable: a pipeline that handles real lab data
    should recover the ground truth from them.

    Examples
    --------
    >>> NoiseOptions.none().mains_hum
    False
    """

    baseline_wander: bool = True
    mains_hum: bool = True
    ectopic_beats: bool = True
    motion_artefacts: bool = True
    sensor_noise: bool = True
    electrode_bursts: bool = True
    mains_hz: float = 50.0
    mains_amp_mv: float = 0.02
    wander_amp_mv: float = 0.12
    ecg_noise_sd_mv: float = 0.01
    eda_noise_sd_us: float = 0.003
    #: population mean of premature beats per minute; each person's own rate is this times
    #: a Gamma(1, 1) draw (most have none or a few, some many): docs/simulation.md
    ectopic_per_min: float = 0.05
    motion_per_hour: float = 4.0
    #: electrode-noise bursts (EMG / contact noise, 0.5-3 s of broadband noise) per hour
    bursts_per_hour: float = 3.0
    burst_amp_mv: float = 0.1

    @classmethod
    def none(cls) -> NoiseOptions:
        """A clean signal: every switch off."""
        return cls(
            baseline_wander=False,
            mains_hum=False,
            ectopic_beats=False,
            motion_artefacts=False,
            sensor_noise=False,
            electrode_bursts=False,
        )

    def without(self, *names: str) -> NoiseOptions:
        """A copy with the named switches turned off."""
        return replace(self, **{n: False for n in names})
