"""Exclusion rules read from a TOML file, applied to the tidy table, each with its reason."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.constants import MEASURE_SIGNAL
from analysis.errors import AnalysisError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_EXCLUSIONS = Path(__file__).with_name("exclusions.toml")

EXCLUSION_COLUMNS = ("participant_id", "condition", "rule", "scope", "reason")


@dataclass(frozen=True)
class ExclusionRules:
    """The exclusion configuration (see ``analysis/exclusions.toml``)."""

    incomplete_session: bool = True
    missing_data: bool = True
    invalid_windows: bool = True
    invalid_phases: tuple[str, ...] = ("baseline", "induction")
    max_invalid_fraction: float = 0.34
    invalid_scope: str = "signal"
    manipulation_check: bool = False
    mc_construct: str = "self_compassion"
    mc_conditions: tuple[str, ...] = ("kindness_self", "body_scan")
    mc_min_change: float = 0.0
    source: str = "defaults"
    raw: dict[str, Any] = field(default_factory=dict)


def load_exclusion_rules(path: str | Path | None = None) -> ExclusionRules:
    """Read exclusion rules from TOML (default: the shipped ``exclusions.toml``).

    Raises
    ------
    AnalysisError
        Naming the file and key when a value has the wrong type or range.

    Examples
    --------
    >>> rules = load_exclusion_rules()
    >>> rules.manipulation_check, rules.max_invalid_fraction
    (False, 0.34)
    """
    path = Path(path) if path is not None else DEFAULT_EXCLUSIONS
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AnalysisError(f"{path}: cannot read exclusion rules: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise AnalysisError(f"{path}: not valid TOML: {exc}") from None
    known = {"incomplete_session", "missing_data", "invalid_windows", "manipulation_check"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise AnalysisError(f"{path}: unknown section(s) {unknown}; expected {sorted(known)}")

    def get(section: str, key: str, default: Any, kind: type | tuple[type, ...]) -> Any:
        value = data.get(section, {}).get(key, default)
        if isinstance(value, bool) and kind is not bool and bool not in (
            kind if isinstance(kind, tuple) else (kind,)
        ):
            raise AnalysisError(f"{path}: [{section}] {key} must be {kind}, got {value!r}")
        if not isinstance(value, kind):
            raise AnalysisError(f"{path}: [{section}] {key} must be {kind}, got {value!r}")
        return value

    frac = float(get("invalid_windows", "max_invalid_fraction", 0.34, (int, float)))
    if not 0.0 <= frac <= 1.0:
        raise AnalysisError(
            f"{path}: [invalid_windows] max_invalid_fraction must be in 0..1, got {frac}"
        )
    scope = get("invalid_windows", "scope", "signal", str)
    if scope not in ("signal", "participant"):
        raise AnalysisError(
            f"{path}: [invalid_windows] scope must be 'signal' or 'participant', got {scope!r}"
        )
    return ExclusionRules(
        incomplete_session=get("incomplete_session", "enabled", True, bool),
        missing_data=get("missing_data", "enabled", True, bool),
        invalid_windows=get("invalid_windows", "enabled", True, bool),
        invalid_phases=tuple(get("invalid_windows", "phases", ["baseline", "induction"], list)),
        max_invalid_fraction=frac,
        invalid_scope=scope,
        manipulation_check=get("manipulation_check", "enabled", False, bool),
        mc_construct=get("manipulation_check", "construct", "self_compassion", str),
        mc_conditions=tuple(
            get("manipulation_check", "conditions", ["kindness_self", "body_scan"], list)
        ),
        mc_min_change=float(get("manipulation_check", "min_change", 0.0, (int, float))),
        source=str(path),
        raw=data,
    )


def find_exclusions(
    tidy: pd.DataFrame, participants: pd.DataFrame, rules: ExclusionRules
) -> pd.DataFrame:
    """Every exclusion, one row per participant x rule, with scope and reason.

    ``scope`` is ``all`` (participant left out of every analysis), ``ecg`` or ``eda`` (left
    out of that signal's measures only).

    Examples
    --------
    >>> from analysis.synthetic import synthetic_study_tables
    >>> from analysis.tidy_table import build_tidy_table, score_responses
    >>> t = synthetic_study_tables(1, seed=0)
    >>> t.participants.loc[0, "status"] = "incomplete"
    >>> tidy = build_tidy_table(t.windows, score_responses(t.responses, t.items),
    ...                         t.participants)
    >>> find_exclusions(tidy, t.participants, load_exclusion_rules())["rule"].tolist()
    ['incomplete_session']
    """
    rows: list[dict[str, Any]] = []
    cond = participants.set_index("participant_id")["condition"].to_dict()

    def add(pid: str, rule: str, scope: str, reason: str) -> None:
        rows.append({"participant_id": pid, "condition": cond.get(pid), "rule": rule,
                     "scope": scope, "reason": reason})

    excluded_all: set[str] = set()
    if rules.incomplete_session:
        for pid, status in participants.set_index("participant_id")["status"].items():
            if str(status) != "complete":
                add(pid, "incomplete_session", "all", f"session status is {status!r}")
                excluded_all.add(pid)
    if rules.missing_data:
        for pid in participants["participant_id"]:
            if pid in excluded_all:
                continue
            mine = tidy[tidy["participant_id"] == pid]
            problems = []
            if not (mine["source"] == "physio").any():
                problems.append("no physiology windows")
            phases = set(mine.loc[(mine["source"] == "selfreport") & mine["valid"], "phase"])
            lacking = [p for p in ("pre_questionnaire", "post_questionnaire") if p not in phases]
            if lacking:
                problems.append(f"no valid scores for {', '.join(lacking)}")
            if problems:
                add(pid, "missing_data", "all", "; ".join(problems))
                excluded_all.add(pid)
    if rules.invalid_windows:
        phys = tidy[(tidy["source"] == "physio") & tidy["phase"].isin(rules.invalid_phases)]
        for signal, measure in (("ecg", "hr_bpm"), ("eda", "scl_us")):
            m = phys[phys["measure"] == measure]
            frac = 1.0 - m.groupby("participant_id")["valid"].mean()
            for pid, f in frac.items():
                if pid in excluded_all or f <= rules.max_invalid_fraction:
                    continue
                scope = "all" if rules.invalid_scope == "participant" else signal
                add(pid, "invalid_windows", scope,
                    f"{f:.0%} of {signal.upper()} windows invalid in "
                    f"{'/'.join(rules.invalid_phases)} (limit "
                    f"{rules.max_invalid_fraction:.0%})")
                if scope == "all":
                    excluded_all.add(pid)
    if rules.manipulation_check:
        sr = tidy[(tidy["source"] == "selfreport") & (tidy["measure"] == rules.mc_construct)]
        wide = sr.pivot_table(index="participant_id", columns="phase", values="value")
        for pid in participants["participant_id"]:
            if pid in excluded_all or cond.get(pid) not in rules.mc_conditions:
                continue
            if pid not in wide.index:
                continue
            change = wide.loc[pid].get("post_questionnaire", float("nan")) - wide.loc[pid].get(
                "pre_questionnaire", float("nan"))
            if not change > rules.mc_min_change:
                add(pid, "manipulation_check", "all",
                    f"{rules.mc_construct} changed by {change:+.1f} (needed > "
                    f"{rules.mc_min_change:+.1f})")
                excluded_all.add(pid)
    return pd.DataFrame(rows, columns=list(EXCLUSION_COLUMNS))


def apply_exclusions(tidy: pd.DataFrame, exclusions: pd.DataFrame) -> pd.DataFrame:
    """The tidy table without excluded participants (scope ``all``) and signals."""
    if exclusions.empty:
        return tidy.copy()
    drop_all = set(exclusions.loc[exclusions["scope"] == "all", "participant_id"])
    keep = ~tidy["participant_id"].isin(drop_all)
    signal = tidy["measure"].map(MEASURE_SIGNAL)
    for sig in ("ecg", "eda"):
        pids = set(exclusions.loc[exclusions["scope"] == sig, "participant_id"])
        keep &= ~((signal == sig) & tidy["participant_id"].isin(pids))
    return tidy[keep].reset_index(drop=True)


INCOMPLETE_STAGE = "incomplete session (not completed)"
KEPT_INCOMPLETE_STAGE = "incomplete, kept (incomplete_session rule off)"


def participant_flow(
    participants: pd.DataFrame, exclusions: pd.DataFrame, conditions: tuple[str, ...]
) -> pd.DataFrame:
    """CONSORT counts per condition: allocated, completed, excluded per rule, analysed.

    Incomplete sessions leave the flow at the completion stage (they are not counted again
    as an exclusion), so the stages add up per condition::

        allocated = completed + incomplete session
        completed + incomplete kept = analysed (self-report) + sum(excluded: <rule>)
        analysed (self-report) = analysed (ECG) + excluded from ECG  (same for EDA)

    ``incomplete kept`` is non-zero only when the ``incomplete_session`` rule is off.

    Returns one row per stage (index) and one column per condition plus ``total``.

    Examples
    --------
    >>> p = pd.DataFrame({"participant_id": ["a", "b", "c"], "condition": "neutral",
    ...                   "status": ["complete", "incomplete", "complete"]})
    >>> ex = pd.DataFrame({"participant_id": ["b", "c"], "condition": "neutral",
    ...                    "rule": ["incomplete_session", "missing_data"],
    ...                    "scope": "all", "reason": ""})
    >>> participant_flow(p, ex, ("neutral",))["neutral"].to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {'allocated': 3, 'incomplete session (not completed)': 1, 'completed': 2,
     'excluded: missing_data': 1, 'analysed (self-report)': 1, 'analysed (ECG)': 1,
     'analysed (EDA)': 1}
    """
    if not set(participants.columns) >= {"participant_id", "condition", "status"}:
        raise AnalysisError("participants table: needs participant_id, condition, status")
    p = participants.copy()
    p["condition"] = p["condition"].fillna("n/a").astype(str)
    cols = [c for c in conditions] + sorted(set(p["condition"]) - set(conditions))
    stages: dict[str, dict[str, int]] = {}

    def count(mask: pd.Series) -> dict[str, int]:
        return {c: int((mask & (p["condition"] == c)).sum()) for c in cols}

    complete = p["status"].astype(str) == "complete"
    ex_all = exclusions[exclusions["scope"] == "all"]
    dropped_incomplete = set(ex_all.loc[ex_all["rule"] == "incomplete_session",
                                        "participant_id"])
    stages["allocated"] = count(pd.Series(True, index=p.index))
    stages[INCOMPLETE_STAGE] = count(~complete)
    stages["completed"] = count(complete)
    kept = ~complete & ~p["participant_id"].isin(dropped_incomplete)
    if kept.any():
        stages[KEPT_INCOMPLETE_STAGE] = count(kept)
    for rule in ex_all["rule"].drop_duplicates():
        if rule == "incomplete_session":
            continue
        pids = set(ex_all.loc[ex_all["rule"] == rule, "participant_id"])
        stages[f"excluded: {rule}"] = count(p["participant_id"].isin(pids))
    analysed = ~p["participant_id"].isin(set(ex_all["participant_id"]))
    stages["analysed (self-report)"] = count(analysed)
    for sig in ("ecg", "eda"):
        pids = set(exclusions.loc[exclusions["scope"] == sig, "participant_id"])
        if pids:
            stages[f"excluded from {sig.upper()}: invalid_windows"] = count(
                analysed & p["participant_id"].isin(pids))
        stages[f"analysed ({sig.upper()})"] = count(analysed & ~p["participant_id"].isin(pids))
    flow = pd.DataFrame(stages).T[cols]
    flow["total"] = flow.sum(axis=1)
    flow.index.name = "stage"
    return flow
