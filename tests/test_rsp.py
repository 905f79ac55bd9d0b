"""Respiration: reading a belt from every format, breathing rate (belt and ECG-derived),
the HF breathing rule, the phases table, and bad belts."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from conditions import bids
from conditions.bids import PHASES_COLUMNS, WINDOWS_COLUMNS, read_tsv
from physio.errors import ChannelError, SignalQualityError
from physio.io import read_recording
from physio.io.channel_kinds import classify_channel
from physio.pipeline import Breathing, PipelineSettings, belt_span, process_recording
from physio.recording import Channel, Recording
from physio.rsp import ecg_rsp, rsp_belt, rsp_clean, rsp_window
from physio.signal_quality import belt_quality_of
from tests.readers_fixtures import synthetic_ecg, synthetic_eda
from tests.xdf_writer import XdfStream, write_xdf

ECG_FS = 250.0


def belt_trace(seconds: float, fs: float, rate_bpm: float, *, seed: int = 0):
    """A belt in V whose rate wanders +-5 % (90-s period); returns (trace, true breaths).

    The truth is the breath-by-breath rate between upward zero crossings of the breathing
    wave (phase = 2 pi k), the same definition the detector uses.
    """
    rng = np.random.default_rng(seed)
    grid = np.arange(0, seconds + 2, 0.01)
    hz = rate_bpm / 60 * (1 + 0.05 * np.sin(2 * np.pi * grid / 90))
    phase = 2 * np.pi * np.cumsum(hz) * 0.01
    t = np.arange(int(seconds * fs)) / fs
    ph = np.interp(t, grid, phase)
    y = 1.5 + 0.5 * np.sin(ph) + 0.12 * np.sin(2 * ph + 0.8) + rng.normal(0, 0.02, len(t))
    k = np.arange(1, np.floor(phase[-1] / (2 * np.pi)) + 1)
    onsets = np.interp(k * 2 * np.pi, phase, grid)
    return y, {"mid": (onsets[1:] + onsets[:-1]) / 2, "rate": 60 / np.diff(onsets)}


def true_rate(truth, a, b):
    sel = (truth["mid"] >= a) & (truth["mid"] < b)
    return float(np.median(truth["rate"][sel]))


def rendered_ecg(seconds: float, rate_bpm: float, *, rsa_ms: float = 30.0, seed: int = 0):
    """An ECG (mV) whose RR intervals carry RSA at the breathing rate (simulator renderer)."""
    from soothe.simulate.ecg_synth import ecg_render
    from soothe.simulate.rr import BeatSeries

    rng = np.random.default_rng(seed)
    times, phases, t = [], [], 0.5
    while t < seconds - 0.5:
        ph = 2 * np.pi * rate_bpm / 60 * t
        times.append(t)
        phases.append(ph)
        t += (850 - rsa_ms * np.sin(ph) + rng.normal(0, 3)) / 1000
    times = np.asarray(times)
    beats = BeatSeries(times, np.r_[np.nan, np.diff(times) * 1000],
                       np.zeros(len(times), bool), np.asarray(phases))
    ecg = ecg_render(beats, ECG_FS, int(seconds * ECG_FS), rng)
    return ecg + rng.normal(0, 0.01, len(ecg))


# ---- channel kinds and readers -------------------------------------------------------


@pytest.mark.parametrize(("name", "units", "kind"), [
    ("RESP - RSP100C", "Volts", "rsp"), ("Resp", "V", "rsp"), ("RESP", "V", "rsp"),
    ("rsp", "", "rsp"), ("respiratory", "V", "rsp"), ("Breathing belt", "mV", "rsp"),
    ("Pneumograph", "a.u.", "rsp"), ("Response button", "", "other"),
    ("Resp rate", "bpm", "other"), ("ECG", "mV", "ecg"),
], ids=str)
def test_respiration_channel_names(name, units, kind):
    assert classify_channel(name, units) == kind


def _check_belt(rec, name, units, data):
    (belt,) = rec.by_kind("rsp")
    assert belt.name == name and belt.units == units
    np.testing.assert_allclose(belt.data, data, rtol=1e-4, atol=2e-4)


def test_belt_from_csv_by_name_and_by_column_map(tmp_path):
    y, _ = belt_trace(40, 50.0, 12)
    ecg, _ = synthetic_ecg(40, 50.0)
    path = tmp_path / "rec.csv"
    pd.DataFrame({"ECG": ecg, "rsp": y, "chest": y}).to_csv(path, index=False)
    _check_belt(read_recording(path, sampling_rate=50), "rsp", "", y)
    rec = read_recording(path, sampling_rate=50, column_map={"rsp": "chest"})
    _check_belt(rec, "chest", "", y)
    assert rec.channels["rsp"].kind == "other"  # the user's choice is the only belt


def test_belt_from_bids_respiratory_column(tmp_path):
    files = bids.SessionFiles(tmp_path, "001", "1", "induction")
    bids.ensure_dataset(tmp_path, "test", "induction")
    ecg, _ = synthetic_ecg(40, 100.0)
    y, _ = belt_trace(40, 100.0, 12)
    bids.write_physio(files, {bids.PHYSIO_ECG: ecg, bids.PHYSIO_RSP: y}, 100.0,
                      {bids.PHYSIO_ECG: "mV", bids.PHYSIO_RSP: "V"})
    _check_belt(read_recording(files.physio_tsv_gz), bids.PHYSIO_RSP, "V", y)


def test_belt_from_edf(tmp_path):
    import edfio

    ecg, _ = synthetic_ecg(40, 250.0)
    y, _ = belt_trace(40, 25.0, 12)
    edfio.Edf([
        edfio.EdfSignal(ecg, 250, label="ECG", physical_dimension="mV", physical_range=(-5, 5)),
        edfio.EdfSignal(y, 25, label="Resp", physical_dimension="V", physical_range=(0, 3)),
    ]).write(tmp_path / "rec.edf")
    rec = read_recording(tmp_path / "rec.edf")
    (belt,) = rec.by_kind("rsp")
    assert belt.name == "Resp" and belt.units == "V" and belt.sampling_rate == 25
    np.testing.assert_allclose(belt.data, y, atol=3 / 65535 * 2)  # 16-bit EDF resolution


def test_belt_from_brainvision(tmp_path):
    import pybv

    ecg, _ = synthetic_ecg(40, 250.0)
    y, _ = belt_trace(40, 250.0, 12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pybv: non-µV units are "unsupported"
        pybv.write_brainvision(data=np.vstack([ecg * 1e-3, y]), sfreq=250,
                               ch_names=["ECG", "Resp"], fname_base="s", folder_out=tmp_path,
                               unit=["mV", "V"], overwrite=True)
    _check_belt(read_recording(tmp_path / "s.vhdr"), "Resp", "V", y)


def test_belt_from_xdf(tmp_path):
    ecg, _ = synthetic_ecg(40, 250.0)
    y, _ = belt_trace(40, 50.0, 12)
    streams = [
        XdfStream("BioAmp", "ECG", 250, "float32", ecg[:, None], 100 + np.arange(len(ecg)) / 250,
                  labels=["ECG"], units=["mV"], stream_id=1),
        XdfStream("Belt", "RESP", 50, "double64", y[:, None], 100 + np.arange(len(y)) / 50,
                  labels=["RESP"], units=["V"], stream_id=2),
    ]
    rec = read_recording(write_xdf(tmp_path / "rec.xdf", streams))
    (belt,) = rec.by_kind("rsp")
    assert belt.name.startswith("RESP") and belt.units == "V"
    np.testing.assert_allclose(belt.data, y)


@pytest.mark.shared
def test_belt_from_biopac_acq(shared_data):
    rec = read_recording(shared_data / "biopac" / "physio-4.4.0.acq")
    (belt,) = rec.by_kind("rsp")
    assert belt.name == "RESP - RSP100C" and belt.sampling_rate == pytest.approx(3.90625)
    result = process_recording(rec)
    w = result.windows
    # 62 s: one full minute; the belt gives its breaths and depth (in Volts)
    r = rsp_window(result.rsp_belt, 0.0, 62.0)
    assert r["resp_source"] == "belt"
    assert 4 <= r["resp_rate_bpm"] <= 30 and r["resp_amplitude"] > 0
    assert result.info["rsp"]["belt"]["units"] == "Volts"
    # but its breaths are irregular (3-13/min) and the two breath counters disagree
    # (8.0 vs 10.7/min, issue 22): the window reports no belt rate, and says why
    assert 0 <= w.resp_quality[0] < 0.5 and w.resp_source[0] != "belt"
    judged = belt_span(Breathing(result.rsp_belt, None, belt_quality_of(belt)), 0.0, 62.0)
    assert judged["resp_reason"].startswith("breath counters disagree")


# ---- breathing rate ------------------------------------------------------------------


@pytest.mark.parametrize("rate", [6, 9, 12, 15, 20])
@pytest.mark.parametrize("fs", [25.0, 3.90625])
def test_belt_rate_within_half_a_breath(rate, fs):
    y, truth = belt_trace(300, fs, rate, seed=rate)
    breaths = rsp_belt(y, fs, units="V")
    for a in range(0, 240, 60):
        w = rsp_window(breaths, a, a + 60)
        assert w["resp_source"] == "belt"
        assert abs(w["resp_rate_bpm"] - true_rate(truth, a, a + 60)) < 0.5
        # depth: the wave's peak-to-trough (~1.0-1.2 V), not the 1.5 V offset
        assert 0.8 < w["resp_amplitude"] < 1.4


@pytest.mark.parametrize("rate", [12, 15, 18])
def test_ecg_derived_rate_at_rest(rate):
    from physio.ecg import ecg_beats

    ecg = rendered_ecg(300, rate, seed=rate)
    beats = ecg_beats(ecg, ECG_FS)
    breaths = ecg_rsp(beats.peaks_s, beats.rr_ms, beats.corrected, ecg=ecg,
                      sampling_rate=ECG_FS)
    assert breaths.info["edr_method"] == "combined"
    for a in range(0, 240, 60):
        w = rsp_window(breaths, a, a + 60)
        assert w["resp_source"] == "ecg" and np.isnan(w["resp_amplitude"])
        assert abs(w["resp_rate_bpm"] - rate) < 1.5


# ---- the HF breathing rule and the phases table --------------------------------------


def _recording(rate_bpm: float, seconds: float = 240.0, *, belt: bool = True) -> Recording:
    ecg = rendered_ecg(seconds, rate_bpm, seed=int(rate_bpm))
    ch = {"ECG": Channel("ECG", ecg, ECG_FS, "mV", "ecg"),
          "EDA": Channel("EDA", synthetic_eda(seconds, 25.0), 25.0, "uS", "eda")}
    if belt:
        y, _ = belt_trace(seconds, 25.0, rate_bpm)
        ch["Resp"] = Channel("Resp", y, 25.0, "V", "rsp")
    markers = pd.DataFrame({"onset_s": [0.0], "code": [0], "label": ["start"]})
    return Recording(ch, source=__import__("pathlib").Path(f"sub-r{int(rate_bpm)}.csv"),
                     format="csv", markers=markers)


@pytest.mark.parametrize("belt", [True, False], ids=["belt", "ecg-derived"])
def test_hf_nan_when_breathing_below_the_band(belt):
    result = process_recording(_recording(6.0, belt=belt), PipelineSettings(window_s=120))
    w = result.windows
    if not belt:
        # ECG-derived breathing is reported only where its RSA and QRS-amplitude routes
        # agree (issue 22): in the second window of this simulation they do not (6.1 vs
        # 8.6/min), so its rate is unknown, and the HF rule is not applied there
        unknown = w.resp_rate_bpm.isna()
        assert unknown.sum() <= 1
        assert w.resp_reason[unknown].str.contains("disagree").all()
        w = w[~unknown]
    assert len(w) and (w.resp_source == ("belt" if belt else "ecg")).all()
    assert w.resp_rate_bpm.between(5, 7).all()
    assert w.hf_ms2.isna().all() and not w.hf_valid.any()
    assert w.hf_reason.str.startswith("breathing below the HF band").all()
    # ln RMSSD, the per-minute vagal index, is untouched by the rule
    assert w.lnrmssd.notna().all()
    (phase,) = result.phases.itertuples()
    assert np.isfinite(phase.lnrmssd)
    if not belt:
        # over the whole 240-s phase the two ECG-derived routes disagree: the rate is
        # unknown (NaN, n/a), and the HF rule, which uses only a valid rate, does not apply
        assert np.isnan(phase.resp_rate_bpm) and phase.resp_source == "n/a"
        assert phase.hf_valid and np.isfinite(phase.hf_ms2)
        return
    assert np.isnan(phase.hf_ms2) and phase.hf_reason.startswith("breathing below the HF band")
    assert 5 < phase.resp_rate_bpm < 7


def test_breathing_band_is_the_hf_band():
    from physio.hrv.hrv_window import HF_BAND_HZ
    from physio.rsp import HF_BREATHING_BPM

    assert HF_BREATHING_BPM == pytest.approx(tuple(60 * f for f in HF_BAND_HZ))


def test_hf_kept_when_breathing_in_the_band():
    result = process_recording(_recording(15.0), PipelineSettings(window_s=120))
    w = result.windows
    assert w.hf_valid.all() and w.lnhf.notna().all() and (w.hf_reason == "").all()
    assert (abs(w.resp_rate_bpm - 15) < 0.5).all()
    p = result.phases
    assert list(p.columns) == list(PHASES_COLUMNS) and len(p) == 1
    assert p.hf_valid[0] and p.lnhf[0] > 0 and abs(p.resp_rate_bpm[0] - 15) < 0.5
    # the phase's RR series is the same as its windows': HR agrees
    assert p.hr_bpm[0] == pytest.approx(w.hr_bpm.mean(), rel=0.01)


# ---- through the command: outputs and sidecar ----------------------------------------


def test_process_writes_breathing_phases_and_group_tables(tmp_path):
    from physio.cli import main

    rec = _recording(15.0, 200.0)
    ecg = rec.channels["ECG"].data
    n = len(ecg)
    belt = np.interp(np.arange(n) / ECG_FS, np.arange(len(rec.channels["Resp"].data)) / 25.0,
                     rec.channels["Resp"].data)
    eda = synthetic_eda(n / ECG_FS, ECG_FS)
    path = tmp_path / "sub-b1.csv"
    pd.DataFrame({"ecg": ecg, "eda": eda, "chest": belt}).to_csv(path, index=False,
                                                                 float_format="%.6g")
    deriv = tmp_path / "deriv"
    code = main(["process", str(path), "--out", str(deriv), "--no-progress",
                 "--sampling-rate", "250", "--column-map", "rsp=chest", "--ecg-units", "mV",
                 "--eda-units", "uS", "--rsp-units", "V", "--scr-threshold", "0.08"])
    assert code == 0
    (wt,) = deriv.rglob("*_desc-windows_physio.tsv")
    w = read_tsv(wt, WINDOWS_COLUMNS)
    full = w[~w.partial.astype(bool)]
    assert (full.resp_source == "belt").all() and (abs(full.resp_rate_bpm - 15) < 0.5).all()
    (pt,) = deriv.rglob("sub-b1_*_desc-phases_physio.tsv")
    assert len(read_tsv(pt, PHASES_COLUMNS)) == 1
    phase_side = json.loads(pt.with_suffix(".json").read_text())["SootheProvenance"]
    assert phase_side["vagal_index"]["primary"] == "lnrmssd"
    assert phase_side["rsp"]["rules"]["hf_breathing_band_bpm"] == [9.0, 24.0]
    group, _ = bids.group_phases_paths(deriv)
    assert read_tsv(group, PHASES_COLUMNS).participant_id.tolist() == ["sub-b1"]
    side = json.loads(wt.with_suffix(".json").read_text())
    prov = side["SootheProvenance"]
    assert prov["settings"]["scr_min_amplitude_us"] == 0.08
    assert prov["methods"]["eda"]["scr_min_amplitude_us"] == 0.08
    # the low-pass type and order and the SCR rise-time limits are recorded with the rest
    assert prov["methods"]["eda"]["lowpass_filter"] == (
        "Butterworth low-pass, 4th order, zero phase")
    assert prov["methods"]["eda"]["scr_rise_s"] == [0.3, 6.0]
    assert prov["methods"]["vagal_index"]["primary"] == "lnrmssd"
    assert prov["methods"]["rsp"]["belt"]["channel"] == "chest"
    assert "sc_mean_us" in prov["methods"]["eda_columns"]


# ---- bad belts -----------------------------------------------------------------------


def test_belt_in_unknown_units_is_a_clear_error():
    rec = _recording(15.0, 120.0)
    rec.channels["Resp"].units = "degC"
    with pytest.raises(ChannelError, match=r"sub-r15.csv: respiration channel 'Resp': "
                                           r"unknown belt units 'degC'"):
        process_recording(rec)


@pytest.mark.parametrize("damage", ["short", "empty", "all-nan", "flat"])
def test_belt_unusable_keeps_ecg_and_eda_and_falls_back_to_the_ecg(damage):
    rec = _recording(15.0, 180.0)
    belt = rec.channels["Resp"]
    n20 = int(20 * belt.sampling_rate)
    belt.data = {"short": belt.data[:n20],  # 20 s of belt in a 3-min session
                 "empty": belt.data[:0], "all-nan": belt.data * np.nan,
                 "flat": np.full(len(belt.data), 1.5)}[damage]
    result = process_recording(rec)
    w = result.windows
    why = "flat" if damage == "flat" else "shorter than the 30 s"
    assert any("respiration belt unusable" in m and "'Resp'" in m and why in m
               for m in result.warnings)
    assert w.ecg_valid.all() and w.eda_valid.all()
    assert (w.resp_source == "ecg").all() and w.resp_rate_bpm.notna().all()


def test_belt_in_unknown_units_fails_the_recording_in_the_batch(tmp_path):
    from physio.cli import main

    y, _ = belt_trace(120, 50.0, 12)
    path = tmp_path / "sub-u1.csv"
    pd.DataFrame({"eda": synthetic_eda(120, 50.0), "Resp (bpm)": y}).to_csv(path, index=False)
    deriv = tmp_path / "deriv"
    assert main(["process", str(path), "--out", str(deriv), "--no-progress",
                 "--sampling-rate", "50", "--eda-units", "uS"]) == 0  # "Resp (bpm)": derived
    path.write_text(path.read_text().replace("Resp (bpm)", "Resp (degC)"))
    assert main(["process", str(path), "--out", str(deriv), "--no-progress",
                 "--sampling-rate", "50", "--eda-units", "uS"]) == 1
    text = bids.failures_tsv(deriv).read_text()
    assert "sub-u1.csv: respiration channel 'Resp (degC)': unknown belt units 'degC'" in text


def test_belt_short_and_no_ecg_gives_nan_with_reason():
    rec = _recording(15.0, 180.0)
    del rec.channels["ECG"]
    rec.channels["Resp"].data = rec.channels["Resp"].data[:250]  # 10 s
    result = process_recording(rec)
    w = result.windows
    assert w.eda_valid.all() and (w.resp_source == "n/a").all() and w.resp_rate_bpm.isna().all()
    assert any("no breathing rate" in m for m in result.warnings)


def test_rsp_clean_refuses_short_and_flat_traces():
    with pytest.raises(SignalQualityError, match="'Belt': 10.0 s of signal"):
        rsp_clean(np.sin(np.arange(250) / 5), 25.0, name="Belt")
    with pytest.raises(SignalQualityError, match="flat"):
        rsp_clean(np.ones(2500), 25.0)
    # a belt lost for a stretch: breaths across the loss are dropped, not invented
    y, truth = belt_trace(180, 25.0, 12)
    y[int(60 * 25): int(100 * 25)] = np.nan
    b = rsp_belt(y, 25.0, units="V")
    assert np.isnan(rsp_window(b, 60, 100)["resp_rate_bpm"])
    assert abs(rsp_window(b, 120, 180)["resp_rate_bpm"] - true_rate(truth, 120, 180)) < 0.5


def test_two_belts_use_the_first_and_say_so_or_the_one_named():
    rec = _recording(15.0, 180.0)
    y, _ = belt_trace(180, 25.0, 8.0)
    rec.channels["Resp abdomen"] = Channel("Resp abdomen", y, 25.0, "V", "rsp")
    result = process_recording(rec)
    assert any("2 respiration channels" in m and "used 'Resp'" in m for m in result.warnings)
    assert (abs(result.windows.resp_rate_bpm - 15) < 0.5).all()
    named = process_recording(rec, PipelineSettings(rsp_channel="Resp abdomen"))
    assert (abs(named.windows.resp_rate_bpm - 8) < 0.5).all()
    assert named.info["rsp"]["belt"]["channel"] == "Resp abdomen"
