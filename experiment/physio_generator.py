"""The simulated amplifier's signals: ECG, EDA and a respiration belt, chunk by chunk.

Pure numpy, no LSL: the simulated device (:mod:`experiment.simulated_device`) streams what
:class:`PhysioGenerator` produces, and the signal check's scenarios
(:mod:`experiment.signals.scenarios`) apply their faults to it. The generator does not know
the condition, so it plants no effect:

- **ECG**: beat by beat from an RR series around 70 bpm with respiratory sinus arrhythmia
  (0.25 Hz, ±40 ms) and small random variability; each beat is a sum of Gaussian P, Q, R,
  S and T waves (a McSharry-style shape, amplitudes in mV).
- **EDA**: a tonic level of 5 µS with slow drift, plus a skin-conductance response about
  every 20 s (bi-exponential shape, rise 0.7 s, recovery 3 s, 0.1-0.4 µS).
- **Respiration** (with ``resp=True``, a third channel in V, as a belt bridged to LSL):
  15 breaths/min (in step with the sinus arrhythmia) and, on a deep breath, one breath
  three times as deep.
- **Deep breath on request**: :meth:`PhysioGenerator.deep_breath` plants, 1.5-2.5 s after the
  request, a skin-conductance response of ``breath_response_us`` (0 for a non-responder).
"""

from __future__ import annotations

import numpy as np

# (relative time to R in s, width s, amplitude mV): P, Q, R, S, T
_WAVES = ((-0.20, 0.025, 0.12), (-0.03, 0.010, -0.12), (0.0, 0.012, 1.1),
          (0.03, 0.010, -0.25), (0.25, 0.050, 0.30))


class PhysioGenerator:
    """Endless ECG (mV) and EDA (µS) at ``rate`` Hz, produced chunk by chunk.

    Examples
    --------
    >>> gen = PhysioGenerator(rate=250, seed=1)
    >>> chunk = gen.next_chunk(500)
    >>> chunk.shape
    (500, 2)
    >>> bool(chunk[:, 0].max() > 0.8)      # R peaks
    True
    """

    def __init__(self, rate: float = 500.0, seed: int = 0, hr_bpm: float = 70.0, *,
                 resp: bool = False, spontaneous_scr: bool = True,
                 breath_response_us: float = 0.5, tonic_us: float = 5.0) -> None:
        self.rate = float(rate)
        self.rng = np.random.default_rng(seed)
        self.mean_rr = 60.0 / hr_bpm
        self.n = 0
        self.beats: list[float] = [0.3]
        self.scrs: list[tuple[float, float]] = []
        self.next_scr = 5.0 if spontaneous_scr else float("inf")
        self.resp = resp
        self.breath_response_us = float(breath_response_us)
        self.tonic_us = float(tonic_us)
        self.deep_breaths: list[float] = []

    def deep_breath(self, t: float) -> None:
        """The participant takes one deep breath at ``t`` (s on this generator's clock).

        A skin-conductance response of ``breath_response_us`` follows 1.5-2.5 s later (skin
        conductance responds to an inspiratory gasp after 1-3 s); the belt shows one breath
        three times as deep.

        Examples
        --------
        >>> gen = PhysioGenerator(rate=50, seed=2, resp=True, spontaneous_scr=False)
        >>> gen.deep_breath(1.0)
        >>> x = gen.next_chunk(400)
        >>> bool(x[300:, 1].max() - x[:50, 1].min() > 0.1)
        True
        """
        self.deep_breaths.append(float(t))
        if self.breath_response_us > 0:
            self.scrs.append((float(t) + self.rng.uniform(1.5, 2.5), self.breath_response_us))

    def _extend_beats(self, until: float) -> None:
        while self.beats[-1] < until + 1.0:
            t = self.beats[-1]
            rr = self.mean_rr + 0.04 * np.sin(2 * np.pi * 0.25 * t) + self.rng.normal(0, 0.015)
            self.beats.append(t + max(rr, 0.3))

    def next_chunk(self, n: int) -> np.ndarray:
        """The next ``n`` samples as an (n, 2) array: columns ecg (mV), eda (µS) (and a third,
        resp (V), with ``resp=True``)."""
        t = (self.n + np.arange(n)) / self.rate
        self.n += n
        self._extend_beats(t[-1])
        ecg = np.zeros(n)
        for beat in self.beats:
            if beat < t[0] - 0.6 or beat > t[-1] + 0.6:
                continue
            for dt, width, amp in _WAVES:
                ecg += amp * np.exp(-0.5 * ((t - beat - dt) / width) ** 2)
        ecg += self.rng.normal(0, 0.01, n)
        while self.next_scr < t[-1] + 30:
            self.scrs.append((self.next_scr, self.rng.uniform(0.1, 0.4)))
            self.next_scr += self.rng.uniform(12, 28)
        eda = self.tonic_us + 0.3 * np.sin(2 * np.pi * t / 300.0)
        for onset, amp in self.scrs:
            if onset > t[-1] or onset < t[0] - 40:
                continue
            x = np.clip(t - onset, 0, None)
            eda += amp * 1.35 * (np.exp(-x / 3.0) - np.exp(-x / 0.7)) * (t >= onset)
        eda += self.rng.normal(0, 0.002, n)
        self.beats = [b for b in self.beats if b > t[-1] - 2]
        if not self.resp:
            return np.column_stack([ecg, eda]).astype(np.float32)
        resp = np.sin(2 * np.pi * 0.25 * t + 0.3 * np.sin(2 * np.pi * t / 37.0))
        for b in self.deep_breaths:  # one 4-s breath, 0.5 s after the request
            x = np.clip((t - b - 0.5) / 4.0, 0.0, 1.0)
            resp += 2.0 * np.sin(np.pi * x) ** 2
        resp += self.rng.normal(0, 0.01, n)
        return np.column_stack([ecg, eda, resp]).astype(np.float32)
