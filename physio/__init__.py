"""Physiology pipeline: readers for lab exports and ECG/EDA processing (no PsychoPy)."""

from physio.errors import ChannelError, PhaseError, PhysioError, ReaderError, SignalQualityError
from physio.recording import Channel, Recording

__all__ = [
    "Channel",
    "ChannelError",
    "PhaseError",
    "PhysioError",
    "ReaderError",
    "Recording",
    "SignalQualityError",
]
