"""Compute the cached power tables of :mod:`analysis.power_cache`.

Usage::

    python -m analysis.power_cache_write 6 12            # into the user's cache folder
    python -m analysis.power_cache_write 4 27 --shipped  # the tables soothe ships
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from analysis.constants import MODEL_MEASURES
from analysis.power import DEFAULT_REPS, run_replicates, summarise_power
from analysis.power_cache import (
    ALPHA,
    CACHE_REPS,
    CACHE_SEED,
    SHIPPED_DIR,
    power_model_key,
    table_path,
    user_cache_dir,
)
from conditions import bids


def compute_power_table(n_per_group: int, out_dir: Path, *, reps: int = CACHE_REPS,
                        seed: int = CACHE_SEED, jobs: int = 1, alpha: float = ALPHA) -> Path:
    """Simulate ``reps`` studies at ``n_per_group``, summarise, write the table and its key."""
    replicates = run_replicates([n_per_group], reps, seed=seed, jobs=jobs,
                                measures=MODEL_MEASURES)
    table = summarise_power(replicates, alpha)
    out = table_path(out_dir, n_per_group)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    bids.write_json(out.with_suffix(".json"), {
        "Name": "soothe planned-contrast power", "n_per_group": n_per_group, "reps": reps,
        "seed": seed, "model": power_model_key(alpha),
        "command": f"python -m analysis.power_cache_write {n_per_group} --reps {reps}"})
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m analysis.power_cache_write N [N ...] [--reps R] [--shipped] [--jobs J]``."""
    parser = argparse.ArgumentParser(prog="python -m analysis.power_cache_write",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n_per_group", type=int, nargs="+")
    parser.add_argument("--reps", type=int, default=CACHE_REPS,
                        help=f"simulated studies per n (default {CACHE_REPS}; soothe power's "
                        f"default is {DEFAULT_REPS})")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--shipped", action="store_true",
                        help=f"write into {SHIPPED_DIR} (the tables soothe ships)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    folder = SHIPPED_DIR if args.shipped else user_cache_dir()
    for n in args.n_per_group:
        print(compute_power_table(n, folder, reps=args.reps, jobs=args.jobs), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
