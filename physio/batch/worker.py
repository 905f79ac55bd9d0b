"""Set-up of a batch worker process: its collector, its heap and the disk ahead of it.

A worker processes recording after recording. Three things keep it fast and small:

- :class:`ImportFreeze`: the objects its imports created are frozen (``gc.freeze``) once,
  so the collection after every recording skips them;
- :func:`release_memory` and :func:`trim_heap`: after a recording (and right after a read)
  its cycles are collected and freed memory goes back to the system;
- :func:`will_need`: the kernel reads the next inputs into the page cache while the
  workers compute.

The figures behind these choices are in ``bench/bench_batch.py`` and the README.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import importlib
import os
import sys
from typing import Any

from physio.io import assemble

#: Imported by :meth:`ImportFreeze.apply` before freezing (a recording imports them anyway:
#: the pipeline's signal processing, the QC figure's Agg canvas, the TSV reader).
WORKER_MODULES = ("physio.pipeline", "physio.ecg", "physio.eda", "physio.rsp", "physio.hrv",
                  "physio.hrv_phase", "physio.qc", "physio.qc_rsp", "physio.outputs",
                  "physio.io.read_bids", "matplotlib.figure", "matplotlib.backends.backend_agg",
                  "physio.qc_screen", "PIL.PngImagePlugin",
                  "pyarrow.csv")
#: Inputs beyond those being processed that the kernel is asked to read ahead (batch pool).
READ_AHEAD_FILES = 2


class ImportFreeze:
    """Moves everything the imports created out of the cyclic collector's sight, once.

    :func:`release_memory` runs a full collection after every recording; with pandas,
    scipy and matplotlib loaded that walks about a million long-lived objects. Frozen
    (``gc.freeze``), they are skipped. Only import-time objects are frozen (before the
    first recording), so nothing a recording creates can be kept alive by it.

    Freezing is off until :meth:`enable` is called: only processes that belong to the
    batch (its pool workers, the ``soothe`` command) freeze; a program that calls
    :func:`~physio.batch.run_batch` in-process keeps its own collector.

    Examples
    --------
    >>> freeze = ImportFreeze(modules=())
    >>> freeze.apply(), freeze.enabled
    (False, False)
    """

    def __init__(self, modules: tuple[str, ...] = WORKER_MODULES) -> None:
        self.modules = modules
        self.enabled = False
        self.done = False

    def enable(self) -> None:
        """Freeze at the next :meth:`apply` (this process belongs to the batch)."""
        self.enabled = True

    def apply(self) -> bool:
        """Freeze now, when enabled and not done yet; True when this call froze."""
        if not self.enabled or self.done:
            return False
        # the modules every recording needs, imported now rather than during the first
        # recording, so that their objects are frozen too. The collector is off meanwhile:
        # importing the processing stack creates a few hundred thousand objects, and the
        # collections they trigger walk all of them again and again; one full collection
        # afterwards frees the garbage the imports left, so none of it is frozen.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            for name in self.modules:
                try:
                    importlib.import_module(name)
                except ImportError:  # an optional reader library: imported when needed
                    pass
            gc.collect()
            gc.freeze()
        finally:
            if was_enabled:
                gc.enable()
        self.done = True
        return True


#: This process's freeze (one per process: the pool workers and the ``soothe`` command
#: enable it).
IMPORT_FREEZE = ImportFreeze()


def init_pool_worker() -> None:
    """What a pool worker runs first: enable the import freeze, and parse tables on one
    thread (the workers are the parallelism: ``assemble.PARSE_THREADS``)."""
    IMPORT_FREEZE.enable()
    assemble.PARSE_THREADS = False


def release_memory() -> None:
    """Give the memory of the recording just processed back before the next one.

    Without this a worker's resident memory grows from recording to recording: the QC
    figure and pandas objects sit in reference cycles until the cyclic collector runs,
    pyarrow's allocator keeps the pages of the parsed table, and glibc keeps freed heap
    pages. So: collect cycles, release pyarrow's unused pool memory, and ``malloc_trim``
    on glibc.
    """
    gc.collect()
    if "pyarrow" in sys.modules:
        sys.modules["pyarrow"].default_memory_pool().release_unused()
    trim_heap()


@functools.lru_cache(maxsize=1)
def _libc() -> Any:
    """glibc, or None where there is none with ``malloc_trim`` (musl, macOS, Windows)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 - musl has none: AttributeError
    except (OSError, AttributeError):
        return None
    return libc


def trim_heap() -> bool:
    """Return the C heap's free pages to the system (glibc ``malloc_trim``; elsewhere a no-op).

    Parsing a table leaves its freed parse buffers inside the heap, which glibc keeps; the
    recording's large work arrays would then be placed above them. Trimming right after
    the read lowers a worker's resident memory by that much, for about a millisecond.
    Returns True when the heap was trimmed.

    Examples
    --------
    >>> trim_heap() in (True, False)
    True
    """
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


def will_need(path: str | os.PathLike) -> bool:
    """Ask the kernel to read a file into the page cache in the background.

    ``posix_fadvise(POSIX_FADV_WILLNEED)``: the call returns once the reads are queued, so
    a worker that opens the file later finds it in memory instead of waiting for the disk
    (a large study is more than stays cached). Returns False where the system has no such
    call or the file cannot be opened; nothing else changes.

    Examples
    --------
    >>> import tempfile
    >>> f = tempfile.NamedTemporaryFile(delete=False); _ = f.write(b"x" * 10); f.close()
    >>> will_need(f.name) in (True, False)
    True
    """
    if not hasattr(os, "posix_fadvise"):
        return False
    try:
        fd = os.open(os.fspath(path), os.O_RDONLY)
    except OSError:
        return False
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def peak_rss_mb() -> float | None:
    """Peak resident memory of this (worker) process so far, in MB (None on Windows).

    Examples
    --------
    >>> peak_rss_mb() is None or peak_rss_mb() > 0
    True
    """
    try:
        # lazy: the resource module does not exist on Windows
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)
