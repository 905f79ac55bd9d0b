"""Write the derivatives of one recording and of a batch, through conditions.bids."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pandas as pd

from conditions.bids import (
    BEATS_COLUMNS,
    BIDS_VERSION,
    PHASES_COLUMNS,
    WINDOWS_COLUMNS,
    SessionFiles,
    atomic_write_bytes,
    columns_sidecar,
    group_phases_paths,
    group_windows_paths,
    read_tsv,
    write_json,
    write_tsv,
)

#: Top-level key of the windows sidecar that holds soothe's provenance.
PROVENANCE_KEY = "SootheProvenance"


def session_files(deriv: Path, participant: str, session: str, task: str) -> SessionFiles:
    """The SessionFiles naming one recording's derivatives (root unused for derivatives)."""
    return SessionFiles(Path(deriv), participant, session, task)


def ensure_derivatives_dataset(deriv: Path) -> None:
    """Write ``dataset_description.json`` of the derivatives folder if absent."""
    from physio.sidecar import package_versions

    path = Path(deriv) / "dataset_description.json"
    if path.exists():
        return
    write_json(
        path,
        {
            "Name": "soothe physiology derivatives",
            "BIDSVersion": BIDS_VERSION,
            "DatasetType": "derivative",
            "GeneratedBy": [
                {
                    "Name": "soothe",
                    "Version": package_versions(("soothe",))["soothe"],
                    "Description": "soothe physio process: windowed HR, HRV, SCL and SCRs",
                }
            ],
        },
    )


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
    windows = result.windows.copy()
    write_tsv(paths["windows"], windows, WINDOWS_COLUMNS)
    provenance = _with_methods(provenance, getattr(result, "info", {}) or {})
    phases = getattr(result, "phases", None)
    if phases is not None and len(phases.columns):
        paths["phases"] = files.phases_tsv(deriv)
        write_tsv(paths["phases"], phases, PHASES_COLUMNS)
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


def _with_methods(provenance: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    """Provenance plus the respiration, vagal-index and EDA column definitions."""
    from physio.eda.eda_process import eda_window_methods

    methods = dict(provenance.get("methods") or {})
    if info.get("rsp") is not None:
        methods["rsp"] = info["rsp"]
    if info.get("vagal_index") is not None:
        methods["vagal_index"] = info["vagal_index"]
    eda_defs = eda_window_methods()
    methods["eda_columns"] = {k: eda_defs[k] for k in ("scl_us", "sc_mean_us")}
    return {**provenance, "methods": methods}


_TEXT_COLUMNS = ("participant_id", "session", "condition", "phase", "ecg_reason", "hf_reason",
                 "eda_reason")
_BOOL_COLUMNS = ("ecg_valid", "hf_valid", "eda_valid")


def _read_windows(path: Path) -> pd.DataFrame:
    """A windows TSV with labels kept as text (session '01' stays '01')."""
    read_tsv(path, WINDOWS_COLUMNS)  # schema check with a clear error
    table = pd.read_csv(
        path, sep="\t", na_values=["n/a"], keep_default_na=False,
        dtype={c: "string" for c in _TEXT_COLUMNS},
    )
    for col in _BOOL_COLUMNS:
        table[col] = table[col].map(
            lambda v: pd.NA if pd.isna(v) else str(v).lower() == "true").astype("boolean")
    # Fixed dtypes for every other column: a recording whose ECG was unusable has all-NaN
    # metric columns, and concatenating those with an inferred dtype is ambiguous in pandas.
    for col in table.columns:
        if col not in _TEXT_COLUMNS and col not in _BOOL_COLUMNS and col in WINDOWS_COLUMNS:
            table[col] = pd.to_numeric(table[col], errors="coerce").astype("float64")
    return table


def write_group_table(deriv: Path, tables: list[Path]) -> tuple[Path, Path]:
    """Concatenate per-recording windows tables into the group TSV and Parquet (atomic).

    The phases tables next to them (``..._desc-phases_physio.tsv``) go into the group
    phases table (:func:`write_group_phases`) at the same time.
    """
    frames = [_read_windows(p) for p in sorted(tables)]
    if frames:
        group = pd.concat(frames, ignore_index=True)[list(WINDOWS_COLUMNS)]
    else:
        group = pd.DataFrame(columns=list(WINDOWS_COLUMNS))
    group = group.sort_values(["participant_id", "session", "start_s"], kind="stable")
    group = group.reset_index(drop=True)
    for col in _TEXT_COLUMNS:
        group[col] = group[col].astype("string")
    for col in _BOOL_COLUMNS:
        group[col] = group[col].astype("boolean")
    tsv, parquet = group_windows_paths(deriv)
    write_tsv(tsv, group.astype(object).where(group.notna(), None), WINDOWS_COLUMNS)
    buf = io.BytesIO()
    group.to_parquet(buf, index=False)
    atomic_write_bytes(parquet, buf.getvalue())
    write_json(tsv.with_suffix(".json"), columns_sidecar(WINDOWS_COLUMNS))
    write_group_phases(deriv, [Path(str(p).replace("_desc-windows_physio.tsv",
                                                   "_desc-phases_physio.tsv"))
                               for p in tables])
    return tsv, parquet


_PHASE_TEXT = ("participant_id", "session", "condition", "phase", "ecg_reason", "hf_reason",
               "resp_source", "eda_reason")


def write_group_phases(deriv: Path, tables: list[Path]) -> tuple[Path, Path]:
    """Concatenate per-recording phases tables into the group TSV and Parquet (atomic).

    Tables that do not exist (a recording processed by an older soothe) are left out.
    """
    frames = []
    for path in sorted(p for p in tables if Path(p).is_file()):
        read_tsv(path, PHASES_COLUMNS)  # schema check with a clear error
        frames.append(pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=False,
                                  dtype={c: "string" for c in _PHASE_TEXT}))
    cols = list(PHASES_COLUMNS)
    group = pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)
    for col in cols:
        if col in _PHASE_TEXT:
            group[col] = group[col].astype("string")
        elif col in ("ecg_valid", "hf_valid", "eda_valid"):
            group[col] = group[col].map(
                lambda v: pd.NA if pd.isna(v) else str(v).lower() == "true").astype("boolean")
        else:
            group[col] = pd.to_numeric(group[col], errors="coerce").astype("float64")
    group = group.sort_values(["participant_id", "session", "start_s"], kind="stable")
    group = group.reset_index(drop=True)
    tsv, parquet = group_phases_paths(deriv)
    write_tsv(tsv, group.astype(object).where(group.notna(), None), PHASES_COLUMNS)
    buf = io.BytesIO()
    group.to_parquet(buf, index=False)
    atomic_write_bytes(parquet, buf.getvalue())
    write_json(tsv.with_suffix(".json"), columns_sidecar(PHASES_COLUMNS))
    return tsv, parquet
