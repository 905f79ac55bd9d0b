"""``soothe analyze`` and ``soothe power``."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path


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
    # lazy: 'soothe analyze --help' must not load pandas, statsmodels or matplotlib
    from analysis.pipeline import run_analysis
    from analysis.report_content import fallback_line

    t0 = time.perf_counter()
    result, paths = run_analysis(args.raw, args.deriv, args.out, rules_path=args.exclusions)
    print(f"analysed {result.analysed['participant_id'].nunique()} participants "
          f"({len(result.exclusions)} exclusion(s)) in {time.perf_counter() - t0:.1f} s")
    for m, g in result.growth.items():
        print(f"  {fallback_line(m, g) or f'{m}: {g.structure} (pre-specified)'}")
    print(f"report: {paths['report_html'].resolve()}")
    print(f"markdown: {paths['report_md'].resolve()}")
    return 0


def power_main(argv: Sequence[str] | None = None) -> int:
    """``soothe power``: see :func:`analysis.power.main`."""
    # lazy: 'soothe power --help' must not load pandas, statsmodels or matplotlib
    from analysis.power import main

    return main(argv)
