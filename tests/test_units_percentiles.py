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


def test_unit_check_reuses_percentiles_only_for_the_same_unchanged_array(monkeypatch):
    import physio.io.units as u

    calls = []
    real = u.percentiles
    monkeypatch.setattr(u, "percentiles", lambda x, q: calls.append(1) or real(x, q))
    t = np.arange(100_000) / 1000
    x = 1.5 * (np.sin(2 * np.pi * 1.2 * t) > 0.99)
    assert guess_ecg_units(x) == guess_ecg_units(x) == "mV"
    assert len(calls) == 1
    x *= 1e-3  # changed in place: judged again
    assert guess_ecg_units(x) == "V" and len(calls) == 2
    assert guess_ecg_units(x.copy()) == "V" and len(calls) == 3


def test_unit_check_reuse_follows_views_of_the_same_memory(monkeypatch):
    import physio.io.units as u

    calls = []
    real = u.percentiles
    monkeypatch.setattr(u, "percentiles", lambda x, q: calls.append(1) or real(x, q))
    t = np.arange(100_000) / 1000
    table = np.asfortranarray(np.column_stack([1.5 * (np.sin(2 * np.pi * 1.2 * t) > 0.99),
                                               np.ones_like(t)]))
    assert guess_ecg_units(table[:, 0]) == guess_ecg_units(table[:, 0].ravel()) == "mV"
    assert len(calls) == 1  # two view objects of the same column: judged once
    guess_ecg_units(table[:, 1])
    assert len(calls) == 2  # another column
