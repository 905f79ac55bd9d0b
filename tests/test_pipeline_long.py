"""Long recordings are processed in chunks with overlap (bounded memory); on a 2-hour
1000 Hz recording the chunked results equal the unchunked ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from physio.pipeline import PipelineSettings, process_recording
from physio.recording import Channel, Recording

FS = 1000.0


def long_recording(hours: float, fs: float = FS) -> Recording:
    from conditions.protocol import load_protocol
    from soothe.simulate import simulate_session

    s = simulate_session(load_protocol(), "001", "neutral", seed=9, index=1, fs=fs)
    n = int(hours * 3600 * fs)
    reps = int(np.ceil(n / len(s.ecg_mv)))
    ecg = np.tile(s.ecg_mv, reps)[:n]
    eda = np.tile(s.eda_us, reps)[:n]
    eda[int(4000 * fs) : int(4010 * fs)] = np.nan  # signal loss across nothing special
    return Recording({"ECG": Channel("ECG", ecg, fs, "mV", "ecg"),
                      "EDA": Channel("EDA", eda, fs, "uS", "eda")},
                     Path("sub-long_ses-1.csv"), "csv")


def compare(rec: Recording, chunk_s: float) -> None:
    whole = process_recording(rec, PipelineSettings(chunk_above_s=np.inf))
    parts = process_recording(rec, PipelineSettings(chunk_s=chunk_s, chunk_above_s=0.0))
    assert parts.info["ecg"]["method"]["chunked"]["n_chunks"] > 1
    assert len(whole.beats) == len(parts.beats)
    np.testing.assert_allclose(parts.beats.r_peak_s, whole.beats.r_peak_s, rtol=0, atol=1e-9)
    # equal up to float rounding of the chunk offsets (~1e-12 relative)
    np.testing.assert_allclose(parts.beats.rr_ms, whole.beats.rr_ms, rtol=1e-9)
    assert (parts.beats.corrected == whole.beats.corrected).all()
    np.testing.assert_array_equal(parts.eda.tonic, whole.eda.tonic)
    pd.testing.assert_frame_equal(parts.windows, whole.windows, rtol=1e-9)


def test_chunked_equals_unchunked_short():
    compare(long_recording(0.5, fs=250.0), chunk_s=400.0)


@pytest.mark.slow
def test_chunked_equals_unchunked_on_2_hours():
    compare(long_recording(2.0), chunk_s=1800.0)
