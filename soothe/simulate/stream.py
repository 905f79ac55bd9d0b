"""Chunked ECG and EDA for a simulated physiology device (the session runner's LSL source).

A ``PhysioStream`` simulates one whole session once (about 1-2 s at 1000 Hz) and then hands
the signal out in chunks, so a device loop can push it to an LSL outlet at the nominal
rate. The planted condition effect follows the simulator's own timeline
(``stream.timeline``: baseline, questionnaires, induction from ``timeline.audio_onset_s``);
the ground truth of what was streamed is ``stream.truth``.

Examples
--------
>>> s = PhysioStream("kindness_self", fs=100.0, seed=1)
>>> s.read(250).shape
(250, 2)
>>> round(s.position_s, 2)
2.5
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from conditions.protocol import Protocol, load_protocol
from soothe.simulate.noise import NoiseOptions
from soothe.simulate.timeline import SessionTimeline

CHANNELS = ("ECG", "EDA")
UNITS = ("mV", "uS")


class PhysioStream:
    """ECG (mV) and EDA (uS) of one simulated session, read chunk by chunk.

    Parameters
    ----------
    condition : str
        Condition whose planted time course the signal carries.
    fs : float
        Nominal sampling rate (Hz).
    seed : int
        Fixes every random draw.
    loop : bool
        When the simulated session is exhausted, start again from its beginning (default);
        otherwise keep repeating the last sample.
    """

    channels = CHANNELS
    units = UNITS

    def __init__(
        self,
        condition: str,
        *,
        fs: float = 1000.0,
        seed: int = 0,
        protocol: Protocol | None = None,
        noise: NoiseOptions | None = None,
        participant_index: int = 1,
        loop: bool = True,
    ) -> None:
        from soothe.simulate.study import simulate_session

        self.session = simulate_session(
            protocol or load_protocol(),
            "sim",
            condition,
            seed=seed,
            index=participant_index,
            fs=fs,
            noise=noise,
        )
        self.fs = float(fs)
        self.loop = loop
        self._data = np.column_stack([self.session.ecg_mv, self.session.eda_us]).astype(np.float32)
        self._pos = 0

    @property
    def timeline(self) -> SessionTimeline:
        """When each phase happens in the streamed signal (s from the first sample)."""
        return self.session.timeline

    @property
    def truth(self) -> pd.DataFrame:
        """True per-window HR, RMSSD and SCL of the streamed session."""
        return self.session.truth

    @property
    def position_s(self) -> float:
        """Seconds of signal handed out so far."""
        return self._pos / self.fs

    def read(self, n_samples: int) -> np.ndarray:
        """The next ``n_samples`` samples as a float32 array of shape (n, 2): ECG, EDA."""
        n_samples = int(n_samples)
        if n_samples < 0:
            raise ValueError(f"n_samples must be >= 0, got {n_samples}")
        total = len(self._data)
        idx = self._pos + np.arange(n_samples)
        idx = idx % total if self.loop else np.minimum(idx, total - 1)
        self._pos += n_samples
        return self._data[idx]

    def read_until(self, elapsed_s: float) -> np.ndarray:
        """All samples up to ``elapsed_s`` seconds since the first one (real-time pacing:
        call with the time elapsed on your clock, push what comes back)."""
        target = int(np.floor(float(elapsed_s) * self.fs))
        return self.read(max(target - self._pos, 0))


def iter_physio_chunks(
    condition: str,
    *,
    fs: float = 1000.0,
    chunk_s: float = 0.1,
    seed: int = 0,
    protocol: Protocol | None = None,
    noise: NoiseOptions | None = None,
) -> Iterator[np.ndarray]:
    """Yield consecutive (n, 2) float32 chunks of ``chunk_s`` seconds for ever (looping).

    Examples
    --------
    >>> chunks = iter_physio_chunks("neutral", fs=100.0, chunk_s=0.5)
    >>> next(chunks).shape
    (50, 2)
    """
    stream = PhysioStream(condition, fs=fs, seed=seed, protocol=protocol, noise=noise)
    n = max(int(round(chunk_s * fs)), 1)
    while True:
        yield stream.read(n)
