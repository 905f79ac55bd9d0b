"""Readers: every lab export becomes one :class:`~physio.recording.Recording`.

Formats: BIOPAC ``.acq`` (bioread), XDF (pyxdf), EDF/BDF (edfio), BrainVision (mne),
CSV/TSV (pandas) and BIDS physio (the project's contract, ``conditions/bids.py``).

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
from physio.io.units import (
    MIN_ECG_RATE_HZ,
    ecg_units_problem,
    guess_ecg_units,
    require_ecg_rate,
    to_microsiemens,
    to_millivolts,
)
from physio.recording import Recording

FORMATS = ("acq", "xdf", "edf", "bdf", "brainvision", "csv", "bids")

_EXTENSIONS = {
    ".acq": "acq",
    ".xdf": "xdf",
    ".xdfz": "xdf",
    ".edf": "edf",
    ".bdf": "bdf",
    ".vhdr": "brainvision",
    ".vmrk": "brainvision",
    ".eeg": "brainvision",
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".tab": "csv",
}
_BIDS_SUFFIXES = ("_physio.tsv.gz", "_physio.tsv", "_physio.json")


def _extension_format(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(_BIDS_SUFFIXES) or (
        name.endswith("_events.tsv") and (path.parent / name.replace(
            "_events.tsv", "_physio.tsv.gz")).exists()
    ):
        return "bids"
    if name.endswith(".gz"):
        name = name[:-3]
    return _EXTENSIONS.get(os.path.splitext(name)[1])


def _looks_like_acq(head: bytes) -> bool:
    # AcqKnowledge graph header: int16 (0), then the int32 file revision (30..200 for
    # AcqKnowledge 3.x-5.x), little-endian (Windows) or big-endian (Mac).
    if len(head) < 10 or head[:2] != b"\0\0":
        return False
    rev_le = int.from_bytes(head[2:6], "little")
    rev_be = int.from_bytes(head[2:6], "big")
    return 30 <= rev_le <= 200 or 30 <= rev_be <= 200


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

    Returns one of ``acq``, ``xdf``, ``edf``, ``bdf``, ``brainvision``, ``csv``, ``bids``.
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
    by_ext = _extension_format(path)
    if head.startswith(b"XDF:"):
        return "xdf"
    if head.startswith(b"\xffBIOSEMI"):
        return "bdf"
    if head.startswith(b"0       ") and len(head) >= 256:
        return "edf"
    if head.lstrip(b"\xef\xbb\xbf").startswith((b"Brain Vision", b"BrainVision")):
        return "brainvision"
    if head[:2] == b"\x1f\x8b":
        return "bids" if by_ext == "bids" else "csv"
    if _looks_like_acq(head):
        return "acq"
    if by_ext == "bids":
        return "bids"
    if by_ext == "brainvision" and path.suffix.lower() in (".eeg", ".vmrk"):
        return "brainvision"
    if _looks_like_text_table(head):
        if by_ext not in (None, "csv"):
            raise ReaderError(
                f"{path}: the extension says {by_ext} but the content is plain text; "
                "rename it to .csv/.tsv if it is a table export"
            )
        return "csv"
    if by_ext is not None:
        raise ReaderError(
            f"{path}: the extension says {by_ext} but the content does not look like a "
            f"{by_ext} file (first bytes {head[:8]!r}); the file is corrupt or mislabelled"
        )
    raise ReaderError(
        f"{path}: unknown recording format (first bytes {head[:8]!r}); expected one of "
        f"{', '.join(FORMATS)}"
    )


def _read(path: Path, fmt: str, column_map, sampling_rate) -> Recording:
    if fmt == "acq":
        from physio.io.read_acq import read_acq

        return read_acq(path)
    if fmt == "xdf":
        from physio.io.read_xdf import read_xdf

        return read_xdf(path)
    if fmt in ("edf", "bdf"):
        from physio.io.read_edf import read_edf

        return read_edf(path)
    if fmt == "brainvision":
        from physio.io.read_brainvision import read_brainvision

        return read_brainvision(path)
    if fmt == "csv":
        from physio.io.read_csv import read_csv

        return read_csv(path, column_map=column_map, sampling_rate=sampling_rate)
    if fmt == "bids":
        from physio.io.read_bids import read_bids

        return read_bids(path)
    raise ReaderError(f"{path}: unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


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
    if fmt != "csv" and (column_map is not None or sampling_rate is not None):
        raise ReaderError(
            f"{path}: column_map and sampling_rate apply to CSV/TSV files only; this is {fmt}"
        )
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


__all__ = [
    "FORMATS",
    "MIN_ECG_RATE_HZ",
    "NO_CODE",
    "detect_format",
    "ecg_units_problem",
    "guess_ecg_units",
    "read_recording",
    "require_ecg_rate",
    "to_microsiemens",
    "to_millivolts",
]
