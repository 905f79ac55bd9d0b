"""The allocation store: the public interface every back end implements, and the schema.

:class:`AllocationStore` holds what every back end shares: the scheme
(:mod:`conditions.allocation.scheme`), the queries, the blinded summaries, the audit log
and the integrity checks. A back end (:class:`conditions.allocation.sqlite_store.AllocationDB`,
:class:`conditions.allocation.postgres_store.PostgresAllocationDB`) provides the
connections and the one step that serialises allocations:

- :meth:`AllocationStore.read_transaction` and :meth:`AllocationStore.write_transaction`:
  context managers yielding a :class:`Transaction`; a write transaction is one transaction
  that serialises allocations;
- :meth:`AllocationStore.next_slot` (the stratum's next slot, locked until the transaction
  ends) and :meth:`AllocationStore.after_insert`;
- :meth:`AllocationStore.is_unique_violation` and :meth:`AllocationStore.integrity_problems`;
- ``where``, a description of the database for messages.

Both back ends hold the same tables, written once here (:func:`schema_statements`).
Blinded summaries give totals and block completeness only, never counts per arm. Every
unblinding is logged in the ``audit`` table. Participant IDs are unique regardless of case
(``P01`` and ``p01`` are one folder on Windows and macOS disks).
"""

from __future__ import annotations

import getpass
import json
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from conditions.allocation.concealed import Allocation
from conditions.allocation.errors import AllocationError
from conditions.allocation.scheme import (
    EXAMPLE_SEED,
    SEED_SOURCES,
    arm_labels,
    block_sequence,
    clean_participant_id,
    session_code_for,
    stratum_key,
)

if TYPE_CHECKING:  # pandas is imported where used: `soothe allocation --help` stays instant
    import pandas as pd

SCHEMA_VERSION = 2  # 2: seed_source in meta; participant IDs unique regardless of case
# what a blinded export may show: nothing that is, or narrows down, a participant's arm
BLINDED_EXPORT_COLUMNS = ("participant_id", "stratum", "session_code", "strata_json",
                          "allocated_at", "machine", "os_user", "session_status", "status_at")
SESSION_STATUSES = ("allocated", "complete", "incomplete")

#: The identity column of each back end's SQL dialect.
ID_COLUMNS = {
    "sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT",
    "postgresql": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
}

_SCHEMA = (
    """CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
)""",
    """CREATE TABLE allocations (
    id             {id_column},
    participant_id TEXT NOT NULL UNIQUE,
    stratum        TEXT NOT NULL,
    slot           INTEGER NOT NULL CHECK (slot >= 1),
    block          INTEGER NOT NULL CHECK (block >= 1),
    condition      TEXT NOT NULL,
    session_code   TEXT NOT NULL UNIQUE,
    strata_json    TEXT NOT NULL,
    allocated_at   TEXT NOT NULL,
    machine        TEXT NOT NULL,
    os_user        TEXT NOT NULL,
    session_status TEXT NOT NULL DEFAULT 'allocated',
    status_at      TEXT,
    UNIQUE (stratum, slot)
)""",
    "CREATE UNIQUE INDEX allocations_participant_nocase ON allocations (lower(participant_id))",
    """CREATE TABLE audit (
    id      {id_column},
    time    TEXT NOT NULL,
    action  TEXT NOT NULL,
    who     TEXT NOT NULL,
    machine TEXT NOT NULL,
    detail  TEXT NOT NULL
)""",
)


def schema_statements(dialect: str) -> tuple[str, ...]:
    """The ``CREATE`` statements of the tables every back end holds, in ``dialect``.

    Parameters
    ----------
    dialect : str
        ``sqlite`` or ``postgresql`` (:data:`ID_COLUMNS`); only the identity column differs.

    Examples
    --------
    >>> [s.split("(")[0].strip() for s in schema_statements("sqlite")][:2]
    ['CREATE TABLE meta', 'CREATE TABLE allocations']
    >>> "IDENTITY" in schema_statements("postgresql")[1]
    True
    """
    if dialect not in ID_COLUMNS:
        raise ValueError(f"unknown SQL dialect {dialect!r}; expected one of {list(ID_COLUMNS)}")
    return tuple(s.format(id_column=ID_COLUMNS[dialect]) for s in _SCHEMA)


def is_database_url(target: str | Path) -> bool:
    """True when ``--db`` names a PostgreSQL server rather than a local SQLite file.

    Examples
    --------
    >>> is_database_url("postgresql://lab@db.example.org/study1")
    True
    >>> is_database_url("D:/study/sourcedata/allocation.sqlite")
    False
    """
    return str(target).lower().startswith(("postgresql://", "postgres://"))


def utc_now() -> str:
    """The current time in UTC, ISO 8601 with milliseconds (what every table records)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def os_user() -> str:
    """The login name of this process (``unknown`` where there is none, e.g. containers)."""
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def new_meta(protocol, seed: int, seed_source: str) -> dict[str, str]:
    """The ``meta`` rows of a new database: scheme, seed and where it came from, arms.

    Parameters
    ----------
    protocol : conditions.protocol.Protocol
        Supplies the conditions, block sizes and strata.
    seed : int
        The study seed (:func:`conditions.allocation.scheme.choose_seed`).
    seed_source : str
        ``drawn``, ``user`` or ``demo``.
    """
    rand = protocol.randomisation
    conditions = tuple(protocol.condition_names)
    return {
        "schema_version": str(SCHEMA_VERSION),
        "seed": str(seed),
        "seed_source": seed_source,
        "conditions": json.dumps(list(conditions)),
        "block_sizes": json.dumps(list(rand.block_sizes)),
        "strata": json.dumps(list(rand.strata)),
        "scheme": rand.scheme,
        "arms": json.dumps(arm_labels(seed, conditions)),
        "protocol": str(protocol.path),
        "created_at": utc_now(),
        "created_on": socket.gethostname(),
    }


def write_audit(tx: Transaction, action: str, who: str, detail: str,
                time: str | None = None) -> None:
    """Append one row to the ``audit`` table (``time`` defaults to now, UTC)."""
    tx.run(
        "INSERT INTO audit (time, action, who, machine, detail) VALUES (?, ?, ?, ?, ?)",
        (time or utc_now(), action, who, socket.gethostname(), detail),
    )


class Transaction:
    """One connection (in a transaction or not) with ``?`` placeholders on every back end.

    ``placeholder`` is the back end's parameter marker (``?`` for SQLite, ``%s`` for
    psycopg); every query in this package is written with ``?``.
    """

    def __init__(self, con, placeholder: str = "?") -> None:
        self.con = con
        self.placeholder = placeholder

    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Every row of a query (``[]`` for a statement that returns none)."""
        cur = self.con.execute(self._sql(sql), params)
        return [tuple(r) for r in cur.fetchall()] if cur.description else []

    def one(self, sql: str, params: tuple = ()) -> tuple | None:
        """The first row of a query, or ``None``."""
        rows = self.rows(sql, params)
        return rows[0] if rows else None

    def run(self, sql: str, params: tuple = ()) -> int:
        """Execute a statement; the number of rows it changed."""
        return self.con.execute(self._sql(sql), params).rowcount

    def columns(self, sql: str, params: tuple = ()) -> tuple[list[str], list[tuple]]:
        """The column names and every row of a query."""
        cur = self.con.execute(self._sql(sql), params)
        names = [d[0] for d in cur.description]
        return names, [tuple(r) for r in cur.fetchall()]


_TABLE_COLUMNS = ("id, participant_id, stratum, slot, block, condition, session_code, "
                  "strata_json, allocated_at, machine, os_user, session_status, status_at")


class AllocationStore:
    """The allocation database, whatever holds it: the scheme, the queries and the checks.

    This is the public interface of every back end. A back end subclasses it, sets
    ``where`` (a description for messages), calls :meth:`load_meta` with the ``meta`` rows
    when it opens, and implements the methods of the "back end" group below.
    """

    where: str
    seed: int
    conditions: tuple[str, ...]
    block_sizes: tuple[int, ...]
    strata_fields: tuple[str, ...]
    meta: dict[str, str]

    # ------------------------------------------------------------------ back end
    @contextmanager
    def read_transaction(self) -> Iterator[Transaction]:  # pragma: no cover - abstract
        """A connection for reading (no lock taken)."""
        raise NotImplementedError
        yield

    @contextmanager
    def write_transaction(self) -> Iterator[Transaction]:  # pragma: no cover - abstract
        """One write transaction: committed when the block ends, rolled back on an error.
        It must serialise allocations (concurrent writers wait for each other's slot)."""
        raise NotImplementedError
        yield

    def next_slot(self, tx: Transaction, stratum: str) -> int:  # pragma: no cover - abstract
        """The stratum's next free slot, locked until ``tx`` ends."""
        raise NotImplementedError

    def after_insert(self, tx: Transaction, stratum: str, slot: int) -> None:
        """Hook after an allocation row is inserted (PostgreSQL moves its counter)."""

    def is_unique_violation(self, exc: BaseException) -> bool:  # pragma: no cover
        """True when ``exc`` is the back end's unique-constraint error (a concurrent
        allocation of the same ID or session code): the allocation is then retried."""
        return False

    def integrity_problems(self) -> list[str]:  # pragma: no cover - abstract
        """The back end's own integrity check (``[]`` when fine)."""
        return []

    # ------------------------------------------------------------------ shared setup
    def load_meta(self, rows: dict[str, str]) -> None:
        """Take the scheme from the database's ``meta`` rows (refused when incomplete)."""
        required = ("schema_version", "seed", "conditions", "block_sizes", "strata", "arms")
        missing = [k for k in required if k not in rows]
        if missing:
            raise AllocationError(
                f"{self.where}: allocation database is not initialised (meta lacks {missing})"
            )
        self.seed = int(rows["seed"])
        self.conditions = tuple(json.loads(rows["conditions"]))
        self.block_sizes = tuple(json.loads(rows["block_sizes"]))
        self.strata_fields = tuple(json.loads(rows["strata"]))
        self._arms: dict[str, str] = json.loads(rows["arms"])
        self.meta = rows
        self._sequences: dict[str, list[tuple[str, int]]] = {}

    @property
    def seed_source(self) -> str:
        """``drawn``, ``user``, ``demo``, or ``unknown`` (a database from before soothe
        recorded it; ``demo`` when such a database used the published example seed)."""
        source = self.meta.get("seed_source")
        if source is None:
            return "demo" if self.seed == EXAMPLE_SEED else "unknown"
        return source

    @property
    def predictable(self) -> bool:
        """True when the seed is the published example seed: anyone can predict the
        allocation (``allocation verify`` warns)."""
        return self.seed_source == "demo"

    def seed_description(self) -> str:
        """One sentence on where the seed came from (``allocation verify`` prints it)."""
        return SEED_SOURCES.get(
            self.seed_source,
            "not recorded (database made before soothe recorded it; if it was the "
            f"protocol's example seed {EXAMPLE_SEED}, the allocation is predictable)",
        )

    # ------------------------------------------------------------------ internals
    def _sequence(self, stratum: str, n_slots: int) -> list[tuple[str, int]]:
        seq = self._sequences.get(stratum)
        if seq is None or len(seq) < n_slots:
            # grow generously so a long study does not regenerate on every allocation
            seq = block_sequence(
                self.seed,
                stratum,
                self.conditions,
                self.block_sizes,
                max(n_slots, 2 * len(seq or []), 200),
            )
            self._sequences[stratum] = seq
        return seq

    @staticmethod
    def _row_to_allocation(row: tuple) -> Allocation:
        pid, condition, code, stratum, slot, block, at, machine = row
        return Allocation(pid, condition, code, stratum, int(slot), int(block), at, machine)

    _SELECT = (
        "SELECT participant_id, condition, session_code, stratum, slot, block, allocated_at, "
        "machine FROM allocations"
    )
    _BY_ID = " WHERE lower(participant_id) = lower(?)"

    def _same_participant(self, pid: str, row: tuple) -> Allocation:
        """The stored allocation of ``pid``; refused when it differs from ``pid`` in case."""
        stored = row[0]
        if stored != pid:
            raise AllocationError(
                f"{self.where}: participant ID {pid!r} differs only in case from {stored!r}, "
                f"which is already allocated. IDs are compared without regard to case "
                f"(sub-{pid} and sub-{stored} are the same folder on Windows and macOS disks). "
                f"Use {stored!r} to continue that participant, or choose an unused ID."
            )
        return self._row_to_allocation(row)

    # ------------------------------------------------------------------ public API
    def allocate(
        self,
        participant_id: str,
        strata: Mapping[str, str] | None = None,
        machine: str | None = None,
        *,
        allocated_at: str | None = None,
    ) -> Allocation:
        """Allocate a participant, or return their existing allocation.

        Parameters
        ----------
        participant_id : str
            The participant's ID (with or without ``sub-``; stored without it). IDs are
            unique regardless of case: ``P01`` beside an allocated ``p01`` is refused.
        strata : mapping
            Values of the protocol's strata fields, e.g. ``{"sex": "female"}``.
        machine : str | None
            Recorded as the allocating machine; default ``socket.gethostname()``.
        allocated_at : str | None
            Timestamp to record (ISO 8601); default now (UTC). The simulator fixes it so
            its output is reproducible.

        Returns
        -------
        Allocation
            An ID that is already allocated gets the same allocation back, never a new draw.
        """
        pid = clean_participant_id(participant_id)
        machine = machine or socket.gethostname()
        with self.read_transaction() as tx:
            existing = tx.one(self._SELECT + self._BY_ID, (pid,))
        if existing:
            return self._same_participant(pid, existing)
        stratum = stratum_key(self.strata_fields, strata)
        for attempt in range(5):
            try:
                return self._allocate_once(pid, stratum, strata, machine, allocated_at)
            except Exception as exc:
                # PostgreSQL: the same ID allocated at the same moment in another stratum,
                # or a session-code clash with a concurrent transaction
                if not self.is_unique_violation(exc) or attempt == 4:
                    raise
                with self.read_transaction() as tx:
                    existing = tx.one(self._SELECT + self._BY_ID, (pid,))
                if existing:
                    return self._same_participant(pid, existing)
        raise AssertionError("unreachable")  # pragma: no cover

    def _allocate_once(self, pid: str, stratum: str, strata: Mapping[str, str] | None,
                       machine: str, allocated_at: str | None) -> Allocation:
        with self.write_transaction() as tx:
            slot = self.next_slot(tx, stratum)  # locked until this transaction ends
            existing = tx.one(self._SELECT + self._BY_ID, (pid,))
            if existing:
                return self._same_participant(pid, existing)
            condition, block = self._sequence(stratum, slot)[slot - 1]
            attempt = 0
            while True:
                code = session_code_for(self.seed, pid, attempt)
                if not tx.one("SELECT 1 FROM allocations WHERE session_code = ?", (code,)):
                    break
                attempt += 1
            at = allocated_at or utc_now()
            tx.run(
                "INSERT INTO allocations (participant_id, stratum, slot, block, condition, "
                "session_code, strata_json, allocated_at, machine, os_user) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (pid, stratum, slot, block, condition, code,
                 json.dumps(dict(strata or {}), sort_keys=True), at, machine, os_user()),
            )
            self.after_insert(tx, stratum, slot)
        return Allocation(pid, condition, code, stratum, slot, block, at, machine)

    def lookup(self, participant_id: str) -> Allocation | None:
        """The allocation of ``participant_id`` (case-insensitive), or ``None``."""
        pid = clean_participant_id(participant_id)
        with self.read_transaction() as tx:
            row = tx.one(self._SELECT + self._BY_ID, (pid,))
        return self._row_to_allocation(row) if row else None

    def session_status(self, participant_id: str) -> str | None:
        """'allocated', 'complete' or 'incomplete' (``None`` when not allocated)."""
        pid = clean_participant_id(participant_id)
        with self.read_transaction() as tx:
            row = tx.one("SELECT session_status FROM allocations" + self._BY_ID, (pid,))
        return row[0] if row else None

    def mark_session(self, participant_id: str, status: str) -> None:
        """Record the session outcome: ``'complete'`` or ``'incomplete'``."""
        if status not in ("complete", "incomplete"):
            raise AllocationError(
                f"session status must be 'complete' or 'incomplete', got {status!r}"
            )
        pid = clean_participant_id(participant_id)
        with self.write_transaction() as tx:
            n = tx.run("UPDATE allocations SET session_status = ?, status_at = ?" + self._BY_ID,
                       (status, utc_now(), pid))
        if n != 1:
            raise AllocationError(f"{self.where}: participant {pid!r} is not allocated")

    def arm_label(self, condition: str) -> str:
        """The blinded arm letter of a condition."""
        return self._arms[condition]

    def _table(self) -> pd.DataFrame:
        with self.read_transaction() as tx:
            names, rows = tx.columns(f"SELECT {_TABLE_COLUMNS} FROM allocations ORDER BY id")
        # lazy: pandas costs start-up time; `soothe allocation --help` must stay instant
        import pandas as pd

        table = pd.DataFrame(rows, columns=names)
        for col in ("id", "slot", "block"):
            table[col] = table[col].astype("int64")
        return table

    def _block_sizes_of(self, stratum: str, n_slots: int) -> dict[int, int]:
        """Size of every block that the first ``n_slots`` slots of a stratum touch."""
        seq = block_sequence(self.seed, stratum, self.conditions, self.block_sizes,
                             n_slots + max(self.block_sizes))
        sizes: dict[int, int] = {}
        for _, b in seq:
            sizes[b] = sizes.get(b, 0) + 1
        return sizes

    def status(self, blinded: bool = True) -> pd.DataFrame:
        """Totals per stratum; unblinded also per condition.

        Blinded (the default) shows no arm at all, not even a letter: counts per arm with
        small blocks let the rest of a block be worked out. Columns: ``stratum, allocated,
        complete, incomplete, blocks_complete, open_block`` (``open_block`` is ``yes`` when
        the stratum's last block is not full yet; its size and fill are not shown).
        Unblinded: ``stratum, condition, allocated, complete, incomplete``.
        """
        table = self._table()
        strata = sorted(table["stratum"].unique()) if len(table) else []
        rows = []
        # lazy: pandas costs start-up time; `soothe allocation --help` must stay instant
        import pandas as pd

        if blinded:
            total_blocks = 0
            open_any = False
            for stratum in strata:
                sub = table[table["stratum"] == stratum]
                sizes = self._block_sizes_of(stratum, len(sub))
                filled = sub.groupby("block").size()
                complete = int(sum(int(n) == sizes[int(b)] for b, n in filled.items()))
                is_open = complete < len(filled)
                total_blocks += complete
                open_any |= is_open
                rows.append(self._counts(stratum, sub) | {
                    "blocks_complete": complete, "open_block": "yes" if is_open else "no"})
            rows.append(self._counts("(total)", table) | {
                "blocks_complete": total_blocks, "open_block": "yes" if open_any else "no"})
            return pd.DataFrame(rows, columns=["stratum", "allocated", "complete", "incomplete",
                                               "blocks_complete", "open_block"])
        for stratum in strata + ["(total)"]:
            sub = table if stratum == "(total)" else table[table["stratum"] == stratum]
            for condition in self.conditions:
                rows.append({"stratum": stratum, "condition": condition}
                            | self._counts(stratum, sub[sub["condition"] == condition]))
        return pd.DataFrame(rows, columns=["stratum", "condition", "allocated", "complete",
                                           "incomplete"])

    @staticmethod
    def _counts(stratum: str, sub: pd.DataFrame) -> dict:
        return {"stratum": stratum, "allocated": len(sub),
                "complete": int((sub["session_status"] == "complete").sum()),
                "incomplete": int((sub["session_status"] == "incomplete").sum())}

    def export(self, unblind: bool, confirmed_by: str, reason: str = "") -> pd.DataFrame:
        """Every allocation as a table; unblinded exports are logged in the audit table.

        Parameters
        ----------
        unblind : bool
            Include each participant's condition, arm letter, slot and block. Otherwise
            the export holds no per-participant arm at all (not even the letter: one known
            condition would unblind a whole arm), nor the slot and block (which, with the
            block composition, narrow it down): only IDs, strata, session codes, times,
            machines and session status, in allocation order.
        confirmed_by : str
            Who confirmed the unblinding (initials or name); required when ``unblind``.
        reason : str
            Why the data are unblinded (logged).
        """
        who = str(confirmed_by or "").strip()
        if unblind and not who:
            raise AllocationError("unblinding needs confirmed_by: who is unblinding")
        table = self._table()
        table["arm"] = table["condition"].map(self._arms)
        with self.write_transaction() as tx:
            write_audit(tx, "export_unblinded" if unblind else "export_blinded",
                        who or os_user(), json.dumps({"reason": reason, "n": len(table)}))
        if not unblind:
            return table[list(BLINDED_EXPORT_COLUMNS)].reset_index(drop=True)
        return table.drop(columns=["id"]).reset_index(drop=True)

    def write_unblinded(self, raw_root: str | Path, confirmed_by: str, reason: str,
                        out: str | Path | None = None) -> Path:
        """Write the unblinded allocation for the analysis (logged as an unblinding).

        The file is ``RAW/sourcedata/allocation_unblinded.tsv``
        (:func:`conditions.bids.allocation_unblinded_tsv`) unless ``out`` is given, with the
        columns ``participant_id`` (``sub-<id>``) and ``condition``: what the analysis reads
        when ``participants.tsv`` has no condition column.
        """
        # lazy: conditions.bids loads pandas; `soothe allocation --help` must stay instant
        from conditions import bids

        table = self.export(unblind=True, confirmed_by=confirmed_by, reason=reason)
        path = Path(out) if out is not None else bids.allocation_unblinded_tsv(raw_root)
        path.parent.mkdir(parents=True, exist_ok=True)
        # lazy: pandas costs start-up time; `soothe allocation --help` must stay instant
        import pandas as pd

        copy = pd.DataFrame({"participant_id": "sub-" + table["participant_id"].astype(str),
                             "condition": table["condition"]})
        bids.write_tsv(path, copy, bids.ALLOCATION_UNBLINDED_COLUMNS)
        return path

    def log_unblinding(self, who: str, action: str, reason: str) -> None:
        """Record an unblinded view (e.g. ``status --unblind``) in the audit table."""
        if not str(who).strip():
            raise AllocationError("unblinding needs a name: who is unblinding")
        with self.write_transaction() as tx:
            write_audit(tx, action, str(who).strip(), json.dumps({"reason": reason}))

    def audit_log(self) -> pd.DataFrame:
        """The audit table (init, exports, unblindings)."""
        with self.read_transaction() as tx:
            names, rows = tx.columns("SELECT * FROM audit ORDER BY id")
        # lazy: pandas costs start-up time; `soothe allocation --help` must stay instant
        import pandas as pd

        return pd.DataFrame(rows, columns=names)

    def verify(self) -> list[str]:
        """Check integrity and balance; return a list of problems (``[]`` when fine).

        Checks: the back end's own integrity check; unique IDs (regardless of case) and
        codes; every stratum's slots run 1..n without gaps; every stored condition and block
        equals the seeded sequence; every complete block holds each condition equally often
        and the open block holds no condition more than its share. Where the seed came from
        is :meth:`seed_description`.
        """
        problems = list(self.integrity_problems())
        table = self._table()
        for col in ("participant_id", "session_code"):
            dup = table[col][table[col].duplicated()]
            if len(dup):
                problems.append(f"duplicate {col}: {sorted(dup.unique())[:10]}")
        folded = table["participant_id"].str.lower()
        clash = sorted(table["participant_id"][folded.duplicated(keep=False)])
        if clash:
            problems.append(f"participant IDs that differ only in case: {clash[:10]}")
        bad_status = set(table["session_status"]) - set(SESSION_STATUSES)
        if bad_status:
            problems.append(f"unknown session status value(s) {sorted(bad_status)}")
        unknown = set(table["condition"]) - set(self.conditions)
        if unknown:
            problems.append(f"unknown condition(s) {sorted(unknown)}")
        k = len(self.conditions)
        for stratum, sub in table.groupby("stratum", sort=True):
            slots = sorted(sub["slot"].astype(int))
            expected = list(range(1, len(slots) + 1))
            if slots != expected:
                missing = sorted(set(expected) - set(slots))[:10]
                problems.append(
                    f"stratum {stratum}: slots are not 1..{len(slots)} without gaps "
                    f"(missing {missing}, max {max(slots)})"
                )
            seq = block_sequence(self.seed, stratum, self.conditions, self.block_sizes, max(slots))
            mismatched = [
                int(r.slot)
                for r in sub.itertuples()
                if (r.condition, int(r.block)) != seq[int(r.slot) - 1]
            ]
            if mismatched:
                problems.append(
                    f"stratum {stratum}: {len(mismatched)} allocation(s) differ from the "
                    f"seeded sequence (slots {mismatched[:10]})"
                )
            block_size = self._block_sizes_of(stratum, max(slots))
            for block, blk in sub.groupby("block"):
                counts = blk["condition"].value_counts()
                share = block_size[int(block)] // k
                if len(blk) == block_size[int(block)]:
                    if len(counts) != k or (counts != share).any():
                        problems.append(
                            f"stratum {stratum} block {block}: unbalanced {counts.to_dict()}"
                        )
                elif (counts > share).any():
                    problems.append(
                        f"stratum {stratum} block {block} (open): a condition exceeds its "
                        f"share {share}: {counts.to_dict()}"
                    )
        return problems


