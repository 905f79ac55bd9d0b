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
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conditions.bids import PHASES_COLUMNS, WINDOWS_COLUMNS, read_tsv
from physio.cli import main
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
    # windows tile the whole recording and an SCR belongs to the window holding its peak:
    # the per-window counts add up to the recording's SCRs, and the rate is count / minutes
    assert w.scr_count.sum() == result.quality()["n_scr"] > 10
    minutes = (w.end_s - w.start_s) / 60
    np.testing.assert_allclose(w.scr_rate_per_min, w.scr_count / minutes)
    assert len(result.beats) > 25 * 40
    assert result.quality()["non_responder"] is False


@pytest.mark.shared
def test_lab_stimulus_codes_are_not_mistaken_for_phases(lab_recording):
    # codes 1/2 are session_start/session_end in this protocol's table: events, not phases
    result = process_recording(lab_recording, PipelineSettings(window_s=120))
    assert set(result.windows.phase) == {"recording"}
    assert (result.windows.end_s - result.windows.start_s).max() == 120


@pytest.fixture(scope="module")
def lab_csv(shared_data, tmp_path_factory) -> Path:
    """The lab session as an analyst's CSV export: no time column, no units in the header."""
    lab = shared_data / "lab"
    data = {k: np.load(gzip.open(lab / f"Task1_{k}.npy.gz")) for k in ("ECG", "EDA", "Stim")}
    path = tmp_path_factory.mktemp("lab") / "lab01.csv"
    pd.DataFrame({"ecg_au": data["ECG"], "gsr": data["EDA"],
                  "stim": data["Stim"].astype(int)}).to_csv(path, index=False,
                                                            float_format="%.7g")
    return path


@pytest.mark.shared
def test_lab_session_through_the_batch_command(lab_csv, tmp_path):
    deriv = tmp_path / "deriv"
    code = main(["process", str(lab_csv), "--out", str(deriv), "--no-progress",
                 "--column-map", "ecg=ecg_au,eda=gsr,marker=stim", "--sampling-rate", "1000",
                 "--eda-units", "uS"])
    assert code == 0
    (table,) = deriv.rglob("sub-lab01_*_desc-windows_physio.tsv")
    w = read_tsv(table, WINDOWS_COLUMNS)
    assert len(w) == 26 and set(w.phase) == {"recording"}
    # the ECG and EDA are clean from start to end: every full window is valid, with no
    # corrected beat anywhere; the last window is a 37-s remainder: partial, and below 50 s
    # it has no HR/HRV value (issue 10: it must not enter the model as a minute)
    full, last = w.iloc[:25], w.iloc[25]
    assert full.ecg_valid.astype(bool).all(), full.loc[~full.ecg_valid.astype(bool),
                                                       "ecg_reason"]
    assert w.eda_valid.astype(bool).all(), w.loc[~w.eda_valid.astype(bool), "eda_reason"]
    assert (w.corrected_pct == 0).all() and (full.excluded_diff_pct == 0).all()
    assert full.hr_bpm.between(65, 95).all() and full.rmssd_ms.between(10, 60).all()
    assert bool(last.partial) and not last.ecg_valid and np.isnan(last.rmssd_ms)
    assert "shorter than 50 s" in last.ecg_reason
    # HF needs >= 120 s (Laborde et al. 2017): NaN with that reason in every 60-s window
    assert not w.hf_valid.astype(bool).any() and w.lnhf.isna().all()
    assert full.hf_reason.str.startswith("window shorter than 120 s").all()
    # no belt in this recording: the ECG-derived breathing rate is reported where its RSA
    # and QRS-amplitude routes agree (issue 22), in the adult resting range; elsewhere it
    # is NaN and the reason says the routes disagree
    edr = w.resp_source == "ecg"
    assert edr.sum() >= 5 and w.resp_rate_bpm[edr].notna().all()
    assert w.resp_rate_bpm[edr].between(6, 30).all(), w.resp_rate_bpm.describe()
    assert w.resp_rate_bpm[~edr].isna().all()
    assert w.resp_reason[~edr].str.startswith("ECG-derived: ").all()
    assert w.edr_quality.between(0, 1).all() and w.ecg_quality[:25].gt(0.9).all()
    assert w.resp_amplitude.isna().all()  # depth only from a belt
    # the phase table: one row for the one phase, HF and breathing beside it
    (phases,) = deriv.rglob("sub-lab01_*_desc-phases_physio.tsv")
    p = read_tsv(phases, PHASES_COLUMNS)
    assert len(p) == 1 and p.phase[0] == "recording" and p.resp_source[0] == "ecg"
    assert 9 <= p.resp_rate_bpm[0] <= 24 and p.hf_valid[0] and p.lnhf[0] > 0
