"""HF power per phase: the secondary vagal outcome, with breathing rate beside it.

HF power needs at least 120 s of RR data and breathing inside the HF band (0.15-0.40 Hz,
9-24 breaths/min; slow meditative breathing moves respiratory sinus arrhythmia below the
band, so HF can fall while vagal activity rises; Laborde et al., 2017). The physiology
pipeline therefore computes HF per protocol phase (the group phases table,
:data:`conditions.bids.PHASES_COLUMNS`) and sets it NaN with a reason when the breathing
rate is outside the band. Here, per phase and condition: ln HF and breathing rate, mean
(SD) and n; and for the induction phase the same ANCOVA and planned contrasts as the
self-report (induction value ~ condition + baseline value), Holm-corrected within each
outcome. It is secondary: ln RMSSD is the per-minute (growth-curve) vagal outcome.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.constants import CONDITIONS, PHYSIO_PHASES
from analysis.errors import AnalysisError
from analysis.selfreport_ancova import CONTRAST_COLUMNS, fit_construct_ancova
from conditions import bids

#: Outcomes of the phase-level analysis: column -> (label, unit).
PHASE_OUTCOMES: dict[str, tuple[str, str]] = {
    "lnhf": ("ln HF power", "ln(ms²)"),
    "resp_rate_bpm": ("Breathing rate", "breaths/min"),
}


def read_group_phases(deriv_root: Path) -> pd.DataFrame | None:
    """The group phases table (Parquet if present, else TSV); None when neither exists.

    Raises
    ------
    AnalysisError
        When the table exists but lacks a column of the contract.
    """
    tsv, parquet = bids.group_phases_paths(deriv_root)
    if Path(parquet).is_file():
        table, source = pd.read_parquet(parquet), parquet
    elif Path(tsv).is_file():
        table, source = bids.read_tsv(tsv), tsv
    else:
        return None
    need = ["participant_id", "phase", "lnhf", "hf_valid", "hf_reason", "resp_rate_bpm"]
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise AnalysisError(f"{source}: missing column(s) {missing}; expected the columns of "
                            "conditions.bids.PHASES_COLUMNS")
    table = table.copy()
    table["participant_id"] = table["participant_id"].astype(str)
    return table


def _valid(values: pd.Series, flags: pd.Series | None) -> pd.Series:
    v = pd.to_numeric(values, errors="coerce").astype(float)
    if flags is not None:
        ok = flags.map(lambda x: str(x).strip().lower() == "true" if isinstance(x, str)
                       else bool(x) if pd.notna(x) else False)
        v = v.where(ok)
    return v


def phase_outcomes(phases: pd.DataFrame, conditions: pd.Series) -> pd.DataFrame:
    """Long table ``participant_id, condition, phase, outcome, value`` (invalid HF -> NaN).

    ``conditions`` maps participant_id -> condition (from participants.tsv); the phases
    table's own condition column is not used.

    Examples
    --------
    >>> ph = pd.DataFrame({"participant_id": ["sub-1", "sub-1"],
    ...                    "phase": ["baseline", "induction"], "lnhf": [6.0, 5.0],
    ...                    "hf_valid": [True, False],
    ...                    "hf_reason": ["", "breathing below the HF band"],
    ...                    "resp_rate_bpm": [14.0, 7.5]})
    >>> t = phase_outcomes(ph, pd.Series({"sub-1": "body_scan"}))
    >>> t[t["outcome"] == "lnhf"]["value"].tolist()
    [6.0, nan]
    """
    base = phases[phases["phase"].isin(PHYSIO_PHASES)]
    base = base.assign(condition=base["participant_id"].map(conditions))
    parts = []
    for outcome in PHASE_OUTCOMES:
        flags = base["hf_valid"] if outcome == "lnhf" else None
        parts.append(base[["participant_id", "condition", "phase"]].assign(
            outcome=outcome, value=_valid(base[outcome], flags)))
    return pd.concat(parts, ignore_index=True).dropna(subset=["condition"])


def phase_descriptives(long: pd.DataFrame) -> pd.DataFrame:
    """Mean (SD) and n per outcome, phase and condition."""
    rows = []
    for (outcome, phase, cond), g in long.groupby(["outcome", "phase", "condition"], sort=False):
        v = g["value"].dropna()
        rows.append({"outcome": outcome, "phase": phase, "condition": cond, "n": len(v),
                     "n_missing": int(g["value"].isna().sum()),
                     "mean": float(v.mean()) if len(v) else np.nan,
                     "sd": float(v.std(ddof=1)) if len(v) > 1 else np.nan})
    out = pd.DataFrame(rows, columns=["outcome", "phase", "condition", "n", "n_missing",
                                      "mean", "sd"])
    order = {c: i for i, c in enumerate(CONDITIONS)}
    return out.assign(_o=out["condition"].map(order)).sort_values(
        ["outcome", "phase", "_o"]).drop(columns="_o").reset_index(drop=True)


def phase_ancova(long: pd.DataFrame) -> pd.DataFrame:
    """Induction value ~ condition + baseline value, per outcome, planned contrasts (Holm)."""

    tables = []
    for outcome, g in long.groupby("outcome", sort=False):
        wide = g.pivot_table(index=["participant_id", "condition"], columns="phase",
                             values="value", aggfunc="mean").reset_index()
        if "baseline" not in wide.columns or "induction" not in wide.columns:
            continue
        data = wide.rename(columns={"baseline": "pre", "induction": "post"})
        data = data.dropna(subset=["pre", "post"])
        if data["condition"].nunique() < 2 or len(data) < data["condition"].nunique() + 3:
            continue
        try:
            table, _ = fit_construct_ancova(data, str(outcome))
        except ValueError:
            continue
        tables.append(table)
    if not tables:
        return pd.DataFrame(columns=list(CONTRAST_COLUMNS))
    return pd.concat(tables, ignore_index=True).rename(columns={"construct": "outcome"})


def hf_reasons(phases: pd.DataFrame) -> dict[str, int]:
    """How many phase rows have no valid HF, by reason.

    Examples
    --------
    >>> hf_reasons(pd.DataFrame({"hf_valid": [True, False, False],
    ...     "hf_reason": ["", "breathing below the HF band", "breathing below the HF band"]}))
    {'breathing below the HF band': 2}
    """
    bad = phases[~phases["hf_valid"].map(lambda x: str(x).strip().lower() == "true"
                                         if isinstance(x, str) else bool(x) if pd.notna(x)
                                         else False)]
    reasons = bad["hf_reason"].fillna("").astype(str).replace("", "no reason given")
    return {str(k): int(v) for k, v in reasons.value_counts().items()}
