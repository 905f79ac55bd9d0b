"""The settings hash compares like with like: processing settings only, never the labels."""

from __future__ import annotations

import json
from pathlib import Path

from physio.cli import main
from physio.outputs import PROVENANCE_KEY
from tests.readers_fixtures import write_bids_session


def _provenance(deriv: Path) -> dict[str, dict]:
    sidecars = sorted(deriv.rglob("*_desc-windows_physio.json")) or sorted(
        p for p in deriv.rglob("sub-*.json") if "windows" in p.name)
    out = {}
    for path in sidecars:
        out[path.name] = json.loads(path.read_text(encoding="utf-8"))[PROVENANCE_KEY]
    return out


def test_recordings_processed_alike_share_the_hash_and_a_threshold_changes_it(tmp_path):
    for subject in ("001", "002"):
        write_bids_session(tmp_path / "raw", subject=subject, seconds=60.0)
    assert main(["process", str(tmp_path / "raw"), "--out", str(tmp_path / "a"),
                 "--no-progress"]) == 0
    alike = _provenance(tmp_path / "a")
    assert len(alike) == 2
    a, b = alike.values()
    assert a["settings_sha256"] == b["settings_sha256"]
    # the labels stay in the provenance block, out of the hash
    assert {a["settings"]["participant"], b["settings"]["participant"]} == {"001", "002"}

    assert main(["process", str(tmp_path / "raw"), "--out", str(tmp_path / "b"),
                 "--no-progress", "--scr-threshold", "0.1"]) == 0
    other = _provenance(tmp_path / "b")
    assert len(other) == 2
    assert len({p["settings_sha256"] for p in other.values()}) == 1
    assert next(iter(other.values()))["settings_sha256"] != a["settings_sha256"]
