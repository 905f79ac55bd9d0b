"""Re-process one recording of a derivatives folder after its edits changed.

:func:`reprocess_recording` re-runs the batch's own unit of work
(:func:`physio.batch.recording.process_file`) for one recording, with what its windows
sidecar recorded (source file, settings, reader options, phase override files) and its
current edit file, then refreshes the group outputs (:func:`refresh_group_outputs`: the
group tables, ``failures.tsv`` and the QC index) from every recording's sidecar, exactly
as the batch writes them (:func:`physio.batch.run.write_batch_outputs`). The review page
calls it after Save; ``soothe physio edits apply`` after merging.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

from conditions.bids import (
    FAILURES_COLUMNS,
    failures_tsv,
    parse_session_files,
    read_tsv,
)
from conditions.errors import DatasetError
from conditions.protocol import load_protocol
from physio.batch.inputs import output_key, override_candidates
from physio.batch.recording import process_file, review_record
from physio.batch.run import write_batch_outputs
from physio.outputs import PROVENANCE_KEY, session_files

#: The windows sidecars of a derivatives folder, relative to it.
WINDOWS_SIDECARS = "sub-*/ses-*/beh/*_desc-windows_physio.json"


def deriv_root_of(windows_json: Path) -> Path:
    """The derivatives folder of a recording's windows sidecar (``sub-X/ses-Y/beh/`` up).

    Examples
    --------
    >>> deriv_root_of(Path("/d/sub-1/ses-1/beh/sub-1_ses-1_task-x_desc-windows_physio.json"))
    PosixPath('/d')
    """
    return Path(windows_json).parents[3]


def read_sidecar_provenance(windows_json: Path) -> dict[str, Any]:
    """The provenance block of a windows sidecar.

    Raises
    ------
    conditions.errors.DatasetError
        The sidecar is missing, is not JSON or has no provenance (naming the file).
    """
    path = Path(windows_json)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{path}: windows sidecar not found") from None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot read the windows sidecar: {exc}") from None
    prov = data.get(PROVENANCE_KEY) if isinstance(data, dict) else None
    if not isinstance(prov, dict) or not prov.get("source"):
        raise DatasetError(f"{path}: the sidecar has no {PROVENANCE_KEY} block naming its "
                           "source file; process the recording with 'soothe physio process'")
    return prov


def explicit_override_file(prov: dict[str, Any]) -> str | None:
    """The phase override file given to the batch (``--overrides``), if any: the recorded
    override files that are not found beside the input (those the batch finds itself)."""
    src = Path(prov["source"])
    found = {str(p) for p in override_candidates(src)}
    given = [f for f in prov.get("override_files") or [] if f not in found]
    return given[0] if given else None


def reprocess_recording(windows_json: Path, *, refresh: bool = True) -> dict[str, Any]:
    """Re-process one recording from its sidecar's provenance, with its current edits.

    The recording goes through :func:`physio.batch.recording.process_file` (so its tables,
    QC figure and up-to-date record are the batch's) with the settings, reader options,
    labels and phase override file its sidecar records; it is skipped when nothing changed
    (same input, settings, code and edit file). With ``refresh`` the group outputs are then
    rewritten (:func:`refresh_group_outputs`).

    Parameters
    ----------
    windows_json : Path
        The recording's ``..._desc-windows_physio.json``.
    refresh : bool
        Rewrite the group tables, ``failures.tsv`` and the QC index afterwards.

    Returns
    -------
    dict
        The batch's record of the recording (``status`` ``ok``, ``skipped`` or ``failed``,
        with the message of a failure).

    Raises
    ------
    conditions.errors.DatasetError
        The sidecar is missing or records no source file.
    """
    windows_json = Path(windows_json)
    prov = read_sidecar_provenance(windows_json)
    deriv = deriv_root_of(windows_json)
    files = parse_session_files(windows_json.with_name(
        windows_json.name.replace("_desc-windows_physio.json", "_events.tsv")))
    settings = dict(prov.get("settings") or {})
    reader = prov.get("reader") or {}
    record = process_file(prov["source"], str(deriv), settings,
                          overrides=explicit_override_file(prov),
                          sampling_rate=reader.get("sampling_rate"),
                          column_map=reader.get("column_map"),
                          labels=(files.subject, files.session, files.task))
    if refresh:
        refresh_group_outputs(deriv, latest=[record])
    return record


@functools.lru_cache(maxsize=8)
def protocol_task_of(protocol_path: str | None) -> str:
    """The task label of a protocol file (the shipped protocol's for None)."""
    return load_protocol(protocol_path).task


def _sidecar_record(windows_json: Path, deriv: Path) -> dict[str, Any] | None:
    """A recording's batch record (``skipped``) from its sidecar, None when unreadable."""
    try:
        prov = read_sidecar_provenance(windows_json)
    except DatasetError:
        return None
    files = parse_session_files(windows_json.with_name(
        windows_json.name.replace("_desc-windows_physio.json", "_events.tsv")))
    protocol_task = protocol_task_of((prov.get("settings") or {}).get("protocol_path"))
    out = session_files(deriv, files.subject, files.session, files.task)
    return {"status": "skipped", "source": str(prov["source"]),
            "key": output_key(files.subject, files.session, files.task, protocol_task),
            "windows": str(out.windows_tsv(deriv)), **prov.get("quality", {}),
            "condition": prov.get("condition", "n/a"), "png": str(out.qc_png(deriv)),
            "review": review_record(prov)}


def _old_failures(deriv: Path) -> list[dict[str, Any]]:
    """The rows of the folder's ``failures.tsv`` as failure records ([] when absent)."""
    path = failures_tsv(deriv)
    if not path.is_file():
        return []
    try:
        table = read_tsv(path, FAILURES_COLUMNS)
    except DatasetError:
        return []
    return [{"status": "failed", **{c: ("" if v != v else str(v)) for c, v in row.items()}}
            for row in table[list(FAILURES_COLUMNS)].to_dict("records")]


def refresh_group_outputs(deriv: Path, latest: list[dict[str, Any]] = ()) -> dict[str, Any]:
    """Rewrite the group tables, ``failures.tsv`` and the QC index of a derivatives folder.

    Every recording with a windows sidecar is listed from it; ``latest`` are records just
    made (:func:`reprocess_recording`), which replace what the folder said of their source
    (a success clears its old failure; a failure is listed and its old tables left out).
    Returns :func:`physio.batch.run.write_batch_outputs`'s summary.
    """
    deriv = Path(deriv)
    newest = {os.path.abspath(r["source"]): r for r in latest}
    failed = {os.path.abspath(r["source"]): r for r in _old_failures(deriv)}
    for src, r in newest.items():
        failed.pop(src, None)
        if r["status"] == "failed":
            failed[src] = r
    records = []
    for sidecar in sorted(deriv.glob(WINDOWS_SIDECARS)):
        rec = _sidecar_record(sidecar, deriv)
        if rec is None or os.path.abspath(rec["source"]) in failed:
            continue
        records.append(rec)
    records += list(failed.values())
    records.sort(key=lambda r: r["source"])
    return write_batch_outputs(deriv, records)
