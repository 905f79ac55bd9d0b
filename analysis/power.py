"""Power of the main contrasts by simulation, from the simulator's one source of effects.

For each n per group and each replicate a study is simulated at table level from the
generative model of :mod:`soothe.simulate.effects` (the same planted drives, variability
and self-report shifts as ``soothe simulate`` and ``soothe demo``) and analysed with
:func:`analysis.pipeline.analyse_tables` -- the same exclusions, ANCOVA and growth-curve
model as ``soothe analyze``. The growth model is the pre-specified one: random intercept
and slope, uncorrelated (``PRESPECIFIED_STRUCTURES``; a random intercept only if the slope
variance is estimated at 0). Power is the fraction of replicates in which a contrast is
significant in the planted direction by the decision ``soothe analyze`` reports: the
Holm-adjusted p < ``alpha`` (Holm within each physiology measure over its 6 slope
contrasts, and within each self-report construct over its 6 ANCOVA contrasts; see
:func:`significant`). For a contrast whose planted value is zero the same fraction is the
type-I error rate (any direction).

Simulators: ``synthetic`` (default; :mod:`analysis.synthetic`, the drives' analytic
expectations per minute plus measurement noise; fast) or ``beats``
(``soothe.simulate.simulate_study_tables``: the true beat series through the pipeline's
HRV estimator; slower). Both plant the slopes of
:func:`soothe.simulate.effects.implied_index_slopes`.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from analysis.constants import REFERENCE
from analysis.figures import plot_power_curves, save_figure
from analysis.physio_mixed import PRESPECIFIED
from analysis.pipeline import analyse_tables, software_versions
from analysis.selfreport_ancova import planned_contrasts
from analysis.synthetic import synthetic_study_tables
from analysis.tidy_table import items_from_responses
from conditions import bids
from soothe.simulate import simulate_study_tables
from soothe.simulate.effects import planted_effects

POWER_MEASURES: tuple[str, ...] = ("hr_bpm", "ln_rmssd", "lnhf", "scl_us")
SIMULATORS: tuple[str, ...] = ("synthetic", "beats")
#: Defaults of ``soothe power``: sized to finish within minutes on 2 cores.
DEFAULT_REPS = 20
DEFAULT_JOBS = 2

#: Contrasts drawn in the power figure (all are in the CSV).
PLOTTED_SELFREPORT = (
    ("self_compassion", "kindness_self", "neutral"),
    ("self_compassion", "body_scan", "neutral"),
    ("self_compassion", "kindness_self", "positive_excitement"),
    ("safe_content", "kindness_self", "neutral"),
    ("connected_secure", "body_scan", "neutral"),
    ("drive_activation", "positive_excitement", "neutral"),
)

#: The pre-specified random-effects structure of every growth model: random
#: intercept + slope, uncorrelated; random intercept only when the slope variance is 0.
#: One definition, shared with ``soothe analyze``.
PRESPECIFIED_STRUCTURES = PRESPECIFIED
#: Kept for callers of the old name: the same pre-specified model.
FULL_STRUCTURES = PRESPECIFIED_STRUCTURES
FAST_STRUCTURES = PRESPECIFIED_STRUCTURES


def simulate_tables(n_per_group: int, seed: int, simulator: str = "synthetic",
                    time_course: str = "linear") -> tuple[Any, str]:
    """One simulated study as (tables, simulator name).

    The returned object has ``windows``, ``responses``, ``participants``, ``items`` and
    ``planted`` (dict with ``slopes`` measure -> condition -> slope per minute and
    ``shifts`` condition -> construct -> post - pre shift).

    Examples
    --------
    >>> t, name = simulate_tables(1, seed=1)
    >>> name, t.planted["slopes"]["hr_bpm"]["positive_excitement"]
    ('analysis.synthetic', 0.3)
    """
    if simulator == "synthetic":
        if time_course != "linear":
            raise ValueError("the synthetic simulator plants the linear time course only; "
                             "use simulator='beats' for --time-course saturating")
        return synthetic_study_tables(n_per_group, seed), "analysis.synthetic"
    if simulator == "beats":
        tables = simulate_study_tables(n_per_group, seed, time_course=time_course)
        return adapt_simulated_tables(tables), "soothe.simulate"
    raise ValueError(f"unknown simulator {simulator!r}; expected one of {SIMULATORS}")


def adapt_simulated_tables(tables: dict[str, Any]) -> Any:
    """The signal simulator's tables (``soothe.simulate.simulate_study_tables``) under the
    names of :class:`analysis.synthetic.StudyTables`: ``windows``, ``responses``,
    ``participants``, ``items`` and ``planted``."""
    responses = tables["beh"]
    return SimpleNamespace(windows=tables["windows"], responses=responses,
                           participants=tables["participants"],
                           items=items_from_responses(responses), planted=tables["planted"])


#: Physiology contrasts: every condition against neutral, and the self-compassion
#: conditions against positive excitement (the paper's key contrast).
PHYSIO_VERSUS: tuple[tuple[str, str], ...] = (
    ("kindness_self", REFERENCE), ("body_scan", REFERENCE),
    ("positive_excitement", REFERENCE), ("rumination", REFERENCE),
    ("kindness_self", "positive_excitement"), ("body_scan", "positive_excitement"),
)


def planted_contrasts(planted: dict[str, Any], measures: Sequence[str] = POWER_MEASURES
                      ) -> pd.DataFrame:
    """The true value of every contrast the models estimate.

    Physiology: ``slope_diff`` = planted slope(condition) - slope(versus) per minute, for
    :data:`PHYSIO_VERSUS`. Self-report: planted shift(condition) - shift(versus) for the
    ANCOVA contrasts.

    Examples
    --------
    >>> from soothe.simulate.effects import implied_index_slopes
    >>> t = planted_contrasts({"slopes": implied_index_slopes(), "shifts": {}})
    >>> float(t.set_index(["measure", "condition", "versus"]).loc[
    ...     ("hr_bpm", "kindness_self", "positive_excitement"), "truth"])
    -0.6
    """
    rows = []
    slopes = planted.get("slopes", {})
    for measure in measures:
        s = slopes.get(measure, {})
        for cond, versus in PHYSIO_VERSUS:
            if cond not in s:
                continue
            rows.append({"kind": "physio", "measure": measure, "condition": cond,
                         "versus": versus,
                         "truth": round(float(s.get(cond, 0.0)) - float(s.get(versus, 0.0)),
                                        9)})
    shifts = planted.get("shifts", {})
    constructs = sorted({k for v in shifts.values() for k in v})
    for construct in constructs:
        for cond, versus in planned_contrasts():
            truth = float(shifts.get(cond, {}).get(construct, 0.0)) - float(
                shifts.get(versus, {}).get(construct, 0.0))
            rows.append({"kind": "selfreport", "measure": construct, "condition": cond,
                         "versus": versus, "truth": truth})
    return pd.DataFrame(rows)


def estimated_contrasts(result) -> pd.DataFrame:
    """Estimates, 95% CIs and p values in the same layout as :func:`planted_contrasts`.

    ``p`` is the Holm-adjusted p that ``soothe analyze`` judges by (Holm within each
    physiology measure over its slope contrasts, within each construct over its ANCOVA
    contrasts); ``p_unadjusted`` is the contrast's own Wald or t-test p.

    Raises
    ------
    ValueError
        When a contrast table has no ``p_holm`` column: power must be judged by the same
        decision as the report.
    """
    rows = []
    for measure, gm in result.growth.items():
        sc = gm.slope_contrasts
        if len(sc) and "p_holm" not in sc.columns:
            raise ValueError(f"{measure}: slope contrasts without p_holm")
        for r in sc.itertuples():
            rows.append({"kind": "physio", "measure": measure, "condition": r.condition,
                         "versus": r.versus, "estimate": r.slope_diff, "ci_low": r.ci_low,
                         "ci_high": r.ci_high, "p": r.p_holm, "p_unadjusted": r.p})
    for r in result.ancova.itertuples():
        rows.append({"kind": "selfreport", "measure": r.construct, "condition": r.condition,
                     "versus": r.versus, "estimate": r.estimate, "ci_low": r.ci_low,
                     "ci_high": r.ci_high, "p": r.p_holm, "p_unadjusted": r.p})
    return pd.DataFrame(rows)


def significant(p_holm: pd.Series | np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """The decision of ``soothe analyze`` and ``soothe power``: Holm-adjusted p < alpha.

    Examples
    --------
    >>> significant([0.01, 0.05, float("nan")]).tolist()
    [True, False, False]
    """
    return np.asarray(p_holm, dtype=float) < alpha


def one_replicate(n_per_group: int, seed: int, measures: Sequence[str] = POWER_MEASURES,
                  simulator: str = "synthetic", time_course: str = "linear") -> pd.DataFrame:
    """Simulate and analyse one study; return truth joined with the estimates."""
    t, name = simulate_tables(n_per_group, seed, simulator, time_course)
    result = analyse_tables(t.windows, t.responses, t.participants, t.items,
                            measures=tuple(measures), full=False,
                            structures=PRESPECIFIED_STRUCTURES)
    est = estimated_contrasts(result)
    truth = planted_contrasts(t.planted, measures)
    out = truth.merge(est, on=["kind", "measure", "condition", "versus"], how="inner")
    out["n_per_group"] = n_per_group
    out["seed"] = seed
    out["simulator"] = name
    out["structure"] = out["measure"].map(
        {m: g.structure for m, g in result.growth.items()}).fillna("OLS")
    return out


def _job(args: tuple) -> pd.DataFrame:
    return one_replicate(*args)


def estimate_seconds(grid: Sequence[int], reps: int, jobs: int, pilot_s: float,
                     pilot_n: int) -> float:
    """Run time of the whole grid from one pilot replicate (cost ~ n per group).

    Examples
    --------
    >>> estimate_seconds([10, 20], reps=2, jobs=2, pilot_s=3.0, pilot_n=10)
    9.0
    """
    total = sum(pilot_s * n / pilot_n for n in grid) * reps
    return total / max(1, min(jobs, len(grid) * reps))


def run_replicates(grid: Sequence[int], reps: int, seed: int = 1, jobs: int = 1,
                   measures: Sequence[str] = POWER_MEASURES, simulator: str = "synthetic",
                   time_course: str = "linear", progress: bool = False,
                   report: Callable[[str], None] | None = None) -> pd.DataFrame:
    """All replicates for every n in ``grid`` (long table of truth and estimates).

    The first replicate (smallest n) runs alone and times the rest: ``report`` receives
    the run-time estimate before the others start. ``progress`` shows a tqdm bar.
    """
    tasks = [(n, seed * 1_000_003 + n * 10_007 + r, tuple(measures), simulator, time_course)
             for n in grid for r in range(reps)]
    tasks.sort(key=lambda t: t[0])
    t0 = time.perf_counter()
    parts = [_job(tasks[0])]
    pilot = time.perf_counter() - t0
    if report is not None:
        left = estimate_seconds([t[0] for t in tasks[1:]], 1, jobs, pilot, tasks[0][0])
        report(f"estimated run time: about {left + pilot:.0f} s for {len(tasks)} simulated "
               f"studies on {jobs} process(es) (one study at n = {tasks[0][0]} took "
               f"{pilot:.1f} s)")
    bar = None
    if progress:
        bar = tqdm(total=len(tasks), initial=1, desc="power", unit="study")
    rest = tasks[1:]
    if jobs > 1 and rest:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
            futures = [pool.submit(_job, t) for t in rest]
            for _done in as_completed(futures):
                if bar is not None:
                    bar.update()
            parts += [f.result() for f in futures]
    else:
        for t in rest:
            parts.append(_job(t))
            if bar is not None:
                bar.update()
    if bar is not None:
        bar.close()
    return pd.concat(parts, ignore_index=True)


def summarise_power(reps: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Power per n and contrast with a Wilson 95% CI.

    Examples
    --------
    >>> r = pd.DataFrame({"kind": "physio", "measure": "hr_bpm", "condition": "rumination",
    ...     "versus": "neutral", "truth": 0.3, "estimate": [0.2, 0.4, -0.1, 0.3],
    ...     "p": [0.01, 0.001, 0.5, 0.2], "n_per_group": 27})
    >>> float(summarise_power(r)["power"].iloc[0])
    0.5
    """
    # lazy: statsmodels is the heaviest import of the analysis; only the summary needs it
    from statsmodels.stats.proportion import proportion_confint

    r = reps.copy()
    sig = significant(r["p"], alpha)
    direction = np.sign(r["truth"])
    r["hit"] = np.where(direction == 0, sig, sig & (np.sign(r["estimate"]) == direction))
    rows = []
    keys = ["kind", "measure", "condition", "versus", "n_per_group"]
    for key, g in r.groupby(keys, sort=False):
        k, n = int(g["hit"].sum()), len(g)
        lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
        row = dict(zip(keys, key))
        truth = float(g["truth"].iloc[0])
        label = (f"{row['measure']}: {row['condition']} - {row['versus']}"
                 + (" (type I, truth 0)" if truth == 0 else ""))
        rows.append({**row, "contrast": label, "truth": truth, "reps": n, "power": k / n,
                     "ci_low": lo, "ci_high": hi,
                     "mean_estimate": float(g["estimate"].mean())})
    return pd.DataFrame(rows)


def run_power(grid: Sequence[int], reps: int, *, seed: int = 1, alpha: float = 0.05,
              out_dir: Path = Path("soothe-power"), jobs: int = 1,
              simulator: str = "synthetic", time_course: str = "linear",
              progress: bool = False, report: Callable[[str], None] | None = None,
              ) -> tuple[pd.DataFrame, dict[str, Path]]:
    """Simulate, summarise and write ``power.csv``, ``power_replicates.csv``, the figure
    (PNG + SVG) and ``power.json`` (methods, parameters, effect model, versions)."""
    t0 = time.perf_counter()
    replicates = run_replicates(grid, reps, seed=seed, jobs=jobs, simulator=simulator,
                                time_course=time_course, progress=progress, report=report)
    table = summarise_power(replicates, alpha)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out_dir / "power.csv", "replicates": out_dir / "power_replicates.csv"}
    table.to_csv(paths["csv"], index=False)
    replicates.to_csv(paths["replicates"], index=False)
    physio = table[table["kind"] == "physio"]
    wanted = {f"{c[0]}: {c[1]} - {c[2]}" for c in PLOTTED_SELFREPORT}
    sr = table[(table["kind"] == "selfreport") & table["contrast"].isin(wanted)]
    fig = plot_power_curves(pd.concat([physio, sr]))
    saved = save_figure(fig, out_dir / "power")
    paths["png"], paths["svg"] = saved["png"], saved["svg"]
    paths["json"] = out_dir / "power.json"
    bids.write_json(paths["json"], {
        "Name": "soothe power", "method": __doc__.strip(),
        "parameters": {"n_grid": list(grid), "reps": reps, "seed": seed, "alpha": alpha,
                       "measures": list(POWER_MEASURES), "jobs": jobs,
                       "simulator_option": simulator, "time_course": time_course,
                       "structures": list(PRESPECIFIED_STRUCTURES)},
        "simulator": sorted(replicates["simulator"].unique().tolist()),
        "effect_model": planted_effects(time_course)["physiology"],
        "model_structures": replicates.groupby("measure")["structure"].agg(
            lambda s: s.value_counts().to_dict()).to_dict(),
        "versions": software_versions(), "elapsed_s": time.perf_counter() - t0,
    })
    return table, paths


#: n per group of the default power curve: below, at and above the paradigm's 27.
DEFAULT_N_GRID = "10,20,27,40"


def main(argv: Sequence[str] | None = None) -> int:
    """``soothe power [--n-per-group 27] [--reps R] [--n-grid 10,20,27,40] [--out DIR]``."""
    parser = argparse.ArgumentParser(
        prog="soothe power",
        description="Power of the main contrasts by simulation (the simulator's generative "
        "model at table level, the same pre-specified models as soothe analyze, and the "
        "same decision: Holm-adjusted p < alpha for every contrast). The "
        f"defaults ({DEFAULT_REPS} studies per n, {DEFAULT_JOBS} processes) finish in a few "
        "minutes on 2 cores; --reps scales up.")
    parser.add_argument("--n-per-group", type=int, default=27)
    parser.add_argument("--reps", type=int, default=DEFAULT_REPS,
                        help=f"simulated studies per n (default {DEFAULT_REPS}; power is a "
                        "proportion, so its Wilson CI halves with 4x the reps)")
    parser.add_argument("--n-grid", type=str, default=DEFAULT_N_GRID,
                        help="comma-separated n per group for the power-vs-n curve (default "
                        f"{DEFAULT_N_GRID}; --n-per-group is always added; '' for that "
                        "single n only)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--out", type=Path, default=Path("soothe-power"))
    parser.add_argument("--jobs", type=int, default=min(DEFAULT_JOBS, os.cpu_count() or 1),
                        help=f"worker processes (default {DEFAULT_JOBS})")
    parser.add_argument("--simulator", choices=SIMULATORS, default="synthetic",
                        help="synthetic: analytic per-minute expectations of the drives "
                        "(fast, default); beats: true beat series through the pipeline's "
                        "HRV estimator (about 3x slower)")
    parser.add_argument("--time-course", choices=("linear", "saturating"), default="linear",
                        help="planted time course (saturating needs --simulator beats)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        grid = sorted({int(x) for x in args.n_grid.split(",") if x.strip()}
                      | {args.n_per_group})
    except ValueError:
        parser.error(f"--n-grid: expected comma-separated integers, got {args.n_grid!r}")
    if any(n < 3 for n in grid) or args.reps < 1 or args.jobs < 1:
        parser.error("--n-per-group and the grid need n >= 3, --reps >= 1 and --jobs >= 1")
    if args.time_course != "linear" and args.simulator == "synthetic":
        parser.error("--time-course saturating needs --simulator beats")
    t0 = time.perf_counter()
    table, paths = run_power(grid, args.reps, seed=args.seed, alpha=args.alpha,
                             out_dir=args.out, jobs=args.jobs, simulator=args.simulator,
                             time_course=args.time_course, progress=not args.quiet,
                             report=lambda msg: print(msg, flush=True))
    wanted = {f"{c[0]}: {c[1]} - {c[2]}" for c in PLOTTED_SELFREPORT}
    at_n = table[(table["n_per_group"] == args.n_per_group)
                 & ((table["kind"] == "physio") | table["contrast"].isin(wanted))]
    print(f"power at n = {args.n_per_group} per group, {args.reps} simulated studies, "
          f"alpha = {args.alpha} ({time.perf_counter() - t0:.0f} s); significant = "
          "Holm-adjusted p < alpha, the decision soothe analyze reports (Holm within each "
          "physiology measure and within each self-report construct):")
    for row in at_n.itertuples():
        print(f"  {row.contrast:70s} {row.power:5.2f}  [{row.ci_low:.2f}, {row.ci_high:.2f}]")
    print("all contrasts (incl. every ANCOVA contrast) in the table below")
    print(f"table: {paths['csv']}\nfigure: {paths['png']}")
    return 0
