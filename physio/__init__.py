"""Physiology pipeline: readers for lab exports and ECG/EDA processing (no PsychoPy).

The names below are imported on first use (PEP 562), so ``import physio.cli`` (and
``soothe physio --help``) does not load pandas and numpy.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Channel": "physio.recording",
    "Recording": "physio.recording",
    "ChannelError": "physio.errors",
    "PhaseError": "physio.errors",
    "PhysioError": "physio.errors",
    "ReaderError": "physio.errors",
    "SignalQualityError": "physio.errors",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'physio' has no attribute {name!r}")
