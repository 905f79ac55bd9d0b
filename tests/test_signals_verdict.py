"""The signal check's verdicts: one test per simulated fault, plus the rules' edges.

The scenarios are generated offline (the same generator and faults the simulated device
streams), so the expected verdict is known exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from experiment.signals.scenarios import (
    EXPECTED,
    SCENARIOS,
    apply_fault,
    check_scenario,
    scenario_signals,
)
from experiment.signals.verdict import (
    CHECK,
    GOOD,
    NO_SIGNAL,
    WAITING,
    Verdict,
    breath_response,
    judge_ecg,
    judge_eda,
    judge_resp,
    overall,
)

FS = 500.0
CUE_S = 2.0


def _judge_all(sig: dict[str, np.ndarray], fs: float, cues=(CUE_S,)) -> dict[str, Verdict]:
    return {"ECG": judge_ecg(sig["ECG"], fs), "EDA": judge_eda(sig["EDA"], fs, cues_s=cues),
            "RESP": judge_resp(sig["RESP"], fs)}


@pytest.mark.parametrize("seed", [0, 7])
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_each_scenario_gets_its_verdict(name: str, seed: int) -> None:
    sig = scenario_signals(name, 10.0, FS, cues_s=[CUE_S], seed=seed)
    got = {ch: v.status for ch, v in _judge_all(sig, FS).items()}
    assert got == EXPECTED[name], {ch: v.reason for ch, v in _judge_all(sig, FS).items()}


@pytest.mark.parametrize("fs", [250.0, 1000.0])
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_each_scenario_at_other_rates(name: str, fs: float) -> None:
    sig = scenario_signals(name, 10.0, fs, cues_s=[CUE_S], seed=11)
    assert {ch: v.status for ch, v in _judge_all(sig, fs).items()} == EXPECTED[name]


@pytest.mark.parametrize(("name", "channel", "words"), [
    ("ecg_lead_off", "ECG", "flat line"),
    ("ecg_inverted", "ECG", "inverted ECG: swap the leads or tick 'inverted'"),
    ("ecg_mains", "ECG", "mains hum (50 Hz"),
    ("eda_off", "EDA", "electrode off"),
    ("eda_saturated", "EDA", "EDA above the amplifier range"),
    ("eda_nonresponder", "EDA", "no response to a deep breath"),
    ("resp_loose", "RESP", "tighten the belt"),
])
def test_reason_in_plain_words(name: str, channel: str, words: str) -> None:
    sig = scenario_signals(name, 10.0, FS, cues_s=[CUE_S], seed=1)
    assert words in _judge_all(sig, FS)[channel].reason


def test_good_signal_is_good_within_10_s_at_several_rates() -> None:
    # the deep-breath cue 2 s in, its 5-s window closes at 7 s: all good by 8 s
    for fs in (250.0, 500.0, 1000.0):
        sig = scenario_signals("good", 8.0, fs, cues_s=[CUE_S], seed=3)
        verdicts = _judge_all(sig, fs)
        assert overall(list(verdicts.values())) == GOOD, {k: v.reason for k, v in verdicts.items()}
        assert abs(verdicts["ECG"].value - 70) < 6
        assert 12 <= verdicts["RESP"].value <= 17


def test_heart_rate_agrees_with_neurokit2() -> None:
    import neurokit2 as nk

    sig = scenario_signals("good", 10.0, FS, seed=4)
    ours = judge_ecg(sig["ECG"], FS)
    _, info = nk.ecg_peaks(nk.ecg_clean(sig["ECG"], sampling_rate=FS), sampling_rate=FS)
    theirs = 60.0 / np.median(np.diff(info["ECG_R_Peaks"]) / FS)
    assert abs(ours.value - theirs) < 1.0
    # the R-peak marks sit on neurokit2's peaks (within 10 ms; neurokit2 skips a beat in
    # the first 0.5 s, where its filters have not settled)
    nk_t = np.asarray(info["ECG_R_Peaks"]) / FS
    inner = [m for m in ours.marks if m > 0.5]
    assert len(inner) >= len(nk_t) >= 10
    assert all(np.min(np.abs(nk_t - m)) < 0.01 for m in inner)


def test_fast_spiky_noise_is_not_beats() -> None:
    fs = 250.0
    t = np.arange(int(10 * fs)) / fs
    spikes = sum(np.exp(-0.5 * ((t - b) / 0.01) ** 2) for b in np.arange(0.2, 10, 0.25))
    v = judge_ecg(spikes, fs)
    assert v.status == CHECK and v.reason == "HR 240: noise, not beats"


def test_inverted_tick_accepts_a_negative_qrs() -> None:
    sig = scenario_signals("ecg_inverted", 10.0, FS, seed=2)
    assert judge_ecg(sig["ECG"], FS).status == CHECK
    assert judge_ecg(sig["ECG"], FS, inverted_ok=True).status == GOOD


def test_eda_breath_test_states() -> None:
    sig = scenario_signals("good", 10.0, FS, cues_s=[CUE_S], seed=5)
    assert "not done yet" in judge_eda(sig["EDA"], FS).reason
    # cue 8 s in: the window is still open at 10 s, so the channel is not judged yet (a
    # 'good' here would let a check end before the response could arrive)
    watching = judge_eda(sig["EDA"], FS, cues_s=[8.0])
    assert watching.status == WAITING and "watching for 3.0 s more" in watching.reason
    assert "breath_rise_us" not in watching.metrics
    # the window counts samples received: with the last 0.5 s of the window missing it still
    # waits, with them in it judges (the response of this good scenario)
    late = scenario_signals("good", 12.0, FS, cues_s=[6.0], seed=5)["EDA"]
    assert judge_eda(late[:int(10.5 * FS)], FS, cues_s=[6.0]).status == WAITING
    assert "responds to a deep breath" in judge_eda(late[:int(11 * FS)], FS, cues_s=[6.0]).reason
    # a response of exactly known size: 0.3 µS step, 2 s after a cue at 2 s
    t = np.arange(int(10 * FS)) / FS
    x = 3.0 + 0.3 * (t > 4) * (1 - np.exp(-np.clip(t - 4, 0, None) / 0.5))
    assert breath_response(x, FS, 2.0) == pytest.approx(0.3 * (1 - np.exp(-3 / 0.5)), abs=0.01)
    # a slowly rising tonic level (up to 0.01 µS/s) alone is no response
    assert breath_response(3.0 + 0.008 * t, FS, 4.0) < 0.005
    # a steeper rise is not taken as tonic: only 0.01 µS/s of it is removed
    assert breath_response(3.0 + 0.03 * t, FS, 4.0) == pytest.approx(0.02 * 5, abs=0.01)


def test_eda_amplifier_maximum_given() -> None:
    sig = scenario_signals("good", 10.0, FS, seed=1)
    assert judge_eda(sig["EDA"], FS, amplifier_max_us=4.0).reason == \
        "EDA above the amplifier range"


def test_bad_inputs_give_clear_verdicts_or_errors() -> None:
    assert judge_ecg([], FS).status == WAITING
    assert judge_eda(np.ones(10), FS).status == WAITING
    assert judge_resp(np.full(5000, np.nan), FS).status == NO_SIGNAL
    with pytest.raises(ValueError, match="ECG: sampling rate"):
        judge_ecg(np.zeros(100), 0.0)
    with pytest.raises(ValueError, match="unknown scenario 'nope'"):
        check_scenario("nope")
    # a few dropped samples are bridged, not a verdict of their own
    sig = scenario_signals("good", 10.0, FS, seed=6)
    ecg = sig["ECG"].astype(float)
    ecg[1000:1010] = np.nan
    assert judge_ecg(ecg, FS).status == GOOD


def test_faults_change_only_their_channel() -> None:
    rng = np.random.default_rng(0)
    clean = np.random.default_rng(1).normal(size=(100, 3)).astype(np.float32)
    t = np.arange(100) / FS
    for name in SCENARIOS:
        out = apply_fault(name, t, clean, rng)
        changed = {ch for i, ch in enumerate(("ECG", "EDA", "RESP"))
                   if not np.allclose(out[:, i], clean[:, i])}
        assert changed == {ch for ch, st in EXPECTED[name].items() if st != GOOD} - (
            {"EDA"} if name == "eda_nonresponder" else set())


def test_scenario_statuses_are_the_verdict_statuses() -> None:
    from experiment.signals import scenarios

    assert (scenarios.GOOD, scenarios.CHECK, scenarios.NO_SIGNAL) == (GOOD, CHECK, NO_SIGNAL)


def test_verdict_json_has_no_nan() -> None:
    import json

    v = judge_ecg(np.zeros(5000), FS)
    text = json.dumps(v.to_dict(), allow_nan=False)
    assert '"status": "no signal"' in text
