"""Issue 22 through the pipeline: the quality indices decide what `soothe physio process`
reports (drift-only ECG, EDA steps, a belt that goes quiet, clean real recordings)."""

from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.signal import butter, sosfiltfilt

from conditions.bids import BEATS_COLUMNS, SCR_COLUMNS, WINDOWS_COLUMNS, read_tsv
from physio.cli import main
from physio.eda import EdaResult
from physio.io.read_wfdb import read_wfdb
from physio.pipeline import process_recording
from physio.recording import Channel, Recording
from physio.signal_quality import scr_rows
from soothe.simulate.ecg_stress import stress_case
from tests.readers_fixtures import synthetic_eda

START = pd.DataFrame({"onset_s": [0.0], "code": [0], "label": ["start"]})


def recording(channels: dict[str, Channel], name: str = "sub-q1.csv") -> Recording:
    return Recording(channels, source=Path(name), format="csv", markers=START)


def drift_only(fs: float, seed: int = 0, minutes: float = 10.0) -> np.ndarray:
    """Slow drift +-1.5 mV plus noise: an "ECG" with no QRS anywhere."""
    rng = np.random.default_rng(seed)
    n = int(minutes * 60 * fs)
    d = sosfiltfilt(butter(2, 0.3, fs=fs, output="sos"), np.cumsum(rng.normal(size=n)))
    d = 1.5 * (d - d.mean()) / np.abs(d - d.mean()).max()
    return d + rng.normal(0, 0.02, n)


def stepped_eda(fs: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """10 min of skin conductance with 20 SCRs and 8 electrode steps between two samples."""
    rng = np.random.default_rng(seed)
    t = np.arange(0, 600, 1 / fs)
    x = 5 + 0.3 * np.sin(2 * np.pi * t / 300) + rng.normal(0, 0.003, len(t))
    for s in rng.uniform(5, 590, 20):
        x += 0.3 * np.where(t > s, (t - s) * np.exp(-(t - s) / 2.0), 0)
    steps = np.sort(rng.uniform(10, 590, 8))
    for k, s in enumerate(steps):
        x[t >= s] += (-1) ** k * rng.uniform(1.0, 4.0)
    return x, steps


@pytest.mark.parametrize("fs", [250.0, 1000.0])
def test_drift_only_ecg_gives_no_heart_rate(fs):
    eda = synthetic_eda(600, 25.0)
    rec = recording({"ECG": Channel("ECG", drift_only(fs), fs, "mV", "ecg"),
                     "EDA": Channel("EDA", eda, 25.0, "uS", "eda")})
    w = process_recording(rec).windows
    full = w[~w.partial.astype(bool)]
    assert len(full) == 10
    assert full.ecg_valid.astype(bool).sum() <= 1, full.ecg_reason.tolist()
    bad = full[~full.ecg_valid.astype(bool)]
    assert bad.hr_bpm.isna().all() and bad.rmssd_ms.isna().all() and bad.sdnn_ms.isna().all()
    assert bad.lnrmssd.isna().all()
    assert (bad.ecg_reason.str.len() > 0).all()
    assert (full.ecg_quality < 0.66).sum() >= 9


def test_eda_steps_are_bridged_and_no_scr_near_them():
    fs = 100.0
    x, steps = stepped_eda(fs)
    rec = recording({"EDA": Channel("EDA", x, fs, "uS", "eda")})
    result = process_recording(rec)
    found = result.info["eda_artifacts"]["artifacts_s"]
    for s in steps:  # every step is an artefact
        assert any(a <= s <= b for a, b, _ in found), s
    on, pk = result.eda.scr_onset_s, result.eda.scr_peak_s
    for s in steps:  # no SCR whose rise lies within 1 s of a step
        assert not ((pk >= s - 1.0) & (on <= s + 1.0)).any(), s
    assert len(result.scrs) == len(pk) > 5
    assert list(result.scrs.columns) == list(SCR_COLUMNS)
    # the windows count exactly the SCRs of the table, by the window holding the peak
    w = result.windows
    counted = w.loc[w.eda_valid.astype(bool)]
    per_window = result.scrs.groupby(["phase", "window"]).size()
    for row in counted.itertuples():
        assert row.scr_count == per_window.get((row.phase, row.window), 0)
    assert w.eda_quality.between(0, 1).all() and (w.eda_quality < 1).any()


def test_belt_that_goes_quiet_gives_no_rate():
    fs = 25.0
    t = np.arange(0, 600, 1 / fs)
    rng = np.random.default_rng(1)
    belt = np.where(t < 180, np.sin(2 * np.pi * 0.25 * t), 0.0) + rng.normal(0, 0.01, len(t))
    rec = recording({"EDA": Channel("EDA", synthetic_eda(600, 25.0), 25.0, "uS", "eda"),
                     "Resp": Channel("Resp", belt, fs, "V", "rsp")})
    w = process_recording(rec).windows
    quiet = w[w.start_s >= 180]
    assert len(quiet) >= 7
    assert quiet.resp_rate_bpm.isna().all() and not quiet.resp_valid.astype(bool).any()
    assert quiet.resp_reason.str.contains("belt is quiet").all()
    breathing = w[w.end_s <= 180]
    assert np.allclose(breathing.resp_rate_bpm, 15, atol=1)
    assert (breathing.resp_source == "belt").all() and breathing.resp_quality.gt(0.5).all()


def test_desc_scr_and_quality_sidecar_through_the_command(tmp_path):
    fs = 100.0
    x, _ = stepped_eda(fs)
    t = np.arange(len(x)) / fs
    csv = tmp_path / "sub-q2_ses-1.csv"
    pd.DataFrame({"time": t, "EDA": x}).to_csv(csv, index=False)
    deriv = tmp_path / "deriv"
    code = main(["process", str(csv), "--out", str(deriv), "--no-progress",
                 "--eda-units", "uS"])
    assert code == 0
    (scr,) = deriv.rglob("*_desc-scr_physio.tsv")
    table = read_tsv(scr)
    assert list(table.columns) == list(SCR_COLUMNS) and len(table) > 5
    (side,) = deriv.rglob("*_desc-windows_physio.json")
    meta = json.loads(side.read_text())
    methods = meta["SootheProvenance"]["methods"]
    assert methods["eda_artifacts"]["max_slope_us_per_s"] == 10.0
    assert methods["eda_artifacts"]["artifacts_s"]
    assert methods["ecg_quality"]["window_corr_min"] == 0.66
    assert methods["rsp_quality"]["agree_bpm"] == 1.5
    for key in ("ecg_quality", "eda_quality", "resp_quality", "edr_quality"):
        assert key in meta and key in WINDOWS_COLUMNS
    (beats_json,) = deriv.rglob("*_desc-beats_physio.json")
    assert "template_corr" in json.loads(beats_json.read_text())
    assert "low_quality" in BEATS_COLUMNS


def test_scr_rows_window_of_the_peak():
    w = pd.DataFrame({"phase": ["a", "a"], "window": [1, 2], "start_s": [0.0, 60.0],
                      "end_s": [60.0, 120.0]})
    r = EdaResult(10.0, 0.0, np.zeros(3), np.zeros(3), np.array([58.0, 70.0, 130.0]),
                  np.array([61.0, 72.0, 131.0]), np.array([0.2, 0.1, 0.3]))
    t = scr_rows(r, w, {"participant_id": "sub-1", "session": "1", "condition": "n/a"})
    assert t["window"].tolist()[:2] == [2, 2] and pd.isna(t["window"].iloc[2])
    assert t["phase"].tolist() == ["a", "a", "n/a"]


def real_lab(shared: Path, name: str) -> Recording:
    df = pd.read_csv(shared / "real" / f"{name}.csv")
    return recording({"ECG": Channel("ECG", df["ECG"].to_numpy(float), 100.0, "mV", "ecg"),
                      "EDA": Channel("EDA", df["EDA"].to_numpy(float), 100.0, "uS", "eda"),
                      "RSP": Channel("RSP", df["RSP"].to_numpy(float), 100.0, "V", "rsp")},
                     f"{name}.csv")


@pytest.mark.shared
@pytest.mark.parametrize("name", ["bio_resting_8min_100hz", "bio_eventrelated_100hz"])
def test_clean_real_recordings_keep_their_ecg_windows(shared_data, name):
    w = process_recording(real_lab(shared_data, name)).windows
    full = w[~w.partial.astype(bool)]
    assert full.ecg_valid.astype(bool).mean() >= 0.9, full.ecg_reason.tolist()
    assert full.ecg_quality.min() > 0.9
    assert full.eda_quality.eq(1).all()


@pytest.mark.shared
def test_lab_1000hz_keeps_its_ecg_windows(shared_data):
    ecg = np.load(gzip.open(shared_data / "lab" / "Task1_ECG.npy.gz"))
    rec = recording({"ECG": Channel("ECG", ecg, 1000.0, "mV", "ecg")}, "Task1.csv")
    result = process_recording(rec)
    full = result.windows[~result.windows.partial.astype(bool)]
    assert full.ecg_valid.astype(bool).mean() >= 0.9, full.ecg_reason.tolist()
    beats = result.beats[result.beats.beat_class != "removed"]
    assert beats.low_quality.mean() < 0.01


@pytest.mark.shared
def test_field_recording_keeps_its_clean_ecg_windows(shared_data):
    rec = read_wfdb(shared_data / "real" / "drive05")
    ch = rec.channels
    # the reader leaves kinds and these units to the user (no units in the header)
    keep = {"ECG": dataclasses.replace(ch["ECG"], kind="ecg", units="mV"),
            "hand GSR": dataclasses.replace(ch["hand GSR"], kind="eda", units="uS"),
            "RESP": dataclasses.replace(ch["RESP"], kind="rsp")}
    result = process_recording(Recording(keep, source=Path("drive05.csv"), format="csv",
                                         markers=START))
    w = result.windows[~result.windows.partial.astype(bool)]
    assert w.ecg_valid.astype(bool).mean() >= 0.9
    # the -11..+7 mV movement artefacts (minutes 32-36): no heart rate reported there
    art = w[(w.start_s >= 1920) & (w.end_s <= 2160)]
    assert len(art) and art.hr_bpm.isna().all()
    # no counted SCR within 1 s of an EDA artefact
    on, pk = result.eda.scr_onset_s, result.eda.scr_peak_s
    found = result.info["eda_artifacts"]["artifacts_s"]
    assert found
    for a, b, _ in found:
        assert not ((pk >= a - 1.0) & (on <= b + 1.0)).any()
    # the belt: a rate only where valid, with the reason elsewhere
    belt = w[w.resp_source == "belt"]
    assert len(belt) >= 0.6 * len(w)
    no_rate = w[w.resp_rate_bpm.isna()]
    assert (no_rate.resp_reason.str.len() > 0).all()


def test_movement_minute_gives_no_heart_rate_and_the_rest_is_kept():
    # issue 22: movement in the first minute of a clean recording was reported as a valid
    # minute with a high HR and RMSSD; through the pipeline it is now NaN with a reason
    c = stress_case("rate_250hz", duration_s=300.0)
    fs = c.sampling_rate
    x = c.ecg.copy()
    rng = np.random.default_rng(0)
    n = int(60 * fs)
    motion = sosfiltfilt(butter(2, [0.5, 8.0], btype="bandpass", fs=fs, output="sos"),
                         rng.normal(size=n))
    emg = sosfiltfilt(butter(2, [20.0, 100.0], btype="bandpass", fs=fs, output="sos"),
                      rng.normal(size=n))
    x[:n] += 1.5 * motion / motion.std() + 0.4 * emg / emg.std()
    rec = recording({"ECG": Channel("ECG", x, fs, "mV", "ecg")})
    result = process_recording(rec)
    w = result.windows[~result.windows.partial.astype(bool)]
    assert w.ecg_valid.astype(bool).tolist() == [False, True, True, True, True]
    first = w.iloc[0]
    assert np.isnan(first.hr_bpm) and np.isnan(first.rmssd_ms) and first.ecg_reason
    assert w.ecg_quality.iloc[1:].gt(0.9).all()
    beats = result.beats
    assert beats.low_quality[beats.r_peak_s >= 61].sum() == 0
