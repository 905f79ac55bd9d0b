"""Print the parameter-recovery figures of the analysis (same design as
tests/test_analysis_recovery.py, optionally more seeds / larger n).

Usage: .venv/bin/python bench/analysis_recovery.py [--seeds 1,2,3] [--n 10]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from analysis.pipeline import analyse_tables
from analysis.power import FULL_STRUCTURES, estimated_contrasts, planted_contrasts, simulate_tables

MEASURES = ("hr_bpm", "ln_rmssd", "scl_us")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--n", type=int, default=10)
    args = p.parse_args()
    parts, structures = [], []
    t0 = time.perf_counter()
    for seed in (int(s) for s in args.seeds.split(",")):
        t, _ = simulate_tables(args.n, seed)
        res = analyse_tables(t.windows, t.responses, t.participants, t.items, measures=MEASURES,
                             full=False, structures=FULL_STRUCTURES)
        structures += [(seed, m, g.structure) for m, g in res.growth.items()]
        j = planted_contrasts(t.planted, MEASURES).merge(
            estimated_contrasts(res), on=["kind", "measure", "condition", "versus"])
        parts.append(j.assign(seed=seed))
    r = pd.concat(parts, ignore_index=True)
    r["inside"] = (r["ci_low"] <= r["truth"]) & (r["truth"] <= r["ci_high"])
    nz = r[r["truth"] != 0]
    r_sign = (np.sign(nz["estimate"]) == np.sign(nz["truth"])).mean()
    print(f"seeds {args.seeds}, n = {args.n} per condition, {time.perf_counter() - t0:.0f} s")
    print(f"quantity x seed pairs: {len(r)}; coverage of planted value by 95% CI: "
          f"{r['inside'].mean():.1%} (physio {r[r.kind == 'physio']['inside'].mean():.1%}, "
          f"self-report {r[r.kind == 'selfreport']['inside'].mean():.1%})")
    print(f"per-seed sign agreement for non-zero planted effects: {r_sign:.1%} of {len(nz)}")
    print("growth-model structures used:")
    for s in sorted(set(structures)):
        print("  ", s)
    print("missed:")
    print(r.loc[~r["inside"], ["seed", "measure", "condition", "versus", "truth", "estimate",
                               "ci_low", "ci_high"]].round(4).to_string(index=False))


if __name__ == "__main__":
    main()
