"""Every reader on the same simulated session: BIDS, EDF, CSV and XDF must agree."""

from __future__ import annotations

import numpy as np
import pytest

from physio.io import read_recording

FS = 250.0


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    from soothe.simulate import simulate_study

    root = tmp_path_factory.mktemp("sim")
    simulate_study(root, 1, seed=3, fs=FS, formats=("bids", "edf", "csv", "xdf"))
    paths = {"bids": next(root.glob("sub-*/ses-*/beh/*_physio.tsv.gz"))}
    for fmt in ("edf", "csv", "xdf"):
        paths[fmt] = next((root / "sourcedata" / "formats" / fmt).glob("*_physio.*"))
    return {fmt: read_recording(path) for fmt, path in paths.items()}


@pytest.mark.parametrize("fmt", ["edf", "csv", "xdf"])
def test_formats_agree_with_bids(simulated, fmt):
    ref, rec = simulated["bids"], simulated[fmt]
    assert rec.format == fmt
    for kind in ("ecg", "eda"):
        a, b = getattr(ref, kind)(), getattr(rec, kind)()
        assert b.sampling_rate == FS and b.start_s == pytest.approx(0.0, abs=1e-6)
        assert b.units == a.units
        n = len(a.data)
        assert len(b.data) >= n  # EDF pads the last data record
        np.testing.assert_allclose(b.data[:n], a.data, atol=2e-3 * np.ptp(a.data))
    # markers at the same instant may come in either order: compare (sample, code) pairs.
    # XDF: the device clock runs 0.25 s behind; only clock sync makes these agree.
    def pairs(m):
        return sorted(zip(np.round(m["onset_s"] * FS).astype(int), m["code"]))

    got, want = pairs(rec.markers), pairs(ref.markers)
    assert [c for _, c in got] == [c for _, c in want]
    np.testing.assert_allclose([t for t, _ in got], [t for t, _ in want], atol=1)


def test_bids_meta_has_condition(simulated):
    rec = simulated["bids"]
    assert rec.meta["participant_id"] == "sub-001"
    assert rec.meta["condition"] in {
        "kindness_self", "body_scan", "positive_excitement", "rumination", "neutral"}
    assert rec.markers["label"].iloc[0] != ""
