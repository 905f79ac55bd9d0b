"""Every derived table is byte-identical to the committed digests (tests/golden_outputs.py).

A change of structure must change no output. A deliberate change of output refreshes the
digests with ``.venv/bin/python tests/golden_outputs.py --update`` in the same commit, so the
change of numbers is visible in review.
"""

from __future__ import annotations

import json
from pathlib import Path

import golden_outputs


def test_every_table_matches_its_digest(tmp_path: Path) -> None:
    expected = json.loads(golden_outputs.DIGESTS.read_text())
    shared = golden_outputs.shared_data()
    found = golden_outputs.collect(tmp_path, shared)
    problems = golden_outputs.compare(expected, found, with_shared=shared is not None)
    assert not problems, "\n".join(problems)


def test_a_changed_table_is_reported() -> None:
    expected = {"sim/a.tsv": "1", "sim/b.tsv": "2", "lab/windows": "3"}
    found = {"sim/a.tsv": "1", "sim/b.tsv": "X", "sim/c.tsv": "4"}
    assert golden_outputs.compare(expected, found, with_shared=False) == [
        "changed: sim/b.tsv", "new: sim/c.tsv"]
    assert "missing: lab/windows" in golden_outputs.compare(expected, found, with_shared=True)
