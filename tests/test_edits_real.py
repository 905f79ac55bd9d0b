"""The review loop on a shared real recording (``../shared/data/real``; skipped without it).

Process the NeuroKit2 resting recording (100 Hz, BIOPAC), then, as an analyst would: delete
the least heartbeat-like detection of one window, delete a beat of another and add it back
by a click near it (a "missed" beat), mark a stretch of a third window unusable; save and
re-process. Exactly the windows holding the edits change, and the edited window's RMSSD is
the one its edited intervals give.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conditions.bids import BEATS_COLUMNS, WINDOWS_COLUMNS, parse_session_files, read_tsv
from physio.batch import run_batch
from physio.edits import SNAP_S, Edit, snap_to_r_peak, write_edits
from physio.io import read_recording
from physio.reprocess import reprocess_recording

NAME = "bio_resting_8min_100hz.csv"
READER = {"sampling_rate": 100.0, "column_map": {"ecg": "ECG", "eda": "EDA", "rsp": "RSP"}}
SETTINGS = {"ecg_units": "mV", "eda_units": "uS", "rsp_units": "V"}


@pytest.fixture(scope="module")
def source(shared_data) -> Path:
    path = shared_data / "real" / NAME
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


@pytest.fixture(scope="module")
def processed(source, tmp_path_factory) -> Path:
    deriv = tmp_path_factory.mktemp("real_deriv")
    s = run_batch([source], deriv, settings=SETTINGS, progress=False, **READER)
    assert s["ok"] == 1, s["results"]
    return deriv


def tables(deriv: Path):
    windows = next(deriv.glob("sub-*/ses-*/beh/*_desc-windows_physio.tsv"))
    files = parse_session_files(windows.with_name(
        windows.name.replace("_desc-windows_physio.tsv", "_events.tsv")))
    return files, read_tsv(windows, WINDOWS_COLUMNS), read_tsv(files.beats_tsv(deriv),
                                                                BEATS_COLUMNS)


def test_review_loop_changes_exactly_the_edited_windows(processed, tmp_path):
    deriv = tmp_path / "deriv"
    shutil.copytree(processed, deriv)
    files, before, beats = tables(deriv)
    kept = beats[beats.beat_class != "removed"]
    w1, w3, w5 = (before.iloc[i] for i in (1, 3, 5))
    in1 = kept[(kept.r_peak_s >= w1.start_s + 2) & (kept.r_peak_s < w1.end_s - 2)]
    false_beat = float(in1.sort_values("template_corr").r_peak_s.iloc[0])
    in3 = kept[(kept.r_peak_s >= w3.start_s) & (kept.r_peak_s < w3.end_s)]
    missed = float(in3.r_peak_s.iloc[len(in3) // 2])
    write_edits(files.edits_tsv(deriv), [
        Edit("delete_beat", "ecg", false_beat, author="ana", note="looks like a T wave"),
        Edit("delete_beat", "ecg", missed, author="ana"),
        Edit("add_beat", "ecg", missed + 0.03, author="ana"),
        Edit("mark_unusable", "ecg", w5.start_s + 20, end_s=w5.start_s + 40, author="ana")])
    record = reprocess_recording(files.windows_json(deriv))
    assert record["status"] == "ok", record
    _, after, new_beats = tables(deriv)
    diff = [int(a.window) for (_, a), (_, b) in zip(before.iterrows(), after.iterrows(),
                                                     strict=True)
            if not all((pd.isna(a[c]) and pd.isna(b[c])) or a[c] == b[c]
                       for c in before.columns)]
    assert {int(w1.window), int(w5.window)} <= set(diff) <= {int(w1.window), int(w3.window),
                                                             int(w5.window)}
    kept_new = new_beats[new_beats.beat_class != "removed"]
    w = kept_new[(kept_new.r_peak_s >= w1.start_s) & (kept_new.r_peak_s < w1.end_s)]
    rr, corr = w.rr_ms.to_numpy(float), w.corrected.to_numpy(bool)
    d = np.diff(rr)
    ok = np.isfinite(d) & ~corr[1:] & ~corr[:-1]
    assert after.iloc[1].rmssd_ms == pytest.approx(float(np.sqrt(np.mean(d[ok] ** 2))),
                                                   rel=1e-9)
    assert after.iloc[1].n_beats == w1.n_beats - 1
    assert after.iloc[5].n_beats < w5.n_beats - 10
    added = kept_new[kept_new.beat_class == "manual"].r_peak_s.to_numpy()
    assert len(added) == 1 and abs(added[0] - missed) <= 0.011  # one sample at 100 Hz
    prov = json.loads(files.windows_json(deriv).read_text())["SootheProvenance"]
    mc = prov["manual_corrections"]
    assert (mc["beats_added"], mc["beats_deleted"], mc["unusable_s"]["ecg"]) == (1, 2, 20.0)
    assert prov["reader"]["sampling_rate"] == 100.0  # re-processed as the batch read it


def test_snap_sensitivity_on_the_real_ecg(source, processed, capsys):
    """Where a click within SNAP_S of a beat lands: the detector's R peak, for any offset
    up to SNAP_S; printed per offset (how sensitive the snap is to where one clicks)."""
    rec = read_recording(source, ecg_channel="ECG", eda_channel="EDA", **READER)
    ecg = rec.ecg()
    _, _, beats = tables(processed)
    kept = beats[beats.beat_class != "removed"].r_peak_s.to_numpy()[20:420:8]
    lines = []
    for off in (-0.06, -0.04, -0.02, 0.0, 0.02, 0.04, 0.06):
        got = np.array([snap_to_r_peak(ecg, t + off, inverted=False) for t in kept])
        share = float(np.mean(np.abs(got - kept) <= 0.011))
        lines.append(f"click {off:+.2f} s: {share:.0%} of {len(kept)} beats snap to the "
                     "detector's R peak")
        if abs(off) < SNAP_S:
            assert share >= 0.95, lines[-1]
    with capsys.disabled():
        print("\n" + "\n".join(lines))


def test_match_sensitivity_an_edit_survives_a_change_of_engine(source, capsys):
    """MATCH_S decides whether an edit made on one method's beats still names a beat after
    the beats are re-detected another way: printed, the distance from each beat of the
    default engine to neurokit2's nearest beat, and the share within a few tolerances."""
    from physio.edits import MATCH_S
    from physio.pipeline import PipelineSettings, process_recording

    rec = read_recording(source, ecg_channel="ECG", eda_channel="EDA", **READER)
    peaks = {}
    for engine in ("soothe", "neurokit2"):
        r = process_recording(rec, PipelineSettings(engine=engine, **SETTINGS))
        b = r.beats
        peaks[engine] = b[b.beat_class != "removed"].r_peak_s.to_numpy()
    a, b = peaks["soothe"], peaks["neurokit2"]
    j = np.clip(np.searchsorted(b, a), 1, len(b) - 1)
    d = np.minimum(np.abs(a - b[j - 1]), np.abs(a - b[j]))
    lines = [f"soothe vs neurokit2 R peaks: median {np.median(d) * 1000:.1f} ms, 99th "
             f"percentile {np.percentile(d, 99) * 1000:.1f} ms over {len(a)} beats"]
    for tol in (0.01, 0.025, MATCH_S, 0.1):
        lines.append(f"  within {tol:.3f} s: {np.mean(d <= tol):.1%}")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert np.mean(d <= MATCH_S) >= 0.95, lines
