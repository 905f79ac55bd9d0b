"""The signal monitor's pieces that need no LSL: channel sorting, units, the ring buffer,
and judging a frame (cue times on the LSL clock become segment times)."""

from __future__ import annotations

import numpy as np
import pytest

from experiment.signals.monitor import (
    Frame,
    _Ring,
    channel_kind,
    judge_frame,
    to_standard_units,
)
from experiment.signals.scenarios import scenario_signals


@pytest.mark.parametrize(("label", "ctype", "kind"), [
    ("ecg", "ECG", "ECG"), ("EKG lead II", "", "ECG"), ("x", "ECG", "ECG"),
    ("eda", "EDA", "EDA"), ("GSR", "Physio", "EDA"), ("skin conductance", "", "EDA"),
    ("Resp", "", "RESP"), ("RESP", "Physio", "RESP"), ("rsp", "", "RESP"),
    ("chest belt", "", "RESP"), ("pneumo", "", "RESP"), ("temperature", "Physio", None),
])
def test_channels_are_sorted_by_label_and_type(label, ctype, kind):
    assert channel_kind(label, ctype) == kind


def test_units_are_converted_or_refused_by_name():
    assert to_standard_units("ECG", np.array([1.0]), "uV", "ecg")[0] == pytest.approx(0.001)
    assert to_standard_units("EDA", np.array([100.0]), "kOhm", "gsr")[0] == pytest.approx(10.0)
    with pytest.raises(ValueError, match=r"ECG channel 'lead1': unknown units 'furlong'"):
        to_standard_units("ECG", np.array([1.0]), "furlong", "lead1")
    with pytest.raises(ValueError, match="EDA channel 'gsr'"):
        to_standard_units("EDA", np.array([1.0]), "volts", "gsr")


def test_ring_keeps_the_newest_samples_in_order():
    ring = _Ring(5)
    ring.push(np.arange(3.0), np.arange(3.0) * 10)
    ring.push(np.arange(3.0, 8.0), np.arange(3.0, 8.0) * 10)
    t, x = ring.last(4)
    assert t.tolist() == [4.0, 5.0, 6.0, 7.0] and x.tolist() == [40, 50, 60, 70]
    ring.push(np.arange(8.0, 20.0), np.arange(8.0, 20.0))  # more than the capacity at once
    assert ring.last(10)[0].tolist() == [15.0, 16.0, 17.0, 18.0, 19.0]


def test_judge_frame_uses_the_cue_on_the_lsl_clock():
    fs, t0 = 250.0, 1000.0  # the segment starts 1000 s into the LSL clock
    sig = scenario_signals("good", 10.0, fs, cues_s=[2.0], seed=2)
    t = t0 + np.arange(len(sig["EDA"])) / fs
    frame = Frame(t[-1], {k: (t, v.astype(float), fs) for k, v in sig.items()}, [t0 + 2.0])
    verdicts = judge_frame(frame)
    assert "responds to a deep breath" in verdicts["EDA"].reason
    assert {v.status for v in verdicts.values()} == {"good"}
    sig_nr = scenario_signals("eda_nonresponder", 10.0, fs, cues_s=[2.0], seed=2)
    frame.channels["EDA"] = (t, sig_nr["EDA"].astype(float), fs)
    assert judge_frame(frame)["EDA"].reason.startswith("no response to a deep breath")


def test_breath_result_stays_while_the_frame_holds_the_cue():
    """30 s after the cue the 10-s window no longer holds it; the result must remain."""
    fs, t0 = 100.0, 50.0
    sig = scenario_signals("good", 40.0, fs, cues_s=[5.0], seed=4)
    t = t0 + np.arange(len(sig["EDA"])) / fs
    frame = Frame(t[-1], {"EDA": (t, sig["EDA"].astype(float), fs)}, [t0 + 5.0])
    assert "responds to a deep breath" in judge_frame(frame)["EDA"].reason
    sig_nr = scenario_signals("eda_nonresponder", 40.0, fs, cues_s=[5.0], seed=4)
    frame.channels["EDA"] = (t, sig_nr["EDA"].astype(float), fs)
    assert judge_frame(frame)["EDA"].reason.startswith("no response")
