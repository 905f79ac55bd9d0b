"""The study protocol as data: timeline, conditions, marker codes, questionnaires, scoring.

This package has no PsychoPy import and is shared by every other layer.
"""

from conditions.errors import DatasetError, ProtocolError, SootheError
from conditions.protocol import (
    CONDITION_NAMES,
    Condition,
    MarkerTable,
    Phase,
    Protocol,
    QuestionnaireRef,
    RandomisationSettings,
    default_protocol_path,
    load_protocol,
)

__all__ = [
    "CONDITION_NAMES",
    "Condition",
    "DatasetError",
    "MarkerTable",
    "Phase",
    "Protocol",
    "ProtocolError",
    "QuestionnaireRef",
    "RandomisationSettings",
    "SootheError",
    "default_protocol_path",
    "load_protocol",
]
