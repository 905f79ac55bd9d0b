"""Hand edits applied by the pipeline (physio.edits_apply, physio.pipeline.process_recording)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conditions.protocol import load_protocol
from physio.ecg import BeatSeries
from physio.ecg.ecg_quality import WINDOW_CORR_MIN
from physio.eda import EdaResult
from physio.edits import MATCH_S, REFRACTORY_S, Edit
from physio.edits_apply import (
    USABLE_COVER,
    BeatEdits,
    apply_beat_edits,
    apply_scr_edits,
    edited_eda_artifacts,
    hand_stretches,
    mark_ecg_unusable,
)
from physio.pipeline import PipelineSettings, process_recording
from physio.recording import Channel, Recording

PROTOCOL = load_protocol()
FS = 250.0


# -- steps on small hand-made inputs -----------------------------------------------------


def pulse_ecg(beats_s: np.ndarray, seconds: float, fs: float = FS) -> Channel:
    t = np.arange(int(seconds * fs)) / fs
    x = np.zeros_like(t)
    for b in beats_s:
        x += np.exp(-0.5 * ((t - b) / 0.01) ** 2)
    return Channel("ecg", x, fs, "mV", "ecg")


def series(t: np.ndarray, corrected_at: int | None = None) -> BeatSeries:
    rr = np.r_[np.nan, np.diff(t) * 1000.0]
    corr = np.zeros(len(t), bool)
    klass = np.full(len(t), "normal", dtype=object)
    reason = np.full(len(t), "", dtype=object)
    if corrected_at is not None:
        corr[corrected_at] = True
        klass[corrected_at] = "missed"
        reason[corrected_at] = "missed beat"
        rr[corrected_at] = 800.0
    return BeatSeries(t, rr, corr, [], {"polarity_inverted": False}, beat_class=klass,
                      reason=reason)


def test_delete_measures_the_next_interval_and_keeps_every_other_beat():
    t = np.arange(1.0, 21.0) * 0.8
    b = series(t)
    out = apply_beat_edits(b, pulse_ecg(t, 20), [(1, Edit("delete_beat", "ecg", t[5] + 0.01,
                                                          author="ana"))])
    e = out.beats
    assert out.deleted == 1 and len(e.peaks_s) == len(t) - 1
    assert e.rr_ms[5] == pytest.approx(1600.0) and not e.corrected[5]
    assert e.reason[5] == "interval measured after a hand edit"
    keep = np.r_[0:5, 6:len(t)]
    untouched = [j for j in range(len(e.peaks_s)) if j != 5]
    assert np.array_equal(e.peaks_s[untouched], t[keep][untouched])
    assert np.array_equal(e.rr_ms[untouched], b.rr_ms[keep][untouched], equal_nan=True)
    assert list(e.removed_reason) == ["deleted by hand (ana)"]
    assert out.source.tolist() == keep.tolist()


def test_add_snaps_and_clears_the_corrected_interval_it_explains():
    true = np.arange(1.0, 21.0) * 0.8
    detected = np.delete(true, 8)  # the detector missed one: the next interval is flagged
    b = series(detected, corrected_at=8)
    out = apply_beat_edits(b, pulse_ecg(true, 20), [(1, Edit("add_beat", "ecg", true[8] + 0.03,
                                                             author="ana"))])
    e = out.beats
    assert out.added == 1 and e.peaks_s[8] == pytest.approx(true[8], abs=1e-3)
    assert e.beat_class[8] == "manual" and e.reason[8] == "added by hand (ana)"
    assert e.rr_ms[8] == pytest.approx(800.0, abs=1) and e.rr_ms[9] == pytest.approx(800, abs=1)
    assert not e.corrected.any() and e.beat_class[9] == "normal"
    assert out.source[8] == -1


def test_move_is_not_snapped_and_refractory_clashes_are_stale():
    t = np.arange(1.0, 21.0) * 0.8
    rows = [(1, Edit("move_beat", "ecg", t[4], new_time_s=t[4] + 0.013, author="bo")),
            (2, Edit("move_beat", "ecg", t[6], new_time_s=t[7] - REFRACTORY_S / 2)),
            (3, Edit("add_beat", "ecg", t[10] + 0.02)),
            (4, Edit("delete_beat", "ecg", t[12] + 2 * MATCH_S)),
            (5, Edit("add_beat", "ecg", 99.0))]
    out = apply_beat_edits(series(t), pulse_ecg(t, 20), rows)
    assert out.moved == 1 and out.beats.peaks_s[4] == pytest.approx(t[4] + 0.013)
    assert out.beats.reason[4] == f"moved by hand from {t[4]:.3f} s (bo)"
    assert [s.row for s in out.stale] == [2, 3, 4, 5]
    assert "closer than 0.25 s to the beat" in out.stale[0].reason
    assert "closer than 0.25 s to the R peak" in out.stale[1].reason
    assert out.stale[2].reason == "no beat within 0.05 s"
    assert "outside the ECG" in out.stale[3].reason
    assert "row 4: delete_beat (ecg)" in out.stale[2].warning("e.tsv")


def test_deleting_the_first_beat_leaves_no_interval_and_gaps_stay_gaps():
    t = np.r_[np.arange(1.0, 6.0), np.arange(12.0, 17.0)]  # 6 s without beats
    b = series(t)
    b.bad_segments_s = [(6.0, 11.5)]
    b.rr_ms[5] = np.nan
    out = apply_beat_edits(b, pulse_ecg(t, 18), [(1, Edit("delete_beat", "ecg", 1.0)),
                                                 (2, Edit("delete_beat", "ecg", 5.0))])
    e = out.beats
    assert math.isnan(e.rr_ms[0])  # the new first beat: no interval
    assert math.isnan(e.rr_ms[e.peaks_s.tolist().index(12.0)])  # still across the gap


def test_mark_ecg_unusable_removes_beats_and_excludes_the_crossing_interval():
    t = np.arange(1.0, 21.0)
    b = series(t)
    b.bad_segments_s = [(14.0, 16.5)]
    e = mark_ecg_unusable(BeatEdits(b, np.arange(20)), [(5.5, 8.5, "ana"), (15.0, 18.0, "x")],
                          0.0)
    assert 6.0 not in e.beats.peaks_s and 19.0 in e.beats.peaks_s
    assert math.isnan(e.beats.rr_ms[e.beats.peaks_s.tolist().index(9.0)])
    # the part already bad is not counted twice
    assert e.beats.bad_segments_s == [(14.0, 16.5), (5.5, 8.5), (16.5, 18.0)]
    assert e.source.tolist() == [i for i in range(20) if not (5.5 <= t[i] < 8.5
                                                             or 15 <= t[i] < 18)]


def test_hand_stretches_later_rows_win_and_all_means_every_channel():
    h = hand_stretches([Edit("mark_unusable", "ecg", 0.0, end_s=100.0, author="a"),
                        Edit("mark_usable", "ecg", 40.0, end_s=60.0, author="b"),
                        Edit("mark_unusable", "all", 200.0, end_s=210.0)])
    assert h.unusable["ecg"] == [(0.0, 40.0, "a"), (60.0, 100.0, "a"), (200.0, 210.0, "")]
    assert h.usable["ecg"] == [(40.0, 60.0, "b")]
    assert h.unusable["resp"] == [(200.0, 210.0, "")]
    assert h.seconds("unusable") == {"ecg": 90.0, "eda": 10.0, "resp": 10.0}
    assert h.usable_covers("ecg", 40.0, 60.0)
    assert h.usable_covers("ecg", 40.0, 40.0 + 20.0 / USABLE_COVER)
    assert not h.usable_covers("ecg", 40.0, 40.0 + 20.0 / USABLE_COVER + 0.5)


def test_edited_eda_artifacts_without_eda_stretches_is_the_same_list():
    arts = [(1.0, 2.0, "slope")]
    assert edited_eda_artifacts(arts, hand_stretches([])) is arts


def test_restore_brings_back_an_scr_the_artefact_rule_dropped():
    found = EdaResult(10.0, 0.0, np.zeros(3), np.zeros(3), np.array([1.0, 5.0, 9.0]),
                      np.array([2.0, 6.0, 10.0]), np.array([0.1, 0.2, 0.3]))
    counted = EdaResult(10.0, 0.0, np.zeros(3), np.zeros(3), np.array([1.0, 9.0]),
                        np.array([2.0, 10.0]), np.array([0.1, 0.3]))
    out = apply_scr_edits(found, counted, [(1, Edit("restore_scr", "eda", 6.2)),
                                           (2, Edit("delete_scr", "eda", 9.8)),
                                           (3, Edit("restore_scr", "eda", 10.4)),
                                           (4, Edit("restore_scr", "eda", 30.0))])
    assert out.result.scr_peak_s.tolist() == [2.0, 6.0, 10.0]
    assert out.result.scr_amp_us.tolist() == [0.1, 0.2, 0.3]
    assert (out.deleted, out.restored) == (1, 2)
    assert [s.row for s in out.stale] == [4]


# -- whole recordings --------------------------------------------------------------------


@pytest.fixture(scope="module")
def session():
    from soothe.simulate import simulate_session

    return simulate_session(PROTOCOL, "001", "rumination", seed=3, index=1, fs=FS)


def make_recording(s, ecg: np.ndarray | None = None, *, belt: bool = True,
                   eda: bool = True) -> Recording:
    ev = s.events_table(PROTOCOL)
    markers = pd.DataFrame({"onset_s": ev.onset.astype(float), "code": ev.value.astype(int),
                            "label": ev.trial_type})
    ch = {"ECG": Channel("ECG", s.ecg_mv if ecg is None else ecg, FS, "mV", "ecg")}
    if eda:
        ch["EDA"] = Channel("EDA", s.eda_us, FS, "uS", "eda")
    if belt:
        ch["RESP"] = Channel("RESP", s.resp_v, FS, "V", "rsp")
    return Recording(ch, Path("sub-001_ses-1_x.csv"), "csv", markers)


@pytest.fixture(scope="module")
def base(session):
    return process_recording(make_recording(session))


def changed(a: pd.DataFrame, b: pd.DataFrame) -> dict[tuple[str, int], list[str]]:
    out = {}
    for i in range(len(a)):
        x, y = a.iloc[i], b.iloc[i]
        cols = [c for c in a.columns if not ((pd.isna(x[c]) and pd.isna(y[c])) or x[c] == y[c])]
        if cols:
            out[(x.phase, int(x.window))] = cols
    return out


def start_of(result, phase: str, k: int) -> float:
    w = result.windows
    return float(w[(w.phase == phase) & (w.window == k)].start_s.iloc[0])


def test_no_edits_is_the_automatic_result(session, base):
    again = process_recording(make_recording(session), edits=())
    pd.testing.assert_frame_equal(again.windows, base.windows)
    assert again.manual_corrections is None


def test_eda_stretch_marked_unusable_changes_only_its_window(session, base):
    st = start_of(base, "baseline", 3)
    r = process_recording(make_recording(session), edits=[
        Edit("mark_unusable", "eda", st + 10, end_s=st + 50, author="ana")])
    diff = changed(base.windows, r.windows)
    assert list(diff) == [("baseline", 3)]
    row = r.windows[(r.windows.phase == "baseline") & (r.windows.window == 3)].iloc[0]
    assert not row.eda_valid and "marked unusable by hand" in row.eda_reason
    assert r.manual_corrections["unusable_s"]["eda"] == 40.0


def test_usable_over_an_unusable_stretch_cancels_it(session, base):
    st = start_of(base, "baseline", 3)
    r = process_recording(make_recording(session), edits=[
        Edit("mark_unusable", "eda", st + 10, end_s=st + 50),
        Edit("mark_usable", "eda", st + 5, end_s=st + 55)])
    assert changed(base.windows, r.windows) == {}
    assert r.manual_corrections["usable_s"]["eda"] == 50.0


def test_delete_scr_drops_it_from_its_window_and_the_table(session, base):
    peak = float(base.scrs.peak_s.iloc[2])
    r = process_recording(make_recording(session), edits=[
        Edit("delete_scr", "eda", peak + 0.3), Edit("delete_scr", "eda", peak + 0.3)])
    assert len(r.scrs) == len(base.scrs) - 1 and peak not in r.scrs.peak_s.tolist()
    (key, cols), = changed(base.windows, r.windows).items()
    assert "scr_count" in cols
    w = base.windows.set_index(["phase", "window"])
    assert r.windows.set_index(["phase", "window"]).loc[key, "scr_count"] == \
        w.loc[key, "scr_count"] - 1
    assert [s["row"] for s in r.manual_corrections["stale"]] == [2]
    back = process_recording(make_recording(session), edits=[
        Edit("delete_scr", "eda", peak), Edit("restore_scr", "eda", peak - 0.2)])
    pd.testing.assert_frame_equal(back.scrs, base.scrs)


def test_belt_stretch_marked_unusable_has_no_belt_rate(session, base):
    st = start_of(base, "baseline", 3)
    r = process_recording(make_recording(session), edits=[
        Edit("mark_unusable", "resp", st + 10, end_s=st + 20)])
    assert list(changed(base.windows, r.windows)) == [("baseline", 3)]
    row = r.windows[(r.windows.phase == "baseline") & (r.windows.window == 3)].iloc[0]
    assert row.resp_source != "belt"  # the ECG-derived rate fills in, or nothing
    if not row.resp_valid:
        assert "marked unusable by hand" in row.resp_reason


def test_ecg_usable_overrides_the_quality_rule_not_the_hrv_rules(session, base):
    import scipy.signal as sps

    st = start_of(base, "baseline", 3)
    i0, n = int(st * FS), int(60 * FS)
    # movement-band noise (0.7-3 Hz, 1 mV): every beat is still found where it is, but
    # the beats no longer share a shape, so only the quality rule fails
    z = sps.sosfiltfilt(sps.butter(4, [0.7, 3.0], "bandpass", fs=FS, output="sos"),
                        np.random.default_rng(0).normal(0, 1, n))
    moved = session.ecg_mv.copy()
    moved[i0:i0 + n] += z / z.std()
    auto = process_recording(make_recording(session, moved))
    row = auto.windows.iloc[3]
    assert not row.ecg_valid and row.ecg_quality < WINDOW_CORR_MIN
    assert "do not share a shape" in row.ecg_reason
    r = process_recording(make_recording(session, moved), edits=[
        Edit("mark_usable", "ecg", st, end_s=st + 60)])
    assert list(changed(auto.windows, r.windows)) == [("baseline", 3)]
    row = r.windows.iloc[3]
    assert row.ecg_valid and "do not share a shape" not in row.ecg_reason
    assert row.ecg_quality == auto.windows.iloc[3].ecg_quality  # the index is still shown
    # broadband noise (1 mV) makes the detector take noise for beats: the HRV rules fail
    # too (too many flagged beats), and marking the stretch usable does not override them
    noisy = session.ecg_mv.copy()
    noisy[i0:i0 + n] += np.random.default_rng(0).normal(0, 1.0, n)
    auto = process_recording(make_recording(session, noisy))
    r = process_recording(make_recording(session, noisy), edits=[
        Edit("mark_usable", "ecg", st, end_s=st + 60)])
    assert not auto.windows.iloc[3].ecg_valid and not r.windows.iloc[3].ecg_valid
    assert "flagged beats" in r.windows.iloc[3].ecg_reason
    assert np.isnan(r.windows.iloc[3].rmssd_ms)


def test_edits_on_absent_channels_are_stale(session):
    r = process_recording(make_recording(session, belt=False, eda=False), edits=[
        Edit("mark_unusable", "resp", 10.0, end_s=20.0),
        Edit("delete_scr", "eda", 30.0),
        Edit("mark_unusable", "all", 40.0, end_s=50.0)], edits_source="x_desc-edits.tsv")
    stale = r.manual_corrections["stale"]
    assert [s["row"] for s in stale] == [1, 2]
    assert "no usable resp channel" in stale[0]["reason"]
    assert "no EDA result" in stale[1]["reason"]
    assert sum("x_desc-edits.tsv: row" in w for w in r.warnings) == 2


def test_the_neurokit2_engine_honours_edits(session):
    settings = PipelineSettings(engine="neurokit2")
    auto = process_recording(make_recording(session), settings)
    st = start_of(auto, "baseline", 2)
    b = auto.beats[auto.beats.beat_class != "removed"]
    t = float(b[(b.r_peak_s >= st) & (b.r_peak_s < st + 60)].r_peak_s.iloc[30])
    r = process_recording(make_recording(session), settings,
                          edits=[Edit("delete_beat", "ecg", t, author="ana")])
    diff = changed(auto.windows, r.windows)
    assert list(diff) == [("baseline", 2)] and "rmssd_ms" in diff[("baseline", 2)]
    assert r.windows.iloc[2].n_beats == auto.windows.iloc[2].n_beats - 1
    assert r.manual_corrections["beats_deleted"] == 1


def test_qc_figure_marks_the_beats_placed_by_hand(session, base):
    from physio.qc import plot_recording_qc

    st = start_of(base, "baseline", 2)
    b = base.beats
    t = b[(b.r_peak_s >= st) & (b.r_peak_s < st + 60)].r_peak_s.to_numpy()
    r = process_recording(make_recording(session), edits=[
        Edit("move_beat", "ecg", float(t[10]), new_time_s=float(t[10]) + 0.01),
        Edit("delete_beat", "ecg", float(t[20]))])
    ax = next(a for a in plot_recording_qc(r).get_axes() if a.get_label() == "tachogram")
    hand = [ln for ln in ax.get_lines() if ln.get_gid() == "hand_beats"]
    assert len(hand) == 1
    np.testing.assert_allclose(hand[0].get_xdata(), [t[10] + 0.01])
    assert ax.get_title(loc="right").endswith("by hand (1), 1 deleted by hand")
    plain = next(a for a in plot_recording_qc(base).get_axes() if a.get_label() == "tachogram")
    assert not [ln for ln in plain.get_lines() if ln.get_gid() == "hand_beats"]
