"""The study protocol as data: timeline, conditions, marker codes, questionnaires, scoring.

This package has no PsychoPy import and is shared by every other layer. The names below
are imported on first use (PEP 562), so importing a submodule such as
``conditions.errors`` does not parse the protocol module.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "DatasetError": "conditions.errors",
    "ProtocolError": "conditions.errors",
    "SootheError": "conditions.errors",
    "CONDITION_NAMES": "conditions.protocol",
    "Condition": "conditions.protocol",
    "MarkerTable": "conditions.protocol",
    "Phase": "conditions.protocol",
    "Protocol": "conditions.protocol",
    "QuestionnaireRef": "conditions.protocol",
    "RandomisationSettings": "conditions.protocol",
    "default_protocol_path": "conditions.protocol",
    "load_protocol": "conditions.protocol",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'conditions' has no attribute {name!r}")
