"""Readers: every lab export becomes one :class:`~physio.recording.Recording`.

Formats: BIOPAC ``.acq`` (bioread), XDF (pyxdf), EDF/BDF (edfio), BrainVision (mne),
CSV/TSV (pandas) and BIDS physio (the project's contract, ``conditions/bids.py``). They
are listed once, in the reader registry (:mod:`physio.io.registry`, which says how to add
a reader); detection, dispatch, the batch's folder scan and error messages follow it.

Conventions shared by all readers
---------------------------------
- Each channel keeps its own sampling rate and units; nothing is resampled.
- ``channel.kind`` is ``ecg``, ``eda``, ``rsp``, ``digital`` or ``other`` (by name and units, see
  :mod:`physio.io.channel_kinds`); ``ecg_channel=``/``eda_channel=`` override the guess.
- Markers: ``onset_s`` relative to the recording's first sample, integer ``code``
  (``NO_CODE`` = -1 for text-only markers such as "Segment 1"), ``label``.
- ``meta['reader_notes']`` lists what the reader noticed and repaired or accepted
  (e.g. an ECG below 100 Hz, NaN samples, shifted marker indices).
- Every failure is a :class:`~physio.errors.ReaderError` or
  :class:`~physio.errors.ChannelError` naming the file (and channel); library tracebacks
  are never shown.

Sampling rates below 100 Hz are *accepted* (EDA or respiration at a few Hz are normal)
and noted; the ECG pipeline enforces its own minimum with
:func:`physio.io.units.require_ecg_rate`.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from conditions.errors import SootheError
from physio.errors import ReaderError
from physio.io.assemble import NO_CODE, finish_recording
from physio.io.registry import (
    DEFAULT_TEXT_FORMAT,
    FORMATS,
    READERS,
    ReaderSpec,
    format_from_content,
    format_from_name,
    formats_with_option,
    name_decides,
    reader_spec,
)
from physio.io.units import (
    MIN_ECG_RATE_HZ,
    ecg_units_problem,
    guess_ecg_units,
    require_ecg_rate,
    to_microsiemens,
    to_millivolts,
)
from physio.recording import Recording


def _looks_like_text_table(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # the head may cut a multi-byte character; retry without the last 3 bytes
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    if "\0" in text:
        return False
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return False
    first = lines[0]
    return any(sep in first for sep in (",", "\t", ";")) or len(lines) > 1


def detect_format(path: str | os.PathLike) -> str:
    """The format of a recording file: content (magic bytes) first, extension second.

    Returns one of :data:`FORMATS` (the reader registry, :mod:`physio.io.registry`).
    A file whose content contradicts its extension is detected by its content; a file
    whose content matches no format is rejected with a ReaderError.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "rec.acq")
    >>> _ = open(p, "wb").write(b"XDF:" + bytes(20))
    >>> detect_format(p)
    'xdf'
    """
    path = Path(path)
    if path.is_dir():
        if any(path.glob("*_physio.tsv.gz")) or any(path.glob("*/*_physio.tsv.gz")):
            return "bids"
        raise ReaderError(f"{path}: a folder without a *_physio.tsv.gz; give a recording file")
    if not path.is_file():
        raise ReaderError(f"{path}: file not found")
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise ReaderError(f"{path}: cannot open: {exc.strerror or exc}") from None
    if not head:
        raise ReaderError(f"{path}: file is empty (0 bytes); expected a recording")
    return _format_of_head(path, head)


def _format_of_head(path: Path, head: bytes) -> str:
    """The format of a file from its first bytes and its name (rules of detect_format)."""
    by_ext = format_from_name(path)
    by_content = format_from_content(head)
    if by_content is not None:
        return by_content
    if head[:2] == b"\x1f\x8b":
        # a gzip stream is a compressed table: the format its name suffix claims (BIDS),
        # else a plain CSV/TSV
        return by_ext if by_ext in _SUFFIX_FORMATS else DEFAULT_TEXT_FORMAT
    if name_decides(path, by_ext):
        return by_ext
    if _looks_like_text_table(head):
        if by_ext is not None and not reader_spec(by_ext).text:
            raise ReaderError(
                f"{path}: the extension says {by_ext} but the content is plain text; "
                "rename it to .csv/.tsv if it is a table export"
            )
        return by_ext or DEFAULT_TEXT_FORMAT
    if by_ext is not None:
        raise ReaderError(
            f"{path}: the extension says {by_ext} but the content does not look like a "
            f"{by_ext} file (first bytes {head[:8]!r}); the file is corrupt or mislabelled"
        )
    raise ReaderError(
        f"{path}: unknown recording format (first bytes {head[:8]!r}); expected one of "
        f"{', '.join(FORMATS)}"
    )


#: Formats named by a name suffix (``_physio.tsv.gz``): their files may be gzip streams.
_SUFFIX_FORMATS = tuple(spec.name for spec in READERS if spec.name_suffixes)


def reader_options(fmt: str, **options) -> dict:
    """The options of :func:`read_recording` that format ``fmt``'s reader takes.

    Examples
    --------
    >>> reader_options("csv", sampling_rate=250.0, column_map=None)
    {'sampling_rate': 250.0, 'column_map': None}
    >>> reader_options("edf", sampling_rate=250.0)
    {}
    """
    accepted = reader_spec(fmt).options
    return {k: v for k, v in options.items() if k in accepted}


def _read(path: Path, fmt: str, column_map, sampling_rate) -> Recording:
    """Dispatch to the registry's reader of ``fmt``."""
    try:
        spec = reader_spec(fmt)
    except KeyError:
        raise ReaderError(f"{path}: unknown format {fmt!r}; expected one of "
                          f"{', '.join(FORMATS)}") from None
    options = reader_options(fmt, column_map=column_map, sampling_rate=sampling_rate)
    return spec.load()(path, **options)


def read_recording(
    path: str | os.PathLike,
    *,
    fmt: str | None = None,
    ecg_channel: str | None = None,
    eda_channel: str | None = None,
    rsp_channel: str | None = None,
    column_map: dict[str, str] | None = None,
    sampling_rate: float | None = None,
    marker_channel: str | None = None,
) -> Recording:
    """Read any supported recording into a :class:`~physio.recording.Recording`.

    Parameters
    ----------
    path : file (or a BIDS session folder)
    fmt : str, optional
        Skip detection: one of :data:`FORMATS`.
    ecg_channel, eda_channel, rsp_channel : str, optional
        Channel names chosen by the user over the automatic choice.
    column_map : dict, optional
        CSV/TSV only: ``{"ecg": col, "eda": col, "rsp": col, "time": col, "marker": col}``.
    sampling_rate : float, optional
        CSV/TSV only: the rate when there is no time column.
    marker_channel : str, optional
        A channel whose values are marker codes (decoded on changes to non-zero).

    Raises
    ------
    ReaderError, ChannelError
        Always with the file, the channel and what was expected.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "rec.csv")
    >>> _ = open(p, "w").write("ECG,EDA,trigger\\n0.1,5,0\\n0.3,5,3\\n0.1,5,3\\n0.2,5,0\\n")
    >>> rec = read_recording(p, sampling_rate=500)
    >>> rec.ecg().name, rec.markers["code"].tolist()
    ('ECG', [3])
    """
    path = Path(path)
    if fmt is not None and fmt not in FORMATS:
        raise ReaderError(f"{path}: fmt={fmt!r} is not a known format; expected one of {FORMATS}")
    if fmt is not None and path.is_file() and path.stat().st_size == 0:
        raise ReaderError(f"{path}: file is empty (0 bytes); expected a {fmt} recording")
    if fmt is None:
        fmt = detect_format(path)
    _check_options(path, fmt, column_map=column_map, sampling_rate=sampling_rate)
    column_map = dict(column_map or {})
    ecg_channel = ecg_channel or column_map.get("ecg")
    eda_channel = eda_channel or column_map.get("eda")
    rsp_channel = rsp_channel or column_map.get("rsp")
    try:
        # Library warnings become reader notes: the read is the same whether or not the
        # caller turns warnings into errors (pytest does).
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rec = _read(path, fmt, column_map, sampling_rate)
            rec = finish_recording(
                rec, ecg_channel=ecg_channel, eda_channel=eda_channel,
                rsp_channel=rsp_channel, marker_channel=marker_channel,
            )
        notes = rec.meta.setdefault("reader_notes", [])
        notes += [f"warning: {w.message}" for w in caught[:5]]
        return rec
    except SootheError:
        raise
    except Exception as exc:  # noqa: BLE001 - last line of defence: never a raw traceback
        raise ReaderError(
            f"{path}: could not read as {fmt}: {type(exc).__name__}: {exc}"
        ) from None


def _check_options(path: Path, fmt: str, **options) -> None:
    """Refuse reader options given for a format whose reader does not take them."""
    given = [k for k, v in options.items() if v is not None]
    refused = [k for k in given if k not in reader_spec(fmt).options]
    if refused:
        takers = {spec.label for k in refused for spec in formats_with_option(k)}
        raise ReaderError(
            f"{path}: {' and '.join(options)} apply to {' and '.join(sorted(takers))} files "
            f"only; this is {fmt}"
        )


__all__ = [
    "FORMATS",
    "READERS",
    "ReaderSpec",
    "MIN_ECG_RATE_HZ",
    "NO_CODE",
    "detect_format",
    "ecg_units_problem",
    "guess_ecg_units",
    "read_recording",
    "reader_options",
    "reader_spec",
    "require_ecg_rate",
    "to_microsiemens",
    "to_millivolts",
]
