"""Per-window agreement between soothe's own engine and the neurokit2 engine.

Both engines run on the same recordings with the same phases, windows and validity rules
(``physio.pipeline.process_recording`` with ``engine="soothe"`` and ``engine="neurokit2"``);
only the signal processing differs. For every window valid in both, the table gives the
median and 90th-percentile absolute difference of HR (bpm), RMSSD (% of soothe's value), SCL
(µS), SCR count and breathing rate (breaths/min), on:

- simulated sessions (``soothe simulate``, clean signals with ``--clean`` or the default
  realistic noise), and
- the shared real lab session (``../shared/data/lab``, 25.6 min, ECG + EDA, no belt: the
  breathing rate there is ECG-derived in soothe and absent in neurokit2, which has no
  ECG-derived route in this engine).

    .venv/bin/python bench/bench_engines.py [--participants 3] [--seed 1] [--clean]
"""

from __future__ import annotations

import argparse
import gzip
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SOOTHE_SHARED_DATA") or REPO.parent / "shared" / "data")
MEASURES = (
    ("hr_bpm", "HR (bpm)", "abs"),
    ("rmssd_ms", "RMSSD (%)", "rel"),
    ("scl_us", "SCL (µS)", "abs"),
    ("scr_count", "SCR count", "abs"),
    ("resp_rate_bpm", "breathing (/min)", "abs"),
)


def _engines(rec, protocol=None) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    from physio.pipeline import PipelineSettings, process_recording

    out, secs = [], {}
    for engine in ("soothe", "neurokit2"):
        t0 = time.perf_counter()
        res = process_recording(rec, PipelineSettings(engine=engine), protocol=protocol)
        secs[engine] = time.perf_counter() - t0
        out.append(res.windows.reset_index(drop=True))
    return out[0], out[1], secs


def agreement(a: pd.DataFrame, b: pd.DataFrame) -> dict[str, tuple[float, float, int]]:
    """{measure: (median |diff|, 90th percentile |diff|, n windows)} over full windows
    valid in both engines."""
    full = ~a["partial"].astype(bool).to_numpy()
    res = {}
    for col, _, kind in MEASURES:
        valid_col = "eda_valid" if col.startswith(("scl", "scr")) else "ecg_valid"
        ok = full & a[valid_col].astype(bool).to_numpy() & b[valid_col].astype(bool).to_numpy()
        x = pd.to_numeric(a[col], errors="coerce").to_numpy(float)[ok]
        y = pd.to_numeric(b[col], errors="coerce").to_numpy(float)[ok]
        fin = np.isfinite(x) & np.isfinite(y)
        if not fin.any():
            res[col] = (np.nan, np.nan, 0)
            continue
        d = np.abs(y[fin] - x[fin])
        if kind == "rel":
            d = 100 * d / np.abs(x[fin])
        res[col] = (float(np.median(d)), float(np.percentile(d, 90)), int(fin.sum()))
    return res


def print_table(title: str, rows: dict[str, tuple[float, float, int]]) -> None:
    print(f"\n{title}")
    print(f"  {'measure':<18} {'median |diff|':>14} {'P90 |diff|':>12} {'windows':>8}")
    for col, label, _ in MEASURES:
        med, p90, n = rows[col]
        print(f"  {label:<18} {med:>14.3f} {p90:>12.3f} {n:>8d}")


def simulated(n: int, seed: int, clean: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    from physio.io import read_recording

    folder = Path(tempfile.mkdtemp(prefix="bench_engines_"))
    cmd = [sys.executable, "-m", "soothe", "simulate", "--participants", str(n), "--seed",
           str(seed), "--out", str(folder / "raw"), "--quiet"]
    if clean:
        cmd.append("--no-noise")
    subprocess.run(cmd, check=True, cwd=REPO)
    a_all, b_all = [], []
    for path in sorted((folder / "raw").glob("sub-*/ses-*/beh/*_physio.tsv.gz")):
        a, b, secs = _engines(read_recording(path))
        print(f"  {path.name}: soothe {secs['soothe']:.1f} s, neurokit2 "
              f"{secs['neurokit2']:.1f} s")
        a_all.append(a)
        b_all.append(b)
    return pd.concat(a_all, ignore_index=True), pd.concat(b_all, ignore_index=True)


def lab() -> tuple[pd.DataFrame, pd.DataFrame] | None:
    from physio.recording import Channel, Recording

    folder = SHARED / "lab"
    if not folder.is_dir():
        print(f"\n(shared lab recording not found at {folder}: skipped)")
        return None
    data = {k: np.load(gzip.open(folder / f"Task1_{k}.npy.gz")) for k in ("ECG", "EDA")}
    rec = Recording(
        channels={"ECG": Channel("ECG", data["ECG"], 1000.0, "", "ecg"),
                  "EDA": Channel("EDA", data["EDA"], 1000.0, "uS", "eda")},
        source=folder / "Task1_ECG.npy.gz", format="npy",
        markers=pd.DataFrame({"onset_s": [], "code": [], "label": []}),
        meta={"participant_id": "lab01", "session": "1"},
    )
    a, b, secs = _engines(rec)
    print(f"  lab: soothe {secs['soothe']:.1f} s, neurokit2 {secs['neurokit2']:.1f} s")
    return a, b


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--participants", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--clean", action="store_true", help="simulate without noise")
    args = ap.parse_args(argv)
    a, b = simulated(args.participants, args.seed, args.clean)
    print_table(f"simulated: {args.participants} sessions "
                f"({'clean' if args.clean else 'realistic noise'})", agreement(a, b))
    got = lab()
    if got is not None:
        print_table("shared lab session (real, 25.6 min)", agreement(*got))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
