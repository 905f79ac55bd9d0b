"""Batch progress outside a terminal: exactly one plain line per finished recording."""

from __future__ import annotations

import io

from physio.batch import run_batch
from physio.progress import BatchProgress
from tests.readers_fixtures import write_bids_session


def test_batch_progress_in_a_non_terminal_is_one_line_per_recording(tmp_path, capsys):
    for subject in ("001", "002", "003"):
        write_bids_session(tmp_path / "raw", subject=subject, seconds=60.0)
    summary = run_batch([tmp_path / "raw"], tmp_path / "deriv", progress=True)
    assert summary["ok"] == 3
    err = capsys.readouterr().err
    assert "\r" not in err
    physio_lines = [ln for ln in err.splitlines() if ln.startswith("physio")]
    # the one-line warnings of channels under 50 % valid come after the progress, one line
    # each (these 60-s fixture sessions hold no complete window of a protocol phase)
    lines = [ln for ln in physio_lines if not ln.startswith("physio: WARNING ")]
    assert len(lines) == 3, err
    assert physio_lines[:3] == lines
    assert [ln.split()[1] for ln in lines] == ["1/3", "2/3", "3/3"]
    assert all("ok sub-00" in ln for ln in lines)


def test_progress_counts_failures_and_can_be_silent():
    out = io.StringIO()
    bar = BatchProgress(2, "physio", stream=out)
    bar.update("failed x.acq", failed=1)
    bar.update("ok sub-01", failed=1)
    bar.close()
    assert out.getvalue().splitlines() == ["physio: 1/2 failed x.acq (failed=1)",
                                           "physio: 2/2 ok sub-01 (failed=1)"]
    quiet = io.StringIO()
    bar = BatchProgress(2, "physio", stream=quiet, enabled=False)
    bar.update("ok")
    assert quiet.getvalue() == "" and bar.n == 1


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_bar_redraws_once_per_update():
    out = _Terminal()
    bar = BatchProgress(3, "physio", stream=out)
    before = out.getvalue().count("\r")
    bar.update("ok", failed=0)
    assert out.getvalue().count("\r") - before <= 1
    bar.close()
