"""``soothe analyze`` and ``soothe power``."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

#: n per group of the default power curve: below, at and above the paradigm's 27.
DEFAULT_N_GRID = "10,20,27,40"


def analyze_main(argv: Sequence[str] | None = None) -> int:
    """``soothe analyze RAW DERIV --out REPORT_DIR [--exclusions FILE]``.

    Examples
    --------
    ``soothe analyze study/raw study/derivatives/soothe --out study/report``
    """
    parser = argparse.ArgumentParser(
        prog="soothe analyze",
        description="Statistics, figures and the HTML report from a raw dataset and its "
        "physiology derivatives.")
    parser.add_argument("raw", type=Path, help="raw BIDS dataset (participants.tsv, _beh.tsv)")
    parser.add_argument("deriv", type=Path, help="physiology derivatives (group windows table)")
    parser.add_argument("--out", type=Path, required=True, help="report folder")
    parser.add_argument("--exclusions", type=Path, default=None,
                        help="exclusion rules TOML (default: analysis/exclusions.toml)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    from analysis.pipeline import run_analysis

    t0 = time.perf_counter()
    result, paths = run_analysis(args.raw, args.deriv, args.out, rules_path=args.exclusions)
    print(f"analysed {result.analysed['participant_id'].nunique()} participants "
          f"({len(result.exclusions)} exclusion(s)) in {time.perf_counter() - t0:.1f} s")
    from analysis.report_content import fallback_line

    for m, g in result.growth.items():
        print(f"  {fallback_line(m, g) or f'{m}: {g.structure} (pre-specified)'}")
    print(f"report: {paths['report_html'].resolve()}")
    print(f"markdown: {paths['report_md'].resolve()}")
    return 0


def power_main(argv: Sequence[str] | None = None) -> int:
    """``soothe power --n-per-group 27 --reps R [--n-grid 10,20,27,40] [--out DIR]``."""
    parser = argparse.ArgumentParser(
        prog="soothe power",
        description="Power of the main contrasts by simulation (table-level simulator, same "
        "models as soothe analyze).")
    parser.add_argument("--n-per-group", type=int, default=27)
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--n-grid", type=str, default=DEFAULT_N_GRID,
                        help="comma-separated n per group for the power-vs-n curve (default "
                        f"{DEFAULT_N_GRID}; --n-per-group is always added; '' for that "
                        "single n only)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--out", type=Path, default=Path("soothe-power"))
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--full-chain", action="store_true",
                        help="start every growth model from the correlated structure, exactly "
                        "as soothe analyze does (about 3x slower)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    from analysis.power import PLOTTED_SELFREPORT, run_power

    try:
        grid = sorted({int(x) for x in args.n_grid.split(",") if x.strip()}
                      | {args.n_per_group})
    except ValueError:
        parser.error(f"--n-grid: expected comma-separated integers, got {args.n_grid!r}")
    if any(n < 3 for n in grid) or args.reps < 1:
        parser.error("--n-per-group and the grid need n >= 3, and --reps >= 1")
    t0 = time.perf_counter()
    table, paths = run_power(grid, args.reps, seed=args.seed, alpha=args.alpha, out_dir=args.out,
                             jobs=args.jobs, full_chain=args.full_chain)
    wanted = {f"{c[0]}: {c[1]} - {c[2]}" for c in PLOTTED_SELFREPORT}
    at_n = table[(table["n_per_group"] == args.n_per_group)
                 & ((table["kind"] == "physio") | table["contrast"].isin(wanted))]
    print(f"power at n = {args.n_per_group} per group, {args.reps} simulated studies, "
          f"alpha = {args.alpha} ({time.perf_counter() - t0:.0f} s):")
    for row in at_n.itertuples():
        print(f"  {row.contrast:62s} {row.power:5.2f}  [{row.ci_low:.2f}, {row.ci_high:.2f}]")
    print("all contrasts (incl. every ANCOVA contrast) in the table below")
    print(f"table: {paths['csv'].resolve()}\nfigure: {paths['png'].resolve()}")
    return 0
