"""``soothe physio``: process lab exports into windowed HR, HRV, SCL and SCRs with QC."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from physio.edits_cli import add_edits_parser, run_edits

#: Shown in --help only; the values used are the pipeline's own defaults
#: (physio.phases.DEFAULT_WINDOW_S / DEFAULT_MIN_PARTIAL), which are not imported here so
#: that ``soothe physio --help`` loads no numerical library.
_HELP_WINDOW_S, _HELP_MIN_PARTIAL = 60, 0.5
#: Set by the ``soothe`` command when this process is the batch's own (passed on to
#: ``physio.batch.IMPORT_FREEZE`` when the batch is imported).
FREEZE_AFTER_IMPORTS = False


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="soothe physio", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "process",
        help="process recordings (files, folders or a BIDS dataset) into BIDS derivatives",
        description="Process recordings into windowed HR, HRV, SCL and SCRs, with QC figures, "
        "a group table and a failures table. Up-to-date recordings are skipped.",
    )
    p.add_argument("inputs", nargs="*", help="recording files or folders (a BIDS root: all "
                   "sessions' physio)")
    p.add_argument("--out", required=True, help="derivatives folder")
    p.add_argument("--jobs", type=int, default=1, help="parallel worker processes (default 1)")
    p.add_argument("--window-s", type=float, default=None,
                   help=f"window length in seconds (default {_HELP_WINDOW_S})")
    p.add_argument("--min-partial", type=float, default=None,
                   help="keep a last partial window covering at least this fraction "
                        f"({_HELP_MIN_PARTIAL})")
    p.add_argument("--ecg-channel", help="name of the ECG channel (default: detected)")
    p.add_argument("--eda-channel", help="name of the EDA channel (default: detected)")
    p.add_argument("--scr-threshold", "--scr-min-us", dest="scr_threshold", type=float,
                   default=None, help="SCR amplitude criterion in µS, measured on the 1 Hz "
                   "smoothed signal (default 0.05); recorded in the sidecar")
    p.add_argument("--engine", choices=("soothe", "neurokit2"), default="soothe",
                   help="signal processing: soothe's own (default) or neurokit2's functions "
                        "(ecg_peaks, signal_fixpeaks, hrv_time/hrv_frequency, eda_phasic/"
                        "eda_peaks, rsp_process); same phases, windows, rules and outputs")
    p.add_argument("--eda-method", choices=("troughs", "median", "highpass"), default=None,
                   help="tonic/phasic method (default troughs)")
    p.add_argument("--overrides", help="phase override file (TSV: [recording,] phase, start_s, "
                   "end_s; or JSON)")
    p.add_argument("--protocol", help="protocol TOML (default: the shipped protocol)")
    p.add_argument("--participant", help="participant label (single non-BIDS input)")
    p.add_argument("--session", help="session label (single non-BIDS input)")
    p.add_argument("--participant-from", nargs="+", metavar="stem|parent|pattern REGEX",
                   help="participant labels from the file name without its format suffixes "
                        "(stem), the folder holding the file (parent), or a regular "
                        "expression's first group or group named 'participant' searched in "
                        "the path (pattern REGEX; a group named 'session' gives the session). "
                        "Default: a sub-X entity in the name or folders, else the stem")
    p.add_argument("--sampling-rate", type=float, help="for CSV files without a time column")
    p.add_argument("--column-map", action="append", default=None, metavar="KEY=COL[,KEY=COL]",
                   help="CSV/TSV columns: time=COL,ecg=COL,eda=COL,rsp=COL,marker=COL "
                        "(keys optional; "
                        "repeatable)")
    p.add_argument("--ecg-units", help="units of the ECG channel (V, mV, uV) when the file "
                   "does not carry them or carries wrong ones")
    p.add_argument("--eda-units", help="units of the EDA channel (uS, kOhm...) when the file "
                   "does not carry them (a plain CSV header)")
    p.add_argument("--rsp-channel", help="name of the respiration belt channel (default: "
                   "detected by name: resp, rsp, breath, belt, pneumo)")
    p.add_argument("--rsp-units", help="units of the respiration belt (V, mV, uV, a.u., %%, "
                   "mm, cm) when the file does not carry them or carries wrong ones")
    p.add_argument("--scheduler", help="'local' for a Dask LocalCluster with --jobs workers, "
                   "or a Dask scheduler address tcp://HOST:PORT")
    p.add_argument("--force", action="store_true",
                   help="re-process recordings that are up to date (same input files, "
                        "settings, pipeline code and library versions)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_edits_parser(sub)  # soothe physio edits list|export|apply (physio.edits_cli)
    return ap


def parse_column_map(specs: Sequence[str] | None) -> dict[str, str] | None:
    """``["time=t,ecg=ECG", "eda=GSR"]`` -> ``{"time": "t", "ecg": "ECG", "eda": "GSR"}``.

    Raises
    ------
    ValueError
        An item without ``=``, an unknown key or a key given twice.

    Examples
    --------
    >>> parse_column_map(["time=t, ecg=ECG (mV)", "eda=GSR"])
    {'time': 't', 'ecg': 'ECG (mV)', 'eda': 'GSR'}
    >>> parse_column_map(None) is None
    True
    """
    # lazy: physio.io loads numpy and pandas; ``soothe physio --help`` must not
    from physio.io.read_csv import COLUMN_MAP_KEYS

    if not specs:
        return None
    out: dict[str, str] = {}
    for spec in specs:
        for item in spec.split(","):
            if not item.strip():
                continue
            key, sep, col = item.partition("=")
            key, col = key.strip().lower(), col.strip()
            if not sep or not col:
                raise ValueError(f"--column-map item {item!r}: expected KEY=COLUMN")
            if key not in COLUMN_MAP_KEYS:
                raise ValueError(f"--column-map key {key!r}: expected one of "
                                 f"{', '.join(COLUMN_MAP_KEYS)}")
            if key in out:
                raise ValueError(f"--column-map key {key!r} given twice")
            out[key] = col
    return out or None


def participant_source(ap: argparse.ArgumentParser,
                       words: Sequence[str] | None) -> tuple[str, str | None, list[str]]:
    """``--participant-from`` as (source, regular expression or None, inputs given after it).

    Examples
    --------
    >>> participant_source(_parser(), ["pattern", "P(\\\\d+)", "a.acq"])
    ('pattern', 'P(\\\\d+)', ['a.acq'])
    >>> participant_source(_parser(), None)
    ('auto', None, [])
    """
    if not words:
        return "auto", None, []
    words = list(words)
    source, pattern = words.pop(0), None
    if source not in ("stem", "parent", "pattern"):
        ap.error(f"--participant-from {source!r}: expected stem, parent or pattern REGEX")
    if source == "pattern":
        if not words:
            ap.error("--participant-from pattern needs a regular expression")
        pattern = words.pop(0)
    return source, pattern, words


def pipeline_settings(ap: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, Any]:
    """The ``PipelineSettings`` fields given on the command line (defaults filled in)."""
    # lazy: physio.phases loads numpy and pandas; ``soothe physio --help`` must not
    from physio.phases import DEFAULT_MIN_PARTIAL, DEFAULT_WINDOW_S

    settings = {"window_s": DEFAULT_WINDOW_S if args.window_s is None else args.window_s,
                "min_partial": (DEFAULT_MIN_PARTIAL if args.min_partial is None
                                else args.min_partial),
                "ecg_channel": args.ecg_channel, "eda_channel": args.eda_channel,
                "protocol_path": args.protocol, "participant": args.participant,
                "session": args.session, "ecg_units": args.ecg_units,
                "eda_units": args.eda_units, "rsp_channel": args.rsp_channel,
                "rsp_units": args.rsp_units, "engine": args.engine}
    if args.scr_threshold is not None:
        if not args.scr_threshold > 0:
            ap.error(f"--scr-threshold {args.scr_threshold}: expected a positive µS value")
        settings["scr_min_amplitude_us"] = args.scr_threshold
    if args.eda_method:
        settings["eda_method"] = args.eda_method
    return settings


def print_summary(summary: dict[str, Any], out: str) -> int:
    """Print the batch summary (failures on stderr); 1 when a recording failed, else 0."""
    print(
        f"physio: {summary['ok']} processed, {summary['skipped']} up to date, "
        f"{summary['failed']} failed; derivatives in {out}"
    )
    passed = summary.get("not_recordings", [])
    if passed:
        listed = ", ".join(passed[:10]) + (f" and {len(passed) - 10} more" if len(passed) > 10
                                           else "")
        print(f"  skipped {len(passed)} file(s) that are not recordings: {listed}",
              file=sys.stderr)
    for r in summary["results"]:
        if r["status"] == "failed":
            print(f"  FAILED {r['source']}: {r['message']}", file=sys.stderr)
    if summary["failed"]:
        print(f"  failures: {summary['failures_tsv']}", file=sys.stderr)
    print(f"  QC index: {summary['qc_index']}")
    return 1 if summary["failed"] else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``soothe physio``; returns 0 when every recording succeeded.

    Examples
    --------
    >>> main(["process", "/nonexistent/x.acq", "--out", "/tmp/soothe-doctest-deriv",
    ...       "--no-progress"])  # doctest: +ELLIPSIS
    physio: 0 processed, 0 up to date, 1 failed...
    1
    """
    ap = _parser()
    args = ap.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.command == "edits":
        return run_edits(args)
    # lazy: the batch loads pandas and the pipeline; ``soothe physio --help`` must not
    from physio import batch

    if FREEZE_AFTER_IMPORTS:
        batch.IMPORT_FREEZE.enable()
    participant_from, pattern, more = participant_source(ap, args.participant_from)
    args.inputs = [*args.inputs, *more]  # inputs written after --participant-from
    if not args.inputs:
        ap.error("give at least one recording file or folder")
    try:
        column_map = parse_column_map(args.column_map)
    except ValueError as exc:
        ap.error(str(exc))
    settings = pipeline_settings(ap, args)
    if (args.participant or args.session) and len(args.inputs) > 1:
        print("soothe physio: --participant/--session apply to a single input file",
              file=sys.stderr)
        return 2
    summary = batch.run_batch(
        args.inputs,
        args.out,
        settings=settings,
        jobs=args.jobs,
        scheduler=args.scheduler,
        overrides=args.overrides,
        force=args.force,
        sampling_rate=args.sampling_rate,
        column_map=column_map,
        progress=not args.no_progress,
        participant_from=participant_from,
        participant_pattern=pattern,
    )
    return print_summary(summary, args.out)
