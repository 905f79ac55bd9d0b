"""Provenance: input hashes, settings hash, package versions, the windows JSON sidecar."""

from __future__ import annotations

import functools
import hashlib
import json
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from conditions.checksum import sha256_file

#: Packages whose versions go into every sidecar.
PROVENANCE_PACKAGES = ("soothe", "numpy", "scipy", "pandas", "neurokit2", "bioread", "pyxdf",
                       "mne", "edfio", "matplotlib")


def input_files(path: Path) -> list[Path]:
    """The file(s) that make up one recording: BIDS companions, BrainVision triples, a
    WFDB record's header, signal and annotation files (:func:`physio.io.read_wfdb.
    record_files`)."""
    path = Path(path)
    name = path.name
    files = [path]
    if "_physio.tsv" in name:
        stem = name.split("_physio.tsv")[0]
        files += [path.with_name(f"{stem}_physio.json"), path.with_name(f"{stem}_events.tsv")]
    elif path.suffix.lower() == ".vhdr":
        files += [path.with_suffix(".vmrk"), path.with_suffix(".eeg")]
    elif path.suffix.lower() == ".hea":
        # lazy: the WFDB module is needed only for WFDB records
        from physio.io.read_wfdb import record_files

        files = record_files(path)
    return [f for f in files if f.is_file()]


def input_hashes(path: Path) -> dict[str, str]:
    """``{file name: sha256}`` of a recording's input files."""
    return {f.name: sha256_file(f) for f in input_files(path)}


#: Packages whose source code decides a recording's results (see :func:`code_hash`).
CODE_PACKAGES = ("physio", "conditions")
#: Folders inside :data:`CODE_PACKAGES` whose code decides no result, left out of
#: :func:`code_hash`: the review page (``physio/review/``) only displays a recording and
#: records the analyst's edits in the edit file, which the pipeline reads; changing the
#: page must not make every processed recording out of date.
CODE_EXCLUDED = ("physio/review",)


@functools.lru_cache(maxsize=1)
def code_hash() -> str:
    """SHA-256 over the pipeline's own source files and its libraries' versions.

    A changed pipeline (an edited ``physio/`` module, a new neurokit2) changes this hash, so
    the batch's up-to-date check re-processes instead of trusting old results. The code in
    :data:`CODE_EXCLUDED` (the review page, which decides no result) is not part of it.

    Examples
    --------
    >>> len(code_hash())
    64
    """
    h = hashlib.sha256()
    root = Path(__file__).resolve().parents[1]
    for package in CODE_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if is_excluded_code(path.relative_to(root)):
                continue
            h.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
            h.update(path.read_bytes())
    versions = package_versions()
    versions.pop("python", None)
    h.update(json.dumps(versions, sort_keys=True).encode("utf-8"))
    return h.hexdigest()


def is_excluded_code(relative: Path) -> bool:
    """True for a source file in :data:`CODE_EXCLUDED` (outside :func:`code_hash`).

    Examples
    --------
    >>> is_excluded_code(Path("physio/review/page.py")), is_excluded_code(Path("physio/qc.py"))
    (True, False)
    """
    text = Path(relative).as_posix()
    return any(text == d or text.startswith(d + "/") for d in CODE_EXCLUDED)


#: Settings that name the recording rather than say how it is processed: they stay in the
#: sidecar's provenance block but out of :func:`settings_hash`, so that recordings
#: processed alike share one hash.
IDENTITY_KEYS = ("participant", "session")


def processing_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings without the recording's own labels (:data:`IDENTITY_KEYS`).

    Examples
    --------
    >>> processing_settings({"window_s": 60.0, "participant": "01", "session": "1"})
    {'window_s': 60.0}
    """
    return {k: v for k, v in settings.items() if k not in IDENTITY_KEYS}


def settings_hash(settings: dict[str, Any]) -> str:
    """A stable hash of the processing settings and the pipeline code (:func:`code_hash`).

    A recording's identity (its participant and session labels, :data:`IDENTITY_KEYS`) is
    not part of it: two recordings processed with the same settings and code share the
    hash, and a changed setting (an SCR threshold, a window length) changes it.

    Examples
    --------
    >>> a = settings_hash({"window_s": 60.0, "participant": "01"})
    >>> a == settings_hash({"window_s": 60.0, "participant": "02"})
    True
    >>> a == settings_hash({"window_s": 30.0, "participant": "01"})
    False
    """
    payload = json.dumps(
        {"settings": processing_settings(settings), "code": code_hash()},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def package_versions(names: tuple[str, ...] = PROVENANCE_PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (``'not installed'`` when absent)."""
    return dict(_package_versions(tuple(names)))


@functools.lru_cache(maxsize=8)
def _package_versions(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    # looked up once per process: importlib.metadata scans site-packages each time, and a
    # batch worker writes a sidecar for every recording

    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return tuple(out.items())
