"""The group tables hold what the per-recording tables hold: same columns, same text, typed.

``group/desc-windows_physio.tsv`` and ``group/desc-phases_physio.tsv`` are compared column
by column with the per-recording tables they concatenate: as text (the TSV) and as values
and dtypes (the Parquet twin: nullable strings, integers and booleans, floats). Inputs: a
simulated study as BIDS (every recording with a belt), the same study as CSV exports with
one recording without its belt (breathing from the ECG), and the shared real CSV exports
when ``../shared/data`` is present.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conditions.bids import (
    BEATS_COLUMNS,
    PHASES_COLUMNS,
    PHASES_DTYPES,
    WINDOWS_COLUMNS,
    WINDOWS_DTYPES,
    group_phases_paths,
    group_windows_paths,
)

REPO = Path(__file__).resolve().parents[1]

#: The columns the issue found changed in the group table, with the dtype they must keep.
ISSUE_COLUMNS = {"window": "Int64", "n_beats": "Int64", "scr_count": "Int64",
                 "partial": "boolean", "resp_source": "string"}
ARROW_TYPES = {"string": (pa.string(), pa.large_string()), "Int64": (pa.int64(),),
               "boolean": (pa.bool_(),), "float64": (pa.float64(),)}


def _shared_real() -> Path | None:
    env = os.environ.get("SOOTHE_SHARED_DATA")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if (cand / "real" / "bio_resting_8min_100hz.csv").is_file():
            return cand / "real"
    return None


def _soothe(*args: str, cwd: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO), MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, "-m", "soothe", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"soothe {' '.join(args)}:\n{proc.stdout[-2000:]}\n" \
                                 f"{proc.stderr[-2000:]}"


def _drop_csv_column(path: Path, column: str) -> None:
    """Rewrite a CSV export without one column (its other text unchanged)."""
    lines = path.read_text().splitlines()
    i = lines[0].split(",").index(column)
    path.write_text("\n".join(",".join(c for j, c in enumerate(line.split(",")) if j != i)
                              for line in lines) + "\n")


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> dict[str, Path]:
    """A 3-person study processed as BIDS (belts) and as CSV (sub-002 without its belt)."""
    work = tmp_path_factory.mktemp("group_identical")
    raw = work / "raw"
    _soothe("simulate", "--participants", "3", "--seed", "5", "--fs", "250", "--out", str(raw),
            "--format", "bids", "csv", "--quiet", cwd=work)
    _soothe("physio", "process", str(raw), "--out", str(work / "bids"), "--no-progress",
            cwd=work)
    csv = raw / "sourcedata" / "formats" / "csv"
    no_belt = next(csv.glob("sub-002_*.csv"))
    assert "rsp" in no_belt.read_text().splitlines()[0].split(",")
    _drop_csv_column(no_belt, "rsp")
    _soothe("physio", "process", str(csv), "--out", str(work / "csv"), "--no-progress",
            cwd=work)
    return {"bids": work / "bids", "csv": work / "csv"}


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> Path:
    """The two shared real CSV exports (ECG, EDA, belt at 100 Hz) processed together."""
    shared = _shared_real()
    if shared is None:
        pytest.skip("../shared/data/real is absent (the shared real recordings)")
    work = tmp_path_factory.mktemp("group_identical_real")
    inputs = work / "in"
    inputs.mkdir()
    for name in ("bio_resting_8min_100hz.csv", "bio_eventrelated_100hz.csv"):
        (inputs / name).symlink_to(shared / name)
    _soothe("physio", "process", str(inputs), "--out", str(work / "deriv"),
            "--column-map", "ecg=ECG,eda=EDA,rsp=RSP", "--sampling-rate", "100",
            "--ecg-units", "mV", "--eda-units", "uS", "--rsp-units", "V", "--no-progress",
            cwd=work)
    return work / "deriv"


def _per_recording_text(deriv: Path, desc: str) -> pd.DataFrame:
    """Every per-recording table as text, concatenated in the group's row order."""
    paths = sorted(deriv.glob(f"sub-*/ses-*/beh/*_desc-{desc}_physio.tsv"))
    assert paths, f"no per-recording {desc} table in {deriv}"
    table = pd.concat([pd.read_csv(p, sep="\t", dtype=str, keep_default_na=False)
                       for p in paths], ignore_index=True)
    order = table.assign(_start=table["start_s"].astype(float)).sort_values(
        ["participant_id", "session", "_start"], kind="stable").index
    return table.loc[order].reset_index(drop=True)


def _value(text: str, dtype: str):
    """One TSV cell as the value it stands for (written by the per-recording writer)."""
    if text == "n/a":
        return pd.NA if dtype != "float64" else np.nan
    if dtype == "Int64":
        assert text.lstrip("-").isdigit(), f"integer column holds {text!r}"
        return int(text)
    if dtype == "boolean":
        assert text in ("true", "false"), f"boolean column holds {text!r}"
        return text == "true"
    return float(text) if dtype == "float64" else text


def _as_values(table: pd.DataFrame, dtypes: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([_value(v, d) for v in table[c]], dtype=d)
                         for c, d in dtypes.items()})


def _check_group(deriv: Path, desc: str, paths: tuple[Path, Path], schema, dtypes) -> None:
    tsv, parquet = paths
    expected = _per_recording_text(deriv, desc)
    assert list(expected.columns) == list(schema)
    # the TSV: the very text of the per-recording tables, column by column
    group_text = pd.read_csv(tsv, sep="\t", dtype=str, keep_default_na=False)
    assert list(group_text.columns) == list(schema)
    assert len(group_text) == len(expected)
    for col in schema:
        assert group_text[col].tolist() == expected[col].tolist(), f"{tsv.name}: {col}"
    # the Parquet twin: the same values, with nullable string/integer/boolean dtypes
    group = pd.read_parquet(parquet)
    assert list(group.columns) == list(schema)
    for col, dtype in dtypes.items():
        assert str(group[col].dtype) == dtype, f"{parquet.name}: {col} is {group[col].dtype}"
    pd.testing.assert_frame_equal(group, _as_values(expected, dtypes), check_exact=True)
    arrow = pq.read_schema(parquet)
    for col, dtype in dtypes.items():
        assert arrow.field(col).type in ARROW_TYPES[dtype], f"{parquet.name}: {col}"


def _check_both(deriv: Path) -> None:
    _check_group(deriv, "windows", group_windows_paths(deriv), WINDOWS_COLUMNS, WINDOWS_DTYPES)
    _check_group(deriv, "phases", group_phases_paths(deriv), PHASES_COLUMNS, PHASES_DTYPES)


def test_schema_dtypes_keep_what_the_issue_found_changed():
    assert {c: WINDOWS_DTYPES[c] for c in ISSUE_COLUMNS} == ISSUE_COLUMNS
    assert PHASES_DTYPES["n_beats"] == "Int64" and PHASES_DTYPES["resp_source"] == "string"
    assert list(WINDOWS_DTYPES) == list(WINDOWS_COLUMNS)
    assert list(PHASES_DTYPES) == list(PHASES_COLUMNS)


def test_group_tables_equal_per_recording_tables_simulated_belt(simulated):
    deriv = simulated["bids"]
    _check_both(deriv)
    group = pd.read_parquet(group_windows_paths(deriv)[1])
    assert set(group["resp_source"]) == {"belt"}
    assert group["window"].min() == 1 and not group["partial"].isna().any()


def test_group_tables_equal_per_recording_tables_simulated_without_belt(simulated):
    deriv = simulated["csv"]
    _check_both(deriv)
    group = pd.read_parquet(group_windows_paths(deriv)[1])
    sources = group.groupby("participant_id")["resp_source"].agg(lambda s: set(s.dropna()))
    assert sources["sub-002"] == {"ecg"}, sources.to_dict()
    assert sources["sub-001"] == {"belt"} == sources["sub-003"], sources.to_dict()
    phases = pd.read_parquet(group_phases_paths(deriv)[1])
    assert "ecg" in set(phases["resp_source"].dropna()) and "belt" in set(phases["resp_source"])


def test_group_tables_equal_per_recording_tables_real(real):
    _check_both(real)
    text = pd.read_csv(group_windows_paths(real)[0], sep="\t", dtype=str, keep_default_na=False)
    assert len(set(text["participant_id"])) == 2
    assert set(text["resp_source"]) <= {"belt", "ecg", "n/a"} and "belt" in set(text["resp_source"])


def _windows_result(participant: str, scr_count: list[float]):
    """A processing result with two windows; the second EDA window may be missing (NaN)."""
    from types import SimpleNamespace

    n = len(scr_count)
    row = {c: np.nan for c in WINDOWS_COLUMNS}
    row.update(participant_id=participant, session="01", condition="neutral", phase="baseline",
               partial=False, ecg_valid=True, ecg_reason="", hf_valid=False,
               hf_reason="window shorter than 120 s", resp_source="belt", eda_valid=True,
               eda_reason="", hr_bpm=0.1 + 0.2, n_beats=66)
    windows = pd.DataFrame([row] * n)
    windows["window"] = np.arange(1, n + 1)
    windows["start_s"] = 60.0 * np.arange(n)
    windows["end_s"] = windows["start_s"] + 60.0
    windows["scr_count"] = scr_count  # float64 when one is NaN, as eda_window gives it
    windows.loc[np.isnan(windows["scr_count"]), ["eda_valid", "eda_reason"]] = \
        [False, "signal loss 80% (flat)"]
    beats = pd.DataFrame({c: [np.nan] for c in BEATS_COLUMNS})
    beats = beats.assign(r_peak_s=0.5, corrected=False, beat_class="normal", reason="",
                         low_quality=False)
    return SimpleNamespace(windows=windows, beats=beats, phases=pd.DataFrame(), info={})


def test_integer_column_with_a_missing_value_is_written_as_integers(tmp_path):
    """A recording with one EDA window lost holds scr_count as floats in memory; it is
    written '7' and 'n/a' (not '7.0'), per recording and in the group table alike."""
    from physio.outputs import session_files, write_group_table, write_recording_outputs

    tables = []
    for participant, counts in (("sub-01", [7, np.nan]), ("sub-02", [3, 4])):
        files = session_files(tmp_path, participant.removeprefix("sub-"), "01", "induction")
        paths = write_recording_outputs(_windows_result(participant, counts), files, tmp_path,
                                        {})
        tables.append(paths["windows"])
    text = pd.read_csv(tables[0], sep="\t", dtype=str, keep_default_na=False)
    assert text["scr_count"].tolist() == ["7", "n/a"]
    assert text["partial"].tolist() == ["false", "false"]
    assert text["hr_bpm"].tolist() == [repr(0.1 + 0.2)] * 2
    write_group_table(tmp_path, tables)
    _check_group(tmp_path, "windows", group_windows_paths(tmp_path), WINDOWS_COLUMNS,
                 WINDOWS_DTYPES)
    group = pd.read_parquet(group_windows_paths(tmp_path)[1])
    assert group["scr_count"].tolist() == [7, pd.NA, 3, 4]
    assert group["session"].tolist() == ["01"] * 4 and group["hr_bpm"].iloc[0] == 0.1 + 0.2


def test_typed_table_gives_each_column_its_dtype():
    from physio.outputs import typed_table

    table = pd.DataFrame({"window": ["1", "2", None], "partial": ["TRUE", "false", np.nan],
                          "ecg_valid": [True, np.bool_(False), None],
                          "resp_source": ["belt", np.nan, "ecg"],
                          "hr_bpm": ["61.5", "n/a", 70], "extra": ["kept", "as", "is"]})
    out = typed_table(table, {"window": "Int64", "partial": "boolean", "ecg_valid": "boolean",
                              "resp_source": "string", "hr_bpm": "float64"})
    assert [str(d) for d in out.dtypes] == ["Int64", "boolean", "boolean", "string", "float64",
                                            "object"]
    assert out["window"].tolist() == [1, 2, pd.NA]
    assert out["partial"].tolist() == [True, False, pd.NA]
    assert out["ecg_valid"].tolist() == [True, False, pd.NA]
    assert out["resp_source"].tolist() == ["belt", pd.NA, "ecg"]
    assert out["hr_bpm"].iloc[0] == 61.5 and np.isnan(out["hr_bpm"].iloc[1])
    assert table["window"].tolist() == ["1", "2", None]  # the input is left as it was
    with pytest.raises(TypeError):
        typed_table(pd.DataFrame({"n_beats": [1.5]}), {"n_beats": "Int64"})
