"""A tiny XDF 1.0 writer for tests (numeric and string streams, clock offsets, footers).

Spec: https://github.com/sccn/xdf/wiki/Specifications. Each chunk is
``[NumLengthBytes][Length][Tag u16][Content]``, Length counting the tag and the content.
The ``lie_about_length`` and ``clock_offsets`` hooks build deliberately broken files.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

_FORMATS = {"float32": "<f", "double64": "<d", "int8": "<b", "int16": "<h", "int32": "<i",
            "int64": "<q"}


@dataclass
class XdfStream:
    name: str
    type: str
    nominal_srate: float
    channel_format: str  # float32, double64, int16, ..., or string
    data: Sequence  # (n, channels) numeric array, or list of lists of str
    timestamps: np.ndarray
    labels: Sequence[str] = ()
    units: Sequence[str] = ()
    clock_offsets: Sequence[tuple[float, float]] = ((0.0, 0.0), (10.0, 0.0))
    stream_id: int = 1
    extra_desc: str = ""
    channel_count: int | None = None
    samples: list = field(default_factory=list)


def _varlen(n: int) -> bytes:
    if n < 256:
        return bytes([1, n])
    if n < 2**32:
        return bytes([4]) + struct.pack("<I", n)
    return bytes([8]) + struct.pack("<Q", n)


def _chunk(tag: int, content: bytes, *, lie: int = 0) -> bytes:
    return _varlen(len(content) + 2 + lie) + struct.pack("<H", tag) + content


def _header_xml(s: XdfStream) -> bytes:
    nch = s.channel_count or (len(s.data[0]) if len(s.data) else 1)
    chans = ""
    if s.labels:
        items = "".join(
            f"<channel><label>{escape(lb)}</label><unit>{escape(u)}</unit>"
            f"<type>{escape(s.type)}</type></channel>"
            for lb, u in zip(s.labels, list(s.units) or [""] * len(s.labels))
        )
        chans = f"<channels>{items}</channels>"
    return (
        f'<?xml version="1.0"?><info><name>{escape(s.name)}</name><type>{escape(s.type)}</type>'
        f"<channel_count>{nch}</channel_count><nominal_srate>{s.nominal_srate:g}</nominal_srate>"
        f"<channel_format>{s.channel_format}</channel_format><created_at>0</created_at>"
        f"<uid>{s.stream_id}</uid><desc>{chans}{s.extra_desc}</desc></info>"
    ).encode()


def _samples(s: XdfStream, lo: int, hi: int) -> bytes:
    out = bytearray(struct.pack("<I", s.stream_id))
    out += _varlen(hi - lo)
    for i in range(lo, hi):
        out += bytes([8]) + struct.pack("<d", float(s.timestamps[i]))
        row = s.data[i]
        if s.channel_format == "string":
            for value in row:
                raw = str(value).encode()
                out += _varlen(len(raw)) + raw
        else:
            fmt = _FORMATS[s.channel_format]
            for value in row:
                out += struct.pack(fmt, value)
    return bytes(out)


def write_xdf(
    path: Path, streams: Sequence[XdfStream], *, chunk_samples: int = 500,
    lie_about_length: int = 0,
) -> Path:
    """Write ``streams`` to ``path`` as XDF. ``lie_about_length`` corrupts the first
    samples chunk's length field by that many bytes."""
    out = bytearray(b"XDF:")
    out += _chunk(1, b'<?xml version="1.0"?><info><version>1.0</version></info>')
    for s in streams:
        out += _chunk(2, struct.pack("<I", s.stream_id) + _header_xml(s))
    first = True
    n_max = max(len(s.timestamps) for s in streams)
    for lo in range(0, n_max, chunk_samples):
        for s in streams:
            hi = min(lo + chunk_samples, len(s.timestamps))
            if lo >= hi:
                continue
            out += _chunk(3, _samples(s, lo, hi), lie=lie_about_length if first else 0)
            first = False
    for s in streams:
        for t, v in s.clock_offsets:
            out += _chunk(4, struct.pack("<I", s.stream_id) + struct.pack("<dd", t, v))
    for s in streams:
        ts = s.timestamps
        footer = (
            f'<?xml version="1.0"?><info><first_timestamp>{ts[0] if len(ts) else 0}'
            f"</first_timestamp><last_timestamp>{ts[-1] if len(ts) else 0}</last_timestamp>"
            f"<sample_count>{len(ts)}</sample_count></info>"
        ).encode()
        out += _chunk(6, struct.pack("<I", s.stream_id) + footer)
    path = Path(path)
    path.write_bytes(bytes(out))
    return path
