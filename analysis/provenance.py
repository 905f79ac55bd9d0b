"""Provenance of the physiology derivatives, collected for the report.

``soothe physio process`` writes a ``SootheProvenance`` block into every recording's
windows sidecar (``*_desc-windows_physio.json``): the processing settings and their hash,
``code_sha256`` (a hash of the pipeline's own source) and the package versions, among
them neurokit2. The report repeats which settings, code versions and neurokit2 versions
produced the windows it analyses, with how many recordings each, so that a dataset
processed piecemeal with different pipeline versions is visible at a glance.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from conditions import bids
from physio.outputs import PROVENANCE_KEY


def physio_provenance(raw_root: Path, deriv_root: Path) -> dict[str, Any]:
    """Summarise the ``SootheProvenance`` blocks of every recording's windows sidecar.

    Sidecars are located through the data contract (:class:`conditions.bids.SessionFiles`
    of each raw session, ``windows_json(deriv_root)``).

    Returns
    -------
    dict
        ``n_sessions``, ``n_with_provenance``, ``missing`` (sessions without a readable
        block), ``settings`` (list of ``{settings_sha256, settings, n}``), ``code_sha256``
        (hash -> n), ``neurokit2`` (version -> n), ``package_versions`` (list of
        ``{versions, n}``), ``processed_at`` (first, last) and ``recordings`` (per session:
        settings and code hashes, neurokit2 version).

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
    key = PROVENANCE_KEY
    recordings: dict[str, dict[str, Any]] = {}
    missing: list[str] = []
    settings: dict[str, dict[str, Any]] = {}
    settings_n: Counter[str] = Counter()
    code: Counter[str] = Counter()
    nk: Counter[str] = Counter()
    versions: dict[str, dict[str, str]] = {}
    versions_n: Counter[str] = Counter()
    times: list[str] = []
    n_sessions = 0
    for files in bids.iter_sessions(raw_root):
        n_sessions += 1
        name = f"sub-{files.subject}_ses-{files.session}"
        path = files.windows_json(deriv_root)
        try:
            block = json.loads(path.read_text(encoding="utf-8")).get(key)
        except (OSError, ValueError, AttributeError):
            block = None
        if not isinstance(block, dict):
            missing.append(name)
            continue
        s_hash = str(block.get("settings_sha256", "n/a"))
        settings.setdefault(s_hash, block.get("settings", {}))
        settings_n[s_hash] += 1
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
        "source": f"'{key}' block of each recording's windows sidecar in the derivatives",
        "n_sessions": n_sessions,
        "n_with_provenance": len(recordings),
        "missing": missing,
        "settings": [{"settings_sha256": h, "settings": settings[h], "n": n}
                     for h, n in settings_n.most_common()],
        "code_sha256": dict(code.most_common()),
        "neurokit2": dict(nk.most_common()),
        "package_versions": [{"versions": versions[k], "n": n}
                             for k, n in versions_n.most_common()],
        "processed_at": [min(times), max(times)] if times else [],
        "recordings": recordings,
    }


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
        rows.append({"what": "settings", "sha256": str(s["settings_sha256"])[:12],
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
    """Plain words: how many recordings, how many distinct settings and code versions.

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
    if n_set > 1 or n_code > 1:
        text += (" The recordings were NOT all processed with the same settings and code; "
                 "re-run soothe physio process for a consistent dataset.")
    if summary.get("missing"):
        text += f" Without provenance: {', '.join(summary['missing'][:10])}"
        text += " ..." if len(summary["missing"]) > 10 else "."
    return text
