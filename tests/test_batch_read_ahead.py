"""The batch pool asks the kernel to read every input ahead, in processing order."""

from __future__ import annotations

import os

from physio import batch
from physio.batch import scheduling


def test_every_input_is_read_ahead_in_order(tmp_path, monkeypatch):
    from tests.readers_fixtures import write_bids_session

    raw = tmp_path / "raw"
    for sub in ("001", "002", "003", "004"):
        write_bids_session(raw, subject=sub, seconds=60.0)
    asked: list[str] = []
    monkeypatch.setattr(scheduling, "will_need", lambda p: asked.append(os.fspath(p)) or True)
    summary = batch.run_batch([raw], tmp_path / "deriv", jobs=2, progress=False)
    assert summary["ok"] == 4
    inputs = [os.fspath(p) for p in batch.find_inputs([raw])]
    assert asked == inputs  # each once, in the order the workers take them


def test_will_need_is_harmless_on_missing_files(tmp_path):
    assert batch.will_need(tmp_path / "nope.tsv.gz") is False
    f = tmp_path / "x.bin"
    f.write_bytes(b"x" * 4096)
    assert batch.will_need(f) is hasattr(os, "posix_fadvise")
    assert f.read_bytes() == b"x" * 4096

