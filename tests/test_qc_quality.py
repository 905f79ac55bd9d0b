"""Issue 22 item 3, QC that shows quality: invalid stretches hatched per channel row and EDA
artefacts marked on the QC figure, the QC index worst first with each channel's valid
share, and one warning line per recording and channel under 50 % valid."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conditions.protocol import load_protocol
from physio.batch import run_batch
from physio.cli import main
from physio.pipeline import process_recording
from physio.qc import plot_recording_qc, save_figure
from physio.qc_index import write_qc_index
from physio.qc_valid import channel_valid_shares, invalid_spans, low_valid_warnings
from physio.recording import Channel, Recording
from soothe.simulate import simulate_session
from tests.readers_fixtures import synthetic_eda
from tests.test_quality_pipeline import drift_only


def collection(ax, gid: str):
    found = [c for c in ax.collections if c.get_gid() == gid]
    assert len(found) == 1, f"no collection {gid!r} on {ax.get_title(loc='left')!r}"
    return found[0]


def span_x(coll) -> list[float]:
    """left, right, left, right... data x of the polygons of a full-height span collection."""
    return [float(f(p.vertices[:, 0])) for p in coll.get_paths() for f in (np.min, np.max)]


@pytest.fixture(scope="module")
def result():
    """The simulated 28-min session of tests/test_qc.py (ECG and EDA at 1000 Hz)."""
    protocol = load_protocol()
    s = simulate_session(protocol, "001", "neutral", seed=5, index=1, fs=1000.0)
    ev = s.events_table(protocol)
    markers = pd.DataFrame({"onset_s": ev.onset.astype(float), "code": ev.value.astype(int),
                            "label": ev.trial_type})
    rec = Recording({"ECG": Channel("ECG", s.ecg_mv, 1000.0, "mV", "ecg"),
                     "EDA": Channel("EDA", s.eda_us, 1000.0, "uS", "eda")},
                    Path("sub-001_ses-1.csv"), "csv", markers)
    return process_recording(rec)


def test_figure_hatches_invalid_windows_per_channel_and_marks_eda_artifacts(result, tmp_path):
    w = result.windows.copy()
    w["ecg_valid"] = True
    w.loc[[2, 3], "ecg_valid"] = False  # two touching windows: one hatched span
    assert w.end_s[2] == w.start_s[3]
    w["eda_valid"] = True
    w.loc[5, "eda_valid"] = False
    w["resp_valid"] = True
    w.loc[7, "resp_valid"] = False
    info = {**result.info, "eda_artifacts": {"artifacts_s": [[300.0, 302.5, "slope"]]}}
    bad = dataclasses.replace(result, windows=w, info=info)
    fig = plot_recording_qc(bad)
    save_figure(fig, tmp_path / "qc.png")
    axes = fig.get_axes()
    tach, breathing, eda = axes[1], axes[4], axes[5]
    assert span_x(collection(tach, "ecg_invalid")) == pytest.approx(
        [w.start_s[2], w.end_s[3]])
    assert collection(tach, "ecg_invalid").get_hatch()
    assert "hatched: ECG invalid (2/" in tach.get_title(loc="right")
    assert span_x(collection(eda, "eda_invalid")) == pytest.approx([w.start_s[5], w.end_s[5]])
    assert span_x(collection(eda, "eda_artifacts")) == pytest.approx([300.0, 302.5])
    assert "hatched: EDA invalid (1/" in eda.get_title(loc="right")
    assert "red band: artefact (1)" in eda.get_title(loc="right")
    # no belt here: the ECG-derived breathing row hatches the windows without a rate
    assert span_x(collection(breathing, "resp_invalid")) == pytest.approx(
        [w.start_s[7], w.end_s[7]])
    assert "hatched: breathing invalid (1/" in breathing.get_title(loc="left")


def test_clean_figure_has_no_hatching_and_no_key(result):
    w = result.windows.assign(ecg_valid=True, eda_valid=True, resp_valid=True)
    fig = plot_recording_qc(dataclasses.replace(result, windows=w), reuse=True)
    gids = {c.get_gid() for ax in fig.get_axes() for c in ax.collections}
    assert not gids & {"ecg_invalid", "eda_invalid", "resp_invalid"}
    assert "hatched" not in " ".join(ax.get_title(loc=loc) for ax in fig.get_axes()
                                     for loc in ("left", "right"))


def test_invalid_spans_merge_touching_windows_only():
    w = pd.DataFrame({"start_s": [0.0, 60, 120, 200], "end_s": [60.0, 120, 180, 260]})
    assert invalid_spans(w, np.array([False, False, True, False])) == [(0.0, 120.0),
                                                                       (200.0, 260.0)]
    assert invalid_spans(w, np.ones(4, bool)) == []


def test_index_sorts_by_the_lowest_channel_share_and_shows_every_share(tmp_path):
    rows = [
        # three flags, but every channel at least 70 % valid
        {"key": "sub-01_ses-1", "png": "a.png", "n_windows": 30, "ecg_valid_pct": 70.0,
         "eda_valid_pct": 75.0, "resp_valid_pct": 100.0, "resp_from": "belt",
         "corrected_pct": 8.0, "n_scr": 0, "non_responder": True},
        # one flag: its belt is valid in 20 % of windows -> worst
        {"key": "sub-02_ses-1", "png": "b.png", "n_windows": 30, "ecg_valid_pct": 100.0,
         "eda_valid_pct": 100.0, "resp_valid_pct": 20.0, "resp_from": "belt",
         "corrected_pct": 0.1, "n_scr": 12, "non_responder": False},
        # no EDA recorded, breathing from the ECG
        {"key": "sub-03_ses-1", "png": "c.png", "n_windows": 30, "ecg_valid_pct": 100.0,
         "eda_valid_pct": None, "resp_valid_pct": 60.0, "resp_from": "ecg",
         "corrected_pct": 0.0, "n_scr": 0, "non_responder": False},
        {"key": "sub-04_ses-1", "png": "d.png", "n_windows": 30, "ecg_valid_pct": 100.0,
         "eda_valid_pct": 100.0, "resp_valid_pct": 100.0, "resp_from": "belt",
         "corrected_pct": 0.0, "n_scr": 5, "non_responder": False},
    ]
    path = tmp_path / "index.html"
    write_qc_index(path, rows, [])
    html = path.read_text()
    order = [html.index(f"sub-0{k}_ses-1") for k in (2, 3, 1, 4)]
    assert order == sorted(order)
    assert "<th>belt / breathing valid %</th>" in html
    row2 = html[html.index("sub-02_ses-1"):].split("</tr>")[0]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row2)
    assert cells[2:5] == ["100", "100", "20"]  # ECG, EDA, belt valid %
    assert "<td class='low'>20</td>" in row2 and "belt valid 20%" in row2
    row3 = html[html.index("sub-03_ses-1"):].split("</tr>")[0]
    assert re.findall(r"<td[^>]*>([^<]*)</td>", row3)[2:5] == ["100", "n/a",
                                                              "60 (ECG-derived)"]


def test_warning_names_recording_channel_share_and_figure():
    rec = {"key": "sub-x_ses-1", "png": "/d/qc/sub-x_ses-1_qc.png", "ecg_valid_pct": 12.0,
           "eda_valid_pct": 49.6, "resp_valid_pct": 10.0, "resp_from": "ecg"}
    assert low_valid_warnings(rec, Path("/d")) == [
        "sub-x ses-1: ECG valid in 12 % of windows (see qc/sub-x_ses-1_qc.png)",
        "sub-x ses-1: EDA valid in 50 % of windows (see qc/sub-x_ses-1_qc.png)"]
    assert low_valid_warnings({**rec, "resp_from": "belt"}, Path("/d"))[-1].startswith(
        "sub-x ses-1: belt valid in 10 %")
    ok = {**rec, "ecg_valid_pct": 50.0, "eda_valid_pct": None}
    assert low_valid_warnings(ok, Path("/d")) == []


@pytest.fixture(scope="module")
def drift_csv(tmp_path_factory) -> Path:
    """5 min of a drift-only "ECG" (no QRS anywhere) and clean skin conductance, 250 Hz."""
    fs = 250.0
    ecg = drift_only(fs, minutes=5.0)
    eda = np.interp(np.arange(len(ecg)) / fs, np.arange(300 * 25) / 25.0,
                    synthetic_eda(300, 25.0))
    path = tmp_path_factory.mktemp("drift") / "sub-drift_ses-1.csv"
    pd.DataFrame({"time": np.arange(len(ecg)) / fs, "ECG": ecg, "EDA": eda}).to_csv(
        path, index=False)
    return path


def test_run_prints_one_line_for_an_unplugged_ecg(drift_csv, tmp_path, capsys):
    deriv = tmp_path / "deriv"
    summary = run_batch([drift_csv], deriv, settings={"eda_units": "uS"}, progress=False)
    err = capsys.readouterr().err
    (rec,) = summary["results"]
    assert rec["status"] == "ok" and rec["ecg_valid_pct"] < 50 and rec["eda_valid_pct"] >= 50
    line = (f"sub-drift ses-1: ECG valid in {rec['ecg_valid_pct']:.0f} % of windows "
            "(see qc/sub-drift_ses-1_qc.png)")
    assert summary["low_valid"] == [line]
    assert err.count("WARNING") == 1 and line in err
    assert line in (deriv / "log" / "physio_batch.log").read_text()
    # the index and a second (up-to-date) run know the share from the sidecar
    again = run_batch([drift_csv], deriv, settings={"eda_units": "uS"}, progress=False)
    assert again["skipped"] == 1 and again["low_valid"] == [line]
    assert "ECG valid" in summary["qc_index"].read_text()


def test_command_prints_the_warning(drift_csv, tmp_path, capsys):
    code = main(["process", str(drift_csv), "--out", str(tmp_path / "d"), "--no-progress",
                 "--eda-units", "uS"])
    err = capsys.readouterr().err
    assert code == 0
    assert re.search(r"sub-drift ses-1: ECG valid in \d+ % of windows "
                     r"\(see qc/sub-drift_ses-1_qc\.png\)", err)


def test_shares_of_a_recording_without_belt_or_eda(result):
    shares = channel_valid_shares(dataclasses.replace(result, eda=None))
    assert shares["eda_valid_pct"] is None and shares["resp_from"] == "ecg"
    complete = result.windows[~result.windows["partial"].astype(bool)]
    assert shares["ecg_valid_pct"] == pytest.approx(
        100 * complete["ecg_valid"].astype(bool).mean(), abs=0.05)


def test_partial_windows_are_left_out_of_the_valid_share():
    from types import SimpleNamespace

    import pandas as pd

    from physio.qc_valid import channel_valid_shares

    w = pd.DataFrame({"ecg_valid": [True, True, False], "eda_valid": [True, True, False],
                      "partial": [False, False, True], "resp_source": ["belt"] * 3,
                      "resp_valid": [True, True, False]})
    r = SimpleNamespace(windows=w, info={"ecg": {}}, eda=object(), rsp_belt=None,
                        rsp_ecg=None)
    shares = channel_valid_shares(r)
    assert shares["ecg_valid_pct"] == 100.0 and shares["eda_valid_pct"] == 100.0
