"""Provenance of the physiology derivatives, collected for the report.

``soothe physio process`` writes a ``SootheProvenance`` block into every recording's
windows sidecar (``*_desc-windows_physio.json``): the processing settings and their hash,
``code_sha256`` (a hash of the pipeline's own source) and the package versions, among
them neurokit2. The report repeats which settings, code versions and neurokit2 versions
produced the windows it analyses, with how many recordings each, so that a dataset
processed piecemeal with different pipeline versions is visible at a glance.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from conditions import bids
from physio.outputs import PROVENANCE_KEY

#: Settings that name the recording, not how it was processed: never compared.
IDENTITY_SETTINGS: tuple[str, ...] = ("participant", "session")


def processing_settings(settings: dict[str, Any] | None) -> dict[str, Any]:
    """A recording's settings without its identity labels (participant, session).

    Examples
    --------
    >>> processing_settings({"window_s": 60.0, "participant": "003", "session": "1"})
    {'window_s': 60.0}
    """
    return {k: v for k, v in (settings or {}).items() if k not in IDENTITY_SETTINGS}


def _settings_key(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()
                          ).hexdigest()


def settings_differences(per_recording: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Every processing setting whose value is not the same for all recordings.

    Returns one dict per such setting: ``setting`` and ``values`` (the value as text ->
    the recordings with it, the most common value first). A setting absent from a
    recording's sidecar counts as the value ``'absent'``.

    Examples
    --------
    >>> d = settings_differences({"a": {"x": 1, "y": 0.05}, "b": {"x": 1, "y": 0.05},
    ...                           "c": {"x": 1, "y": 0.1}})
    >>> d == [{"setting": "y", "values": {"0.05": ["a", "b"], "0.1": ["c"]}}]
    True
    """
    keys = list(dict.fromkeys(k for s in per_recording.values() for k in s))
    out = []
    for key in keys:
        groups: dict[str, list[str]] = {}
        for name, settings in per_recording.items():
            value = json.dumps(settings[key], default=str) if key in settings else "absent"
            groups.setdefault(value.strip('"'), []).append(name)
        if len(groups) > 1:
            ordered = sorted(groups.items(), key=lambda kv: -len(kv[1]))
            out.append({"setting": key, "values": dict(ordered)})
    return out


def physio_provenance(raw_root: Path, deriv_root: Path) -> dict[str, Any]:
    """Summarise the ``SootheProvenance`` blocks of every recording's windows sidecar.

    Sidecars are located through the data contract (:class:`conditions.bids.SessionFiles`
    of each raw session, ``windows_json(deriv_root)``). Settings are compared without the
    recording's identity labels (:data:`IDENTITY_SETTINGS`), so recordings processed alike
    form one settings set whether or not their ``settings_sha256`` includes the labels.

    Returns
    -------
    dict
        ``n_sessions``, ``n_with_provenance``, ``missing`` (sessions without a readable
        block), ``settings`` (list of ``{settings_sha256, settings, n}``, one per distinct
        processing-settings set), ``setting_differences`` (:func:`settings_differences`),
        ``code_sha256`` (hash -> n), ``neurokit2`` (version -> n), ``package_versions``
        (list of ``{versions, n}``), ``processed_at`` (first, last) and ``recordings`` (per
        session: settings and code hashes, neurokit2 version).

    Examples
    --------
    >>> import tempfile
    >>> from analysis.synthetic import synthetic_study_tables, write_synthetic_dataset
    >>> d = Path(tempfile.mkdtemp())
    >>> write_synthetic_dataset(synthetic_study_tables(1, seed=0), d / "raw", d / "deriv")
    >>> s = physio_provenance(d / "raw", d / "deriv")
    >>> s["n_sessions"], s["n_with_provenance"], len(s["missing"])
    (5, 0, 5)
    """
    blocks, missing, n_sessions = read_provenance_blocks(raw_root, deriv_root)
    recordings: dict[str, dict[str, Any]] = {}
    per_recording: dict[str, dict[str, Any]] = {}
    settings: dict[str, dict[str, Any]] = {}
    sidecar_hashes: dict[str, set[str]] = {}
    settings_n: Counter[str] = Counter()
    code: Counter[str] = Counter()
    nk: Counter[str] = Counter()
    versions: dict[str, dict[str, str]] = {}
    versions_n: Counter[str] = Counter()
    times: list[str] = []
    for name, block in blocks.items():
        per_recording[name] = processing_settings(block.get("settings"))
        s_key = _settings_key(per_recording[name])
        s_hash = str(block.get("settings_sha256", "n/a"))
        settings.setdefault(s_key, per_recording[name])
        sidecar_hashes.setdefault(s_key, set()).add(s_hash)
        settings_n[s_key] += 1
        c_hash = str(block.get("code_sha256", "n/a"))
        code[c_hash] += 1
        pv = block.get("package_versions", {}) or {}
        nk[str(pv.get("neurokit2", "n/a"))] += 1
        v_key = json.dumps(pv, sort_keys=True)
        versions.setdefault(v_key, pv)
        versions_n[v_key] += 1
        if block.get("processed_at"):
            times.append(str(block["processed_at"]))
        recordings[name] = {"settings_sha256": s_hash, "code_sha256": c_hash,
                            "neurokit2": str(pv.get("neurokit2", "n/a")),
                            "processed_at": block.get("processed_at")}
    return {
        "source": f"'{PROVENANCE_KEY}' block of each recording's windows sidecar in the "
                  "derivatives",
        "n_sessions": n_sessions,
        "n_with_provenance": len(recordings),
        "missing": missing,
        "identity_settings_ignored": list(IDENTITY_SETTINGS),
        "settings": [{"settings_sha256": next(iter(sidecar_hashes[k]))
                      if len(sidecar_hashes[k]) == 1 else "per recording (includes labels)",
                      "settings": settings[k], "n": n} for k, n in settings_n.most_common()],
        "setting_differences": settings_differences(per_recording),
        "code_sha256": dict(code.most_common()),
        "neurokit2": dict(nk.most_common()),
        "package_versions": [{"versions": versions[k], "n": n}
                             for k, n in versions_n.most_common()],
        "processed_at": [min(times), max(times)] if times else [],
        "recordings": recordings,
    }


def read_provenance_blocks(raw_root: Path, deriv_root: Path
                           ) -> tuple[dict[str, dict[str, Any]], list[str], int]:
    """``({recording: provenance block}, [recordings without one], number of sessions)``.

    Recordings are named ``sub-<label>_ses-<label>``, in the raw dataset's order.
    """
    blocks: dict[str, dict[str, Any]] = {}
    missing: list[str] = []
    n_sessions = 0
    for files in bids.iter_sessions(raw_root):
        n_sessions += 1
        name = f"sub-{files.subject}_ses-{files.session}"
        try:
            block = json.loads(files.windows_json(deriv_root).read_text(encoding="utf-8")
                               ).get(PROVENANCE_KEY)
        except (OSError, ValueError, AttributeError):
            block = None
        if isinstance(block, dict):
            blocks[name] = block
        else:
            missing.append(name)
    return blocks, missing, n_sessions


def provenance_summary_table(summary: dict[str, Any]) -> pd.DataFrame:
    """One row per distinct settings set, code hash and package-version set, with counts.

    Examples
    --------
    >>> s = {"settings": [{"settings_sha256": "a" * 64, "settings": {"window_s": 60}, "n": 3}],
    ...      "code_sha256": {"b" * 64: 2, "c" * 64: 1},
    ...      "package_versions": [{"versions": {"neurokit2": "0.2.13"}, "n": 3}]}
    >>> provenance_summary_table(s)["recordings"].tolist()
    [3, 2, 1, 3]
    """
    rows = []
    for s in summary.get("settings", []):
        shown = ", ".join(f"{k}={v}" for k, v in (s["settings"] or {}).items()
                          if v is not None)
        sha = str(s["settings_sha256"])
        rows.append({"what": "settings", "sha256": sha[:12] if len(sha) == 64 else sha,
                     "details": shown, "recordings": int(s["n"])})
    for h, n in summary.get("code_sha256", {}).items():
        rows.append({"what": "pipeline code (code_sha256)", "sha256": str(h)[:12],
                     "details": "hash of the physio/ and conditions/ source used",
                     "recordings": int(n)})
    for v in summary.get("package_versions", []):
        shown = ", ".join(f"{k} {val}" for k, val in v["versions"].items())
        rows.append({"what": "package versions", "sha256": "", "details": shown,
                     "recordings": int(v["n"])})
    return pd.DataFrame(rows, columns=["what", "sha256", "details", "recordings"])


def provenance_sentence(summary: dict[str, Any]) -> str:
    """Plain words: how many recordings, how many distinct settings and code versions, and
    the warning of :func:`provenance_warning` when the recordings really differ.

    Examples
    --------
    >>> provenance_sentence({"n_sessions": 2, "n_with_provenance": 2, "missing": [],
    ...     "settings": [{"n": 2}], "code_sha256": {"x": 1, "y": 1},
    ...     "neurokit2": {"0.2.13": 2}})[:58]
    '2 of 2 recordings carry a provenance block: 1 settings set'
    """
    n, k = int(summary.get("n_sessions", 0)), int(summary.get("n_with_provenance", 0))
    if k == 0:
        return (f"None of the {n} recordings has a physiology provenance block (windows "
                "sidecars absent or not written by soothe physio process); the settings and "
                "code that produced the windows cannot be traced from the derivatives.")
    n_set, n_code = len(summary.get("settings", [])), len(summary.get("code_sha256", {}))
    nk = ", ".join(f"{v} ({c})" for v, c in summary.get("neurokit2", {}).items())
    text = (f"{k} of {n} recordings carry a provenance block: {n_set} settings set(s) and "
            f"{n_code} pipeline code version(s) (code_sha256); neurokit2 {nk}.")
    warning = provenance_warning(summary)
    if warning:
        text += " " + warning
    if summary.get("missing"):
        text += f" Without provenance: {', '.join(summary['missing'][:10])}"
        text += " ..." if len(summary["missing"]) > 10 else "."
    return text


def _recording_list(names: list[str], limit: int = 6) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def provenance_warning(summary: dict[str, Any]) -> str:
    """The warning for recordings processed differently ('' when they were processed alike).

    Names each setting that differs with its values and recordings (the most common value
    as "the other N"), and the pipeline code versions when there are several. Identity
    labels (:data:`IDENTITY_SETTINGS`) are not settings.

    Examples
    --------
    >>> s = {"setting_differences": [{"setting": "scr_min_amplitude_us",
    ...       "values": {"0.05": ["sub-001_ses-1", "sub-002_ses-1"], "0.1": ["sub-003_ses-1"]}}],
    ...      "code_sha256": {"a" * 64: 3}}
    >>> provenance_warning(s).split(": ", 1)[1].split(". ")[0]
    'scr_min_amplitude_us = 0.1 for sub-003_ses-1 (0.05 for the other 2)'
    >>> provenance_warning({"setting_differences": [], "code_sha256": {"a": 3}})
    ''
    """
    parts = []
    for diff in summary.get("setting_differences", []):
        (common, common_names), *others = diff["values"].items()
        shown = "; ".join(f"{diff['setting']} = {value} for {_recording_list(names)}"
                          for value, names in others)
        parts.append(f"{shown} ({common} for the other {len(common_names)})")
    code = summary.get("code_sha256", {})
    if len(code) > 1:
        by_code: dict[str, list[str]] = {}
        for name, rec in summary.get("recordings", {}).items():
            by_code.setdefault(str(rec.get("code_sha256"))[:12], []).append(name)
        parts.append("pipeline code (code_sha256) " + "; ".join(
            f"{h} for {len(names)} recording(s) ({_recording_list(names, 3)})"
            for h, names in sorted(by_code.items(), key=lambda kv: -len(kv[1]))))
    if not parts:
        return ""
    return ("The recordings were NOT all processed with the same settings and code: "
            + "; ".join(parts) + ". Re-run soothe physio process with one set of settings "
            "for a consistent dataset.")
