"""Where the batch's recordings are processed: this process, a process pool, or Dask.

Each executor yields the records of :func:`~physio.batch.recording.process_file` as they
complete; only the executor changes between a laptop and a cluster
(:func:`run_recordings` picks it).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from functools import partial
from pathlib import Path
from typing import Any

from conditions.protocol import load_protocol
from physio.batch.read_ahead import ReadAhead
from physio.batch.recording import failure_record, process_file, read_input
from physio.batch.worker import READ_AHEAD_FILES, init_pool_worker, will_need
from physio.io import detect_format, reader_spec
from physio.outputs import session_files

#: One call of ``process_file(*args)``: (path, deriv, settings, overrides, force,
#: sampling_rate, column_map, labels).
Call = tuple


def run_recordings(jobs: int, scheduler: str | None,
                   calls: Sequence[Call]) -> Iterator[dict[str, Any]]:
    """Yield the records of ``process_file(*args)`` for each call, as they complete.

    ``scheduler`` (``'local'`` or a Dask scheduler's address) runs them on Dask; otherwise
    ``jobs`` > 1 runs a process pool, and 1 runs them here, reading ahead.
    """
    if scheduler:
        yield from run_on_dask(jobs, scheduler, calls)
    elif jobs <= 1:
        yield from run_in_process(calls)
    else:
        yield from run_in_pool(jobs, calls)


def run_on_dask(jobs: int, scheduler: str, calls: Sequence[Call]) -> Iterator[dict[str, Any]]:
    """On a Dask LocalCluster of ``jobs`` workers (``'local'``) or a running scheduler."""
    # lazy: dask is optional (the 'cluster' extra) and slow to import
    from dask.distributed import Client, LocalCluster
    from dask.distributed import as_completed as dask_completed

    cluster = None
    if scheduler == "local":
        cluster = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1,
                               processes=True, host="127.0.0.1", dashboard_address=None)
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        futures = [client.submit(process_file, *args, pure=False) for args in calls]
        for fut in dask_completed(futures):
            yield fut.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_in_pool(jobs: int, calls: Sequence[Call]) -> Iterator[dict[str, Any]]:
    """On a pool of ``jobs`` worker processes (:func:`~physio.batch.worker.init_pool_worker`).

    The workers take the inputs in order; the kernel is asked to read the next ones into
    the page cache while they compute (:func:`~physio.batch.worker.will_need`). There is
    no ``max_tasks_per_child``: with it, CPython 3.11's pool could hang for good after the
    first worker replacement; the clean-up after each recording bounds memory instead.
    """
    # one BLAS/OpenMP thread per worker: the workers are the parallelism (inherited by the
    # fresh worker interpreters; the parent's own libraries are already initialised)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    ctx = mp.get_context("spawn" if os.name == "nt" else "forkserver")
    paths = [args[0] for args in calls]
    for path in paths[:jobs + READ_AHEAD_FILES]:
        will_need(path)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx,
                             initializer=init_pool_worker) as pool:
        futures = {pool.submit(process_file, *args): args for args in calls}
        for done, fut in enumerate(as_completed(futures), start=1):
            nxt = done + jobs + READ_AHEAD_FILES - 1
            if nxt < len(paths):
                will_need(paths[nxt])
            try:
                yield fut.result()
            except Exception as exc:  # noqa: BLE001 - a worker died (e.g. killed, OOM)
                yield failure_record(Path(futures[fut][0]), exc, internal=True)


def worth_reading_ahead(args: Call) -> bool:
    """Whether an input is read ahead: it exists and its outputs do not (an up-to-date
    input is usually skipped without being read), or the batch is forced."""
    path, deriv, settings, _, force, _, _, labels = args
    if labels is None or not Path(path).is_file():
        return False
    if force:
        return True
    part, ses, task = labels
    if task is None:
        task = load_protocol(settings.get("protocol_path")).task
    return not session_files(Path(deriv), part, ses, task).windows_tsv(Path(deriv)).is_file()


def start_read_ahead(ahead: ReadAhead, args: Call) -> bool:
    """Start reading a call's input on the read-ahead thread; False when it is not."""
    try:
        if not worth_reading_ahead(args):
            return False
        # the reader's modules are imported here, not on the read-ahead thread, which
        # reads while this thread imports the processing stack: a module imported by two
        # threads at once can reach one of them half-initialised
        reader_spec(detect_format(Path(args[0]))).load()
        return ahead.start(Path(args[0]), partial(read_input, Path(args[0]), args[2],
                                                  args[5], args[6]))
    except Exception:  # noqa: BLE001 - no read-ahead; process_file reads it
        return False


def run_in_process(calls: Sequence[Call]) -> Iterator[dict[str, Any]]:
    """In this process, one after another, the next input read on a thread meanwhile
    (:class:`~physio.batch.read_ahead.ReadAhead`)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="soothe-read") as pool:
        ahead = ReadAhead(pool)
        try:
            if calls:
                start_read_ahead(ahead, calls[0])
            for k, args in enumerate(calls):
                if k + 1 < len(calls):
                    start_read_ahead(ahead, calls[k + 1])
                yield process_file(*args, read_ahead=ahead)
        finally:
            ahead.close()
