"""Belt quality, count-adv and ECG-derived breathing quality (physio.rsp.rsp_quality)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from physio.ecg import BeatSeries
from physio.io.read_wfdb import read_wfdb
from physio.recording import Channel
from physio.rsp.rsp_quality import (
    belt_trace,
    breathing_band_share,
    count_adv,
    edr_window_verdict,
    local_extrema,
    remove_small_swings,
    rsp_quality_methods,
    window_rate,
)
from physio.signal_quality import belt_quality_table, edr_quality_table


def test_count_adv_ignores_speech_wiggles():
    fs = 25.0
    t = np.arange(0, 120, 1 / fs)
    y = np.sin(2 * np.pi * 0.2 * t)
    talk = (t > 40) & (t < 80)
    y[talk] += 0.25 * np.sin(2 * np.pi * 1.3 * t[talk])  # speech on top of breathing
    y[talk] += 0.3 * np.sin(2 * np.pi * 0.6 * t[talk])  # and within the breathing band
    clean, rate, delay = belt_trace(y, fs)
    troughs = count_adv(clean, rate) + delay
    assert len(troughs) == 24
    assert np.median(np.diff(troughs)) == pytest.approx(5.0, abs=0.05)
    assert np.allclose(np.diff(troughs), 5.0, atol=1.1)  # speech moves a trough, never splits


def test_local_extrema_alternate():
    y = np.sin(np.linspace(0, 6 * np.pi, 600))
    e = local_extrema(y)
    assert len(e) == 6
    assert np.all(np.sign(y[e][:-1]) != np.sign(y[e][1:]))


def test_window_rate_uses_cycles_inside_the_window():
    t = np.r_[np.arange(0, 60, 4.0), np.arange(60, 120, 3.0)]
    assert window_rate(t, 0, 60) == pytest.approx(15.0)
    assert window_rate(t, 60, 120) == pytest.approx(20.0)
    assert np.isnan(window_rate(t[:2], 0, 60))


@pytest.mark.parametrize("fs", [4.0, 25.0, 31.0, 1000.0])
def test_belt_that_goes_quiet_gives_no_rate(fs):
    t = np.arange(0, 600, 1 / fs)
    y = np.where(t < 180, np.sin(2 * np.pi * 0.25 * t), 0.0)
    y = y + np.random.default_rng(0).normal(0, 0.02, len(t))
    w = belt_quality_table(Channel("RSP", y, fs, "V", "rsp"))
    assert w["belt_valid"].tolist() == [True] * 3 + [False] * 7
    assert np.allclose(w["resp_rate_bpm"][:3], 15.0, atol=0.2)
    assert w["resp_rate_bpm"][3:].isna().all()
    assert w["belt_reason"][3:].str.startswith("belt is quiet").all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noise_only_belt_gives_no_rate(seed):
    fs = 25.0
    y = np.random.default_rng(seed).normal(size=int(600 * fs))
    w = belt_quality_table(Channel("RSP", y, fs, "V", "rsp"))
    assert not w["belt_valid"].any()
    assert w["resp_rate_bpm"].isna().all()


def test_band_share_separates_breathing_from_noise():
    fs = 31.0
    t = np.arange(0, 60, 1 / fs)
    assert breathing_band_share(np.sin(2 * np.pi * 0.3 * t), fs) > 0.95
    assert breathing_band_share(np.random.default_rng(0).normal(size=len(t)), fs) < 0.2


def test_edr_verdict_agree_and_disagree():
    assert edr_window_verdict(15.0, 15.6)[0] == pytest.approx(15.3)
    rate, quality, reason = edr_window_verdict(9.0, 16.0)
    assert np.isnan(rate) and quality == 0.0 and "disagree" in reason
    assert np.isnan(edr_window_verdict(np.nan, 15.0)[0])


def edr_case(rsa_hz: float, amp_hz: float, n: int = 300, amp_noise: bool = False):
    fs = 250.0
    beat_t = np.arange(n) * 0.8
    peaks = 0.5 + np.cumsum(0.8 + 0.06 * np.sin(2 * np.pi * rsa_hz * beat_t))
    t = np.arange(0, peaks[-1] + 1, 1 / fs)
    amp = 1 + 0.2 * np.sin(2 * np.pi * amp_hz * peaks)
    if amp_noise:  # the QRS amplitude follows no breathing: beat-to-beat noise only
        amp = 1 + 0.2 * np.random.default_rng(0).normal(size=n)
    ecg = np.zeros(len(t))
    for a, p in zip(amp, peaks, strict=True):
        i = int(p * fs)
        k = np.arange(max(0, i - 10), min(len(t), i + 10))
        ecg[k] += a * np.exp(-0.5 * ((t[k] - p) / 0.01) ** 2)
    rr = np.r_[np.nan, np.diff(peaks) * 1000]
    return edr_quality_table(BeatSeries(peaks, rr, np.zeros(n, bool)),
                             Channel("ECG", ecg, fs, "mV", "ecg"))


def test_edr_reported_when_modulations_agree():
    w = edr_case(0.25, 0.25)
    assert w["edr_valid"].all()
    assert np.allclose(w["edr_rate_bpm"], 15.0, atol=0.5)


def test_edr_verdict_periodic_route_stands_alone():
    # one route repeats itself one breath later, the other does not: the periodic one
    assert edr_window_verdict(9.0, 16.0, 0.2, 0.7) == (16.0, 0.7, "")
    # agreeing: their mean, as without periodicity (a valid window keeps its value)
    assert edr_window_verdict(15.0, 16.0, 0.6, 0.9) == edr_window_verdict(15.0, 16.0)
    assert edr_window_verdict(15.0, 16.0, 0.1, 0.9) == (15.5, 0.67, "")
    # both periodic and disagreeing: no rate, with the reason
    rate, _, reason = edr_window_verdict(9.0, 16.0, 0.6, 0.7)
    assert np.isnan(rate) and "periodic and disagree" in reason
    # neither periodic and disagreeing: no rate
    rate, _, reason = edr_window_verdict(9.0, 16.0, 0.2, 0.3)
    assert np.isnan(rate) and "neither repeats itself" in reason


def test_edr_reported_from_rsa_when_the_amplitude_carries_no_breathing():
    w = edr_case(0.25, 0.25, amp_noise=True)
    assert (w["edr_amplitude_periodicity"] < 0.5).all()
    assert (w["edr_rsa_periodicity"] >= 0.5).all()
    assert w["edr_valid"].all()
    assert np.allclose(w["edr_rate_bpm"], 15.0, atol=1.0)
    # where the noise route's rate is off, the periodic RSA route alone gives the rate
    off = (w["edr_amplitude_bpm"] - w["edr_rsa_bpm"]).abs() > 1.5
    assert off.any()
    assert np.allclose(w.loc[off, "edr_rate_bpm"], w.loc[off, "edr_rsa_bpm"])
    assert np.allclose(w.loc[off, "edr_quality"], w.loc[off, "edr_rsa_periodicity"], atol=0.01)


def test_edr_nan_with_reason_when_modulations_disagree():
    w = edr_case(0.25, 0.12)
    assert not w["edr_valid"].any()
    assert w["edr_rate_bpm"].isna().all()
    assert w["edr_reason"].str.contains("disagree").all()


def test_real_lab_belt_is_valid(shared_data):
    x = pd.read_csv(shared_data / "real" / "bio_resting_8min_100hz.csv")["RSP"].to_numpy(float)
    w = belt_quality_table(Channel("RSP", x, 100.0, "V", "rsp"))
    assert w["belt_valid"].all()
    assert w["resp_rate_bpm"].between(5, 20).all()


def test_field_belt_mostly_valid_with_reasons(shared_data):
    ch = read_wfdb(shared_data / "real" / "drive05").channels["RESP"]
    w = belt_quality_table(ch)
    assert w["belt_valid"].mean() >= 0.6
    assert (w["belt_reason"] == "").equals(w["belt_valid"])


def test_sidecar_methods_are_json_and_cite():

    m = json.loads(json.dumps(rsp_quality_methods()))
    assert m["agree_bpm"] == 1.5 and "Schäfer" in m["citations"][0]


def test_pruning_equals_the_literal_repeated_search():
    rng = np.random.default_rng(0)
    for _ in range(50):
        vals = np.cumsum(rng.normal(size=rng.integers(4, 300)))
        vals[1::2] += 0.5  # any sequence; the literal rule below does not need alternation
        limit = 0.3 * np.percentile(np.abs(np.diff(vals)), 75)
        idx = list(range(len(vals)))
        v = list(vals)
        while len(v) > 3:
            sw = np.abs(np.diff(v))
            if sw.min() >= limit:
                break
            k = int(np.argmin(sw))
            del idx[k:k + 2], v[k:k + 2]
        assert np.flatnonzero(remove_small_swings(vals, limit)).tolist() == idx
