"""The batch from start to end: plan the inputs, process them, write the group outputs.

:func:`run_batch` is a short sequence of steps: :func:`start_batch` (inputs, labels, the
derivatives folder and its log), :func:`collect_results` (the recordings processed by
the chosen executor, :func:`physio.batch.scheduling.run_recordings`) and
:func:`write_batch_outputs` (failures table, group table, QC index).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from conditions.bids import FAILURES_COLUMNS, failures_tsv, qc_index_html, write_tsv
from conditions.errors import SootheError
from physio.batch.inputs import LabelPlan, find_inputs, plan_labels
from physio.batch.recording import failure_record
from physio.batch.scheduling import run_recordings
from physio.naming import LabelError
from physio.outputs import ensure_derivatives_dataset, write_group_table
from physio.progress import BatchProgress
from physio.qc_index import write_qc_index
from physio.qc_valid import low_valid_warnings

log = logging.getLogger("soothe.physio")


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
    inputs : files or folders (see :func:`~physio.batch.find_inputs`)
    deriv : the derivatives root
    jobs : int
        Worker processes (1 = in this process).
    scheduler : str, optional
        ``'local'`` for a Dask LocalCluster with ``jobs`` workers, or the address of a
        running Dask scheduler (``tcp://host:8786``). Same
        :func:`~physio.batch.process_file`, only the executor changes.
    sampling_rate, column_map : optional
        For CSV/TSV inputs (see :func:`physio.io.read_csv.read_csv`).
    progress : bool
        A bar on a terminal; elsewhere one line per finished recording.
    participant_from, participant_pattern : str
        Where participant labels come from (``auto``, ``stem``, ``parent``, ``pattern``
        with a regular expression; :mod:`physio.naming`).

    Inputs that would write the same outputs are reported at the start (naming them and
    the ``--participant-from`` options) and recorded as failures; nothing is written for
    them and every other input is processed (:func:`~physio.batch.plan_labels`).

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
        paths of the group table, failures table and QC index, and ``low_valid``: the
        lines printed at the end for every channel valid in under half of its
        recording's windows (:func:`report_low_valid`).
    """
    settings = dict(settings or {})
    start = start_batch(inputs, deriv, settings, participant_from, participant_pattern)
    calls = [(str(f), str(start.deriv), settings, overrides, force, sampling_rate, column_map,
              start.plan.labels[str(f)]) for f in start.files if str(f) not in start.plan.refused]
    log.info("batch start: %d recording(s), jobs=%s, scheduler=%s", len(calls), jobs, scheduler)
    bar = BatchProgress(len(start.files), "physio", enabled=progress)
    results = refused_results(start.plan, bar)
    results += collect_results(run_recordings(jobs, scheduler, calls), bar,
                               n_failed=len(results))
    bar.close()
    results.sort(key=lambda r: r["source"])
    summary = write_batch_outputs(start.deriv, results, start.not_recordings)
    summary["low_valid"] = report_low_valid(start.deriv, results)
    log.info("batch end: ok=%d skipped=%d failed=%d", summary["ok"], summary["skipped"],
             summary["failed"])
    return summary


def report_low_valid(deriv: Path, results: Iterable[dict[str, Any]]) -> list[str]:
    """Print (stderr) and log one line for every recording with a channel valid in under
    half of its windows (:func:`physio.qc_valid.low_valid_warnings`); returns the lines.

    Printed after the progress bar is closed, so a terminal bar does not swallow them.
    """
    lines = [line for r in results if r["status"] != "failed"
             for line in low_valid_warnings(r, deriv)]
    for line in lines:
        print(f"physio: WARNING {line}", file=sys.stderr, flush=True)
        log.warning(line)
    return lines


@dataclass
class BatchStart:
    """What the batch knows before any recording is processed."""

    files: list[Path]
    not_recordings: list[Path]
    plan: LabelPlan
    deriv: Path


def start_batch(inputs: Iterable[str | os.PathLike], deriv: str | os.PathLike,
                settings: dict[str, Any], participant_from: str,
                participant_pattern: str | None) -> BatchStart:
    """Find the inputs and plan their labels; prepare the derivatives folder and its log.

    Every input's output name is planned before any work, so a collision is reported now,
    naming both inputs. Temporary files an interrupted run left are removed.
    """
    not_recordings: list[Path] = []
    files = find_inputs(inputs, skipped=not_recordings)
    plan = plan_labels(files, settings, participant_from, participant_pattern)
    deriv = Path(deriv)
    deriv.mkdir(parents=True, exist_ok=True)
    setup_log(deriv)
    stale = remove_stale_temporaries(deriv)
    if stale:
        log.warning("removed %d temporary file(s) left by an interrupted run", stale)
    said = plan.message()
    if said:
        print(f"physio: {said}", file=sys.stderr, flush=True)
        log.warning(said)
    return BatchStart(files, not_recordings, plan, deriv)


def refused_results(plan: LabelPlan, bar: BatchProgress) -> list[dict[str, Any]]:
    """The failure records of the inputs refused at the start (their labels collide)."""
    results = []
    for src, reason in plan.refused.items():
        results.append(failure_record(Path(src), LabelError(reason)))
        log.error("FAILED %s: %s", src, reason)
        bar.update(f"refused {src}", failed=len(results))
    return results


def collect_results(records: Iterable[dict[str, Any]], bar: BatchProgress,
                    n_failed: int = 0) -> list[dict[str, Any]]:
    """The records of the processed recordings, each logged and counted as it comes.

    A recording whose own metadata names the participant another recording's name gives
    would overwrite its outputs: the second one is recorded as a failure (the names alone
    were checked for collisions at the start).
    """
    results: list[dict[str, Any]] = []
    seen_keys: dict[str, str] = {}
    for res in records:
        if res["status"] != "failed":
            prior = seen_keys.get(res["key"])
            if prior and prior != res["source"]:
                res = {**failure_record(Path(res["source"]), SootheError(
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
    return results


def write_batch_outputs(deriv: Path, results: list[dict[str, Any]],
                        not_recordings: Sequence[Path] = ()) -> dict[str, Any]:
    """Write the failures table, the group table and the QC index; return the summary
    (:func:`run_batch`'s return value; ``not_recordings`` are the files passed over)."""
    failures = [r for r in results if r["status"] == "failed"]
    ensure_derivatives_dataset(deriv)
    write_tsv(failures_tsv(deriv), pd.DataFrame(failures, columns=list(FAILURES_COLUMNS)),
              FAILURES_COLUMNS)
    tables = [Path(r["windows"]) for r in results if r["status"] != "failed"]
    group_tsv, group_parquet = write_group_table(deriv, tables)
    index = qc_index_html(deriv)
    qc_rows = [{**r, "png": os.path.relpath(Path(r["png"]), index.parent)}
               for r in results if r["status"] != "failed"]
    write_qc_index(index, qc_rows, failures)
    return {
        "results": results,
        "ok": sum(r["status"] == "ok" for r in results),
        "skipped": sum(r["status"] == "skipped" for r in results),
        "failed": len(failures),
        "not_recordings": [str(p) for p in not_recordings],
        "group_tsv": group_tsv,
        "group_parquet": group_parquet,
        "failures_tsv": failures_tsv(deriv),
        "qc_index": index,
    }


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


def setup_log(deriv: Path) -> None:
    """Log the batch to ``<deriv>/log/physio_batch.log`` (one file handler at a time)."""
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
