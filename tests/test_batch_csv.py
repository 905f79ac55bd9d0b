"""Plain CSV exports through the batch command: column mapping, units given on the command
line, and one unusable channel that leaves the other one's results in place."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from readers_fixtures import synthetic_ecg, synthetic_eda

from conditions.bids import WINDOWS_COLUMNS, read_tsv
from physio.cli import main, parse_column_map

RATE = 250.0
SECONDS = 180.0  # no remainder shorter than 50 s (such a window has no HR: issue 10)
HR_BPM = 66.0


def write_csv(path: Path, names=("time", "ECG", "EDA")) -> Path:
    ecg, _ = synthetic_ecg(SECONDS, RATE, hr_bpm=HR_BPM)
    eda = synthetic_eda(SECONDS, RATE, level_us=5.0)
    t = np.arange(len(ecg)) / RATE
    pd.DataFrame({names[0]: np.round(t, 4), names[1]: ecg, names[2]: eda}).to_csv(
        path, index=False)
    return path


def run(args: list[str], deriv: Path) -> tuple[int, pd.DataFrame | None]:
    code = main(["process", *args, "--out", str(deriv), "--no-progress"])
    found = sorted(deriv.rglob("*_desc-windows_physio.tsv"))
    return code, (read_tsv(found[0], WINDOWS_COLUMNS) if found else None)


def test_plain_csv_without_units_keeps_the_ecg_and_explains_the_eda(tmp_path):
    csv = write_csv(tmp_path / "p01.csv")
    code, w = run([str(csv)], tmp_path / "deriv")
    assert code == 0 and w is not None and len(w) >= 2
    assert w.ecg_valid.astype(bool).all()
    assert np.allclose(w.hr_bpm.astype(float), HR_BPM, atol=1.0)
    assert not w.eda_valid.astype(bool).any() and w.scl_us.isna().all()
    assert w.eda_reason.str.contains("EDA unusable").all()
    assert w.eda_reason.str.contains("unknown EDA units").all()
    assert w.eda_reason.str.contains("--eda-units").all()


def test_eda_units_option_makes_the_eda_usable(tmp_path):
    csv = write_csv(tmp_path / "p01.csv")
    code, w = run([str(csv), "--eda-units", "uS"], tmp_path / "deriv")
    assert code == 0
    assert w.ecg_valid.astype(bool).all() and w.eda_valid.astype(bool).all()
    assert np.allclose(w.scl_us.astype(float), 5.0, atol=0.3)


def test_column_map_names_unusual_columns(tmp_path):
    csv = write_csv(tmp_path / "p02.csv", names=("elapsed_sec", "heart", "skin"))
    args = [str(csv), "--column-map", "time=elapsed_sec,ecg=heart", "--column-map",
            "eda=skin", "--eda-units", "uS", "--ecg-units", "mV"]
    code, w = run(args, tmp_path / "deriv")
    assert code == 0
    assert w.ecg_valid.astype(bool).all() and w.eda_valid.astype(bool).all()
    assert np.allclose(w.hr_bpm.astype(float), HR_BPM, atol=1.0)
    # without the map the time column is not recognised: the batch fails with a reason
    code, w = run([str(csv)], tmp_path / "deriv_nomap")
    assert code == 1 and w is None


def test_unusable_ecg_keeps_the_eda(tmp_path):
    csv = write_csv(tmp_path / "p03.csv", names=("time", "ECG (bpm)", "EDA (uS)"))
    code, w = run([str(csv), "--column-map", "ecg=ECG (bpm)"], tmp_path / "deriv")
    assert code == 0
    assert w.eda_valid.astype(bool).all() and not w.ecg_valid.astype(bool).any()
    assert w.hr_bpm.isna().all()
    assert w.ecg_reason.str.contains("ECG unusable.*unknown voltage units 'bpm'").all()


def test_both_channels_unusable_is_one_failure_naming_both(tmp_path, capsys):
    csv = write_csv(tmp_path / "p04.csv", names=("time", "ECG (bpm)", "EDA"))
    code, w = run([str(csv), "--column-map", "ecg=ECG (bpm),eda=EDA"], tmp_path / "deriv")
    assert code == 1 and w is None
    err = capsys.readouterr().err
    assert "neither channel is usable" in err and "'bpm'" in err and "EDA units" in err


@pytest.mark.parametrize("spec, match", [
    (["ecg"], "expected KEY=COLUMN"),
    (["pulse=x"], "one of ecg, eda, rsp, time, marker"),
    (["ecg=a", "ecg=b"], "given twice"),
])
def test_column_map_spec_errors(spec, match):
    with pytest.raises(ValueError, match=match):
        parse_column_map(spec)


def test_bad_column_map_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["process", str(tmp_path), "--out", str(tmp_path / "d"), "--column-map", "x=y"])
    assert exc.value.code == 2 and "--column-map key 'x'" in capsys.readouterr().err


def _methods(deriv: Path) -> dict:
    import json

    sidecar = sorted(deriv.rglob("*_desc-windows_physio.json"))[0]
    return json.loads(sidecar.read_text())["SootheProvenance"]["methods"]


def test_sidecar_records_the_thresholds_in_force(tmp_path, monkeypatch):
    import importlib

    from physio.batch import process_file
    hrv_mod = importlib.import_module("physio.hrv.hrv_window")

    eda_mod = importlib.import_module("physio.eda.eda_process")
    csv = write_csv(tmp_path / "p05.csv")
    res = process_file(str(csv), str(tmp_path / "d1"), {"eda_units": "uS"})
    assert res["status"] == "ok", res
    m = _methods(tmp_path / "d1")
    assert m["hrv"]["validity"]["max_excluded_diff_pct"] == hrv_mod.MAX_EXCLUDED_DIFF_PCT == 25.0
    assert m["hrv"]["validity"]["min_hf_window_s"] == 120.0
    assert m["hrv"]["hf"]["interpolation_hz"] == 4.0
    assert m["hrv"]["hf"]["welch_segment_s"] == 120.0
    assert m["eda_windows"]["max_bad_fraction"] == 0.2
    corr = m["ecg"]["method"]["correction_parameters"]
    assert (corr["alpha"], corr["window_beats"], corr["min_threshold_fraction_of_median_rr"]) \
        == (5.2, 91, 0.12)
    monkeypatch.setattr(hrv_mod, "MAX_EXCLUDED_DIFF_PCT", 12.5)
    monkeypatch.setattr(hrv_mod, "MIN_BEATS", 12)
    monkeypatch.setattr(hrv_mod, "RR_RESAMPLE_HZ", 8.0)
    monkeypatch.setattr(eda_mod, "MAX_BAD_FRACTION", 0.1)
    res = process_file(str(csv), str(tmp_path / "d2"), {"eda_units": "uS"})
    assert res["status"] == "ok", res
    m = _methods(tmp_path / "d2")
    assert m["hrv"]["validity"]["max_excluded_diff_pct"] == 12.5
    assert m["hrv"]["validity"]["min_beats"] == 12
    assert m["hrv"]["hf"]["interpolation_hz"] == 8.0
    assert m["eda_windows"]["max_bad_fraction"] == 0.1


def test_two_worker_pool_finishes_many_more_recordings_than_workers(tmp_path):
    """24 recordings on 2 local workers must all come back: with max_tasks_per_child the
    Python 3.11 pool hung for good after its first worker replacement (135-recording bench)."""
    import subprocess
    import sys

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    first = write_csv(inputs / "r00.csv")
    for i in range(1, 24):
        (inputs / f"r{i:02d}.csv").write_bytes(first.read_bytes())
    out = subprocess.run([sys.executable, "-m", "soothe", "physio", "process", str(inputs),
                          "--out", str(tmp_path / "deriv"), "--jobs", "2", "--eda-units", "uS",
                          "--no-progress"], capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "24 processed" in out.stdout
    assert len(list((tmp_path / "deriv").rglob("*_desc-windows_physio.tsv"))) == 24
