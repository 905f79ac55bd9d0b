"""--jobs 1 reads the next input on a thread; what it reads is what process_file would read."""

from __future__ import annotations

import os

from physio import batch
from tests.readers_fixtures import write_bids_session


def test_in_process_batch_uses_the_read_ahead_and_gives_the_same_tables(tmp_path, monkeypatch):
    for subject in ("001", "002", "003"):
        write_bids_session(tmp_path / "raw", subject=subject, seconds=90.0)
    taken = []
    real_take = batch._take_prefetched

    def take(src):
        rec = real_take(src)
        taken.append(rec is not None)
        return rec

    monkeypatch.setattr(batch, "_take_prefetched", take)
    a = batch.run_batch([tmp_path / "raw"], tmp_path / "a", progress=False)
    assert a["ok"] == 3 and taken == [True, True, True]
    assert batch._PREFETCH == {}
    # the same tables without any read-ahead
    monkeypatch.setattr(batch, "_take_prefetched", lambda src: None)
    b = batch.run_batch([tmp_path / "raw"], tmp_path / "b", progress=False)
    for ra, rb in zip(sorted(a["results"], key=lambda r: r["key"]),
                      sorted(b["results"], key=lambda r: r["key"])):
        assert open(ra["windows"]).read() == open(rb["windows"]).read()
    # outputs up to date: nothing is read ahead
    taken.clear()
    monkeypatch.setattr(batch, "_take_prefetched", take)
    c = batch.run_batch([tmp_path / "raw"], tmp_path / "a", progress=False)
    assert c["skipped"] == 3 and taken == []


def test_a_file_changed_after_the_read_ahead_is_read_again(tmp_path):
    files = write_bids_session(tmp_path / "raw", seconds=30.0)
    src = files.physio_tsv_gz
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        batch._PREFETCH[str(src)] = (batch._stamp(src),
                                     pool.submit(batch._read_input, src, {}, None, None))
        st = src.stat()
        os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        assert batch._take_prefetched(src) is None
        batch._PREFETCH[str(src)] = (batch._stamp(src), pool.submit(_fail))
        assert batch._take_prefetched(src) is None  # a failed read-ahead: read again
        assert batch._PREFETCH == {}


def _fail():
    raise OSError("disk went away")


def test_large_inputs_are_not_read_ahead(tmp_path, monkeypatch):
    for subject in ("001", "002"):
        write_bids_session(tmp_path / "raw", subject=subject, seconds=30.0)
    monkeypatch.setattr(batch, "READ_AHEAD_MAX_BYTES", 100)  # every file is "large"
    taken = []
    real_take = batch._take_prefetched
    monkeypatch.setattr(batch, "_take_prefetched",
                        lambda src: taken.append(real_take(src) is not None))
    summary = batch.run_batch([tmp_path / "raw"], tmp_path / "d", progress=False)
    assert summary["ok"] == 2 and taken == [False, False]
