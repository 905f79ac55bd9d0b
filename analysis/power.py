"""Power of the main contrasts by simulation, with the project's simulator and the same models.

For each n per group and each replicate a study is simulated at table level (true
per-window physiology and questionnaire answers, no signals: ``soothe.simulate``'s
``simulate_study_tables``; :mod:`analysis.synthetic` when the simulator is not
installed), then analysed with :func:`analysis.pipeline.analyse_tables` -- the same
exclusions, ANCOVA and growth-curve models as ``soothe analyze``. Power is the fraction of
replicates in which a contrast is significant in the planted direction (two-sided test at
``alpha``; ANCOVA contrasts with the Holm-adjusted p the report uses). For a contrast whose
planted value is zero the same fraction is the type-I error rate (any direction).

Speed: by default the growth models start from the uncorrelated random intercept + slope
structure. On this simulator the correlated structure is singular by construction (each
person's deviation at mid-induction is their slope times 5.5 min once baseline is
adjusted for, so the intercept-slope correlation is +-1) and ``soothe analyze`` falls back
to the uncorrelated structure anyway; skipping the doomed first fit makes a replicate
~3x faster. ``full_chain=True`` (``soothe power --full-chain``) runs the exact chain.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.constants import REFERENCE

POWER_MEASURES: tuple[str, ...] = ("hr_bpm", "ln_rmssd", "scl_us")

#: Contrasts drawn in the power figure (all are in the CSV).
PLOTTED_SELFREPORT = (
    ("self_compassion", "kindness_self", "neutral"),
    ("self_compassion", "body_scan", "neutral"),
    ("self_compassion", "kindness_self", "positive_excitement"),
    ("safe_content", "kindness_self", "neutral"),
    ("connected_secure", "body_scan", "neutral"),
    ("drive_activation", "positive_excitement", "neutral"),
)


def simulate_tables(n_per_group: int, seed: int) -> tuple[Any, str]:
    """One simulated study as (tables, simulator name).

    The returned object has ``windows``, ``responses``, ``participants``, ``items`` and
    ``planted`` (dict with ``slopes`` measure -> condition -> slope per minute and
    ``shifts`` condition -> construct -> post - pre shift).
    """
    try:
        from soothe.simulate import simulate_study_tables  # type: ignore[attr-defined]
    except ImportError:
        from analysis.synthetic import synthetic_study_tables

        return synthetic_study_tables(n_per_group, seed), "analysis.synthetic"
    return _adapt(simulate_study_tables(n_per_group, seed)), "soothe.simulate"


def _adapt(tables: Any) -> Any:
    """Map the simulator's return value onto the names used here."""
    from types import SimpleNamespace

    get = (lambda k: tables.get(k)) if isinstance(tables, dict) else (
        lambda k: getattr(tables, k, None))
    responses = get("responses")
    if responses is None:
        responses = get("beh")
    planted = get("planted") or get("planted_effects") or {}
    if "slopes" not in planted:
        from soothe.simulate.effects import PHYSIO_SLOPES, SELFREPORT_SHIFTS

        planted = {"slopes": PHYSIO_SLOPES, "shifts": SELFREPORT_SHIFTS, "source": planted}
    items = get("items")
    if items is None:
        from analysis.tidy_table import items_from_responses

        items = items_from_responses(responses)
    return SimpleNamespace(windows=get("windows"), responses=responses,
                           participants=get("participants"), items=items, planted=planted)


def planted_contrasts(planted: dict[str, Any], measures: Sequence[str] = POWER_MEASURES
                      ) -> pd.DataFrame:
    """The true value of every contrast the models estimate.

    Physiology: ``slope_diff`` = planted slope(condition) - slope(neutral) per minute.
    Self-report: planted shift(condition) - shift(versus) for the ANCOVA contrasts.
    """
    from analysis.selfreport_ancova import planned_contrasts

    rows = []
    slopes = planted.get("slopes", {})
    for measure in measures:
        s = slopes.get(measure, {})
        for cond in s:
            if cond == REFERENCE:
                continue
            rows.append({"kind": "physio", "measure": measure, "condition": cond,
                         "versus": REFERENCE,
                         "truth": float(s.get(cond, 0.0)) - float(s.get(REFERENCE, 0.0))})
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
    """Estimates, 95% CIs and p values in the same layout as :func:`planted_contrasts`."""
    rows = []
    for measure, gm in result.growth.items():
        for r in gm.slope_contrasts.itertuples():
            rows.append({"kind": "physio", "measure": measure, "condition": r.condition,
                         "versus": r.versus, "estimate": r.slope_diff, "ci_low": r.ci_low,
                         "ci_high": r.ci_high, "p": r.p})
    for r in result.ancova.itertuples():
        rows.append({"kind": "selfreport", "measure": r.construct, "condition": r.condition,
                     "versus": r.versus, "estimate": r.estimate, "ci_low": r.ci_low,
                     "ci_high": r.ci_high, "p": r.p_holm})
    return pd.DataFrame(rows)


FAST_STRUCTURES = ("uncorrelated", "intercept")
FULL_STRUCTURES = ("correlated", "uncorrelated", "intercept")


def one_replicate(n_per_group: int, seed: int, measures: Sequence[str] = POWER_MEASURES,
                  full_chain: bool = False) -> pd.DataFrame:
    """Simulate and analyse one study; return truth joined with the estimates."""
    from analysis.pipeline import analyse_tables

    t, simulator = simulate_tables(n_per_group, seed)
    result = analyse_tables(t.windows, t.responses, t.participants, t.items,
                            measures=tuple(measures), full=False,
                            structures=FULL_STRUCTURES if full_chain else FAST_STRUCTURES)
    est = estimated_contrasts(result)
    truth = planted_contrasts(t.planted, measures)
    out = truth.merge(est, on=["kind", "measure", "condition", "versus"], how="inner")
    out["n_per_group"] = n_per_group
    out["seed"] = seed
    out["simulator"] = simulator
    out["structure"] = out["measure"].map(
        {m: g.structure for m, g in result.growth.items()}).fillna("OLS")
    return out


def _job(args: tuple[int, int, tuple[str, ...], bool]) -> pd.DataFrame:
    return one_replicate(*args)


def run_replicates(grid: Sequence[int], reps: int, seed: int = 1, jobs: int = 1,
                   measures: Sequence[str] = POWER_MEASURES,
                   full_chain: bool = False) -> pd.DataFrame:
    """All replicates for every n in ``grid`` (long table of truth and estimates)."""
    tasks = [(n, seed * 1_000_003 + n * 10_007 + r, tuple(measures), full_chain)
             for n in grid for r in range(reps)]
    if jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=jobs) as pool:
            parts = list(pool.map(_job, tasks))
    else:
        parts = [_job(t) for t in tasks]
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
    r = reps.copy()
    sig = r["p"] < alpha
    direction = np.sign(r["truth"])
    r["hit"] = np.where(direction == 0, sig, sig & (np.sign(r["estimate"]) == direction))
    rows = []
    keys = ["kind", "measure", "condition", "versus", "n_per_group"]
    for key, g in r.groupby(keys, sort=False):
        k, n = int(g["hit"].sum()), len(g)
        lo, hi = _wilson(k, n)
        row = dict(zip(keys, key))
        truth = float(g["truth"].iloc[0])
        label = (f"{row['measure']}: {row['condition']} - {row['versus']}"
                 + (" (type I, truth 0)" if truth == 0 else ""))
        rows.append({**row, "contrast": label, "truth": truth, "reps": n, "power": k / n,
                     "ci_low": lo, "ci_high": hi,
                     "mean_estimate": float(g["estimate"].mean())})
    return pd.DataFrame(rows)


def _wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def run_power(grid: Sequence[int], reps: int, *, seed: int = 1, alpha: float = 0.05,
              out_dir: Path = Path("soothe-power"), jobs: int = 1,
              full_chain: bool = False) -> tuple[pd.DataFrame, dict[str, Path]]:
    """Simulate, summarise and write ``power.csv``, ``power_replicates.csv``, the figure
    (PNG + SVG) and ``power.json`` (methods, parameters, versions)."""
    from analysis.figures import plot_power_curves, save_figure
    from analysis.pipeline import software_versions
    from conditions import bids

    t0 = time.perf_counter()
    replicates = run_replicates(grid, reps, seed=seed, jobs=jobs, full_chain=full_chain)
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
                       "measures": list(POWER_MEASURES),
                       "structures": list(FULL_STRUCTURES if full_chain else FAST_STRUCTURES)},
        "simulator": sorted(replicates["simulator"].unique().tolist()),
        "model_structures": replicates.groupby("measure")["structure"].agg(
            lambda s: s.value_counts().to_dict()).to_dict(),
        "versions": software_versions(), "elapsed_s": time.perf_counter() - t0,
    })
    return table, paths
