"""The reader registry: one table from file names to the reader of each format.

:data:`READERS` is the only place that knows which formats exist. Format detection
(:func:`physio.io.detect_format`), dispatch (:func:`physio.io.read_recording`), the folder
scan of the batch (:func:`physio.batch.find_inputs`) and every "expected one of ..."
error message are derived from it.

Adding a reader
---------------
1. Write ``physio/io/read_<format>.py`` with one public function
   ``read_<format>(path, **options) -> Recording`` that follows the conventions of
   :mod:`physio.io` (each channel at its own rate, markers relative to the first sample,
   :class:`~physio.errors.ReaderError` naming the file). Import optional libraries inside
   it, with a ``# lazy:`` reason, so that ``import physio.io`` stays light.
2. Add one :class:`ReaderSpec` row to :data:`READERS`: the format name, the module and
   function, the file extensions it claims, the name endings a folder scan picks up, its
   companion files, and (for a binary format) a ``sniff`` test on the first bytes. A
   format whose header file is plain text but not a table (WFDB's ``.hea``) lists that
   extension under ``trusted``, so that the name decides rather than the CSV/TSV check.
3. Add tests (``tests/test_readers*.py``) on a small file the test writes or ships.

Nothing else changes: ``read_recording(path)`` then detects and reads the new format, the
batch finds its files in folders, and error messages list it.

Examples
--------
>>> reader_spec("edf").function
'read_edf'
>>> format_from_name(Path("rec.TSV.gz")), format_from_name(Path("sub-1_physio.tsv.gz"))
('csv', 'bids')
>>> ".vhdr" in scan_suffixes(), ".vmrk" in scan_suffixes()
(True, False)
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ReaderSpec:
    """One format: how its files are named and recognised, and which function reads them.

    Attributes
    ----------
    name : str
        The format name (``fmt=`` of :func:`physio.io.read_recording`, the sidecar's
        ``format``).
    module, function : str
        Where the reader lives; imported only when a file of this format is read.
    extensions : tuple of str
        Lower-case file extensions that name this format (matched after an optional
        ``.gz`` is removed: ``rec.csv.gz`` is ``.csv``).
    name_suffixes : tuple of str
        Lower-case name endings matched against the whole name, before ``extensions``
        (``_physio.tsv.gz`` is BIDS, not a plain ``.tsv``).
    scan : tuple of str
        Lower-case name endings that a folder scan picks up as recordings. A format's
        companion files are not listed here (a BrainVision recording is its ``.vhdr``).
    companions : tuple of str
        Name endings of files that belong to a recording of this format without being one;
        a folder scan passes over them without reporting them.
    trusted : tuple of str
        Endings for which the name alone decides the format, whatever the content (the
        binary ``.eeg`` of a BrainVision triple). Every ``name_suffixes`` ending is trusted.
    sniff : callable, optional
        ``sniff(head) -> bool`` on the file's first 4096 bytes: True when the content is
        certainly this format. Content wins over the extension.
    text : bool
        The format is a plain-text table: text content is accepted for its extensions.
    options : tuple of str
        Keyword options of :func:`physio.io.read_recording` passed on to the reader.
    claims : callable, optional
        ``claims(path) -> bool``: an extra name rule for a file the endings do not cover.
    label : str
        How messages name the format's files.
    """

    name: str
    module: str
    function: str
    extensions: tuple[str, ...] = ()
    name_suffixes: tuple[str, ...] = ()
    scan: tuple[str, ...] = ()
    companions: tuple[str, ...] = ()
    trusted: tuple[str, ...] = ()
    sniff: Callable[[bytes], bool] | None = None
    text: bool = False
    options: tuple[str, ...] = ()
    claims: Callable[[Path], bool] | None = None
    label: str = ""

    def load(self) -> Callable[..., Any]:
        """The reader function (its module is imported on first use)."""
        return getattr(importlib.import_module(self.module), self.function)


def looks_like_acq(head: bytes) -> bool:
    """An AcqKnowledge graph header: int16 0, then the file revision (30..200), either order.

    AcqKnowledge 3.x-5.x write the revision little-endian (Windows) or big-endian (Mac).

    Examples
    --------
    >>> looks_like_acq(bytes(2) + (45).to_bytes(4, "little") + bytes(10))
    True
    >>> looks_like_acq(b"XDF:" + bytes(10))
    False
    """
    if len(head) < 10 or head[:2] != b"\0\0":
        return False
    rev_le = int.from_bytes(head[2:6], "little")
    rev_be = int.from_bytes(head[2:6], "big")
    return 30 <= rev_le <= 200 or 30 <= rev_be <= 200


def _bids_events_with_physio(path: Path) -> bool:
    # an events file names the recording when its physio data sits beside it
    name = path.name.lower()
    return name.endswith("_events.tsv") and (
        path.parent / name.replace("_events.tsv", "_physio.tsv.gz")).exists()


#: Every format soothe reads, in the order messages list them.
READERS: tuple[ReaderSpec, ...] = (
    ReaderSpec("acq", "physio.io.read_acq", "read_acq", extensions=(".acq",), scan=(".acq",),
               sniff=looks_like_acq, label="BIOPAC AcqKnowledge"),
    ReaderSpec("xdf", "physio.io.read_xdf", "read_xdf", extensions=(".xdf", ".xdfz"),
               scan=(".xdf", ".xdfz"), sniff=lambda head: head.startswith(b"XDF:"),
               label="XDF"),
    ReaderSpec("edf", "physio.io.read_edf", "read_edf", extensions=(".edf",), scan=(".edf",),
               sniff=lambda head: head.startswith(b"0       ") and len(head) >= 256,
               label="EDF"),
    ReaderSpec("bdf", "physio.io.read_edf", "read_edf", extensions=(".bdf",), scan=(".bdf",),
               sniff=lambda head: head.startswith(b"\xffBIOSEMI"), label="BDF"),
    ReaderSpec("brainvision", "physio.io.read_brainvision", "read_brainvision",
               extensions=(".vhdr", ".vmrk", ".eeg"), scan=(".vhdr",),
               companions=(".vmrk", ".eeg"), trusted=(".vmrk", ".eeg"),
               sniff=lambda head: head.lstrip(b"\xef\xbb\xbf").startswith(
                   (b"Brain Vision", b"BrainVision")),
               label="BrainVision"),
    ReaderSpec("csv", "physio.io.read_csv", "read_csv",
               extensions=(".csv", ".tsv", ".txt", ".tab"),
               scan=(".csv", ".tsv", ".csv.gz", ".tsv.gz", ".txt"), text=True,
               options=("column_map", "sampling_rate"), label="CSV/TSV"),
    ReaderSpec("wfdb", "physio.io.read_wfdb", "read_wfdb", extensions=(".hea",),
               scan=(".hea",), companions=(".dat", ".atr"), trusted=(".hea",),
               label="WFDB (PhysioNet)"),
    ReaderSpec("bids", "physio.io.read_bids", "read_bids",
               name_suffixes=("_physio.tsv.gz", "_physio.tsv", "_physio.json"),
               scan=("_physio.tsv.gz",), companions=("_physio.json", "_events.tsv"),
               claims=_bids_events_with_physio, label="BIDS physio"),
)

#: The format names, in the order of :data:`READERS`.
FORMATS: tuple[str, ...] = tuple(spec.name for spec in READERS)
#: The text format a plain-text table without a known extension is read as.
DEFAULT_TEXT_FORMAT = "csv"


def reader_spec(fmt: str) -> ReaderSpec:
    """The registry row of format ``fmt``.

    Raises
    ------
    KeyError
        An unknown format (the message lists the known ones).
    """
    for spec in READERS:
        if spec.name == fmt:
            return spec
    raise KeyError(f"unknown format {fmt!r}; expected one of "
                   f"{', '.join(spec.name for spec in READERS)}")


def format_from_name(path: Path) -> str | None:
    """The format a file's name claims (``None`` when no reader claims it)."""
    name = path.name.lower()
    for spec in READERS:
        if spec.name_suffixes and name.endswith(spec.name_suffixes):
            return spec.name
    for spec in READERS:
        if spec.claims is not None and spec.claims(path):
            return spec.name
    if name.endswith(".gz"):
        name = name[:-3]
    ext = os.path.splitext(name)[1]
    for spec in READERS:
        if ext in spec.extensions:
            return spec.name
    return None


def format_from_content(head: bytes) -> str | None:
    """The format whose ``sniff`` recognises the first bytes of a file, else ``None``."""
    for spec in READERS:
        if spec.sniff is not None and spec.sniff(head):
            return spec.name
    return None


def name_decides(path: Path, fmt: str | None) -> bool:
    """True when the name alone decides that ``path`` is ``fmt`` (the format's own name
    suffixes, or a ``trusted`` extension), whatever the content.

    ``fmt`` is the format the name claims (:func:`format_from_name`).
    """
    if fmt is None:
        return False
    spec = reader_spec(fmt)
    return bool(spec.name_suffixes) or path.suffix.lower() in spec.trusted


def scan_suffixes() -> tuple[str, ...]:
    """Name endings a folder scan picks up as recordings (every format's ``scan``)."""
    return tuple(dict.fromkeys(s for spec in READERS for s in spec.scan))


def companion_suffixes() -> tuple[str, ...]:
    """Name endings of files that accompany recordings (every format's ``companions``)."""
    return tuple(dict.fromkeys(s for spec in READERS for s in spec.companions))


def formats_with_option(option: str) -> tuple[ReaderSpec, ...]:
    """The formats whose reader takes the :func:`~physio.io.read_recording` option."""
    return tuple(spec for spec in READERS if option in spec.options)
