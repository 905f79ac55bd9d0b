"""An analyst's review of one recording: unsaved edits, undo, the crash journal, the save.

Nothing the analyst does on the page reaches the derivative tables before Save. Until
then every change is journaled to the page's own draft file under ``DERIV/log/review/``
(never the edit file), so a crashed browser or server loses nothing: the next page that
opens the recording offers back every draft no open page holds. Each page has its own
draft, so two tabs on one recording never overwrite each other's journal. Save merges
with the edit file as it is on disk *now* (another analyst may have saved since the page
opened: :func:`physio.edits.merge_edits`, a disagreement is refused and nothing is
written), writes the edit file atomically, and re-processes the recording so its tables
reflect the edits.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import threading
import uuid
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


#: Marks a draft file; a page's own draft adds ``-<page id>`` after it.
DRAFT_MARK = "_edits-draft"
#: The ids of the review pages this server process holds open: their drafts are theirs,
#: not left over by a page that is gone (a closed tab, a crashed server).
_LIVE_PAGES: set[str] = set()
_LIVE_LOCK = threading.Lock()


def draft_path(windows_json: Path, page: str = "") -> Path:
    """Where a page's unsaved edits of a recording are journaled:
    ``DERIV/log/review/<prefix>_edits-draft-<page>.tsv`` (outside the BIDS tables).

    Examples
    --------
    >>> p = Path("/d/sub-01/ses-1/beh/sub-01_ses-1_task-induction_desc-windows_physio.json")
    >>> draft_path(p, "a1b2").as_posix()
    '/d/log/review/sub-01_ses-1_task-induction_edits-draft-a1b2.tsv'
    """
    files = session_files_of(windows_json)
    name = f"{files.prefix}{DRAFT_MARK}{'-' + page if page else ''}.tsv"
    return files.root / "log" / "review" / name


def recording_drafts(windows_json: Path) -> list[Path]:
    """Every draft file of a recording, whichever page wrote it (sorted by name)."""
    folder = draft_path(windows_json).parent
    prefix = session_files_of(windows_json).prefix
    return sorted(folder.glob(f"{prefix}{DRAFT_MARK}*.tsv")) if folder.is_dir() else []


def page_of(draft: Path) -> str:
    """The id of the page that wrote a draft ("" for a draft without one).

    Examples
    --------
    >>> page_of(Path("sub-01_task-x_edits-draft-a1b2.tsv")), page_of(Path("x_edits-draft.tsv"))
    ('a1b2', '')
    """
    tail = Path(draft).name.rsplit(DRAFT_MARK, 1)[-1].removesuffix(".tsv")
    return tail[1:] if tail.startswith("-") else ""


def live_pages() -> set[str]:
    """The ids of the pages open in this process (a copy)."""
    with _LIVE_LOCK:
        return set(_LIVE_PAGES)


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
    page : str
        The page's id: its draft's name, and how other pages know the draft is in use.
    """

    windows_json: Path
    author: str
    saved: list[Edit] = field(default_factory=list)
    pending: list[Edit] = field(default_factory=list)
    loaded_digest: str = ""
    page: str = ""

    @classmethod
    def open(cls, windows_json: Path, author: str) -> ReviewSession:
        """The session of a recording as its edit file is now (no unsaved edits), as an
        open page (until :meth:`close`)."""
        files = session_files_of(windows_json)
        path = files.edits_tsv(files.root)
        page = uuid.uuid4().hex[:12]
        with _LIVE_LOCK:
            _LIVE_PAGES.add(page)
        return cls(Path(windows_json), author, read_edits(path), [], file_digest(path), page)

    def close(self) -> None:
        """The page is gone: its draft, if any, is offered to the next page."""
        with _LIVE_LOCK:
            _LIVE_PAGES.discard(self.page)

    @property
    def edits_tsv(self) -> Path:
        files = session_files_of(self.windows_json)
        return files.edits_tsv(files.root)

    @property
    def draft(self) -> Path:
        return draft_path(self.windows_json, self.page)

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
        """Write the unsaved edits to the page's draft file (atomic), or remove it when
        none."""
        if self.pending:
            self.draft.parent.mkdir(parents=True, exist_ok=True)
            write_edits(self.draft, self.pending)
        else:
            self.discard_own_draft()

    # ------------------------------------------------------------------ the drafts
    def earlier_drafts(self) -> list[Path]:
        """The recording's drafts that no open page holds (a closed tab's, a crashed
        server's)."""
        live = live_pages() | {self.page}
        return [p for p in recording_drafts(self.windows_json) if page_of(p) not in live]

    def draft_edits(self) -> list[Edit]:
        """The unsaved edits earlier pages left in their drafts ([] when none)."""
        return read_drafts(self.earlier_drafts())

    def edits_in_open_pages(self) -> int:
        """How many unsaved edits other open pages hold on this recording."""
        live = live_pages() - {self.page}
        return len(read_drafts([p for p in recording_drafts(self.windows_json)
                                if page_of(p) in live]))

    def restore_draft(self) -> int:
        """Take the earlier pages' unsaved edits back as this page's (the drafts read become
        this page's); returns how many."""
        earlier = self.earlier_drafts()
        restored = read_drafts(earlier)
        self.pending = [*restored, *[e for e in self.pending if e not in restored]]
        self.journal()
        remove_drafts(earlier)
        return len(restored)

    def discard_draft(self) -> None:
        """Forget the earlier pages' unsaved edits (the page's own stay)."""
        remove_drafts(self.earlier_drafts())

    def discard_own_draft(self) -> None:
        """Remove the page's own draft."""
        remove_drafts([self.draft])

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
        self.discard_own_draft()
        record = reprocess(self.windows_json) if reprocess is not None else None
        return SaveResult(rows, merged, record)


def read_drafts(paths: list[Path]) -> list[Edit]:
    """The edits of several drafts, identical rows once; a draft that cannot be read is
    passed over rather than stop the page."""
    edits: list[Edit] = []
    for path in paths:
        try:
            edits += [e for e in read_edits(path) if e not in edits]
        except ValueError:
            continue
    return edits


def remove_drafts(paths: list[Path]) -> None:
    """Delete draft files (and the JSON sidecars ``write_edits`` gives them)."""
    for path in paths:
        for p in (path, path.with_suffix(".json")):
            p.unlink(missing_ok=True)


__all__ = ["EditConflictError", "ReviewSession", "SaveResult", "default_author", "draft_path",
           "live_pages", "page_of", "read_drafts", "recording_drafts", "remove_drafts"]
