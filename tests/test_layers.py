"""The layers stay clean: physio/, analysis/, conditions/ and soothe/ never import PsychoPy,
and the experiment never imports analysis code. Checked both statically and at import time."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NO_PSYCHOPY = ("physio", "analysis", "conditions", "soothe")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", NO_PSYCHOPY)
def test_no_psychopy_import_in_source(package):
    offenders = [
        str(p.relative_to(REPO))
        for p in sorted((REPO / package).rglob("*.py"))
        if "psychopy" in _imports(p)
    ]
    assert offenders == [], f"{package}/ must not import PsychoPy: {offenders}"


def test_experiment_never_imports_analysis():
    offenders = [
        str(p.relative_to(REPO))
        for p in sorted((REPO / "experiment").rglob("*.py"))
        if "analysis" in _imports(p)
    ]
    assert offenders == []


def test_importing_every_analyst_module_leaves_psychopy_unloaded():
    modules = []
    for package in NO_PSYCHOPY:
        for path in sorted((REPO / package).rglob("*.py")):
            rel = path.relative_to(REPO).with_suffix("")
            if rel.name == "__main__":
                continue
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            modules.append(".".join(parts))
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "bad = sorted(k for k in sys.modules if k.split('.')[0] == 'psychopy')\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "", f"psychopy was imported: {out.stdout.strip()}"
