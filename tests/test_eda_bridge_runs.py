"""eda_bridge, run by run, gives numpy.interp over all clean samples bit for bit."""

import numpy as np
import pytest

from physio.eda.eda_artifacts import clean_neighbour, eda_bridge


def bridge_by_interp(signal, fs, intervals):
    """The definition: every bridged sample from numpy.interp over every clean sample."""
    x = np.array(signal, dtype=np.float64)
    bad = np.zeros(len(x), dtype=bool)
    for a, b, _ in intervals:
        bad[max(0, int(np.floor(a * fs))):min(len(x), int(np.ceil(b * fs)))] = True
    good = ~bad & np.isfinite(x)
    if not good.any() or not bad.any():
        return x
    idx = np.arange(len(x))
    x[bad] = np.interp(idx[bad], idx[good], x[good])
    return x


@pytest.mark.parametrize("seed", range(6))
def test_runs_match_interp_over_all_clean_samples(seed):
    rng = np.random.default_rng(seed)
    fs = 31.25
    x = 5 + np.cumsum(rng.normal(0, 0.05, 20000))
    x[rng.integers(0, 20000, 40)] = np.nan
    x[100:400] = np.nan  # lost signal next to an artefact
    ivs = [(0.0, 2.0, "range"), (3.0, 13.5, "slope"), (12.9, 20.0, "slope"),
           (200.0, 200.01, "slope"), (639.0, 700.0, "range")]
    ivs += [(float(a), float(a) + rng.uniform(0.01, 5), "slope")
            for a in rng.uniform(0, 640, 15)]
    before = x.copy()
    want = bridge_by_interp(x, fs, ivs)
    assert np.array_equal(eda_bridge(x, fs, ivs), want, equal_nan=True)
    assert np.array_equal(x, before, equal_nan=True)  # copy=True leaves the input alone
    y = x.copy()
    out = eda_bridge(y, fs, ivs, copy=False)
    assert out is y and np.array_equal(y, want, equal_nan=True)


def test_nothing_clean_or_nothing_bad():
    x = np.full(10, np.nan)
    assert np.isnan(eda_bridge(x, 1.0, [(2.0, 4.0, "slope")])).all()
    y = np.arange(5.0)
    assert eda_bridge(y, 1.0, []).tolist() == y.tolist()


def test_clean_neighbour_across_blocks():
    g = np.zeros(1000, dtype=bool)
    g[[3, 990]] = True
    assert clean_neighbour(g, 500, -1, block=7) == 3
    assert clean_neighbour(g, 500, 1, block=7) == 990
    assert clean_neighbour(g, 2, -1, block=7) is None
    assert clean_neighbour(g, 991, 1, block=7) is None
