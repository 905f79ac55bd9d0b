"""The BIDS reader gives the same samples with ISA-L's inflater as with zlib (issue 16)."""

from __future__ import annotations

import gzip
import zlib

import numpy as np
import pytest

from physio.errors import ReaderError
from physio.io import read_bids as rb


def _write(path, rows: int, members: int = 1) -> np.ndarray:
    rng = np.random.default_rng(1)
    x = np.round(rng.normal(size=(rows, 3)), 6)
    text = "\n".join("\t".join(f"{v:.6f}" for v in r) for r in x) + "\n"
    lines = text.encode().splitlines(keepends=True)
    per = -(-len(lines) // members)
    path.write_bytes(b"".join(gzip.compress(b"".join(lines[i:i + per]))
                             for i in range(0, len(lines), per)))
    return x


@pytest.mark.parametrize("members", [1, 3])
def test_isal_and_zlib_read_the_same_table(tmp_path, monkeypatch, members):
    pytest.importorskip("isal")
    p = tmp_path / "x_physio.tsv.gz"
    truth = _write(p, 300_000, members)  # several pieces of inflated text
    fast = rb.read_physio_table(p, ["a", "b", "c"])
    assert rb._inflate_module().__name__ != "zlib"
    monkeypatch.setattr(rb, "_inflate_module", lambda: zlib)
    slow = rb.read_physio_table(p, ["a", "b", "c"])
    assert np.array_equal(fast, slow) and np.array_equal(fast, truth)


def test_truncated_gzip_is_an_error_with_isal(tmp_path):
    p = tmp_path / "x_physio.tsv.gz"
    _write(p, 50_000)
    p.write_bytes(p.read_bytes()[:-5000])
    with pytest.raises(ReaderError, match="truncated|decompress"):
        rb.read_physio_table(p, ["a", "b", "c"])
