"""A fast belt processed at ~50 Hz gives the breaths of the full-rate belt."""

from __future__ import annotations

import numpy as np
import pytest

from physio.rsp import RSP_PROCESS_HZ, rsp_belt, rsp_decimate, rsp_window
from tests.test_rsp import belt_trace, true_rate


@pytest.mark.parametrize("rate", [6, 12, 20])
@pytest.mark.parametrize("fs", [1000.0, 256.0])
def test_decimated_belt_gives_the_full_rate_breaths(rate, fs):
    y, truth = belt_trace(300, fs, rate, seed=rate)
    fast = rsp_belt(y, fs, units="V")
    full = rsp_belt(y, fs, units="V", process_hz=None)
    assert fast.info["processed_rate_hz"] == pytest.approx(fs / int(fs // RSP_PROCESS_HZ))
    assert full.info["processed_rate_hz"] == fs and full.info["decimation"] == "none"
    # Away from the first and last 30 s (where the band-pass's edge transient, padded
    # over 15 ms at 1000 Hz and 0.3 s at 50 Hz, differs), every breath onset is the same
    # to 1 ms: the block means lose nothing of a trace below 0.7 Hz.
    inner = full.onset_s[(full.onset_s > 30) & (full.onset_s < 270)]
    nearest = np.abs(fast.onset_s[None, :] - inner[:, None]).min(axis=1)
    assert len(inner) > 20 and nearest.max() < 0.001
    inner_fast = fast.onset_s[(fast.onset_s > 30) & (fast.onset_s < 270)]
    assert len(inner_fast) == len(inner)
    for a in range(0, 240, 60):
        wf, wn = rsp_window(fast, a, a + 60), rsp_window(full, a, a + 60)
        assert abs(wf["resp_rate_bpm"] - wn["resp_rate_bpm"]) < 0.05
        assert abs(wf["resp_rate_bpm"] - true_rate(truth, a, a + 60)) < 0.5
        assert wf["resp_amplitude"] == pytest.approx(wn["resp_amplitude"], rel=0.01)


def test_lost_signal_stays_lost_after_decimation():
    fs = 1000.0
    y, _ = belt_trace(240, fs, 12, seed=3)
    y[100_000:115_000] = np.nan  # 15 s lost
    fast = rsp_belt(y, fs, units="V")
    full = rsp_belt(y, fs, units="V", process_hz=None)
    # no valid breath has its middle in the gap, in either
    for b in (fast, full):
        mid = b.mid_s[np.isfinite(b.rate_bpm)]
        assert not np.any((mid > 100.5) & (mid < 114.5))
    assert np.isfinite(fast.rate_bpm).sum() == np.isfinite(full.rate_bpm).sum()


def test_decimate_block_means_and_clock():
    x = np.arange(1000.0 * 3)
    y, fs, delay = rsp_decimate(x, 1000.0)
    assert fs == 50.0 and len(y) == 150
    # the mean of a ramp over a block is its value at the block middle: on the clock
    t = delay + np.arange(len(y)) / fs
    assert np.allclose(y, t * 1000.0)
    x[25] = np.nan
    assert np.isnan(rsp_decimate(x, 1000.0)[0][1])
    # slow belts, or no target, are left as they are
    assert rsp_decimate(x[:100], 60.0)[1:] == (60.0, 0.0)
    assert rsp_decimate(x[:100], 1000.0, target_hz=None)[1:] == (1000.0, 0.0)
