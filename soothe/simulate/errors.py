"""The simulator's error type, in a module of its own so that ``soothe simulate --help``
and argument checks can name it without loading numpy or pandas."""

from __future__ import annotations

from conditions.errors import SootheError


class SimulationError(SootheError, ValueError):
    """Bad simulator arguments (for example a non-positive sampling rate)."""
