"""Issue 22's quality indices as `soothe physio process` applies them: per recording,
through :func:`physio.pipeline.process_recording`, with both engines.

Prints per recording and engine: valid ECG and EDA windows, where the breathing rate
comes from (belt, ECG-derived, none), counted SCRs, EDA artefacts, the ECG quality index
and the beats marked low quality; then the engines' agreement on windows both call valid
(HR within 1 bpm, RMSSD within 10 %); then MIT-BIH through the pipeline (valid windows,
low-quality beats, RMSSD against the annotated normal-to-normal intervals).

Inputs: ``../shared/data`` (or $SOOTHE_SHARED_DATA): ``real/`` (two lab CSVs at 100 Hz,
``drive05`` in WFDB: its channels are given their kinds and units here, as the reader
does not guess them), ``lab/`` (Task1 at 1000 Hz) and ``mitdb/``.

Run: ``PYTHONPATH=$PWD .venv/bin/python bench/bench_pipeline_quality.py [--engines soothe]``
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from physio.io.read_wfdb import read_wfdb
from physio.pipeline import PipelineSettings, process_recording
from physio.recording import Channel, Recording

SHARED = Path(os.environ.get("SOOTHE_SHARED_DATA")
              or Path(__file__).resolve().parents[2] / "shared" / "data")
START = pd.DataFrame({"onset_s": [0.0], "code": [0], "label": ["start"]})
BEATS = set("N L R B A a J S V r F e j n E / f Q ?".split())
NORMAL = set("N L R e j".split())


def recording(channels: dict[str, Channel], name: str) -> Recording:
    return Recording(channels, source=Path(name), format="csv", markers=START)


def inputs() -> Iterator[tuple[str, Recording]]:
    for name in ("bio_resting_8min_100hz", "bio_eventrelated_100hz"):
        df = pd.read_csv(SHARED / "real" / f"{name}.csv")
        yield name, recording({
            "ECG": Channel("ECG", df.ECG.to_numpy(float), 100.0, "mV", "ecg"),
            "EDA": Channel("EDA", df.EDA.to_numpy(float), 100.0, "uS", "eda"),
            "RSP": Channel("RSP", df.RSP.to_numpy(float), 100.0, "V", "rsp")}, name)
    ch = read_wfdb(SHARED / "real" / "drive05").channels
    yield "drive05", recording({
        "ECG": dataclasses.replace(ch["ECG"], kind="ecg", units="mV"),
        "hand GSR": dataclasses.replace(ch["hand GSR"], kind="eda", units="uS"),
        "RESP": dataclasses.replace(ch["RESP"], kind="rsp")}, "drive05")
    ecg = np.load(gzip.open(SHARED / "lab" / "Task1_ECG.npy.gz"))
    eda = np.load(gzip.open(SHARED / "lab" / "Task1_EDA.npy.gz"))
    yield "lab Task1", recording({"ECG": Channel("ECG", ecg, 1000.0, "mV", "ecg"),
                                  "EDA": Channel("EDA", eda, 1000.0, "uS", "eda")}, "lab")


def summary(name: str, engine: str, seconds: float, result) -> str:
    w = result.windows[~result.windows.partial.astype(bool)]
    n = len(w)
    kept = result.beats[result.beats.beat_class != "removed"]
    return (f"{name:24s} {engine:9s} {seconds:5.1f} s  ECG valid "
            f"{int(w.ecg_valid.astype(bool).sum())}/{n}  EDA valid "
            f"{int(w.eda_valid.astype(bool).sum())}/{n}  rate: belt "
            f"{int((w.resp_source == 'belt').sum())} ecg {int((w.resp_source == 'ecg').sum())} "
            f"none {int(w.resp_rate_bpm.isna().sum())}  SCRs {len(result.scrs)}  EDA artefacts "
            f"{len(result.info['eda_artifacts']['artifacts_s'])}  ecg_quality median "
            f"{w.ecg_quality.median():.2f} min {w.ecg_quality.min():.2f}  low-quality beats "
            f"{int(kept.low_quality.sum())}/{len(kept)}")


def agreement(a: pd.DataFrame, b: pd.DataFrame) -> str:
    both = a.ecg_valid.astype(bool).to_numpy() & b.ecg_valid.astype(bool).to_numpy()
    hr = (np.abs(a.hr_bpm.to_numpy() - b.hr_bpm.to_numpy()) <= 1)[both]
    rel = np.abs(a.rmssd_ms.to_numpy() - b.rmssd_ms.to_numpy()) / a.rmssd_ms.to_numpy()
    return (f"both valid {int(both.sum())}/{len(a)}; HR within 1 bpm {int(hr.sum())}/"
            f"{int(both.sum())}; RMSSD within 10 % {int((rel[both] <= 0.1).sum())}/"
            f"{int(both.sum())}")


def mitdb_line(rec: str) -> str:
    # lazy: wfdb is optional; only the MIT-BIH section needs it (for the annotations)
    import wfdb

    r = wfdb.rdrecord(str(SHARED / "mitdb" / rec), channels=[0])
    ann = wfdb.rdann(str(SHARED / "mitdb" / rec), "atr")
    keep = np.array([s in BEATS for s in ann.symbol])
    normal = np.array([s in NORMAL for s in ann.symbol])[keep]
    ref = np.asarray(ann.sample)[keep] / r.fs
    result = process_recording(recording(
        {"ECG": Channel("ECG", r.p_signal[:, 0], float(r.fs), "mV", "ecg")}, f"mitdb{rec}"))
    w = result.windows[~result.windows.partial.astype(bool)]
    ok = w[w.ecg_valid.astype(bool)]
    rr, nn = np.diff(ref) * 1000.0, normal[1:] & normal[:-1]
    errors = []
    for row in ok.itertuples():
        sel = (ref[1:] >= row.start_s) & (ref[1:] < row.end_s) & nn
        d = np.diff(rr)[sel[1:] & sel[:-1]]
        errors.append(abs(row.rmssd_ms - np.sqrt(np.mean(d * d))))
    kept = result.beats[result.beats.beat_class != "removed"]
    return (f"mitdb {rec}: ECG valid {len(ok)}/{len(w)}  low-quality beats "
            f"{int(kept.low_quality.sum())}/{len(kept)}  RMSSD |error| median "
            f"{np.median(errors):.2f} ms max {max(errors):.2f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", nargs="+", default=["soothe", "neurokit2"])
    args = ap.parse_args()
    print("== real and lab recordings through process_recording ==")
    for name, rec in inputs():
        tables = {}
        for engine in args.engines:
            t0 = time.perf_counter()
            result = process_recording(rec, PipelineSettings(engine=engine))
            tables[engine] = result.windows[~result.windows.partial.astype(bool)]
            print(summary(name, engine, time.perf_counter() - t0, result), flush=True)
        if {"soothe", "neurokit2"} <= set(tables):
            print(f"{name:24s} engines: {agreement(tables['soothe'], tables['neurokit2'])}")
    print("\n== MIT-BIH through process_recording (soothe) ==")
    for rec in ("100", "106", "108", "113", "121", "223"):
        print(mitdb_line(rec), flush=True)


if __name__ == "__main__":
    main()
