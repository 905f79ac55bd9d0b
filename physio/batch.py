"""The batch: find recordings, process each in a worker, collect tables, failures and QC.

:func:`process_file` is the unit of work: a top-level function of plain, picklable
arguments that reads one input, processes it and writes its derivatives atomically. The
executor is the only thing that changes between a laptop (a process pool) and a cluster
(Dask distributed): see :func:`run_batch`.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from conditions.bids import FAILURES_COLUMNS, failures_tsv, qc_index_html, write_tsv
from conditions.errors import SootheError

log = logging.getLogger("soothe.physio")

#: File endings the folder scan picks up (BIDS physio is found by name, see find_inputs).
RECORDING_SUFFIXES = (".acq", ".xdf", ".xdfz", ".edf", ".bdf", ".vhdr", ".csv", ".tsv",
                      ".csv.gz", ".tsv.gz", ".txt")
#: Companions of recordings that a folder scan passes over without reporting them.
_COMPANIONS = (".json", ".vmrk", ".eeg", ".md", ".bidsignore", "readme", "changes", "license",
               "dataset_description.json")
_NOT_RECORDINGS = ("_events.tsv", "_beh.tsv", "participants.tsv", "_phases.tsv",
                   "failures.tsv", "_truth-")
_SKIP_DIRS = {"derivatives", "sourcedata", "code", "log", "qc", "group", ".git"}


def _is_bids_root(folder: Path) -> bool:
    return (folder / "dataset_description.json").is_file() or any(
        p.is_dir() for p in folder.glob("sub-*")
    )


def find_inputs(
    paths: Iterable[str | os.PathLike], skipped: list[Path] | None = None
) -> list[Path]:
    """Recordings named by files or found in folders.

    A folder that is a BIDS dataset contributes every ``*_physio.tsv.gz`` outside
    ``sourcedata/`` and ``derivatives/``; any other folder is scanned recursively for the
    known recording formats (``RECORDING_SUFFIXES``), skipping BIDS side tables.

    Files in a scanned folder that are neither recordings nor their known companions
    (sidecars, events, BrainVision marker/data files, README) are logged as skipped and
    appended to ``skipped`` when it is given, so nothing is ignored silently.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "a.acq").write_bytes(b"x"); _ = (d / "notes.docx").write_text("x")
    >>> left: list[Path] = []
    >>> [p.name for p in find_inputs([d], skipped=left)], [p.name for p in left]
    (['a.acq'], ['notes.docx'])
    """
    found: list[Path] = []
    passed: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_file():
            found.append(p)
            continue
        if not p.is_dir():
            found.append(p)  # reported as a failure (file not found) by the worker
            continue
        bids = _is_bids_root(p)
        for f in sorted(p.rglob("*")):
            rel = f.relative_to(p).parts
            if not f.is_file() or any(part in _SKIP_DIRS for part in rel[:-1]):
                continue
            name = f.name.lower()
            if name.startswith("."):
                continue
            if bids:
                if name.endswith("_physio.tsv.gz") or name.endswith("_physio.tsv"):
                    found.append(f)
                elif not _is_companion(name):
                    passed.append(f)
                continue
            if any(n in name for n in _NOT_RECORDINGS) or "_desc-" in name:
                continue
            if name.endswith("_physio.tsv.gz") or name.endswith(RECORDING_SUFFIXES):
                found.append(f)
            elif not _is_companion(name):
                passed.append(f)
    if passed:
        shown = ", ".join(str(f) for f in passed[:20])
        more = f" and {len(passed) - 20} more" if len(passed) > 20 else ""
        log.warning("skipped %d file(s) that are not recordings of a known format: %s%s",
                    len(passed), shown, more)
        if skipped is not None:
            skipped.extend(passed)
    out, seen = [], set()
    for f in found:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _is_companion(name: str) -> bool:
    """Files that accompany recordings and are expected in a folder (not reported)."""
    return (name.endswith(_COMPANIONS) or name in _COMPANIONS
            or any(n in name for n in _NOT_RECORDINGS) or "_desc-" in name
            or name.endswith(("_events.tsv", "_scans.tsv", "_sessions.tsv")))


def _override_candidates(path: Path) -> list[Path]:
    base = path.name
    for suffix in ("_physio.tsv.gz", ".tsv.gz", ".csv.gz"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    else:
        base = path.stem
    return [path.with_name(f"{base}_phases{ext}") for ext in (".json", ".tsv")]


def _failure(path: Path, exc: BaseException, internal: bool = False) -> dict[str, Any]:
    msg = str(exc) or type(exc).__name__
    if internal:
        where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        loc = f" (at {Path(where.filename).name}:{where.lineno})" if where else ""
        msg = f"internal error, please report: {type(exc).__name__}: {msg}{loc}"
    if path.name not in msg:
        # every failure names its file, even when the error came from a layer that only
        # knew the channel (units, rate, signal quality)
        msg = f"{path}: {msg}"
    return {
        "status": "failed",
        "source": str(path),
        "error_type": type(exc).__name__,
        "message": msg.replace("\n", " "),
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def process_file(
    path: str,
    deriv: str,
    settings: dict[str, Any] | None = None,
    overrides: str | None = None,
    force: bool = False,
    sampling_rate: float | None = None,
    column_map: dict[str, str] | None = None,
    labels: tuple[str, str, str | None] | None = None,
) -> dict[str, Any]:
    """Read, process and write one recording; never raises on bad input.

    Parameters
    ----------
    path : str
        The recording file.
    deriv : str
        The derivatives root.
    settings : dict
        :class:`~physio.pipeline.PipelineSettings` fields.
    overrides : str, optional
        A phase override file (see :func:`physio.phases.read_overrides`); a file named
        ``<input>_phases.json`` or ``_phases.tsv`` beside the input is used when present.
    force : bool
        Process even when the outputs are up to date.
    sampling_rate : float, optional
        For CSV inputs without a time column.
    column_map : dict, optional
        For CSV inputs: ``{"time": col, "ecg": col, "eda": col, "marker": col}``.
    labels : (participant, session, task), optional
        Labels the batch planned for this input (:func:`plan_labels`); they name the
        outputs. Without them the labels come from the file (``physio.naming``). A task of
        None is the protocol's task.

    Returns
    -------
    dict
        ``status`` (``ok``, ``skipped`` or ``failed``), ``source``, and either the
        quality flags and output paths, or ``error_type`` and ``message``.
    """
    src = Path(path)
    try:
        return _process_file(src, Path(deriv), settings or {}, overrides, force, sampling_rate,
                             column_map, labels)
    except SootheError as exc:
        return _failure(src, exc)
    except MemoryError as exc:
        return _failure(src, exc)
    except Exception as exc:  # noqa: BLE001 - the batch must go on; reported as a bug
        return _failure(src, exc, internal=True)
    finally:
        release_memory()


def release_memory() -> None:
    """Give the memory of the recording just processed back before the next one.

    A worker processes recording after recording. Measured with three 40-min simulated
    sessions in one process, resident memory between recordings grew by ~40 MB per
    recording without this: the QC figure and pandas objects sit in reference cycles
    until the cyclic collector runs, pyarrow's allocator keeps the pages of the parsed
    table, and glibc keeps freed heap pages. So: collect cycles, release pyarrow's unused
    pool memory, and ``malloc_trim`` on glibc.
    """
    import gc

    gc.collect()
    if "pyarrow" in sys.modules:
        sys.modules["pyarrow"].default_memory_pool().release_unused()
    trim_heap()


def trim_heap() -> None:
    """Return the C heap's free pages to the system (glibc ``malloc_trim``; elsewhere a no-op).

    Parsing a table leaves ~30 MB of freed parse buffers inside the heap, which glibc
    keeps; the recording's large work arrays would then be placed above them. Trimming
    right after the read lowers a worker's resident memory by that much (measured on a
    40-min session: 318 -> 284 MB after the read); it takes about a millisecond.
    """
    global _LIBC
    if not sys.platform.startswith("linux"):
        return
    if _LIBC is None:
        import ctypes

        try:
            _LIBC = ctypes.CDLL("libc.so.6")
            _LIBC.malloc_trim  # noqa: B018 - musl has none: AttributeError
        except (OSError, AttributeError):
            _LIBC = False
    if _LIBC:
        _LIBC.malloc_trim(0)


_LIBC: Any = None


_FROZEN = False
#: Freeze only in processes that belong to the batch (its pool workers, the ``soothe``
#: command); a program that calls :func:`run_batch` in-process keeps its own collector.
FREEZE_AFTER_IMPORTS = False


def _worker_init() -> None:
    """A pool worker: freeze its imports (:func:`_freeze_imported_objects`), and parse
    tables on one thread (the workers are the parallelism: ``assemble.PARSE_THREADS``)."""
    global FREEZE_AFTER_IMPORTS
    FREEZE_AFTER_IMPORTS = True
    from physio.io import assemble

    assemble.PARSE_THREADS = False


def _freeze_imported_objects() -> None:
    """Move everything the imports created out of the cyclic collector's sight, once.

    :func:`release_memory` runs a full collection after every recording; with pandas,
    scipy and matplotlib loaded that walks ~1 million long-lived objects (~70 ms a time).
    Frozen (``gc.freeze``), they are skipped: a collection then costs a few ms. Only
    import-time objects are frozen (before the first recording), so nothing a recording
    creates can be kept alive by it.
    """
    global _FROZEN
    if FREEZE_AFTER_IMPORTS and not _FROZEN:
        import gc
        import importlib

        # the modules every recording needs, imported now rather than during the first
        # recording, so that their objects are frozen too (the per-recording collection
        # then skips scipy's and matplotlib's objects as well: 17 -> ~4 ms a time)
        for name in _WORKER_MODULES:
            try:
                importlib.import_module(name)
            except ImportError:  # an optional reader library: imported when needed
                pass
        # the youngest generation only: the imports leave no cyclic garbage in the older
        # ones (measured: a full collection here finds 0 unreachable objects and costs
        # ~60 ms, once per process)
        gc.collect(0)
        gc.freeze()
        _FROZEN = True


#: Imported by :func:`_freeze_imported_objects` before freezing (a recording imports them
#: anyway: the pipeline's signal processing, the QC figure's Agg canvas, the TSV reader).
_WORKER_MODULES = ("physio.pipeline", "physio.ecg", "physio.eda", "physio.rsp", "physio.hrv",
                   "physio.hrv_phase", "physio.qc", "physio.qc_rsp", "physio.outputs",
                   "physio.io.read_bids", "matplotlib.figure", "matplotlib.backends.backend_agg",
                   "physio.qc_screen", "PIL.PngImagePlugin", "pyarrow.csv")


def _process_file(src, deriv, settings_dict, overrides, force, sampling_rate, column_map=None,
                  labels=None):
    from conditions.protocol import load_protocol
    from physio.eda.eda_process import eda_window_methods
    from physio.errors import ReaderError
    from physio.hrv.hrv_window import hrv_methods
    from physio.io import detect_format
    from physio.naming import recording_labels
    from physio.outputs import (
        ensure_derivatives_dataset,
        read_provenance,
        session_files,
        write_recording_outputs,
    )
    from physio.phases import read_overrides
    from physio.pipeline import PipelineSettings, process_recording, recording_ids
    from physio.qc import plot_recording_qc, save_figure
    from physio.recording import Recording
    from physio.sidecar import code_hash, input_hashes, package_versions, settings_hash

    _freeze_imported_objects()
    t_start = time.perf_counter()
    cpu_start = time.process_time()
    task = None
    if labels is not None:
        part_l, ses_l, task = labels
        settings_dict = {**settings_dict,
                         "participant": settings_dict.get("participant") or part_l,
                         "session": settings_dict.get("session") or ses_l}
    settings = PipelineSettings(**settings_dict)
    if not src.is_file():
        raise ReaderError(f"{src}: file not found")
    protocol = load_protocol(settings.protocol_path)
    override_files = [Path(overrides)] if overrides else []
    override_files += [p for p in _override_candidates(src) if p.is_file()]
    hashes = input_hashes(src)
    for f in override_files:
        if f.is_file():
            from conditions.checksum import sha256_file

            hashes[f"override:{f.name}"] = sha256_file(f)
    s_hash = settings_hash({**settings.as_dict(), "sampling_rate": sampling_rate,
                            "column_map": column_map})
    if labels is None:
        task = recording_labels(src).task
    task = task or protocol.task
    part, ses = recording_ids(Recording({}, src, "unknown"), settings)
    files = session_files(deriv, part, ses, task)
    key = _output_key(part, ses, task, protocol.task)
    if not force:
        prov = read_provenance(files, deriv)
        if (
            prov
            and prov.get("input_sha256") == hashes
            and prov.get("settings_sha256") == s_hash
            and files.windows_tsv(deriv).is_file()
            and files.beats_tsv(deriv).is_file()
        ):
            return {"status": "skipped", "source": str(src), "key": key,
                    "windows": str(files.windows_tsv(deriv)), **prov.get("quality", {}),
                    "condition": prov.get("condition", "n/a"),
                    "png": str(files.qc_png(deriv))}

    fmt = detect_format(src)
    rec = _take_prefetched(src) or _read_input(src, settings_dict, sampling_rate, column_map)
    keys = (src.name, src.stem, key, f"sub-{part}_ses-{ses}", f"sub-{part}")
    hand: dict[str, tuple[float, float]] = {}
    for f in override_files:
        hand.update(read_overrides(f, keys))
    result = process_recording(rec, settings, protocol=protocol, overrides=hand or None)
    if (result.participant, result.session) != (part, ses):
        # metadata named another participant than the file name: trust the metadata
        part, ses = result.participant, result.session
        files = session_files(deriv, part, ses, task)
        key = _output_key(part, ses, task, protocol.task)
    ensure_derivatives_dataset(deriv)
    # one figure per worker process, emptied and redrawn for each recording (its axes and
    # ticks are built once); what it holds between recordings is the decimated traces only
    save_figure(plot_recording_qc(result, reuse=True), files.qc_png(deriv))
    quality = result.quality()
    provenance = {
        "source": str(src),
        "format": fmt,
        "input_sha256": hashes,
        "settings": settings.as_dict(),
        "reader": {"sampling_rate": sampling_rate, "column_map": column_map},
        "settings_sha256": s_hash,
        "code_sha256": code_hash(),
        "condition": result.plan.condition,
        "phases": result.plan.as_dict()["phases"],
        "warnings": result.warnings,
        "overrides": {k: list(v) for k, v in hand.items()},
        "quality": quality,
        "methods": {
            "phases": "protocol marker table; assumptions listed in warnings (physio.phases)",
            "windows": f"{settings.window_s:g} s from each phase onset; last partial window "
                       f"kept when >= {settings.min_partial:.0%} of it and flagged",
            "ecg": result.info.get("ecg"),
            "hrv": hrv_methods(),
            "eda": result.info.get("eda"),
            "eda_windows": eda_window_methods(),
        },
        "timings_s": {**result.info.get("timings_s", {}),
                      "total": round(time.perf_counter() - t_start, 3)},
        "package_versions": package_versions(),
        "processed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    paths = write_recording_outputs(result, files, deriv, provenance)
    return {"status": "ok", "source": str(src), "key": key, "windows": str(paths["windows"]),
            "condition": result.plan.condition, "png": str(files.qc_png(deriv)),
            "seconds": round(time.perf_counter() - t_start, 3),
            # CPU time of the worker (all its threads): what a shared machine disturbs least
            "cpu_seconds": round(time.process_time() - cpu_start, 3),
            "recording_s": round(float(rec.duration_s), 1),
            "worker_peak_rss_mb": _peak_rss_mb(), **quality}


def _read_input(src: Path, settings_dict: dict[str, Any], sampling_rate, column_map):
    """Read one input exactly as :func:`process_file` does."""
    from physio.io import detect_format, read_recording

    fmt = detect_format(src)
    rec = read_recording(
        src,
        fmt=fmt,
        ecg_channel=settings_dict.get("ecg_channel"),
        eda_channel=settings_dict.get("eda_channel"),
        sampling_rate=sampling_rate if fmt == "csv" else None,
        column_map=column_map if fmt == "csv" else None,
    )
    trim_heap()  # the parse buffers are freed: give their pages back before processing
    return rec


#: Inputs larger than this are not read ahead: two of them would sit in memory at once
#: (48 MB is ~1 h of 1000 Hz ECG + EDA as _physio.tsv.gz, ~60 MB once read).
READ_AHEAD_MAX_BYTES = 48 << 20
#: In-process batches (--jobs 1): the next input read on a thread while this one is
#: processed. {path: (file stamp, future)}; at most one entry.
_PREFETCH: dict[str, tuple[tuple[int, int], Any]] = {}


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def _take_prefetched(src: Path):
    """The recording read ahead for ``src``, if the file has not changed since; else None
    (also when the read-ahead failed: the caller reads again and reports the error)."""
    entry = _PREFETCH.pop(str(src), None)
    if entry is None:
        return None
    stamp, future = entry
    try:
        rec = future.result()
        return rec if _stamp(src) == stamp else None
    except Exception:  # noqa: BLE001 - read again by the caller, which reports it
        return None


def _in_process_with_prefetch(calls: list[tuple]):
    """``process_file`` for each call in this process, reading the next input meanwhile.

    Decompressing and parsing release the GIL, so on two cores the next recording's read
    (~0.25 s for a 26-min session) overlaps this one's processing, and the first read
    overlaps the imports. Only inputs whose outputs do not exist yet are read ahead (an
    up-to-date input is usually skipped without reading).
    """
    from concurrent.futures import ThreadPoolExecutor

    def worth_reading(args) -> bool:
        path, deriv, settings, _, force, _, _, labels = args
        if labels is None or not Path(path).is_file():
            return False
        if Path(path).stat().st_size > READ_AHEAD_MAX_BYTES:
            return False  # a long recording is not held twice (it is processed in chunks)
        if force:
            return True
        from physio.outputs import session_files

        part, ses, task = labels
        if task is None:
            from conditions.protocol import load_protocol

            task = load_protocol(settings.get("protocol_path")).task
        return not session_files(Path(deriv), part, ses, task).windows_tsv(
            Path(deriv)).is_file()

    def read_ahead(pool, args) -> None:
        try:
            if worth_reading(args):
                src = Path(args[0])
                _PREFETCH[str(src)] = (_stamp(src), pool.submit(
                    _read_input, src, args[2], args[5], args[6]))
        except Exception:  # noqa: BLE001 - no read-ahead; process_file reads it
            pass

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="soothe-read") as pool:
        try:
            if calls:
                read_ahead(pool, calls[0])
            for k, args in enumerate(calls):
                if k + 1 < len(calls):
                    read_ahead(pool, calls[k + 1])
                yield process_file(*args)
        finally:
            for _, future in _PREFETCH.values():
                future.cancel()
            _PREFETCH.clear()


def _output_key(part: str, ses: str, task: str, protocol_task: str) -> str:
    """The recording's name in the batch: ``sub-X_ses-Y`` (``_task-Z`` for another task)."""
    key = f"sub-{part}_ses-{ses}"
    return key if task == protocol_task else f"{key}_task-{task}"


@dataclass
class LabelPlan:
    """The output labels of a batch's inputs, planned before any work.

    ``labels`` maps each input to its (participant, session, task); ``refused`` maps the
    inputs that cannot be written safely to the reason (two inputs would write the same
    outputs, or a ``--participant-from pattern`` that does not match the path);
    ``collisions`` lists the colliding groups as ``(key, [inputs])``.
    """

    labels: dict[str, tuple[str, str, str | None]]
    refused: dict[str, str]
    collisions: list[tuple[str, list[str]]]

    def message(self) -> str | None:
        """What the batch says at the start, or None when every input has its own outputs."""
        from physio.naming import collision_message

        return collision_message(self.collisions) if self.collisions else None


def plan_labels(
    files: Sequence[Path],
    settings: dict[str, Any] | None = None,
    participant_from: str = "auto",
    pattern: str | None = None,
) -> LabelPlan:
    """The labels every input will be written under, checked for collisions up front.

    Inputs that would write the same outputs are all refused (none of them is written, so
    nothing is overwritten and no choice between them is made silently); every other input
    is processed. The batch prints :meth:`LabelPlan.message` at the start.

    Parameters
    ----------
    files : the inputs (:func:`find_inputs`)
    settings : the batch settings (an explicit ``participant``/``session`` wins)
    participant_from, pattern : see :func:`physio.naming.recording_labels`

    Raises
    ------
    physio.naming.LabelError
        An unknown ``participant_from`` or a pattern that is not a regular expression.

    Examples
    --------
    >>> plan = plan_labels([Path("a/physio-4.2.0-c.acq"), Path("b/physio-4.3.0-a.acq")])
    >>> plan.labels["a/physio-4.2.0-c.acq"], plan.refused
    (('physio420c', '1', None), {})
    """
    import re

    from physio.naming import PARTICIPANT_FROM, LabelError, label_collisions, recording_labels

    if participant_from not in PARTICIPANT_FROM:
        raise LabelError(f"participant_from={participant_from!r}: expected one of "
                         f"{', '.join(PARTICIPANT_FROM)}")
    if participant_from == "pattern":
        try:
            re.compile(pattern or "")
        except re.error as exc:
            raise LabelError(f"participant pattern {pattern!r} is not a regular expression: "
                             f"{exc}") from None
        if not pattern:
            raise LabelError("participant_from='pattern' needs a regular expression")
    settings = settings or {}
    planned = {}
    refused: dict[str, str] = {}
    for f in files:
        try:
            planned[str(f)] = recording_labels(
                f, participant=settings.get("participant"), session=settings.get("session"),
                participant_from=participant_from, pattern=pattern)
        except LabelError as exc:
            refused[str(f)] = str(exc)
    collisions = label_collisions(planned)
    for key, sources in collisions:
        for src in sources:
            others = " and ".join(o for o in sources if o != src)
            refused[src] = (f"{src}: would write the same outputs ({key}) as {others}, so "
                            "neither is written; give each its own participant label with "
                            "--participant-from stem|parent|pattern REGEX")
    labels = {k: (v.participant, v.session, v.task) for k, v in planned.items()
              if k not in refused}
    return LabelPlan(labels, refused, collisions)


def _peak_rss_mb() -> float | None:
    """Peak resident memory of this (worker) process so far, in MB."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)


def _executor_map(jobs: int, scheduler: str | None, calls: list[tuple]):
    """Yield results of ``process_file(*args)`` as they complete."""
    if scheduler:
        from dask.distributed import Client, LocalCluster, as_completed

        cluster = None
        if scheduler == "local":
            cluster = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1,
                                   processes=True, host="127.0.0.1", dashboard_address=None)
            client = Client(cluster)
        else:
            client = Client(scheduler)
        try:
            futures = [client.submit(process_file, *args, pure=False) for args in calls]
            for fut in as_completed(futures):
                yield fut.result()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
        return
    if jobs <= 1:
        yield from _in_process_with_prefetch(calls)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # one BLAS/OpenMP thread per worker: the workers are the parallelism (inherited by the
    # fresh worker interpreters; the parent's own libraries are already initialised)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    ctx = mp.get_context("spawn" if os.name == "nt" else "forkserver")
    # No max_tasks_per_child: with it, CPython 3.11's pool hung for good after the first
    # worker replacement (135 recordings, 2 workers: the parent waited with no workers left).
    # The per-recording clean-up in process_file (gc, pyarrow pool, malloc_trim) bounds memory.
    # The workers take the inputs in this order; the kernel is asked to read the next ones
    # into the page cache while the workers compute (no CPU of theirs, no memory of theirs).
    paths = [args[0] for args in calls]
    for path in paths[:jobs + READ_AHEAD_FILES]:
        will_need(path)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx,
                             initializer=_worker_init) as pool:
        futures = {pool.submit(process_file, *args): args for args in calls}
        for done, fut in enumerate(as_completed(futures), start=1):
            nxt = done + jobs + READ_AHEAD_FILES - 1
            if nxt < len(paths):
                will_need(paths[nxt])
            try:
                yield fut.result()
            except Exception as exc:  # noqa: BLE001 - a worker died (e.g. killed, OOM)
                yield _failure(Path(futures[fut][0]), exc, internal=True)


#: Inputs beyond those being processed that the kernel is asked to read ahead (batch pool).
READ_AHEAD_FILES = 2


def will_need(path: str | os.PathLike) -> bool:
    """Ask the kernel to read a file into the page cache in the background.

    ``posix_fadvise(POSIX_FADV_WILLNEED)``: the call returns once the reads are queued, so
    a worker that opens the file later finds it in memory instead of waiting for the disk
    (a 135-session study is 3.7 GB of ``_physio.tsv.gz``, more than stays cached). Returns
    False where the system has no such call or the file cannot be opened; nothing else
    changes.

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


def run_batch(
    inputs: Sequence[str | os.PathLike],
    deriv: str | os.PathLike,
    *,
    settings: dict[str, Any] | None = None,
    jobs: int = 1,
    scheduler: str | None = None,
    overrides: str | None = None,
    force: bool = False,
    sampling_rate: float | None = None,
    column_map: dict[str, str] | None = None,
    progress: bool = True,
    participant_from: str = "auto",
    participant_pattern: str | None = None,
) -> dict[str, Any]:
    """Process many recordings; failures are recorded and the batch goes on.

    Parameters
    ----------
    inputs : files or folders (see :func:`find_inputs`)
    deriv : the derivatives root
    jobs : int
        Worker processes (1 = in this process).
    scheduler : str, optional
        ``'local'`` for a Dask LocalCluster with ``jobs`` workers, or the address of a
        running Dask scheduler (``tcp://host:8786``). Same :func:`process_file`, only the
        executor changes.
    sampling_rate, column_map : optional
        For CSV/TSV inputs (see :func:`physio.io.read_csv.read_csv`).
    progress : bool
        A bar on a terminal; elsewhere one line per finished recording.
    participant_from, participant_pattern : str
        Where participant labels come from (``auto``, ``stem``, ``parent``, ``pattern``
        with a regular expression; :mod:`physio.naming`).

    Inputs that would write the same outputs are reported at the start (naming them and
    the ``--participant-from`` options) and recorded as failures; nothing is written for
    them and every other input is processed (:func:`plan_labels`).

    Raises
    ------
    physio.naming.LabelError
        Before anything is processed: an unknown ``participant_from`` or a pattern that is
        not a regular expression.

    Returns
    -------
    dict
        ``results`` (one dict per input), counts ``ok``/``skipped``/``failed``,
        ``not_recordings`` (files in the folders that were passed over), and the
        paths of the group table, failures table and QC index.
    """
    from physio.outputs import ensure_derivatives_dataset, write_group_table
    from physio.progress import BatchProgress
    from physio.qc import write_qc_index

    not_recordings: list[Path] = []
    files = find_inputs(inputs, skipped=not_recordings)
    settings = dict(settings or {})
    # every input's output name, before any work: a collision is reported now, naming both
    plan = plan_labels(files, settings, participant_from, participant_pattern)
    deriv = Path(deriv)
    deriv.mkdir(parents=True, exist_ok=True)
    _setup_log(deriv)
    stale = remove_stale_temporaries(deriv)
    if stale:
        log.warning("removed %d temporary file(s) left by an interrupted run", stale)
    said = plan.message()
    if said:
        print(f"physio: {said}", file=sys.stderr, flush=True)
        log.warning(said)
    calls = [(str(f), str(deriv), settings, overrides, force, sampling_rate, column_map,
              plan.labels[str(f)]) for f in files if str(f) not in plan.refused]
    log.info("batch start: %d recording(s), jobs=%s, scheduler=%s", len(calls), jobs, scheduler)
    results: list[dict[str, Any]] = []
    seen_keys: dict[str, str] = {}
    bar = BatchProgress(len(files), "physio", enabled=progress)
    n_failed = 0
    for src, reason in plan.refused.items():
        from physio.naming import LabelError

        res = _failure(Path(src), LabelError(reason))
        results.append(res)
        n_failed += 1
        log.error("FAILED %s: %s", src, reason)
        bar.update(f"refused {src}", failed=n_failed)
    for res in _executor_map(jobs, scheduler, calls):
        if res["status"] != "failed":
            prior = seen_keys.get(res["key"])
            if prior and prior != res["source"]:
                # only when a file's own metadata names the participant another file's
                # name gives: the names were checked for collisions at the start
                res = {**_failure(Path(res["source"]), SootheError(
                    f"{res['source']}: writes the same outputs ({res['key']}) as {prior} "
                    "(the participant named in the file); give each recording its own "
                    "label with --participant / --participant-from")), "key": res["key"]}
            else:
                seen_keys[res["key"]] = res["source"]
        results.append(res)
        if res["status"] == "failed":
            n_failed += 1
            log.error("FAILED %s: %s: %s", res["source"], res["error_type"], res["message"])
        else:
            log.info("%s %s", res["status"], res["source"])
        bar.update(f"{res['status']} {res.get('key') or res['source']}", failed=n_failed)
    bar.close()
    results.sort(key=lambda r: r["source"])
    failures = [r for r in results if r["status"] == "failed"]
    ensure_derivatives_dataset(deriv)
    write_tsv(failures_tsv(deriv), pd.DataFrame(failures, columns=list(FAILURES_COLUMNS)),
              FAILURES_COLUMNS)
    tables = [Path(r["windows"]) for r in results if r["status"] != "failed"]
    group_tsv, group_parquet = write_group_table(deriv, tables)
    qc_rows = []
    for r in results:
        if r["status"] == "failed":
            continue
        png = Path(r["png"])
        qc_rows.append({**r, "png": os.path.relpath(png, qc_index_html(deriv).parent)})
    write_qc_index(qc_index_html(deriv), qc_rows, failures)
    summary = {
        "results": results,
        "ok": sum(r["status"] == "ok" for r in results),
        "skipped": sum(r["status"] == "skipped" for r in results),
        "failed": len(failures),
        "not_recordings": [str(p) for p in not_recordings],
        "group_tsv": group_tsv,
        "group_parquet": group_parquet,
        "failures_tsv": failures_tsv(deriv),
        "qc_index": qc_index_html(deriv),
    }
    log.info("batch end: ok=%d skipped=%d failed=%d", summary["ok"], summary["skipped"],
             summary["failed"])
    return summary


def remove_stale_temporaries(deriv: Path) -> int:
    """Delete the ``.<name>.*.part`` files an interrupted (killed) run left behind.

    Every output is written to such a temporary file and renamed into place
    (``conditions.bids.atomic_write_bytes``), so a kill leaves at most these, never a
    half-written output. One batch at a time per derivatives folder.
    """
    n = 0
    for tmp in Path(deriv).rglob(".*.part"):
        try:
            tmp.unlink()
            n += 1
        except OSError:
            pass
    return n


def _setup_log(deriv: Path) -> None:
    log_dir = deriv / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    path = (log_dir / "physio_batch.log").resolve()
    for h in log.handlers:
        if isinstance(h, logging.FileHandler) and Path(h.baseFilename) == path:
            return
    for h in list(log.handlers):
        if isinstance(h, logging.FileHandler):
            log.removeHandler(h)
            h.close()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
