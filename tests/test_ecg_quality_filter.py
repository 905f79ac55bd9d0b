"""ecg_quality_signal with its filter designed once and no copy of a finite ECG: the same
numbers as the band-pass designed and applied from scratch, and the input untouched."""

import numpy as np
import pytest
import scipy.signal as sps

from physio.ecg.ecg_quality import (
    QUALITY_BAND_HZ,
    QUALITY_FILTER_ORDER,
    ecg_quality_signal,
    quality_filter,
)


@pytest.mark.parametrize("fs", [1000.0, 360.0, 128.0])
def test_quality_filter_is_the_design(fs):
    want = sps.butter(QUALITY_FILTER_ORDER, [QUALITY_BAND_HZ[0], min(QUALITY_BAND_HZ[1],
                                                                     0.45 * fs)],
                      btype="bandpass", fs=fs, output="sos")
    got = quality_filter(fs)
    assert np.array_equal(got, want)
    got[:] = 0  # a copy: the cached design is not changed
    assert np.array_equal(quality_filter(fs), want)


@pytest.mark.parametrize("bad", [False, True])
def test_quality_signal_same_numbers_input_untouched(bad):
    fs = 250.0
    x = np.random.default_rng(0).normal(size=100_000)
    if bad:
        x[[10, 5000]] = [np.nan, np.inf]
    before = x.copy()
    want = sps.sosfiltfilt(quality_filter(fs), np.nan_to_num(before))
    assert np.array_equal(ecg_quality_signal(x, fs), want)
    assert np.array_equal(x, before, equal_nan=True)
