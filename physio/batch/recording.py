"""The batch's unit of work: read, process and write one recording (:func:`process_file`).

:func:`process_file` is a top-level function of plain, picklable arguments, so the same
call runs in this process, in a process pool or on a Dask cluster. It never raises on bad
input: a failure becomes a record (:func:`failure_record`) and the batch goes on. Its
steps, each a function of its own:

1. :func:`plan_job`: the settings, labels, output files and hashes of the input;
2. :func:`up_to_date_result`: skip an input whose outputs are up to date;
3. :func:`read_input`: read it (or take what the read-ahead read);
4. :func:`run_pipeline`: process it (``physio.pipeline.process_recording``) with the
   recording's hand edits (:func:`read_job_edits`, the ``..._desc-edits_physio.tsv`` beside
   its outputs);
5. :func:`recording_provenance`, then the outputs and the QC figure are written.

The edit file's hash is part of the up-to-date check: editing one recording re-processes
that recording only.
"""

from __future__ import annotations

import importlib
import time
import traceback
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conditions.bids import SessionFiles
from conditions.checksum import sha256_file
from conditions.errors import SootheError
from conditions.protocol import Protocol, load_protocol
from physio.batch.inputs import output_key, override_candidates
from physio.batch.read_ahead import ReadAhead
from physio.batch.worker import IMPORT_FREEZE, peak_rss_mb, release_memory, trim_heap
from physio.errors import ReaderError
from physio.io import detect_format, read_recording, reader_options
from physio.naming import recording_labels
from physio.outputs import (
    ensure_derivatives_dataset,
    read_provenance,
    session_files,
    write_recording_outputs,
)
from physio.phases import read_overrides
from physio.qc_valid import channel_valid_shares
from physio.recording import Recording
from physio.sidecar import code_hash, input_hashes, package_versions, settings_hash

if TYPE_CHECKING:  # physio.edits loads the ECG stack (scipy.signal): see read_job_edits
    from physio.edits import Edit

#: The processing stack, imported where recordings are processed (never by the parent of a
#: pool batch, which only pickles :func:`process_file`): the steps import from it.
PROCESSING_MODULES = ("physio.pipeline", "physio.qc", "physio.hrv.hrv_window",
                      "physio.eda.eda_process")


def import_processing_modules() -> None:
    """Import :data:`PROCESSING_MODULES` (a no-op once done).

    Called before a recording's clocks start, so that its ``seconds`` and ``cpu_seconds``
    measure the recording, not the imports of the first one.
    """
    for name in PROCESSING_MODULES:
        importlib.import_module(name)


def failure_record(path: Path, exc: BaseException, internal: bool = False) -> dict[str, Any]:
    """The batch's record of a failed input (a row of ``failures.tsv``).

    ``internal`` marks an error that is a bug rather than bad input: the message then asks
    for a report and names where it happened. Every message names the input file.

    Examples
    --------
    >>> rec = failure_record(Path("a.acq"), ValueError("bad"))
    >>> rec["status"], rec["error_type"], rec["message"]
    ('failed', 'ValueError', 'a.acq: bad')
    """
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
    read_ahead: ReadAhead | None = None,
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
        Labels the batch planned for this input (:func:`~physio.batch.plan_labels`); they
        name the outputs. Without them the labels come from the file (``physio.naming``).
        A task of None is the protocol's task.
    read_ahead : ReadAhead, optional
        An in-process batch's read-ahead, which may hold this input already read.

    Returns
    -------
    dict
        ``status`` (``ok``, ``skipped`` or ``failed``), ``source``, and either the
        quality flags and output paths, or ``error_type`` and ``message``.
    """
    src = Path(path)
    try:
        return _process_file(src, Path(deriv), settings or {}, overrides, force, sampling_rate,
                             column_map, labels, read_ahead)
    except SootheError as exc:
        return failure_record(src, exc)
    except MemoryError as exc:
        return failure_record(src, exc)
    except Exception as exc:  # noqa: BLE001 - the batch must go on; reported as a bug
        return failure_record(src, exc, internal=True)
    finally:
        release_memory()


@dataclass(frozen=True)
class RecordingJob:
    """One input as the batch processes it: its settings, labels, outputs and hashes."""

    src: Path
    deriv: Path
    #: the batch settings, with the planned labels filled in (PipelineSettings fields)
    settings_dict: dict[str, Any]
    settings: Any  # physio.pipeline.PipelineSettings
    protocol: Protocol
    participant: str
    session: str
    task: str
    files: SessionFiles
    key: str
    override_files: tuple[Path, ...]
    input_sha256: dict[str, str]
    settings_sha256: str
    #: the reader's options: ``{"sampling_rate": ..., "column_map": ...}``
    reader: dict[str, Any]
    #: sha256 of the recording's edit file (None: no edit file)
    edits_sha256: str | None = None

    @property
    def edits_file(self) -> Path:
        """The recording's edit file (it may not exist)."""
        return self.files.edits_tsv(self.deriv)

    def relabelled(self, participant: str, session: str) -> RecordingJob:
        """The same job written under other labels (the file's metadata named them)."""
        files = session_files(self.deriv, participant, session, self.task)
        return replace(self, participant=participant, session=session, files=files,
                       key=output_key(participant, session, self.task, self.protocol.task),
                       edits_sha256=edits_hash(files.edits_tsv(self.deriv)))


def edits_hash(path: Path) -> str | None:
    """sha256 of an edit file, None when there is none."""
    return sha256_file(path) if Path(path).is_file() else None


def plan_job(src: Path, deriv: Path, settings_dict: dict[str, Any], overrides: str | None,
             sampling_rate: float | None, column_map: dict[str, str] | None,
             labels: tuple[str, str, str | None] | None) -> RecordingJob:
    """Settings, labels, output files and hashes of one input, before it is read.

    Raises
    ------
    ReaderError
        The input file does not exist.
    """
    # lazy: the processing stack (PROCESSING_MODULES: scipy, matplotlib behind it) is
    # imported only where recordings are processed, never by a pool batch's parent
    from physio.pipeline import PipelineSettings, recording_ids

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
    override_files += [p for p in override_candidates(src) if p.is_file()]
    hashes = input_hashes(src)
    for f in override_files:
        if f.is_file():
            hashes[f"override:{f.name}"] = sha256_file(f)
    reader = {"sampling_rate": sampling_rate, "column_map": column_map}
    s_hash = settings_hash({**settings.as_dict(), **reader})
    if labels is None:
        task = recording_labels(src).task
    task = task or protocol.task
    part, ses = recording_ids(Recording({}, src, "unknown"), settings)
    files = session_files(deriv, part, ses, task)
    return RecordingJob(
        src=src, deriv=deriv, settings_dict=settings_dict, settings=settings,
        protocol=protocol, participant=part, session=ses, task=task, files=files,
        key=output_key(part, ses, task, protocol.task), override_files=tuple(override_files),
        input_sha256=hashes, settings_sha256=s_hash, reader=reader,
        edits_sha256=edits_hash(files.edits_tsv(deriv)))


def up_to_date_result(job: RecordingJob) -> dict[str, Any] | None:
    """The batch's ``skipped`` record when the outputs are up to date, else None.

    Up to date: the sidecar records the same input hashes, the same settings hash
    (settings, pipeline code and library versions) and the same edit file hash (none
    recorded: no edit file), and the tables exist.
    """
    files, deriv = job.files, job.deriv
    prov = read_provenance(files, deriv)
    if not (
        prov
        and prov.get("input_sha256") == job.input_sha256
        and prov.get("settings_sha256") == job.settings_sha256
        and prov.get("edits_sha256") == job.edits_sha256
        and files.windows_tsv(deriv).is_file()
        and files.beats_tsv(deriv).is_file()
    ):
        return None
    return {"status": "skipped", "source": str(job.src), "key": job.key,
            "windows": str(files.windows_tsv(deriv)), **prov.get("quality", {}),
            "condition": prov.get("condition", "n/a"),
            "png": str(files.qc_png(deriv)), "review": review_record(prov)}


def review_record(prov: dict[str, Any]) -> dict[str, Any]:
    """A recording's review status and edit counts, from its provenance (QC index).

    Examples
    --------
    >>> review_record({})["status"]
    'not reviewed'
    """
    mc = prov.get("manual_corrections") or {}
    return {"status": mc.get("status", "not reviewed"),
            **{k: mc.get(k, 0) for k in ("beats_added", "beats_deleted", "beats_moved",
                                         "scrs_deleted", "scrs_restored")},
            "unusable_s": round(sum((mc.get("unusable_s") or {}).values()), 1),
            "n_stale": len(mc.get("stale") or [])}


def read_input(src: Path, settings_dict: dict[str, Any], sampling_rate: float | None,
               column_map: dict[str, str] | None) -> Recording:
    """Read one input as the batch does (also on the read-ahead thread).

    The channel choices come from the batch settings; ``sampling_rate`` and
    ``column_map`` go to the readers that take them. The heap is trimmed after the read:
    the parse buffers are freed, and their pages go back before processing.
    """
    fmt = detect_format(src)
    rec = read_recording(
        src,
        fmt=fmt,
        ecg_channel=settings_dict.get("ecg_channel"),
        eda_channel=settings_dict.get("eda_channel"),
        **reader_options(fmt, sampling_rate=sampling_rate, column_map=column_map),
    )
    trim_heap()
    return rec


def read_job_edits(job: RecordingJob) -> list[Edit]:
    """The recording's hand edits (``[]`` without an edit file).

    Raises
    ------
    physio.edits.EditFileError
        An edit file that cannot be read (naming the file, row and column): the recording
        fails, with that message in ``failures.tsv``, rather than being processed without
        the analyst's edits.
    """
    # lazy: physio.edits loads the ECG stack (scipy.signal); imported where recordings are
    # processed, so that importing the batch does not, and the first read overlaps it
    from physio.edits import read_edits

    return read_edits(job.edits_file) if job.edits_sha256 is not None else []


def run_pipeline(job: RecordingJob, rec: Recording) -> tuple[Any, dict, RecordingJob]:
    """(result, phase overrides used, job) of processing one recording.

    The phase overrides for this recording are read from the override files, its hand
    edits from its edit file (:func:`read_job_edits`); the job comes back relabelled when
    the file's metadata named another participant or session than its name (the metadata
    is trusted), and is processed again when the edit file under those labels differs.
    """
    # lazy: PROCESSING_MODULES are imported where recordings are processed (see plan_job)
    from physio.pipeline import process_recording

    src = job.src
    keys = (src.name, src.stem, job.key, f"sub-{job.participant}_ses-{job.session}",
            f"sub-{job.participant}")
    hand: dict[str, tuple[float, float]] = {}
    for f in job.override_files:
        hand.update(read_overrides(f, keys))
    result = process_recording(rec, job.settings, protocol=job.protocol,
                               overrides=hand or None, edits=read_job_edits(job),
                               edits_source=job.edits_file.name)
    if (result.participant, result.session) != (job.participant, job.session):
        planned = job.edits_sha256
        job = job.relabelled(result.participant, result.session)
        if job.edits_sha256 != planned:  # the edits of the recording the file really is
            result = process_recording(rec, job.settings, protocol=job.protocol,
                                       overrides=hand or None, edits=read_job_edits(job),
                                       edits_source=job.edits_file.name)
    return result, hand, job


def recording_provenance(job: RecordingJob, fmt: str, result: Any,
                         hand: dict[str, tuple[float, float]], seconds: float
                         ) -> dict[str, Any]:
    """The provenance block of the recording's sidecar.

    ``settings`` holds every setting, the recording's labels included; ``settings_sha256``
    covers the processing settings only (:func:`physio.sidecar.settings_hash`).
    """
    # lazy: PROCESSING_MODULES are imported where recordings are processed (see plan_job)
    from physio.eda.eda_process import eda_window_methods
    from physio.hrv.hrv_window import hrv_methods

    settings = job.settings
    return {
        "source": str(job.src),
        "format": fmt,
        "input_sha256": job.input_sha256,
        "settings": settings.as_dict(),
        "reader": job.reader,
        "settings_sha256": job.settings_sha256,
        "code_sha256": code_hash(),
        "condition": result.plan.condition,
        "phases": result.plan.as_dict()["phases"],
        "warnings": result.warnings,
        "overrides": {k: list(v) for k, v in hand.items()},
        "override_files": [str(f) for f in job.override_files],
        "edits_sha256": job.edits_sha256,
        **manual_corrections_block(job, result),
        # the valid share of each recorded channel (None: not recorded), belt included
        "quality": {**result.quality(), **channel_valid_shares(result)},
        "methods": {
            "phases": "protocol marker table; assumptions listed in warnings (physio.phases)",
            "windows": f"{settings.window_s:g} s from each phase onset; last partial window "
                       f"kept when >= {settings.min_partial:.0%} of it and flagged",
            "ecg": result.info.get("ecg"),
            "hrv": hrv_methods(),
            "eda": result.info.get("eda"),
            "eda_windows": eda_window_methods(),
        },
        "timings_s": {**result.info.get("timings_s", {}), "total": round(seconds, 3)},
        "package_versions": package_versions(),
        "processed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def manual_corrections_block(job: RecordingJob, result: Any) -> dict[str, Any]:
    """``{"manual_corrections": ...}`` for the provenance when the recording has an edit
    file (its name and hash, and what its edits did), else ``{}``."""
    if job.edits_sha256 is None:
        return {}
    # lazy: PROCESSING_MODULES are imported where recordings are processed (see plan_job)
    from physio.edits_apply import EditLog, HandStretches

    done = getattr(result, "manual_corrections", None) or EditLog([], HandStretches()).summary()
    return {"manual_corrections": {"edits_file": job.edits_file.name,
                                   "edits_sha256": job.edits_sha256, **done}}


def write_qc_figure(job: RecordingJob, result: Any) -> Path:
    """Draw the recording's QC figure and write it; returns the PNG's path.

    One figure per worker process is emptied and redrawn for each recording (its axes and
    ticks are built once); between recordings it holds the decimated traces only.
    """
    # lazy: PROCESSING_MODULES are imported where recordings are processed (see plan_job)
    from physio.qc import plot_recording_qc, save_figure

    png = job.files.qc_png(job.deriv)
    save_figure(plot_recording_qc(result, reuse=True), png)
    return png


def _process_file(src: Path, deriv: Path, settings_dict: dict[str, Any],
                  overrides: str | None, force: bool, sampling_rate: float | None,
                  column_map: dict[str, str] | None,
                  labels: tuple[str, str, str | None] | None,
                  read_ahead: ReadAhead | None) -> dict[str, Any]:
    """The steps of :func:`process_file` (which turns their errors into records)."""
    IMPORT_FREEZE.apply()
    import_processing_modules()
    t_start = time.perf_counter()
    cpu_start = time.process_time()
    job = plan_job(src, deriv, settings_dict, overrides, sampling_rate, column_map, labels)
    if not force:
        skipped = up_to_date_result(job)
        if skipped is not None:
            return skipped
    fmt = detect_format(src)
    rec = ((read_ahead.take(src) if read_ahead is not None else None)
           or read_input(src, job.settings_dict, sampling_rate, column_map))
    result, hand, job = run_pipeline(job, rec)
    ensure_derivatives_dataset(deriv)
    png = write_qc_figure(job, result)
    provenance = recording_provenance(job, fmt, result, hand, time.perf_counter() - t_start)
    paths = write_recording_outputs(result, job.files, deriv, provenance)
    return {"status": "ok", "source": str(src), "key": job.key,
            "windows": str(paths["windows"]), "condition": result.plan.condition,
            "png": str(png), "seconds": round(time.perf_counter() - t_start, 3),
            # CPU time of the worker (all its threads): what a shared machine disturbs least
            "cpu_seconds": round(time.process_time() - cpu_start, 3),
            "recording_s": round(float(rec.duration_s), 1),
            "worker_peak_rss_mb": peak_rss_mb(), **provenance["quality"],
            "review": review_record(provenance)}
