"""The BIDS table parser reads the inflated text piece by piece: same values, clear errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from physio.errors import ReaderError
from physio.io import read_bids as rb


def _table(n: int, seed: int = 0) -> tuple[np.ndarray, bytes]:
    rng = np.random.default_rng(seed)
    data = np.round(rng.normal(size=(n, 3)), 6)
    data[5, 1] = np.nan
    lines = ["\t".join("n/a" if np.isnan(v) else repr(float(v)) for v in row) for row in data]
    return data, ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("piece", [64, 1000, 1 << 20])
def test_pieces_of_any_size_give_the_same_table(tmp_path, monkeypatch, piece):
    want, text = _table(5000)
    path = tmp_path / "x_physio.tsv.gz"
    path.write_bytes(gzip.compress(text))
    monkeypatch.setattr(rb, "_PIECE_BYTES", piece)
    got = rb.read_physio_table(path, ["a", "b", "c"])
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    assert all(got[:, i].flags["C_CONTIGUOUS"] for i in range(3))  # channels contiguous


def test_concatenated_gzip_members_and_plain_text(tmp_path, monkeypatch):
    want, text = _table(3000, seed=1)
    cut = text.index(b"\n", len(text) // 2) + 1
    path = tmp_path / "x_physio.tsv.gz"
    path.write_bytes(gzip.compress(text[:cut]) + gzip.compress(text[cut:]))
    monkeypatch.setattr(rb, "_PIECE_BYTES", 4096)
    np.testing.assert_array_equal(rb.read_physio_table(path, ["a", "b", "c"]), want)
    plain = tmp_path / "y_physio.tsv"
    plain.write_bytes(text[:-1])  # no final line break
    np.testing.assert_array_equal(rb.read_physio_table(plain, ["a", "b", "c"]), want)


def test_truncated_gzip_is_an_error_not_a_shorter_recording(tmp_path, monkeypatch):
    _, text = _table(20000, seed=2)
    blob = gzip.compress(text)
    path = tmp_path / "x_physio.tsv.gz"
    path.write_bytes(blob[: len(blob) * 2 // 3])
    monkeypatch.setattr(rb, "_PIECE_BYTES", 8192)
    with pytest.raises(ReaderError, match=r"x_physio\.tsv\.gz.*truncated"):
        rb.read_physio_table(path, ["a", "b", "c"])


def test_bad_row_in_a_later_piece_names_the_file_and_where(tmp_path, monkeypatch):
    _, text = _table(4000, seed=3)
    lines = text.split(b"\n")
    lines[3500] = b"1.0\toops\t2.0"
    path = tmp_path / "x_physio.tsv.gz"
    path.write_bytes(gzip.compress(b"\n".join(lines)))
    monkeypatch.setattr(rb, "_PIECE_BYTES", 16384)
    with pytest.raises(ReaderError, match=r"x_physio\.tsv\.gz: parsing 3 .*rows after \d+"):
        rb.read_physio_table(path, ["a", "b", "c"])


@pytest.mark.parametrize("content", [b"", gzip.compress(b""), gzip.compress(b"\n\n")])
def test_empty_tables(tmp_path, content):
    path = Path(tmp_path) / "x_physio.tsv.gz"
    path.write_bytes(content)
    with pytest.raises(ReaderError, match="no data"):
        rb.read_physio_table(path, ["a", "b"])


def test_a_failed_threaded_parse_is_retried_on_one_thread(tmp_path, monkeypatch):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    want, text = _table(3000, seed=4)
    path = tmp_path / "x_physio.tsv.gz"
    path.write_bytes(gzip.compress(text))
    real = pacsv.read_csv
    calls = []

    def flaky(source, read_options=None, **kw):
        calls.append(read_options.use_threads)
        if read_options.use_threads:
            raise pa.ArrowException("Unknown error: a chunk failed converting for an "
                                     "unknown reason")
        return real(source, read_options=read_options, **kw)

    monkeypatch.setattr(pacsv, "read_csv", flaky)
    np.testing.assert_array_equal(rb.read_physio_table(path, ["a", "b", "c"]), want)
    assert calls[:2] == [True, False]
