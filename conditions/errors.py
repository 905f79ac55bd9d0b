"""Error types shared by every soothe layer.

Every error the project raises on bad input derives from :class:`SootheError`, so a
caller (the batch runner, the CLI, a fuzz test) can tell the project's own, explained
failures apart from bugs.
"""

from __future__ import annotations


class SootheError(Exception):
    """Base class of every error soothe raises on purpose."""


class ProtocolError(SootheError, ValueError):
    """The protocol file (or a file it names) is invalid.

    The message always names the file, the key and what was wrong.
    """

    def __init__(self, file: str, key: str, problem: str) -> None:
        self.file = str(file)
        self.key = key
        self.problem = problem
        super().__init__(f"{self.file}: [{key}] {problem}")


class DatasetError(SootheError, ValueError):
    """A file of the BIDS data contract is missing or does not match its schema."""
