"""The physiology methods of a dataset, written from its derivatives and the protocol.

Every recording's windows sidecar (``*_desc-windows_physio.json``) carries a provenance
block: the settings, the methods of each signal with their parameters and citations, the
package versions and a quality summary. The group windows table says which windows were
left out and why. :func:`physio_methods_summary` gathers these over all recordings;
:func:`methods_paragraphs` writes them as a methods text a paper can use, and
:func:`checklist_table` lists them against the published reporting checklists:

- GRAPH: Quintana, Alvares & Heathers (2016), *Transl. Psychiatry* 6:e803;
- SPR guidelines for HR and HRV: Quigley et al. (2024), *Psychophysiology*;
- breathing and vagal indices: Laborde, Mosley & Thayer (2017), *Front. Psychol.* 8:213;
- EDA: Boucsein et al. (2012), SPR committee report, *Psychophysiology* 49:1017.

Each value names its source (a sidecar field or a protocol key). What soothe cannot know
(electrode placement, room temperature, time of day, medication, ...) is listed as
:data:`TO_REPORT`, never invented. Values that the sidecar does not record but the code
fixes (the EDA low-pass order, the SCR rise-time limits) say so in their source.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.constants import PHYSIO_PHASES
from analysis.provenance import read_provenance_blocks
from conditions.protocol import load_protocol
from physio.eda.eda_scr import SCR_MAX_RISE_S, SCR_MIN_RISE_S

#: The value of an item that the data cannot determine.
TO_REPORT = "to report"
SIDECAR = "windows sidecar: SootheProvenance."
#: The EDA low-pass of soothe's engine (physio.eda.eda_clean), not written to the sidecar.
EDA_LOWPASS_FILTER = "Butterworth low-pass, 4th order, zero phase"


def _get(block: dict[str, Any], path: str) -> Any:
    """``block['a']['b']...`` for ``path`` 'a.b...'; None when any step is missing.

    Examples
    --------
    >>> _get({"a": {"b": 2}}, "a.b"), _get({"a": {}}, "a.b.c")
    (2, None)
    """
    value: Any = block
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def distinct_text(values: list[Any], unit: str = "") -> str:
    """One value, or each distinct value with its number of recordings ('' when none).

    Examples
    --------
    >>> distinct_text([250.0, 250.0], " Hz")
    '250 Hz'
    >>> distinct_text([0.05, 0.05, 0.1], " µS")
    '0.05 µS (2 recordings); 0.1 µS (1 recording)'
    """
    shown = [_fmt(v) for v in values if v is not None]
    counts = Counter(shown)
    if not counts:
        return ""
    if len(counts) == 1:
        return f"{next(iter(counts))}{unit}"
    return "; ".join(f"{v}{unit} ({n} recording{'s' if n > 1 else ''})"
                     for v, n in counts.most_common())


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return "–".join(_fmt(v) for v in value)
    return str(value)


def _field(blocks: dict[str, dict[str, Any]], path: str, unit: str = "") -> dict[str, str]:
    """A sidecar field over all recordings as ``{"value": ..., "source": ...}``."""
    return {"value": distinct_text([_get(b, path) for b in blocks.values()], unit),
            "source": SIDECAR + path}


def corrected_beats(blocks: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Percentage of beats corrected per recording: mean, SD, min, max and n recordings.

    From ``methods.ecg.method.n_corrected / n_beats`` (``quality.corrected_pct`` when the
    counts are absent).

    Examples
    --------
    >>> b = {"a": {"methods": {"ecg": {"method": {"n_corrected": 1, "n_beats": 100}}}},
    ...      "b": {"quality": {"corrected_pct": 3.0}}}
    >>> corrected_beats(b)
    {'mean': 2.0, 'sd': 1.4142135623730951, 'min': 1.0, 'max': 3.0, 'n': 2}
    """
    pct = []
    for block in blocks.values():
        n_corr = _get(block, "methods.ecg.method.n_corrected")
        n_beats = _get(block, "methods.ecg.method.n_beats")
        if n_corr is not None and n_beats:
            pct.append(100.0 * float(n_corr) / float(n_beats))
        elif _get(block, "quality.corrected_pct") is not None:
            pct.append(float(_get(block, "quality.corrected_pct")))
    if not pct:
        return {"mean": None, "sd": None, "min": None, "max": None, "n": 0}
    a = np.asarray(pct)
    return {"mean": float(a.mean()), "sd": float(a.std(ddof=1)) if a.size > 1 else 0.0,
            "min": float(a.min()), "max": float(a.max()), "n": int(a.size)}


def excluded_windows(windows: pd.DataFrame | None) -> dict[str, Any]:
    """Windows of baseline, induction and recovery left out, with counts per reason.

    Partial windows (a phase's remainder shorter than a window) are counted apart; the
    counts per signal are over the complete windows.

    Examples
    --------
    >>> w = pd.DataFrame({"phase": "baseline", "partial": [False, False, True],
    ...     "ecg_valid": [True, False, True], "ecg_reason": ["", "flat signal", ""],
    ...     "eda_valid": [True, True, True], "eda_reason": ""})
    >>> excluded_windows(w)["ecg"]
    {'n_excluded': 1, 'reasons': {'flat signal': 1}}
    """
    if windows is None or not len(windows):
        return {"n_windows": 0, "n_partial": 0}
    w = windows[windows["phase"].isin(PHYSIO_PHASES)]
    partial = w["partial"].astype(str).str.lower().isin(["true", "1", "1.0"])
    full = w[~partial]
    out: dict[str, Any] = {"n_windows": int(len(full)), "n_partial": int(partial.sum())}
    for signal in ("ecg", "eda"):
        valid = full[f"{signal}_valid"].astype(str).str.lower().isin(["true", "1", "1.0"])
        reasons = full.loc[~valid, f"{signal}_reason"].fillna("").astype(str)
        reasons = reasons.replace({"": "no reason given", "n/a": "no reason given"})
        out[signal] = {"n_excluded": int((~valid).sum()),
                       "reasons": {str(k): int(v) for k, v in reasons.value_counts().items()}}
    return out


def protocol_summary(blocks: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Phase durations of the protocol the recordings were processed with."""
    paths = {_get(b, "settings.protocol_path") for b in blocks.values()}
    path = next(iter(paths)) if len(paths) == 1 else None
    try:
        protocol = load_protocol(path)
    except Exception as exc:  # noqa: BLE001 -- a missing protocol is stated, not fatal
        return {"error": f"protocol not readable: {exc}"}
    source = "shipped protocol" if path is None else Path(str(path)).name
    return {"source": source,
            "phases_s": {p.name: p.duration_s for p in protocol.phases if p.duration_s > 0},
            "conditions_s": {k: c.duration_s for k, c in protocol.conditions.items()}}


def physio_methods_summary(raw_root: Path, deriv_root: Path,
                           windows: pd.DataFrame | None = None) -> dict[str, Any]:
    """What the methods text and the checklist say, gathered from every recording.

    Parameters
    ----------
    raw_root, deriv_root : Path
        The raw dataset (which sessions exist) and the physiology derivatives.
    windows : DataFrame, optional
        The group windows table (for the windows left out and why).

    Returns
    -------
    dict
        ``n_recordings``, ``n_with_sidecar``, ``items`` (checklist key -> ``{"value",
        "source"}``), ``corrected_beats``, ``excluded_windows``, ``non_responders``,
        ``manual_corrections`` and ``protocol``: plain JSON, written to ``report.json``.
    """
    blocks, missing, n = read_provenance_blocks(raw_root, deriv_root)
    summary: dict[str, Any] = {
        "n_recordings": n, "n_with_sidecar": len(blocks), "missing": missing,
        "corrected_beats": corrected_beats(blocks),
        "excluded_windows": excluded_windows(windows),
        "non_responders": {"n": sum(bool(_get(b, "quality.non_responder"))
                                    for b in blocks.values()),
                           "of": sum(_get(b, "quality.non_responder") is not None
                                     for b in blocks.values())},
        "manual_corrections": manual_corrections(blocks),
        "protocol": protocol_summary(blocks),
    }
    summary["numbers"] = {key: _over(blocks, lambda b, path=path: _get(b, path), unit)
                          for key, path, unit in NUMBERS}
    summary["items"] = checklist_values(blocks, summary)
    return summary


#: Numbers the methods text quotes: (name, sidecar path, unit).
NUMBERS: tuple[tuple[str, str, str], ...] = (
    ("ecg_rate", "methods.ecg.sampling_rate_hz", " Hz"),
    ("eda_rate", "methods.eda.input_rate_hz", " Hz"),
    ("rsp_rate", "methods.rsp.belt.sampling_rate_hz", " Hz"),
    ("window_s", "settings.window_s", ""),
    ("cleaning", "methods.ecg.method.cleaning", ""),
    ("correction", "methods.ecg.method.correction", ""),
    ("detector_method", "methods.ecg.method.method", ""),
    ("detector", "methods.ecg.method.detector", ""),
    ("min_nn_pairs", "methods.hrv.validity.min_nn_pairs", ""),
    ("max_excluded_diff_pct", "methods.hrv.validity.max_excluded_diff_pct", " %"),
    ("max_corrected_hr_pct", "methods.hrv.validity.max_corrected_hr_pct", " %"),
    ("min_hf_window_s", "methods.hrv.validity.min_hf_window_s", " s"),
    ("hf_breathing_band", "methods.rsp.rules.hf_breathing_band_bpm", " breaths/min"),
    ("decompose", "methods.eda.decompose_method", ""),
    ("eda_lowpass", "methods.eda.lowpass_hz", " Hz"),
    ("eda_working_rate", "methods.eda.working_rate_hz", " Hz"),
    ("scr_threshold", "methods.eda.scr_min_amplitude_us", " µS"),
    ("belt_counter", "methods.rsp_quality.belt_counter", ""),
)


#: The counts of soothe's edit record (``physio.edits_apply.EditLog.summary``) that are
#: beats corrected by hand.
HAND_BEAT_KEYS = ("beats_added", "beats_deleted", "beats_moved")


def hand_edits(found: dict[str, Any]) -> dict[str, Any]:
    """What one recording's edit record (``manual_corrections``) says, in report terms.

    Examples
    --------
    >>> e = hand_edits({"beats_added": 1, "beats_deleted": 2, "beats_moved": 0,
    ...                 "n_beats": 900, "unusable_s": {"ecg": 12.0}, "reviewed": True})
    >>> e["beats"], e["n_beats"], e["unusable_s"], e["scrs"], e["reviewed"]
    (3, 900, {'ecg': 12.0}, 0, True)
    """
    counts = {k: int(found.get(k) or 0) for k in HAND_BEAT_KEYS}
    return {"beats": sum(counts.values()), "added": counts["beats_added"],
            "deleted": counts["beats_deleted"], "moved": counts["beats_moved"],
            "n_beats": found.get("n_beats"), "unusable_s": dict(found.get("unusable_s") or {}),
            "scrs": int(found.get("scrs_deleted") or 0) + int(found.get("scrs_restored") or 0),
            "reviewed": bool(found.get("reviewed"))}


def manual_corrections(blocks: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Manual corrections recorded in the sidecars, per recording (none when absent).

    soothe's edit files are recorded as a ``manual_corrections`` dict in the provenance
    block (:func:`hand_edits`: beats added, deleted and moved, time marked unusable, SCRs,
    the review); another review tool may record a list (one entry per correction) or a
    count. Phase boundary overrides (``overrides``) count as manual corrections of the
    phases.

    Examples
    --------
    >>> manual_corrections({"a": {"manual_corrections": [{"beat": 3}]}, "b": {}})
    {'beats': {'a': 1}, 'phases': {}, 'edits': {}}
    >>> mc = manual_corrections({"a": {"manual_corrections": {"beats_deleted": 2}}})
    >>> mc["beats"], mc["edits"]["a"]["deleted"]
    ({'a': 2}, 2)
    """
    beats, phases, edits = {}, {}, {}
    for name, block in blocks.items():
        found = block.get("manual_corrections")
        if isinstance(found, dict) and ("status" in found or
                                        any(k in found for k in HAND_BEAT_KEYS)):
            edits[name] = hand_edits(found)
            count = edits[name]["beats"]
        else:
            count = len(found) if isinstance(found, list | dict) else int(found or 0)
        if count:
            beats[name] = count
        if block.get("overrides"):
            phases[name] = len(block["overrides"])
    return {"beats": beats, "phases": phases, "edits": edits}


def manual_corrections_sentence(manual: dict[str, Any], n_recordings: int) -> str:
    """The methods' sentence on what analysts corrected by hand (GRAPH asks for it).

    Examples
    --------
    >>> mc = manual_corrections({"a": {"manual_corrections": {
    ...     "beats_added": 1, "beats_deleted": 2, "beats_moved": 1, "n_beats": 800,
    ...     "unusable_s": {"ecg": 12.0, "eda": 30.0, "resp": 0}, "reviewed": True}},
    ...     "b": {"manual_corrections": {"status": "reviewed", "n_beats": 1200,
    ...                                  "reviewed": True}}, "c": {}})
    >>> manual_corrections_sentence(mc, 3)  # doctest: +NORMALIZE_WHITESPACE
    '4 beats were corrected by hand in 1 recording (0.50 % of its 800 beats: 1 added,
    2 deleted, 1 moved); 42 s of signal were marked unusable by hand in 1 recording
    (ECG 12 s, EDA 30 s). 2 of the 3 recordings were reviewed by an analyst.'
    >>> manual_corrections_sentence({"beats": {}, "phases": {}, "edits": {}}, 3)
    'No manual corrections are recorded in the sidecars.'
    """
    edits = manual.get("edits") or {}
    beats, phases = manual.get("beats") or {}, manual.get("phases") or {}
    if not beats and not phases and not edits:
        return "No manual corrections are recorded in the sidecars."
    if not edits:  # corrections recorded by another tool
        return (f"Manual corrections: beats in {len(beats)} recording(s), phase "
                f"boundaries in {len(phases)} recording(s).")
    parts = [_hand_beats_text(edits)]
    unusable = _hand_unusable_text(edits)
    if unusable:
        parts.append(unusable)
    scrs = sum(e["scrs"] for e in edits.values())
    if scrs:
        parts.append(f"{scrs} SCR(s) were deleted or restored by hand")
    other = {k: v for k, v in beats.items() if k not in edits}
    if other:
        parts.append(f"beats were corrected with another tool in {len(other)} recording(s) "
                     f"({sum(other.values())} corrections)")
    if phases:
        parts.append(f"phase boundaries were set by hand in {len(phases)} recording(s)")
    text = "; ".join(parts)
    n_rev = sum(e["reviewed"] or e["beats"] > 0 for e in edits.values())
    return (text[0].upper() + text[1:] + f". {n_rev} of the {n_recordings} recordings "
            f"{'was' if n_rev == 1 else 'were'} reviewed by an analyst.")


def _recordings(n: int) -> str:
    return f"{n} recording" + ("" if n == 1 else "s")


def _hand_beats_text(edits: dict[str, dict[str, Any]]) -> str:
    """'N beats were corrected by hand in M recordings (X % of their beats: ...)'."""
    done = [e for e in edits.values() if e["beats"]]
    if not done:
        return "no beats were corrected by hand"
    n = sum(e["beats"] for e in done)
    total = sum(int(e["n_beats"] or 0) for e in done)
    kinds = ", ".join(f"{sum(e[k] for e in done)} {k}" for k in ("added", "deleted", "moved"))
    share = (f"{100 * n / total:.2f} % of {'its' if len(done) == 1 else 'their'} {total} "
             f"beats: {kinds}" if total else kinds)
    return (f"{n} beat{'' if n == 1 else 's'} {'was' if n == 1 else 'were'} corrected by hand "
            f"in {_recordings(len(done))} ({share})")


def _hand_unusable_text(edits: dict[str, dict[str, Any]]) -> str:
    """'U s of signal were marked unusable by hand in K recordings (ECG a s, ...)'."""
    labels = {"ecg": "ECG", "eda": "EDA", "resp": "belt"}
    per = {ch: sum(float((e["unusable_s"] or {}).get(ch) or 0) for e in edits.values())
           for ch in labels}
    total = sum(per.values())
    if not total:
        return ""
    k = sum(1 for e in edits.values() if sum((e["unusable_s"] or {}).values()))
    detail = ", ".join(f"{labels[ch]} {v:g} s" for ch, v in per.items() if v)
    return (f"{total:g} s of signal were marked unusable by hand in {_recordings(k)} "
            f"({detail})")


def _range_text(values: Any, unit: str) -> str:
    if isinstance(values, list | tuple) and len(values) == 2:
        return f"{_fmt(values[0])}–{_fmt(values[1])}{unit}"
    return "" if values is None else f"{_fmt(values)}{unit}"


#: The checklist rows in order: (key, checklist, item). Keys in :data:`REQUIRED_KEYS`
#: are determined by the data; the others are :data:`TO_REPORT`.
CHECKLIST: tuple[tuple[str, str, str], ...] = (
    ("protocol_phases", "GRAPH; Laborde 2017", "Baseline, task and recovery durations"),
    ("window_length", "GRAPH; SPR 2024", "Analysis window length"),
    ("ecg_sampling_rate", "GRAPH; SPR 2024", "ECG sampling rate"),
    ("ecg_filter", "SPR 2024", "ECG filters (type, order, band)"),
    ("r_peak_detector", "GRAPH; SPR 2024", "R-peak detection method"),
    ("r_peak_reference", "SPR 2024", "R-peak detector reference"),
    ("artefact_method", "GRAPH; SPR 2024", "Artefact detection and correction method"),
    ("beats_corrected", "GRAPH; SPR 2024", "Beats corrected per recording (%)"),
    ("ecg_windows_excluded", "GRAPH; SPR 2024", "ECG windows excluded, per reason"),
    ("ecg_quality_rule", "GRAPH; SPR 2024", "ECG signal-quality rule (are the beats heartbeats?)"),
    ("hrv_indices", "GRAPH; SPR 2024", "HR and HRV indices"),
    ("vagal_index", "Laborde 2017", "Vagal index and why"),
    ("hrv_transform", "GRAPH; Laborde 2017", "Transformation of HRV indices"),
    ("hf_band", "GRAPH; SPR 2024", "HF band"),
    ("spectral_method", "SPR 2024", "Spectral method (interpolation, PSD)"),
    ("hrv_validity", "SPR 2024", "Minimum data for an HRV value"),
    ("rsp_sampling_rate", "Laborde 2017", "Respiration sampling rate"),
    ("rsp_filter", "Laborde 2017", "Respiration filter"),
    ("breathing_rule", "GRAPH; Laborde 2017", "Breathing rate and the HF band"),
    ("breathing_quality_rule", "Laborde 2017", "Breathing-rate quality rule (belt and ECG)"),
    ("eda_sampling_rate", "Boucsein 2012", "EDA sampling rate"),
    ("eda_units", "Boucsein 2012", "EDA units"),
    ("eda_filter", "Boucsein 2012", "EDA filter (type, order, cut-off)"),
    ("scl_definition", "Boucsein 2012", "SCL definition"),
    ("scr_method", "Boucsein 2012", "SCR scoring method"),
    ("scr_criterion", "Boucsein 2012", "SCR amplitude criterion"),
    ("scr_rise_time", "Boucsein 2012", "SCR rise-time limits"),
    ("scr_latency", "Boucsein 2012", "SCR latency window"),
    ("eda_windows_excluded", "Boucsein 2012", "EDA windows excluded, per reason"),
    ("eda_artefact_rule", "Boucsein 2012", "EDA artefact detection and handling"),
    ("eda_non_responders", "Boucsein 2012", "EDA non-responders"),
    ("engine", "GRAPH; SPR 2024", "Processing software and engine"),
    ("package_versions", "GRAPH", "Package versions"),
    ("manual_corrections", "GRAPH; SPR 2024", "Manual corrections"),
    ("ecg_electrodes", "GRAPH; SPR 2024", "ECG electrode placement (lead) and type"),
    ("eda_electrodes", "Boucsein 2012", "EDA electrode site, type, area and gel"),
    ("eda_circuit", "Boucsein 2012", "EDA recording method (constant voltage/current)"),
    ("posture", "GRAPH; Laborde 2017", "Body position"),
    ("room_temperature", "Boucsein 2012", "Room temperature and humidity"),
    ("time_of_day", "GRAPH", "Time of day of the sessions"),
    ("medication", "GRAPH; SPR 2024", "Medication, caffeine, nicotine, alcohol, exercise"),
    ("health", "GRAPH", "Health conditions (cardiac, psychiatric) and BMI"),
    ("breathing_control", "Laborde 2017", "Breathing instructions (paced or spontaneous)"),
)

#: Items a lab must give by hand (soothe cannot observe them).
HAND_KEYS: tuple[str, ...] = ("ecg_electrodes", "eda_electrodes", "eda_circuit", "posture",
                              "room_temperature", "time_of_day", "medication", "health",
                              "breathing_control")
#: Items the data determine: each must have a value (tested).
REQUIRED_KEYS: tuple[str, ...] = tuple(k for k, _, _ in CHECKLIST if k not in HAND_KEYS)


def _reasons_text(counts: dict[str, Any]) -> str:
    n = int(counts.get("n_excluded", 0))
    reasons = counts.get("reasons", {})
    return f"{n}" + (" (" + "; ".join(f"{k}: {v}" for k, v in reasons.items()) + ")"
                     if reasons else "")


def _over(blocks: dict[str, dict[str, Any]], text, unit: str = "") -> str:
    """``distinct_text`` of ``text(block)`` over the recordings (None values skipped)."""
    return distinct_text([text(b) for b in blocks.values()], unit)


def checklist_values(blocks: dict[str, dict[str, Any]], summary: dict[str, Any]
                     ) -> dict[str, dict[str, str]]:
    """Checklist key -> ``{"value", "source"}`` for every item of :data:`CHECKLIST`."""
    f = {key: _field(blocks, path, unit) for key, path, unit in (
        ("ecg_sampling_rate", "methods.ecg.sampling_rate_hz", " Hz"),
        ("artefact_method", "methods.ecg.method.correction", ""),
        ("hrv_indices", "methods.hrv.time_domain", ""),
        ("hrv_validity", "methods.hrv.validity.rule", ""),
        ("vagal_index", "methods.vagal_index.primary_why", ""),
        ("rsp_sampling_rate", "methods.rsp.belt.sampling_rate_hz", " Hz"),
        ("breathing_rule", "methods.rsp.rules.hf_rule", ""),
        ("eda_sampling_rate", "methods.eda.input_rate_hz", " Hz"),
        ("scl_definition", "methods.eda_windows.scl_us", ""),
        ("scr_method", "methods.eda.scr_method", ""),
        ("scr_criterion", "methods.eda.scr_min_amplitude_us", " µS"),
        ("window_length", "settings.window_s", " s"),
    )}
    f.update(ecg_items(blocks))
    f.update(eda_items(blocks))
    f.update(quality_items(blocks))
    _add_summary_items(f, blocks, summary)
    return {key: f.get(key, {"value": TO_REPORT, "source": "not in the data"})
            for key, _, _ in CHECKLIST}


def ecg_items(blocks: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Filters, detector and its reference, HF band, spectral method, transform, belt."""
    def spectral(b: dict[str, Any]) -> str | None:
        hf = _get(b, "methods.hrv.hf") or {}
        if not hf.get("psd"):
            return None
        return (f"{hf.get('interpolation')} interpolation at {_fmt(hf.get('interpolation_hz'))}"
                f" Hz, {hf.get('detrend')} detrend, {hf.get('psd')} PSD with "
                f"{hf.get('welch_window')} windows of {_fmt(hf.get('welch_segment_s'))} s and "
                f"{_fmt(hf.get('welch_overlap'))} overlap")

    def belt(b: dict[str, Any]) -> str | None:
        band = _range_text(_get(b, "methods.rsp.belt.band_hz"), " Hz")
        return f"{_get(b, 'methods.rsp.belt.filter')}, {band}" if band else None

    cleaning = _over(blocks, lambda b: _get(b, "methods.ecg.method.cleaning"))
    detection = _over(blocks, lambda b: _get(b, "methods.ecg.method.detection_resampling"))
    method = _over(blocks, lambda b: _get(b, "methods.ecg.method.method"))
    detector = _over(blocks, lambda b: _get(b, "methods.ecg.method.detector"))
    return {
        "ecg_filter": {"value": "; for R-peak detection: ".join(x for x in (cleaning, detection)
                                                                if x),
                       "source": SIDECAR + "methods.ecg.method.cleaning, .detection_resampling"},
        "r_peak_detector": {"value": f"{method} ({detector})" if detector else method,
                            "source": SIDECAR + "methods.ecg.method.method, .detector"},
        "r_peak_reference": {"value": _over(blocks, lambda b: "; ".join(
            _get(b, "methods.ecg.method.citations") or []) or None),
            "source": SIDECAR + "methods.ecg.method.citations"},
        "hf_band": {"value": _over(blocks, lambda b: _range_text(
            _get(b, "methods.hrv.hf.band_hz"), " Hz") or None),
            "source": SIDECAR + "methods.hrv.hf.band_hz"},
        "spectral_method": {"value": _over(blocks, spectral),
                            "source": SIDECAR + "methods.hrv.hf"},
        "hrv_transform": {"value": _over(blocks, lambda b: (
            f"natural log: ln RMSSD ({_get(b, 'methods.vagal_index.primary')}); "
            f"{_get(b, 'methods.hrv.hf.lnhf')}") if _get(b, "methods.vagal_index.primary")
            else None), "source": SIDECAR + "methods.vagal_index.primary, methods.hrv.hf.lnhf"},
        "rsp_filter": {"value": _over(blocks, belt),
                       "source": SIDECAR + "methods.rsp.belt.filter, .band_hz"},
    }


def eda_items(blocks: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    """EDA units, filter, SCR rise-time limits and latency."""
    lowpass = _over(blocks, lambda b: _get(b, "methods.eda.lowpass_hz"), " Hz")
    working = _over(blocks, lambda b: _get(b, "methods.eda.working_rate_hz"), " Hz")
    rise = _over(blocks, lambda b: _range_text(_get(b, "methods.eda.scr_rise_s"), " s") or None)
    kind = _over(blocks, lambda b: _get(b, "methods.eda.lowpass_filter"))
    return {
        "eda_units": {"value": "µS (recorded in " + _over(
            blocks, lambda b: _get(b, "methods.eda.input_units")) + ")" if blocks else "",
            "source": SIDECAR + "methods.eda.input_units"},
        "eda_filter": {"value": f"{kind or EDA_LOWPASS_FILTER} at {lowpass}; processed at "
                       f"{working}" if lowpass else "",
                       "source": SIDECAR + ("methods.eda.lowpass_filter, .lowpass_hz, "
                                            ".working_rate_hz" if kind else
                                            "methods.eda.lowpass_hz, .working_rate_hz (type "
                                            "and order: physio.eda.eda_clean, not in the "
                                            "sidecar)")},
        "scr_rise_time": {"value": rise, "source": SIDECAR + "methods.eda.scr_rise_s"} if rise
        else {"value": f"{SCR_MIN_RISE_S:g}–{SCR_MAX_RISE_S:g} s" if blocks else "",
              "source": "physio.eda.eda_scr.SCR_MIN_RISE_S, SCR_MAX_RISE_S (not in the sidecar)"},
        "scr_latency": {"value": "not applicable: non-specific SCRs during rest and induction "
                        "(no discrete stimuli); SCR rate per minute is reported"
                        if blocks else "", "source": "protocol: no event-related SCR scoring"},
    }


def timing_text(q: dict[str, Any]) -> str:
    """The R-peak timing rule of the sidecar's ``methods.ecg_quality``, in words ('' for
    derivatives written before it existed).

    Examples
    --------
    >>> timing_text({"timing_ambiguity": {"timing_sep_s": [0.02, 0.1], "timing_ratio": 0.8}})[:62]
    '; a beat whose QRS matches the median QRS at least 0.8 times a'
    >>> timing_text({})
    ''
    """
    rule = q.get("timing_ambiguity")
    if not rule:
        return ""
    return (f"; a beat whose QRS matches the median QRS at least {_fmt(rule['timing_ratio'])} "
            f"times as well at a second alignment "
            f"{_range_text([1000 * s for s in rule['timing_sep_s']], ' ms')} away has an "
            "ambiguous R-peak time, and the successive differences involving it are excluded "
            "from RMSSD (Task Force 1996)")


def quality_items(blocks: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    """The signal-quality rules of each channel, in words, from the sidecars' methods.

    Derivatives written before the quality rules existed have none of these blocks: the
    items are then empty, and the checklist shows them as not in the data.
    """
    def ecg(b: dict[str, Any]) -> str | None:
        q = _get(b, "methods.ecg_quality")
        if not q:
            return None
        return (f"{q['method']}: valid when the median correlation is >= "
                f"{_fmt(q['window_corr_min'])}, at most {_fmt(100 * q['max_unmatched_share'])} "
                f"% of beats correlate below {_fmt(q['beat_corr_min'])}, beats cover >= "
                f"{_fmt(100 * q['min_coverage'])} % of the window and HR is "
                f"{_range_text(q['hr_range_bpm'], ' bpm')} (band "
                f"{_range_text(q['quality_band_hz'], ' Hz')}; "
                + "; ".join(q.get("citations", [])) + ")" + timing_text(q))

    def eda(b: dict[str, Any]) -> str | None:
        q = _get(b, "methods.eda_artifacts")
        if not q:
            return None
        return (f"samples outside {_range_text(q['range_us'], ' µS')} or changing faster than "
                f"{_fmt(q['max_slope_us_per_s'])} µS/s are artefacts, padded by "
                f"{_fmt(q['pad_s'])} s and bridged by a straight line; no SCR rising within "
                f"{_fmt(q['pad_s'])} s of one is counted; a window is valid with >= "
                f"{_fmt(100 * q['min_clean_share'])} % clean signal ({q['citation']})")

    def breathing(b: dict[str, Any]) -> str | None:
        q = _get(b, "methods.rsp_quality")
        if not q:
            return None
        return (f"belt rate from {q['belt_counter']}, reported when the belt moves >= "
                f"{_fmt(100 * q['min_amplitude_ratio'])} % of its typical depth, >= "
                f"{_fmt(100 * q['min_band_share'])} % of its power lies in "
                f"{_range_text(q['band_hz'], ' Hz')} and a second counter agrees within "
                f"{_fmt(q['agree_bpm'])} breaths/min; ECG-derived rate: "
                f"{q['edr_rule'].replace('agree_bpm', _fmt(q['agree_bpm']) + ' breaths/min')} ("
                + "; ".join(q.get("citations", [])) + ")")

    return {
        "ecg_quality_rule": {"value": _over(blocks, ecg),
                             "source": SIDECAR + "methods.ecg_quality"},
        "eda_artefact_rule": {"value": _over(blocks, eda),
                              "source": SIDECAR + "methods.eda_artifacts"},
        "breathing_quality_rule": {"value": _over(blocks, breathing),
                                   "source": SIDECAR + "methods.rsp_quality"},
    }


def quality_paragraph(items: dict[str, dict[str, str]]) -> str | None:
    """The signal-quality rules as one paragraph (None when no sidecar has them)."""
    rules = [(label, items[key]["value"]) for label, key in (
        ("ECG", "ecg_quality_rule"), ("Skin conductance", "eda_artefact_rule"),
        ("Breathing", "breathing_quality_rule")) if items.get(key, {}).get("value")]
    if not rules:
        return None
    return ("No value was reported from a signal that did not show the physiology it "
            "measures; the window was set missing with its reason instead. "
            + " ".join(f"{label}: {text}." for label, text in rules))


def _add_summary_items(f: dict[str, dict[str, str]], blocks: dict[str, dict[str, Any]],
                       summary: dict[str, Any]) -> None:
    """Checklist values computed over recordings (corrections, exclusions, versions)."""
    cb = summary["corrected_beats"]
    f["beats_corrected"] = {
        "value": (f"mean {cb['mean']:.2f} % (SD {cb['sd']:.2f}, range {cb['min']:.2f}–"
                  f"{cb['max']:.2f}) over {cb['n']} recordings") if cb["n"] else "",
        "source": SIDECAR + "methods.ecg.method.n_corrected / n_beats"}
    ex = summary["excluded_windows"]
    for signal in ("ecg", "eda"):
        f[f"{signal}_windows_excluded"] = {
            "value": (f"{_reasons_text(ex[signal])} of {ex['n_windows']} complete windows; "
                      f"{ex['n_partial']} partial windows left out")
            if signal in ex else "",
            "source": f"group windows table: {signal}_valid, {signal}_reason, partial"}
    nr = summary["non_responders"]
    f["eda_non_responders"] = {
        "value": f"{nr['n']} of {nr['of']} recordings ({100 * nr['n'] / nr['of']:.0f} %)"
        if nr["of"] else "", "source": SIDECAR + "quality.non_responder"}
    names = list(dict.fromkeys(k for b in blocks.values()
                               for k in (_get(b, "package_versions") or {})))
    f["package_versions"] = {"value": ", ".join(
        f"{k} {distinct_text([_get(b, 'package_versions.' + k) for b in blocks.values()])}"
        for k in names), "source": SIDECAR + "package_versions"}
    engine = _over(blocks, lambda b: _get(b, "settings.engine"))
    soothe = _over(blocks, lambda b: _get(b, "package_versions.soothe"))
    f["engine"] = {"value": f"soothe {soothe}, engine '{engine}'" if engine else "",
                   "source": SIDECAR + "settings.engine, package_versions.soothe"}
    mc = summary["manual_corrections"]
    f["manual_corrections"] = {"value": (
        "none recorded" if not mc["beats"] and not mc["phases"] and not mc.get("edits") else
        manual_corrections_sentence(mc, summary.get("n_recordings", 0)) if mc.get("edits") else
        "; ".join(x for x in (
            f"beats corrected by hand in {len(mc['beats'])} recording(s) "
            f"({sum(mc['beats'].values())} corrections)" if mc["beats"] else "",
            f"phase boundaries set by hand in {len(mc['phases'])} recording(s)"
            if mc["phases"] else "") if x)) if blocks else "",
        "source": SIDECAR + "manual_corrections and overrides"}
    proto = summary["protocol"]
    phases = proto.get("phases_s", {})
    f["protocol_phases"] = {"value": ", ".join(f"{k} {v / 60:g} min" for k, v in phases.items())
                            or proto.get("error", ""),
                            "source": f"protocol ({proto.get('source', '?')}): "
                            "phases[].duration_s"}


def methods_paragraphs(summary: dict[str, Any]) -> list[str]:
    """The physiology methods in words a paper can use (one paragraph per topic).

    Every number comes from the sidecars, the group windows table or the protocol
    (:func:`physio_methods_summary`); a value that differs between recordings is given with
    its number of recordings.
    """
    if not summary.get("n_with_sidecar"):
        return [f"None of the {summary.get('n_recordings', 0)} recordings has a windows "
                "sidecar with a provenance block, so the physiology methods cannot be written "
                "from the data; report them by hand."]
    num, items = summary["numbers"], summary["items"]
    cb, ex, nr = summary["corrected_beats"], summary["excluded_windows"], summary["non_responders"]
    phases = summary["protocol"].get("phases_s", {})
    timeline = [f"{k} ({v / 60:g} min)" for k, v in phases.items()]
    timeline_text = ", ".join(timeline[:-1]) + f" and {timeline[-1]}" if timeline else "phases"
    versions = ", ".join(x for x in items["package_versions"]["value"].split(", ")
                         if not x.startswith("soothe "))
    out = [
        f"Physiology was analysed in the protocol's {timeline_text}. The ECG was sampled at "
        f"{num['ecg_rate']}, skin conductance at {num['eda_rate']} and respiration (belt) at "
        f"{num['rsp_rate']}; each channel was processed at its own rate with "
        f"{items['engine']['value']} ({versions}).",
        f"ECG: {num['cleaning']}. R peaks were detected with the {num['detector_method']}: "
        f"{num['detector']} ({items['r_peak_reference']['value']}). "
        f"Beats were classified and corrected with the method of {num['correction']}; "
        + (f"{cb['mean']:.2f} % of beats (SD {cb['sd']:.2f}, range {cb['min']:.2f}–"
           f"{cb['max']:.2f}) were corrected per recording." if cb["n"] else
           "the share of beats corrected is not recorded."),
        f"HR, RMSSD and SDNN were computed per {num['window_s']}-s window of each phase from "
        "the normal-to-normal intervals; RMSSD was log-transformed (ln RMSSD), the per-minute "
        "vagal index (Laborde et al., 2017). A window's RMSSD and SDNN were set missing when "
        f"fewer than {num['min_nn_pairs']} normal-to-normal successive differences remained or "
        f"more than {num['max_excluded_diff_pct']} of them were excluded, its HR when more than "
        f"{num['max_corrected_hr_pct']} of beats were flagged. HF power "
        f"({items['hf_band']['value']}) was computed per phase in segments of at least "
        f"{num['min_hf_window_s']} ({items['spectral_method']['value']}) and set missing when the "
        f"median breathing rate was outside {num['hf_breathing_band']}, where respiratory "
        "sinus arrhythmia leaves the HF band. " + breathing_sentence(
            items["rsp_filter"]["value"], num["belt_counter"]),
        f"Skin conductance (µS) was low-pass filtered ({EDA_LOWPASS_FILTER}, "
        f"{num['eda_lowpass']}) and processed at {num['eda_working_rate']}. SCL was the mean "
        f"of the tonic (SCR-free) component per window ({num['decompose']} decomposition). "
        f"SCRs were scored trough to peak on the 1 Hz smoothed signal with an amplitude "
        f"criterion of {num['scr_threshold']} and rise times of "
        f"{items['scr_rise_time']['value']}; the SCRs are non-specific (no discrete stimuli), "
        "so no latency window applies and the SCR rate per minute is reported. "
        + (f"EDA non-responders (no SCR in the whole recording): {nr['n']} of {nr['of']} "
           f"recordings ({100 * nr['n'] / nr['of']:.0f} %)." if nr["of"] else ""),
        data_loss_sentence(ex, summary["manual_corrections"], summary.get("n_recordings", 0)),
    ]
    quality = quality_paragraph(items)
    if quality:
        out.insert(-1, quality)
    return out


def breathing_sentence(belt_filter: str, counter: str) -> str:
    """How the breathing rate was measured: the belt's filter, the counter whose rate is
    reported (the sidecar's ``methods.rsp_quality.belt_counter``) and the quality rule that
    decides where it is reported; without a recorded counter, the filter alone.

    Examples
    --------
    >>> breathing_sentence("Butterworth 0.05-0.7 Hz", "count-adv (Schäfer & Kratky 2008)")[:74]
    'Breathing rate was measured from the belt (Butterworth 0.05-0.7 Hz): the r'
    >>> breathing_sentence("Butterworth 0.05-0.7 Hz", "")
    'Breathing rate was measured from the belt (Butterworth 0.05-0.7 Hz).'
    """
    if not counter:
        return f"Breathing rate was measured from the belt ({belt_filter})."
    return (f"Breathing rate was measured from the belt ({belt_filter}): the rate reported "
            f"per window is that of {counter}, and only where the belt passes its quality "
            "rule (below); elsewhere the ECG-derived rate stands in where it is valid, and "
            "the window has no breathing rate otherwise.")


def data_loss_sentence(ex: dict[str, Any], manual: dict[str, Any], n_recordings: int = 0
                       ) -> str:
    """Windows excluded per signal and reason, partial windows, and manual corrections.

    Examples
    --------
    >>> data_loss_sentence({"n_windows": 10, "n_partial": 1,
    ...     "ecg": {"n_excluded": 2, "reasons": {"flat signal": 2}},
    ...     "eda": {"n_excluded": 0, "reasons": {}}}, {"beats": {}, "phases": {}})[64:112]
    '2 ECG windows (20.0 %; flat signal: 2) and 0 EDA'
    """
    n = ex.get("n_windows", 0)
    if not n:
        return "No group windows table was found, so the windows excluded are not reported."
    parts = []
    for signal, label in (("ecg", "ECG"), ("eda", "EDA")):
        k = ex[signal]["n_excluded"]
        reasons = "; ".join(f"{r}: {c}" for r, c in ex[signal]["reasons"].items())
        parts.append(f"{k} {label} windows ({100 * k / n:.1f} %" + (f"; {reasons})" if reasons
                                                                      else ")"))
    hand = manual_corrections_sentence(manual, n_recordings)
    return (f"Of the {n} complete windows of baseline, induction and recovery, "
            f"{' and '.join(parts)} were excluded; {ex['n_partial']} partial windows (a "
            f"phase's remainder shorter than a window) were left out. {hand}")


def checklist_table(summary: dict[str, Any]) -> pd.DataFrame:
    """One row per checklist item: checklist, item, value (or 'to report') and source.

    Examples
    --------
    >>> t = checklist_table({"items": {}})
    >>> t.columns.tolist(), bool(t["value"].eq(TO_REPORT).all())
    (['checklist', 'item', 'value', 'source'], True)
    """
    items = summary.get("items", {})
    rows = [{"checklist": guideline, "item": item,
             "value": items.get(key, {}).get("value") or TO_REPORT,
             "source": items.get(key, {}).get("source") or "not in the data"}
            for key, guideline, item in CHECKLIST]
    return pd.DataFrame(rows, columns=["checklist", "item", "value", "source"])
