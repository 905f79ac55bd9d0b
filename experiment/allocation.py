"""Concealed, balanced, persistent allocation: permuted-block randomisation in a database.

Two back ends hold the same tables and give the same allocations:

- **SQLite** (:class:`AllocationDB`, the default: ``--db PATH``), one file per study for a
  single lab PC. It runs in WAL mode and each allocation is one ``BEGIN IMMEDIATE``
  transaction, so processes allocating at the same moment queue on the write lock: no
  duplicate participant, no skipped slot. That holds only for processes on ONE machine with
  the file on its local disk (WAL coordinates through shared memory; network file locking
  is unreliable), so a database on a network filesystem is refused
  (:func:`check_local_disk`).
- **PostgreSQL** (:class:`experiment.allocation_postgres.PostgresAllocationDB`,
  ``--db postgresql://USER@HOST/DATABASE``) for two or more lab PCs and multi-site studies.
  Each allocation is one transaction that locks its stratum's slot counter row
  (``SELECT ... FOR UPDATE``), so two PCs can never take the same slot. Authentication and
  TLS are PostgreSQL's own (``pg_hba.conf``, ``sslmode=verify-full``).

The scheme is permuted-block randomisation over the protocol's conditions, with block sizes
drawn at random (default 5 or 10) and, when the protocol names strata (default ``sex``),
one independent sequence per stratum. Each stratum's sequence is a pure function of the
study seed and the stratum, so :meth:`AllocationDB.verify` can recompute it and check every
stored allocation against it.

Concealment: the study seed is drawn with :mod:`secrets` when the database is created and
is kept only in the database (the protocol's published example seed is refused unless the
database is a demonstration, ``demo=True``). An allocation is shown to the experimenter
only as a neutral session code (``S-7K3Q``) derived from the seed and the participant ID.
Blinded summaries give totals and block completeness only, never counts per arm. Every
unblinding is logged in the ``audit`` table. Participant IDs are unique regardless of case
(``P01`` and ``p01`` are one folder on Windows and macOS disks).

This module does not import PsychoPy; the analysis, the simulator and the CLI use it.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import secrets
import socket
import sqlite3
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy and pandas are imported where used: `--help` stays instant
    import pandas as pd

from conditions.errors import SootheError

SCHEMA_VERSION = 2  # 2: seed_source in meta; participant IDs unique regardless of case
#: The protocol's published example seed (conditions/protocol.toml): a database made with it
#: is predictable by anyone with the repository, so it is refused unless ``demo=True``.
EXAMPLE_SEED = 20190101
#: Bits of a seed drawn with :mod:`secrets`.
SEED_BITS = 128
SEED_SOURCES = {
    "drawn": "drawn at random by soothe when the database was created (secret, kept only "
             "in the database)",
    "user": "given by the user at init (--seed); it is as secret as whoever chose it kept it",
    "demo": "the protocol's published example seed (--demo): anyone with the repository "
            "can predict every allocation; not for a real study",
}
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
CREATE UNIQUE INDEX allocations_participant_nocase ON allocations (lower(participant_id));
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


# filesystems whose locking SQLite's WAL cannot rely on (https://sqlite.org/wal.html:
# "WAL does not work over a network filesystem"; all processes must be on the same host)
NETWORK_FS_TYPES = frozenset({
    "nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "ncpfs", "afs", "coda", "9p",
    "ceph", "glusterfs", "lustre", "gpfs", "beegfs", "davfs", "sshfs", "fuse.sshfs",
    "fuse.rclone", "fuse.s3fs", "fuse.gcsfuse", "fuse.glusterfs", "fuse.cephfs",
    "fuse.davfs2", "fuse.curlftpfs", "fuse.smbnetfs", "fuse.gvfsd-fuse", "fuse.juicefs",
})


def _read_mounts() -> str:
    try:
        return Path("/proc/mounts").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _unescape_mount(field: str) -> str:
    """/proc/mounts writes space, tab, newline and backslash as octal escapes."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"),
                       ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def mount_of(path: str | Path, mounts_text: str | None = None) -> tuple[str, str, str] | None:
    r"""(device, mount point, filesystem type) of the mount holding ``path`` (Linux).

    ``mounts_text`` is a ``/proc/mounts`` table (default: the live one); None when it is
    empty or unreadable (not Linux).

    Examples
    --------
    >>> table = "/dev/sda1 / ext4 rw 0 0\nsrv:/lab /mnt/lab nfs4 rw 0 0\n"
    >>> mount_of("/mnt/lab/study/allocation.sqlite", table)
    ('srv:/lab', '/mnt/lab', 'nfs4')
    >>> mount_of("/mnt/labX/a.sqlite", table)[2]
    'ext4'
    """
    text = _read_mounts() if mounts_text is None else mounts_text
    target = Path(path).expanduser().resolve().as_posix()
    best: tuple[str, str, str] | None = None
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        device, mountpoint, fstype = _unescape_mount(parts[0]), _unescape_mount(parts[1]), parts[2]
        inside = (target == mountpoint or mountpoint == "/"
                  or target.startswith(mountpoint.rstrip("/") + "/"))
        if inside and (best is None or len(mountpoint) >= len(best[1])):
            best = (device, mountpoint, fstype)  # the last, longest match is the visible one
    return best


def network_filesystem(path: str | Path, mounts_text: str | None = None) -> str | None:
    r"""A description of the network filesystem holding ``path``, or None when it is local.

    Linux: the mount's type in ``/proc/mounts`` (NFS, SMB/CIFS, sshfs and other network
    FUSE file systems). Windows: a UNC path (``\\server\share``) or a mapped network
    drive. Elsewhere (macOS) nothing is detected.

    Examples
    --------
    >>> table = "/dev/sda1 / ext4 rw 0 0\nuser@pc2:/data /mnt/pc2 fuse.sshfs rw 0 0\n"
    >>> network_filesystem("/mnt/pc2/allocation.sqlite", table)
    'fuse.sshfs (user@pc2:/data mounted on /mnt/pc2)'
    >>> network_filesystem("/home/lab/allocation.sqlite", table) is None
    True
    """
    if sys.platform == "win32" and mounts_text is None:  # pragma: no cover - Windows only
        text = str(Path(path).expanduser().resolve())
        if text.startswith("\\\\"):
            return "a network share (UNC path)"
        try:
            import ctypes

            drive = Path(text).drive + "\\"
            if ctypes.windll.kernel32.GetDriveTypeW(drive) == 4:  # DRIVE_REMOTE
                return f"a mapped network drive ({drive})"
        except (AttributeError, OSError):
            pass
        return None
    found = mount_of(path, mounts_text)
    if found is None:
        return None
    device, mountpoint, fstype = found
    network = fstype in NETWORK_FS_TYPES or (
        fstype == "fuse" and ":" in device  # old sshfs: type 'fuse', device 'user@host:/dir'
    )
    return f"{fstype} ({device} mounted on {mountpoint})" if network else None


def check_local_disk(path: str | Path, mounts_text: str | None = None) -> None:
    r"""Refuse an allocation database on a network filesystem.

    Raises
    ------
    AllocationError
        Naming the file and the filesystem, and what to do instead.

    Examples
    --------
    >>> check_local_disk("/tmp/allocation.sqlite", "tmpfs /tmp tmpfs rw 0 0\n")
    """
    where = network_filesystem(path, mounts_text)
    if where is None:
        return
    raise AllocationError(
        f"{path}: the allocation database is on a network filesystem, {where}. SQLite's WAL "
        "mode needs every process that uses the file on one machine, with the file on that "
        "machine's local disk; over a network share two PCs can allocate the same slot or "
        "corrupt the file. Keep the database on one PC's local disk; for two or more PCs use a "
        "PostgreSQL server, --db postgresql://USER@HOST/DATABASE (see "
        "docs/running-a-session.md, 'Two lab PCs or several sites')."
    )


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
    import numpy as np
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
    import numpy as np
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


def draw_seed() -> int:
    """A fresh secret study seed (:data:`SEED_BITS` bits from :mod:`secrets`).

    Examples
    --------
    >>> draw_seed() != draw_seed()
    True
    """
    return secrets.randbits(SEED_BITS)


def choose_seed(protocol, seed: int | None, demo: bool) -> tuple[int, str]:
    """The seed a new database gets and where it came from (``drawn``, ``user``, ``demo``).

    Without ``seed`` a secret one is drawn (with ``demo``: the protocol's example seed, so a
    demonstration is reproducible). A given seed that is the published example seed (or the
    protocol's own ``randomisation.seed``) is refused unless ``demo``.

    Examples
    --------
    >>> from conditions.protocol import load_protocol
    >>> choose_seed(load_protocol(), 7, demo=False)
    (7, 'user')
    >>> choose_seed(load_protocol(), None, demo=True)
    (20190101, 'demo')
    >>> choose_seed(load_protocol(), None, demo=False)[1]
    'drawn'
    """
    examples = {EXAMPLE_SEED, int(protocol.randomisation.seed)}
    if seed is None:
        if demo:
            return int(protocol.randomisation.seed), "demo"
        return draw_seed(), "drawn"
    seed = int(seed)
    if seed < 0:
        raise AllocationError(f"seed must be a non-negative integer, got {seed}")
    if seed in examples:
        if not demo:
            raise AllocationError(
                f"seed {seed} is the protocol's published example seed: anyone with the "
                "repository could predict every allocation (CONSORT item 9, concealment). "
                "Leave out --seed: a secret seed is drawn and kept only in the database. "
                "For a demonstration database pass --demo."
            )
        return seed, "demo"
    return seed, "demo" if demo else "user"


def _clean_pid(participant_id: str) -> str:
    pid = str(participant_id).strip()
    if pid.startswith("sub-"):
        pid = pid[4:]
    if not pid:
        raise AllocationError("participant_id must not be empty")
    return pid


class _Tx:
    """One connection (in a transaction or not) with ``?`` placeholders on every back end."""

    def __init__(self, con, placeholder: str = "?") -> None:
        self.con = con
        self.placeholder = placeholder

    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        cur = self.con.execute(self._sql(sql), params)
        return [tuple(r) for r in cur.fetchall()] if cur.description else []

    def one(self, sql: str, params: tuple = ()) -> tuple | None:
        rows = self.rows(sql, params)
        return rows[0] if rows else None

    def run(self, sql: str, params: tuple = ()) -> int:
        return self.con.execute(self._sql(sql), params).rowcount

    def columns(self, sql: str, params: tuple = ()) -> tuple[list[str], list[tuple]]:
        cur = self.con.execute(self._sql(sql), params)
        names = [d[0] for d in cur.description]
        return names, [tuple(r) for r in cur.fetchall()]


_TABLE_COLUMNS = ("id, participant_id, stratum, slot, block, condition, session_code, "
                  "strata_json, allocated_at, machine, os_user, session_status, status_at")


class _AllocationStore:
    """What every back end shares: the scheme, the queries and the checks.

    A back end provides ``_read()`` and ``_write()`` (context managers yielding a
    :class:`_Tx`; ``_write`` is one transaction that serialises allocations),
    ``_next_slot(tx, stratum)`` (the stratum's next slot, locked until the transaction
    ends), ``_after_insert(tx, stratum, slot)``, ``_is_unique_violation(exc)``,
    ``_integrity_problems()`` and ``where`` (a description for messages).
    """

    where: str
    seed: int
    conditions: tuple[str, ...]
    block_sizes: tuple[int, ...]
    strata_fields: tuple[str, ...]
    meta: dict[str, str]

    # ------------------------------------------------------------------ back end
    @contextmanager
    def _read(self) -> Iterator[_Tx]:  # pragma: no cover - abstract
        raise NotImplementedError
        yield

    @contextmanager
    def _write(self) -> Iterator[_Tx]:  # pragma: no cover - abstract
        raise NotImplementedError
        yield

    def _next_slot(self, tx: _Tx, stratum: str) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def _after_insert(self, tx: _Tx, stratum: str, slot: int) -> None:
        """Hook after an allocation row is inserted (PostgreSQL moves its counter)."""

    def _is_unique_violation(self, exc: BaseException) -> bool:  # pragma: no cover
        return False

    def _integrity_problems(self) -> list[str]:  # pragma: no cover - abstract
        return []

    # ------------------------------------------------------------------ shared setup
    @staticmethod
    def _new_meta(protocol, seed: int, seed_source: str) -> dict[str, str]:
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
            "created_at": _utc_now(),
            "created_on": socket.gethostname(),
        }

    def _load_meta(self, rows: dict[str, str]) -> None:
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
    def _audit(tx: _Tx, action: str, who: str, detail: str) -> None:
        tx.run(
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
        pid = _clean_pid(participant_id)
        machine = machine or socket.gethostname()
        with self._read() as tx:
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
                if not self._is_unique_violation(exc) or attempt == 4:
                    raise
                with self._read() as tx:
                    existing = tx.one(self._SELECT + self._BY_ID, (pid,))
                if existing:
                    return self._same_participant(pid, existing)
        raise AssertionError("unreachable")  # pragma: no cover

    def _allocate_once(self, pid: str, stratum: str, strata: Mapping[str, str] | None,
                       machine: str, allocated_at: str | None) -> Allocation:
        with self._write() as tx:
            slot = self._next_slot(tx, stratum)  # locked until this transaction ends
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
            at = allocated_at or _utc_now()
            tx.run(
                "INSERT INTO allocations (participant_id, stratum, slot, block, condition, "
                "session_code, strata_json, allocated_at, machine, os_user) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (pid, stratum, slot, block, condition, code,
                 json.dumps(dict(strata or {}), sort_keys=True), at, machine, _os_user()),
            )
            self._after_insert(tx, stratum, slot)
        return Allocation(pid, condition, code, stratum, slot, block, at, machine)

    def lookup(self, participant_id: str) -> Allocation | None:
        """The allocation of ``participant_id`` (case-insensitive), or ``None``."""
        pid = _clean_pid(participant_id)
        with self._read() as tx:
            row = tx.one(self._SELECT + self._BY_ID, (pid,))
        return self._row_to_allocation(row) if row else None

    def session_status(self, participant_id: str) -> str | None:
        """'allocated', 'complete' or 'incomplete' (``None`` when not allocated)."""
        pid = _clean_pid(participant_id)
        with self._read() as tx:
            row = tx.one("SELECT session_status FROM allocations" + self._BY_ID, (pid,))
        return row[0] if row else None

    def mark_session(self, participant_id: str, status: str) -> None:
        """Record the session outcome: ``'complete'`` or ``'incomplete'``."""
        if status not in ("complete", "incomplete"):
            raise AllocationError(
                f"session status must be 'complete' or 'incomplete', got {status!r}"
            )
        pid = _clean_pid(participant_id)
        with self._write() as tx:
            n = tx.run("UPDATE allocations SET session_status = ?, status_at = ?" + self._BY_ID,
                       (status, _utc_now(), pid))
        if n != 1:
            raise AllocationError(f"{self.where}: participant {pid!r} is not allocated")

    def arm_label(self, condition: str) -> str:
        """The blinded arm letter of a condition."""
        return self._arms[condition]

    def _table(self) -> pd.DataFrame:
        with self._read() as tx:
            names, rows = tx.columns(f"SELECT {_TABLE_COLUMNS} FROM allocations ORDER BY id")
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
        with self._write() as tx:
            self._audit(tx, "export_unblinded" if unblind else "export_blinded",
                        who or _os_user(), json.dumps({"reason": reason, "n": len(table)}))
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
        from conditions import bids

        table = self.export(unblind=True, confirmed_by=confirmed_by, reason=reason)
        path = Path(out) if out is not None else bids.allocation_unblinded_tsv(raw_root)
        path.parent.mkdir(parents=True, exist_ok=True)
        import pandas as pd
        copy = pd.DataFrame({"participant_id": "sub-" + table["participant_id"].astype(str),
                             "condition": table["condition"]})
        bids.write_tsv(path, copy, bids.ALLOCATION_UNBLINDED_COLUMNS)
        return path

    def log_unblinding(self, who: str, action: str, reason: str) -> None:
        """Record an unblinded view (e.g. ``status --unblind``) in the audit table."""
        if not str(who).strip():
            raise AllocationError("unblinding needs a name: who is unblinding")
        with self._write() as tx:
            self._audit(tx, action, str(who).strip(), json.dumps({"reason": reason}))

    def audit_log(self) -> pd.DataFrame:
        """The audit table (init, exports, unblindings)."""
        with self._read() as tx:
            names, rows = tx.columns("SELECT * FROM audit ORDER BY id")
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
        problems = list(self._integrity_problems())
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


class AllocationDB(_AllocationStore):
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
            with self._read() as tx:
                rows = dict(tx.rows("SELECT key, value FROM meta"))
        except sqlite3.DatabaseError as exc:
            raise AllocationError(
                f"{self.path}: not an initialised allocation database ({exc})"
            ) from None
        self._load_meta(rows)
        if rows.get("schema_version") == "1":
            self._upgrade_v1()

    def _upgrade_v1(self) -> None:
        """Databases made before IDs were case-insensitive: add the case-folded index when
        the stored IDs allow it (``verify`` reports clashes that prevent it)."""
        try:
            with self._write() as tx:
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
            con.executescript(_SCHEMA)
            meta = cls._new_meta(protocol, seed, source)
            con.execute("BEGIN IMMEDIATE")
            con.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", meta.items())
            cls._audit(_Tx(con), "init", _os_user(), f"seed {source}")  # never the seed
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
    def _read(self) -> Iterator[_Tx]:
        con = self._connect()
        try:
            yield _Tx(con)
        finally:
            con.close()

    @contextmanager
    def _write(self) -> Iterator[_Tx]:
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")  # the write lock: allocations queue here
            try:
                yield _Tx(con)
                con.execute("COMMIT")
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise
        finally:
            con.close()

    def _next_slot(self, tx: _Tx, stratum: str) -> int:
        (last,) = tx.one("SELECT COALESCE(MAX(slot), 0) FROM allocations WHERE stratum = ?",
                         (stratum,))
        return int(last) + 1

    def _integrity_problems(self) -> list[str]:
        with self._read() as tx:
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


def open_allocation_db(target: str | Path):
    """The allocation database ``--db`` names: a local SQLite file or a PostgreSQL URL.

    Parameters
    ----------
    target : str | Path
        A database file on this PC's local disk (:class:`AllocationDB`), or
        ``postgresql://USER@HOST[:PORT]/DATABASE[?sslmode=verify-full...]``
        (:class:`experiment.allocation_postgres.PostgresAllocationDB`). Pass URLs as
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
        from experiment.allocation_postgres import PostgresAllocationDB

        return PostgresAllocationDB(str(target))
    if str(target).lower().startswith(("http:/", "https:")):
        raise AllocationError(
            f"{target}: the XML-RPC allocation server ('soothe allocation serve') was "
            "removed; for two or more lab PCs use a PostgreSQL server: "
            "--db postgresql://USER@HOST/DATABASE (docs/running-a-session.md)"
        )
    return AllocationDB(target)


def create_allocation_db(target: str | Path, protocol, seed: int | None = None, *,
                         demo: bool = False):
    """Create a new allocation database: a SQLite file, or the tables in an empty
    PostgreSQL database (``postgresql://...``). See :meth:`AllocationDB.create`."""
    if is_database_url(target):
        from experiment.allocation_postgres import PostgresAllocationDB

        return PostgresAllocationDB.create(str(target), protocol, seed, demo=demo)
    if str(target).lower().startswith(("http:/", "https:")):
        open_allocation_db(target)  # the same clear refusal as when opening
    return AllocationDB.create(target, protocol, seed, demo=demo)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"
