"""Small synthetic study tables with planted effects, for tests and docstring examples.

This is not the project's simulator (``soothe.simulate``); it writes no signals and no
files. It makes the three tables the analysis reads -- participants, questionnaire
responses and per-window physiology -- with effects that are linear in the induction
minute, so the analysis can be checked against a known truth without waiting for a
simulated recording to be processed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.constants import CONDITIONS, CONSTRUCTS
from conditions.questionnaire_items import Item

#: Planted slope per induction minute relative to baseline (value at minute m is
#: baseline + slope * m). ``ln_rmssd`` is planted on the log scale.
DEFAULT_SLOPES: dict[str, dict[str, float]] = {
    "hr_bpm": {
        "kindness_self": -0.30, "body_scan": -0.25, "positive_excitement": 0.30,
        "rumination": 0.25, "neutral": 0.0,
    },
    "ln_rmssd": {
        "kindness_self": 0.020, "body_scan": 0.018, "positive_excitement": -0.005,
        "rumination": -0.018, "neutral": 0.0,
    },
    "lnhf": {
        "kindness_self": 0.035, "body_scan": 0.030, "positive_excitement": -0.010,
        "rumination": -0.030, "neutral": 0.0,
    },
    "scl_us": {
        "kindness_self": -0.040, "body_scan": -0.035, "positive_excitement": 0.0,
        "rumination": 0.040, "neutral": 0.0,
    },
}

#: Planted post - pre shift per construct and condition, in VAS points (0-100).
DEFAULT_SHIFTS: dict[str, dict[str, float]] = {
    "kindness_self": {"self_compassion": 12, "self_criticism": -8, "safe_content": 10,
                      "connected_secure": 10, "relaxed": 8},
    "body_scan": {"self_compassion": 10, "self_criticism": -6, "safe_content": 9,
                  "connected_secure": 8, "relaxed": 10},
    "positive_excitement": {"self_compassion": 6, "drive_activation": 12, "relaxed": -2},
    "rumination": {"self_compassion": -8, "self_criticism": 10, "safe_content": -8,
                   "connected_secure": -6, "threat": 10, "relaxed": -8},
    "neutral": {},
}

_BASE: dict[str, tuple[float, float, float, float]] = {
    # measure: (population mean, between-person SD, random-slope SD, window noise SD)
    "hr_bpm": (72.0, 8.0, 0.10, 1.8),
    "ln_rmssd": (3.6, 0.45, 0.008, 0.12),
    "lnhf": (6.0, 0.9, 0.012, 0.30),
    "scl_us": (5.0, 2.0, 0.012, 0.10),
}


@dataclass
class StudyTables:
    """The tables of one synthetic study.

    Attributes
    ----------
    participants : DataFrame with the ``participants.tsv`` columns.
    responses : DataFrame of questionnaire answers (``_beh.tsv`` columns plus
        ``participant_id`` and ``session``).
    windows : DataFrame with the group windows-table columns.
    items : list of Item used for the responses.
    planted : dict describing the planted effects (``slopes`` and ``shifts``).
    """

    participants: pd.DataFrame
    responses: pd.DataFrame
    windows: pd.DataFrame
    items: list[Item]
    planted: dict[str, Any] = field(default_factory=dict)


def synthetic_items(per_construct: int = 3) -> list[Item]:
    """VAS items (0-100), ``per_construct`` per construct, the last of each reverse-keyed.

    Examples
    --------
    >>> items = synthetic_items(2)
    >>> len(items), items[1].reversed
    (14, True)
    """
    items = []
    for construct in CONSTRUCTS:
        for k in range(per_construct):
            items.append(
                Item(
                    item_id=f"{construct}_{k + 1}",
                    text=f"synthetic item {k + 1} of {construct}",
                    construct=construct,
                    reversed=(k == per_construct - 1 and per_construct > 1),
                    anchor_low="not at all",
                    anchor_high="completely",
                    min=0.0,
                    max=100.0,
                )
            )
    return items


def synthetic_study_tables(
    n_per_group: int = 10,
    seed: int = 0,
    *,
    slopes: dict[str, dict[str, float]] | None = None,
    shifts: dict[str, dict[str, float]] | None = None,
    invalid_rate: float = 0.02,
) -> StudyTables:
    """Participants, questionnaire responses and per-window physiology with planted effects.

    Parameters
    ----------
    n_per_group : int
        Participants per condition.
    seed : int
        Random seed; the same seed gives the same tables.
    slopes, shifts : dict, optional
        Planted effects; default :data:`DEFAULT_SLOPES` and :data:`DEFAULT_SHIFTS`.
    invalid_rate : float
        Probability that a window is flagged invalid (values NaN, with a reason).

    Examples
    --------
    >>> t = synthetic_study_tables(2, seed=1)
    >>> sorted(t.windows["phase"].unique())
    ['baseline', 'induction', 'recovery']
    >>> len(t.participants)
    10
    """
    slopes = DEFAULT_SLOPES if slopes is None else slopes
    shifts = DEFAULT_SHIFTS if shifts is None else shifts
    rng = np.random.default_rng(seed)
    items = synthetic_items()
    conditions = [c for c in CONDITIONS for _ in range(n_per_group)]
    n = len(conditions)
    pids = [f"sub-{i + 1:03d}" for i in range(n)]
    participants = pd.DataFrame(
        {
            "participant_id": pids,
            "age": rng.integers(18, 60, n),
            "sex": rng.choice(["female", "male"], n),
            "condition": conditions,
            "session_code": [f"S{i + 1:04d}" for i in range(n)],
            "status": "complete",
        }
    )
    win_rows: list[dict[str, Any]] = []
    resp_rows: list[dict[str, Any]] = []
    layout = (("baseline", 5, 0.0), ("induction", 11, 360.0), ("recovery", 5, 1080.0))
    for pid, cond in zip(pids, conditions):
        person = {m: rng.normal(mu, sd) for m, (mu, sd, _, _) in _BASE.items()}
        rslope = {m: rng.normal(0.0, s) for m, (_, _, s, _) in _BASE.items()}
        # person-specific level shift during the induction (people differ in how the
        # listening situation itself moves them), independent of their slope
        onset = {m: rng.normal(0.0, 1.5 * noise) for m, (_, _, _, noise) in _BASE.items()}
        for phase, n_win, t0 in layout:
            for w in range(1, n_win + 1):
                vals: dict[str, float] = {}
                for m, (_, _, _, noise) in _BASE.items():
                    slope = slopes.get(m, {}).get(cond, 0.0)
                    if phase == "induction":
                        shift = onset[m] + (slope + rslope[m]) * w
                    elif phase == "recovery":
                        shift = 0.3 * (slope + rslope[m]) * 11  # partial return to baseline
                    else:
                        shift = 0.0
                    vals[m] = person[m] + shift + rng.normal(0.0, noise)
                ecg_ok = rng.random() >= invalid_rate
                eda_ok = rng.random() >= invalid_rate
                hr = vals["hr_bpm"] if ecg_ok else np.nan
                rmssd = float(np.exp(vals["ln_rmssd"])) if ecg_ok else np.nan
                lnhf = vals["lnhf"] if ecg_ok else np.nan
                scl = max(vals["scl_us"], 0.05) if eda_ok else np.nan
                win_rows.append(
                    {
                        "participant_id": pid, "session": "1", "condition": cond,
                        "phase": phase, "window": w, "start_s": t0 + 60.0 * (w - 1),
                        "end_s": t0 + 60.0 * w, "hr_bpm": hr, "rmssd_ms": rmssd,
                        "sdnn_ms": rmssd * 1.3 if ecg_ok else np.nan,
                        "hf_ms2": float(np.exp(lnhf)) if ecg_ok else np.nan, "lnhf": lnhf,
                        "n_beats": int(round(hr)) if ecg_ok else 0,
                        "corrected_pct": 0.5 if ecg_ok else np.nan,
                        "ecg_valid": ecg_ok, "ecg_reason": "" if ecg_ok else "too many artefacts",
                        "hf_valid": ecg_ok, "hf_reason": "" if ecg_ok else "ECG invalid",
                        "scl_us": scl,
                        "scr_count": int(rng.poisson(3)) if eda_ok else np.nan,
                        "scr_rate_per_min": float(rng.poisson(3)) if eda_ok else np.nan,
                        "scr_amp_us": 0.2 if eda_ok else np.nan,
                        "eda_valid": eda_ok, "eda_reason": "" if eda_ok else "saturated",
                    }
                )
        trait = {c: rng.normal(50.0, 12.0) for c in CONSTRUCTS}
        for phase in ("pre_questionnaire", "post_questionnaire"):
            for pos, item in enumerate(items, start=1):
                true = trait[item.construct] + rng.normal(0.0, 5.0)
                if phase == "post_questionnaire":
                    true += shifts.get(cond, {}).get(item.construct, 0.0)
                score = float(np.clip(true + rng.normal(0.0, 7.0), 0.0, 100.0))
                rating = item.reverse(score) if item.reversed else score
                resp_rows.append(
                    {
                        "participant_id": pid, "session": "1", "phase": phase,
                        "questionnaire": "state_vas", "item_id": item.item_id,
                        "construct": item.construct, "reversed": item.reversed,
                        "position": pos, "onset": np.nan, "rating": round(rating, 1),
                        "response_time": np.nan, "scale_min": 0.0, "scale_max": 100.0,
                    }
                )
    planted = {
        "description": "analysis.synthetic: physiology linear in induction minute relative "
        "to baseline (slope per minute); self-report post - pre shift in scale points",
        "slopes": slopes,
        "shifts": {c: {k: shifts.get(c, {}).get(k, 0.0) for k in CONSTRUCTS} for c in CONDITIONS},
    }
    return StudyTables(participants, pd.DataFrame(resp_rows), pd.DataFrame(win_rows), items,
                       planted)


def write_synthetic_dataset(tables: StudyTables, raw_root, deriv_root) -> None:
    """Write synthetic tables in the data-contract layout (no physiology signals).

    Writes ``participants.tsv``, each session's ``_beh.tsv`` and a minimal ``_events.tsv``
    in ``raw_root``, and the group windows table (TSV + Parquet) in ``deriv_root``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> write_synthetic_dataset(synthetic_study_tables(1, seed=0), d / "raw", d / "deriv")
    >>> (d / "raw" / "participants.tsv").is_file()
    True
    """
    from pathlib import Path

    from conditions import bids

    raw_root, deriv_root = Path(raw_root), Path(deriv_root)
    bids.ensure_dataset(raw_root, "synthetic soothe study", "induction",
                        generated_by="analysis.synthetic")
    bids.write_tsv(bids.participants_tsv(raw_root), tables.participants,
                   bids.PARTICIPANTS_COLUMNS)
    for (pid, ses), group in tables.responses.groupby(["participant_id", "session"]):
        files = bids.SessionFiles(raw_root, pid, ses, "induction")
        bids.write_tsv(files.beh_tsv, group, bids.BEH_COLUMNS)
        events = pd.DataFrame({"onset": [0.0], "duration": [0.0], "trial_type": ["session_start"],
                               "value": [1], "psychopy_time": [np.nan], "lsl_time": [np.nan]})
        bids.write_tsv(files.events_tsv, events, bids.EVENTS_COLUMNS)
    tsv, parquet = bids.group_windows_paths(deriv_root)
    bids.write_tsv(tsv, tables.windows, bids.WINDOWS_COLUMNS)
    tables.windows[list(bids.WINDOWS_COLUMNS)].to_parquet(parquet, index=False)
