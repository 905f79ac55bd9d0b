"""``write_tsv`` formats a column at a time; the bytes must equal formatting each value
with ``_format_value`` row by row (the original writer), for every dtype a table holds."""

from __future__ import annotations

import numpy as np
import pandas as pd

from conditions import bids


def _mixed_table(n: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    table = pd.DataFrame({
        "onset": np.cumsum(rng.uniform(0.5, 1.2, n)),
        "rr_f32": rng.normal(800, 50, n).astype(np.float32),
        "gaps": np.where(rng.random(n) > 0.8, np.nan, rng.random(n)),
        "inf": np.where(rng.random(n) > 0.9, np.inf, -rng.random(n)),
        "count": rng.integers(-5, 500, n),
        "small": np.arange(n, dtype=np.uint8),
        "flag": rng.random(n) > 0.5,
        "text": rng.choice(["N", "a\tb", "", "nan", "x\ny", None, 1.5, np.nan, True], n),
        "nullable": pd.array(rng.integers(0, 3, n), dtype="Int64"),
        "string": pd.array(["ok", None] * (n // 2), dtype="string"),
    })
    table.loc[::7, "nullable"] = pd.NA
    return table


def test_columnwise_writer_matches_the_value_formatter_byte_for_byte(tmp_path):
    table = _mixed_table()
    path = tmp_path / "t.tsv"
    bids.write_tsv(path, table)
    rows = ["\t".join(table.columns)] + [
        "\t".join(bids._format_value(v) for v in row)
        for row in table.itertuples(index=False, name=None)]
    assert path.read_text() == "\n".join(rows) + "\n"


def test_missing_values_of_every_kind_are_written_as_n_a(tmp_path):
    table = _mixed_table(14)
    path = tmp_path / "t.tsv"
    bids.write_tsv(path, table)
    lines = path.read_text().splitlines()
    header = lines[0].split("\t")
    first = dict(zip(header, lines[1].split("\t")))
    assert first["nullable"] == "n/a"  # pd.NA (was written as '<NA>')
    assert first["string"] == "ok" and dict(zip(header, lines[2].split("\t")))["string"] == "n/a"
    cells = [c for line in lines[1:] for c in line.split("\t")]
    assert not {"nan", "NaN", "inf", "-inf", "<NA>", "None"} & set(cells)
    back = pd.read_csv(path, sep="\t", na_values="n/a", keep_default_na=False,
                       float_precision="round_trip")
    np.testing.assert_array_equal(back["onset"].to_numpy(), table["onset"].to_numpy())
