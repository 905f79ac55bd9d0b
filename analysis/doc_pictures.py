"""Regenerate the pictures in ``docs/`` with one command, each with the numbers it shows.

Usage::

    python -m analysis.doc_pictures                      # every picture below
    python -m analysis.doc_pictures --only report        # report, signals, power
    python -m analysis.doc_pictures --only report --demo-dir /tmp/demo --reuse-demo

Pictures and the commands behind them (each runs as a user would run it, in a subprocess):

- ``docs/report-screenshot.png``: ``soothe demo`` (seed 1, 20 participants, the default),
  its ``report.html`` rendered whole by headless Chromium (:mod:`analysis.screenshot`);
- ``docs/signals/<scenario>.png``: ``soothe signals --simulate SCENARIO --seconds 10
  --snapshot PNG --verdict JSON`` for every scenario of the signal check;
- ``docs/power-n27.png`` and ``docs/simulation-power.png``: ``soothe power --n-per-group 27
  --n-grid 4,10,20,27`` (the demo's 4 per group up to the paradigm's 27).

Beside every picture goes a JSON file of the numbers it shows (``report-screenshot.json``,
the signal verdicts, ``power-n27.json``); ``tests/test_doc_pictures.py`` recomputes them and
fails when a picture no longer shows what the command gives today. The session screens in
``docs/screens/`` are PsychoPy windows from ``soothe run --simulate --screenshots DIR``
(a display is needed) and show no numbers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from analysis.power_cache import power_model_key
from analysis.screenshot import render_report_png
from conditions import bids

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
#: Scenarios of the signal check drawn in docs/running-a-session.md.
SIGNAL_SCENARIOS: tuple[str, ...] = ("good", "ecg_lead_off", "ecg_inverted", "ecg_mains",
                                     "eda_off", "eda_saturated", "eda_nonresponder",
                                     "resp_loose")
SIGNAL_SECONDS = 10
#: Exit codes of ``soothe signals`` with a verdict: 0 all good, 5 not all good.
SIGNAL_EXIT_CODES = (0, 5)
#: The demo of the report screenshot: ``soothe demo``'s defaults.
DEMO_SEED, DEMO_PARTICIPANTS = 1, 20
#: The power picture: n per group from the demo's 4 to the paradigm's 27.
POWER_GRID = "4,10,20,27"
POWER_REPS = 20
PICTURES: tuple[str, ...] = ("report", "signals", "power")


def soothe_command(*args: str, cwd: Path | None = None, timeout_s: float = 7200.0,
                   ok: Sequence[int] = (0,)) -> subprocess.CompletedProcess:
    """Run ``python -m soothe ARGS`` from this checkout; raise with its output when the exit
    code is not in ``ok`` (``soothe signals`` exits non-zero for a bad signal, by design)."""
    env = dict(os.environ, PYTHONPATH=str(REPO), MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, "-m", "soothe", *args], cwd=cwd or REPO, env=env,
                          capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode not in ok:
        raise RuntimeError(f"soothe {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n"
                           f"{proc.stderr[-3000:]}")
    return proc


def report_numbers(report_dir: Path) -> dict:
    """The numbers the report screenshot shows at its top, from the report's own tables.

    The count of planned contrasts and of those passing Holm, heart rate kindness (self)
    against neutral and against positive excitement, and the power beside them.
    """
    planned = pd.read_csv(Path(report_dir) / "tables" / "planned_contrasts.csv")
    out: dict = {"n_planned_contrasts": int(len(planned)),
                 "n_holm_significant": int((planned["p_holm"] < 0.05).sum()), "contrasts": {}}
    power_path = Path(report_dir) / "tables" / "planned_power.csv"
    power = pd.read_csv(power_path) if power_path.is_file() else None
    for versus, label in (("neutral", "Kindness (self) − Neutral"),
                          ("positive_excitement", "Kindness (self) − Positive excitement")):
        row = planned[(planned["outcome"] == "Heart rate") & (planned["contrast"] == label)]
        if row.empty:
            continue
        r = row.iloc[0]
        entry = {k: round(float(r[k]), 2) for k in ("estimate", "ci_low", "ci_high")}
        entry["p_holm"] = round(float(r["p_holm"]), 3)
        if power is not None:
            p = power[(power["kind"] == "physio") & (power["measure"] == "hr_bpm")
                      & (power["condition"] == "kindness_self") & (power["versus"] == versus)]
            if len(p):
                entry["power"] = round(float(p["power"].iloc[0]), 2)
                entry["power_planned"] = round(float(p["power_planned"].iloc[0]), 2)
        out["contrasts"][f"hr_bpm: {label}"] = entry
    return out


def make_report_picture(demo_dir: Path, reuse: bool = False, docs: Path = DOCS) -> Path:
    """``soothe demo`` (unless ``reuse``), then the full-page screenshot and its numbers."""
    if not (reuse and (demo_dir / "report" / "report.html").is_file()):
        soothe_command("demo", "--out", str(demo_dir), "--seed", str(DEMO_SEED),
                       "--participants", str(DEMO_PARTICIPANTS))
    elif reuse:
        soothe_command("analyze", str(demo_dir / "raw"), str(demo_dir / "derivatives" / "soothe"),
                       "--out", str(demo_dir / "report"))
    png = docs / "report-screenshot.png"
    render_report_png(demo_dir / "report" / "report.html", png, height=40000, full_page=True)
    numbers = {"command": f"soothe demo --seed {DEMO_SEED} --participants {DEMO_PARTICIPANTS}",
               **report_numbers(demo_dir / "report")}
    bids.write_json(png.with_suffix(".json"), numbers)
    return png


def make_signal_pictures(docs: Path = DOCS, scenarios: Sequence[str] = SIGNAL_SCENARIOS
                         ) -> list[Path]:
    """One snapshot and verdict per scenario of the signal check."""
    out = []
    for scenario in scenarios:
        png = docs / "signals" / f"{scenario}.png"
        soothe_command("signals", "--simulate", scenario, "--seconds", str(SIGNAL_SECONDS),
                       "--snapshot", str(png), "--verdict", str(png.with_suffix(".json")),
                       "--no-browser", ok=SIGNAL_EXIT_CODES)
        out.append(png)
    return out


def power_numbers(power_csv: Path, n_per_group: int = 27) -> dict:
    """Power of every physiology contrast per n (the lines of the power figure)."""
    table = pd.read_csv(power_csv)
    physio = table[table["kind"] == "physio"]
    return {row.contrast: {int(n): round(float(p), 2) for n, p in
                           zip(group["n_per_group"], group["power"])}
            for row, group in ((g.iloc[0], g) for _, g in physio.groupby("contrast",
                                                                          sort=False))}


def make_power_pictures(docs: Path = DOCS, reps: int = POWER_REPS, jobs: int = 1) -> list[Path]:
    """``soothe power`` over :data:`POWER_GRID`; the figure and its numbers in docs/."""
    with tempfile.TemporaryDirectory() as tmp:
        soothe_command("power", "--n-per-group", "27", "--n-grid", POWER_GRID, "--reps",
                       str(reps), "--seed", "1", "--jobs", str(jobs), "--quiet", "--out", tmp)
        numbers = {"command": f"soothe power --n-per-group 27 --n-grid {POWER_GRID} --reps "
                              f"{reps} --seed 1", "model_sha256": power_model_key()["sha256"],
                   "power": power_numbers(Path(tmp) / "power.csv")}
        out = []
        for name in ("power-n27", "simulation-power"):
            shutil.copyfile(Path(tmp) / "power.png", docs / f"{name}.png")
            bids.write_json(docs / f"{name}.json", numbers)
            out.append(docs / f"{name}.png")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.doc_pictures", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(PICTURES),
                        help=f"comma-separated subset of {', '.join(PICTURES)}")
    parser.add_argument("--demo-dir", type=Path, default=None,
                        help="folder of the demo (default: a temporary folder)")
    parser.add_argument("--reuse-demo", action="store_true",
                        help="re-run only soothe analyze on an existing --demo-dir")
    parser.add_argument("--power-reps", type=int, default=POWER_REPS)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args(list(argv) if argv is not None else None)
    wanted = {w.strip() for w in args.only.split(",") if w.strip()}
    if wanted - set(PICTURES):
        parser.error(f"--only: unknown {sorted(wanted - set(PICTURES))}")
    if "report" in wanted:
        demo = args.demo_dir or Path(tempfile.mkdtemp()) / "soothe-demo"
        print(make_report_picture(demo, reuse=args.reuse_demo), flush=True)
    if "signals" in wanted:
        for png in make_signal_pictures():
            print(png, flush=True)
    if "power" in wanted:
        for png in make_power_pictures(reps=args.power_reps, jobs=args.jobs):
            print(png, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
