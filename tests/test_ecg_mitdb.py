"""Beat-detection accuracy and RMSSD on the shared MIT-BIH records (bench figures as tests)."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from physio.ecg import ecg_beats
from physio.hrv import hrv_window
from physio.pipeline import process_recording
from physio.recording import Channel, Recording

MITDB = Path(os.environ.get("SOOTHE_SHARED_DATA")
             or Path(__file__).resolve().parents[2] / "shared" / "data") / "mitdb"
RECORDS = ["100", "106", "108", "113", "121", "223"]
BEATS = set("N L R B A a J S V r F e j n E / f Q ?".split())
NORMAL = set("N L R e j".split())

pytestmark = [
    pytest.mark.shared,
    pytest.mark.skipif(not MITDB.is_dir(), reason=f"MIT-BIH records not found at {MITDB}"),
]


@cache
def detect(rec: str):
    wfdb = pytest.importorskip("wfdb")
    r = wfdb.rdrecord(str(MITDB / rec), channels=[0])
    ann = wfdb.rdann(str(MITDB / rec), "atr")
    keep = np.array([s in BEATS for s in ann.symbol])
    normal = np.array([s in NORMAL for s in ann.symbol])[keep]
    fs = float(r.fs)
    ref_s = np.asarray(ann.sample)[keep] / fs
    return ecg_beats(r.p_signal[:, 0], fs), ref_s, normal


def counts(det: np.ndarray, ref: np.ndarray, tol: float = 0.15) -> tuple[int, int, int]:
    i = j = tp = 0
    while i < len(ref) and j < len(det):
        d = det[j] - ref[i]
        if abs(d) <= tol:
            tp, i, j = tp + 1, i + 1, j + 1
        elif d < 0:
            j += 1
        else:
            i += 1
    return tp, len(det) - tp, len(ref) - tp


def f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn)


@pytest.mark.parametrize("rec", RECORDS)
def test_record_f1_at_least_0995(rec):
    beats, ref, _ = detect(rec)
    score = f1(*counts(beats.peaks_s, ref))
    assert score >= 0.995, f"record {rec}: F1 {score:.4f}"


def test_overall_f1_at_least_0999():
    tot = np.zeros(3, int)
    for rec in RECORDS:
        beats, ref, _ = detect(rec)
        tot += counts(beats.peaks_s, ref)
    assert f1(*tot) >= 0.999, f"overall F1 {f1(*tot):.4f}"


def nn_flagged(rec: str) -> int:
    """Flagged beats whose detected interval is an annotated normal-to-normal interval."""
    beats, ref, normal = detect(rec)
    j = np.clip(np.searchsorted(ref, beats.peaks_s), 1, len(ref) - 1)
    j = np.where(np.abs(ref[j - 1] - beats.peaks_s) < np.abs(ref[j] - beats.peaks_s), j - 1, j)
    hit = np.abs(ref[j] - beats.peaks_s) <= 0.15
    prev_hit = np.r_[False, (j[1:] == j[:-1] + 1) & hit[:-1]]
    nn = hit & prev_hit & normal[j] & normal[np.maximum(j - 1, 0)]
    return int((beats.corrected & nn).sum())


@pytest.mark.parametrize("rec", ["100", "113", "121"])
def test_no_annotated_normal_interval_is_flagged(rec):
    # regression: 36 of 104 flags on 100 and 7 of 18 on 113 were normal beats
    assert nn_flagged(rec) == 0


def test_rmssd_per_minute_matches_annotated_nn_intervals():
    # regression: max error 32.7 ms (113, flagged sinus beats), and 8 of 30
    # minutes of 100 voided by two premature beats under a 5 % corrected-beat rule
    errors = []
    for rec in ("100", "113", "121"):
        beats, ref, normal = detect(rec)
        rr = np.diff(ref) * 1000.0
        nn = normal[1:] & normal[:-1]
        valid, reasons = 0, []
        for a in np.arange(0.0, 1740.0 + 1, 60.0):
            w = hrv_window(beats, a, a + 60.0)
            if not w["ecg_valid"]:
                reasons.append(w["ecg_reason"])
                continue
            valid += 1
            sel = (ref[1:] >= a) & (ref[1:] < a + 60.0) & nn
            d = np.diff(rr)[sel[1:] & sel[:-1]]
            errors.append(abs(w["rmssd_ms"] - np.sqrt(np.mean(d * d))))
        assert valid >= 29, f"record {rec}: {valid} of 30 minutes valid"
        assert all("excluded" in r for r in reasons), reasons
    assert np.median(errors) <= 0.5 and max(errors) <= 5.0, np.round(errors, 2)


def test_frequent_premature_beats_do_not_give_a_valid_rmssd():
    """MIT-BIH 106 (ventricular bigeminy and couplets in most minutes): the Lipponen-
    Tarvainen thresholds scale with the spread of the successive differences and flagged
    almost none of them, so 14 of 24 valid minutes reported RMSSDs of 160-630 ms against
    25-120 ms from the annotated normal-to-normal intervals. With the premature-run rule
    those minutes are invalid (too many excluded differences) or right."""
    beats, ref, normal = detect("106")
    rr = np.diff(ref) * 1000.0
    nn = normal[1:] & normal[:-1]
    errors = []
    for a in np.arange(0.0, 1740.0 + 1, 60.0):
        w = hrv_window(beats, a, a + 60.0)
        if not (w["ecg_valid"] and np.isfinite(w["rmssd_ms"])):
            continue
        sel = (ref[1:] >= a) & (ref[1:] < a + 60.0) & nn
        d = np.diff(rr)[sel[1:] & sel[:-1]]
        errors.append(abs(w["rmssd_ms"] - np.sqrt(np.mean(d * d))))
    errors = np.array(errors)
    assert len(errors) >= 10
    # one minute (couplets at 66-69 % of a faster sinus cycle) still escapes the rule
    assert (errors <= 5.0).sum() >= len(errors) - 1, np.round(errors, 1)
    assert np.median(errors) <= 1.0, np.round(errors, 1)


@cache
def processed(rec: str):
    """The record through the whole pipeline (process_recording), ECG only."""
    wfdb = pytest.importorskip("wfdb")
    r = wfdb.rdrecord(str(MITDB / rec), channels=[0])
    ch = Channel("ECG", r.p_signal[:, 0], float(r.fs), "mV", "ecg")
    start = pd.DataFrame({"onset_s": [0.0], "code": [0], "label": ["start"]})
    return process_recording(Recording({"ECG": ch}, source=Path(f"mitdb{rec}.csv"),
                                       format="csv", markers=start))


@pytest.mark.parametrize("rec", ["100", "113", "121"])
def test_no_beat_of_a_clean_sinus_record_is_low_quality(rec):
    # issue 22: the ECG quality rule must not mark a heartbeat of a clean record
    beats = processed(rec).beats
    kept = beats[beats.beat_class != "removed"]
    assert kept.template_corr.notna().mean() > 0.99
    assert not kept.low_quality.any(), kept[kept.low_quality].head()


def test_rmssd_targets_hold_through_the_pipeline_with_the_quality_rule():
    # issue 22 targets, through process_recording (ECG quality AND-ed into ecg_valid):
    # RMSSD on 100/113/121 within 5 ms of the annotated NN intervals, >= 29/30 minutes valid
    errors = []
    for rec in ("100", "113", "121"):
        _, ref, normal = detect(rec)
        rr = np.diff(ref) * 1000.0
        nn = normal[1:] & normal[:-1]
        w = processed(rec).windows
        full = w[~w.partial.astype(bool)]
        ok = full[full.ecg_valid.astype(bool)]
        assert len(ok) >= 29, (rec, full.ecg_reason.tolist())
        assert full.ecg_quality.min() >= 0.9
        for row in ok.itertuples():
            sel = (ref[1:] >= row.start_s) & (ref[1:] < row.end_s) & nn
            d = np.diff(rr)[sel[1:] & sel[:-1]]
            errors.append(abs(row.rmssd_ms - np.sqrt(np.mean(d * d))))
    assert max(errors) <= 5.0, np.round(errors, 2)
