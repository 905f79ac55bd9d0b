"""BrainVision (``.vhdr`` + ``.vmrk`` + ``.eeg``) via mne.

mne is a core dependency and reads BrainVision headers, all three binary formats and the
marker file. BrainVision has one sampling rate for all channels, so mne's resampling of
mixed-rate EDF files does not arise here. mne converts known units to SI (µV → V,
µS → S); the reader converts back to the units the file declares, so units are recorded
"as given" like every other reader. Markers: ``Stimulus/S 11`` → code 11 (``R 11``
responses likewise), label = the full description.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from physio.errors import ReaderError
from physio.io.assemble import library_errors, make_markers
from physio.io.read_edf import annotation_code
from physio.recording import Channel, Recording

#: mne's BrainVision unit scaling (mne/io/brainvision/brainvision.py, ``_unit_dict``);
#: a test round-trips values so a change in mne is noticed.
_MNE_UNIT_SCALE = {"V": 1.0, "µV": 1e-6, "uV": 1e-6, "mV": 1e-3, "nV": 1e-9, "µS": 1e-6,
                   "uS": 1e-6, "S": 1.0}


def _header_path(path: Path) -> Path:
    if path.suffix.lower() == ".vhdr":
        return path
    vhdr = path.with_suffix(".vhdr")
    if vhdr.is_file():
        return vhdr
    raise ReaderError(
        f"{path}: a BrainVision recording is read from its .vhdr header; {vhdr.name} not found"
    )


def read_brainvision(path: Path | str) -> Recording:
    """Read a BrainVision recording (give the .vhdr, or the .eeg/.vmrk beside it).

    Examples
    --------
    >>> rec = read_brainvision("session.vhdr")  # doctest: +SKIP
    """
    path = Path(path)
    vhdr = _header_path(path)
    # lazy: mne is optional and slow to import; needed for BrainVision files only
    import mne

    with (
        warnings.catch_warnings(record=True) as caught,
        library_errors(vhdr, "reading as BrainVision with mne (header, .vmrk and .eeg)"),
    ):
        warnings.simplefilter("always")
        raw = mne.io.read_raw_brainvision(vhdr, preload=True, verbose="error")
        data = raw.get_data()
        rate = float(raw.info["sfreq"])
        orig_units = dict(getattr(raw, "_orig_units", {}) or {})
        ann = raw.annotations
        onsets = np.asarray(ann.onset, dtype=np.float64) - raw.first_time
        texts = [str(d) for d in ann.description]
    notes = [f"mne warning: {w.message}" for w in caught[:5]]
    channels: dict[str, Channel] = {}
    for i, name in enumerate(raw.ch_names):
        units = str(orig_units.get(name, "")).strip()
        values = data[i] / _MNE_UNIT_SCALE.get(units, 1.0)
        channels[name] = Channel(name, values, rate, units)
    keep = [not t.startswith(("New Segment", "BAD", "EDGE")) for t in texts]
    table = make_markers(
        onsets[np.asarray(keep, dtype=bool)] if len(texts) else [],
        [annotation_code(t.split("/", 1)[-1]) for t, k in zip(texts, keep) if k],
        [t for t, k in zip(texts, keep) if k],
    )
    start = raw.info.get("meas_date")
    return Recording(
        channels=channels, source=vhdr, format="brainvision", markers=table,
        start_time=start, meta={"reader_notes": notes},
    )
