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

from experiment.signals.scenarios import scenario_signals
from experiment.signals.verdict import CHECK, GOOD, WAITING, judge_ecg, judge_eda
from physio.ecg import ecg_quality as eq


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
