"""The lean zero-phase filter is bit-identical to scipy's sosfiltfilt."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from physio.zero_phase import sosfiltfilt_lean

FILTERS = {
    "ecg band-pass": butter(2, [0.5, 45], btype="bandpass", fs=1000, output="sos"),
    "eda low-pass 4th": butter(4, 1.0, btype="lowpass", fs=25, output="sos"),
    "qrs band-pass 3rd": butter(3, [5, 20], btype="bandpass", fs=250, output="sos"),
}


@pytest.mark.parametrize("name", list(FILTERS))
@pytest.mark.parametrize("n,block", [(100_000, 4096), (65_537, 65_536), (250_000, 99_991),
                                     (50, 4096)])
def test_bit_identical_to_scipy(name, n, block):
    sos = FILTERS[name]
    x = np.cumsum(np.random.default_rng(n).normal(size=n)) + 3.0
    assert np.array_equal(sosfiltfilt_lean(sos, x, block=block), sosfiltfilt(sos, x))


def test_one_working_copy():
    sos = FILTERS["ecg band-pass"]
    x = np.random.default_rng(1).normal(size=2_000_000)  # 16 MB
    tracemalloc.start()
    try:
        sosfiltfilt_lean(sos, x)
        lean = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        sosfiltfilt(sos, x)
        full = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert lean < 1.2 * x.nbytes < 2.5 * x.nbytes < full
