"""Suite-wide settings. Fixtures that need a screen or audio live beside the tests using them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
#: ``../shared/data`` beside the repository, or $SOOTHE_SHARED_DATA (e.g. from a git worktree)
SHARED_DATA = Path(os.environ.get("SOOTHE_SHARED_DATA") or REPO.parent / "shared" / "data")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the repository; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA}")
    return SHARED_DATA


def in_ci() -> bool:
    """True when running under CI (a missing screen or audio device is then an error)."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")
