"""The common recording object every reader returns.

Each channel keeps its **own** sampling rate and units (no resampling to a common rate),
markers are a small table of (onset_s, code, label), and the source file is remembered for
error messages and provenance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from physio.errors import ChannelError

MARKER_COLUMNS = ("onset_s", "code", "label")


@dataclass
class Channel:
    """One signal channel.

    Parameters
    ----------
    name : str
        Channel name as in the source file.
    data : numpy.ndarray
        1-D float64 samples.
    sampling_rate : float
        Hz, this channel's own rate.
    units : str
        Physical units as given by the source (``mV``, ``V``, ``uS``, ``kOhm``...).
    kind : str
        ``ecg``, ``eda``, ``rsp`` (respiration belt), ``digital`` or ``other``.
    start_s : float
        Time of the first sample on the recording clock (seconds).
    """

    name: str
    data: np.ndarray
    sampling_rate: float
    units: str = ""
    kind: str = "other"
    start_s: float = 0.0

    def __post_init__(self) -> None:
        self.data = np.asarray(self.data, dtype=np.float64).ravel()
        self.sampling_rate = float(self.sampling_rate)

    @property
    def duration_s(self) -> float:
        return len(self.data) / self.sampling_rate if self.sampling_rate > 0 else 0.0

    @property
    def times_s(self) -> np.ndarray:
        """Sample times on the recording clock."""
        return self.start_s + np.arange(len(self.data)) / self.sampling_rate


def empty_markers() -> pd.DataFrame:
    """An empty marker table with the right columns and dtypes."""
    return pd.DataFrame(
        {
            "onset_s": pd.Series(dtype=float),
            "code": pd.Series(dtype=int),
            "label": pd.Series(dtype=object),
        }
    )


@dataclass
class Recording:
    """A physiological recording: channels, markers and provenance.

    Examples
    --------
    >>> import numpy as np
    >>> rec = Recording(
    ...     channels={"ECG": Channel("ECG", np.zeros(1000), 1000.0, "mV", "ecg")},
    ...     source=Path("x.csv"), format="csv")
    >>> rec.ecg().sampling_rate
    1000.0
    """

    channels: dict[str, Channel]
    source: Path
    format: str
    markers: pd.DataFrame = field(default_factory=empty_markers)
    start_time: datetime | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def by_kind(self, kind: str) -> list[Channel]:
        return [c for c in self.channels.values() if c.kind == kind]

    def one_channel(self, kind: str) -> Channel:
        """The only channel of ``kind`` (``ecg``, ``eda``, ``rsp``...).

        Raises
        ------
        ChannelError
            No channel of that kind, or several (the message names the option that
            chooses one).

        Examples
        --------
        >>> rec = Recording({"GSR": Channel("GSR", np.ones(10), 10.0, "uS", "eda")},
        ...                 Path("x.csv"), "csv")
        >>> rec.one_channel("eda").name
        'GSR'
        """
        found = self.by_kind(kind)
        if not found:
            names = {n: c.kind for n, c in self.channels.items()}
            raise ChannelError(
                f"{self.source}: no {kind.upper()} channel found; channels are {names}. "
                f"Name one explicitly (e.g. --{kind}-channel NAME)."
            )
        if len(found) > 1:
            raise ChannelError(
                f"{self.source}: {len(found)} channels look like {kind.upper()} "
                f"({[c.name for c in found]}); choose one explicitly (--{kind}-channel NAME)."
            )
        return found[0]

    def ecg(self) -> Channel:
        """The ECG channel (error if none or ambiguous)."""
        return self.one_channel("ecg")

    def eda(self) -> Channel:
        """The EDA channel (error if none or ambiguous)."""
        return self.one_channel("eda")

    @property
    def duration_s(self) -> float:
        return max((c.start_s + c.duration_s for c in self.channels.values()), default=0.0)
