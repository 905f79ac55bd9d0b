"""The one error every allocation back end raises."""

from __future__ import annotations

from conditions.errors import SootheError


class AllocationError(SootheError):
    """The allocation database is missing, not initialised, or asked something invalid."""
