"""Every processed recording of a derivatives folder, worst first, with its review status.

The list is what an analyst sees first: the recordings whose channels are valid in the
fewest windows, and whose quality is lowest, come first, because those are the ones the
automatic rules are least likely to have got right.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from conditions.bids import SessionFiles
from physio.edits import read_edits, review_status
from physio.outputs import PROVENANCE_KEY
from physio.qc_valid import worst_valid_pct

#: ``sub-X_ses-Y_task-Z_desc-windows_physio.json``: the sidecar every processed recording has
WINDOWS_JSON_RE = re.compile(
    r"^sub-(?P<sub>[A-Za-z0-9]+)_ses-(?P<ses>[A-Za-z0-9]+)_task-(?P<task>[A-Za-z0-9]+)"
    r"_desc-windows_physio\.json$")
#: the windows' quality columns averaged into a recording's mean quality
QUALITY_COLUMNS = ("ecg_quality", "eda_quality", "resp_quality")


@dataclass(frozen=True)
class RecordingEntry:
    """One processed recording as the list shows it.

    ``*_valid_pct`` are the shares of complete windows whose values are valid (None: the
    channel was not recorded); ``mean_quality`` is the mean of the windows' quality
    columns (NaN without any).
    """

    prefix: str
    participant: str
    session: str
    task: str
    windows_json: Path
    ecg_valid_pct: float | None
    eda_valid_pct: float | None
    resp_valid_pct: float | None
    mean_quality: float
    status: str
    n_edits: int
    condition: str = "n/a"

    @property
    def files(self) -> SessionFiles:
        """The recording's derivative paths (``files.windows_tsv(deriv)``...)."""
        return SessionFiles(self.windows_json.parents[3], self.participant, self.session,
                            self.task)

    @property
    def deriv(self) -> Path:
        """The derivatives folder that holds it."""
        return self.windows_json.parents[3]


def session_files_of(windows_json: Path) -> SessionFiles:
    """The :class:`~conditions.bids.SessionFiles` of a windows sidecar (root: its
    derivatives folder).

    Raises
    ------
    ValueError
        A file name that is not a windows sidecar.

    Examples
    --------
    >>> p = Path("/d/sub-01/ses-1/beh/sub-01_ses-1_task-induction_desc-windows_physio.json")
    >>> session_files_of(p).prefix
    'sub-01_ses-1_task-induction'
    """
    m = WINDOWS_JSON_RE.match(Path(windows_json).name)
    if m is None:
        raise ValueError(f"{windows_json}: not a windows sidecar "
                         "(sub-X_ses-Y_task-Z_desc-windows_physio.json)")
    return SessionFiles(Path(windows_json).parents[3], m["sub"], m["ses"], m["task"])


def mean_quality(windows: pd.DataFrame) -> float:
    """Mean of the complete windows' quality columns (NaN when none holds a value).

    Examples
    --------
    >>> mean_quality(pd.DataFrame({"ecg_quality": [0.9, 0.5], "eda_quality": [1.0, np.nan],
    ...                            "partial": [False, False]}))
    0.8
    """
    if "partial" in windows:
        windows = windows[~windows["partial"].astype(str).str.lower().isin(("true", "1"))]
    values = [pd.to_numeric(windows[c], errors="coerce").to_numpy(float)
              for c in QUALITY_COLUMNS if c in windows]
    values = np.concatenate(values) if values else np.zeros(0)
    values = values[np.isfinite(values)]
    return round(float(values.mean()), 6) if len(values) else math.nan


def recording_entry(windows_json: Path) -> RecordingEntry:
    """The list entry of one processed recording, from its sidecar, windows and edit file."""
    files = session_files_of(windows_json)
    deriv = files.root
    prov: dict[str, Any] = json.loads(Path(windows_json).read_text(encoding="utf-8")).get(
        PROVENANCE_KEY) or {}
    quality = prov.get("quality") or {}
    windows_tsv = files.windows_tsv(deriv)
    windows = pd.read_csv(windows_tsv, sep="\t", na_values=["n/a"]) if windows_tsv.is_file() \
        else pd.DataFrame()
    edits = read_edits(files.edits_tsv(deriv))
    return RecordingEntry(
        prefix=files.prefix, participant=files.subject, session=files.session,
        task=files.task, windows_json=Path(windows_json),
        ecg_valid_pct=quality.get("ecg_valid_pct"), eda_valid_pct=quality.get("eda_valid_pct"),
        resp_valid_pct=quality.get("resp_valid_pct"), mean_quality=mean_quality(windows),
        status=review_status(edits), n_edits=len(edits),
        condition=str(prov.get("condition", "n/a")))


def sort_key(entry: RecordingEntry) -> tuple:
    """Worst first: the lowest channel valid share, then ECG, EDA and belt valid shares,
    then the mean quality (a channel not recorded counts as fully valid; no quality at all
    counts as 0), then the name.

    Examples
    --------
    >>> e = dict(participant="1", session="1", task="t", windows_json=Path("x"),
    ...          status="not reviewed", n_edits=0)
    >>> a = RecordingEntry("a", ecg_valid_pct=90.0, eda_valid_pct=40.0, resp_valid_pct=None,
    ...                    mean_quality=0.9, **e)
    >>> b = RecordingEntry("b", ecg_valid_pct=60.0, eda_valid_pct=95.0, resp_valid_pct=None,
    ...                    mean_quality=0.7, **e)
    >>> [x.prefix for x in sorted([b, a], key=sort_key)]
    ['a', 'b']
    """
    def share(v: float | None) -> float:
        return 100.0 if v is None or not np.isfinite(float(v)) else float(v)

    shares = {"ecg_valid_pct": entry.ecg_valid_pct, "eda_valid_pct": entry.eda_valid_pct,
              "resp_valid_pct": entry.resp_valid_pct}
    q = entry.mean_quality if np.isfinite(entry.mean_quality) else 0.0
    return (worst_valid_pct(shares), share(entry.ecg_valid_pct), share(entry.eda_valid_pct),
            share(entry.resp_valid_pct), q, entry.prefix)


def recording_catalog(deriv: Path, participant: str | None = None) -> list[RecordingEntry]:
    """Every processed recording under ``deriv`` (one windows sidecar each), worst first.

    ``participant`` (with or without ``sub-``) keeps that participant's recordings only.
    A sidecar that cannot be read is left out of the list rather than stopping it.
    """
    deriv = Path(deriv)
    label = participant[4:] if participant and participant.startswith("sub-") else participant
    entries = []
    for path in sorted(deriv.glob("sub-*/ses-*/beh/*_desc-windows_physio.json")):
        if not WINDOWS_JSON_RE.match(path.name):
            continue
        try:
            entry = recording_entry(path)
        except (OSError, ValueError):
            continue
        if label is None or entry.participant == label:
            entries.append(entry)
    return sorted(entries, key=sort_key)
