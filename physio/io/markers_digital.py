"""Markers from digital input lines and trigger channels.

BIOPAC (and many amplifiers) record an 8-bit parallel-port code as 8 digital lines. The
lines are combined into one integer per sample (bit ``i`` = line ``i``), and a marker is
emitted wherever that code changes to a non-zero value. A trigger channel that already
carries the code (a "Stim" or "trigger" column) is decoded the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from physio.recording import Channel, empty_markers


def lines_to_code(lines: Sequence[np.ndarray]) -> np.ndarray:
    """Combine digital lines into one integer code per sample (bit ``i`` = line ``i``).

    A line counts as high above half its own maximum (BIOPAC stores 0/5 V or 0/1); a line
    that never rises above zero contributes nothing.

    Examples
    --------
    >>> lines_to_code([np.array([0, 5, 0, 5]), np.array([0, 0, 5, 5])]).tolist()
    [0, 1, 2, 3]
    """
    if not lines:
        return np.zeros(0, dtype=np.int64)
    n = min(len(x) for x in lines)
    code = np.zeros(n, dtype=np.int64)
    for bit, line in enumerate(lines):
        x = np.nan_to_num(np.asarray(line[:n], dtype=np.float64), nan=0.0)
        top = float(x.max()) if n else 0.0
        if top > 0:
            code |= (x > top / 2).astype(np.int64) << bit
    return code


def code_to_markers(
    code: np.ndarray, sampling_rate: float, *, start_s: float = 0.0, label: str = ""
) -> pd.DataFrame:
    """Markers where an integer code series changes to a non-zero value.

    A code present at the first sample counts as an event at that sample. Returning to
    zero (the trigger reset) is not an event.

    Examples
    --------
    >>> code_to_markers(np.array([0, 0, 3, 3, 0, 5, 7]), 2.0)["code"].tolist()
    [3, 5, 7]
    """
    c = np.asarray(code)
    if c.size == 0:
        return empty_markers()
    c = np.nan_to_num(c.astype(np.float64), nan=0.0).round().astype(np.int64)
    prev = np.r_[0, c[:-1]]
    idx = np.flatnonzero((c != prev) & (c != 0))
    if idx.size == 0:
        return empty_markers()
    return pd.DataFrame(
        {
            "onset_s": start_s + idx / float(sampling_rate),
            "code": c[idx].astype(int),
            "label": [label] * idx.size,
        }
    )


def _line_number(name: str, default: int) -> int:
    nums = re.findall(r"\d+", name)
    return int(nums[-1]) if nums else default


def digital_channels_to_markers(channels: Sequence[Channel]) -> pd.DataFrame:
    """Decode a set of digital-line channels into markers.

    Lines are ordered by the last number in their names (``D0``..``D7``, ``Digital input
    1``..``8``); the lowest number is bit 0. Lines at different rates are read on the grid
    of the fastest one (nearest earlier sample), never interpolated. A set that is
    constant zero gives no markers.

    Examples
    --------
    >>> lines = [Channel(f"D{i}", np.array([0, 5 * (i == 1), 0]), 10.0) for i in range(8)]
    >>> digital_channels_to_markers(lines)["code"].tolist()
    [2]
    """
    if not channels:
        return empty_markers()
    ordered = sorted(
        enumerate(channels), key=lambda p: (_line_number(p[1].name, p[0]), p[0])
    )
    chans = [c for _, c in ordered]
    fastest = max(chans, key=lambda c: c.sampling_rate)
    grid = fastest.times_s
    lines = []
    for ch in chans:
        if ch is fastest or (
            ch.sampling_rate == fastest.sampling_rate and ch.start_s == fastest.start_s
        ):
            x = ch.data
        else:
            pos = np.floor((grid - ch.start_s) * ch.sampling_rate).astype(np.int64)
            pos = np.clip(pos, 0, max(len(ch.data) - 1, 0))
            x = ch.data[pos] if len(ch.data) else np.zeros(len(grid))
        lines.append(x)
    code = lines_to_code(lines)
    return code_to_markers(code, fastest.sampling_rate, start_s=fastest.start_s)
