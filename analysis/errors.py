"""Error types of the analysis layer."""

from __future__ import annotations

from conditions.errors import SootheError


class AnalysisError(SootheError, ValueError):
    """An analysis input is missing or does not match what the analysis expects.

    The message names the file (or table), the column and what was expected.
    """
