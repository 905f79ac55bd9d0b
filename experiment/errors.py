"""Errors the session runner raises on purpose (all derive from SootheError)."""

from __future__ import annotations

from conditions.errors import SootheError


class SessionError(SootheError):
    """A session cannot start or go on: bad start-up entries, a missing device, a full disk."""


class SessionAborted(SootheError):
    """The experimenter pressed Escape and confirmed: the session stops, everything is kept."""


class AudioPreflightError(SessionError):
    """An induction audio file is missing, unreadable or does not match the protocol."""


class MarkerError(SessionError):
    """A marker back end could not be opened or a marker spec is malformed."""


class SessionCancelled(SessionAborted):
    """The experimenter cancelled the start-up dialog: nothing was started or recorded."""
