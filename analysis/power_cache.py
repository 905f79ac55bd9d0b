"""Power of every planned contrast at a given n per group, cached per effect model.

The report shows, beside each planned contrast, the power that the analysed design has at
the simulator's planted effects. Each value is what ``soothe power`` computes (the same
table-level simulator, the same pre-specified models and the same Holm-adjusted decision
as ``soothe analyze``), but one simulated study takes about as long as one analysis, so
the values are computed once per n per group and stored as a CSV table with a JSON key.

A table is valid only for the effect model, models and decision it was computed with: the
key holds the SHA-256 of those (:func:`power_model_key`), and a table whose key differs is
ignored. Tables shipped with soothe live in ``analysis/power_cache/`` (the demo's 4 per
group and the paradigm's 27 per group); others are written to the user's cache folder
(``$SOOTHE_CACHE`` or ``~/.cache/soothe``) by ``python -m analysis.power_cache_write N``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from analysis.constants import MODEL_MEASURES
from analysis.physio_mixed import PRESPECIFIED
from soothe.simulate.effects import planted_effects

#: Folder of the tables shipped with soothe.
SHIPPED_DIR = Path(__file__).with_name("power_cache")
#: Simulated studies per shipped table: power is a proportion, so its Wilson 95% CI is
#: about +-0.14 at 50 studies near 0.5 and narrower towards 0 and 1.
CACHE_REPS = 50
CACHE_SEED = 1
ALPHA = 0.05
#: The paradigm's planned n per group, shown beside the analysed design.
PLANNED_N_PER_GROUP = 27
#: The decision rule shared with ``soothe analyze`` (written into every cache key).
DECISION = ("Holm-adjusted p < alpha in the planted direction; Holm within each physiology "
            "measure over its 6 slope contrasts and within each self-report construct over "
            "its 6 ANCOVA contrasts")


def power_model_key(alpha: float = ALPHA) -> dict:
    """What a cached table depends on: planted effects, models, measures and the decision.

    Examples
    --------
    >>> key = power_model_key()
    >>> sorted(key)[:3], len(key["sha256"])
    (['alpha', 'decision', 'effects'], 64)
    """
    body = {"effects": _without_text(planted_effects("linear")), "structures": list(PRESPECIFIED),
            "measures": list(MODEL_MEASURES), "alpha": alpha, "decision": DECISION,
            "simulator": "analysis.synthetic"}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    return {**body, "sha256": digest}


def _without_text(value):
    """The effect model without its prose (a reworded docstring changes no number)."""
    if isinstance(value, dict):
        return {k: _without_text(v) for k, v in value.items()
                if k not in ("description", "note", "notes", "source")}
    if isinstance(value, list | tuple):
        return [_without_text(v) for v in value]
    return value


def user_cache_dir() -> Path:
    """``$SOOTHE_CACHE/power`` or ``~/.cache/soothe/power``."""
    root = os.environ.get("SOOTHE_CACHE") or Path.home() / ".cache" / "soothe"
    return Path(root) / "power"


def table_path(folder: Path, n_per_group: int) -> Path:
    """The CSV of one n per group in ``folder`` (its key is the ``.json`` beside it).

    Examples
    --------
    >>> table_path(Path("c"), 4).as_posix()
    'c/planned_power_n004.csv'
    """
    return Path(folder) / f"planned_power_n{n_per_group:03d}.csv"


def read_cached_power(n_per_group: int, folders: Sequence[Path] | None = None,
                      alpha: float = ALPHA) -> pd.DataFrame | None:
    """The cached power table of ``n_per_group`` whose key matches today's model, or None."""
    want = power_model_key(alpha)["sha256"]
    for folder in folders if folders is not None else (SHIPPED_DIR, user_cache_dir()):
        path = table_path(folder, n_per_group)
        try:
            key = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if key.get("model", {}).get("sha256") == want and path.is_file():
            return pd.read_csv(path)
    return None


def contrast_power(n_per_group: int, folders: Sequence[Path] | None = None
                   ) -> tuple[pd.DataFrame, list[int]]:
    """Power of every planned contrast at ``n_per_group`` and at the planned 27 per group.

    Returns the table (``kind, measure, condition, versus, truth, power, power_planned,
    reps``; NaN where a size is not cached) and the sizes without a valid cached table.

    Examples
    --------
    >>> table, missing = contrast_power(4)
    >>> missing, table.columns.tolist()[4:7]
    ([], ['truth', 'power', 'power_planned'])
    """
    keys = ["kind", "measure", "condition", "versus"]
    here = read_cached_power(n_per_group, folders)
    plan = read_cached_power(PLANNED_N_PER_GROUP, folders)
    missing = [n for n, t in ((n_per_group, here), (PLANNED_N_PER_GROUP, plan)) if t is None]
    columns = [*keys, "truth", "power", "power_planned", "reps"]
    if here is None and plan is None:
        return pd.DataFrame(columns=columns), missing
    base = (here if here is not None else plan)[[*keys, "truth", "reps"]]
    out = base.merge(here[[*keys, "power"]] if here is not None else
                     base[keys].assign(power=float("nan")), on=keys, how="left")
    out = out.merge((plan if plan is not None else base.assign(power=float("nan")))[
        [*keys, "power"]].rename(columns={"power": "power_planned"}), on=keys, how="left")
    return out[columns], missing
