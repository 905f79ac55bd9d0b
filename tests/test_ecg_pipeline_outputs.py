"""ECG outputs of one recording through the pipeline: beats table labels, partial windows,
excluded differences, the rules in the sidecar block, HF at any window onset."""

from __future__ import annotations

import gzip
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conditions.bids import BEATS_COLUMNS
from physio.pipeline import PipelineSettings, process_recording
from physio.recording import Channel, Recording
from soothe.simulate.ecg_stress import stress_case


@cache
def ectopy_case():
    return stress_case("isolated_pvc_pac", duration_s=400.0, seed=2)


def recording() -> Recording:
    case = ectopy_case()
    ch = Channel("ECG", case.ecg, case.sampling_rate, "mV", "ecg")
    markers = pd.DataFrame({"onset_s": [], "code": [], "label": []})
    return Recording({"ECG": ch}, Path("sub-001_ses-1_stress.csv"), "csv", markers)


@pytest.mark.parametrize("chunked", [False, True])
def test_beats_table_carries_classes_and_reasons(chunked):
    settings = PipelineSettings(chunk_above_s=100.0, chunk_s=150.0) if chunked \
        else PipelineSettings()
    res = process_recording(recording(), settings)
    beats = res.beats
    assert list(beats.columns) == list(BEATS_COLUMNS)
    assert set(beats.beat_class) == {"normal", "ectopic"}
    flagged = beats[beats.corrected]
    assert (flagged.beat_class == "ectopic").all() and flagged.reason.str.len().gt(0).all()
    assert (beats[~beats.corrected].beat_class == "normal").all()
    case = ectopy_case()
    n_ect = int((case.label != "N").sum())
    assert n_ect <= len(flagged) <= 2 * n_ect  # two intervals per premature beat at most
    method = res.info["ecg"]["method"]
    assert "rhythm" in method["segment_rule"] and "neighbour" in method["correction_rule"]


def test_partial_last_window_has_no_values_and_full_ones_do():
    # regression: the 40-s remainder (400 s = 6 x 60 + 40) must not come out valid
    res = process_recording(recording())
    w = res.windows
    assert w.partial.tolist() == [False] * 6 + [True]
    last = w.iloc[-1]
    assert not last.ecg_valid and np.isnan(last.rmssd_ms) and np.isnan(last.hr_bpm)
    assert "shorter than 50 s" in last.ecg_reason
    full = w[~w.partial]
    assert full.ecg_valid.all(), full.ecg_reason.tolist()
    assert full.excluded_diff_pct.between(0.5, 25.0).all()  # filled, by events
    assert full.corrected_pct.gt(0).all()
    assert full.hf_reason.str.startswith("window shorter than 120 s").all()


def test_lab_recording_keeps_hf_in_every_full_window_at_any_onset(shared_data):
    # regression: with 200 random phase onsets, 79 of 2,200 full 60-s windows lost
    # HF to a `dur < 60` test on float bounds (59.99999... s)
    from physio.ecg import ecg_beats
    from physio.hrv import hrv_window
    from physio.phases import PhaseSpan, phase_windows

    path = shared_data / "lab" / "Task1_ECG.npy.gz"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    x = np.load(gzip.open(path))
    beats = ecg_beats(x, 1000.0)
    dur = len(x) / 1000.0
    rng = np.random.default_rng(10)
    for i, onset in enumerate(rng.uniform(0.0, 120.0, 200)):
        for length in (60.0, 120.0):
            w = phase_windows([PhaseSpan("recording", float(onset), dur)], length)
            for r in w[~w.partial].itertuples():
                out = hrv_window(beats, r.start_s, r.end_s, min_hf_window_s=length)
                assert out["hf_valid"] and out["ecg_valid"], (onset, length, out["hf_reason"])
                if length == 60.0 and i < 20:  # default HF minimum: reason, values present
                    d = hrv_window(beats, r.start_s, r.end_s)
                    assert d["ecg_valid"] and np.isfinite([d["hr_bpm"], d["rmssd_ms"],
                                                           d["sdnn_ms"]]).all()
                    assert d["hf_reason"].startswith("window shorter than 120 s")
