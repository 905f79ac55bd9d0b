"""Concealed, balanced, persistent allocation: permuted-block randomisation in SQLite.

One SQLite file per study holds the randomisation settings and every allocation. It runs in
WAL mode and each allocation is one ``BEGIN IMMEDIATE`` transaction, so two lab PCs (or two
processes) allocating at the same moment queue on the write lock instead of racing: no
duplicate participant, no skipped slot.

The scheme is permuted-block randomisation over the protocol's conditions, with block sizes
drawn at random (default 5 or 10) and, when the protocol names strata (default ``sex``),
one independent sequence per stratum. Each stratum's sequence is a pure function of the
study seed and the stratum, so :meth:`AllocationDB.verify` can recompute it and check every
stored allocation against it.

Concealment: an allocation is shown to the experimenter only as a neutral session code
(``S-7K3Q``) derived from the seed and the participant ID, which carries no information
about the condition. Blinded summaries label the arms ``A``..``E`` through a seeded
permutation, so arm ``A`` is not simply the first condition. Every unblinding is logged in
the ``audit`` table.

This module does not import PsychoPy; the analysis, the simulator and the CLI use it.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import socket
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from conditions.errors import SootheError

SCHEMA_VERSION = 1
# what a blinded export may show: nothing that is, or narrows down, a participant's arm
BLINDED_EXPORT_COLUMNS = ("participant_id", "stratum", "session_code", "strata_json",
                          "allocated_at", "machine", "os_user", "session_status", "status_at")
#: Session-code alphabet: no 0/O, 1/I/L, so codes can be read aloud and typed safely.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
SESSION_STATUSES = ("allocated", "complete", "incomplete")
BUSY_TIMEOUT_MS = 60_000

_SCHEMA = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE allocations (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
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
);
CREATE TABLE audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    time    TEXT NOT NULL,
    action  TEXT NOT NULL,
    who     TEXT NOT NULL,
    machine TEXT NOT NULL,
    detail  TEXT NOT NULL
);
"""


class AllocationError(SootheError):
    """The allocation database is missing, not initialised, or asked something invalid."""


@dataclass(frozen=True)
class Allocation:
    """One participant's allocation.

    ``condition`` must never be shown on the experimenter's screen during a session; show
    ``session_code`` instead.
    """

    participant_id: str
    condition: str
    session_code: str
    stratum: str
    slot: int
    block: int
    allocated_at: str
    machine: str


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _stable_int(text: str) -> int:
    """A platform-independent 64-bit integer from a string (Python's hash() is salted)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def stratum_key(strata_fields: tuple[str, ...], strata: Mapping[str, str] | None) -> str:
    """The stratum a participant belongs to, as ``field=value|field=value`` (or ``all``).

    Values are compared case-insensitively and without surrounding spaces.

    Examples
    --------
    >>> stratum_key(("sex",), {"sex": " Female"})
    'sex=female'
    >>> stratum_key((), None)
    'all'
    """
    if not strata_fields:
        return "all"
    strata = dict(strata or {})
    missing = [f for f in strata_fields if f not in strata or not str(strata[f]).strip()]
    if missing:
        raise AllocationError(
            f"allocation is stratified by {list(strata_fields)}; missing value(s) for "
            f"{missing} (got {strata!r})"
        )
    parts = []
    for field_name in strata_fields:
        value = str(strata[field_name]).strip().lower()
        if "|" in value or "=" in value:
            raise AllocationError(f"stratum value {value!r} for {field_name!r} contains | or =")
        parts.append(f"{field_name}={value}")
    return "|".join(parts)


def block_sequence(
    seed: int,
    stratum: str,
    conditions: tuple[str, ...],
    block_sizes: tuple[int, ...],
    n_slots: int,
) -> list[tuple[str, int]]:
    """The first ``n_slots`` (condition, block) pairs of a stratum's sequence.

    Blocks follow one another; each block's size is drawn from ``block_sizes`` and its
    content is a random permutation of ``size / len(conditions)`` copies of every condition.
    The generator is seeded from ``(seed, stratum)`` only, so the sequence is reproducible.

    Examples
    --------
    >>> seq = block_sequence(1, "all", ("a", "b"), (2, 4), 4)
    >>> len(seq), sorted(c for c, _ in seq[:2]) == ["a", "b"] or seq[0][1] == seq[3][1]
    (4, True)
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _stable_int(stratum)]))
    out: list[tuple[str, int]] = []
    block = 0
    k = len(conditions)
    while len(out) < n_slots:
        block += 1
        size = int(rng.choice(np.asarray(block_sizes)))
        content = np.repeat(np.arange(k), size // k)
        rng.shuffle(content)
        out.extend((conditions[i], block) for i in content)
    return out[:n_slots]


def arm_labels(seed: int, conditions: tuple[str, ...]) -> dict[str, str]:
    """Blinded arm letters: a seeded permutation of conditions onto ``A``, ``B``, ...

    Examples
    --------
    >>> sorted(arm_labels(3, ("x", "y", "z")).values())
    ['A', 'B', 'C']
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _stable_int("arm-labels")]))
    order = rng.permutation(len(conditions))
    return {conditions[i]: chr(ord("A") + j) for j, i in enumerate(order)}


def session_code_for(seed: int, participant_id: str, attempt: int = 0) -> str:
    """A neutral session code such as ``S-7K3Q`` from the seed and the participant ID.

    It depends on nothing else, so it reveals nothing about the condition.

    Examples
    --------
    >>> code = session_code_for(1, "001")
    >>> code.startswith("S-") and len(code) == 6
    True
    """
    digest = hashlib.sha256(f"{seed}:{participant_id}:{attempt}".encode()).digest()
    n = int.from_bytes(digest[:8], "big")
    chars = []
    for _ in range(4):
        n, r = divmod(n, len(CODE_ALPHABET))
        chars.append(CODE_ALPHABET[r])
    return "S-" + "".join(chars)


class AllocationDB:
    """A study's allocation database (SQLite, WAL mode).

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
    >>> db.verify()
    []
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise AllocationError(
                f"{self.path}: allocation database not found; create it with "
                "'soothe allocation init --seed S --db PATH'"
            )
        try:
            with self._connect() as con:
                rows = dict(con.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            raise AllocationError(
                f"{self.path}: not an initialised allocation database ({exc})"
            ) from None
        required = ("schema_version", "seed", "conditions", "block_sizes", "strata", "arms")
        missing = [k for k in required if k not in rows]
        if missing:
            raise AllocationError(
                f"{self.path}: allocation database is not initialised (meta lacks {missing})"
            )
        self.seed = int(rows["seed"])
        self.conditions: tuple[str, ...] = tuple(json.loads(rows["conditions"]))
        self.block_sizes: tuple[int, ...] = tuple(json.loads(rows["block_sizes"]))
        self.strata_fields: tuple[str, ...] = tuple(json.loads(rows["strata"]))
        self._arms: dict[str, str] = json.loads(rows["arms"])
        self.meta = rows
        self._sequences: dict[str, list[tuple[str, int]]] = {}

    # ------------------------------------------------------------------ creation
    @classmethod
    def create(cls, path: str | Path, protocol, seed: int | None = None) -> AllocationDB:
        """Create and initialise a new allocation database for ``protocol``.

        Parameters
        ----------
        path : str | Path
            The new file; it must not exist yet (an existing study is never overwritten).
        protocol : conditions.protocol.Protocol
            Supplies the conditions, block sizes and strata.
        seed : int | None
            Study seed; ``None`` uses the protocol's ``randomisation.seed``.
        """
        path = Path(path)
        if path.exists():
            raise AllocationError(
                f"{path}: already exists; an allocation database is never "
                "overwritten (choose another path or remove it by hand)"
            )
        rand = protocol.randomisation
        conditions = tuple(protocol.condition_names)
        seed = int(rand.seed if seed is None else seed)
        if seed < 0:
            raise AllocationError(f"seed must be a non-negative integer, got {seed}")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".init")
        if tmp.exists():
            tmp.unlink()
        con = sqlite3.connect(tmp, isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)
            meta = {
                "schema_version": str(SCHEMA_VERSION),
                "seed": str(seed),
                "conditions": json.dumps(list(conditions)),
                "block_sizes": json.dumps(list(rand.block_sizes)),
                "strata": json.dumps(list(rand.strata)),
                "scheme": rand.scheme,
                "arms": json.dumps(arm_labels(seed, conditions)),
                "protocol": str(protocol.path),
                "created_at": _utc_now(),
                "created_on": socket.gethostname(),
            }
            con.execute("BEGIN IMMEDIATE")
            con.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", meta.items())
            con.execute(
                "INSERT INTO audit (time, action, who, machine, detail) VALUES (?, ?, ?, ?, ?)",
                (_utc_now(), "init", _os_user(), socket.gethostname(), f"seed={seed}"),
            )
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

    # ------------------------------------------------------------------ internals
    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        con.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        con.execute("PRAGMA synchronous=FULL")
        return con

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

    def _audit(self, con: sqlite3.Connection, action: str, who: str, detail: str) -> None:
        con.execute(
            "INSERT INTO audit (time, action, who, machine, detail) VALUES (?, ?, ?, ?, ?)",
            (_utc_now(), action, who, socket.gethostname(), detail),
        )

    @staticmethod
    def _row_to_allocation(row: tuple) -> Allocation:
        pid, condition, code, stratum, slot, block, at, machine = row
        return Allocation(pid, condition, code, stratum, int(slot), int(block), at, machine)

    _SELECT = (
        "SELECT participant_id, condition, session_code, stratum, slot, block, allocated_at, "
        "machine FROM allocations"
    )

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
            The participant's ID (with or without ``sub-``; stored without it).
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
        pid = str(participant_id).strip()
        if pid.startswith("sub-"):
            pid = pid[4:]
        if not pid:
            raise AllocationError("participant_id must not be empty")
        machine = machine or socket.gethostname()
        con = self._connect()
        try:
            existing = con.execute(self._SELECT + " WHERE participant_id = ?", (pid,)).fetchone()
            if existing:
                return self._row_to_allocation(existing)
            stratum = stratum_key(self.strata_fields, strata)
            con.execute("BEGIN IMMEDIATE")
            try:
                existing = con.execute(
                    self._SELECT + " WHERE participant_id = ?", (pid,)
                ).fetchone()
                if existing:
                    con.execute("COMMIT")
                    return self._row_to_allocation(existing)
                (last,) = con.execute(
                    "SELECT COALESCE(MAX(slot), 0) FROM allocations WHERE stratum = ?",
                    (stratum,),
                ).fetchone()
                slot = int(last) + 1
                condition, block = self._sequence(stratum, slot)[slot - 1]
                attempt = 0
                while True:
                    code = session_code_for(self.seed, pid, attempt)
                    clash = con.execute(
                        "SELECT 1 FROM allocations WHERE session_code = ?", (code,)
                    ).fetchone()
                    if not clash:
                        break
                    attempt += 1
                at = allocated_at or _utc_now()
                con.execute(
                    "INSERT INTO allocations (participant_id, stratum, slot, block, condition, "
                    "session_code, strata_json, allocated_at, machine, os_user) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        pid,
                        stratum,
                        slot,
                        block,
                        condition,
                        code,
                        json.dumps(dict(strata or {}), sort_keys=True),
                        at,
                        machine,
                        _os_user(),
                    ),
                )
                con.execute("COMMIT")
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise
            return Allocation(pid, condition, code, stratum, slot, block, at, machine)
        finally:
            con.close()

    def lookup(self, participant_id: str) -> Allocation | None:
        """The allocation of ``participant_id``, or ``None`` if not allocated."""
        pid = str(participant_id).strip()
        pid = pid[4:] if pid.startswith("sub-") else pid
        con = self._connect()
        try:
            row = con.execute(self._SELECT + " WHERE participant_id = ?", (pid,)).fetchone()
        finally:
            con.close()
        return self._row_to_allocation(row) if row else None

    def session_status(self, participant_id: str) -> str | None:
        """'allocated', 'complete' or 'incomplete' (``None`` when not allocated)."""
        pid = str(participant_id).strip()
        pid = pid[4:] if pid.startswith("sub-") else pid
        con = self._connect()
        try:
            row = con.execute(
                "SELECT session_status FROM allocations WHERE participant_id = ?", (pid,)
            ).fetchone()
        finally:
            con.close()
        return row[0] if row else None

    def mark_session(self, participant_id: str, status: str) -> None:
        """Record the session outcome: ``'complete'`` or ``'incomplete'``."""
        if status not in ("complete", "incomplete"):
            raise AllocationError(
                f"session status must be 'complete' or 'incomplete', got {status!r}"
            )
        pid = str(participant_id).strip()
        pid = pid[4:] if pid.startswith("sub-") else pid
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            cur = con.execute(
                "UPDATE allocations SET session_status = ?, status_at = ? WHERE participant_id = ?",
                (status, _utc_now(), pid),
            )
            if cur.rowcount != 1:
                con.execute("ROLLBACK")
                raise AllocationError(f"{self.path}: participant {pid!r} is not allocated")
            con.execute("COMMIT")
        finally:
            con.close()

    def arm_label(self, condition: str) -> str:
        """The blinded arm letter of a condition."""
        return self._arms[condition]

    def _table(self) -> pd.DataFrame:
        con = self._connect()
        try:
            table = pd.read_sql_query(
                "SELECT id, participant_id, stratum, slot, block, condition, session_code, "
                "strata_json, allocated_at, machine, os_user, session_status, status_at "
                "FROM allocations ORDER BY id",
                con,
            )
        finally:
            con.close()
        return table

    def status(self, blinded: bool = True) -> pd.DataFrame:
        """Counts per stratum and arm (blinded: arms ``A``..``E``; else condition names).

        Columns: ``stratum, arm, allocated, complete, incomplete``.
        """
        table = self._table()
        arm = "arm" if blinded else "condition"
        labels = [self._arms[c] for c in self.conditions] if blinded else list(self.conditions)
        if blinded:
            table["arm"] = table["condition"].map(self._arms)
        strata = sorted(table["stratum"].unique()) if len(table) else []
        rows = []
        for stratum in strata + ["(total)"]:
            sub = table if stratum == "(total)" else table[table["stratum"] == stratum]
            for label in sorted(labels):
                s = sub[sub[arm] == label]
                rows.append(
                    {
                        "stratum": stratum,
                        arm: label,
                        "allocated": len(s),
                        "complete": int((s["session_status"] == "complete").sum()),
                        "incomplete": int((s["session_status"] == "incomplete").sum()),
                    }
                )
        return pd.DataFrame(rows, columns=["stratum", arm, "allocated", "complete", "incomplete"])

    def export(self, unblind: bool, confirmed_by: str, reason: str = "") -> pd.DataFrame:
        """Every allocation as a table; unblinded exports are logged in the audit table.

        Parameters
        ----------
        unblind : bool
            Include each participant's condition, arm letter, slot and block. Otherwise
            the export holds no per-participant arm at all (not even the letter: one known
            condition would unblind a whole arm), nor the slot and block (which, with the
            block composition, narrow it down): only IDs, strata, session codes, times,
            machines and session status, in allocation order. Counts per arm are in
            :meth:`status`.
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
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            self._audit(
                con,
                "export_unblinded" if unblind else "export_blinded",
                who or _os_user(),
                json.dumps({"reason": reason, "n": len(table)}),
            )
            con.execute("COMMIT")
        finally:
            con.close()
        if not unblind:
            table = table[list(BLINDED_EXPORT_COLUMNS)]
            return table.reset_index(drop=True)
        return table.drop(columns=["id"]).reset_index(drop=True)

    def log_unblinding(self, who: str, action: str, reason: str) -> None:
        """Record an unblinded view (e.g. ``status --unblind``) in the audit table."""
        if not str(who).strip():
            raise AllocationError("unblinding needs a name: who is unblinding")
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            self._audit(con, action, str(who).strip(), json.dumps({"reason": reason}))
            con.execute("COMMIT")
        finally:
            con.close()

    def audit_log(self) -> pd.DataFrame:
        """The audit table (init, exports, unblindings)."""
        con = self._connect()
        try:
            return pd.read_sql_query("SELECT * FROM audit ORDER BY id", con)
        finally:
            con.close()

    def backup(self, dest: str | Path) -> Path:
        """A consistent copy of the live database (SQLite online backup), safe while other
        machines keep allocating. Copying the file with ``cp`` is only safe when no write
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

    def verify(self) -> list[str]:
        """Check integrity and balance; return a list of problems (``[]`` when fine).

        Checks: SQLite ``integrity_check``; unique IDs and codes; every stratum's slots run
        1..n without gaps; every stored condition and block equals the seeded sequence; every
        complete block holds each condition equally often and the open block holds no
        condition more than its share.
        """
        problems: list[str] = []
        con = self._connect()
        try:
            result = [r[0] for r in con.execute("PRAGMA integrity_check").fetchall()]
            if result != ["ok"]:
                problems.extend(f"sqlite integrity: {r}" for r in result)
        finally:
            con.close()
        table = self._table()
        for col in ("participant_id", "session_code"):
            dup = table[col][table[col].duplicated()]
            if len(dup):
                problems.append(f"duplicate {col}: {sorted(dup.unique())[:10]}")
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
            # balance per block, from the stored rows; block sizes from the seeded draw
            full_seq = block_sequence(
                self.seed,
                stratum,
                self.conditions,
                self.block_sizes,
                max(slots) + max(self.block_sizes),
            )
            block_size = {}
            for _, b in full_seq:
                block_size[b] = block_size.get(b, 0) + 1
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


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"
