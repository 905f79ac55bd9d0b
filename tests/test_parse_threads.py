"""Pool workers parse tables on one thread; a single process may use pyarrow's threads."""

from __future__ import annotations

import gzip

import pytest

from physio import batch
from physio.io import assemble


@pytest.fixture
def physio_tsv(tmp_path):
    p = tmp_path / "x_physio.tsv.gz"
    p.write_bytes(gzip.compress(b"".join(b"%d.5\t%d\n" % (i, i) for i in range(1000))))
    return p


def _threads_used(monkeypatch, path) -> list[bool]:
    import pyarrow.csv as pacsv

    from physio.io.read_bids import read_physio_table

    seen = []
    real = pacsv.read_csv

    def spy(*args, **kwargs):
        seen.append(kwargs["read_options"].use_threads)
        return real(*args, **kwargs)

    monkeypatch.setattr(pacsv, "read_csv", spy)
    data = read_physio_table(path, ["a", "b"])
    assert data.shape == (1000, 2) and data[999, 0] == 999.5
    return seen


def test_single_process_parses_with_threads(monkeypatch, physio_tsv):
    monkeypatch.setattr(assemble, "PARSE_THREADS", True)
    assert set(_threads_used(monkeypatch, physio_tsv)) == {True}


def test_pool_worker_parses_on_one_thread(monkeypatch, physio_tsv):
    monkeypatch.setattr(assemble, "PARSE_THREADS", True)
    monkeypatch.setattr(batch.IMPORT_FREEZE, "enabled", False)
    batch.init_pool_worker()  # what ProcessPoolExecutor runs first in every worker
    assert assemble.PARSE_THREADS is False
    assert set(_threads_used(monkeypatch, physio_tsv)) == {False}


def test_csv_reader_follows_the_same_setting(monkeypatch, tmp_path):
    import pyarrow.csv as pacsv

    from physio.io.read_csv import read_csv

    p = tmp_path / "rec.csv"
    p.write_text("time,ecg,eda\n" + "".join(f"{i / 100},{i % 7 / 10},{5 + i / 1000}\n"
                                            for i in range(3000)))
    seen = []
    real = pacsv.read_csv

    def spy(*args, **kwargs):
        seen.append(kwargs["read_options"].use_threads)
        return real(*args, **kwargs)

    monkeypatch.setattr(pacsv, "read_csv", spy)
    monkeypatch.setattr(assemble, "PARSE_THREADS", False)
    rec = read_csv(p)
    assert seen == [False]
    assert len(rec.channels["ecg"].data) == 3000
