"""The one-partition percentiles of the ECG unit check equal numpy's (issue 16)."""

from __future__ import annotations

import numpy as np
import pytest

from physio.io.units import ecg_amplitude, guess_ecg_units, percentiles

QS = (0.1, 25, 75, 99.9, 0, 100, 50, 33.3)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 1000, 200_001])
@pytest.mark.parametrize("kind", ["normal", "ties", "spiky"])
def test_percentiles_equal_numpy(n, kind):
    rng = np.random.default_rng(n)
    if kind == "normal":
        x = rng.normal(size=n)
    elif kind == "ties":
        x = rng.integers(0, 4, n).astype(float)
    else:
        x = np.where(rng.random(n) < 0.01, 5.0, rng.normal(0, 0.05, n))
    x[rng.random(n) < 0.01] = np.nan
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        assert np.isnan(percentiles(x, QS)).all()
        return
    assert np.array_equal(percentiles(x, QS), np.percentile(finite, QS))


def test_unit_guess_unchanged_on_a_spiky_trace():
    t = np.arange(200_000) / 1000
    mv = 1.5 * (np.sin(2 * np.pi * 1.2 * t) > 0.99) + 0.01 * np.sin(t)
    assert ecg_amplitude(mv) == pytest.approx(float(np.diff(np.percentile(mv, [0.1, 99.9]))[0]))
    assert [guess_ecg_units(mv * k) for k in (1, 1e-3, 1e3)] == ["mV", "V", "uV"]
    assert percentiles(np.full(5, np.nan), (50,)).tolist() != [0.0]
