"""The tidy long table: physiology windows, questionnaire scores and participant info merged.

One row per participant x phase x window x measure. Physiological measures have one row
per 60-s window of the baseline, induction and recovery phases; questionnaire constructs
have one row per questionnaire phase (``window`` = 1). Invalid windows keep their row with
``value`` NaN and the reason from the physiology pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.constants import MEASURE_SIGNAL, PHYSIO_MEASURES, PHYSIO_PHASES
from analysis.errors import AnalysisError
from conditions import bids
from conditions.questionnaire_items import Item
from conditions.scoring import ScoringError, score_constructs

TIDY_COLUMNS: dict[str, tuple[str, str | None]] = {
    "participant_id": ("BIDS participant label, 'sub-<id>'", None),
    "session": ("Session label", None),
    "condition": ("Allocated induction condition", None),
    "age": ("Age in years", "year"),
    "sex": ("Sex or gender (stratum)", None),
    "status": ("Session status from participants.tsv", None),
    "source": ("'physio' (windowed ECG/EDA) or 'selfreport' (questionnaire construct)", None),
    "phase": ("Protocol phase", None),
    "window": ("1-based window within the phase (minute n of the induction); 1 for "
               "questionnaire phases", None),
    "measure": ("Measure name (physio column, ln_rmssd, or construct)", None),
    "value": ("Value of the measure; NaN when invalid (see reason)", "see measure"),
    "valid": ("True when the value is valid", None),
    "reason": ("Why the value is NaN or flagged ('' when valid)", None),
}

#: Columns added by :func:`mark_exclusions` to the tidy table that is written to disk.
EXCLUSION_MARK_COLUMNS: dict[str, tuple[str, str | None]] = {
    "excluded": ("True when this row is left out of the analysis by an exclusion rule "
                 "(participant-level, or this measure's signal only); the written table "
                 "holds every row, before exclusions", None),
    "exclusion_rule": ("The rule(s) that excluded the row ('' when kept); reasons in "
                       "exclusions.csv", None),
}


# --------------------------------------------------------------------------------------
# Questionnaire scoring
# --------------------------------------------------------------------------------------


def score_responses(responses: pd.DataFrame, items: Sequence[Item]) -> pd.DataFrame:
    """Construct scores per participant x session x phase, by the shared scoring.

    Thin wrapper around :func:`conditions.scoring.score_constructs` (mean of reverse-keyed
    items, prorated when at most 20 % of a construct's items are missing, else NaN with a
    reason), so the analysis scores exactly as every other consumer does.

    Parameters
    ----------
    responses : DataFrame
        ``_beh.tsv`` rows with ``participant_id`` and ``session`` added.
    items : sequence of Item
        The questionnaire's items.

    Returns
    -------
    DataFrame
        ``participant_id, session, phase, construct, score, n_items, n_missing, reason``.

    Examples
    --------
    >>> from analysis.synthetic import synthetic_study_tables
    >>> t = synthetic_study_tables(1, seed=0)
    >>> s = score_responses(t.responses, t.items)
    >>> sorted(s["phase"].unique())
    ['post_questionnaire', 'pre_questionnaire']
    """
    needed = ["participant_id", "session", "phase", "item_id", "rating"]
    missing = [c for c in needed if c not in responses.columns]
    if missing:
        raise AnalysisError(f"questionnaire responses: missing column(s) {missing}")
    try:
        return score_constructs(responses, items)
    except ScoringError as exc:
        raise AnalysisError(f"questionnaire responses: {exc}") from None


def items_from_responses(responses: pd.DataFrame) -> list[Item]:
    """The item definitions recorded in the ``_beh.tsv`` files themselves.

    Each answer row carries ``construct``, ``reversed``, ``scale_min`` and ``scale_max``, so
    the data describe the questionnaire that was actually administered.
    """
    need = ["item_id", "construct", "reversed", "scale_min", "scale_max"]
    missing = [c for c in need if c not in responses.columns]
    if missing:
        raise AnalysisError(f"questionnaire responses: missing column(s) {missing}")
    first = responses.drop_duplicates("item_id")
    return [
        Item(item_id=str(r.item_id), text=str(r.item_id), construct=str(r.construct),
             reversed=_as_bool(r.reversed), anchor_low="", anchor_high="",
             min=float(r.scale_min), max=float(r.scale_max))
        for r in first.itertuples(index=False)
    ]


# --------------------------------------------------------------------------------------
# Reading the inputs
# --------------------------------------------------------------------------------------


def read_group_windows(deriv_root: Path) -> pd.DataFrame:
    """The physiology group windows table (Parquet if present, else TSV).

    Raises
    ------
    AnalysisError
        When neither file exists or a schema column is missing.
    """
    tsv, parquet = bids.group_windows_paths(deriv_root)
    if parquet.is_file():
        table = pd.read_parquet(parquet)
        source = parquet
    elif tsv.is_file():
        table = bids.read_tsv(tsv)
        source = tsv
    else:
        raise AnalysisError(
            f"{tsv}: group windows table not found; run 'soothe physio process' first"
        )
    missing = [c for c in bids.WINDOWS_COLUMNS if c not in table.columns]
    if missing:
        raise AnalysisError(f"{source}: missing column(s) {missing}")
    table = table.copy()
    table["participant_id"] = table["participant_id"].astype(str)
    table["session"] = table["session"].astype(str)
    for col in ("ecg_valid", "hf_valid", "eda_valid"):
        table[col] = table[col].map(_as_bool)
    return table


def drop_partial_windows(windows: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Leave out the windows the pipeline flagged ``partial``.

    Returns the kept windows and how many partial windows of the analysed phases
    (baseline, induction, recovery) were dropped; partial remainders of other phases
    (instructions, questionnaires) are never analysed and not counted. A table without the
    column (older derivatives) keeps every window.

    Examples
    --------
    >>> w = pd.DataFrame({"phase": ["induction", "induction", "recovery", "instructions"],
    ...                   "window": [1, 2, 3, 1], "partial": [False, "true", None, True]})
    >>> kept, n = drop_partial_windows(w)
    >>> kept["window"].tolist(), n
    ([1, 3], 1)
    """
    if "partial" not in windows.columns:
        return windows, 0
    partial = windows["partial"].map(_as_bool)
    counted = partial & windows["phase"].isin(PHYSIO_PHASES)
    return windows[~partial], int(counted.sum())


def _as_bool(v: Any) -> bool:
    if isinstance(v, str):
        return v.strip().lower() == "true"
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return False  # a missing flag (nullable boolean column) never counts as set
    return bool(v)


def read_responses(raw_root: Path) -> pd.DataFrame:
    """All questionnaire answers of a raw dataset, with ``participant_id`` and ``session``."""
    parts = []
    for files in bids.iter_sessions(raw_root):
        if not files.beh_tsv.is_file():
            continue
        table = bids.read_tsv(files.beh_tsv, bids.BEH_COLUMNS)
        table.insert(0, "session", files.session)
        table.insert(0, "participant_id", files.participant_id)
        parts.append(table)
    if not parts:
        return pd.DataFrame(columns=["participant_id", "session", *bids.BEH_COLUMNS])
    return pd.concat(parts, ignore_index=True)


def session_inventory(raw_root: Path) -> pd.DataFrame:
    """Which files each session has: ``participant_id, session, has_beh, has_physio``."""
    rows = [
        {
            "participant_id": f.participant_id,
            "session": f.session,
            "has_beh": f.beh_tsv.is_file(),
            "has_physio": f.physio_tsv_gz.is_file(),
        }
        for f in bids.iter_sessions(raw_root)
    ]
    return pd.DataFrame(rows, columns=["participant_id", "session", "has_beh", "has_physio"])


# --------------------------------------------------------------------------------------
# The merge
# --------------------------------------------------------------------------------------


def build_tidy_table(
    windows: pd.DataFrame, scores: pd.DataFrame, participants: pd.DataFrame
) -> pd.DataFrame:
    """Merge windows, construct scores and participant info into the tidy long table.

    Parameters
    ----------
    windows : DataFrame
        Group windows table (:data:`conditions.bids.WINDOWS_COLUMNS`).
    scores : DataFrame
        Output of :func:`score_responses`.
    participants : DataFrame
        ``participants.tsv`` with the unblinded ``condition`` (the only source of it).

    Returns
    -------
    DataFrame
        Columns :data:`TIDY_COLUMNS`, sorted.

    Examples
    --------
    >>> from analysis.synthetic import synthetic_study_tables
    >>> t = synthetic_study_tables(1, seed=0)
    >>> tidy = build_tidy_table(t.windows, score_responses(t.responses, t.items),
    ...                         t.participants)
    >>> int((tidy["measure"] == "hr_bpm").sum())  # 5 people x 21 windows
    105
    """
    parts = [physio_long_rows(windows)]
    if len(scores):
        parts.append(selfreport_long_rows(scores))
    long = pd.concat(parts, ignore_index=True)
    info = participants[["participant_id", "age", "sex", "condition", "status"]].copy()
    info["participant_id"] = info["participant_id"].astype(str)
    # the condition comes from participants.tsv (or the unblinded allocation export, see
    # analysis.pipeline.participant_conditions), never from the windows table
    long = long.merge(info, on="participant_id", how="left")
    phase_order = {p: i for i, p in enumerate(
        ("baseline", "pre_questionnaire", "induction", "post_questionnaire", "recovery"))}
    long["_p"] = long["phase"].map(phase_order)
    long = long.sort_values(["participant_id", "session", "source", "measure", "_p", "window"])
    return long.drop(columns="_p")[list(TIDY_COLUMNS)].reset_index(drop=True)


def physio_long_rows(windows: pd.DataFrame) -> pd.DataFrame:
    """One long row per window and physiological measure (invalid windows: NaN + reason).

    Examples
    --------
    >>> from analysis.synthetic import synthetic_study_tables
    >>> rows = physio_long_rows(synthetic_study_tables(1, seed=0).windows)
    >>> sorted(rows["measure"].unique())[:3], list(rows.columns)[:3]
    (['hr_bpm', 'ln_rmssd', 'lnhf'], ['participant_id', 'session', 'source'])
    """
    parts = []
    w = windows[windows["phase"].isin(PHYSIO_PHASES)]
    for measure, (column, valid_col, _, _) in PHYSIO_MEASURES.items():
        values = (pd.to_numeric(w[column], errors="coerce").astype(float)
                  if column in w.columns else pd.Series(np.nan, index=w.index))
        if measure == "ln_rmssd":
            # the pipeline's lnrmssd column; log(rmssd_ms) where it is absent or NaN
            rmssd = pd.to_numeric(w["rmssd_ms"], errors="coerce").astype(float)
            with np.errstate(divide="ignore", invalid="ignore"):
                values = values.fillna(np.log(rmssd.where(rmssd > 0)))
        valid = w[valid_col].astype(bool) & values.notna()
        reason_col = valid_col.replace("_valid", "_reason")
        reason = w[reason_col].fillna("").astype(str).where(~valid, "")
        reason = reason.where(~((~valid) & (reason == "")), "value missing")
        parts.append(
            pd.DataFrame(
                {
                    "participant_id": w["participant_id"].astype(str),
                    "session": w["session"].astype(str),
                    "source": "physio",
                    "phase": w["phase"],
                    "window": w["window"].astype(int),
                    "measure": measure,
                    "value": values.where(valid),
                    "valid": valid,
                    "reason": reason,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def selfreport_long_rows(scores: pd.DataFrame) -> pd.DataFrame:
    """One long row per questionnaire phase and construct score (``window`` = 1)."""
    s = scores
    return pd.DataFrame(
        {
            "participant_id": s["participant_id"].astype(str),
            "session": s["session"].astype(str),
            "source": "selfreport",
            "phase": s["phase"],
            "window": 1,
            "measure": s["construct"],
            "value": s["score"].astype(float),
            "valid": s["score"].notna(),
            "reason": s["reason"].fillna("").astype(str) if "reason" in s.columns else "",
        }
    )


def mark_exclusions(tidy: pd.DataFrame, exclusions: pd.DataFrame) -> pd.DataFrame:
    """The tidy table with ``excluded`` and ``exclusion_rule`` columns (all rows kept).

    A row is excluded when its participant has a scope-``all`` exclusion, or an exclusion
    of the signal its measure comes from (``ecg``/``eda``); the rows kept are exactly
    those :func:`analysis.exclusions.apply_exclusions` keeps.

    Examples
    --------
    >>> t = pd.DataFrame({"participant_id": ["a", "a", "b"],
    ...                   "measure": ["hr_bpm", "scl_us", "hr_bpm"]})
    >>> ex = pd.DataFrame({"participant_id": ["a"], "rule": ["invalid_windows"],
    ...                    "scope": ["ecg"]})
    >>> mark_exclusions(t, ex)["excluded"].tolist()
    [True, False, False]
    """
    out = tidy.copy()
    rules = pd.Series("", index=out.index, dtype=object)
    signal = out["measure"].map(MEASURE_SIGNAL)
    for ex in exclusions.itertuples(index=False):
        hit = out["participant_id"] == ex.participant_id
        if ex.scope != "all":
            hit &= signal == ex.scope
        rules[hit] = [f"{r}; {ex.rule}" if r else str(ex.rule) for r in rules[hit]]
    out["excluded"] = rules != ""
    out["exclusion_rule"] = rules
    return out


def write_tidy_table(
    table: pd.DataFrame, out_dir: Path, sidecar: dict[str, Any]
) -> dict[str, Path]:
    """Write ``tidy_long.parquet``, ``tidy_long.tsv`` and ``tidy_long.json`` (dictionary).

    Returns the written paths by kind.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "parquet": out_dir / "tidy_long.parquet",
        "tsv": out_dir / "tidy_long.tsv",
        "json": out_dir / "tidy_long.json",
    }
    schema = dict(TIDY_COLUMNS)
    if "excluded" in table.columns:
        schema.update(EXCLUSION_MARK_COLUMNS)
    table = table[list(schema)]
    table.to_parquet(paths["parquet"], index=False)
    bids.write_tsv(paths["tsv"], table, schema)
    dictionary = bids.columns_sidecar(schema)
    measures = {}
    for m, (col, valid_col, label, unit) in PHYSIO_MEASURES.items():
        measures[m] = {"Description": f"{label} per window (from {col}; valid if {valid_col})",
                       "Units": unit}
    for m in sorted(table.loc[table["source"] == "selfreport", "measure"].unique()):
        measures[m] = {"Description": f"State construct score '{m}' (mean of keyed items)",
                       "Units": "scale points"}
    dictionary["measure"]["Levels"] = measures
    bids.write_json(paths["json"], {**dictionary, "GeneratedBy": sidecar})
    return paths
