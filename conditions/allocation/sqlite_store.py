"""The allocation database in one SQLite file (WAL mode): one lab PC.

The default back end (``--db PATH``), one file per study. It runs in WAL mode and each
allocation is one ``BEGIN IMMEDIATE`` transaction, so processes allocating at the same
moment queue on the write lock: no duplicate participant, no skipped slot. That holds only
for processes on ONE machine with the file on its local disk (WAL coordinates through
shared memory; network file locking is unreliable), so a database on a network filesystem
is refused (:func:`conditions.allocation.local_disk.check_local_disk`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conditions.allocation.errors import AllocationError
from conditions.allocation.local_disk import check_local_disk
from conditions.allocation.scheme import choose_seed
from conditions.allocation.store import (
    AllocationStore,
    Transaction,
    new_meta,
    os_user,
    schema_statements,
    write_audit,
)

BUSY_TIMEOUT_MS = 60_000


class AllocationDB(AllocationStore):
    """A study's allocation database in one SQLite file (WAL mode): one lab PC.

    Parameters
    ----------
    path : str | Path
        An existing database made by :meth:`create`.

    Raises
    ------
    AllocationError
        When the file does not exist or is not an initialised allocation database.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from conditions.protocol import load_protocol
    >>> db = AllocationDB.create(pathlib.Path(tempfile.mkdtemp()) / "a.sqlite", load_protocol())
    >>> a = db.allocate("001", {"sex": "female"})
    >>> db.allocate("001", {"sex": "female"}) == a     # same ID, same allocation
    True
    >>> db.seed_source, db.verify()
    ('drawn', [])
    """

    backend = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.where = str(self.path)
        check_local_disk(self.path)
        if not self.path.is_file():
            raise AllocationError(
                f"{self.path}: allocation database not found; create it with "
                "'soothe allocation init --db PATH'"
            )
        try:
            with self.read_transaction() as tx:
                rows = dict(tx.rows("SELECT key, value FROM meta"))
        except sqlite3.DatabaseError as exc:
            raise AllocationError(
                f"{self.path}: not an initialised allocation database ({exc})"
            ) from None
        self.load_meta(rows)
        if rows.get("schema_version") == "1":
            self._upgrade_v1()

    def _upgrade_v1(self) -> None:
        """Databases made before IDs were case-insensitive: add the case-folded index when
        the stored IDs allow it (``verify`` reports clashes that prevent it)."""
        try:
            with self.write_transaction() as tx:
                tx.run("CREATE UNIQUE INDEX IF NOT EXISTS allocations_participant_nocase "
                       "ON allocations (lower(participant_id))")
        except sqlite3.DatabaseError:  # existing clash, or a read-only copy
            pass

    # ------------------------------------------------------------------ creation
    @classmethod
    def create(cls, path: str | Path, protocol, seed: int | None = None, *,
               demo: bool = False) -> AllocationDB:
        """Create and initialise a new allocation database for ``protocol``.

        Parameters
        ----------
        path : str | Path
            The new file; it must not exist yet (an existing study is never overwritten).
        protocol : conditions.protocol.Protocol
            Supplies the conditions, block sizes and strata.
        seed : int | None
            Study seed; ``None`` draws a secret one (:func:`choose_seed`).
        demo : bool
            A demonstration database: the protocol's published example seed is allowed
            (and is the default seed).
        """
        path = Path(path)
        check_local_disk(path)
        if path.exists():
            raise AllocationError(
                f"{path}: already exists; an allocation database is never "
                "overwritten (choose another path or remove it by hand)"
            )
        seed, source = choose_seed(protocol, seed, demo)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".init")
        if tmp.exists():
            tmp.unlink()
        con = sqlite3.connect(tmp, isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            for statement in schema_statements("sqlite"):
                con.execute(statement)
            meta = new_meta(protocol, seed, source)
            con.execute("BEGIN IMMEDIATE")
            con.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", meta.items())
            write_audit(Transaction(con), "init", os_user(), f"seed {source}")  # never the seed
            con.execute("COMMIT")
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            con.close()
        # rename into place so a half-initialised file never carries the real name
        for suffix in ("-wal", "-shm"):
            side = tmp.with_name(tmp.name + suffix)
            if side.exists():
                side.unlink()
        if path.exists():
            tmp.unlink()
            raise AllocationError(f"{path}: created by someone else meanwhile")
        tmp.rename(path)
        return cls(path)

    # ------------------------------------------------------------------ back end
    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        con.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        con.execute("PRAGMA synchronous=FULL")
        return con

    @contextmanager
    def read_transaction(self) -> Iterator[Transaction]:
        con = self._connect()
        try:
            yield Transaction(con)
        finally:
            con.close()

    @contextmanager
    def write_transaction(self) -> Iterator[Transaction]:
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")  # the write lock: allocations queue here
            try:
                yield Transaction(con)
                con.execute("COMMIT")
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise
        finally:
            con.close()

    def next_slot(self, tx: Transaction, stratum: str) -> int:
        (last,) = tx.one("SELECT COALESCE(MAX(slot), 0) FROM allocations WHERE stratum = ?",
                         (stratum,))
        return int(last) + 1

    def integrity_problems(self) -> list[str]:
        with self.read_transaction() as tx:
            result = [r[0] for r in tx.rows("PRAGMA integrity_check")]
        return [] if result == ["ok"] else [f"sqlite integrity: {r}" for r in result]

    def backup(self, dest: str | Path) -> Path:
        """A consistent copy of the live database (SQLite online backup), safe while other
        processes keep allocating. Copying the file with ``cp`` is only safe when no write
        is in progress; use this instead."""
        dest = Path(dest)
        if dest.exists():
            raise AllocationError(f"{dest}: already exists; a backup never overwrites")
        dest.parent.mkdir(parents=True, exist_ok=True)
        src = self._connect()
        try:
            out = sqlite3.connect(dest)
            try:
                src.backup(out)
            finally:
                out.close()
        finally:
            src.close()
        return dest
