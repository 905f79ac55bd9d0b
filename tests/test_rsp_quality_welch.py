"""physio.rsp.rsp_quality.welch_psd gives scipy.signal.welch's numbers bit for bit."""

import numpy as np
import pytest
import scipy.signal as sps

from physio.rsp.rsp_clean import rsp_decimate
from physio.rsp.rsp_quality import breathing_band_share, welch_psd


@pytest.mark.parametrize("n, nperseg", [(60000, 30000), (59999, 30000), (45123, 30000),
                                        (1500, 750), (1499, 750), (100, 100), (101, 101),
                                        (37, 10), (5000, 1234)])
@pytest.mark.parametrize("fs", [1000.0, 25.0, 31.25])
def test_welch_psd_is_scipy_welch(n, nperseg, fs):
    rng = np.random.default_rng(n + nperseg)
    t = np.arange(n) / fs
    x = np.sin(2 * np.pi * 0.25 * t) + rng.normal(0, 0.3, n) + 2.0
    x = x - x.mean()
    f0, p0 = sps.welch(x, fs=fs, nperseg=nperseg)
    f1, p1 = welch_psd(x, fs, nperseg)
    assert p1.dtype == p0.dtype and p1.shape == p0.shape
    assert np.array_equal(f1, f0) and np.array_equal(p1, p0)


def test_band_share_unchanged_by_reuse():
    fs = 1000.0
    rng = np.random.default_rng(3)
    y = np.sin(2 * np.pi * 0.3 * np.arange(60000) / fs) + rng.normal(0, 0.5, 60000)
    share = breathing_band_share(y, fs)
    # measured on the belt at the breathing trace's rate (block means, 1000 -> 50 Hz)
    d, fs_d, _ = rsp_decimate(y, fs)
    f, p = sps.welch(d - d.mean(), fs=fs_d, nperseg=int(30 * fs_d))
    band = p[(f >= 0.05) & (f <= 0.7)].sum()
    assert share == float(band / (band + p[f > 0.7].sum()))
    assert breathing_band_share(y, fs) == share
