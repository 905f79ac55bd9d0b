"""EDA artefacts at any rate, bridging, SCRs clear of artefacts, the desc-scr table."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest

from physio.eda.eda_artifacts import (
    eda_artifact_methods,
    eda_artifacts,
    eda_bridge,
    eda_window_quality,
    merge_intervals,
    scr_clear_of_artifacts,
    scr_table,
)
from physio.eda.eda_process import eda_process
from physio.io.read_wfdb import read_wfdb
from physio.recording import Channel
from physio.signal_quality import eda_bridged_process


def stepped(fs: float, seed: int = 0):
    """10 min of skin conductance with 20 SCRs and 8 electrode steps between two samples."""
    rng = np.random.default_rng(seed)
    t = np.arange(0, 600, 1 / fs)
    x = 5 + 0.3 * np.sin(2 * np.pi * t / 300) + rng.normal(0, 0.003, len(t))
    for s in rng.uniform(5, 590, 20):
        x += 0.3 * np.where(t > s, (t - s) * np.exp(-(t - s) / 2.0), 0)
    steps = np.sort(rng.uniform(10, 590, 8))
    for k, s in enumerate(steps):
        x[t >= s] += (-1) ** k * rng.uniform(1.0, 4.0)  # up, down, up: stays in range
    return x, steps


@pytest.mark.parametrize("fs", [31.0, 100.0, 1000.0])
def test_every_step_is_an_artefact_at_any_rate(fs):
    x, steps = stepped(fs)
    bad = eda_artifacts(x, fs)
    for s in steps:
        assert any(a <= s <= b for a, b, _ in bad), s
    assert {r for _, _, r in bad} == {"slope"}
    assert sum(b - a for a, b, _ in bad) < 8 * 4.0  # only the steps, padded


@pytest.mark.parametrize("fs", [31.0, 100.0, 1000.0])
def test_no_scr_within_1s_of_a_step(fs):
    x, steps = stepped(fs)
    step_iv = [(s - 0.05, s + 0.05, "step") for s in steps]
    before = eda_process(x, fs, units="uS")
    assert (~scr_clear_of_artifacts(before.scr_onset_s, before.scr_peak_s, step_iv)).sum() > 0
    _, _, table = eda_bridged_process(Channel("EDA", x, fs, "uS", "eda"))
    assert scr_clear_of_artifacts(table.onset_s.to_numpy(), table.peak_s.to_numpy(),
                                  step_iv).all()
    assert len(table) > 5  # the real responses are still counted


def test_range_rule_and_clean_signal():
    fs = 100.0
    x = np.full(6000, 5.0) + np.random.default_rng(0).normal(0, 0.003, 6000)
    assert eda_artifacts(x, fs) == []
    x[2000:2500] = 0.0  # electrode off
    bad = eda_artifacts(x, fs)
    assert len(bad) == 1 and "range" in bad[0][2]
    assert bad[0][0] <= 19.0 and bad[0][1] >= 26.0


def test_bridge_is_a_straight_line_and_keeps_the_rest():
    x = np.r_[np.full(10, 1.0), np.full(5, 50.0), np.full(10, 2.0)]
    y = eda_bridge(x, 1.0, [(10.0, 15.0, "slope")])
    assert np.array_equal(y[:10], x[:10]) and np.array_equal(y[15:], x[15:])
    assert np.allclose(np.diff(y[9:16]), 1.0 / 6.0)


def test_merge_and_window_quality():
    assert merge_intervals([(0.0, 2.0, "slope"), (1.0, 3.0, "slope")]) == [(0.0, 3.0, "slope")]
    q = eda_window_quality([(0.0, 45.0, "range")], 0.0, 60.0)
    assert q["eda_quality"] == pytest.approx(0.25) and not q["eda_valid"]
    assert "range" in q["eda_reason"]
    assert eda_window_quality([], 0.0, 60.0) == {"eda_quality": 1.0, "eda_valid": True,
                                                 "eda_reason": "", "eda_artifacts": 0}


def test_scr_table_columns_windows_and_artefacts():
    w = pd.DataFrame({"window": [1, 2], "start_s": [0.0, 60.0], "end_s": [60.0, 120.0]})
    t = scr_table(np.array([10.0, 30.0, 70.0, 130.0]), np.array([12.0, 31.0, 72.5, 131.0]),
                  np.array([0.2, 0.3, 0.1, 0.4]), w, [(31.5, 33.0, "slope")])
    assert list(t.columns) == ["onset_s", "peak_s", "amplitude_us", "rise_time_s", "window"]
    assert t["onset_s"].tolist() == [10.0, 70.0, 130.0]
    assert t["rise_time_s"].tolist() == [2.0, 2.5, 1.0]
    assert t["window"].tolist()[:2] == [1, 2] and pd.isna(t["window"].iloc[2])


@pytest.mark.parametrize("name", ["bio_resting_8min_100hz", "bio_eventrelated_100hz"])
def test_clean_real_eda_has_no_artefact_and_same_scrs(shared_data, name):
    x = pd.read_csv(shared_data / "real" / f"{name}.csv")["EDA"].to_numpy(float)
    assert eda_artifacts(x, 100.0) == []
    before = eda_process(x, 100.0, units="uS")
    _, _, table = eda_bridged_process(Channel("EDA", x, 100.0, "uS", "eda"))
    assert np.allclose(table["onset_s"], before.scr_onset_s)


def test_lab_eda_unchanged_and_field_steps_found(shared_data):
    lab = np.load(gzip.open(shared_data / "lab" / "Task1_EDA.npy.gz"))
    assert eda_artifacts(lab, 1000.0) == []
    hand = read_wfdb(shared_data / "real" / "drive05").channels["hand GSR"]
    bad = eda_artifacts(hand.data, hand.sampling_rate)
    assert len(bad) >= 1
    _, shifted, table = eda_bridged_process(hand)
    assert scr_clear_of_artifacts(table.onset_s.to_numpy(), table.peak_s.to_numpy(),
                                  shifted).all()


def test_sidecar_methods_are_json_and_cite():

    m = json.loads(json.dumps(eda_artifact_methods()))
    assert m["range_us"] == [0.05, 60.0] and "Kleckner" in m["citation"]
