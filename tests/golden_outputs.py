"""Digests of every derived table, to show that a change of structure changes no output.

Run as a script to print or refresh the committed digests::

    .venv/bin/python tests/golden_outputs.py            # compare with the committed digests
    .venv/bin/python tests/golden_outputs.py --update   # after a *deliberate* change of output
    .venv/bin/python tests/golden_outputs.py --keep DIR # keep the tables, to diff two versions

What is covered (each recording through the public entry points a user calls):

- a small simulated study (4 participants, 250 Hz) written as BIDS, EDF, CSV and XDF,
  processed by ``soothe physio process`` and analysed by ``soothe analyze``: every ``.tsv``
  of the derivatives and every ``.tsv``, ``.csv`` and ``.tex`` table of the report;
- when ``../shared/data`` is present: the two NeuroKit2 CSV recordings and the BIOPAC
  files through ``soothe physio process``; the 25-min lab session, three MIT-BIH records and
  the PhysioNet drive05 record through ``physio.pipeline.process_recording``.

JSON sidecars, HTML and PNG files are left out: they carry dates, versions and paths.
A table is compared by the SHA-256 of its bytes as written (the writer formats floats with
``repr`` precision, so equal bytes mean equal values to the last digit).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DIGESTS = REPO / "tests" / "data" / "golden_outputs.json"
SIM_FORMATS = ("bids", "edf", "csv", "xdf")


def shared_data() -> Path | None:
    """The shared reference data, if present (``SOOTHE_SHARED_DATA`` or ``../shared/data``)."""
    env = os.environ.get("SOOTHE_SHARED_DATA")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if cand.is_dir():
            return cand
    return None


def _soothe(*args: str, cwd: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO), MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, "-m", "soothe", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"soothe {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n"
                           f"{proc.stderr[-3000:]}")


def _digest_tree(root: Path, prefix: str) -> dict[str, str]:
    out = {}
    paths = [p for p in root.rglob("*") if p.suffix in (".tsv", ".csv", ".tex")]
    for path in sorted(paths):
        out[f"{prefix}/{path.relative_to(root).as_posix()}"] = \
            hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def simulated_study(work: Path) -> dict[str, str]:
    """The simulated study in every format, processed and analysed."""
    raw = work / "sim_raw"
    _soothe("simulate", "--participants", "4", "--seed", "11", "--fs", "250", "--out", str(raw),
            "--format", *SIM_FORMATS, "--quiet", cwd=work)
    digests: dict[str, str] = {}
    deriv = work / "sim_deriv"
    _soothe("physio", "process", str(raw), "--out", str(deriv), "--no-progress", cwd=work)
    digests.update(_digest_tree(deriv, "sim/bids"))
    for fmt in SIM_FORMATS[1:]:
        src = raw / "sourcedata" / "formats" / fmt
        fmt_deriv = work / f"sim_deriv_{fmt}"
        _soothe("physio", "process", str(src), "--out", str(fmt_deriv), "--no-progress",
                cwd=work)
        digests.update(_digest_tree(fmt_deriv, f"sim/{fmt}"))
    report = work / "sim_report"
    _soothe("analyze", str(raw), str(deriv), "--out", str(report), cwd=work)
    digests.update(_digest_tree(report, "sim/report"))
    return digests


def shared_files(work: Path, shared: Path) -> dict[str, str]:
    """Shared real exports through ``soothe physio process``."""
    digests: dict[str, str] = {}
    for name in ("bio_resting_8min_100hz.csv", "bio_eventrelated_100hz.csv"):
        deriv = work / f"real_{name}"
        _soothe("physio", "process", str(shared / "real" / name), "--out", str(deriv),
                "--column-map", "ecg=ECG,eda=EDA,rsp=RSP", "--sampling-rate", "100",
                "--ecg-units", "mV", "--eda-units", "uS", "--rsp-units", "V",
                "--no-progress", cwd=work)
        digests.update(_digest_tree(deriv, f"real/{name}"))
    deriv = work / "biopac"
    _soothe("physio", "process", str(shared / "biopac"), "--out", str(deriv), "--no-progress",
            cwd=work)
    digests.update(_digest_tree(deriv, "biopac"))
    return digests


def _table_digest(table) -> str:
    from conditions.bids import write_tsv

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.tsv"
        write_tsv(path, table)
        return hashlib.sha256(path.read_bytes()).hexdigest()


def _result_digests(result, prefix: str) -> dict[str, str]:
    out = {f"{prefix}/windows": _table_digest(result.windows),
           f"{prefix}/beats": _table_digest(result.beats)}
    if len(result.phases):
        out[f"{prefix}/phases"] = _table_digest(result.phases)
    return out


def shared_recordings(shared: Path) -> dict[str, str]:
    """Shared recordings with no reader of their own, built in memory as the tests do."""
    import numpy as np
    import pandas as pd
    import wfdb

    from physio.pipeline import PipelineSettings, process_recording
    from physio.recording import Channel, Recording

    digests: dict[str, str] = {}
    lab = shared / "lab"
    data = {k: np.load(gzip.open(lab / f"Task1_{k}.npy.gz")) for k in ("ECG", "EDA")}
    rec = Recording(
        channels={"ECG": Channel("ECG", data["ECG"], 1000.0, "", "ecg"),
                  "EDA": Channel("EDA", data["EDA"], 1000.0, "uS", "eda")},
        source=lab / "Task1_ECG.npy.gz", format="npy",
        markers=pd.DataFrame({"onset_s": [], "code": [], "label": []}),
        meta={"participant_id": "lab01", "session": "1"})
    digests.update(_result_digests(process_recording(rec, PipelineSettings()), "lab"))
    for record in ("100", "113", "121"):
        sig = wfdb.rdrecord(str(shared / "mitdb" / record))
        rec = Recording(
            channels={"ECG": Channel("ECG", sig.p_signal[:, 0], float(sig.fs), "mV", "ecg")},
            source=shared / "mitdb" / f"{record}.dat", format="wfdb",
            markers=pd.DataFrame({"onset_s": [], "code": [], "label": []}),
            meta={"participant_id": f"mitdb{record}", "session": "1"})
        digests.update(_result_digests(process_recording(rec, PipelineSettings()),
                                       f"mitdb/{record}"))
    drive = wfdb.rdrecord(str(shared / "real" / "drive05"), smooth_frames=False)
    names = [n.strip() for n in drive.sig_name]
    fs = {n: float(drive.fs) * spf for n, spf in zip(names, drive.samps_per_frame)}
    sig = dict(zip(names, drive.e_p_signal))
    eda_name = next(n for n in names if "hand" in n.lower())
    rsp_name = next(n for n in names if n.lower().startswith("resp"))
    rec = Recording(
        channels={"ECG": Channel("ECG", sig["ECG"], fs["ECG"], "mV", "ecg"),
                  "EDA": Channel("EDA", sig[eda_name], fs[eda_name], "uS", "eda"),
                  "RSP": Channel("RSP", sig[rsp_name], fs[rsp_name], "", "rsp")},
        source=shared / "real" / "drive05.dat", format="wfdb",
        markers=pd.DataFrame({"onset_s": [], "code": [], "label": []}),
        meta={"participant_id": "drive05", "session": "1"})
    digests.update(_result_digests(process_recording(rec, PipelineSettings()), "drive05"))
    return digests


def collect(work: Path, shared: Path | None) -> dict[str, str]:
    """Every digest this machine can compute (the shared part only with ``shared``)."""
    digests = simulated_study(work)
    if shared is not None:
        digests.update(shared_files(work, shared))
        digests.update(shared_recordings(shared))
    return dict(sorted(digests.items()))


def compare(expected: dict[str, str], found: dict[str, str], with_shared: bool) -> list[str]:
    """Differences as readable lines (empty when every table is unchanged)."""
    problems = []
    for key, digest in expected.items():
        if not with_shared and not key.startswith("sim/"):
            continue
        if key not in found:
            problems.append(f"missing: {key}")
        elif found[key] != digest:
            problems.append(f"changed: {key}")
    problems += [f"new: {key}" for key in found if key not in expected]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="rewrite the committed digests")
    parser.add_argument("--keep", type=Path, help="keep the derived tables in this folder")
    args = parser.parse_args(argv)
    shared = shared_data()
    work = Path(tempfile.mkdtemp(prefix="soothe-golden-")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    try:
        found = collect(work, shared)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    if args.update:
        if shared is None:
            print("refusing to update without ../shared/data (its digests would be lost)")
            return 2
        DIGESTS.write_text(json.dumps(found, indent=1) + "\n")
        print(f"wrote {len(found)} digests to {DIGESTS}")
        return 0
    expected = json.loads(DIGESTS.read_text())
    problems = compare(expected, found, shared is not None)
    print("\n".join(problems) if problems else f"all {len(found)} tables unchanged")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
