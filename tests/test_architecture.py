"""The architecture rules of docs/architecture.md, checked on the source tree.

- layers: import-linter contracts in ``pyproject.toml`` (``[tool.importlinter]``), run with
  the ``lint-imports`` command of the environment;
- no import cycle between files, counting imports inside functions and under
  ``TYPE_CHECKING`` (grimp, the import graph behind import-linter);
- no function longer than ``MAX_FUNCTION_LINES`` without a stated reason;
- no private name of one module used by another;
- every import inside a function says why it is lazy.

Each rule has a test on a small planted case, so a checker that stopped finding anything
would fail here too.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("conditions", "experiment", "physio", "analysis", "soothe")
MAX_FUNCTION_LINES = 80
LONG_MARK = "# long-function:"
LAZY_MARK = "# lazy:"


def source_files() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py"))


def _parse(path: Path) -> tuple[ast.Module, list[str]]:
    text = path.read_text(encoding="utf-8")
    return ast.parse(text, filename=str(path)), text.splitlines()


# -- function length ------------------------------------------------------------------------

def long_functions(tree: ast.Module, lines: list[str], limit: int = MAX_FUNCTION_LINES
                   ) -> list[tuple[int, str, int]]:
    """(line, name, length) of each function over ``limit`` lines without a stated reason."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        length = node.end_lineno - node.lineno + 1
        first = min([node.lineno] + [d.lineno for d in node.decorator_list])
        above = lines[first - 2] if first >= 2 else ""
        if length > limit and LONG_MARK not in above:
            found.append((node.lineno, node.name, length))
    return found


def test_no_function_is_longer_than_the_limit_without_a_reason() -> None:
    problems = [f"{p.relative_to(REPO)}:{line} {name} ({n} lines)"
                for p in source_files() for line, name, n in long_functions(*_parse(p))]
    assert not problems, (f"functions over {MAX_FUNCTION_LINES} lines (split into named steps, "
                          f"or give '{LONG_MARK} <reason>' above the def):\n"
                          + "\n".join(problems))


def test_the_length_check_finds_a_long_function_and_honours_a_reason() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    src = f"def long_one():\n{body}\n\n\n{LONG_MARK} a table of constants\ndef kept():\n{body}\n"
    tree = ast.parse(src)
    assert long_functions(tree, src.splitlines()) == [(1, "long_one", MAX_FUNCTION_LINES + 1)]


# -- private names across modules -------------------------------------------------------------

def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def private_uses(tree: ast.Module, module: str) -> list[tuple[int, str]]:
    """(line, text) of each private name this module takes from another module."""
    found = []
    module_aliases: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if any(_is_private(part) for part in source.split(".")):
                found.append((node.lineno, f"from {source} import ..."))
            for alias in node.names:
                if _is_private(alias.name):
                    found.append((node.lineno, f"from {source} import {alias.name}"))
                elif source.split(".")[0] in PACKAGES:
                    module_aliases.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if any(_is_private(part) for part in alias.name.split(".")):
                    found.append((node.lineno, f"import {alias.name}"))
                if alias.name.split(".")[0] in PACKAGES:
                    module_aliases.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and _is_private(node.attr)
                and isinstance(node.value, ast.Name) and node.value.id in module_aliases
                and node.value.id not in ("self", "cls")):
            found.append((node.lineno, f"{node.value.id}.{node.attr}"))
    return found


def library_patches(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, text) of each assignment into ``sys.modules`` or onto an imported library's
    attribute (monkey-patching another library's internals)."""
    external: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] \
                not in PACKAGES and node.level == 0:
            external.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            external.update(alias.asname or alias.name.split(".")[0] for alias in node.names
                            if alias.name.split(".")[0] not in PACKAGES)
    found = []
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
        for target in targets:
            text = ast.unparse(target)
            root = target
            while isinstance(root, (ast.Attribute, ast.Subscript)):
                root = root.value
            if text.startswith("sys.modules"):
                found.append((node.lineno, text))
            elif isinstance(target, ast.Attribute) and isinstance(root, ast.Name) \
                    and root.id in external:
                found.append((node.lineno, text))
    return found


def test_no_module_patches_another_library() -> None:
    problems = [f"{p.relative_to(REPO)}:{line} {text} = ..."
                for p in source_files() for line, text in library_patches(_parse(p)[0])]
    assert not problems, "assignments into other libraries or sys.modules:\n" + \
        "\n".join(problems)


def test_the_patch_check_finds_planted_patches() -> None:
    src = textwrap.dedent("""
        import sys
        from matplotlib.ft2font import FT2Font
        import matplotlib as mpl
        from physio import qc
        sys.modules["scipy.signal"] = None
        FT2Font._layout = lambda self: None
        mpl.rcParams["font.size"] = 9
        qc.SETTING = 1
    """)
    assert [t for _, t in library_patches(ast.parse(src))] == [
        "sys.modules['scipy.signal']", "FT2Font._layout"]


def test_no_module_uses_another_modules_private_names() -> None:
    problems = [f"{p.relative_to(REPO)}:{line} {text}"
                for p in source_files()
                for line, text in private_uses(_parse(p)[0], _module_name(p))]
    assert not problems, "private names used across modules:\n" + "\n".join(problems)


def test_the_private_check_finds_planted_uses() -> None:
    src = textwrap.dedent("""
        from physio.recording import _one, Channel
        from scipy.signal._arraytools import odd_ext
        import physio.qc as qc
        from physio import sidecar
        def f():
            return qc._draw(), sidecar._hash(), Channel
    """)
    found = {text for _, text in private_uses(ast.parse(src), "x")}
    assert found == {"from physio.recording import _one", "qc._draw", "sidecar._hash",
                     "from scipy.signal._arraytools import ..."}


# -- lazy imports say why ---------------------------------------------------------------------

def unexplained_lazy_imports(tree: ast.Module, lines: list[str]) -> list[tuple[int, str]]:
    """(line, text) of each import inside a function without a ``# lazy:`` reason above it."""
    import_lines: set[int] = set()
    inner = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            import_lines.update(range(node.lineno, node.end_lineno + 1))
    for func in ast.walk(tree):
        if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inner += [n for n in ast.walk(func) if isinstance(n, (ast.Import, ast.ImportFrom))]
    found = []
    for node in sorted(set(inner), key=lambda n: n.lineno):
        if LAZY_MARK in lines[node.lineno - 1]:
            continue
        line = node.lineno - 1
        while line >= 1 and (line in import_lines or lines[line - 1].strip() == "try:"):
            line -= 1
        comment = []  # the comment block right above (a reason may take two lines)
        while line >= 1 and lines[line - 1].strip().startswith("#"):
            comment.append(lines[line - 1])
            line -= 1
        if not any(LAZY_MARK in text for text in comment):
            found.append((node.lineno, lines[node.lineno - 1].strip()))
    return found


def test_every_import_inside_a_function_says_why_it_is_lazy() -> None:
    problems = [f"{p.relative_to(REPO)}:{line} {text}"
                for p in source_files()
                for line, text in unexplained_lazy_imports(*_parse(p))]
    assert not problems, (f"imports inside functions without a '{LAZY_MARK} <reason>' comment "
                          "on the line above (move them to the module top, or say why):\n"
                          + "\n".join(problems))


def test_the_lazy_check_accepts_a_reason_for_a_block_and_finds_a_bare_import() -> None:
    src = textwrap.dedent("""
        def ok():
            # lazy: matplotlib is slow to import and only the figure needs it, so the
            # command-line help stays fast
            import matplotlib
            from matplotlib import pyplot
            try:
                import isal
            except ImportError:
                pass
        def bare():
            x = 1
            import json
            try:
                import isal
            except ImportError:
                pass
            return json, x
    """)
    tree = ast.parse(src)
    assert unexplained_lazy_imports(tree, src.splitlines()) == [(13, "import json"),
                                                                (15, "import isal")]


# -- import cycles ---------------------------------------------------------------------------

def import_cycles(graph) -> list[tuple[str, ...]]:
    """Every cycle between modules, each once, from its smallest module name."""
    cycles = set()
    for importer in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(importer):
            chain = graph.find_shortest_chain(importer=imported, imported=importer)
            if chain:
                ring = (importer, *chain[:-1])
                start = ring.index(min(ring))
                cycles.add(ring[start:] + ring[:start])
    return sorted(cycles, key=lambda c: (len(c), c))


def test_no_import_cycle_between_files() -> None:
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=False, cache_dir=None)
    cycles = import_cycles(graph)
    assert not cycles, "import cycles (extract the shared part into its own module):\n" + \
        "\n".join(" -> ".join(c) for c in cycles)


def test_the_cycle_check_finds_a_planted_cycle() -> None:
    graph = grimp.ImportGraph()
    for a, b in (("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")):
        graph.add_import(importer=a, imported=b)
    assert import_cycles(graph) == [("p.a", "p.b", "p.c")]


# -- layers (import-linter) ------------------------------------------------------------------

def _lint_imports(config: Path | None = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lint-imports")
    if not exe.exists():
        pytest.fail(f"lint-imports is not installed next to {sys.executable} (dev extra)")
    args = [str(exe), "--no-cache"] + (["--config", str(config)] if config else [])
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def test_layers_hold() -> None:
    proc = _lint_imports()
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "broken" not in proc.stdout.split("Contracts:")[-1].split("\n")[0] or \
        " 0 broken" in proc.stdout


def test_a_planted_layer_breach_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "breach.toml"
    config.write_text(textwrap.dedent("""
        [tool.importlinter]
        root_packages = ["physio", "conditions"]
        [[tool.importlinter.contracts]]
        name = "planted: physio may not use conditions"
        type = "forbidden"
        source_modules = ["physio"]
        forbidden_modules = ["conditions"]
    """))
    proc = _lint_imports(config)
    assert proc.returncode != 0 and "BROKEN" in proc.stdout.upper(), proc.stdout[-3000:]
