"""``soothe physio edits list|export|apply``: hand edits without a browser.

- ``list DERIV [--participant ID]``: each recording's review status, edit counts (as last
  applied) and stale edits;
- ``export DERIV --out FILE.tsv``: every recording's edits in one TSV, with
  ``participant_id``, ``session`` and ``task`` columns in front;
- ``apply DERIV [--from FILE [FILE ...]]``: merge edit files (one recording's, named like
  ``sub-X_ses-Y_task-Z_desc-edits_physio.tsv``, or an export) into the recordings' own
  edit files (:func:`physio.edits.merge_edits`; a conflict is refused and nothing is
  written), then re-process the recordings whose edits changed
  (:func:`physio.reprocess.reprocess_recording`). Without ``--from``: re-process the
  recordings whose edit files changed since they were last processed.

Only argparse is imported here, so ``soothe physio --help`` stays fast; the commands import
what they need when they run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_edits_parser(sub: Any) -> None:
    """Add ``edits`` and its commands to ``soothe physio``'s sub-parsers."""
    p = sub.add_parser("edits", help="list, export or apply analysts' hand edits",
                       description="Hand edits without a browser. Each recording's edits "
                       "are kept as ..._desc-edits_physio.tsv beside its tables and applied "
                       "every time it is processed.")
    cmds = p.add_subparsers(dest="edits_command", required=True)
    ls = cmds.add_parser("list", help="review status, edit counts and stale edits")
    ls.add_argument("deriv", help="derivatives folder")
    ls.add_argument("--participant", help="only this participant (label, with or without sub-)")
    ex = cmds.add_parser("export", help="every recording's edits in one TSV")
    ex.add_argument("deriv", help="derivatives folder")
    ex.add_argument("--out", required=True, help="the TSV to write")
    ap = cmds.add_parser("apply", help="merge edit files into the recordings' and re-process")
    ap.add_argument("deriv", help="derivatives folder")
    ap.add_argument("--from", dest="sources", nargs="+", default=[], metavar="FILE",
                    help="edit files: one recording's (named sub-X_ses-Y_task-Z_desc-edits_"
                         "physio.tsv) or an export (participant_id, session, task columns); "
                         "without it, the recordings whose edit files changed since they "
                         "were processed are re-processed")


def run_edits(args: argparse.Namespace) -> int:
    """Run ``soothe physio edits ...``; a bad input is one line on stderr and exit code 1."""
    # lazy: the commands load pandas and the pipeline; ``soothe physio --help`` must not
    from conditions.errors import SootheError

    commands = {"list": list_edits, "export": export_edits, "apply": apply_edits}
    try:
        return commands[args.edits_command](args)
    except (SootheError, OSError) as exc:
        print(f"soothe physio edits {args.edits_command}: {exc}", file=sys.stderr)
        return 1


def _deriv(path: str) -> Path:
    # lazy: conditions.errors is cheap but keeps this module import-light (see module doc)
    from conditions.errors import DatasetError

    deriv = Path(path)
    if not deriv.is_dir():
        raise DatasetError(f"{deriv}: derivatives folder not found")
    return deriv


def recordings_of(deriv: Path, participant: str | None = None) -> list[Any]:
    """The recordings of a derivatives folder (SessionFiles), from their windows tables."""
    # lazy: conditions.bids loads pandas
    from conditions.bids import check_label, parse_session_files

    want = check_label(participant, "participant") if participant else None
    out = []
    for windows in sorted(deriv.glob("sub-*/ses-*/beh/*_desc-windows_physio.tsv")):
        files = parse_session_files(windows.with_name(
            windows.name.replace("_desc-windows_physio.tsv", "_events.tsv")))
        if want is None or files.subject == want:
            out.append(files)
    return out


def list_edits(args: argparse.Namespace) -> int:
    """Print one line per recording: status, edits, what they did when last applied."""
    # lazy: physio.edits and the sidecar reader load numpy/pandas
    from physio.edits import read_edits, review_status
    from physio.outputs import read_provenance

    deriv = _deriv(args.deriv)
    found = recordings_of(deriv, args.participant)
    if not found:
        print(f"no processed recordings in {deriv}"
              + (f" for participant {args.participant}" if args.participant else ""))
        return 0
    for files in found:
        edits = read_edits(files.edits_tsv(deriv))
        prov = read_provenance(files, deriv) or {}
        mc = prov.get("manual_corrections") or {}
        line = f"{files.prefix}: {review_status(edits)}, {len(edits)} edit(s)"
        if mc:
            line += (f"; applied: beats +{mc.get('beats_added', 0)} -{mc.get('beats_deleted', 0)}"
                     f" ~{mc.get('beats_moved', 0)}, unusable "
                     f"{sum((mc.get('unusable_s') or {}).values()):g} s, SCRs "
                     f"-{mc.get('scrs_deleted', 0)} +{mc.get('scrs_restored', 0)}")
        if not edits_applied(files, deriv):
            line += "; NOT APPLIED YET (run soothe physio process or edits apply)"
        print(line)
        for s in mc.get("stale") or []:
            print(f"    stale row {s['row']}: {s['action']} ({s['channel']}) at "
                  f"{s['time_s']} s: {s['reason']}")
    return 0


def _sha(path: Path) -> str | None:
    # lazy: hashing is only needed by list
    from conditions.checksum import sha256_file

    return sha256_file(path) if path.is_file() else None


def export_edits(args: argparse.Namespace) -> int:
    """Write every recording's edits to one TSV (id columns first) and its sidecar."""
    # lazy: pandas costs start-up time; ``soothe physio --help`` must not load it
    import pandas as pd

    # lazy: the edit file format loads numpy/pandas (see above)
    from conditions.bids import EDITS_COLUMNS, columns_sidecar, write_json, write_tsv
    from physio.edits import EXPORT_ID_COLUMNS, edits_table, read_edits

    deriv = _deriv(args.deriv)
    frames = []
    for files in recordings_of(deriv):
        edits = read_edits(files.edits_tsv(deriv))
        if edits:
            table = edits_table(edits)
            for col, value in reversed(list(zip(EXPORT_ID_COLUMNS, (
                    files.participant_id, files.session, files.task), strict=True))):
                table.insert(0, col, value)
            frames.append(table)
    columns = [*EXPORT_ID_COLUMNS, *EDITS_COLUMNS]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    out = Path(args.out)
    write_tsv(out, table[columns])
    write_json(out.with_suffix(".json"), {
        "Description": f"Hand edits of every recording of {deriv}, one row per edit",
        "participant_id": {"Description": "BIDS participant label, 'sub-<id>'"},
        "session": {"Description": "Session label"},
        "task": {"Description": "Task label"},
        **columns_sidecar(EDITS_COLUMNS)})
    print(f"exported {len(table)} edit(s) of {len(frames)} recording(s) to {out}")
    return 0


def incoming_edits(path: Path) -> dict[tuple[str, str, str], list[Any]]:
    """The edits of an edit file by recording ``(subject, session, task)``.

    An export names each row's recording; a one-recording file is named by its file name.

    Raises
    ------
    physio.edits.EditFileError
        A file that cannot be read, or a one-recording file whose name does not say which
        recording it belongs to.
    """
    # lazy: the edit file format loads numpy/pandas
    from conditions.bids import check_label, parse_session_files
    from conditions.errors import DatasetError
    from physio.edits import EXPORT_ID_COLUMNS, EditFileError, read_edit_rows

    rows = read_edit_rows(path, extra=EXPORT_ID_COLUMNS)
    out: dict[tuple[str, str, str], list[Any]] = {}
    for i, (ids, edit) in enumerate(rows, start=1):
        if ids:
            try:
                key = (check_label(ids.get("participant_id", ""), "participant"),
                       check_label(ids.get("session", ""), "session"),
                       check_label(ids.get("task", ""), "task"))
            except DatasetError as exc:
                raise EditFileError(f"{path}: row {i}: {exc}") from None
        else:
            try:
                files = parse_session_files(path.with_name(
                    path.name.replace("_desc-edits_physio.tsv", "_events.tsv")))
            except (DatasetError, ValueError):
                raise EditFileError(
                    f"{path}: cannot tell which recording these edits belong to: name the "
                    "file sub-<id>_ses-<n>_task-<task>_desc-edits_physio.tsv or give "
                    "participant_id, session and task columns (soothe physio edits "
                    "export writes them)") from None
            key = (files.subject, files.session, files.task)
        out.setdefault(key, []).append(edit)
    return out


def apply_edits(args: argparse.Namespace) -> int:
    """Merge the given edit files into the recordings', then re-process the changed ones."""
    # lazy: merging, writing and re-processing load the pipeline
    from conditions.errors import DatasetError
    from physio.edits import merge_edits, read_edits, write_edits
    from physio.reprocess import refresh_group_outputs, reprocess_recording

    deriv = _deriv(args.deriv)
    known = {(f.subject, f.session, f.task): f for f in recordings_of(deriv)}
    plan: dict[tuple[str, str, str], list[Any]] = {}
    for source in args.sources:
        for key, edits in incoming_edits(Path(source)).items():
            if key not in known:
                raise DatasetError(f"{source}: sub-{key[0]} ses-{key[1]} task-{key[2]} is not "
                                   f"a processed recording of {deriv}")
            files = known[key]
            saved = plan.get(key) or read_edits(files.edits_tsv(deriv))
            plan[key] = merge_edits(saved, edits, where=str(files.edits_tsv(deriv)))
    changed = [key for key, merged in plan.items()
               if merged != read_edits(known[key].edits_tsv(deriv))]
    for key in changed:  # every merge succeeded: nothing is written before that
        write_edits(known[key].edits_tsv(deriv), plan[key])
    if not args.sources:
        changed = [key for key, f in known.items() if not edits_applied(f, deriv)]
    failed = 0
    records = []
    for key in changed:
        record = reprocess_recording(known[key].windows_json(deriv), refresh=False)
        records.append(record)
        failed += record["status"] == "failed"
        print(f"{known[key].prefix}: {'edits merged, ' if args.sources else ''}"
              f"{record['status']}"
              + (f": {record['message']}" if record["status"] == "failed" else ""))
    if changed:
        refresh_group_outputs(deriv, latest=records)
    print(f"edits apply: {len(changed)} recording(s) changed and re-processed, "
          + (f"{len(plan) - len(changed)} already had these edits" if args.sources else
             f"{len(known) - len(changed)} up to date"))
    return 1 if failed else 0


def edits_applied(files: Any, deriv: Path) -> bool:
    """True when the recording was last processed with its current edit file (or none)."""
    # lazy: the sidecar reader loads pandas
    from physio.outputs import read_provenance

    prov = read_provenance(files, deriv) or {}
    return prov.get("edits_sha256") == _sha(files.edits_tsv(deriv))
