"""Read-ahead of an in-process batch: the next input is read on a thread meanwhile.

Decompressing and parsing release the GIL, so on two cores the next recording's read
overlaps this one's processing, and the first read overlaps the imports. The state (the
reads under way) lives in one :class:`ReadAhead` object per batch run.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

#: Inputs larger than this are not read ahead: two of them would sit in memory at once
#: (48 MB is about an hour of 1000 Hz ECG + EDA as _physio.tsv.gz).
READ_AHEAD_MAX_BYTES = 48 << 20


def file_stamp(path: Path) -> tuple[int, int]:
    """(size, modification time in ns): a file that changed has another stamp."""
    st = path.stat()
    return st.st_size, st.st_mtime_ns


class ReadAhead:
    """The inputs read ahead on a thread, each with the file stamp it was read at.

    :meth:`start` submits a read; :meth:`take` hands the result to the recording's
    processing (or None, when the file changed since, or the read failed: the caller then
    reads again and reports the error); :meth:`close` cancels what is left.

    Examples
    --------
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> import tempfile
    >>> src = Path(tempfile.mkdtemp()) / "rec.csv"
    >>> _ = src.write_text("x")
    >>> with ThreadPoolExecutor(1) as pool:
    ...     ahead = ReadAhead(pool)
    ...     _ = ahead.start(src, lambda: "the recording")
    ...     ahead.take(src), ahead.take(src), ahead.pending
    ('the recording', None, {})
    """

    def __init__(self, executor: Executor, max_bytes: int | None = None) -> None:
        self.executor = executor
        #: larger inputs are not read ahead (default :data:`READ_AHEAD_MAX_BYTES`)
        self.max_bytes = READ_AHEAD_MAX_BYTES if max_bytes is None else max_bytes
        #: ``{path: (file stamp, future)}``: the reads under way (at most one in a batch)
        self.pending: dict[str, tuple[tuple[int, int], Future]] = {}

    def small_enough(self, src: Path) -> bool:
        """A long recording is not held twice (it is processed in chunks)."""
        return src.stat().st_size <= self.max_bytes

    def start(self, src: Path, read: Callable[[], Any]) -> bool:
        """Read ``src`` with ``read()`` on the thread; False when it is too large."""
        if not self.small_enough(src):
            return False
        self.pending[str(src)] = (file_stamp(src), self.executor.submit(read))
        return True

    def take(self, src: Path) -> Any:
        """The recording read ahead for ``src`` if the file has not changed since, else
        None (also when the read-ahead failed)."""
        entry = self.pending.pop(str(src), None)
        if entry is None:
            return None
        stamp, future = entry
        try:
            rec = future.result()
            return rec if file_stamp(src) == stamp else None
        except Exception:  # noqa: BLE001 - read again by the caller, which reports it
            return None

    def close(self) -> None:
        """Cancel the reads not taken."""
        for _, future in self.pending.values():
            future.cancel()
        self.pending.clear()
