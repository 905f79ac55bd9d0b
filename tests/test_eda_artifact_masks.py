"""The block-wise EDA artefact scan finds what one pass over the whole signal finds."""

import numpy as np
import pytest

from physio.eda.eda_artifacts import (
    MAX_SLOPE_US_PER_S,
    RANGE_US,
    eda_artifact_masks,
    eda_artifacts,
)


def whole_signal_masks(x, fs, h):
    """The scan as one pass over the whole float64 signal (the definition)."""
    x = np.asarray(x, dtype=np.float64)
    bad_range = np.isfinite(x) & ((x < RANGE_US[0]) | (x > RANGE_US[1]))
    steep = np.zeros(len(x), dtype=bool)
    if len(x) > h:
        with np.errstate(invalid="ignore"):
            fast = np.abs(x[h:] - x[:-h]) * fs / h > MAX_SLOPE_US_PER_S
        steep[:-h] |= fast
        steep[h:] |= fast
    return bad_range, steep


def noisy_eda(n, fs, seed):
    rng = np.random.default_rng(seed)
    x = 5 + np.cumsum(rng.normal(0, 0.02, n)) + rng.normal(0, 0.2, n)
    if n == 0:
        return x
    x[rng.integers(0, n, 30)] += rng.choice([-8.0, 8.0, 70.0], 30)
    x[rng.integers(0, n, 10)] = np.nan
    return x


@pytest.mark.parametrize("n", [0, 1, 3, 49, 50, 51, 999, 1000, 1001, 5000])
@pytest.mark.parametrize("block", [1, 7, 50, 1000, 1 << 16])
def test_blocks_match_whole_signal(n, block):
    fs = 1000.0
    x = noisy_eda(n, fs, n)
    got = eda_artifact_masks(x, fs, block=block)
    want = whole_signal_masks(x, fs, 50)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def test_convert_applied_per_block_like_whole():
    fs = 31.25
    kohm = 1000.0 / noisy_eda(20000, fs, 1)
    to_us = lambda d: np.where(d > 0, 1000.0 / d, np.nan)  # noqa: E731
    got = eda_artifacts(kohm, fs, convert=to_us)
    assert got == eda_artifacts(to_us(kohm), fs)
    assert got  # the spikes are found
    masks = eda_artifact_masks(kohm, fs, convert=to_us, block=333)
    want = whole_signal_masks(to_us(kohm), fs, 1)
    assert np.array_equal(masks[0], want[0]) and np.array_equal(masks[1], want[1])
