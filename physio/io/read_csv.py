"""Plain CSV/TSV exports (optionally gzipped): one column per signal, one row per sample.

The columns are found from a mapping the user gives (``column_map={"ecg": "col",
"eda": "col", "time": "col", "marker": "col"}``) or from the header names. The sampling
rate is given, or inferred from a time column, which must then be regular. Units are
taken from the header when it carries them (``ECG (mV)``, ``eda [uS]``, ``ecg_mv``).
"""

from __future__ import annotations

import gzip
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from physio.errors import ChannelError, ReaderError
from physio.io import assemble
from physio.io.assemble import NO_CODE, code_from_text, library_errors, make_markers
from physio.io.markers_digital import code_to_markers
from physio.recording import Channel, Recording, empty_markers

COLUMN_MAP_KEYS = ("ecg", "eda", "rsp", "time", "marker")

_TIME_NAME = re.compile(
    r"^(time|t|times|timestamp|timestamps|seconds|secs?|elapsed|time_?s|time_?ms|"
    r"time ?\((s|ms|sec)\)|time ?\[(s|ms|sec)\]|sample_?time|clock)$",
    re.IGNORECASE,
)
_MARKER_NAME = re.compile(
    r"^(markers?|triggers?|events?|stim|stimulus|codes?|ttl|digital|event_?code|"
    r"marker_?code|trigger_?code)$",
    re.IGNORECASE,
)
_UNITS_IN_BRACKETS = re.compile(r"[\(\[]\s*([^\)\]]+?)\s*[\)\]]\s*$")
_UNITS_SUFFIX = re.compile(r"_(mv|uv|v|us|kohm|ohm|ms|s)$", re.IGNORECASE)
_UNIT_SPELLING = {"mv": "mV", "uv": "uV", "v": "V", "us": "uS", "kohm": "kOhm", "ohm": "Ohm",
                  "ms": "ms", "s": "s"}


def units_from_header(name: str) -> str:
    """Units written in a column header, or ``''``.

    Examples
    --------
    >>> units_from_header("ECG (mV)"), units_from_header("eda_us"), units_from_header("ecg")
    ('mV', 'uS', '')
    """
    m = _UNITS_IN_BRACKETS.search(name)
    if m:
        return m.group(1)
    m = _UNITS_SUFFIX.search(name)
    return _UNIT_SPELLING[m.group(1).lower()] if m else ""


def _open_text_head(path: Path, n: int = 65536) -> str:
    with open(path, "rb") as fh:
        head = fh.read(2)
    opener = gzip.open if head == b"\x1f\x8b" else open
    with library_errors(path, "reading the first lines"), opener(path, "rb") as fh:
        raw = fh.read(n)
    return raw.decode("utf-8", errors="replace")


def _separator(path: Path, first_line: str) -> str:
    if "\t" in first_line or path.name.lower().endswith((".tsv", ".tsv.gz", ".tab")):
        return "\t"
    if ";" in first_line and "," not in first_line:
        return ";"
    return ","


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def infer_sampling_rate(times: np.ndarray, path: Path | str, column: str) -> float:
    """Sampling rate from a time column, after checking the samples are regular.

    Regular means strictly increasing and never more than half a sample period away from
    the straight line through the first and last time stamp (a gap or jitter of half a
    sample or more is an error, not something to resample silently).

    Examples
    --------
    >>> infer_sampling_rate(np.arange(1000) / 250.0, "x.csv", "time")
    250.0
    """
    t = np.asarray(times, dtype=np.float64)
    if t.size < 2 or not np.isfinite(t).all():
        raise ReaderError(
            f"{path}: time column {column!r} needs at least 2 finite values to infer the "
            "sampling rate"
        )
    dt = np.diff(t)
    if not (dt > 0).all():
        first = int(np.flatnonzero(dt <= 0)[0])
        raise ReaderError(
            f"{path}: time column {column!r} is not strictly increasing (row {first + 2}: "
            f"{float(t[first])!r} -> {float(t[first + 1])!r}); expected one row per sample "
            "in time order "
            "(repeated stamps usually mean the times were exported with too few digits; "
            "give sampling_rate= instead)"
        )
    period = (t[-1] - t[0]) / (t.size - 1)
    resid = t - (t[0] + period * np.arange(t.size))
    worst = float(np.max(np.abs(resid)))
    if worst > 0.5 * period:
        raise ReaderError(
            f"{path}: time column {column!r} is irregular (a sample is {worst:.4g} s off "
            f"the regular {1 / period:.6g} Hz grid, more than half a sample); give "
            "sampling_rate= explicitly or fix the export"
        )
    rate = 1.0 / period
    # Snap to a round rate when the stamps were printed with limited precision.
    snapped = round(rate)
    return float(snapped) if abs(rate - snapped) <= 1e-3 * rate else float(rate)


def read_csv(
    path: Path | str,
    *,
    column_map: dict[str, str] | None = None,
    sampling_rate: float | None = None,
) -> Recording:
    """Read a CSV/TSV export.

    Parameters
    ----------
    path : path to ``.csv``/``.tsv``/``.txt`` (optionally ``.gz``)
    column_map : dict, optional
        Keys among ``ecg``, ``eda``, ``rsp``, ``time``, ``marker``; values are header names.
    sampling_rate : float, optional
        In Hz. Without it, a time column is required.

    Raises
    ------
    ReaderError
        Unreadable file, no time column and no rate, an irregular time column.
    ChannelError
        A mapped column that does not exist (the message lists the columns).

    See Also
    --------
    read_table, find_columns, csv_sampling_rate, csv_channels : its steps.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "rec.csv")
    >>> _ = open(p, "w").write("time,ECG,EDA\\n0,0.1,5\\n0.002,0.2,5\\n0.004,0.1,5\\n")
    >>> rec = read_csv(p)
    >>> rec.channels["ECG"].sampling_rate
    500.0
    """
    path = Path(path)
    column_map = dict(column_map or {})
    unknown = sorted(set(column_map) - set(COLUMN_MAP_KEYS))
    if unknown:
        raise ReaderError(
            f"{path}: column_map has unknown key(s) {unknown}; expected some of "
            f"{list(COLUMN_MAP_KEYS)}"
        )
    table = read_table(path)
    columns = list(table.columns)
    time_col, marker_col = find_columns(path, columns, column_map)
    notes: list[str] = []
    meta: dict = {"reader_notes": notes}
    rate = csv_sampling_rate(path, table, time_col, sampling_rate, meta)
    channels = csv_channels(table, [c for c in columns if c not in (time_col, marker_col)],
                            rate, notes)
    markers = empty_markers()
    if marker_col is not None:
        markers = _markers_from_column(table[marker_col], rate, path, marker_col)
    for key in ("ecg", "eda", "rsp"):
        col = column_map.get(key)
        if col is not None and col in (time_col, marker_col):
            raise ChannelError(f"{path}: column {col!r} cannot be both {key} and time/marker")
    rec = Recording(channels=channels, source=path, format="csv", markers=markers, meta=meta)
    rec.meta["column_map"] = {k: v for k, v in (("time", time_col), ("marker", marker_col)) if v}
    return rec


def read_table(path: Path) -> pd.DataFrame:
    """The table of a CSV/TSV export, with or without a header row.

    The separator (tab, semicolon or comma) comes from the first line and the name;
    a first line of numbers only means no header (columns ``column1``, ``column2``...).

    Raises
    ------
    ReaderError
        An empty file, a header without data rows, or a table that cannot be parsed.
    """
    head = _open_text_head(path)
    lines = [ln for ln in head.splitlines() if ln.strip()]
    if not lines:
        raise ReaderError(f"{path}: the file has no lines; expected a CSV/TSV table")
    sep = _separator(path, lines[0])
    tokens = [t.strip().strip('"') for t in lines[0].split(sep)]
    has_header = not all(_is_number(t) for t in tokens if t)
    table = _parse_table(path, sep, has_header)
    if not has_header:
        table.columns = [f"column{i + 1}" for i in range(table.shape[1])]
    table.columns = [str(c).strip() for c in table.columns]
    if table.shape[0] == 0:
        raise ReaderError(f"{path}: the table has a header but no data rows")
    return table


def find_columns(path: Path, columns: list[str],
                 column_map: dict[str, str]) -> tuple[str | None, str | None]:
    """(time column, marker column): mapped by the user, else found by header name.

    Raises
    ------
    ChannelError
        A mapped column that does not exist (the message lists the columns).

    Examples
    --------
    >>> find_columns(Path("x.csv"), ["Time (s)", "ECG", "trigger"], {})
    ('Time (s)', 'trigger')
    """
    for key, col in column_map.items():
        if col not in columns:
            raise ChannelError(
                f"{path}: column_map[{key!r}] = {col!r} is not a column; columns are "
                f"{columns}"
            )

    def _find(key: str, pattern: re.Pattern[str]) -> str | None:
        if key in column_map:
            return column_map[key]
        hits = [c for c in columns if pattern.match(c)]
        return hits[0] if hits else None

    return _find("time", _TIME_NAME), _find("marker", _MARKER_NAME)


def csv_sampling_rate(path: Path, table: pd.DataFrame, time_col: str | None,
                      sampling_rate: float | None, meta: dict) -> float:
    """The sampling rate: from the time column when there is one (its first time stamp
    goes to ``meta['time_offset_s']``), else the given one.

    A given rate must agree with the file's own time column (within 0.5 %): the time
    stamps say when the samples were taken, and a rate that contradicts them would
    stretch or squeeze the whole recording without a word.

    Raises
    ------
    ReaderError
        A rate that is not positive, a given rate the time column contradicts, an
        irregular time column, or neither rate nor time.
    """
    if sampling_rate is not None and not (np.isfinite(sampling_rate) and sampling_rate > 0):
        raise ReaderError(f"{path}: sampling_rate={sampling_rate!r}; expected a positive Hz")
    if time_col is None and sampling_rate is not None:
        return float(sampling_rate)
    if time_col is None:
        raise ReaderError(
            f"{path}: no time column and no sampling rate: cannot tell when samples were "
            f"taken. Give sampling_rate=HZ, or map a time column (column_map={{'time': "
            f"'COLUMN'}}); columns are {list(table.columns)}"
        )
    times = pd.to_numeric(table[time_col], errors="coerce").to_numpy(dtype=np.float64)
    if "ms" in time_col.lower() or units_from_header(time_col) == "ms":
        times = times / 1000.0
    rate = infer_sampling_rate(times, path, time_col)
    if sampling_rate is not None and abs(rate - sampling_rate) > 0.005 * rate:
        raise ReaderError(
            f"{path}: sampling_rate={sampling_rate:g} Hz contradicts the time column "
            f"{time_col!r}, whose stamps are {rate:g} Hz apart; leave the rate out (the time "
            "column decides) or map another time column"
        )
    meta["time_offset_s"] = float(times[0])
    return rate


def csv_channels(table: pd.DataFrame, columns: list[str], rate: float,
                 notes: list[str]) -> dict[str, Channel]:
    """One channel per numeric column (units from the header); others are noted."""
    channels: dict[str, Channel] = {}
    for col in columns:
        values = pd.to_numeric(table[col], errors="coerce").to_numpy(dtype=np.float64)
        if table[col].notna().sum() and not np.isfinite(values).any():
            notes.append(f"column {col!r} is not numeric and was skipped")
            continue
        channels[col] = Channel(col, values, rate, units_from_header(col))
    return channels


_NA_VALUES = ["n/a", "NA", "NaN", "nan", ""]


def _parse_table(path: Path, sep: str, has_header: bool) -> pd.DataFrame:
    """The table, parsed by pyarrow when it can, else by pandas (same values, clear errors).

    pyarrow's multi-threaded parser on the inflated text is faster than pandas' C engine
    (bench/bench_readers.py). A table pyarrow refuses
    (ragged rows, a column whose type changes after the first block, odd quoting) is read
    by pandas exactly as before, so every malformed file gets the same error it always did.
    """
    with library_errors(path, "reading"):
        raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        with library_errors(path, "decompressing (gzip)"):
            raw = gzip.decompress(raw)
    table = _parse_with_pyarrow(raw, sep, has_header)
    if table is not None:
        return table
    with library_errors(path, "parsing as CSV/TSV"):
        return pd.read_csv(
            io.BytesIO(raw), sep=sep, header=0 if has_header else None, engine="c",
            na_values=_NA_VALUES, keep_default_na=False, skipinitialspace=True,
            low_memory=False,
        )


def _parse_with_pyarrow(text: bytes, sep: str, has_header: bool) -> pd.DataFrame | None:
    try:
        table = pacsv.read_csv(
            pa.BufferReader(text),
            read_options=pacsv.ReadOptions(autogenerate_column_names=not has_header,
                                           block_size=1 << 20,
                                           use_threads=assemble.PARSE_THREADS),
            parse_options=pacsv.ParseOptions(delimiter=sep, ignore_empty_lines=True),
            convert_options=pacsv.ConvertOptions(null_values=_NA_VALUES,
                                                 strings_can_be_null=True),
        )
    except Exception:  # noqa: BLE001 - pandas reads it, or reports the problem clearly
        return None
    names = [str(n).strip() for n in table.column_names]
    if len(set(names)) != len(names) or any(
        pa.types.is_string(c.type) or pa.types.is_large_string(c.type) for c in table.columns
    ):
        # duplicate headers (pandas renames them) or text cells (pandas strips the
        # spaces around them): let pandas do it, as it always has
        return None
    out = {}
    for name, column in zip(names, table.columns):
        if pa.types.is_null(column.type):
            out[name] = np.full(len(column), np.nan)
        elif pa.types.is_integer(column.type) and column.null_count == 0:
            out[name] = column.to_numpy()  # int64, as pandas gives it
        elif pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
            out[name] = column.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        else:  # booleans, dates, times: not signals; pandas decides as before
            return None
    del table
    pa.default_memory_pool().release_unused()
    return pd.DataFrame(out, copy=False)


def _markers_from_column(column: pd.Series, rate: float, path: Path, name: str):
    numeric = pd.to_numeric(column, errors="coerce")
    if numeric.notna().sum() == column.notna().sum():
        return code_to_markers(numeric.fillna(0).to_numpy(), rate)
    # Text markers: an event wherever a non-empty value differs from the row above.
    text = column.astype(object).where(column.notna(), "").astype(str).str.strip()
    prev = text.shift(1, fill_value="")
    rows = np.flatnonzero((text != prev).to_numpy() & (text != "").to_numpy())
    labels = text.iloc[rows].tolist()
    return make_markers(rows / rate, [code_from_text(t) for t in labels], labels)


__all__ = ["COLUMN_MAP_KEYS", "NO_CODE", "infer_sampling_rate", "read_csv", "units_from_header"]
