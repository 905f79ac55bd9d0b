"""BIOPAC AcqKnowledge ``.acq`` files (AcqKnowledge 3.8–5, compressed or not) via bioread.

Each channel keeps its own rate (BIOPAC stores slow channels with a frequency divider; we
never upsample them, unlike ``nk.read_acqknowledge``). Markers come from the file's event
markers (text → label; a leading integer in the text → code, else ``NO_CODE``) and from
digital input channels (8 lines → one 8-bit code).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from physio.errors import ReaderError
from physio.io.assemble import NO_CODE, code_from_text, library_errors, make_markers
from physio.recording import Channel, Recording

_UINT32 = 2**32


def _marker_sample_indices(markers, n_base: int, notes: list[str], path: Path) -> np.ndarray:
    """Event-marker sample indices, repairing the offset bioread reports for some v5 files.

    AcqKnowledge 5 compressed files can give every marker index shifted by a constant,
    wrapping below zero as an unsigned 32-bit number (bioread 2025.5 reads
    ``physio-5.0.1-c.acq`` with "Segment 1" at 4294932992 instead of 0). The first
    segment ("apnd") marker starts the recording by definition, so when indices fall
    outside the data and such a marker exists, the shift is taken from it.
    """
    idx = np.array([int(m.sample_index) for m in markers], dtype=np.int64)
    if idx.size == 0 or ((idx >= 0) & (idx <= n_base)).all():
        return idx
    segments = [i for i, m in enumerate(markers) if getattr(m, "type_code", None) == "apnd"]
    if segments:
        shift = idx[segments[0]]
        fixed = (idx - shift) % _UINT32
        if ((fixed >= 0) & (fixed <= n_base)).all():
            notes.append(
                f"event-marker sample indices were offset by {int(shift)} (AcqKnowledge 5 "
                "compressed file); re-based on the first segment marker"
            )
            return fixed
    bad = int(np.count_nonzero((idx < 0) | (idx > n_base)))
    notes.append(f"{bad} event marker(s) point outside the data and were dropped")
    return np.where((idx >= 0) & (idx <= n_base), idx, -1)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


#: More channels than any AcqKnowledge set-up records (MP160: 16 analog + 16 digital +
#: calculation channels); a larger count means a damaged header.
_MAX_CHANNELS = 512


@contextlib.contextmanager
def _bioread_log() -> Iterator[_Collect]:
    """Collect bioread's log messages instead of letting them reach stderr.

    bioread logs (rather than raises) when a header past the data cannot be read, e.g. the
    event markers of a truncated file; the reader turns those into an error.
    """
    # lazy: bioread (optional reader library) is imported when an .acq file is read
    import bioread.header_reader
    import bioread.reader  # noqa: F401 - installs bioread's own stderr handler first

    logger = logging.getLogger("bioread")
    handler = _Collect()
    old_handlers, old_propagate = list(logger.handlers), logger.propagate
    for h in old_handlers:
        logger.removeHandler(h)
    logger.addHandler(handler)
    logger.propagate = False
    # Guard against a damaged header count: bioread loops ``num`` times over headers whose
    # lengths come from the file, so a corrupt marker count (with a negative text length)
    # spins for hours (found by tests/test_fuzz_readers.py). No header is under 8 bytes.
    reader_cls = bioread.header_reader.HeaderReader
    original = reader_cls.multi_headers

    def bounded(self, num, start_offset, h_class):
        size = os.fstat(self.acq_file.fileno()).st_size if hasattr(self.acq_file, "fileno") else 0
        if size and num > size // 8:
            raise ValueError(
                f"header count {num} at byte {start_offset} cannot fit in a {size}-byte file"
            )
        # bioread scans up to 4096 offsets for the channel dtype headers, reading `num`
        # headers at each: a damaged channel count makes that quadratic. No AcqKnowledge
        # file has more than a few hundred channels.
        if "Channel" in getattr(h_class, "__name__", "") and num > _MAX_CHANNELS:
            raise ValueError(
                f"channel count {num} at byte {start_offset} exceeds {_MAX_CHANNELS}; "
                "the header is damaged"
            )
        return original(self, num, start_offset, h_class)

    reader_cls.multi_headers = bounded
    try:
        yield handler
    finally:
        reader_cls.multi_headers = original
        logger.removeHandler(handler)
        for h in old_handlers:
            logger.addHandler(h)
        logger.propagate = old_propagate


#: A compressed .acq is refused when its header declares more than this many times its
#: own size in samples (zlib on physiological signals compresses ~2-10x).
_MAX_COMPRESSION = 200


def _check_declared_size(path: Path, bioread) -> None:
    """Refuse a header that declares more samples than the file can hold.

    bioread allocates every channel from the header's point counts before reading, so a
    damaged header could otherwise claim gigabytes. For an uncompressed file this is also
    the clearest "truncated" message: the samples the header promises are not there.
    """
    with _bioread_log(), library_errors(path, "reading the AcqKnowledge headers"):
        headers = bioread.read_headers(str(path))
        compressed = bool(getattr(headers, "is_compressed", False))
        declared = sum(
            max(int(c.point_count), 0) * np.dtype(c.dtype).itemsize for c in headers.channels
        )
    size = path.stat().st_size
    limit = size * (_MAX_COMPRESSION if compressed else 1)
    if declared > limit:
        raise ReaderError(
            f"{path}: the header declares {declared} bytes of samples but the file has only "
            f"{size} bytes{' (compressed)' if compressed else ''}; the file is truncated or "
            "its header is damaged"
        )


def read_acq(path: Path | str) -> Recording:
    """Read a BIOPAC ``.acq`` file into a :class:`~physio.recording.Recording`.

    Kinds and digital markers are set by :func:`physio.io.read_recording`; this returns
    every channel with its own rate and units, and the file's event markers.

    Examples
    --------
    >>> rec = read_acq("physio-4.4.0.acq")  # doctest: +SKIP
    >>> rec.channels["EKG - ERS100C"].sampling_rate  # doctest: +SKIP
    1000.0
    """
    path = Path(path)
    # lazy: bioread (optional reader library) is imported when an .acq file is read
    import bioread

    _check_declared_size(path, bioread)
    with (
        _bioread_log() as log,
        library_errors(
            path,
            "reading as BIOPAC AcqKnowledge (.acq) with bioread (expected a complete header "
            "and data section; the file may be truncated or damaged)",
        ),
    ):
        data = bioread.read_file(str(path))
        base_rate = float(data.samples_per_second)
        raw_channels = list(data.channels)
        markers = list(data.event_markers or [])
    if log.messages:
        raise ReaderError(
            f"{path}: the file is damaged or truncated (bioread: {'; '.join(log.messages[:3])}); "
            "expected complete channel data and event-marker headers"
        )
    channels: dict[str, Channel] = {}
    n_base = 0
    for i, ch in enumerate(raw_channels):
        name = str(ch.name or f"CH{i + 1}").strip() or f"CH{i + 1}"
        if name in channels:
            name = f"{name} ({i + 1})"
        with library_errors(path, f"reading channel {name!r}"):
            values = np.asarray(ch.data, dtype=np.float64)
            rate = float(ch.samples_per_second)
        if values.size == 0:
            raise ReaderError(
                f"{path}: channel {name!r} has no samples; the data section is missing "
                "or truncated"
            )
        channels[name] = Channel(name, values, rate, str(ch.units or "").strip())
        n_base = max(n_base, int(len(values) * int(getattr(ch, "frequency_divider", 1) or 1)))
    notes: list[str] = []
    if not (np.isfinite(base_rate) and base_rate > 0):
        raise ReaderError(f"{path}: header sampling rate is {base_rate!r}; expected > 0 Hz")
    idx = _marker_sample_indices(markers, n_base, notes, path)
    keep = idx >= 0
    texts = [str(m.text or "").strip() for m in markers]
    table = make_markers(
        idx[keep] / base_rate,
        [code_from_text(t) if t else NO_CODE for t, k in zip(texts, keep) if k],
        [t for t, k in zip(texts, keep) if k],
    )
    start_time = None
    for m, i in zip(markers, idx):
        if i == 0 and getattr(m, "date_created_utc", None) is not None:
            start_time = m.date_created_utc
            break
    return Recording(
        channels=channels,
        source=path,
        format="acq",
        markers=table,
        start_time=start_time,
        meta={"reader_notes": notes, "acq_base_rate_hz": base_rate},
    )
