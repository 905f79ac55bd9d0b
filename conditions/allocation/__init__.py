"""Concealed, balanced, persistent allocation: permuted-block randomisation in a database.

The lowest layer both the session runner (``experiment``) and the simulator
(``soothe.simulate``) allocate through. It imports no PsychoPy, and nothing heavy until an
allocation is drawn, so ``soothe allocation --help`` stays instant.

Modules:

- :mod:`~conditions.allocation.scheme`: the randomisation itself (strata, permuted blocks,
  arm letters, session codes, seeds); pure functions.
- :mod:`~conditions.allocation.concealed`: :class:`Allocation` and its
  :class:`ConcealedCondition`, which never prints the condition.
- :mod:`~conditions.allocation.store`: :class:`AllocationStore`, the public interface every
  back end implements, the SQL schema and the transaction helper.
- :mod:`~conditions.allocation.sqlite_store`: :class:`AllocationDB`, one SQLite file (WAL)
  on one lab PC's local disk (``--db PATH``).
- :mod:`~conditions.allocation.postgres_store`: :class:`PostgresAllocationDB`, a PostgreSQL
  server for two or more lab PCs and several sites (``--db postgresql://...``).
- :mod:`~conditions.allocation.local_disk`: refuses a SQLite file on a network filesystem.
- :mod:`~conditions.allocation.factory`: :func:`open_allocation_db` and
  :func:`create_allocation_db` choose the back end from ``--db``.

Concealment: the study seed is drawn with :mod:`secrets` when the database is created and
is kept only in the database. An allocation is shown to the experimenter only as a neutral
session code (``S-7K3Q``); its condition prints as ``<concealed condition>``. Blinded
summaries give totals and block completeness only. Every unblinding is logged in the
``audit`` table.

Examples
--------
>>> import tempfile, pathlib
>>> from conditions.protocol import load_protocol
>>> db = AllocationDB.create(pathlib.Path(tempfile.mkdtemp()) / "a.sqlite", load_protocol())
>>> a = db.allocate("001", {"sex": "female"})
>>> a.session_code.startswith("S-"), str(a.condition)
(True, '<concealed condition>')
>>> a.condition.reveal() in db.conditions
True
"""

from __future__ import annotations

from conditions.allocation.concealed import Allocation, ConcealedCondition
from conditions.allocation.errors import AllocationError
from conditions.allocation.factory import create_allocation_db, open_allocation_db
from conditions.allocation.local_disk import check_local_disk, mount_of, network_filesystem
from conditions.allocation.postgres_store import PostgresAllocationDB
from conditions.allocation.scheme import (
    EXAMPLE_SEED,
    arm_labels,
    block_sequence,
    choose_seed,
    session_code_for,
    stratum_key,
)
from conditions.allocation.sqlite_store import AllocationDB
from conditions.allocation.store import (
    BLINDED_EXPORT_COLUMNS,
    SESSION_STATUSES,
    AllocationStore,
    Transaction,
    is_database_url,
)

__all__ = [
    "BLINDED_EXPORT_COLUMNS",
    "EXAMPLE_SEED",
    "SESSION_STATUSES",
    "Allocation",
    "AllocationDB",
    "AllocationError",
    "AllocationStore",
    "ConcealedCondition",
    "PostgresAllocationDB",
    "Transaction",
    "arm_labels",
    "block_sequence",
    "check_local_disk",
    "choose_seed",
    "create_allocation_db",
    "is_database_url",
    "mount_of",
    "network_filesystem",
    "open_allocation_db",
    "session_code_for",
    "stratum_key",
]
