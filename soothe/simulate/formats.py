"""Write a simulated session's physiology in the lab formats the readers must handle.

- **EDF** (EDF+C through ``edfio``): channels ``ECG`` (mV), ``EDA`` (uS) and ``Resp``
  (respiration belt, V), markers as annotations whose text is the marker code (``"20"``)
  — the form most lab amplifiers export.
- **CSV**: ``time_s, ecg_mV, eda_uS, rsp, trigger`` with the marker code on the sample
  nearest each marker and 0 elsewhere (a digital-input/trigger channel export); ``rsp`` is
  the belt in V.
- **XDF**: written by hand following the XDF 1.0 specification
  (https://github.com/sccn/xdf/wiki/Specifications): magic ``XDF:``, a FileHeader chunk,
  one StreamHeader per stream, Samples chunks, ClockOffset chunks, a Boundary chunk and
  StreamFooters. Stream 1 ``SimPhysio`` (type ``ExG``, 3 float32 channels ``ECG`` (mV),
  ``EDA`` (uS) and ``RESP`` (V) at the nominal rate), stream 2 ``SootheMarkers`` (type
  ``Markers``, string channel, the integer codes as strings, irregular rate). The physiology
  stream's device clock runs
  ``XDF_DEVICE_CLOCK_OFFSET_S`` behind the recorder; its ClockOffset chunks carry that
  offset, so only a reader that applies clock synchronisation lines the two streams up.

Layout: ``<root>/sourcedata/formats/<fmt>/sub-<id>_ses-<n>_task-<task>_physio.<ext>``.
All times: session clock (zero = first physiology sample); XDF timestamps are on the LSL
clock, ``XDF_LSL_ZERO_S`` + session time.
"""

from __future__ import annotations

import datetime
import io
import struct
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from conditions import bids
from conditions.protocol import Protocol
from soothe.simulate.simulated_session import LSL_ZERO_S, SimulatedSession

#: LSL clock reading at the first physiology sample (the events table's ``lsl_time`` zero).
XDF_LSL_ZERO_S = LSL_ZERO_S
XDF_DEVICE_CLOCK_OFFSET_S = 0.250
XDF_CHUNK_SAMPLES = 10_000
FORMAT_EXT = {"edf": ".edf", "csv": ".csv", "xdf": ".xdf"}


def format_path(root: Path, protocol: Protocol, participant_id: str, fmt: str) -> Path:
    """Where format ``fmt`` of a participant's physiology is written.

    Examples
    --------
    >>> from conditions.protocol import load_protocol
    >>> format_path(Path("/x"), load_protocol(), "001", "xdf").as_posix()
    '/x/sourcedata/formats/xdf/sub-001_ses-1_task-induction_physio.xdf'
    """
    files = bids.SessionFiles(Path(root), participant_id, "1", protocol.task)
    return Path(root) / "sourcedata" / "formats" / fmt / f"{files.prefix}_physio{FORMAT_EXT[fmt]}"


def write_format(fmt: str, root: Path, protocol: Protocol, session: SimulatedSession) -> Path:
    """Write ``session`` in format ``fmt`` ('edf', 'csv' or 'xdf'); return the path."""
    path = format_path(root, protocol, session.participant_id, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    markers = [(float(o), int(c)) for o, c in session.timeline.events]
    writer = {"edf": write_edf, "csv": write_csv, "xdf": write_xdf}[fmt]
    resp = session.resp_v if len(session.resp_v) == len(session.ecg_mv) else None
    writer(path, session.ecg_mv, session.eda_us, session.fs, markers, resp=resp)
    return path


def write_edf(
    path: Path,
    ecg: np.ndarray,
    eda: np.ndarray,
    fs: float,
    markers: list[tuple[float, int]],
    *,
    resp: np.ndarray | None = None,
) -> None:
    """EDF+ with ECG (mV), EDA (uS), optionally Resp (V), one annotation per marker."""
    # lazy: edfio is needed only for EDF export; the other formats do without it
    from edfio import Edf, EdfAnnotation, EdfSignal

    n_per_record = int(round(fs))
    if abs(n_per_record - fs) > 1e-9:
        raise ValueError(f"EDF export needs an integer sampling rate, got {fs}")
    n = int(np.ceil(len(ecg) / n_per_record) * n_per_record)

    def padded(x: np.ndarray) -> np.ndarray:
        return np.concatenate([x, np.full(n - len(x), x[-1])])

    def signal(x: np.ndarray, label: str, unit: str) -> EdfSignal:
        lo, hi = float(np.min(x)), float(np.max(x))
        margin = 0.05 * (hi - lo) + 1e-3
        return EdfSignal(
            padded(x),
            fs,
            label=label,
            physical_dimension=unit,
            physical_range=(lo - margin, hi + margin),
        )

    signals = [signal(ecg, "ECG", "mV"), signal(eda, "EDA", "uS")]
    if resp is not None:
        signals.append(signal(resp, "Resp", "V"))
    edf = Edf(
        signals,
        starttime=datetime.time(9, 0, 0),
        annotations=[EdfAnnotation(onset, None, str(code)) for onset, code in markers],
    )
    edf.write(path)


def write_csv(
    path: Path,
    ecg: np.ndarray,
    eda: np.ndarray,
    fs: float,
    markers: list[tuple[float, int]],
    *,
    resp: np.ndarray | None = None,
) -> None:
    """CSV with a time column, the signals (``rsp`` in V when given) and a trigger column."""
    n = len(ecg)
    trigger = np.zeros(n, dtype=np.int64)
    for onset, code in markers:
        i = int(round(onset * fs))
        while 0 <= i < n and trigger[i] != 0:  # two markers on one sample: next sample
            i += 1
        if 0 <= i < n:
            trigger[i] = code
    t = np.arange(n) / fs
    buf = io.StringIO()
    cols, names, fmts = [t, ecg, eda], ["time_s", "ecg_mV", "eda_uS"], ["%.4f", "%.5f", "%.5f"]
    if resp is not None:
        cols, names, fmts = cols + [resp], names + ["rsp"], fmts + ["%.5f"]
    buf.write(",".join(names + ["trigger"]) + "\n")
    np.savetxt(buf, np.column_stack(cols + [trigger]), fmt=fmts + ["%d"], delimiter=",")
    bids.atomic_write_text(path, buf.getvalue())


# --------------------------------------------------------------------------------------
# XDF
# --------------------------------------------------------------------------------------


def _varlen(n: int) -> bytes:
    """XDF variable-length integer: 1 byte giving the width (1, 4 or 8), then the value."""
    if n < 256:
        return struct.pack("<BB", 1, n)
    if n < 2**32:
        return struct.pack("<BI", 4, n)
    return struct.pack("<BQ", 8, n)


def _chunk(tag: int, content: bytes) -> bytes:
    return _varlen(len(content) + 2) + struct.pack("<H", tag) + content


def _stream_header_xml(
    name: str, type_: str, n_channels: int, srate: float, fmt: str, channels: list[tuple]
) -> str:
    chans = "".join(
        f"<channel><label>{escape(lab)}</label><unit>{escape(unit)}</unit>"
        f"<type>{escape(typ)}</type></channel>"
        for lab, unit, typ in channels
    )
    return (
        '<?xml version="1.0"?><info>'
        f"<name>{escape(name)}</name><type>{escape(type_)}</type>"
        f"<channel_count>{n_channels}</channel_count><nominal_srate>{srate:g}</nominal_srate>"
        f"<channel_format>{fmt}</channel_format><source_id>soothe-sim-{escape(name)}</source_id>"
        "<version>1.1</version><created_at>0</created_at>"
        f"<uid>soothe-sim-{escape(name)}</uid><session_id>default</session_id>"
        "<hostname>simulator</hostname>"
        f"<desc><channels>{chans}</channels><manufacturer>soothe simulator</manufacturer></desc>"
        "</info>"
    )


def _footer_xml(first: float, last: float, count: int, offsets: list[tuple[float, float]]) -> str:
    offs = "".join(f"<offset><time>{t!r}</time><value>{v!r}</value></offset>" for t, v in offsets)
    return (
        '<?xml version="1.0"?><info>'
        f"<first_timestamp>{first!r}</first_timestamp><last_timestamp>{last!r}</last_timestamp>"
        f"<sample_count>{count}</sample_count><clock_offsets>{offs}</clock_offsets></info>"
    )


#: XDF chunk tags (XDF 1.0 specification).
XDF_FILE_HEADER, XDF_STREAM_HEADER, XDF_SAMPLES, XDF_CLOCK_OFFSET = 1, 2, 3, 4
XDF_BOUNDARY, XDF_STREAM_FOOTER = 5, 6
#: The fixed 16-byte UUID of a Boundary chunk, from the specification.
XDF_BOUNDARY_UUID = bytes.fromhex("4370f5b5ddbe41e4b1c4bb6d5ab84a2d")
#: A clock offset is measured this often (s), as LSL does.
XDF_CLOCK_OFFSET_EVERY_S = 5.0
XDF_PHYSIO_STREAM, XDF_MARKER_STREAM = 1, 2


def write_xdf(
    path: Path,
    ecg: np.ndarray,
    eda: np.ndarray,
    fs: float,
    markers: list[tuple[float, int]],
    *,
    resp: np.ndarray | None = None,
) -> None:
    """Write an XDF 1.0 file with a physiology stream (ECG, EDA[, RESP]) and markers."""
    chans = [("ECG", "mV", "ECG"), ("EDA", "uS", "EDA")]
    columns = [ecg, eda]
    if resp is not None:
        chans.append(("RESP", "V", "RESP"))
        columns.append(resp)
    out = io.BytesIO()
    out.write(b"XDF:")
    out.write(_xdf_headers(chans, fs))
    data = np.column_stack(columns).astype("<f4")
    body, phys_offsets, mark_offsets = _xdf_samples(data, fs, markers)
    out.write(body)
    out.write(_chunk(XDF_BOUNDARY, XDF_BOUNDARY_UUID))
    out.write(_xdf_footers(len(ecg), fs, markers, phys_offsets, mark_offsets))
    bids.atomic_write_bytes(path, out.getvalue())


def _xdf_headers(chans: list[tuple[str, str, str]], fs: float) -> bytes:
    """The FileHeader chunk and one StreamHeader chunk per stream."""
    phys_xml = _stream_header_xml("SimPhysio", "ExG", len(chans), fs, "float32", chans)
    mark_xml = _stream_header_xml(
        "SootheMarkers", "Markers", 1, 0.0, "string", [("code", "", "Markers")]
    )
    return (
        _chunk(XDF_FILE_HEADER, b'<?xml version="1.0"?><info><version>1.0</version></info>')
        + _chunk(XDF_STREAM_HEADER, struct.pack("<I", XDF_PHYSIO_STREAM) + phys_xml.encode())
        + _chunk(XDF_STREAM_HEADER, struct.pack("<I", XDF_MARKER_STREAM) + mark_xml.encode())
    )


def _physio_samples_chunk(data: np.ndarray, start: int, stop: int, t0: float) -> bytes:
    """One Samples chunk of the physiology stream: rows ``start:stop`` of ``data``.

    The first sample carries its timestamp ``t0`` (device clock); the rest are deduced
    from the nominal rate.
    """
    count = stop - start
    sample_dtype = np.dtype([("flag", "u1"), ("values", "<f4", (data.shape[1],))])
    body = io.BytesIO()
    body.write(struct.pack("<I", XDF_PHYSIO_STREAM))
    body.write(_varlen(count))
    body.write(struct.pack("<Bd", 8, t0))
    body.write(data[start].tobytes())
    if count > 1:
        rest = np.zeros(count - 1, dtype=sample_dtype)
        rest["values"] = data[start + 1 : stop]
        body.write(rest.tobytes())
    return _chunk(XDF_SAMPLES, body.getvalue())


def _clock_offset_chunks(lsl_now: float) -> bytes:
    """ClockOffset chunks of both streams at recorder time ``lsl_now``."""
    return _chunk(
        XDF_CLOCK_OFFSET,
        struct.pack("<Idd", XDF_PHYSIO_STREAM, lsl_now, XDF_DEVICE_CLOCK_OFFSET_S),
    ) + _chunk(XDF_CLOCK_OFFSET, struct.pack("<Idd", XDF_MARKER_STREAM, lsl_now, 0.0))


def _xdf_samples(
    data: np.ndarray, fs: float, markers: list[tuple[float, int]]
) -> tuple[bytes, list[tuple[float, float]], list[tuple[float, float]]]:
    """The Samples and ClockOffset chunks, interleaved as a recorder writes them.

    Returns the chunks and the clock offsets of the physiology and the marker stream.
    """
    n = len(data)
    # device clock = recorder clock - offset; the ClockOffset chunks say +offset
    device_t0 = XDF_LSL_ZERO_S - XDF_DEVICE_CLOCK_OFFSET_S
    out = io.BytesIO()
    phys_offsets: list[tuple[float, float]] = []
    mark_offsets: list[tuple[float, float]] = []
    mi = 0
    next_offset_t = 0.0
    for start in range(0, n, XDF_CHUNK_SAMPLES):
        stop = min(start + XDF_CHUNK_SAMPLES, n)
        out.write(_physio_samples_chunk(data, start, stop, device_t0 + start / fs))
        t_end = stop / fs
        # markers that happened up to the end of this chunk, interleaved as a recorder would
        first = mi
        while mi < len(markers) and markers[mi][0] < t_end:
            mi += 1
        if mi > first:
            out.write(_chunk(XDF_SAMPLES, _marker_samples(XDF_MARKER_STREAM, markers[first:mi])))
        if t_end >= next_offset_t:
            lsl_now = XDF_LSL_ZERO_S + t_end
            phys_offsets.append((lsl_now, XDF_DEVICE_CLOCK_OFFSET_S))
            mark_offsets.append((lsl_now, 0.0))
            out.write(_clock_offset_chunks(lsl_now))
            next_offset_t = t_end + XDF_CLOCK_OFFSET_EVERY_S
    if mi < len(markers):
        out.write(_chunk(XDF_SAMPLES, _marker_samples(XDF_MARKER_STREAM, markers[mi:])))
    return out.getvalue(), phys_offsets, mark_offsets


def _xdf_footers(
    n: int,
    fs: float,
    markers: list[tuple[float, int]],
    phys_offsets: list[tuple[float, float]],
    mark_offsets: list[tuple[float, float]],
) -> bytes:
    """The StreamFooter chunks: first and last timestamp, sample count, clock offsets."""
    first_p = XDF_LSL_ZERO_S - XDF_DEVICE_CLOCK_OFFSET_S
    last_p = first_p + (n - 1) / fs
    if markers:
        first_m = XDF_LSL_ZERO_S + markers[0][0]
        last_m = XDF_LSL_ZERO_S + markers[-1][0]
    else:
        first_m = last_m = 0.0
    phys_xml = _footer_xml(first_p, last_p, n, phys_offsets)
    mark_xml = _footer_xml(first_m, last_m, len(markers), mark_offsets)
    return _chunk(
        XDF_STREAM_FOOTER, struct.pack("<I", XDF_PHYSIO_STREAM) + phys_xml.encode()
    ) + _chunk(XDF_STREAM_FOOTER, struct.pack("<I", XDF_MARKER_STREAM) + mark_xml.encode())


def _marker_samples(stream_id: int, markers: list[tuple[float, int]]) -> bytes:
    body = io.BytesIO()
    body.write(struct.pack("<I", stream_id))
    body.write(_varlen(len(markers)))
    for onset, code in markers:
        text = str(code).encode()
        body.write(struct.pack("<Bd", 8, XDF_LSL_ZERO_S + onset))
        body.write(_varlen(len(text)))
        body.write(text)
    return body.getvalue()
