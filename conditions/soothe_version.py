"""The soothe version written into sidecars, read without importing the ``soothe`` package.

``conditions`` is the lowest layer: it must not import the top-level ``soothe`` package
(the CLI and the simulator) just to learn the version. The installed distribution's
metadata says it; a source tree that was never installed has it in ``pyproject.toml``.
"""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

DISTRIBUTION = "soothe"
#: ``pyproject.toml`` of a source checkout (the repository root, above this package).
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def soothe_version() -> str:
    """The soothe version: the installed distribution's, else the source tree's, else
    ``"unknown"``.

    Examples
    --------
    >>> soothe_version().count(".") >= 1
    True
    """
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        pass
    try:
        return str(tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"
