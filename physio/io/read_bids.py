"""BIDS physio, the project's own contract (``conditions/bids.py``).

A session's ``_physio.tsv.gz`` (no header) is described by ``_physio.json``
(``SamplingFrequency``, ``StartTime``, ``Columns``, per-column ``Units``); its markers are
in the ``_events.tsv`` beside it (``onset``, ``value`` = code, ``trial_type`` = label).
Any of the three files may be given, or the folder holding them.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from conditions import bids
from conditions.errors import DatasetError
from physio.errors import ReaderError
from physio.io import assemble
from physio.io.assemble import NO_CODE, library_errors, make_markers
from physio.recording import Channel, Recording, empty_markers

_SUFFIXES = ("_physio.tsv.gz", "_physio.tsv", "_physio.json", "_events.tsv", "_events.json")
_ENTITY = re.compile(r"(?:^|_)(sub|ses|task|run|acq|recording)-([A-Za-z0-9]+)")


def session_prefix(path: Path) -> tuple[Path, str]:
    """(folder, ``sub-X_ses-Y_task-Z``) of any file of a BIDS physio recording."""
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob("*_physio.tsv.gz")) or sorted(path.glob("*/*_physio.tsv.gz"))
        if len(found) != 1:
            raise ReaderError(
                f"{path}: expected exactly one *_physio.tsv.gz in this folder, found "
                f"{len(found)}; give the file itself"
            )
        path = found[0]
    for suffix in _SUFFIXES:
        if path.name.endswith(suffix):
            return path.parent, path.name[: -len(suffix)]
    raise ReaderError(
        f"{path}: not a BIDS physio file; expected a name ending in one of {list(_SUFFIXES)}"
    )


def recording_paths(path: Path | str) -> tuple[Path, Path, Path, bids.SessionFiles | None]:
    """(data TSV, sidecar JSON, events TSV, SessionFiles) of a BIDS physio recording.

    Paths come from the data contract (:class:`conditions.bids.SessionFiles`, through
    :func:`conditions.bids.parse_session_files`) whenever the file sits where the contract
    puts it. A file outside that layout (a loose copy, a name with more entities such as
    ``run-``) is read with its neighbours of the same name prefix, and ``None`` is
    returned for the SessionFiles. An uncompressed ``_physio.tsv`` is used when the
    ``.tsv.gz`` is absent.

    Examples
    --------
    >>> tsv, js, ev, files = recording_paths(
    ...     Path("/d/sub-01/ses-1/beh/sub-01_ses-1_task-induction_physio.json"))
    >>> tsv.name, ev.name, files.root.as_posix()
    ('sub-01_ses-1_task-induction_physio.tsv.gz', 'sub-01_ses-1_task-induction_events.tsv', '/d')
    """
    folder, prefix = session_prefix(Path(path))
    files: bids.SessionFiles | None = None
    try:
        files = bids.parse_session_files(folder / f"{prefix}_physio.tsv.gz")
    except DatasetError:
        files = None
    if files is not None and (files.prefix != prefix or files.beh_dir != folder):
        files = None
    if files is not None:
        tsv, json_path, events = files.physio_tsv_gz, files.physio_json, files.events_tsv
    else:
        tsv = folder / f"{prefix}_physio.tsv.gz"
        json_path = folder / f"{prefix}_physio.json"
        events = folder / f"{prefix}_events.tsv"
    plain = tsv.with_name(tsv.name.removesuffix(".gz"))
    if not tsv.is_file() and plain.is_file():
        tsv = plain
    return tsv, json_path, events, files


def _dataset_root(folder: Path) -> Path | None:
    for parent in [folder, *folder.parents][:6]:
        if (parent / "participants.tsv").is_file() or (
            parent / "dataset_description.json"
        ).is_file():
            return parent
    return None


def _read_sidecar(json_path: Path) -> dict:
    if not json_path.is_file():
        raise ReaderError(
            f"{json_path}: physio sidecar not found; it is required for the sampling rate "
            "and the column names (SamplingFrequency, StartTime, Columns)"
        )
    try:
        meta = json.loads(json_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ReaderError(f"{json_path}: not valid JSON: {exc}") from None
    if not isinstance(meta, dict):
        raise ReaderError(f"{json_path}: expected a JSON object")
    for key in ("SamplingFrequency", "Columns"):
        if key not in meta:
            raise ReaderError(f"{json_path}: required key {key!r} is missing")
    fs = meta["SamplingFrequency"]
    if isinstance(fs, bool) or not isinstance(fs, (int, float)) or not np.isfinite(fs) or fs <= 0:
        raise ReaderError(f"{json_path}: SamplingFrequency must be a positive number, got {fs!r}")
    cols = meta["Columns"]
    if not isinstance(cols, list) or not cols or not all(isinstance(c, str) for c in cols):
        raise ReaderError(f"{json_path}: Columns must be a non-empty list of names, got {cols!r}")
    if len(set(cols)) != len(cols):
        raise ReaderError(f"{json_path}: Columns has duplicate names {cols}")
    start = meta.get("StartTime", 0.0)
    if isinstance(start, bool) or not isinstance(start, (int, float)) or not np.isfinite(start):
        raise ReaderError(f"{json_path}: StartTime must be a number of seconds, got {start!r}")
    return meta


#: Inflated text parsed at a time. The table is read piece by piece, so a long session's
#: text never sits in memory whole next to its parsed copy: the peak is the float64
#: result plus a few pieces.
_PIECE_BYTES = 4 << 20
#: pyarrow parse block: a piece splits into blocks parsed on all cores.
_BLOCK_BYTES = 1 << 20


def _text_pieces(tsv: Path, piece_bytes: int = _PIECE_BYTES) -> Iterator[bytes]:
    """The (inflated) text of a table in pieces of about ``piece_bytes`` whole lines.

    Inflating with zlib ahead of pyarrow is faster than pyarrow's own streaming
    decompression of the same file (bench/bench_readers.py). Concatenated gzip members
    are read as one stream, as gzip does; a stream cut short is an error, never a silently
    shorter recording. The inflater is ISA-L's (``isal``, the same DEFLATE output, faster)
    when installed, else zlib's.
    """
    inflate = _inflate_module()

    with library_errors(tsv, "reading"):
        fh = open(tsv, "rb")  # noqa: SIM115 - closed below
    with fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
        fh.seek(0)
        inflater = inflate.decompressobj(wbits=31) if gzipped else None
        mid_member = False
        carry = b""
        while True:
            with library_errors(tsv, "reading"):
                block = fh.read(piece_bytes // 4 if gzipped else piece_bytes)
            if not block:
                break
            if inflater is not None:
                parts = []
                with library_errors(tsv, "decompressing (gzip)"):
                    while block:
                        parts.append(inflater.decompress(block))
                        mid_member = not inflater.eof
                        if inflater.eof:  # another gzip member may follow
                            block = inflater.unused_data
                            inflater = inflate.decompressobj(wbits=31)
                            if block and block[:2] != b"\x1f\x8b":
                                raise ReaderError(f"{tsv}: data after the end of the gzip "
                                                  "stream is not gzip")
                        else:
                            block = b""
                text = carry + b"".join(parts) if carry else b"".join(parts)
            else:
                text = carry + block if carry else block
            cut = text.rfind(b"\n") + 1
            if cut:
                yield text[:cut] if cut < len(text) else text
                carry = text[cut:]
            else:
                carry = text
            del text
        if mid_member:
            raise ReaderError(f"{tsv}: the gzip stream is truncated (the file ends before the "
                              "compressed data does); the recording is incomplete")
    if carry.strip():
        yield carry


def _inflate_module():
    """``isal.isal_zlib`` (faster, same results) when installed, else the standard ``zlib``.

    Examples
    --------
    >>> import zlib
    >>> _inflate_module().decompress(zlib.compress(b"abc"))
    b'abc'
    """
    try:
        # lazy: isal is optional (no wheel on some platforms); looked up when a table is read
        from isal import isal_zlib

        return isal_zlib
    except ImportError:  # no wheel for this platform: zlib gives the same bytes
        return zlib


def _expected_text_bytes(tsv: Path) -> int:
    """Size of the text: the file's, or the gzip trailer's (ISIZE, the last member's)."""
    size = tsv.stat().st_size
    with open(tsv, "rb") as fh:
        if fh.read(2) != b"\x1f\x8b" or size < 18:
            return size
        fh.seek(-4, 2)
        return int.from_bytes(fh.read(4), "little")


def _count_fields(tsv: Path, text: bytes) -> int:
    end = text.find(b"\n")
    line = (text if end < 0 else text[:end]).decode("ascii", errors="replace")
    if not line.strip():
        raise ReaderError(f"{tsv}: no data (the first line is empty)")
    return len(line.rstrip("\r\n").split("\t"))


def read_physio_table(tsv: Path, columns: list[str]) -> np.ndarray:
    """The samples of a ``_physio.tsv.gz`` as a float64 array (rows × columns).

    Checks the column count against the sidecar first, so a mismatch is a clear error
    rather than a misaligned read. ``n/a`` becomes NaN. The array is column-major, so each
    channel (``data[:, i]``) is contiguous in memory.

    Examples
    --------
    >>> import gzip, tempfile
    >>> p = Path(tempfile.mkdtemp()) / "x_physio.tsv.gz"
    >>> text = "0.5 1|n/a 2|".replace(" ", chr(9)).replace("|", chr(10))
    >>> _ = p.write_bytes(gzip.compress(text.encode()))
    >>> read_physio_table(p, ["ecg", "eda"]).tolist()
    [[0.5, 1.0], [nan, 2.0]]
    """
    names = [f"c{i}" for i in range(len(columns))]
    data = np.empty((0, len(names)), dtype=np.float64, order="F")
    n_rows = 0
    for k, text in enumerate(_text_pieces(tsv, _PIECE_BYTES)):
        if k == 0:
            data = _allocate_rows(tsv, text, columns)
        table = _parse_piece(tsv, text, columns, n_rows)
        del text
        data = _append_rows(data, n_rows, table, names)
        n_rows += table.num_rows
        del table
    if n_rows == 0:
        raise ReaderError(f"{tsv}: no data (no rows)")
    # pyarrow's allocator keeps the parse buffers unless asked; a batch worker would carry
    # them into the next recording
    pa.default_memory_pool().release_unused()
    # a view: each column stays contiguous (column-major), the few spare rows are not copied
    return data[:n_rows]


def _allocate_rows(tsv: Path, text: bytes, columns: list[str]) -> np.ndarray:
    """The result array, sized from the first piece; checks its column count first.

    The rows expected come from the text size and the first piece's bytes per row, so the
    result is allocated once (2% spare; it grows if the estimate falls short).
    """
    n_fields = _count_fields(tsv, text)
    if n_fields != len(columns):
        raise ReaderError(
            f"{tsv}: has {n_fields} column(s) but the sidecar's Columns lists "
            f"{len(columns)} ({columns}); they must agree"
        )
    bytes_per_row = max(1.0, len(text) / max(1, text.count(b"\n")))
    expected = int(_expected_text_bytes(tsv) / bytes_per_row * 1.02) + 16
    return np.empty((expected, len(columns)), dtype=np.float64, order="F")


def _parse_piece(tsv: Path, text: bytes, columns: list[str], n_rows: int):
    """One piece of text as a pyarrow table of float64 columns ``c0``, ``c1``...

    The system allocator is used: freed parse buffers go back to the C heap at once
    (pyarrow's default allocator keeps more at the peak of a long read).
    """
    names = [f"c{i}" for i in range(len(columns))]
    parse_options = pacsv.ParseOptions(delimiter="\t")
    convert_options = pacsv.ConvertOptions(column_types={n: pa.float64() for n in names},
                                           null_values=["n/a"], strings_can_be_null=False)
    try:
        return pacsv.read_csv(
            pa.BufferReader(text),
            read_options=pacsv.ReadOptions(column_names=names, block_size=_BLOCK_BYTES,
                                           use_threads=assemble.PARSE_THREADS),
            parse_options=parse_options, convert_options=convert_options,
            memory_pool=pa.system_memory_pool())
    except Exception:  # noqa: BLE001 - parsed again on one thread, which reports it
        # pyarrow's multi-threaded reader has been seen to fail, rarely, on a valid file on
        # a heavily loaded machine ("a chunk failed converting for an unknown reason"); the
        # single-threaded parse of the same piece either succeeds or gives the real error
        with library_errors(tsv, f"parsing {len(columns)} tab-separated numeric "
                                 f"columns {columns} (rows after {n_rows})"):
            return pacsv.read_csv(
                pa.BufferReader(text),
                read_options=pacsv.ReadOptions(column_names=names, use_threads=False,
                                               block_size=_BLOCK_BYTES),
                parse_options=parse_options, convert_options=convert_options)


def _append_rows(data: np.ndarray, n_rows: int, table, names: list[str]) -> np.ndarray:
    """Copy a parsed piece below the ``n_rows`` rows already in ``data`` (grown if needed)."""
    if n_rows + table.num_rows > data.shape[0]:
        grown = np.empty((int(1.25 * (n_rows + table.num_rows)) + 16, len(names)),
                         np.float64, order="F")
        grown[:n_rows] = data[:n_rows]
        data = grown
    for i, name in enumerate(names):
        row = n_rows
        for chunk in table.column(name).chunks:
            data[row:row + len(chunk), i] = chunk.to_numpy(zero_copy_only=False)
            row += len(chunk)
    return data


def _events(events_path: Path, start_time: float, notes: list[str]) -> pd.DataFrame:
    if not events_path.is_file():
        return empty_markers()
    try:
        table = bids.read_tsv(events_path, {"onset": None})
    except DatasetError as exc:
        raise ReaderError(str(exc)) from None
    if len(table) == 0:
        return empty_markers()
    onsets = pd.to_numeric(table["onset"], errors="coerce")
    if onsets.isna().any():
        raise ReaderError(f"{events_path}: column 'onset' has non-numeric values")
    if "value" in table.columns:
        values = pd.to_numeric(table["value"], errors="coerce")
        codes = values.fillna(NO_CODE).round().astype(np.int64)
    else:
        codes = pd.Series(NO_CODE, index=table.index)
    labels = (
        table["trial_type"].astype(object).where(table["trial_type"].notna(), "")
        if "trial_type" in table.columns else pd.Series("", index=table.index)
    )
    if not onsets.is_monotonic_increasing:
        notes.append(f"{events_path.name}: events are not in time order; sorted by onset")
    dup = pd.DataFrame({"onset": onsets, "code": codes}).duplicated().sum()
    if dup:
        notes.append(f"{events_path.name}: {dup} duplicated event(s) (same onset and code) kept")
    return make_markers(onsets.to_numpy(float) - start_time, codes, labels.astype(str))


def read_bids(path: Path | str) -> Recording:
    """Read one BIDS physio recording with its events and participant information.

    ``meta`` gets ``participant_id`` (``sub-X``), ``session``, ``task``, and ``condition``
    from ``participants.tsv`` when the participant is listed there (None otherwise, with
    a note in ``meta['reader_notes']``).

    Examples
    --------
    >>> rec = read_bids("sub-001_ses-1_task-induction_physio.tsv.gz")  # doctest: +SKIP
    >>> rec.meta["participant_id"]  # doctest: +SKIP
    'sub-001'
    """
    path = Path(path)
    tsv, json_path, events_path, files = recording_paths(path)
    folder, prefix = tsv.parent, tsv.name.split("_physio.")[0]
    if not tsv.is_file():
        raise ReaderError(f"{tsv}: physio data file not found (given {path})")
    sidecar = _read_sidecar(json_path)
    columns = list(sidecar["Columns"])
    rate = float(sidecar["SamplingFrequency"])
    start = float(sidecar.get("StartTime", 0.0))
    data = read_physio_table(tsv, columns)
    if data.shape[0] == 0:
        raise ReaderError(f"{tsv}: no samples")
    channels = {}
    for i, name in enumerate(columns):
        entry = sidecar.get(name)
        units = str(entry.get("Units", "")) if isinstance(entry, dict) else ""
        channels[name] = Channel(name, data[:, i], rate, units)
    notes: list[str] = []
    entities = dict(_ENTITY.findall(prefix))
    if files is not None:  # the contract's own reading of the name
        entities.update(sub=files.subject, ses=files.session, task=files.task)
    meta: dict = {
        "reader_notes": notes,
        "participant_id": f"sub-{entities['sub']}" if "sub" in entities else None,
        "session": entities.get("ses"),
        "task": entities.get("task"),
        "condition": None,
        "bids_start_time_s": start,
        "sidecar": sidecar,
    }
    root = _dataset_root(files.root if files is not None else folder)
    if root is not None and meta["participant_id"]:
        try:
            participants = bids.read_participants(root)
        except DatasetError as exc:
            raise ReaderError(str(exc)) from None
        row = participants[participants["participant_id"] == meta["participant_id"]]
        if len(row) == 0:
            notes.append(f"{meta['participant_id']} is not listed in {root / 'participants.tsv'}")
        elif "condition" in row.columns:
            value = row["condition"].iloc[0]
            meta["condition"] = None if pd.isna(value) else str(value)
        meta["dataset_root"] = str(root)
    return Recording(
        channels=channels,
        source=tsv,
        format="bids",
        markers=_events(events_path, start, notes),
        meta=meta,
    )
