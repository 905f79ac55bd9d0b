"""Small synthetic signals and file writers shared by the reader tests (not a test file)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conditions import bids


def synthetic_ecg(seconds: float, rate: float, *, amplitude_mv: float = 1.2, hr_bpm=66.0):
    """A spiky ECG-like trace in mV: one narrow Gaussian R wave per beat plus a T wave."""
    t = np.arange(int(seconds * rate)) / rate
    beats = np.arange(0.3, seconds, 60.0 / hr_bpm)
    x = np.zeros_like(t)
    for b in beats:
        x += amplitude_mv * np.exp(-0.5 * ((t - b) / 0.012) ** 2)
        x += 0.25 * amplitude_mv * np.exp(-0.5 * ((t - b - 0.25) / 0.04) ** 2)
    return x, beats


def synthetic_eda(seconds: float, rate: float, level_us: float = 5.0):
    t = np.arange(int(seconds * rate)) / rate
    return level_us + 0.3 * np.sin(2 * np.pi * t / 40.0)


def write_bids_session(
    root: Path,
    *,
    subject="001",
    seconds=20.0,
    rate=250.0,
    events=((1.0, 11, "baseline_onset"), (6.5, 21, "induction_onset")),
    condition="body_scan",
    listed=True,
    start_time=0.0,
) -> bids.SessionFiles:
    """A minimal raw dataset with one session written through the data contract."""
    files = bids.SessionFiles(root, subject, "1", "induction")
    bids.ensure_dataset(root, "test", "induction")
    ecg, _ = synthetic_ecg(seconds, rate)
    eda = synthetic_eda(seconds, rate)
    bids.write_physio(files, {"ecg": ecg, "eda": eda}, rate, {"ecg": "mV", "eda": "uS"},
                      start_time=start_time)
    for onset, code, label in events:
        bids.append_tsv_row(
            files.events_tsv, list(bids.EVENTS_COLUMNS),
            {"onset": onset, "duration": 0.0, "trial_type": label, "value": code},
        )
    if listed:
        bids.upsert_participant(
            root, {"participant_id": f"sub-{subject}", "age": 30, "sex": "f",
                   "condition": condition, "session_code": "X1", "status": "complete"},
        )
    return files
