"""XDF (LabStreamingLayer recordings) via pyxdf, with clock synchronisation.

Signal streams (numeric, nominal rate > 0) keep their nominal rate: nothing is resampled.
Clock offsets are applied (``synchronize_clocks=True``) and time stamps de-jittered, so
each channel's ``start_s`` is its first sample on the common clock, relative to the
earliest first sample of all signal streams (the recording's first sample). A gap in a
stream (a dejitter segment break) is filled with NaN so later samples stay on their
nominal-rate grid. Marker streams (string, or irregular-rate numeric) become markers: a
leading integer is the code (``"21"``, ``"21 induction_onset"``), the text the label.

Before pyxdf parses the file, the chunk structure is walked once: a chunk length that
does not land on the next chunk, or clock offsets whose collection times go backwards,
are clear ReaderErrors rather than silent mis-reads.
"""

from __future__ import annotations

import contextlib
import logging
import struct
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from physio.errors import ReaderError
from physio.io.assemble import NO_CODE, code_from_text, library_errors, make_markers
from physio.io.channel_kinds import classify_channel
from physio.recording import Channel, Recording, empty_markers

_VALID_TAGS = {1, 2, 3, 4, 5, 6}
#: A stream gap longer than this many samples is refused rather than filled with NaN
#: (a corrupt time stamp would otherwise allocate gigabytes).
_MAX_GAP_FACTOR = 4


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.warnings: list[str] = []
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage().split("\n")[0]
        (self.errors if record.levelno >= logging.ERROR else self.warnings).append(msg)


@contextlib.contextmanager
def _pyxdf_log() -> Iterator[_Collect]:
    logger = logging.getLogger("pyxdf")
    handler = _Collect()
    old = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = old


def check_chunk_structure(path: Path) -> dict[str, object]:
    """Walk the chunks of an uncompressed XDF by their length fields.

    Returns ``{"truncated": bool, "chunks": int}``. A length field that overruns the file
    marks a truncated last chunk (an interrupted recording); one that lands on something
    that is not a chunk is a corrupt file.

    Raises
    ------
    ReaderError
        Bad magic bytes, an invalid length field or a chunk boundary that is not a chunk.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        if fh.read(4) != b"XDF:":
            raise ReaderError(f"{path}: not an XDF file (the first bytes are not 'XDF:')")
        pos, n = 4, 0
        while pos < size:
            fh.seek(pos)
            nbytes = fh.read(1)
            if not nbytes:
                break
            width = nbytes[0]
            if width not in (1, 4, 8):
                raise ReaderError(
                    f"{path}: chunk {n + 1} at byte {pos} has an invalid length-field width "
                    f"{width} (expected 1, 4 or 8); the previous chunk's length is wrong or "
                    "the file is corrupt"
                )
            raw = fh.read(width)
            if len(raw) < width:
                return {"truncated": True, "chunks": n}
            length = int.from_bytes(raw, "little")
            tag_raw = fh.read(2)
            if len(tag_raw) < 2:
                return {"truncated": True, "chunks": n}
            tag = struct.unpack("<H", tag_raw)[0]
            if tag not in _VALID_TAGS or length < 2:
                raise ReaderError(
                    f"{path}: chunk {n + 1} at byte {pos} has tag {tag} and length {length}; "
                    "expected a tag 1-6 (the previous chunk's length field lies, or the "
                    "file is corrupt)"
                )
            end = pos + 1 + width + length
            if end > size:
                return {"truncated": True, "chunks": n + 1, "at": pos, "length": length}
            pos, n = end, n + 1
    return {"truncated": False, "chunks": n}


def _text(info: dict, key: str, default: str = "") -> str:
    value = info.get(key)
    if isinstance(value, list):
        value = value[0] if value else default
    return default if value is None else str(value)


def _channel_descs(info: dict, n: int) -> list[tuple[str, str, str]]:
    """(label, unit, type) for each channel from the stream's <desc><channels>."""
    out: list[tuple[str, str, str]] = []
    try:
        desc = info.get("desc") or [None]
        chans = desc[0]["channels"][0]["channel"] if desc[0] else []
        for ch in chans:
            out.append((_text(ch, "label"), _text(ch, "unit") or _text(ch, "units"),
                        _text(ch, "type")))
    except (KeyError, IndexError, TypeError):
        out = []
    if len(out) != n:
        out = [("", "", "")] * n
    return out


def _fill_gaps(values: np.ndarray, stamps: np.ndarray, segments, rate: float, name: str,
               path: Path, notes: list[str]) -> np.ndarray:
    """Insert NaN between dejitter segments so every sample sits on the nominal grid."""
    if len(segments) <= 1:
        return values
    pieces = [values[segments[0][0]: segments[0][1] + 1]]
    inserted = 0
    for (_, prev_end), (start, end) in zip(segments[:-1], segments[1:]):
        gap = int(round((stamps[start] - stamps[prev_end]) * rate)) - 1
        if gap > _MAX_GAP_FACTOR * len(values) + 10 * rate:
            raise ReaderError(
                f"{path}: stream {name!r} has a gap of {gap} samples between time stamps "
                f"{stamps[prev_end]:.3f} and {stamps[start]:.3f} s; the time stamps are corrupt"
            )
        if gap > 0:
            pieces.append(np.full(gap, np.nan))
            inserted += gap
        pieces.append(values[start: end + 1])
    if inserted:
        notes.append(
            f"stream {name!r}: {len(segments) - 1} gap(s) filled with {inserted} NaN samples"
        )
    return np.concatenate(pieces)


def _is_marker_stream(info: dict, series) -> bool:
    fmt = _text(info, "channel_format").lower()
    rate = float(_text(info, "nominal_srate", "0") or 0)
    return fmt == "string" or rate == 0 or "marker" in _text(info, "type").lower()


def _markers(stream: dict, t0: float) -> pd.DataFrame:
    stamps = np.asarray(stream["time_stamps"], dtype=np.float64)
    series = stream["time_series"]
    if len(stamps) == 0:
        return empty_markers()
    if isinstance(series, list):
        labels = [str(row[0]) if len(row) else "" for row in series]
        codes = [code_from_text(t) for t in labels]
    else:
        arr = np.asarray(series, dtype=np.float64).reshape(len(stamps), -1)[:, 0]
        codes = [int(round(v)) if np.isfinite(v) else NO_CODE for v in arr]
        labels = [""] * len(codes)
    return make_markers(stamps - t0, codes, labels)


def read_xdf(path: Path | str) -> Recording:
    """Read an XDF file into a :class:`~physio.recording.Recording`.

    Channel names are the stream's channel labels (prefixed ``stream/`` when two streams
    share a label), units come from the channel descriptions. The steps:
    :func:`load_xdf_streams`, :func:`split_xdf_streams`, :func:`xdf_channels` and the
    marker streams' markers.

    Examples
    --------
    >>> rec = read_xdf("minimal.xdf")  # doctest: +SKIP
    >>> rec.channels["SendDataC/0"].sampling_rate  # doctest: +SKIP
    10.0
    """
    path = Path(path)
    streams, notes = load_xdf_streams(path)
    signal, marker = split_xdf_streams(path, streams, notes)
    t0 = min(float(s["time_stamps"][0]) for s in signal)
    channels = xdf_channels(path, signal, t0, notes)
    tables = [_markers(s, t0) for s in marker]
    tables = [t for t in tables if len(t)]
    markers = pd.concat(tables, ignore_index=True) if tables else empty_markers()
    return Recording(
        channels=channels,
        source=path,
        format="xdf",
        markers=make_markers(markers["onset_s"], markers["code"], markers["label"]),
        meta={
            "reader_notes": notes,
            "xdf_t0": t0,
            "streams": [
                {"name": _text(s["info"], "name"), "type": _text(s["info"], "type"),
                 "nominal_srate": _text(s["info"], "nominal_srate")} for s in streams
            ],
        },
    )


def load_xdf_streams(path: Path) -> tuple[list[dict], list[str]]:
    """(streams, reader notes): the file parsed by pyxdf, clocks synchronised.

    An uncompressed file's chunk structure is walked first (:func:`check_chunk_structure`):
    a truncated last chunk is accepted and noted, a corrupt one refused.

    Raises
    ------
    ReaderError
        A corrupt file, or a file without streams.
    """
    notes: list[str] = []
    structure = {"truncated": False}
    if path.suffix.lower() != ".xdfz" and not path.name.lower().endswith(".xdf.gz"):
        with library_errors(path, "checking the XDF chunk structure"):
            structure = check_chunk_structure(path)
    # lazy: pyxdf is needed for XDF files only (imported when one is read)
    import pyxdf

    with (
        _pyxdf_log() as log,
        warnings.catch_warnings(record=True) as caught,
        library_errors(path, "reading as XDF with pyxdf"),
    ):
        warnings.simplefilter("always")
        streams, _header = pyxdf.load_xdf(
            str(path), synchronize_clocks=True, dejitter_timestamps=True
        )
    if log.errors:
        if not structure["truncated"]:
            raise ReaderError(
                f"{path}: the XDF file is corrupt (pyxdf: {'; '.join(log.errors[:2])}); "
                "expected intact chunks"
            )
        notes.append(f"file ends inside a chunk (interrupted recording?): {log.errors[0]}")
    elif structure["truncated"]:
        notes.append(
            f"chunk {structure['chunks']} at byte {structure.get('at')} declares a length "
            f"({structure.get('length')}) past the end of the file (an interrupted recording "
            "or a wrong length field); pyxdf decoded every sample chunk by its structure"
        )
    notes += [f"pyxdf: {w}" for w in dict.fromkeys(log.warnings)]
    notes += [f"warning while reading: {w.message}" for w in caught[:5]]
    if not streams:
        raise ReaderError(f"{path}: the XDF file has no streams")
    return streams, notes


def split_xdf_streams(path: Path, streams: list[dict],
                      notes: list[str]) -> tuple[list[dict], list[dict]]:
    """(signal streams, marker streams); empty streams are noted and left out.

    Raises
    ------
    ReaderError
        Clock offsets out of order, or no signal stream at all.
    """
    signal, marker = [], []
    for s in streams:
        info = s["info"]
        times = np.asarray(s.get("clock_times") or [], dtype=np.float64)
        if times.size > 1 and (np.diff(times) < 0).any():
            raise ReaderError(
                f"{path}: stream {_text(info, 'name')!r}: clock offsets are out of order "
                f"(collection time goes back from {times[:-1][np.diff(times) < 0][0]:.3f} s); "
                "expected increasing collection times, so clocks cannot be synchronised"
            )
        if len(s["time_stamps"]) == 0:
            notes.append(f"stream {_text(info, 'name')!r} has no samples")
            continue
        (marker if _is_marker_stream(info, s["time_series"]) else signal).append(s)
    if not signal:
        raise ReaderError(
            f"{path}: no signal stream (numeric, regular rate) among "
            f"{[_text(s['info'], 'name') for s in streams]}; expected ECG/EDA streams"
        )
    return signal, marker


def xdf_channels(path: Path, signal: list[dict], t0: float,
                 notes: list[str]) -> dict[str, Channel]:
    """The channels of the signal streams, each at its stream's nominal rate.

    ``start_s`` is relative to ``t0`` (the earliest first sample); gaps are filled with
    NaN (:func:`_fill_gaps`).
    """
    channels: dict[str, Channel] = {}
    all_labels: list[str] = []
    prepared = []
    for s in signal:
        info = s["info"]
        name = _text(info, "name", f"stream{info.get('stream_id')}")
        values = np.asarray(s["time_series"], dtype=np.float64)
        values = values.reshape(len(s["time_stamps"]), -1)
        descs = _channel_descs(info, values.shape[1])
        prepared.append((s, name, values, descs))
        all_labels += [d[0] for d in descs if d[0]]
    for s, name, values, descs in prepared:
        info = s["info"]
        rate = float(_text(info, "nominal_srate"))
        eff = float(info.get("effective_srate") or 0)
        if eff and abs(eff - rate) > 0.01 * rate:
            notes.append(
                f"stream {name!r}: effective rate {eff:.4g} Hz differs from nominal {rate:g} Hz"
            )
        stamps = np.asarray(s["time_stamps"], dtype=np.float64)
        stype = _text(info, "type")
        for i, (label, unit, ctype) in enumerate(descs):
            cname = _channel_name(name, label, unit, ctype or stype, i, values.shape[1],
                                  all_labels, channels)
            data = _fill_gaps(values[:, i], stamps, info.get("segments") or [], rate, cname,
                              path, notes)
            channels[cname] = Channel(cname, data, rate, unit, start_s=float(stamps[0]) - t0)
    return channels


def _channel_name(stream: str, label: str, unit: str, kind_text: str, i: int, n: int,
                  all_labels: list[str], channels: dict[str, Channel]) -> str:
    """A channel's name: its label (``stream/label`` when not unique), else the stream's."""
    if label:
        if all_labels.count(label) > 1 or label in channels:
            return f"{stream}/{label}"
        return label
    # unlabelled: a one-channel stream is named after the stream, with its type (ECG, EDA,
    # GSR...) so the kind can be recognised
    cname = stream if n == 1 else f"{stream}/{i}"
    if kind_text and classify_channel(cname, unit) == "other":
        cname = f"{cname} ({kind_text})"
    return cname
