"""The analysis from inputs to results: what ``soothe analyze`` runs, as functions.

:func:`analyse_tables` works on in-memory tables (used by the power simulation and the
parameter-recovery tests); :func:`run_analysis` reads a raw dataset and its physiology
derivatives, runs :func:`analyse_tables` and writes every table, figure and the report.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.metadata as md
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.constants import MODEL_MEASURES
from analysis.errors import AnalysisError
from analysis.exclusions import (
    ExclusionRules,
    apply_exclusions,
    find_exclusions,
    load_exclusion_rules,
    participant_flow,
)
from analysis.paper_table import descriptive_table
from analysis.phase_hf import (
    hf_reasons,
    phase_ancova,
    phase_descriptives,
    phase_outcomes,
    read_group_phases,
)
from analysis.physio_methods import physio_methods_summary
from analysis.physio_mixed import (
    PRESPECIFIED,
    GrowthModel,
    baseline_change_summary,
    fit_growth_model,
    time_course_sensitivity,
)
from analysis.power_cache import PLANNED_N_PER_GROUP, contrast_power
from analysis.precedence import temporal_precedence
from analysis.provenance import physio_provenance
from analysis.reliability import construct_alphas
from analysis.report_html import write_reports
from analysis.selfreport_ancova import adjusted_means, change_scores, selfreport_ancova
from analysis.tidy_table import (
    build_tidy_table,
    drop_partial_windows,
    items_from_responses,
    mark_exclusions,
    read_group_windows,
    read_responses,
    score_responses,
    write_tidy_table,
)
from conditions import bids
from conditions.checksum import sha256_file
from conditions.protocol import CONDITION_NAMES
from conditions.questionnaire_items import Item


@dataclass
class AnalysisResult:
    """Everything the report shows (tables are pandas DataFrames)."""

    tidy: pd.DataFrame
    analysed: pd.DataFrame
    exclusions: pd.DataFrame
    flow: pd.DataFrame
    ancova: pd.DataFrame
    growth: dict[str, GrowthModel]
    alphas: pd.DataFrame | None = None
    change: pd.DataFrame | None = None
    adjusted_means: pd.DataFrame | None = None
    precedence: pd.DataFrame | None = None
    descriptives: pd.DataFrame | None = None
    time_courses: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: windows the pipeline flagged partial (shorter than the nominal length), left out
    n_partial_windows: int = 0
    #: phase-level HF and breathing rate (secondary): descriptives, ANCOVA, HF NaN reasons
    phase_descriptives: pd.DataFrame | None = None
    phase_ancova: pd.DataFrame | None = None
    hf_reasons: dict[str, int] = field(default_factory=dict)
    #: per measure: linear vs quadratic minute terms (time_course_sensitivity)
    sensitivity: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    rules: ExclusionRules | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    #: the physiology methods from the derivatives' sidecars (analysis.physio_methods)
    physio_methods: dict[str, Any] | None = None
    #: power of each planned contrast at the analysed n per group and at the planned n
    #: (``table``, ``n_per_group``, ``n_planned``, ``missing``; analysis.power_cache)
    contrast_power: dict[str, Any] | None = None
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def minute_contrasts(self) -> pd.DataFrame:
        parts = [g.minute_contrasts for g in self.growth.values()]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    @property
    def slope_contrasts(self) -> pd.DataFrame:
        parts = [g.slope_contrasts for g in self.growth.values()]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def analyse_tables(
    windows: pd.DataFrame,
    responses: pd.DataFrame,
    participants: pd.DataFrame,
    items: list[Item],
    *,
    rules: ExclusionRules | None = None,
    measures: tuple[str, ...] = MODEL_MEASURES,
    full: bool = True,
    structures: tuple[str, ...] = PRESPECIFIED,
    phases: pd.DataFrame | None = None,
) -> AnalysisResult:
    """Run the statistics on in-memory tables.

    Parameters
    ----------
    windows, responses, participants : DataFrame
        Group windows table, questionnaire answers (with ``participant_id`` and
        ``session``), participants table.
    items : list of Item
        Questionnaire items.
    rules : ExclusionRules, optional
        Default: the shipped ``exclusions.toml``.
    measures : tuple of str
        Physio measures to model.
    full : bool
        False skips descriptives, reliability and precedence (for fast simulations).
    structures : tuple of str
        Random-effects structures tried in order; default the pre-specified model
        (:data:`analysis.physio_mixed.PRESPECIFIED`: random intercept + slope,
        uncorrelated, then random intercept only). ``soothe power`` uses the default.
    phases : DataFrame, optional
        The group phases table (HF per phase, breathing rate): the secondary outcome.

    Examples
    --------
    >>> from analysis.synthetic import synthetic_study_tables
    >>> t = synthetic_study_tables(6, seed=4)
    >>> res = analyse_tables(t.windows, t.responses, t.participants, t.items,
    ...                      measures=("hr_bpm",), full=False)
    >>> sorted(res.growth)
    ['hr_bpm']
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    rules = rules or load_exclusion_rules()
    windows, n_partial = drop_partial_windows(windows)
    scores = score_responses(responses, items)
    tidy = build_tidy_table(windows, scores, participants)
    exclusions = find_exclusions(tidy, participants, rules)
    analysed = apply_exclusions(tidy, exclusions)
    flow = participant_flow(participants, exclusions, CONDITION_NAMES)
    timings["tidy_and_exclusions"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ancova, ancova_models = selfreport_ancova(analysed)
    timings["ancova"] = time.perf_counter() - t0
    growth, skipped = fit_growth_models(analysed, measures, structures, timings)
    result = AnalysisResult(tidy=tidy, analysed=analysed, exclusions=exclusions, flow=flow,
                            ancova=ancova, growth=growth, rules=rules, timings_s=timings,
                            skipped=skipped, n_partial_windows=n_partial)
    if full:
        t0 = time.perf_counter()
        add_secondary_outputs(result, responses, items, ancova_models, measures)
        if phases is not None and len(phases):
            add_phase_outcomes(result, phases, participants)
        timings["descriptives_reliability_precedence"] = time.perf_counter() - t0
    return result


def fit_growth_models(
    analysed: pd.DataFrame, measures: tuple[str, ...], structures: tuple[str, ...],
    timings: dict[str, float],
) -> tuple[dict[str, GrowthModel], dict[str, str]]:
    """One growth model per measure with valid induction values; the rest skipped, with why.

    Adds ``mixedlm_<measure>`` run times to ``timings``.

    Raises
    ------
    AnalysisError
        When a model cannot be set up (names the measure).
    """
    growth: dict[str, GrowthModel] = {}
    skipped: dict[str, str] = {}
    for measure in measures:
        t0 = time.perf_counter()
        n_valid = int(analysed.loc[(analysed["measure"] == measure)
                                   & (analysed["phase"] == "induction"), "valid"].sum())
        if n_valid == 0:
            reasons = analysed.loc[(analysed["measure"] == measure), "reason"]
            top = reasons[reasons != ""].value_counts()
            skipped[measure] = "no valid values" + (f" ({top.index[0]})" if len(top) else "")
            continue
        try:
            growth[measure] = fit_growth_model(analysed, measure, structures=structures)
        except ValueError as exc:
            raise AnalysisError(f"growth model of {measure}: {exc}") from None
        timings[f"mixedlm_{measure}"] = time.perf_counter() - t0
    return growth, skipped


def add_secondary_outputs(result: AnalysisResult, responses: pd.DataFrame, items: list[Item],
                          ancova_models: Any, measures: tuple[str, ...]) -> None:
    """Reliability, change scores, adjusted means, precedence, descriptives, time courses
    and the time-course sensitivity models, set on ``result``."""
    analysed, growth = result.analysed, result.growth
    kept = set(analysed["participant_id"])
    result.alphas = construct_alphas(responses[responses["participant_id"].isin(kept)], items)
    result.change = change_scores(analysed)
    result.adjusted_means = adjusted_means(ancova_models)
    result.precedence = temporal_precedence(analysed)
    result.descriptives = descriptive_table(analysed)
    result.time_courses = {m: baseline_change_summary(analysed, m) for m in measures
                           if m in growth}
    result.sensitivity = {m: time_course_sensitivity(analysed, g) for m, g in growth.items()}


def add_phase_outcomes(result: AnalysisResult, phases: pd.DataFrame,
                       participants: pd.DataFrame) -> None:
    """The secondary HF outcome of the analysed participants, set on ``result``."""
    conds = participants.set_index("participant_id")["condition"]
    kept = set(result.analysed["participant_id"])
    kept_phases = phases[phases["participant_id"].astype(str).isin(kept)]
    long = phase_outcomes(kept_phases, conds)
    result.phase_descriptives = phase_descriptives(long)
    result.phase_ancova = phase_ancova(long)
    result.hf_reasons = hf_reasons(kept_phases)


def participant_conditions(raw_root: Path, participants: pd.DataFrame) -> pd.DataFrame:
    r"""Participants with their unblinded condition, from the allocation record only.

    ``participants.tsv``'s ``condition`` when it is given; otherwise the unblinded export
    ``sourcedata/allocation_unblinded.tsv`` (``soothe allocation export --unblind``). The
    windows table is never used: a condition must come from the allocation record.

    Raises
    ------
    AnalysisError
        When a participant has no condition in either file, or the export is malformed.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "sourcedata").mkdir()
    >>> _ = (root / "sourcedata" / "allocation_unblinded.tsv").write_text(
    ...     "participant_id\tcondition\nsub-002\tbody_scan\n")
    >>> p = pd.DataFrame({"participant_id": ["sub-001", "sub-002"],
    ...                   "condition": ["neutral", None]})
    >>> participant_conditions(root, p)["condition"].tolist()
    ['neutral', 'body_scan']
    """
    out = participants.copy()
    out["participant_id"] = out["participant_id"].astype(str)
    cond = out["condition"] if "condition" in out.columns else pd.Series(None, index=out.index)
    blank = cond.astype(str).str.strip().isin(["", "n/a", "nan", "None"])
    cond = cond.where(cond.notna() & ~blank, None)
    export = Path(raw_root) / "sourcedata" / "allocation_unblinded.tsv"
    if cond.isna().any() and export.is_file():
        table = bids.read_tsv(export)
        if not {"participant_id", "condition"} <= set(table.columns):
            raise AnalysisError(f"{export}: expected columns participant_id and condition, "
                                f"got {list(table.columns)}")
        unblinded = table.assign(participant_id=table["participant_id"].astype(str)
                                 ).set_index("participant_id")["condition"]
        cond = cond.fillna(out["participant_id"].map(unblinded))
    missing = out.loc[cond.isna(), "participant_id"].tolist()
    if missing:
        raise AnalysisError(
            f"{bids.participants_tsv(raw_root)}: no condition for {', '.join(missing[:10])}"
            f"{' ...' if len(missing) > 10 else ''} and no unblinded allocation in {export}; "
            "export it with 'soothe allocation export --unblind' after the last session")
    out["condition"] = cond.astype(str)
    return out


def study_folder(*paths: Path) -> Path:
    """The deepest folder holding every path: the study folder report paths are relative to.

    Examples
    --------
    >>> study_folder(Path("/x/study/raw"), Path("/x/study/derivatives/soothe"),
    ...              Path("/x/study/report")).as_posix()
    '/x/study'
    """
    return Path(os.path.commonpath([str(Path(p).resolve()) for p in paths]))


def relative_to_study(path: Path, study: Path) -> str:
    """``path`` relative to the study folder, in POSIX form ('.' for the folder itself).

    Examples
    --------
    >>> relative_to_study(Path("/x/study/raw"), Path("/x/study"))
    'raw'
    """
    return Path(os.path.relpath(Path(path).resolve(), study)).as_posix()


def software_versions() -> dict[str, str]:
    """Versions of Python and the packages the analysis depends on."""
    out = {"python": platform.python_version()}
    for pkg in ("soothe", "numpy", "pandas", "scipy", "statsmodels", "matplotlib", "pyarrow"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def input_hashes(raw_root: Path, deriv_root: Path, rules_path: Path) -> dict[str, str]:
    """SHA-256 of every input file (beh files combined into one digest)."""
    tsv, parquet = bids.group_windows_paths(deriv_root)
    out: dict[str, str] = {}
    for label, path in (("participants.tsv", bids.participants_tsv(raw_root)),
                        ("group windows (parquet)", parquet), ("group windows (tsv)", tsv),
                        ("exclusion rules", rules_path)):
        if Path(path).is_file():
            out[label] = sha256_file(Path(path))
    digest = hashlib.sha256()
    n = 0
    for files in bids.iter_sessions(raw_root):
        if files.beh_tsv.is_file():
            digest.update(files.beh_tsv.name.encode())
            digest.update(sha256_file(files.beh_tsv).encode())
            n += 1
    out[f"questionnaire files ({n} _beh.tsv, combined)"] = digest.hexdigest()
    return out


def analysed_n_per_group(flow: pd.DataFrame) -> int:
    """The analysed design's n per group: the mean of the participants analysed (self-report)
    per condition, rounded.

    Examples
    --------
    >>> f = pd.DataFrame({"neutral": [4], "body_scan": [3], "total": [7]},
    ...                  index=["analysed (self-report)"])
    >>> analysed_n_per_group(f)
    4
    """
    row = "analysed (self-report)"
    if row not in flow.index:
        return 0
    per_condition = flow.loc[row, [c for c in flow.columns if c != "total"]].astype(float)
    return int(round(float(per_condition.mean()))) if len(per_condition) else 0


def analysed_design_power(flow: pd.DataFrame) -> dict[str, Any]:
    """Cached power of every planned contrast at the analysed and the planned n per group."""
    n = analysed_n_per_group(flow)
    table, missing = contrast_power(n)
    return {"n_per_group": n, "n_planned": PLANNED_N_PER_GROUP, "table": table,
            "missing": missing}


def run_analysis(
    raw_root: Path, deriv_root: Path, out_dir: Path, *, rules_path: Path | None = None
) -> tuple[AnalysisResult, dict[str, Path]]:
    """Read the inputs, run the analysis and write tables, figures and the reports.

    Returns the result and the written paths (``report.html``, ``report.md``, ...).

    Raises
    ------
    AnalysisError
        When an input is missing or malformed (names the file).
    """
    raw_root, deriv_root, out_dir = Path(raw_root), Path(deriv_root), Path(out_dir)
    if not bids.participants_tsv(raw_root).is_file():
        raise AnalysisError(f"{bids.participants_tsv(raw_root)}: not found; is {raw_root} a "
                            "soothe raw dataset?")
    rules_path = Path(rules_path) if rules_path else Path(__file__).with_name("exclusions.toml")
    rules = load_exclusion_rules(rules_path)
    t_start = time.perf_counter()
    participants = bids.read_participants(raw_root)
    participants["participant_id"] = participants["participant_id"].astype(str)
    windows = read_group_windows(deriv_root)
    responses = read_responses(raw_root)
    if responses.empty:
        raise AnalysisError(f"{raw_root}: no questionnaire files (*_beh.tsv) found")
    items = items_from_responses(responses)
    participants = participant_conditions(raw_root, participants)
    phases = read_group_phases(deriv_root)
    result = analyse_tables(windows, responses, participants, items, rules=rules,
                            phases=phases)
    study = study_folder(raw_root, deriv_root, out_dir)
    rel = {k: relative_to_study(v, study) for k, v in
           (("raw", raw_root), ("derivatives", deriv_root), ("out", out_dir))}
    rules_shown = (relative_to_study(rules_path, study)
                   if rules_path.resolve().is_relative_to(study)
                   else f"{rules_path.name} (shipped with soothe)"
                   if rules_path == Path(__file__).with_name("exclusions.toml")
                   else rules_path.name)
    result.provenance = {
        "generated": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": f"soothe analyze {rel['raw']} {rel['derivatives']} --out {rel['out']}",
        "paths_relative_to": "the study folder (the folder that holds the raw data, the "
                             "derivatives and the report)",
        "inputs": {"raw": rel["raw"], "derivatives": rel["derivatives"],
                   "exclusion_rules": rules_shown},
        "input_sha256": input_hashes(raw_root, deriv_root, rules_path),
        "versions": software_versions(),
        # settings, code hash and package versions (incl. neurokit2) of the physiology
        # derivatives, from each recording's windows sidecar
        "physio_derivatives": physio_provenance(raw_root, deriv_root),
        "n_items": len(items),
    }
    result.physio_methods = physio_methods_summary(raw_root, deriv_root, windows)
    result.contrast_power = analysed_design_power(result.flow)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = write_reports(result, out_dir)
    # the written tidy table holds every row, before exclusions, marked with the rule
    paths.update(write_tidy_table(mark_exclusions(result.tidy, result.exclusions),
                                  out_dir / "tables",
                                  {"Name": "soothe analyze", **result.provenance}))
    result.timings_s["total"] = time.perf_counter() - t_start
    return result, paths
