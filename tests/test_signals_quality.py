"""The live signal check asks the pipeline's quality questions (one definition).

Each fault here fooled the check's own rules: the QRS detector finds 'beats' in a lead with
no heart, an electrode step looks like skin conductance, a belt that records noise still
'breathes'. The check now calls the pipeline's quality functions
(:mod:`physio.ecg.ecg_quality`, :mod:`physio.eda.eda_artifacts`,
:mod:`physio.rsp.rsp_quality`), and the last tests compare its numbers with theirs.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from experiment.signals.monitor import Frame, judge_frame
from experiment.signals.scenarios import scenario_signals
from experiment.signals.verdict import CHECK, GOOD, WAITING, judge_ecg, judge_eda, judge_resp
from physio.ecg import ecg_quality as eq
from physio.ecg.ecg_beats import BeatSeries, ecg_beats
from physio.eda.eda_artifacts import eda_artifacts, eda_window_quality
from physio.recording import Channel
from physio.rsp import rsp_quality as rq
from physio.signal_quality import belt_quality_table, ecg_quality_table


def drift_only(fs: float, seed: int, seconds: float = 10.0, hum_mv: float = 0.0) -> np.ndarray:
    """Slow drift +-1.5 mV plus noise (and optional 50 Hz hum): no QRS anywhere."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    d = sosfiltfilt(butter(2, 0.3, fs=fs, output="sos"), np.cumsum(rng.normal(size=n)))
    d = 1.5 * (d - d.mean()) / np.abs(d - d.mean()).max()
    t = np.arange(n) / fs
    return d + rng.normal(0, 0.02, n) + hum_mv * np.sin(2 * np.pi * 50 * t)


def movement_only(fs: float, seed: int, seconds: float = 10.0) -> np.ndarray:
    """Band-limited 0.5-8 Hz noise (movement, no heart)."""
    rng = np.random.default_rng(seed)
    sos = butter(2, [0.5, 8.0], btype="bandpass", fs=fs, output="sos")
    return sosfiltfilt(sos, rng.normal(size=int(seconds * fs)))


@pytest.mark.parametrize(("fs", "seed"), [(500.0, 1), (500.0, 2), (500.0, 3), (500.0, 4),
                                          (1000.0, 1), (1000.0, 2), (250.0, 1)])
def test_drift_only_ecg_is_no_heartbeat(fs: float, seed: int) -> None:
    # the old rules called each of these 'good' (HR 126-169 bpm, 'clear R peaks')
    v = judge_ecg(drift_only(fs, seed), fs)
    assert v.status != GOOD
    assert v.reason.startswith("no heartbeat"), v.reason
    assert v.metrics["ecg_quality"] < eq.WINDOW_CORR_MIN
    assert v.metrics["n_beats"] >= 10  # the detector did find 'beats'


@pytest.mark.parametrize(("fs", "seed"), [(500.0, 1), (500.0, 3), (250.0, 1)])
def test_drift_with_small_hum_is_no_heartbeat(fs: float, seed: int) -> None:
    # hum too small for the mains rule: the shape rule still says there is no heart
    v = judge_ecg(drift_only(fs, seed, hum_mv=0.03), fs)
    assert v.reason.startswith("no heartbeat"), v.reason


@pytest.mark.parametrize(("fs", "seed"), [(500.0, 0), (500.0, 1), (1000.0, 0), (1000.0, 2)])
def test_movement_only_ecg_is_not_good(fs: float, seed: int) -> None:
    v = judge_ecg(movement_only(fs, seed), fs)
    assert v.status != GOOD and "heartbeat" in v.reason, v.reason


def test_real_heart_passes_the_shape_rule_from_a_few_seconds() -> None:
    fs = 500.0
    ecg = scenario_signals("good", 10.0, fs, seed=2)["ECG"]
    v = judge_ecg(ecg, fs)
    assert v.status == GOOD and v.metrics["ecg_quality"] > 0.9
    # 3 s hold too few whole beats for a template: the check waits, it does not judge
    short = judge_ecg(ecg[:int(3 * fs)], fs)
    assert short.status == WAITING and "compare their shapes" in short.reason
    # an inverted lead is told at once, without waiting for the shapes
    assert judge_ecg(-ecg[:int(3 * fs)], fs).reason.startswith("inverted ECG")


def test_heart_rate_range_is_the_pipelines() -> None:
    fs = 250.0
    t = np.arange(int(20 * fs)) / fs
    for period, words in ((1.7, "too slow"), (0.3, "noise, not beats")):  # 35 and 200 bpm
        ecg = sum(np.exp(-0.5 * ((t - b) / 0.012) ** 2) for b in np.arange(0.5, 20, period))
        v = judge_ecg(ecg, fs)
        assert v.status == CHECK and words in v.reason, v.reason
        assert not eq.HR_RANGE_BPM[0] <= v.value <= eq.HR_RANGE_BPM[1]


@pytest.mark.parametrize("fs", [31.0, 100.0, 500.0, 1000.0])
@pytest.mark.parametrize("step_us", [0.5, 3.0])
def test_eda_step_artefact_is_flagged(fs: float, step_us: float) -> None:
    # a good recording with one electrode step 4 s before the end: the old rules said 'good'
    x = scenario_signals("good", 10.0, fs, seed=3)["EDA"].astype(float)
    x[int(6 * fs):] += step_us
    v = judge_eda(x, fs)
    assert v.status == CHECK, v.reason
    assert v.reason.startswith("EDA jumped faster than skin can change"), v.reason
    assert "4 s ago" in v.reason
    assert v.metrics["eda_artifacts"] == 1


def test_eda_step_in_the_deep_breath_window_spoils_the_test() -> None:
    fs = 500.0
    # no response at all, but a 1 µS step 3 s after the cue would pass for one
    x = scenario_signals("eda_nonresponder", 30.0, fs, cues_s=[5.0], seed=1)["EDA"]
    x = x.astype(float)
    x[int(8 * fs):] += 1.0
    v = judge_eda(x, fs, cues_s=[5.0])
    assert v.status == CHECK and "ask for the deep breath again" in v.reason, v.reason
    # without the step: no response (the old rule, unchanged)
    clean = scenario_signals("eda_nonresponder", 30.0, fs, cues_s=[5.0], seed=1)["EDA"]
    assert "no response to a deep breath" in judge_eda(clean, fs, cues_s=[5.0]).reason


def test_eda_clean_segments_have_no_artefact() -> None:
    for fs in (100.0, 500.0):
        for seed in range(3):
            sig = scenario_signals("good", 10.0, fs, cues_s=[2.0], seed=seed)
            v = judge_eda(sig["EDA"], fs, cues_s=[2.0])
            assert v.status == GOOD and v.metrics["eda_artifacts"] == 0, v.reason


def quiet_after_breathing(fs: float, seed: int, breathe_s: float = 40.0,
                          seconds: float = 60.0) -> np.ndarray:
    """A belt that breathes, then carries only low-level noise in the breathing band."""
    x = scenario_signals("good", seconds, fs, seed=seed)["RESP"].astype(float)
    rng = np.random.default_rng(seed)
    sos = butter(2, [0.1, 1.0], btype="bandpass", fs=fs, output="sos")
    noise = sosfiltfilt(sos, rng.normal(size=len(x)))
    noise *= 0.03 * np.std(x) / np.std(noise)
    cut = int(breathe_s * fs)
    x[cut:] = np.mean(x[:cut]) + noise[cut:]
    return x


@pytest.mark.parametrize(("fs", "seed"), [(50.0, 0), (250.0, 1), (500.0, 2), (500.0, 3)])
def test_belt_that_stops_breathing_is_not_good(fs: float, seed: int) -> None:
    x = quiet_after_breathing(fs, seed)
    t = np.arange(len(x)) / fs
    v = judge_frame(Frame(t[-1], {"RESP": (t, x, fs)}, []))["RESP"]
    assert v.status == CHECK and v.reason.startswith("belt is quiet"), v.reason
    assert v.metrics["amplitude_ratio"] < rq.MIN_AMPLITUDE_RATIO
    # while it still breathed, the same minute-long frame was good
    n = int(40 * fs)
    v = judge_frame(Frame(t[n - 1], {"RESP": (t[:n], x[:n], fs)}, []))["RESP"]
    assert v.status == GOOD, v.reason


@pytest.mark.parametrize("fs", [50.0, 500.0])
def test_belt_of_broadband_noise_is_not_good(fs: float) -> None:
    for seed in range(4):
        x = np.random.default_rng(seed).normal(0, 0.1, int(10 * fs))
        v = judge_resp(x, fs)
        assert v.status == CHECK and "tighten the belt" in v.reason, v.reason
        assert v.metrics["band_share"] < rq.MIN_BAND_SHARE


# --- one definition: the live check and the pipeline give the same answer -------------


@pytest.mark.parametrize(("name", "signal"), [
    ("heart", lambda fs: scenario_signals("good", 10.0, fs, seed=5)["ECG"]),
    ("drift", lambda fs: drift_only(fs, 2)),
    ("movement", lambda fs: movement_only(fs, 1)),
])
def test_ecg_live_and_pipeline_same_quality(name, signal) -> None:
    fs = 500.0
    x = np.asarray(signal(fs), dtype=float)
    live = judge_ecg(x, fs)
    # the same beats through the pipeline's function: the very same number
    marks = np.asarray(live.marks)
    same = ecg_quality_table(Channel("ECG", x, fs, "mV", "ecg"),
                             BeatSeries(marks, np.r_[np.nan, np.diff(marks) * 1000],
                                        np.zeros(len(marks), bool)), window_s=len(x) / fs)
    assert same["ecg_quality"].iloc[0] == pytest.approx(live.metrics["ecg_quality"], abs=1e-12)
    # the pipeline's own detector and quality on the same 10 s: the same verdict
    beats = ecg_beats(x, fs)
    piped = ecg_quality_table(Channel("ECG", x, fs, "mV", "ecg"), beats, window_s=len(x) / fs)
    assert bool(piped["ecg_valid"].iloc[0]) == (live.status == GOOD) == (name == "heart")


def test_eda_live_and_pipeline_same_artefacts() -> None:
    fs = 100.0
    x = scenario_signals("good", 10.0, fs, seed=3)["EDA"].astype(float)
    x[int(6 * fs):] += 2.0
    live = judge_eda(x, fs)
    piped = eda_window_quality(eda_artifacts(x, fs), 0.0, len(x) / fs)
    assert live.metrics["eda_artifacts"] == piped["eda_artifacts"] == 1
    assert live.metrics["eda_quality"] == pytest.approx(piped["eda_quality"])


def test_belt_live_and_pipeline_same_verdict() -> None:
    fs = 50.0
    x = quiet_after_breathing(fs, 0)
    t = np.arange(len(x)) / fs
    live = judge_frame(Frame(t[-1], {"RESP": (t, x, fs)}, []))["RESP"]
    piped = belt_quality_table(Channel("RESP", x, fs, "V", "rsp"), window_s=10.0)
    assert not piped["belt_valid"].iloc[-1] and live.status == CHECK
    assert piped["belt_reason"].iloc[-1].startswith("belt is quiet")
    assert live.reason.startswith("belt is quiet")
    assert piped["belt_valid"].iloc[:4].all()  # the breathing minutes, as in the live check
    # the live numbers through the pipeline's verdict function give the live verdict
    m = live.metrics
    quality, why = rq.belt_window_verdict(m["soothe_bpm"], m["count_adv_median_bpm"],
                                          m["amplitude_ratio"], m["band_share"])
    assert quality == m["belt_quality"] and why.startswith("belt is quiet")
