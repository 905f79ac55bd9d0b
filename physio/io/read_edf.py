"""EDF/EDF+ and BDF/BDF+ files via edfio.

Why edfio and not mne: an EDF file may store each signal at its own rate (e.g. ECG at
1000 Hz, EDA at 32 Hz), and ``mne.io.read_raw_edf`` resamples every signal to the highest
rate on read, which this project refuses (each channel keeps its own rate). edfio returns
every signal with its own sampling frequency, physical units and EDF+ annotations, reads
BDF (24-bit) the same way, is pure numpy and is already a project dependency. pyedflib
would do as well but needs a compiled extension.

Markers come from EDF+/BDF+ annotations (text → label, a leading integer or ``S 11``-style
text → code) and from a BioSemi ``Status`` channel (lower 16 bits = trigger code).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from physio.errors import ReaderError
from physio.io.assemble import NO_CODE, code_from_text, library_errors, make_markers
from physio.recording import Channel, Recording

_STIM_TEXT = re.compile(r"^\s*(?:stimulus/)?[sr]\s*(\d+)\s*$", re.IGNORECASE)


def annotation_code(text: str) -> int:
    """Integer code of an annotation text: ``"11"``, ``"11 onset"``, ``"S 11"``, else -1.

    Examples
    --------
    >>> annotation_code("S 11"), annotation_code("21 induction"), annotation_code("Lights off")
    (11, 21, -1)
    """
    m = _STIM_TEXT.match(str(text))
    if m:
        return int(m.group(1))
    return code_from_text(text)


def read_edf(path: Path | str) -> Recording:
    """Read an EDF(+) or BDF(+) file; each signal keeps its own rate.

    Examples
    --------
    >>> rec = read_edf("session.edf")  # doctest: +SKIP
    """
    path = Path(path)
    # lazy: edfio (optional reader library) is imported when an EDF/BDF file is read
    import edfio

    with open(path, "rb") as fh:
        is_bdf = fh.read(1) == b"\xff"
    kind = "BDF" if is_bdf else "EDF"
    with (
        warnings.catch_warnings(record=True) as caught,
        library_errors(path, f"reading as {kind} with edfio"),
    ):
        warnings.simplefilter("always")
        edf = edfio.read_bdf(path) if is_bdf else edfio.read_edf(path)
        signals = list(edf.signals)
        annotations = list(edf.annotations)
        continuous = bool(edf.is_continuous)
    # edfio warns (and keeps the complete records) when the file is cut short: an
    # interrupted recording whose data up to the cut is intact.
    notes: list[str] = [f"edfio: {w.message}" for w in caught[:5]]
    if not continuous:
        notes.append(
            f"{kind}+D (discontinuous) file: samples are placed back to back; gaps between "
            "data records are not represented"
        )
    channels: dict[str, Channel] = {}
    for i, sig in enumerate(signals):
        name = str(sig.label).strip() or f"signal{i + 1}"
        if name in channels:
            name = f"{name} ({i + 1})"
        with library_errors(path, f"reading signal {name!r} (the data records may be cut)"):
            rate = float(sig.sampling_frequency)
            if name.lower() == "status" and is_bdf:
                # BioSemi: trigger inputs are the lower 16 bits of the Status channel
                data = (np.asarray(sig.digital, dtype=np.int64) & 0xFFFF).astype(np.float64)
                units = ""
            else:
                data = np.asarray(sig.data, dtype=np.float64)
                units = str(sig.physical_dimension).strip()
        if data.size == 0:
            raise ReaderError(f"{path}: signal {name!r} has no samples; the file has no data")
        channels[name] = Channel(name, data, rate, units)
    table = make_markers(
        [float(a.onset) for a in annotations],
        [annotation_code(a.text) if a.text else NO_CODE for a in annotations],
        [str(a.text) for a in annotations],
    )
    start_time = None
    try:
        start_time = edf.startdatetime
    except Exception:  # noqa: BLE001 - anonymised or malformed start date: leave it unset
        notes.append("start date/time is anonymised or unreadable")
    return Recording(
        channels=channels, source=path, format="bdf" if is_bdf else "edf", markers=table,
        start_time=start_time, meta={"reader_notes": notes},
    )
