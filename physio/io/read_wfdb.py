"""PhysioNet WFDB records (``.hea`` + ``.dat``) via the ``wfdb`` package.

Each channel keeps its own rate: a multi-frequency record (e.g. ECG 32 samples per frame,
skin conductance 2) is read with ``smooth_frames=False``, so channel *i* comes out of
``e_p_signal`` at ``fs * samps_per_frame[i]`` instead of being averaged down to the frame
rate. Annotation files beside the header (``.atr``, ``.ann``, ...) become markers: the
annotation symbol (and its auxiliary note) is the label; a numeric note is the code.

The header is checked before the data are read, so a missing header or data file, an
empty header or a cut-short data file is reported in plain words instead of as the
library's ``IndexError``/``ValueError``. A data file cut short keeps its complete frames,
with a reader note (like an EDF file whose last records are missing).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from physio.errors import ReaderError
from physio.io.assemble import NO_CODE, code_from_text, library_errors, make_markers
from physio.recording import Channel, Recording, empty_markers

#: Bytes per sample of each WFDB storage format (``signal(5)`` in the WFDB manual).
FORMAT_BYTES = {"8": 1.0, "16": 2.0, "24": 3.0, "32": 4.0, "61": 2.0, "80": 1.0,
                "160": 2.0, "212": 1.5, "310": 4 / 3, "311": 4 / 3}
#: Annotation file extensions looked for beside the header, in this order.
ANNOTATORS = ("atr", "ann", "qrs", "ecg", "event", "marker")


def record_base(path: Path | str) -> Path:
    """The record path without extension, from ``rec``, ``rec.hea`` or ``rec.dat``.

    Examples
    --------
    >>> record_base("data/drive05.hea").as_posix(), record_base("data/100").as_posix()
    ('data/drive05', 'data/100')
    """
    path = Path(path)
    if path.suffix.lower() in (".hea", ".dat"):
        return path.with_suffix("")
    return path


def header_lines(hea: Path) -> list[str]:
    """A header's record line and signal (or segment) lines: comments and blank lines left
    out (raises OSError when the file cannot be read)."""
    return [ln for ln in hea.read_text(errors="replace").splitlines()
            if ln.strip() and not ln.lstrip().startswith("#")]


def header_units(hea: Path) -> list[str | None]:
    """Units each signal line of a header states (None where the header gives none).

    WFDB writes units after the gain (``200/mV``); without them the library assumes
    millivolts, which is wrong for skin conductance or a belt, so the reader needs to know.

    Examples
    --------
    >>> import tempfile, os
    >>> p = Path(tempfile.mkdtemp()) / "r.hea"
    >>> _ = p.write_text("r 2 100 10\\nr.dat 16 200/mV 16 0 0 0 0 ECG\\n"
    ...                  "r.dat 16 100 16 0 0 0 0 GSR\\n")
    >>> header_units(p)
    ['mV', None]
    """
    lines = header_lines(hea)
    units: list[str | None] = []
    for line in lines[1:]:
        fields = line.split()
        gain = fields[2] if len(fields) > 2 else ""
        units.append(gain.split("/", 1)[1] if "/" in gain else None)
    return units


def record_files(path: Path | str) -> list[Path]:
    """Every file of a record that exists: the header, the signal files its signal lines
    name (a multi-segment record's segment headers), and the annotation files beside it
    (:data:`ANNOTATORS`). A change to any of them changes what the reader returns, so all
    of them go into a recording's input hashes (:func:`physio.sidecar.input_files`).

    The header is read as text (no ``wfdb`` import); an unreadable header gives just the
    files that exist by name (the reader reports the header's problem).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "r.hea").write_text("r 2 100 10\\nr.dat 16 200/mV 16 0 0 0 0 ECG\\n"
    ...                              "r.dat 16 100 16 0 0 0 0 GSR\\n")
    >>> _ = (d / "r.dat").write_bytes(b"\\0" * 40)
    >>> _ = (d / "r.atr").write_bytes(b"")
    >>> [f.name for f in record_files(d / "r.hea")]
    ['r.hea', 'r.dat', 'r.atr']
    """
    base = record_base(path)
    hea = base.with_name(base.name + ".hea")
    names: list[str] = []
    try:
        lines = header_lines(hea)
    except OSError:
        lines = []
    for line in lines[1:]:
        first = line.split()[0]
        names += [first, first + ".hea"]  # a signal file, or a segment's header
    names += [f"{base.name}.{ext}" for ext in ANNOTATORS]
    files = [hea] + [base.with_name(n) for n in dict.fromkeys(names) if n != hea.name]
    return [f for f in files if f.is_file()]


def complete_frames(base: Path, header) -> tuple[int, list[str]]:
    """Frames every data file holds in full, and notes on files that are cut short.

    Raises
    ------
    ReaderError
        A data file is missing or holds no complete frame.
    """
    notes: list[str] = []
    frames = int(header.sig_len or 0)
    for name in dict.fromkeys(header.file_name):
        dat = base.parent / name
        if not dat.is_file():
            raise ReaderError(f"{dat}: data file named by {base}.hea is missing")
        mine = [i for i, f in enumerate(header.file_name) if f == name]
        per_frame = sum(header.samps_per_frame[i] * FORMAT_BYTES.get(str(header.fmt[i]), 2.0)
                        for i in mine)
        offset = int((header.byte_offset or [0] * len(header.file_name))[mine[0]] or 0)
        have = int((dat.stat().st_size - offset) // per_frame)
        if have <= 0:
            raise ReaderError(f"{dat}: data file holds no complete frame "
                              f"({dat.stat().st_size} bytes); expected {frames} frames")
        if header.sig_len and have < frames:
            notes.append(f"{dat.name} is cut short: {have} of {frames} frames "
                         f"({have / header.fs:.1f} of {frames / header.fs:.1f} s); the "
                         "complete frames are kept")
            frames = have
    return frames, notes


def read_header(base: Path):
    """``wfdb.rdheader`` with plain-words errors for a missing, empty or broken header."""
    # lazy: wfdb (and its pandas/requests imports) is needed only for WFDB records
    import wfdb

    hea = base.with_name(base.name + ".hea")
    if not hea.is_file():
        raise ReaderError(f"{hea}: WFDB header file not found (a record needs NAME.hea "
                          "beside NAME.dat)")
    if hea.stat().st_size == 0:
        raise ReaderError(f"{hea}: header file is empty (0 bytes); expected a WFDB header")
    with library_errors(hea, "reading the WFDB header"):
        header = wfdb.rdheader(str(base))
    if not header.n_sig:
        raise ReaderError(f"{hea}: the header declares no signals")
    if not header.fs or header.fs <= 0:
        raise ReaderError(f"{hea}: sampling frequency {header.fs!r}; expected > 0 Hz")
    return header


def wfdb_markers(base: Path, frame_rate: float) -> pd.DataFrame:
    """Markers from every annotation file of the record (empty table when there is none).

    Examples
    --------
    >>> len(wfdb_markers(Path("no/such/record"), 360.0))
    0
    """
    # lazy: wfdb is needed only for WFDB records
    import wfdb

    onsets: list[float] = []
    codes: list[int] = []
    labels: list[str] = []
    for ext in ANNOTATORS:
        if not base.with_name(f"{base.name}.{ext}").is_file():
            continue
        with library_errors(base, f"reading the .{ext} annotations"):
            ann = wfdb.rdann(str(base), ext)
        fs = float(ann.fs or frame_rate)
        for sample, symbol, aux in zip(ann.sample, ann.symbol, ann.aux_note, strict=False):
            note = str(aux or "").strip("\x00 ")
            onsets.append(float(sample) / fs)
            codes.append(code_from_text(note) if note else NO_CODE)
            labels.append(f"{symbol} {note}".strip())
    return make_markers(onsets, codes, labels) if onsets else empty_markers()


def read_wfdb(path: Path | str) -> Recording:
    """Read a WFDB record; each channel keeps its own rate, annotations become markers.

    Parameters
    ----------
    path : path-like
        ``NAME``, ``NAME.hea`` or ``NAME.dat``.

    Returns
    -------
    physio.recording.Recording
        Channel kinds are left ``other`` (the registry's ``finish_recording`` sets them).

    Raises
    ------
    physio.errors.ReaderError
        Missing or empty header, missing data file, no complete frame, or a library error
        (named with the file and the step).

    Examples
    --------
    >>> rec = read_wfdb("../shared/data/real/drive05.hea")  # doctest: +SKIP
    >>> {n: c.sampling_rate for n, c in rec.channels.items()}["ECG"]  # doctest: +SKIP
    496.0
    """
    # lazy: wfdb is needed only for WFDB records
    import wfdb

    base = record_base(path)
    header = read_header(base)
    frames, notes = complete_frames(base, header)
    with library_errors(base, "reading the WFDB signals"):
        rec = wfdb.rdrecord(str(base), sampto=frames, smooth_frames=False)
    stated = header_units(base.with_name(base.name + ".hea"))
    channels: dict[str, Channel] = {}
    for i, name in enumerate(rec.sig_name):
        units = stated[i] if i < len(stated) else None
        if units is None:
            notes.append(f"{name}: units not in the header (WFDB would assume mV)")
        key = name if name not in channels else f"{name} ({i + 1})"
        rate = float(rec.fs) * int(rec.samps_per_frame[i])
        channels[key] = Channel(key, np.asarray(rec.e_p_signal[i], dtype=np.float64), rate,
                                units or "")
    start = None
    if rec.base_date is not None and rec.base_time is not None:
        start = datetime.combine(rec.base_date, rec.base_time)
    return Recording(channels=channels, source=Path(path), format="wfdb",
                     markers=wfdb_markers(base, float(rec.fs)), start_time=start,
                     meta={"reader_notes": notes, "frame_rate_hz": float(rec.fs)})
