"""The folder scan: every recording format is found once, and what is passed over is said."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from readers_fixtures import synthetic_ecg, write_bids_session

from physio.batch import find_inputs


def test_tsv_gz_exports_are_found_and_others_reported(tmp_path, caplog):
    ecg, _ = synthetic_ecg(10.0, 250.0)
    table = pd.DataFrame({"time": np.arange(len(ecg)) / 250.0, "ECG": ecg})
    with gzip.open(tmp_path / "p01.tsv.gz", "wt") as fh:
        table.to_csv(fh, sep="\t", index=False)
    table.to_csv(tmp_path / "p02.csv.gz", index=False)
    (tmp_path / "p01.json").write_text("{}")  # a sidecar: expected, not reported
    (tmp_path / "protocol.docx").write_bytes(b"PK")
    (tmp_path / "p03.mat").write_bytes(b"MATLAB")
    left: list[Path] = []
    with caplog.at_level(logging.WARNING, logger="soothe.physio"):
        found = find_inputs([tmp_path], skipped=left)
    assert sorted(p.name for p in found) == ["p01.tsv.gz", "p02.csv.gz"]
    assert sorted(p.name for p in left) == ["p03.mat", "protocol.docx"]
    assert "skipped 2 file(s)" in caplog.text and "p03.mat" in caplog.text


def test_bids_physio_is_counted_once(tmp_path):
    root = tmp_path / "bids"
    write_bids_session(root, subject="001")
    write_bids_session(root, subject="002")
    physio = sorted(root.rglob("*_physio.tsv.gz"))
    assert len(physio) == 2
    left: list[Path] = []
    # the dataset, one of its files named again, and the subject folder scanned as a plain
    # folder: each recording once, and no BIDS side file reported as skipped
    found = find_inputs([root, physio[0], root / "sub-001"], skipped=left)
    assert sorted(p.resolve() for p in found) == [p.resolve() for p in physio]
    assert left == []
