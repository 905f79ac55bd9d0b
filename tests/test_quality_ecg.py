"""ECG quality from positive evidence (physio.ecg.ecg_quality): exact synthetic truth and
the shared real recordings."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest
from scipy.signal import butter, sosfiltfilt

from physio.ecg import ecg_beats
from physio.ecg.ecg_quality import (
    WINDOW_CORR_MIN,
    beat_template_corr,
    ecg_beat_quality,
    ecg_quality_input,
    ecg_quality_methods,
    window_reason,
)
from physio.io.read_wfdb import read_wfdb
from physio.recording import Channel
from physio.signal_quality import ecg_quality_table
from soothe.simulate.ecg_stress import stress_case


def drift_only(fs: float, seed: int = 0, minutes: float = 10.0) -> np.ndarray:
    """Slow drift +-1.5 mV plus noise: no QRS anywhere."""
    rng = np.random.default_rng(seed)
    n = int(minutes * 60 * fs)
    d = sosfiltfilt(butter(2, 0.3, fs=fs, output="sos"), np.cumsum(rng.normal(size=n)))
    d = 1.5 * (d - d.mean()) / np.abs(d - d.mean()).max()
    return d + rng.normal(0, 0.02, n)


def windows(x: np.ndarray, fs: float) -> pd.DataFrame:
    b = ecg_beats(x, fs)
    return ecg_quality_table(Channel("ECG", x, fs, "mV", "ecg"), b)


@pytest.mark.parametrize("fs", [100.0, 250.0, 1000.0])
def test_drift_only_ecg_has_at_most_one_valid_window(fs):
    w = windows(drift_only(fs), fs)
    assert len(w) == 10
    assert w["ecg_valid"].sum() <= 1
    assert (w["ecg_quality"] < WINDOW_CORR_MIN).sum() >= 9
    assert w.loc[~w["ecg_valid"], "ecg_reason"].str.contains("no evidence of a heartbeat").all()


def no_heart(kind: str, fs: float, seed: int = 3) -> np.ndarray:
    """10 min of a lead that carries no heart: mains pickup, EMG, movement or white noise."""
    rng = np.random.default_rng(seed)
    n = int(600 * fs)
    t = np.arange(n) / fs
    mains = 50.0 if fs > 110 else 45.0  # below Nyquist at 100 Hz
    if kind == "mains":
        return 0.3 * np.sin(2 * np.pi * mains * t) + np.cumsum(rng.normal(0, 0.01, n))
    if kind == "emg":
        band = [20.0, min(150.0, 0.45 * fs)]
    elif kind == "movement":
        band = [0.5, 8.0]
    else:
        return rng.normal(0, 0.1, n)
    return sosfiltfilt(butter(2, band, btype="bandpass", fs=fs, output="sos"),
                       rng.normal(size=n))


@pytest.mark.parametrize("fs", [100.0, 250.0, 1000.0])
@pytest.mark.parametrize("kind", ["mains", "emg", "movement", "white"])
def test_lead_without_heart_is_never_valid(kind, fs):
    w = windows(no_heart(kind, fs), fs)
    assert w["ecg_valid"].sum() <= 1, w[["ecg_quality", "ecg_reason"]]


@pytest.mark.parametrize("case", ["rate_100hz", "rate_1000hz", "atrial_fibrillation",
                                  "bigeminy", "sinus_pauses", "av_block_2to1",
                                  "electrode_motion", "baseline_wander", "inverted_lead"])
def test_simulated_heart_keeps_every_window(case):
    c = stress_case(case, duration_s=300.0)
    w = windows(c.ecg, c.sampling_rate)
    assert w["ecg_valid"].all(), w["ecg_reason"].tolist()


def test_no_beat_of_simulated_sinus_rhythm_is_low_quality():
    c = stress_case("rate_250hz", duration_s=300.0)
    b = ecg_beats(c.ecg, c.sampling_rate)
    q = ecg_beat_quality(*ecg_quality_input(c.ecg, c.sampling_rate), b.peaks_s, b.beat_class)
    assert len(q) == len(b.peaks_s)
    assert not q["low_quality"].any()
    assert q["template_corr"].min() > 0.9


def test_movement_minute_is_flagged_and_the_rest_kept():
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
    w = windows(x, fs)
    assert w["ecg_valid"].tolist() == [False, True, True, True, True]
    assert w["ecg_reason"].iloc[0] != ""


def test_template_correlation_of_identical_beats_is_one_and_of_noise_is_low():
    fs = 250.0
    t = np.arange(int(60 * fs)) / fs
    peaks = np.arange(1.0, 59.0, 0.8)
    x = sum(np.exp(-0.5 * ((t - p) / 0.01) ** 2) for p in peaks)
    assert np.allclose(beat_template_corr(x, fs, peaks), 1.0)
    noise = np.random.default_rng(1).normal(size=len(t))
    assert np.nanmedian(beat_template_corr(noise, fs, peaks)) < 0.2


def test_window_reason_rules_in_order():
    assert window_reason(0.98, 0.0, 1.0, 70.0) == ""
    assert window_reason(np.nan, np.nan, 0.0, np.nan).startswith("too few beats")
    assert "no evidence of a heartbeat" in window_reason(0.3, 0.9, 1.0, 140.0)
    assert "match no heartbeat shape" in window_reason(0.9, 0.5, 1.0, 70.0)
    assert "outside" in window_reason(0.95, 0.0, 1.0, 200.0)


@pytest.mark.parametrize("name", ["bio_resting_8min_100hz", "bio_eventrelated_100hz"])
def test_clean_real_lab_recordings_keep_their_windows(shared_data, name):
    x = pd.read_csv(shared_data / "real" / f"{name}.csv")["ECG"].to_numpy(float)
    w = windows(x, 100.0)
    assert w["ecg_valid"].mean() >= 0.9


def test_real_lab_1000hz_and_field_recording(shared_data):
    lab = np.load(gzip.open(shared_data / "lab" / "Task1_ECG.npy.gz"))
    assert windows(lab, 1000.0)["ecg_valid"].mean() >= 0.9
    ch = read_wfdb(shared_data / "real" / "drive05").channels["ECG"]
    w = windows(ch.data, ch.sampling_rate)
    assert w["ecg_valid"].mean() >= 0.9
    # the stretch with -11..+7 mV movement artefacts (minutes 32-36) is not valid
    assert not w.loc[(w.start_s >= 1920) & (w.start_s < 2160), "ecg_valid"].any()


@pytest.mark.parametrize("record", ["100", "113", "121"])
def test_mitdb_clean_sinus_record_no_low_quality_beat(shared_data, record):
    x = read_wfdb(shared_data / "mitdb" / record).channels["MLII"].data
    b = ecg_beats(x, 360.0)
    q = ecg_beat_quality(*ecg_quality_input(x, 360.0), b.peaks_s, b.beat_class)
    assert int(q["low_quality"].sum()) == 0
    w = ecg_quality_table(Channel("ECG", x, 360.0, "mV", "ecg"), b)
    assert w["ecg_valid"].sum() >= 29


def test_sidecar_methods_are_json_and_cite():

    m = json.loads(json.dumps(ecg_quality_methods()))
    assert m["window_corr_min"] == WINDOW_CORR_MIN and "Orphanidou" in m["citations"][0]
