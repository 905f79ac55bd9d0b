"""``soothe demo``: the embedded default, end to end.

Simulates a small study with planted effects, processes its physiology into windowed HR,
HRV, SCL and SCRs, then runs the statistics and writes the report. Each stage is the same
command an analyst would run by hand; the demo only chains them and prints where the
results are.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path


def _stage(title: str, func: Callable[[list[str]], int], argv: list[str]) -> tuple[int, float]:
    print(f"\n=== {title}\n$ soothe {' '.join(argv[:1])} ... {' '.join(argv[1:])}", flush=True)
    t0 = time.perf_counter()
    code = int(func(argv) or 0)
    elapsed = time.perf_counter() - t0
    print(f"--- {title}: exit code {code}, {elapsed:.1f} s", flush=True)
    return code, elapsed


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo study.

    Examples
    --------
    ``soothe demo --out soothe-demo --participants 20 --seed 1``
    """
    parser = argparse.ArgumentParser(prog="soothe demo", description=__doc__)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("soothe-demo"),
        help="output folder (default: ./soothe-demo)",
    )
    parser.add_argument(
        "--participants",
        type=int,
        default=20,
        help="participants to simulate (default: 20, 4 per condition)",
    )
    parser.add_argument("--seed", type=int, default=1, help="study seed (default: 1)")
    parser.add_argument(
        "--jobs",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="parallel processes for the physiology batch",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep an existing output folder instead of starting afresh",
    )
    args = parser.parse_args(list(argv) if argv is not None else None)

    out: Path = args.out
    raw, deriv, report = out / "raw", out / "derivatives" / "soothe", out / "report"
    if out.exists() and not args.keep:
        if not (raw / "dataset_description.json").exists() and any(out.iterdir()):
            parser.error(f"{out} exists and is not a soothe demo folder; choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)

    from soothe.simulate.cli import main as simulate_main

    timings: dict[str, float] = {}
    code, timings["simulate"] = _stage(
        "1/3 simulate the study",
        simulate_main,
        ["--participants", str(args.participants), "--seed", str(args.seed), "--out", str(raw)],
    )
    if code:
        return code

    from physio.cli import main as physio_main

    code, timings["physio"] = _stage(
        "2/3 process the physiology",
        physio_main,
        ["process", str(raw), "--out", str(deriv), "--jobs", str(args.jobs)],
    )
    if code:
        print("physiology batch reported failures; see", deriv / "failures.tsv")

    from analysis.cli import analyze_main

    code_an, timings["analyze"] = _stage(
        "3/3 statistics and report", analyze_main, [str(raw), str(deriv), "--out", str(report)]
    )
    total = sum(timings.values())
    print(f"\n=== soothe demo finished in {total:.0f} s")
    print(f"raw dataset (BIDS):      {raw.resolve()}")
    print(f"physiology derivatives:  {deriv.resolve()}")
    print(f"quality control:         {(deriv / 'qc' / 'index.html').resolve()}")
    print(f"report:                  {(report / 'report.html').resolve()}")
    return code or code_an
