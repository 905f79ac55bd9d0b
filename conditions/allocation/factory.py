"""Open or create the allocation database that ``--db`` names (SQLite file or PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from conditions.allocation.errors import AllocationError
from conditions.allocation.postgres_store import PostgresAllocationDB
from conditions.allocation.sqlite_store import AllocationDB
from conditions.allocation.store import AllocationStore, is_database_url


def open_allocation_db(target: str | Path) -> AllocationStore:
    """The allocation database ``--db`` names: a local SQLite file or a PostgreSQL URL.

    Parameters
    ----------
    target : str | Path
        A database file on this PC's local disk (:class:`AllocationDB`), or
        ``postgresql://USER@HOST[:PORT]/DATABASE[?sslmode=verify-full...]``
        (:class:`conditions.allocation.postgres_store.PostgresAllocationDB`). Pass URLs as
        ``str``: ``Path`` folds ``//``.

    Returns
    -------
    AllocationDB or PostgresAllocationDB
        Both have the same methods; a PostgreSQL one has already connected once.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from conditions.protocol import load_protocol
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.sqlite"
    >>> _ = AllocationDB.create(path, load_protocol())
    >>> type(open_allocation_db(path)).__name__
    'AllocationDB'
    """
    if is_database_url(target):
        return PostgresAllocationDB(str(target))
    if str(target).lower().startswith(("http:/", "https:")):
        raise AllocationError(
            f"{target}: the XML-RPC allocation server ('soothe allocation serve') was "
            "removed; for two or more lab PCs use a PostgreSQL server: "
            "--db postgresql://USER@HOST/DATABASE (docs/running-a-session.md)"
        )
    return AllocationDB(target)


def create_allocation_db(target: str | Path, protocol, seed: int | None = None, *,
                         demo: bool = False) -> AllocationStore:
    """Create a new allocation database: a SQLite file, or the tables in an empty
    PostgreSQL database (``postgresql://...``). See :meth:`AllocationDB.create`."""
    if is_database_url(target):
        return PostgresAllocationDB.create(str(target), protocol, seed, demo=demo)
    if str(target).lower().startswith(("http:/", "https:")):
        open_allocation_db(target)  # the same clear refusal as when opening
    return AllocationDB.create(target, protocol, seed, demo=demo)
