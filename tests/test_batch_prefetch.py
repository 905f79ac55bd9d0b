"""--jobs 1 reads the next input on a thread; what it reads is what process_file would read."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from physio import batch
from physio.batch import ReadAhead, read_ahead
from tests.readers_fixtures import write_bids_session


def _spy_take(monkeypatch, taken: list[bool], aheads: list[ReadAhead]) -> None:
    real_take = ReadAhead.take

    def take(self, src):
        rec = real_take(self, src)
        taken.append(rec is not None)
        aheads.append(self)
        return rec

    monkeypatch.setattr(ReadAhead, "take", take)


def test_in_process_batch_uses_the_read_ahead_and_gives_the_same_tables(tmp_path, monkeypatch):
    for subject in ("001", "002", "003"):
        write_bids_session(tmp_path / "raw", subject=subject, seconds=90.0)
    taken: list[bool] = []
    aheads: list[ReadAhead] = []
    _spy_take(monkeypatch, taken, aheads)
    a = batch.run_batch([tmp_path / "raw"], tmp_path / "a", progress=False)
    assert a["ok"] == 3 and taken == [True, True, True]
    assert len({id(x) for x in aheads}) == 1 and aheads[0].pending == {}
    # the same tables without any read-ahead
    monkeypatch.setattr(ReadAhead, "take", lambda self, src: None)
    b = batch.run_batch([tmp_path / "raw"], tmp_path / "b", progress=False)
    for ra, rb in zip(sorted(a["results"], key=lambda r: r["key"]),
                      sorted(b["results"], key=lambda r: r["key"])):
        assert open(ra["windows"]).read() == open(rb["windows"]).read()
    # outputs up to date: nothing is read ahead
    taken.clear()
    _spy_take(monkeypatch, taken, aheads)
    c = batch.run_batch([tmp_path / "raw"], tmp_path / "a", progress=False)
    assert c["skipped"] == 3 and taken == []


def test_a_file_changed_after_the_read_ahead_is_read_again(tmp_path):
    files = write_bids_session(tmp_path / "raw", seconds=30.0)
    src = files.physio_tsv_gz

    with ThreadPoolExecutor(1) as pool:
        ahead = ReadAhead(pool)
        assert ahead.start(src, lambda: batch.read_input(src, {}, None, None))
        st = src.stat()
        os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        assert ahead.take(src) is None
        assert ahead.start(src, _fail)
        assert ahead.take(src) is None  # a failed read-ahead: read again
        assert ahead.pending == {}
        assert ahead.start(src, lambda: "read")
        assert ahead.take(src) == "read"


def _fail():
    raise OSError("disk went away")


def test_large_inputs_are_not_read_ahead(tmp_path, monkeypatch):
    for subject in ("001", "002"):
        write_bids_session(tmp_path / "raw", subject=subject, seconds=30.0)
    monkeypatch.setattr(read_ahead, "READ_AHEAD_MAX_BYTES", 100)  # every file is "large"
    taken: list[bool] = []
    _spy_take(monkeypatch, taken, [])
    summary = batch.run_batch([tmp_path / "raw"], tmp_path / "d", progress=False)
    assert summary["ok"] == 2 and taken == [False, False]

