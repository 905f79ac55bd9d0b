"""The batch: find recordings, process each in a worker, collect tables, failures and QC.

One module per responsibility, each importing only those listed before it:

- :mod:`physio.batch.inputs`: discovery (:func:`find_inputs`) and output labels
  (:func:`plan_labels`);
- :mod:`physio.batch.worker`: set-up of a worker process (the import freeze, returning
  memory after each recording, reading inputs ahead into the page cache);
- :mod:`physio.batch.read_ahead`: an in-process batch reads the next input on a thread;
- :mod:`physio.batch.recording`: the unit of work, :func:`process_file`, one recording
  read, processed and written;
- :mod:`physio.batch.scheduling`: where the work runs (this process, a process pool,
  Dask);
- :mod:`physio.batch.run`: :func:`run_batch`, from the inputs to the group outputs.

:func:`process_file` is a top-level function of plain, picklable arguments; the executor
is the only thing that changes between a laptop (a process pool) and a cluster (Dask
distributed).
"""

from __future__ import annotations

from physio.batch.inputs import (
    RECORDING_SUFFIXES,
    LabelPlan,
    find_inputs,
    output_key,
    override_candidates,
    plan_labels,
)
from physio.batch.read_ahead import READ_AHEAD_MAX_BYTES, ReadAhead
from physio.batch.recording import failure_record, process_file, read_input
from physio.batch.run import remove_stale_temporaries, run_batch
from physio.batch.worker import (
    IMPORT_FREEZE,
    READ_AHEAD_FILES,
    ImportFreeze,
    init_pool_worker,
    release_memory,
    trim_heap,
    will_need,
)

__all__ = [
    "IMPORT_FREEZE",
    "READ_AHEAD_FILES",
    "READ_AHEAD_MAX_BYTES",
    "RECORDING_SUFFIXES",
    "ImportFreeze",
    "LabelPlan",
    "ReadAhead",
    "failure_record",
    "find_inputs",
    "init_pool_worker",
    "output_key",
    "override_candidates",
    "plan_labels",
    "process_file",
    "read_input",
    "release_memory",
    "remove_stale_temporaries",
    "run_batch",
    "trim_heap",
    "will_need",
]
