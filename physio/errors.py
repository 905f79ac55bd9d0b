"""Error types of the physiology pipeline."""

from __future__ import annotations

from conditions.errors import SootheError


class PhysioError(SootheError):
    """Base class of physiology errors."""


class ReaderError(PhysioError, ValueError):
    """A file could not be read as the format it claims to be.

    The message names the file, the channel (when relevant) and what was expected.
    """


class ChannelError(PhysioError, ValueError):
    """A required channel is missing, ambiguous or has implausible content."""


class PhaseError(PhysioError, ValueError):
    """Markers cannot be mapped to protocol phases."""


class SignalQualityError(PhysioError, ValueError):
    """A signal is unusable as a whole (flat, saturated, too short...)."""
