"""Small synthetic study tables from the simulator's generative model, for tests and examples.

This is not the signal simulator (``soothe.simulate``); it writes no signals and no files.
It makes the three tables the analysis reads -- participants, questionnaire responses and
per-window physiology -- from the same generative model and the same planted effects
(:mod:`soothe.simulate.effects`, the one source): per participant and minute, latent
vagal and sympathetic drives (planted condition slope plus the person's own slope, an onset
step and a minute-to-minute wander), mapped to HR, ln RMSSD, ln HF, SCL and breathing rate
by the model's analytic expectations (:mod:`soothe.simulate.physiology`) instead of beats
and samples. So it is fast (no signals are drawn) and its planted index slopes are
:func:`soothe.simulate.effects.implied_index_slopes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.constants import CONDITIONS
from conditions import bids
from conditions.questionnaire_items import Item
from conditions.scoring import STATE_CONSTRUCTS
from soothe.simulate import effects
from soothe.simulate import physiology as phys
from soothe.simulate.effects import SELFREPORT_SHIFTS, implied_index_slopes


def _default_slopes() -> dict[str, dict[str, float]]:
    s = implied_index_slopes()
    return {m: s[m] for m in ("hr_bpm", "ln_rmssd", "lnhf", "scl_us")}


def _default_shifts() -> dict[str, dict[str, float]]:
    return {c: dict(v) for c, v in SELFREPORT_SHIFTS.items()}


#: Planted index slopes per induction minute (implied by the generative model) and
#: self-report shifts: both read from ``soothe.simulate.effects``.
DEFAULT_SLOPES: dict[str, dict[str, float]] = _default_slopes()
DEFAULT_SHIFTS: dict[str, dict[str, float]] = _default_shifts()

#: Measurement noise per window on top of the model (a pipeline's estimation error).
_MEASUREMENT_SD = {"hr_bpm": 0.3, "ln_rmssd": 0.05, "lnhf": 0.15, "scl_us": 0.03}


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
    for construct in STATE_CONSTRUCTS:
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


def _draw_person(condition: str, rng: np.random.Generator) -> dict[str, Any]:
    """Resting traits and drive slopes of one participant (``soothe.simulate.effects``)."""
    b = effects.BASELINE

    def draw(key: str) -> float:
        spec = b[key]
        return float(np.clip(rng.normal(spec["mean"], spec["sd"]), spec["min"], spec["max"]))

    hr0, ln_rmssd0, ln_scl0, br0, depth0 = (draw(k) for k in (
        "hr_bpm", "ln_rmssd", "ln_scl_us", "breathing_rate_bpm", "belt_depth_v"))
    var = effects.DRIVE_VARIABILITY
    scr = effects.SCR_MODEL
    responder = bool(rng.random() >= scr["non_responder_fraction"])
    return {
        "condition": condition,
        "hr0": hr0, "scl0": float(np.exp(ln_scl0)) if responder else scr[
            "non_responder_scl_us"], "br0": br0, "depth0": depth0,
        "a0": phys.rsa_amplitude_at_rest(float(np.exp(ln_rmssd0)), hr0, br0),
        "slope": {d: effects.drive_slope(d, condition) + rng.normal(0, var[d]["slope_sd"])
                  for d in var},
        "onset": {d: rng.normal(0, var[d]["onset_sd"]) for d in var},
        "wander_sd": {d: effects.minute_mean_sd(d) for d in var},
        "coupling": 1.0 if responder else scr["non_responder_coupling"],
        "scr_rate0": scr["base_rate_per_min"]["mean"] if responder else scr[
            "non_responder_rate_per_min"],
    }


def _window_values(person: dict[str, Any], phase: str, w: int,
                   rng: np.random.Generator) -> dict[str, float]:
    """Expected indices of one minute from the drives (analytic, ``soothe.simulate``)."""
    tau = w - 0.5
    drive = {}
    for d in ("vagal", "sympathetic"):
        if phase == "induction":
            x = person["onset"][d] + person["slope"][d] * float(effects.time_course(tau))
        elif phase == "recovery":  # exponential return after the 11-minute induction
            end = person["onset"][d] + person["slope"][d] * effects.INDUCTION_MIN
            x = end * np.exp(-tau * 60.0 / effects.RECOVERY_TAU_S)
        else:
            x = 0.0
        # the minute mean of the drive's OU wander (effects.minute_mean_sd)
        drive[d] = x + rng.normal(0.0, person["wander_sd"][d])
    slowing = (effects.MEDITATION_BREATHING.get(person["condition"], 0.0)
               * float(effects.time_course(tau)) if phase == "induction" else 0.0)
    br = float(phys.breathing_rate(person["br0"], slowing))
    hr = float(phys.heart_rate(person["hr0"], drive["vagal"], drive["sympathetic"]))
    amp = person["a0"] * np.exp(drive["vagal"])
    s = drive["sympathetic"]
    return {
        "hr_bpm": hr,
        "ln_rmssd": float(np.log(phys.rmssd_expected(amp, hr, br))),
        "lnhf": float(np.log(phys.hf_expected(amp, br, hr))),
        "scl_us": float(phys.skin_conductance(person["scl0"], s, person["coupling"])),
        "scr_rate": person["scr_rate0"] * float(np.exp(
            effects.COUPLING["scr_rate_gain"] * person["coupling"] * s)),
        "breathing_rate_bpm": br,
        "belt_depth_v": person["depth0"] * float(np.sqrt(person["br0"] / br)),
    }


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
    participants = synthetic_participants(conditions, rng)
    win_rows: list[dict[str, Any]] = []
    resp_rows: list[dict[str, Any]] = []
    implied = _default_slopes()
    for pid, cond in zip(participants["participant_id"], conditions):
        person = _draw_person(cond, rng)
        # a custom plan adds (its slope - the model's implied slope) on the index itself
        extra = {m: slopes.get(m, {}).get(cond, 0.0) - implied.get(m, {}).get(cond, 0.0)
                 for m in _MEASUREMENT_SD}
        win_rows += synthetic_window_rows(pid, person, extra, rng, invalid_rate)
        resp_rows += synthetic_response_rows(pid, cond, items, shifts, rng)
    planted = {
        "description": "analysis.synthetic: the soothe.simulate generative model at table "
        "level (analytic expectations of the drives); slopes = implied index slope per "
        "induction minute relative to baseline; self-report post - pre shift in scale points",
        "slopes": slopes,
        "shifts": {c: {k: shifts.get(c, {}).get(k, 0.0) for k in STATE_CONSTRUCTS}
                   for c in CONDITIONS},
    }
    return StudyTables(participants, pd.DataFrame(resp_rows), pd.DataFrame(win_rows), items,
                       planted)


def synthetic_participants(conditions: list[str], rng: np.random.Generator) -> pd.DataFrame:
    """``participants.tsv`` rows, one per entry of ``conditions`` (age and sex drawn).

    Examples
    --------
    >>> p = synthetic_participants(["neutral", "body_scan"], np.random.default_rng(0))
    >>> p["participant_id"].tolist(), p["condition"].tolist()
    (['sub-001', 'sub-002'], ['neutral', 'body_scan'])
    """
    n = len(conditions)
    return pd.DataFrame(
        {
            "participant_id": [f"sub-{i + 1:03d}" for i in range(n)],
            "age": rng.integers(18, 60, n),
            "sex": rng.choice(["female", "male"], n),
            "condition": conditions,
            "session_code": [f"S{i + 1:04d}" for i in range(n)],
            "status": "complete",
        }
    )


#: Phases of the windows table: (name, number of 60-s windows, start in s).
WINDOW_LAYOUT: tuple[tuple[str, int, float], ...] = (
    ("baseline", 5, 0.0), ("induction", 11, 360.0), ("recovery", 5, 1080.0))


def synthetic_window_rows(pid: str, person: dict[str, Any], extra: dict[str, float],
                          rng: np.random.Generator, invalid_rate: float
                          ) -> list[dict[str, Any]]:
    """The windows-table rows of one participant: the model's values plus measurement noise,
    ``extra`` slope per induction minute, and windows flagged invalid at ``invalid_rate``."""
    rows = []
    for phase, n_win, t0 in WINDOW_LAYOUT:
        for w in range(1, n_win + 1):
            vals = _window_values(person, phase, w, rng)
            if phase == "induction":
                for m, e in extra.items():
                    vals[m] += e * (w - 0.5)
            for m, sd in _MEASUREMENT_SD.items():
                vals[m] += rng.normal(0.0, sd)
            ecg_ok = rng.random() >= invalid_rate
            eda_ok = rng.random() >= invalid_rate
            rows.append(window_row(pid, person["condition"], phase, w, t0, vals, ecg_ok,
                                   eda_ok, rng))
    return rows


def window_row(pid: str, cond: str, phase: str, w: int, t0: float, vals: dict[str, float],
               ecg_ok: bool, eda_ok: bool, rng: np.random.Generator) -> dict[str, Any]:
    """One windows-table row from a window's values (NaN where its signal is invalid).

    The SCR count is drawn from ``rng`` (Poisson with the window's rate) when EDA is valid.
    """
    hr = vals["hr_bpm"] if ecg_ok else np.nan
    rmssd = float(np.exp(vals["ln_rmssd"])) if ecg_ok else np.nan
    lnhf = vals["lnhf"] if ecg_ok else np.nan
    scl = max(vals["scl_us"], 0.05) if eda_ok else np.nan
    scr_n = int(rng.poisson(vals["scr_rate"])) if eda_ok else np.nan
    return {
        "participant_id": pid, "session": "1", "condition": cond,
        "phase": phase, "window": w, "start_s": t0 + 60.0 * (w - 1),
        "end_s": t0 + 60.0 * w, "partial": False, "hr_bpm": hr,
        "rmssd_ms": rmssd, "lnrmssd": vals["ln_rmssd"] if ecg_ok else np.nan,
        "sdnn_ms": rmssd * 1.3 if ecg_ok else np.nan,
        "hf_ms2": float(np.exp(lnhf)) if ecg_ok else np.nan, "lnhf": lnhf,
        "n_beats": int(round(hr)) if ecg_ok else 0,
        "corrected_pct": 0.5 if ecg_ok else np.nan,
        "excluded_diff_pct": 1.0 if ecg_ok else np.nan,
        "ecg_valid": ecg_ok, "ecg_reason": "" if ecg_ok else "too many artefacts",
        "hf_valid": ecg_ok, "hf_reason": "" if ecg_ok else "ECG invalid",
        "resp_rate_bpm": vals["breathing_rate_bpm"],
        "resp_amplitude": vals["belt_depth_v"], "resp_source": "belt",
        "scl_us": scl, "sc_mean_us": scl,
        "scr_count": scr_n,
        "scr_rate_per_min": float(scr_n) if eda_ok else np.nan,
        "scr_amp_us": 0.2 if eda_ok else np.nan,
        "eda_valid": eda_ok, "eda_reason": "" if eda_ok else "saturated",
        # quality indices (docs/quality.md): clear evidence where valid, none where not
        "ecg_quality": 0.95 if ecg_ok else 0.3, "eda_quality": 1.0 if eda_ok else 0.0,
        "resp_quality": 1.0, "resp_valid": True, "resp_reason": "", "edr_quality": np.nan,
    }


def synthetic_response_rows(pid: str, cond: str, items: list[Item],
                            shifts: dict[str, dict[str, float]], rng: np.random.Generator
                            ) -> list[dict[str, Any]]:
    """Pre and post questionnaire answers of one participant (a trait per construct plus
    noise; the post answers shifted by the condition's planted shift)."""
    rows = []
    trait = {c: rng.normal(50.0, 12.0) for c in STATE_CONSTRUCTS}
    for phase in ("pre_questionnaire", "post_questionnaire"):
        for pos, item in enumerate(items, start=1):
            true = trait[item.construct] + rng.normal(0.0, 5.0)
            if phase == "post_questionnaire":
                true += shifts.get(cond, {}).get(item.construct, 0.0)
            score = float(np.clip(true + rng.normal(0.0, 7.0), 0.0, 100.0))
            rating = item.reverse(score) if item.reversed else score
            rows.append(
                {
                    "participant_id": pid, "session": "1", "phase": phase,
                    "questionnaire": "state_vas", "item_id": item.item_id,
                    "construct": item.construct, "reversed": item.reversed,
                    "position": pos, "onset": np.nan, "rating": round(rating, 1),
                    "response_time": np.nan, "scale_min": 0.0, "scale_max": 100.0,
                }
            )
    return rows


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
