"""Hypothesis strategies that damage valid files: byte flips, cuts, inserts, deletions."""

from __future__ import annotations

import os

from hypothesis import strategies as st

#: Multiply every fuzz budget (e.g. SOOTHE_FUZZ_SCALE=20 for a long run).
SCALE = max(1, int(os.environ.get("SOOTHE_FUZZ_SCALE", "1")))


def budget(n: int) -> int:
    return n * SCALE


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    """``seed`` damaged by 1-4 random edits."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete", "dup"]))
        n = len(data)
        if n == 0:
            data += draw(st.binary(min_size=1, max_size=16))
            continue
        pos = draw(st.integers(0, n - 1))
        if kind == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set":
            data[pos] = draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xFF, ord("9"), ord("-")]))
        elif kind == "cut":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=32))
        elif kind == "delete":
            del data[pos: pos + draw(st.integers(1, 64))]
        else:
            end = min(n, pos + draw(st.integers(1, 64)))
            data[pos:pos] = data[pos:end]
    return bytes(data)
