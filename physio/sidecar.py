"""Provenance: input hashes, settings hash, package versions, the windows JSON sidecar."""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path
from typing import Any

#: Packages whose versions go into every sidecar.
PROVENANCE_PACKAGES = ("soothe", "numpy", "scipy", "pandas", "neurokit2", "bioread", "pyxdf",
                       "mne", "edfio", "matplotlib")


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file, read in chunks.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "x"
    >>> _ = p.write_bytes(b"abc")
    >>> sha256_file(p)[:12]
    'ba7816bf8f01'
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def input_files(path: Path) -> list[Path]:
    """The file(s) that make up one recording: BIDS companions, BrainVision triples."""
    path = Path(path)
    name = path.name
    files = [path]
    if "_physio.tsv" in name:
        stem = name.split("_physio.tsv")[0]
        files += [path.with_name(f"{stem}_physio.json"), path.with_name(f"{stem}_events.tsv")]
    elif path.suffix.lower() == ".vhdr":
        files += [path.with_suffix(".vmrk"), path.with_suffix(".eeg")]
    return [f for f in files if f.is_file()]


def input_hashes(path: Path) -> dict[str, str]:
    """``{file name: sha256}`` of a recording's input files."""
    return {f.name: sha256_file(f) for f in input_files(path)}


def settings_hash(settings: dict[str, Any]) -> str:
    """A stable hash of the processing settings (and the soothe version)."""
    payload = json.dumps(
        {"settings": settings, "soothe": package_versions(("soothe",))["soothe"]},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def package_versions(names: tuple[str, ...] = PROVENANCE_PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (``'not installed'`` when absent)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out
