"""The CSV/TSV parser: pyarrow where it can, pandas otherwise, the same table either way."""

from __future__ import annotations

import gzip
import io

import numpy as np
import pandas as pd
import pytest

from physio.io import read_csv as rc


def _pandas(text: bytes, sep: str, header: bool) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(text), sep=sep, header=0 if header else None, engine="c",
                       na_values=rc._NA_VALUES, keep_default_na=False, skipinitialspace=True)


@pytest.mark.parametrize(("text", "sep", "header"), [
    (b"time,ECG,EDA\n0,0.1,5\n0.001,n/a,5.5\n0.002,0.3,NaN\n", ",", True),
    (b"t\tecg_mv\tmarker\n0\t1\t0\n1\t2\t7\n2\t3\t0\n", "\t", True),
    (b"0.5;1.5\n1.5;2.5\n", ";", False),
    (b"a,b,empty\n1,2,\n3,4,\n", ",", True),
])
def test_pyarrow_gives_what_pandas_gives(text, sep, header):
    got = rc._parse_with_pyarrow(text, sep, header)
    assert got is not None
    want = _pandas(text, sep, header)
    if header:  # without one, read_csv names the columns column1, column2, ... itself
        assert list(got.columns) == [str(c) for c in want.columns]
    assert got.shape == want.shape
    for col, wcol in zip(got.columns, want.columns):
        np.testing.assert_array_equal(got[col].to_numpy(float), want[wcol].to_numpy(float))


@pytest.mark.parametrize("text", [
    b"time,marker\n0,start\n1,\n",          # text cells: pandas strips them as before
    b"a,a\n1,2\n",                          # duplicate headers: pandas renames them
    b"a,b\n1,2\n3\n",                       # ragged: pandas gives its error
])
def test_what_pyarrow_does_not_take_goes_to_pandas(text):
    assert rc._parse_with_pyarrow(text, ",", True) is None


def test_gzipped_export_reads_the_same(tmp_path):
    rows = "\n".join(f"{i / 500:.3f},{np.sin(i / 50):.5f},{5 + i / 1e4:.4f}" for i in range(5000))
    text = ("time,ECG (mV),EDA (uS)\n" + rows + "\n").encode()
    plain, packed = tmp_path / "x.csv", tmp_path / "y.csv.gz"
    plain.write_bytes(text)
    packed.write_bytes(gzip.compress(text))
    a, b = rc.read_csv(plain), rc.read_csv(packed)
    assert a.channels["ECG (mV)"].sampling_rate == 500.0
    np.testing.assert_array_equal(a.channels["ECG (mV)"].data, b.channels["ECG (mV)"].data)
    assert a.channels["ECG (mV)"].units == "mV"
