"""An analyst's review of one recording: unsaved edits, undo, the crash journal, the save.

Nothing the analyst does on the page reaches the derivative tables before Save. Until
then every change is journaled to a draft file under ``DERIV/log/review/`` (never the edit
file), so a crashed browser or server loses nothing: the next page that opens the
recording offers the draft back. Save merges with the edit file as it is on disk *now*
(another analyst may have saved since the page opened: :func:`physio.edits.merge_edits`,
a disagreement is refused and nothing is written), writes the edit file atomically, and
re-processes the recording so its tables reflect the edits.
"""

from __future__ import annotations

import getpass
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from physio.edits import Edit, EditConflictError, merge_edits, read_edits, write_edits
from physio.review.catalog import session_files_of


def default_author() -> str:
    """The analyst's name when none is given: the operating system's user name."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user database entry (a container's anonymous uid)
        return os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"


def draft_path(windows_json: Path) -> Path:
    """Where the unsaved edits of a recording are journaled:
    ``DERIV/log/review/<prefix>_edits-draft.tsv`` (outside the BIDS tables).

    Examples
    --------
    >>> p = Path("/d/sub-01/ses-1/beh/sub-01_ses-1_task-induction_desc-windows_physio.json")
    >>> draft_path(p).as_posix()
    '/d/log/review/sub-01_ses-1_task-induction_edits-draft.tsv'
    """
    files = session_files_of(windows_json)
    return files.root / "log" / "review" / f"{files.prefix}_edits-draft.tsv"


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes ('' when absent): tells whether it changed since."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except FileNotFoundError:
        return ""


@dataclass
class SaveResult:
    """What a save did: the edits now on disk, whether another analyst's were merged in,
    and the re-processing's record (None when it was not run)."""

    edits: list[Edit]
    merged: bool
    reprocessed: dict[str, Any] | None


@dataclass
class ReviewSession:
    """The unsaved edits of one recording, their undo stack and their journal.

    Parameters
    ----------
    windows_json : Path
        The recording's windows sidecar.
    author : str
        Written into every edit.
    saved : list of Edit
        The edit file as the page loaded it.
    """

    windows_json: Path
    author: str
    saved: list[Edit] = field(default_factory=list)
    pending: list[Edit] = field(default_factory=list)
    loaded_digest: str = ""

    @classmethod
    def open(cls, windows_json: Path, author: str) -> ReviewSession:
        """The session of a recording as its edit file is now (no unsaved edits)."""
        files = session_files_of(windows_json)
        path = files.edits_tsv(files.root)
        return cls(Path(windows_json), author, read_edits(path), [], file_digest(path))

    @property
    def edits_tsv(self) -> Path:
        files = session_files_of(self.windows_json)
        return files.edits_tsv(files.root)

    @property
    def draft(self) -> Path:
        return draft_path(self.windows_json)

    # ------------------------------------------------------------------ changes
    def add(self, edit: Edit) -> None:
        """One more unsaved edit (journaled at once)."""
        self.pending.append(edit)
        self.journal()

    def undo(self) -> Edit | None:
        """Take back the newest unsaved edit (None when there is none)."""
        if not self.pending:
            return None
        edit = self.pending.pop()
        self.journal()
        return edit

    def journal(self) -> None:
        """Write the unsaved edits to the draft file (atomic), or remove it when none."""
        if self.pending:
            self.draft.parent.mkdir(parents=True, exist_ok=True)
            write_edits(self.draft, self.pending)
        else:
            self.discard_draft()

    # ------------------------------------------------------------------ the draft
    def draft_edits(self) -> list[Edit]:
        """The unsaved edits an earlier page left in the draft file ([] when none)."""
        try:
            return read_edits(self.draft)
        except ValueError:  # a draft that cannot be read is not worth stopping the page
            return []

    def restore_draft(self) -> int:
        """Take the earlier page's unsaved edits back as this page's; returns how many."""
        self.pending = self.draft_edits()
        self.journal()
        return len(self.pending)

    def discard_draft(self) -> None:
        """Forget the journaled unsaved edits."""
        for p in (self.draft, self.draft.with_suffix(".json")):
            p.unlink(missing_ok=True)

    # ------------------------------------------------------------------ saving
    def merged_edits(self) -> tuple[list[Edit], bool]:
        """The edit file's rows after this save: ``(rows, merged with another analyst's)``.

        Raises
        ------
        EditConflictError
            The file on disk changed since the page opened and holds an edit that
            disagrees with one of this page's.
        """
        path = self.edits_tsv
        if file_digest(path) == self.loaded_digest:
            return [*self.saved, *self.pending], False
        on_disk = read_edits(path)
        return merge_edits(on_disk, [*self.saved, *self.pending], where=str(path)), True

    def save(self, reprocess: Callable[[Path], dict[str, Any]] | None = None) -> SaveResult:
        """Write the edit file (merged with the one on disk), then re-process the recording.

        The unsaved edits stay pending, and the file untouched, when the merge is refused
        (:class:`~physio.edits.EditConflictError` propagates). After the write the draft is
        removed: the edits are in the edit file, which is written atomically.
        """
        rows, merged = self.merged_edits()
        write_edits(self.edits_tsv, rows)
        self.saved, self.pending = rows, []
        self.loaded_digest = file_digest(self.edits_tsv)
        self.discard_draft()
        record = reprocess(self.windows_json) if reprocess is not None else None
        return SaveResult(rows, merged, record)


__all__ = ["EditConflictError", "ReviewSession", "SaveResult", "default_author", "draft_path"]
