"""Write the derivatives of one recording and of a batch, through conditions.bids."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from conditions.bids import (
    BEATS_COLUMNS,
    BIDS_VERSION,
    PHASES_COLUMNS,
    PHASES_DTYPES,
    SCR_COLUMNS,
    WINDOWS_COLUMNS,
    WINDOWS_DTYPES,
    SessionFiles,
    atomic_write_bytes,
    atomic_write_text,
    columns_sidecar,
    group_phases_paths,
    group_windows_paths,
    parse_session_files,
    write_json,
    write_tsv,
)
from conditions.errors import DatasetError
from conditions.protocol import load_protocol
from physio.sidecar import package_versions

#: Top-level key of the windows sidecar that holds soothe's provenance.
PROVENANCE_KEY = "SootheProvenance"


def session_files(deriv: Path, participant: str, session: str, task: str) -> SessionFiles:
    """The SessionFiles naming one recording's derivatives (root unused for derivatives)."""
    return SessionFiles(Path(deriv), participant, session, task)


#: Derivative files BIDS 1.9 has no name for (soothe's own tables, figures and logs); the
#: validator is told to skip them. The windows are also written as BIDS events per recording.
DERIVATIVES_BIDSIGNORE = ("qc/", "group/", "log/", "failures.tsv", "*_desc-*")

#: Columns of the per-recording windows events file (BIDS events: onset, duration first).
WINDOW_EVENTS_COLUMNS: dict[str, tuple[str, str | None]] = {
    "onset": ("Window start on the session clock (zero = first physiology sample)", "s"),
    "duration": ("Window length", "s"),
    "trial_type": ("Protocol phase the window belongs to", None),
    "window": ("1-based window index within the phase (minute n of the induction)", None),
    "partial": ("True for a phase's last remainder shorter than the nominal length", None),
}

DERIVATIVES_README = """soothe physiology derivatives
=============================

Windowed physiology of the raw dataset beside this folder, written by
'soothe physio process' (see the soothe README). Per recording, in sub-<id>/ses-<n>/beh/:

  *_desc-windows_physio.tsv/.json  heart rate, RMSSD / ln RMSSD, SDNN, HF (windows >= 120 s),
                                   breathing rate, SCL, SCRs per window, with validity and
                                   reasons; the JSON sidecar holds methods, settings,
                                   package versions and input hashes
  *_desc-beats_physio.tsv/.json    the corrected R-peak series
  *_desc-phases_physio.tsv         phase-level values (HF per phase), when written
  *_events.tsv/.json               the windows as BIDS events (onset, duration, phase)
  *_desc-edits_physio.tsv/.json    an analyst's hand edits (beats, stretches, SCRs), when
                                   made; applied every time the recording is processed
                                   (see docs/edits.md); never written by processing

group/ holds the concatenated tables (TSV and Parquet), qc/ one figure per recording and an
HTML index, log/ the batch log and failures.tsv the recordings that could not be processed.
BIDS 1.9 has no suffix for windowed summaries, so the _desc- tables, group/, qc/, log/ and
failures.tsv are listed in .bidsignore.
"""


def _window_events(windows_tsv: Path) -> pd.DataFrame:
    table = pd.read_csv(windows_tsv, sep="\t", na_values=["n/a"], keep_default_na=False)
    start = pd.to_numeric(table["start_s"], errors="coerce")
    end = pd.to_numeric(table["end_s"], errors="coerce")
    partial = table["partial"].map(lambda v: str(v).strip().lower() == "true") \
        if "partial" in table.columns else False
    return pd.DataFrame({"onset": start.round(6), "duration": (end - start).round(6),
                         "trial_type": table["phase"].astype(str),
                         "window": pd.to_numeric(table["window"], errors="coerce"
                                                 ).astype("Int64"),
                         "partial": partial})


def write_window_events(deriv: Path) -> list[Path]:
    """Write each recording's windows as a BIDS events file (when missing or out of date).

    One ``..._events.tsv`` (+ ``.json``) beside each ``..._desc-windows_physio.tsv``, named
    through :meth:`conditions.bids.SessionFiles.windows_events_tsv`. Returns the files written.
    """
    written = []
    for windows in sorted(Path(deriv).glob("sub-*/ses-*/beh/*_desc-windows_physio.tsv")):
        files = parse_session_files(windows.with_name(
            windows.name.replace("_desc-windows_physio.tsv", "_events.tsv")))
        target = files.windows_events_tsv(deriv)
        if target.exists() and target.stat().st_mtime >= windows.stat().st_mtime:
            continue
        try:
            events = _window_events(windows)
        except (OSError, ValueError, KeyError):
            continue  # a windows table being replaced right now; the batch end redoes it
        write_tsv(target, events, WINDOW_EVENTS_COLUMNS)
        write_json(target.with_suffix(".json"), columns_sidecar(WINDOW_EVENTS_COLUMNS))
        written.append(target)
    return written


def ensure_derivatives_dataset(deriv: Path) -> None:
    """The dataset-level files of the derivatives folder, and the window events files.

    ``dataset_description.json`` (DatasetType derivative, Authors from the protocol,
    GeneratedBy soothe with its version), ``README`` and ``.bidsignore`` are written when
    absent; each recording's windows are written as BIDS events
    (:func:`write_window_events`), so the folder passes the BIDS validator.
    """
    deriv = Path(deriv)
    path = deriv / "dataset_description.json"
    if not path.exists():
        write_json(
            path,
            {
                "Name": "soothe physiology derivatives",
                "BIDSVersion": BIDS_VERSION,
                "DatasetType": "derivative",
                "Authors": list(load_protocol().authors),
                "GeneratedBy": [
                    {
                        "Name": "soothe",
                        "Version": package_versions(("soothe",))["soothe"],
                        "Description": "soothe physio process: windowed HR, HRV, breathing "
                                       "rate, SCL and SCRs",
                    }
                ],
            },
        )
    if not (deriv / "README").exists():
        atomic_write_text(deriv / "README", DERIVATIVES_README)
    if not (deriv / ".bidsignore").exists():
        atomic_write_text(deriv / ".bidsignore", "\n".join(DERIVATIVES_BIDSIGNORE) + "\n")
    write_window_events(deriv)


def read_provenance(files: SessionFiles, deriv: Path) -> dict[str, Any] | None:
    """The provenance block of an existing windows sidecar (None when absent/unreadable)."""
    path = files.windows_json(deriv)
    try:
        return json.loads(path.read_text(encoding="utf-8")).get(PROVENANCE_KEY)
    except (OSError, ValueError, AttributeError):
        return None


def write_recording_outputs(
    result: Any, files: SessionFiles, deriv: Path, provenance: dict[str, Any]
) -> dict[str, Path]:
    """Write windows, beats, phases TSVs and the windows JSON sidecar (last: the commit mark).

    Every file is written atomically; the sidecar, which carries the input and settings
    hashes used by the up-to-date check, is written last, so an interrupted run is
    re-done rather than trusted.
    """
    deriv = Path(deriv)
    paths = {
        "windows": files.windows_tsv(deriv),
        "beats": files.beats_tsv(deriv),
        "sidecar": files.windows_json(deriv),
    }
    write_tsv(paths["windows"], typed_table(result.windows, WINDOWS_DTYPES), WINDOWS_COLUMNS)
    provenance = _with_methods(provenance, getattr(result, "info", {}) or {})
    phases = getattr(result, "phases", None)
    if phases is not None and len(phases.columns):
        paths["phases"] = files.phases_tsv(deriv)
        write_tsv(paths["phases"], typed_table(phases, PHASES_DTYPES), PHASES_COLUMNS)
        methods = provenance.get("methods", {})
        write_json(paths["phases"].with_suffix(".json"), {
            **columns_sidecar(PHASES_COLUMNS),
            "Description": "Phase-level HR, ln RMSSD, HF (with the breathing rule), breathing "
                           "rate and EDA; HF is reported here, not per minute",
            PROVENANCE_KEY: {
                "windows_sidecar": files.windows_json(deriv).name,
                "vagal_index": methods.get("vagal_index"),
                "hrv": methods.get("hrv"),
                "rsp": methods.get("rsp"),
                "eda_columns": methods.get("eda_columns"),
                "settings_sha256": provenance.get("settings_sha256"),
            },
        })
    write_tsv(paths["beats"], result.beats, BEATS_COLUMNS)
    paths.update(write_scr_table(result, files, deriv))
    write_json(
        files.beats_tsv(deriv).with_suffix(".json"),
        {**columns_sidecar(BEATS_COLUMNS), "Description": "R-peaks of the corrected beat series"},
    )
    sidecar = {
        **columns_sidecar(WINDOWS_COLUMNS),
        "Description": "Windowed HR, HRV, SCL and SCR metrics per protocol phase",
        PROVENANCE_KEY: provenance,
    }
    write_json(paths["sidecar"], sidecar)
    return paths


def write_scr_table(result: Any, files: SessionFiles, deriv: Path) -> dict[str, Path]:
    """Write ``desc-scr`` (one row per counted SCR) and its sidecar when the result has an
    SCR table; returns ``{"scr": path}`` (empty when there is none)."""
    scrs = getattr(result, "scrs", None)
    if scrs is None or not len(scrs.columns):
        return {}
    path = files.scr_tsv(Path(deriv))
    write_tsv(path, scrs, SCR_COLUMNS)
    write_json(path.with_suffix(".json"), {
        **columns_sidecar(SCR_COLUMNS),
        "Description": "Skin conductance responses counted in the windows table (none "
                       "within 1 s of an EDA artefact)",
    })
    return {"scr": path}


def _with_methods(provenance: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    """Provenance plus the respiration, vagal-index, quality and EDA column definitions."""
    methods = dict(provenance.get("methods") or {})
    for key in ("rsp", "vagal_index", "ecg_quality", "eda_artifacts", "rsp_quality"):
        if info.get(key) is not None:
            methods[key] = info[key]
    # lazy: physio.eda loads scipy.signal; the batch imports this module before its first
    # read (and a pool batch's parent only writes the group outputs)
    from physio.eda.eda_process import eda_window_methods

    eda_defs = eda_window_methods()
    methods["eda_columns"] = {k: eda_defs[k] for k in ("scl_us", "sc_mean_us")}
    return {**provenance, "methods": methods}


def _check_header(path: Path, schema) -> None:
    """The schema check of ``conditions.bids.read_tsv`` from the header line alone.

    The group tables read every recording's tables once each (typed); a full
    ``read_tsv`` first, only to check the columns, would parse each table twice.
    """
    try:
        with open(path, "rb") as fh:
            header = fh.readline()
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    _header_columns(path, header, schema)


def _header_columns(path: Path, header: bytes, schema) -> list[str]:
    text = header.decode("utf-8", errors="replace")
    if not text.strip():
        raise DatasetError(f"{path}: file is empty; expected a header line")
    columns = text.rstrip("\r\n").split("\t")
    missing = [c for c in schema if c not in columns]
    if missing:
        raise DatasetError(f"{path}: missing column(s) {missing}; expected {list(schema)}")
    return columns


def typed_table(table: pd.DataFrame, dtypes: Mapping[str, str]) -> pd.DataFrame:
    """``table`` (a copy) with each column named in ``dtypes`` converted to its dtype.

    ``dtypes`` is a schema's dtypes (``conditions.bids.WINDOWS_DTYPES``...). Text becomes a
    nullable ``string``; ``true``/``false`` (any case) and Python or NumPy booleans a nullable
    ``boolean``; numbers ``Int64`` or ``float64`` (text that is no number becomes missing).
    Missing values stay missing. The per-recording tables and the group tables are written
    through this one conversion, so the same value is the same text in both.

    Raises
    ------
    TypeError
        When an ``Int64`` column holds a number that is not whole.

    Examples
    --------
    >>> t = typed_table(pd.DataFrame({"window": [1.0, None], "partial": ["false", None],
    ...                               "resp_source": ["belt", None]}),
    ...                 {"window": "Int64", "partial": "boolean", "resp_source": "string"})
    >>> [str(d) for d in t.dtypes], t["window"].tolist(), t["partial"].tolist()
    (['Int64', 'boolean', 'string'], [1, <NA>], [False, <NA>])
    """
    out = table.copy()
    for col, dtype in dtypes.items():
        if col in out.columns and out[col].dtype != dtype:
            out[col] = _column_as(out[col], dtype)
    return out


def _column_as(column: pd.Series, dtype: str) -> pd.Series:
    """One column converted to ``dtype`` (see :func:`typed_table`)."""
    if dtype == "string":
        return column.astype("string")
    if dtype == "boolean":
        return column.map(_flag, na_action="ignore").astype("boolean")
    return pd.to_numeric(column, errors="coerce").astype(dtype)


def _flag(value: Any) -> bool:
    """A validity flag as written (``true``/``false``) or held (a boolean) as a bool."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _read_tables(paths: list[Path], dtypes: Mapping[str, str]) -> list[pd.DataFrame]:
    """Per-recording tables read in as few parses as possible, typed as one read would be.

    ``dtypes`` is the schema's dtypes (its keys are the columns every file must have): each
    file's header is checked against them (a clear error naming the file). The bodies of
    consecutive files with the same header line are parsed together, in one
    ``pandas.read_csv`` (the same parser and options as one file at a time, so the same
    values), which is much faster than one parse per file. Should a joint parse fail, each
    file is parsed alone, so that the error names the file. Floats are parsed to the value
    whose ``repr`` was written (``round_trip``), text and flags are read as text; the frames
    are given their dtypes by :func:`typed_table`.
    """
    runs: list[tuple[bytes, list[tuple[Path, bytes]]]] = []
    for path in paths:
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            raise DatasetError(f"{path}: file not found") from None
        cut = data.find(b"\n") + 1 if b"\n" in data else len(data)
        header, body = data[:cut], data[cut:]
        _header_columns(path, header, dtypes)
        header = header.rstrip(b"\r\n") + b"\n"
        if body and not body.endswith(b"\n"):
            body += b"\n"
        if runs and runs[-1][0] == header:
            runs[-1][1].append((path, body))
        else:
            runs.append((header, [(path, body)]))
    options = dict(sep="\t", na_values=["n/a"], keep_default_na=False, low_memory=False,
                   float_precision="round_trip",
                   dtype={c: "string" for c, d in dtypes.items() if d in ("string", "boolean")})
    frames = []
    for header, members in runs:
        try:
            frames.append(pd.read_csv(io.BytesIO(header + b"".join(b for _, b in members)),
                                      **options))
        except Exception:  # noqa: BLE001 - parsed file by file below, naming the culprit
            for path, body in members:
                try:
                    frames.append(pd.read_csv(io.BytesIO(header + body), **options))
                except Exception as exc:  # noqa: BLE001 - reported with the file's name
                    raise DatasetError(f"{path}: cannot be read as a tab-separated table: "
                                       f"{exc}") from None
    return [typed_table(frame, dtypes) for frame in frames]


def group_frame(tables: list[Path], dtypes: Mapping[str, str]) -> pd.DataFrame:
    """Per-recording tables concatenated, typed by ``dtypes`` and in its column order.

    Rows are sorted by participant, session and start time (stable). With no table, an
    empty frame with the columns and dtypes.

    Examples
    --------
    >>> from conditions.bids import WINDOWS_DTYPES
    >>> empty = group_frame([], WINDOWS_DTYPES)
    >>> len(empty), str(empty["window"].dtype), str(empty["partial"].dtype)
    (0, 'Int64', 'boolean')
    """
    cols = list(dtypes)
    frames = [frame[cols] for frame in _read_tables(sorted(Path(p) for p in tables), dtypes)]
    if frames:
        group = pd.concat(frames, ignore_index=True)
    else:
        group = typed_table(pd.DataFrame({c: pd.Series(dtype=object) for c in cols}), dtypes)
    group = group.sort_values(["participant_id", "session", "start_s"], kind="stable")
    return group.reset_index(drop=True)


def _write_group_files(paths: tuple[Path, Path], group: pd.DataFrame,
                       schema: Mapping[str, tuple[str, str | None]]) -> tuple[Path, Path]:
    """The group TSV, its Parquet twin (the frame's dtypes) and the TSV's sidecar."""
    tsv, parquet = paths
    write_tsv(tsv, group, schema)
    buf = io.BytesIO()
    group.to_parquet(buf, index=False)
    atomic_write_bytes(parquet, buf.getvalue())
    write_json(tsv.with_suffix(".json"), columns_sidecar(schema))
    return tsv, parquet


def write_group_table(deriv: Path, tables: list[Path]) -> tuple[Path, Path]:
    """Concatenate per-recording windows tables into the group TSV and Parquet (atomic).

    Every column has its ``conditions.bids.WINDOWS_DTYPES`` dtype, as in the per-recording
    tables: the TSV holds the same text and the Parquet file nullable strings, integers and
    booleans. The phases tables next to them (``..._desc-phases_physio.tsv``) go into the
    group phases table (:func:`write_group_phases`) at the same time.
    """
    paths = _write_group_files(group_windows_paths(deriv), group_frame(tables, WINDOWS_DTYPES),
                               WINDOWS_COLUMNS)
    write_group_phases(deriv, [Path(str(p).replace("_desc-windows_physio.tsv",
                                                   "_desc-phases_physio.tsv"))
                               for p in tables])
    return paths


def write_group_phases(deriv: Path, tables: list[Path]) -> tuple[Path, Path]:
    """Concatenate per-recording phases tables into the group TSV and Parquet (atomic).

    Columns have their ``conditions.bids.PHASES_DTYPES`` dtypes, as in the per-recording
    tables. Tables that do not exist (a recording processed by an older soothe) are left out.
    """
    existing = [Path(p) for p in tables if Path(p).is_file()]
    return _write_group_files(group_phases_paths(deriv), group_frame(existing, PHASES_DTYPES),
                              PHASES_COLUMNS)
