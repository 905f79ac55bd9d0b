"""The allocation database on a PostgreSQL server: two or more lab PCs, several sites.

``--db postgresql://USER@HOST[:PORT]/DATABASE[?sslmode=verify-full&sslrootcert=...]`` selects
this back end. It holds the same tables as the SQLite file
(:mod:`conditions.allocation.sqlite_store`, schema in :mod:`conditions.allocation.store`) in
one database per study, plus ``slot_counters`` (one row per stratum: the last slot taken).
Every allocation is one transaction that

1. creates the stratum's counter row if it is the stratum's first participant
   (``INSERT ... ON CONFLICT DO NOTHING``),
2. locks that row (``SELECT ... FOR UPDATE``): a second PC allocating in the same stratum
   waits here until the first commits or rolls back, then reads the new value,
3. re-checks the participant ID (regardless of case), inserts the allocation with the next
   slot and moves the counter.

So two PCs can never take the same slot, and a slot is never skipped: a transaction that
fails rolls its counter back with it. The same ID allocated at the same moment from two
PCs in different strata is caught by the unique index on ``lower(participant_id)``; the
loser gets the winner's allocation back
(:meth:`conditions.allocation.store.AllocationStore.allocate`).

Authentication and TLS are PostgreSQL's own: roles and ``pg_hba.conf`` on the server; the
password from ``~/.pgpass`` (or ``PGPASSFILE``), never the command line on a shared PC;
``sslmode=verify-full`` with the server's CA in ``sslrootcert`` across a network. Whoever can
log in with the lab PCs' role can read the allocations table: those credentials belong to
the session PCs' account, not to the experimenters (see docs/running-a-session.md).

Examples
--------
>>> redact("postgresql://lab:s3cret@db.example.org:5432/study1?sslmode=verify-full")
'postgresql://lab:***@db.example.org:5432/study1?sslmode=verify-full'
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

from conditions.allocation.errors import AllocationError
from conditions.allocation.scheme import choose_seed
from conditions.allocation.store import (
    AllocationStore,
    Transaction,
    is_database_url,
    new_meta,
    os_user,
    schema_statements,
    write_audit,
)

CONNECT_TIMEOUT_S = 10
LOCK_TIMEOUT = "60s"  # a PC that waits longer than this for a slot lock gets a clear error

#: The table only this back end needs: one row per stratum, the last slot taken.
SLOT_COUNTERS_TABLE = """CREATE TABLE slot_counters (
    stratum   TEXT PRIMARY KEY,
    last_slot INTEGER NOT NULL CHECK (last_slot >= 0)
)"""


def redact(url: str) -> str:
    """The URL with its password (if any) replaced by ``***``, for messages and logs."""
    return re.sub(r"^(postgres(?:ql)?://[^:/@?]*):[^@/?]*@", r"\1:***@", str(url))


def _psycopg():
    """The psycopg module, or a clear error when it is missing."""
    try:
        # lazy: psycopg is needed only for a postgresql:// database; SQLite users never load it
        import psycopg
    except ImportError as exc:  # pragma: no cover - psycopg is a core dependency
        raise AllocationError(
            f"--db postgresql://... needs the psycopg package ({exc}); reinstall soothe"
        ) from None
    return psycopg


class PostgresAllocationDB(AllocationStore):
    """A study's allocation database on a PostgreSQL server.

    Parameters
    ----------
    url : str
        ``postgresql://USER@HOST[:PORT]/DATABASE`` with any libpq parameters
        (``sslmode``, ``sslrootcert``, ``host=/socket/dir`` ...). The database must have been
        initialised with :meth:`create` (``soothe allocation init --db URL``).

    Raises
    ------
    AllocationError
        When the server cannot be reached or refuses the login (the message names the URL
        without its password), or the database is not an initialised allocation database.
    """

    backend = "postgresql"

    def __init__(self, url: str) -> None:
        if not is_database_url(url):
            raise AllocationError(f"{url}: not a postgresql:// URL")
        self.url = str(url)
        self.where = redact(self.url)
        psycopg = _psycopg()
        try:
            with self.read_transaction() as tx:
                rows = dict(tx.rows("SELECT key, value FROM meta"))
        except psycopg.errors.UndefinedTable:
            raise AllocationError(
                f"{self.where}: the database has no allocation tables; create them with "
                f"'soothe allocation init --db {self.where}'"
            ) from None
        except psycopg.Error as exc:
            raise AllocationError(
                f"{self.where}: cannot read the allocation database: "
                f"{' '.join(str(exc).split())}"
            ) from None
        self.load_meta(rows)

    # ------------------------------------------------------------------ connections
    def _connect(self):
        """A new autocommit connection; a clear error when the server refuses or is away."""
        psycopg = _psycopg()
        try:
            con = psycopg.connect(self.url, autocommit=True,
                                  connect_timeout=CONNECT_TIMEOUT_S,
                                  application_name="soothe-allocation")
        except psycopg.OperationalError as exc:
            detail = " ".join(str(exc).split())
            raise AllocationError(
                f"{self.where}: cannot connect to the allocation database: {detail}"
            ) from None
        except psycopg.ProgrammingError as exc:  # a malformed URL
            raise AllocationError(
                f"{self.where}: invalid PostgreSQL URL: {' '.join(str(exc).split())}"
            ) from None
        return con

    def _connection(self, fresh: bool = False):
        """This process's connection, kept between calls (TLS and SCRAM cost a round trip
        each; a WAN link makes that slow). A connection inherited through fork, closed, or
        broken is replaced."""
        con = getattr(self, "_con", None)
        if (fresh or con is None or con.closed or con.broken
                or getattr(self, "_con_pid", None) != os.getpid()):
            if con is not None and getattr(self, "_con_pid", None) == os.getpid():
                con.close()
            con = self._con = self._connect()
            self._con_pid = os.getpid()
        return con

    def close(self) -> None:
        """Close this process's connection (it is reopened when needed)."""
        con = getattr(self, "_con", None)
        if con is not None and getattr(self, "_con_pid", None) == os.getpid():
            con.close()
        self._con = None

    def __del__(self) -> None:  # close quietly rather than leave psycopg to warn
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    @contextmanager
    def read_transaction(self) -> Iterator[Transaction]:
        psycopg = _psycopg()
        con = self._connection()
        try:
            con.execute("SELECT 1")  # a connection that died while idle: reconnect once
        except psycopg.OperationalError:
            con = self._connection(fresh=True)
        try:
            yield Transaction(con, "%s")
        except psycopg.OperationalError as exc:
            raise AllocationError(
                f"{self.where}: the connection broke during a read "
                f"({' '.join(str(exc).split())}); try again"
            ) from None

    @contextmanager
    def write_transaction(self) -> Iterator[Transaction]:
        psycopg = _psycopg()
        con = self._connection()
        for attempt in (0, 1):
            try:  # nothing is written before the body runs: a stale connection is retried
                tx = con.transaction()
                tx.__enter__()
                con.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                break
            except psycopg.OperationalError:
                if attempt:
                    raise AllocationError(
                        f"{self.where}: the allocation database does not answer") from None
                con = self._connection(fresh=True)
        try:
            yield Transaction(con, "%s")
        except BaseException as exc:
            self._leave(tx, exc)
            if isinstance(exc, psycopg.errors.LockNotAvailable):
                raise AllocationError(
                    f"{self.where}: waited {LOCK_TIMEOUT} for another PC's allocation to "
                    "finish; try again (nothing was allocated)"
                ) from None
            if isinstance(exc, psycopg.OperationalError):
                raise AllocationError(
                    f"{self.where}: the connection broke during a write "
                    f"({' '.join(str(exc).split())}); try again (an allocation that was "
                    "stored is given back unchanged to the same ID)"
                ) from None
            raise
        else:
            try:
                tx.__exit__(None, None, None)
            except psycopg.OperationalError as exc:
                raise AllocationError(
                    f"{self.where}: the connection broke while committing "
                    f"({' '.join(str(exc).split())}); try again (an allocation that was "
                    "stored is given back unchanged to the same ID)"
                ) from None

    @staticmethod
    def _leave(tx, exc: BaseException) -> None:
        """Roll the transaction back; a broken connection has nothing left to roll back."""
        try:
            tx.__exit__(type(exc), exc, exc.__traceback__)
        except Exception:  # noqa: BLE001 - the original error is what matters
            pass

    def next_slot(self, tx: Transaction, stratum: str) -> int:
        tx.run("INSERT INTO slot_counters (stratum, last_slot) VALUES (?, 0) "
               "ON CONFLICT (stratum) DO NOTHING", (stratum,))
        (last,) = tx.one("SELECT last_slot FROM slot_counters WHERE stratum = ? FOR UPDATE",
                         (stratum,))
        return int(last) + 1

    def mark_session(self, participant_id: str, status: str) -> None:
        """Record the session outcome; when the server cannot be reached, the error says
        how to record it later."""
        try:
            super().mark_session(participant_id, status)
        except AllocationError as exc:
            if "not allocated" in str(exc) or status not in ("complete", "incomplete"):
                raise
            raise AllocationError(
                f"{exc}. The session files keep the outcome; record it in the database later "
                f"with: soothe allocation mark --db '{self.where}' --id {participant_id} "
                f"--status {status}"
            ) from None

    def after_insert(self, tx: Transaction, stratum: str, slot: int) -> None:
        tx.run("UPDATE slot_counters SET last_slot = ? WHERE stratum = ?", (slot, stratum))

    def is_unique_violation(self, exc: BaseException) -> bool:
        return isinstance(exc, _psycopg().errors.UniqueViolation)

    def integrity_problems(self) -> list[str]:
        """Counters that disagree with the stored slots (the server checks the rest)."""
        with self.read_transaction() as tx:
            rows = tx.rows(
                "SELECT c.stratum, c.last_slot, COALESCE(MAX(a.slot), 0) FROM slot_counters c "
                "LEFT JOIN allocations a ON a.stratum = c.stratum "
                "GROUP BY c.stratum, c.last_slot ORDER BY c.stratum")
            orphans = tx.rows("SELECT DISTINCT stratum FROM allocations WHERE stratum NOT IN "
                              "(SELECT stratum FROM slot_counters) ORDER BY stratum")
        problems = [f"stratum {s}: slot counter at {last} but the highest slot is {top}"
                    for s, last, top in rows if int(last) != int(top)]
        problems += [f"stratum {s}: allocations without a slot counter" for (s,) in orphans]
        return problems

    # ------------------------------------------------------------------ creation
    @classmethod
    def create(cls, url: str, protocol, seed: int | None = None, *,
               demo: bool = False) -> PostgresAllocationDB:
        """Create the allocation tables in an existing, empty PostgreSQL database.

        One transaction (PostgreSQL's DDL is transactional): a second ``init`` at the same
        moment, or on a database that already holds a study, is refused and changes nothing.
        The seed is drawn with :mod:`secrets` unless given (:func:`choose_seed`).
        """
        psycopg = _psycopg()
        where = redact(url)
        seed, source = choose_seed(protocol, seed, demo)
        meta = new_meta(protocol, seed, source)
        probe = cls.__new__(cls)
        probe.url, probe.where = str(url), where
        try:
            with probe.write_transaction() as tx:
                for statement in (*schema_statements("postgresql"), SLOT_COUNTERS_TABLE):
                    tx.run(statement)
                for key, value in meta.items():
                    tx.run("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))
                write_audit(tx, "init", os_user(), f"seed {source}",
                            time=meta["created_at"])  # never the seed itself
        except (psycopg.errors.DuplicateTable, psycopg.errors.UniqueViolation):
            raise AllocationError(
                f"{where}: already holds allocation tables; an allocation database is never "
                "overwritten (use a new database: createdb, or drop it by hand)"
            ) from None
        except psycopg.errors.InsufficientPrivilege as exc:
            raise AllocationError(
                f"{where}: the role may not create tables here ({exc}); run init as the "
                "database's owner"
            ) from None
        finally:
            probe.close()
        return cls(url)

    def backup(self, dest) -> None:  # noqa: D102 - a clear refusal
        raise AllocationError(
            f"{self.where}: back up a PostgreSQL allocation database with the server's tools "
            "(pg_dump, or the server's continuous archiving), not with soothe"
        )
