"""Print how fast the readers load a 40-minute, 1000 Hz ECG+EDA session in each format.

Run: ``.venv/bin/python bench/bench_readers.py``. Target (issue 3): BIDS physio ≤ ~1.5 s.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from conditions import bids
from physio.io import read_recording


def main(minutes: float = 40.0, rate: float = 1000.0) -> None:
    n = int(minutes * 60 * rate)
    rng = np.random.default_rng(0)
    ecg = rng.normal(0, 0.3, n)
    eda = 5 + rng.normal(0, 0.1, n)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = bids.SessionFiles(root, "001", "1", "induction")
        bids.write_physio(files, {"ecg": ecg, "eda": eda}, rate, {"ecg": "mV", "eda": "uS"})
        csv = root / "export.csv"
        pd.DataFrame({"time": np.round(np.arange(n) / rate, 4), "ECG": ecg, "EDA": eda}).to_csv(
            csv, index=False, float_format="%.6f")
        from soothe.simulate import formats

        markers = [(60.0 * i + 1.0, 10 + i) for i in range(int(minutes))]
        edf, xdf = root / "export.edf", root / "export.xdf"
        formats.write_edf(edf, ecg, eda, rate, markers)
        formats.write_xdf(xdf, ecg, eda, rate, markers)
        cases = (("BIDS physio.tsv.gz", files.physio_tsv_gz), ("CSV + time", csv),
                 ("EDF (edfio)", edf), ("XDF (pyxdf)", xdf))
        for label, path in cases:
            best = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                rec = read_recording(path)
                best = min(best, time.perf_counter() - t0)
            assert len(rec.ecg().data) == n
            print(f"{label:22s} {minutes:g} min @ {rate:g} Hz, 2 columns: best of 3 {best:.2f} s")


if __name__ == "__main__":
    main()
