"""The randomisation scheme: strata, permuted blocks, arm letters, session codes, seeds.

Pure functions of the study seed, the protocol's conditions and the participant: no
database, no I/O. Every back end (:mod:`conditions.allocation.sqlite_store`,
:mod:`conditions.allocation.postgres_store`) draws through them, and ``verify`` recomputes
them to check every stored allocation.

The scheme is permuted-block randomisation over the protocol's conditions, with block sizes
drawn at random (default 5 or 10) and, when the protocol names strata (default ``sex``),
one independent sequence per stratum. Each stratum's sequence depends only on the study
seed and the stratum. The study seed is drawn with :mod:`secrets`; the protocol's published
example seed is refused unless the database is a demonstration. A participant is shown to
the experimenter only as a neutral session code (``S-7K3Q``) derived from the seed and the
participant ID.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping

from conditions.allocation.errors import AllocationError

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
#: Session-code alphabet: no 0/O, 1/I/L, so codes can be read aloud and typed safely.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def stable_int(text: str) -> int:
    """A platform-independent 64-bit integer from a string (Python's hash() is salted).

    Examples
    --------
    >>> stable_int("all") == stable_int("all")
    True
    """
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
    # lazy: numpy would load on `soothe allocation --help`, which must stay instant
    import numpy as np

    rng = np.random.default_rng(np.random.SeedSequence([int(seed), stable_int(stratum)]))
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
    # lazy: numpy would load on `soothe allocation --help`, which must stay instant
    import numpy as np

    rng = np.random.default_rng(np.random.SeedSequence([int(seed), stable_int("arm-labels")]))
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


def clean_participant_id(participant_id: str) -> str:
    """The participant ID as stored: stripped, without ``sub-``; refused when empty.

    Examples
    --------
    >>> clean_participant_id(" sub-P01 ")
    'P01'
    """
    pid = str(participant_id).strip()
    if pid.startswith("sub-"):
        pid = pid[4:]
    if not pid:
        raise AllocationError("participant_id must not be empty")
    return pid
