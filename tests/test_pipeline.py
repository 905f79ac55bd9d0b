"""One recording through the pipeline: channels, clocks, identifiers, quality flags."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conditions.bids import WINDOWS_COLUMNS
from conditions.protocol import load_protocol
from physio.errors import ChannelError
from physio.pipeline import PipelineSettings, process_recording, recording_ids
from physio.recording import Channel, Recording

PROTOCOL = load_protocol()
FS = 250.0


@pytest.fixture(scope="module")
def session():
    from soothe.simulate import simulate_session

    return simulate_session(PROTOCOL, "001", "rumination", seed=3, index=1, fs=FS)


def make_recording(s, *, ecg=True, eda=True, ecg_start=0.0, name="sub-001_ses-1_x.csv"):
    ev = s.events_table(PROTOCOL)
    markers = pd.DataFrame({"onset_s": ev.onset.astype(float), "code": ev.value.astype(int),
                            "label": ev.trial_type})
    channels = {}
    if ecg:
        n = int(ecg_start * FS)
        channels["ECG"] = Channel("ECG", s.ecg_mv[n:], FS, "mV", "ecg", start_s=ecg_start)
    if eda:
        channels["EDA"] = Channel("EDA", s.eda_us, FS, "uS", "eda")
    return Recording(channels, Path(name), "csv", markers)


@pytest.fixture(scope="module")
def full(session):
    return process_recording(make_recording(session))


def test_windows_table_has_the_contract_columns(full, session):
    w = full.windows
    assert list(w.columns[: len(WINDOWS_COLUMNS)]) == list(WINDOWS_COLUMNS)
    # the protocol sends no condition marker (concealment): the windows do not name it
    assert set(w.condition) == {"n/a"}
    assert set(w.participant_id) == {"sub-001"}
    assert w.ecg_valid.mean() > 0.9 and w.eda_valid.all()
    assert w.hr_bpm[w.ecg_valid].between(45, 120).all()  # partial < 50 s: NaN (issue 10)
    assert (np.diff(full.beats.r_peak_s) > 0).all()
    q = full.quality()
    assert q["n_windows"] == len(w) and q["non_responder"] is False


def test_missing_eda_channel_gives_nan_with_reason(session):
    res = process_recording(make_recording(session, eda=False))
    w = res.windows
    assert w.scl_us.isna().all() and not w.eda_valid.any()
    assert w.eda_reason.str.startswith("no EDA channel").all()
    assert w.hr_bpm.notna().mean() > 0.9
    assert any("no EDA channel" in m for m in res.warnings)


def test_no_usable_channel_is_an_error(session):
    rec = make_recording(session, ecg=False, eda=False)
    with pytest.raises(ChannelError, match="neither an ECG nor an EDA"):
        process_recording(rec)


def test_named_channel_that_does_not_exist(session):
    with pytest.raises(ChannelError, match="no channel named 'ECG2'"):
        process_recording(make_recording(session), PipelineSettings(ecg_channel="ECG2"))


def test_channel_start_offsets_are_on_the_session_clock(session, full):
    # the same ECG starting 30 s later: beats after 30 s keep their session times
    late = process_recording(make_recording(session, ecg_start=30.0))
    a = full.beats.r_peak_s.to_numpy()
    b = late.beats.r_peak_s.to_numpy()
    a = a[a > 32]
    b = b[b > 32]
    n = min(len(a), len(b), 500)
    assert np.allclose(a[:n], b[:n], atol=0.01)
    assert late.windows.hr_bpm.iloc[5] == pytest.approx(full.windows.hr_bpm.iloc[5], abs=0.5)


def test_non_responder_is_flagged(session):
    rec = make_recording(session)
    flat = 4 + 0.0005 * np.sin(np.arange(len(session.eda_us)) / FS * 0.2)
    rec.channels["EDA"] = dataclasses.replace(rec.channels["EDA"], data=flat)
    res = process_recording(rec)
    assert res.quality()["non_responder"] is True
    assert (res.windows.scr_count == 0).all()
    assert res.windows.eda_reason.str.startswith("non_responder").all()
    assert any("non-responder" in m for m in res.warnings)


def test_recording_ids_from_meta_name_or_settings():
    rec = Recording({}, Path("/d/whatever.xdf"), "xdf",
                    meta={"participant_id": "sub-42", "session": "2"})
    assert recording_ids(rec) == ("42", "2")
    assert recording_ids(rec, PipelineSettings(participant="P7", session="b")) == ("P7", "b")
    assert recording_ids(Recording({}, Path("/d/sub-x1_ses-03_ecg.edf"), "edf")) == ("x1", "03")


def test_unusable_ecg_keeps_the_eda(session):
    rec = make_recording(session)
    rec.channels["ECG"] = dataclasses.replace(rec.channels["ECG"], data=np.zeros(int(3 * FS)))
    res = process_recording(rec)
    w = res.windows
    assert not w.ecg_valid.any() and w.hr_bpm.isna().all()
    assert w.ecg_reason.str.startswith("ECG unusable").all()
    assert w.eda_valid.all()
    assert any("ECG unusable" in m and "5 s minimum" in m for m in res.warnings)


def test_flat_ecg_gives_nan_hr_with_reason(session):
    rec = make_recording(session)
    ecg = rec.channels["ECG"].data.copy()
    ecg[int(100 * FS) : int(400 * FS)] = 0.0  # disconnected through the baseline
    rec.channels["ECG"] = dataclasses.replace(rec.channels["ECG"], data=ecg)
    w = process_recording(rec).windows
    base = w[w.phase == "baseline"]
    assert base.hr_bpm.isna().sum() >= 4 and (base.ecg_reason.str.len() > 0).all()
    assert w[w.phase == "induction"].ecg_valid.all()
