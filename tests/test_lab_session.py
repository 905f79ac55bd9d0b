"""The real lab session in ../shared/data/lab (25.6 min, 1000 Hz ECG + EDA + stimulus
channel) runs end to end with plausible values in every window.

The files are float64 at 1000 Hz (shared/data/README.md); the ECG is in arbitrary units.
The stimulus channel holds 1-sample pulses of 1 or 2 (72 stimuli, 36 of each, every
~10.7 s from 399 s to 1400 s): they are stimulus codes, not this protocol's phase codes,
so the whole recording is analysed as one phase, with that assumption in the warnings.
"""

from __future__ import annotations

import dataclasses
import gzip

import numpy as np
import pandas as pd
import pytest

from physio.pipeline import PipelineSettings, process_recording
from physio.recording import Channel, Recording

FS = 1000.0


@pytest.fixture(scope="module")
def lab_recording(shared_data) -> Recording:
    lab = shared_data / "lab"
    data = {k: np.load(gzip.open(lab / f"Task1_{k}.npy.gz")) for k in ("ECG", "EDA", "Stim")}
    stim = data["Stim"]
    onsets = np.flatnonzero((stim[1:] != 0) & (stim[:-1] == 0)) + 1
    markers = pd.DataFrame({"onset_s": onsets / FS, "code": stim[onsets].astype(int),
                            "label": [f"stim_{int(v)}" for v in stim[onsets]]})
    return Recording(
        channels={"ECG": Channel("ECG", data["ECG"], FS, "", "ecg"),
                  "EDA": Channel("EDA", data["EDA"], FS, "uS", "eda")},
        source=lab / "Task1_ECG.npy.gz",
        format="npy",
        markers=markers,
        meta={"participant_id": "lab01", "session": "1"},
    )


@pytest.mark.shared
def test_lab_session_end_to_end(lab_recording):
    # stimulus codes 1 and 2 are not phase codes of this protocol: analysed as one phase
    rec = dataclasses.replace(lab_recording, markers=lab_recording.markers.assign(code=0))
    result = process_recording(rec, PipelineSettings())
    w = result.windows
    # 25.6 min -> 25 full windows and a flagged 37-s partial one (>= 50 % of 60 s)
    assert len(w) == 26 and w.partial.tolist() == [False] * 25 + [True]
    assert set(w.phase) == {"recording"}
    assert any("no protocol phase markers" in m for m in result.warnings)
    assert w.ecg_valid.mean() >= 0.9
    valid = w[w.ecg_valid.astype(bool)]
    assert valid.hr_bpm.between(40, 140).all(), valid.hr_bpm.describe()
    assert valid.rmssd_ms.between(3, 250).all(), valid.rmssd_ms.describe()
    assert w.eda_valid.all()
    assert w.scl_us.between(5, 16).all()  # the raw EDA spans 6.6-14.5 uS
    assert (w.scr_count >= 0).all() and w.scr_count.sum() > 10
    assert len(result.beats) > 25 * 40
    assert result.quality()["non_responder"] is False


@pytest.mark.shared
def test_lab_stimulus_codes_are_not_mistaken_for_phases(lab_recording):
    # codes 1/2 are session_start/session_end in this protocol's table: events, not phases
    result = process_recording(lab_recording, PipelineSettings(window_s=120))
    assert set(result.windows.phase) == {"recording"}
    assert (result.windows.end_s - result.windows.start_s).max() == 120
