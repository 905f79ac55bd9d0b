"""The ``./run`` set-up script: which lock it installs into a shared venv, and its stamps.

The script runs for real, in a copy of the repository's ``run``, ``pyproject.toml`` and
``locks/``, against a fake venv whose ``bin/python`` and ``bin/soothe`` only log their
arguments. Nothing is installed and the real ``.venv`` is never touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="./run needs bash")

FAKE_TOOL = """#!/bin/sh
echo "$(basename "$0") $*" >> "{log}"
case "$*" in
  *"-r locks/"*) [ -n "$FAKE_INSTALL_FAILS" ] && exit 1 ;;
esac
exit 0
"""


class Checkout:
    """A copy of the set-up files with a fake venv; ``call`` runs ``./run`` in it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        shutil.copy2(REPO / "run", root / "run")
        shutil.copy2(REPO / "pyproject.toml", root / "pyproject.toml")
        shutil.copytree(REPO / "locks", root / "locks")
        self.venv = root / "venv"
        (self.venv / "bin").mkdir(parents=True)
        self.log = root / "calls.log"
        for tool in ("python", "soothe"):
            exe = self.venv / "bin" / tool
            exe.write_text(FAKE_TOOL.format(log=self.log))
            exe.chmod(0o755)

    def call(self, *args: str, fail_install: bool = False) -> tuple[int, list[str]]:
        """Run ``./run ARGS``; returns the exit code and the fake tools' calls it made."""
        self.log.write_text("")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "FAKE_INSTALL_FAILS")}
        env["SOOTHE_VENV"] = str(self.venv)
        if fail_install:
            env["FAKE_INSTALL_FAILS"] = "1"
        proc = subprocess.run(["bash", str(self.root / "run"), *args], cwd=self.root, env=env,
                              capture_output=True, text=True, timeout=60)
        return proc.returncode, self.log.read_text().splitlines()

    def key(self, profile: str) -> str:
        """The stamp key ``./run`` should use for a lock: cksum of the lock + pyproject.toml."""
        data = (self.root / "locks" / f"{profile}.txt").read_bytes()
        data += (self.root / "pyproject.toml").read_bytes()
        out = subprocess.run(["cksum"], input=data, capture_output=True, check=True).stdout
        return out.split()[0].decode()

    def stamps(self) -> set[str]:
        return {p.name for p in self.venv.glob(".soothe-*")}


def installed_locks(calls: list[str]) -> list[str]:
    return [c.split("-r ", 1)[1].split()[0] for c in calls if "-r locks/" in c]


@pytest.fixture
def checkout(tmp_path: Path) -> Checkout:
    return Checkout(tmp_path)


def test_tests_then_demo_keeps_the_all_lock(checkout: Checkout) -> None:
    code, calls = checkout.call("tests", "-q")
    assert code == 0
    assert installed_locks(calls) == ["locks/all.txt"]
    assert calls[-1] == "python -m pytest -q"
    assert checkout.stamps() == {f".soothe-all-{checkout.key('all')}"}

    # the demo only needs the core packages: the all-venv already has them, at the
    # all-lock's pins, and installing locks/core.txt over it would change those pins
    code, calls = checkout.call("demo", "--participants", "5")
    assert code == 0
    assert installed_locks(calls) == []
    assert calls == ["soothe demo --participants 5"]
    assert checkout.stamps() == {f".soothe-all-{checkout.key('all')}"}

    code, calls = checkout.call("tests")
    assert (code, installed_locks(calls)) == (0, [])


def test_stale_all_venv_is_updated_from_the_all_lock_on_a_core_request(
    checkout: Checkout,
) -> None:
    assert checkout.call("tests")[0] == 0
    old = checkout.key("all")
    with (checkout.root / "locks" / "all.txt").open("a") as fh:
        fh.write("# re-pinned\n")
    assert checkout.key("all") != old

    code, calls = checkout.call("demo")
    assert code == 0
    assert installed_locks(calls) == ["locks/all.txt"]  # never locks/core.txt
    assert checkout.stamps() == {f".soothe-all-{checkout.key('all')}"}
    assert checkout.call("tests")[1] == ["python -m pytest"]


def test_core_venv_is_upgraded_to_all_and_then_serves_both(checkout: Checkout) -> None:
    code, calls = checkout.call("demo")
    assert code == 0
    assert installed_locks(calls) == ["locks/core.txt"]
    assert checkout.stamps() == {f".soothe-core-{checkout.key('core')}"}
    assert checkout.call("demo")[1] == ["soothe demo"]

    code, calls = checkout.call("tests")
    assert installed_locks(calls) == ["locks/all.txt"]
    assert checkout.stamps() == {f".soothe-all-{checkout.key('all')}"}
    assert checkout.call("demo")[1] == ["soothe demo"]


def test_a_failed_install_leaves_no_valid_stamp(checkout: Checkout) -> None:
    code, calls = checkout.call("tests", fail_install=True)
    assert code != 0
    assert "python -m pytest" not in calls
    assert checkout.stamps() == {".soothe-all-incomplete"}

    # the interrupted all-install still counts as an all-venv: the demo finishes the all-lock
    code, calls = checkout.call("demo")
    assert code == 0
    assert installed_locks(calls) == ["locks/all.txt"]
    assert checkout.stamps() == {f".soothe-all-{checkout.key('all')}"}


def test_installers_are_pinned(checkout: Checkout) -> None:
    _, calls = checkout.call("demo")
    bootstrap = [c for c in calls if c.startswith("python -m pip install") and "uv" in c]
    assert len(bootstrap) == 1
    words = bootstrap[0].split()
    assert "--upgrade" not in words
    assert any(w.startswith("pip==") and w[5:7].isdigit() for w in words), bootstrap
    assert any(w.startswith("uv==") and w[4].isdigit() for w in words), bootstrap


# --- .ci/run on a fresh image: apt, npm and (on Debian 13) a Python for ./run --------------

FAKE_CI_TOOL = r"""#!/bin/sh
echo "${{0##*/}} $*" >> "{log}"
case "${{0##*/}} $*" in
  "dpkg -s "*) exit 1 ;;                                  # nothing installed yet
  "python3 -c "*) [ -n "$FAKE_PY313" ] && exit 1; exit 0 ;;   # the version check
  "python3 -m venv "*)
    mkdir -p "$3/bin"; ln -s "{bin}/python3" "$3/bin/python"; ln -s "{bin}/uv" "$3/bin/uv" ;;
  "uv python find "*) echo /opt/managed/cpython-3.11/bin/python3.11 ;;
  "apt-get install "*" npm"*) ln -s "{bin}/dpkg" "{bin}/npm" ;;  # npm arrives with apt
esac
exit 0
"""


def ci_checkout(root: Path) -> tuple[Path, Path, dict[str, str]]:
    """A copy of ``.ci/run`` and ``run`` (replaced by a logger) with a PATH of fakes only."""
    (root / ".ci").mkdir()
    shutil.copy2(REPO / ".ci" / "run", root / ".ci" / "run")
    log, fakebin = root / "calls.log", root / "fakebin"
    fakebin.mkdir()
    pins = "".join(line + "\n" for line in (REPO / "run").read_text().splitlines()
                   if line.startswith(("UV_VERSION=", "PIP_VERSION=")))
    (root / "run").write_text(f'#!/bin/sh\n{pins}echo "run $* CI=$CI PYTHON=$PYTHON" >> "{log}"\n')
    (root / "run").chmod(0o755)
    for tool in ("dpkg", "apt-get", "python3", "uv"):  # no npm, no bids-validator yet
        (fakebin / tool).write_text(FAKE_CI_TOOL.format(log=log, bin=fakebin))
        (fakebin / tool).chmod(0o755)
    for tool in ("dirname", "sed", "mktemp", "mkdir", "ln"):
        real = shutil.which(tool)
        assert real, tool
        (fakebin / tool).symlink_to(real)
    env = {"PATH": str(fakebin), "HOME": str(root), "TMPDIR": str(root)}
    return root / ".ci" / "run", log, env


def test_ci_installs_what_a_fresh_debian_lacks_then_runs_the_readme_command(
    tmp_path: Path,
) -> None:
    script, log, env = ci_checkout(tmp_path)
    proc = subprocess.run([shutil.which("bash") or "bash", str(script)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    calls = log.read_text().splitlines()
    install = next(c for c in calls if c.startswith("apt-get install"))
    for pkg in ("ca-certificates", "python3", "python3-venv", "nodejs", "npm", "xvfb",
                "libglu1-mesa", "jackd2", "chromium"):
        assert pkg in install.split(), pkg
    assert "npm install -g --silent bids-validator@1.15.0" in calls
    assert calls.index("npm install -g --silent bids-validator@1.15.0") > calls.index(install)
    assert calls[-1] == "run tests CI=true PYTHON="  # ./run picks its own python3


def test_ci_fetches_a_supported_python_when_the_image_has_only_a_newer_one(
    tmp_path: Path,
) -> None:
    script, log, env = ci_checkout(tmp_path)
    env["FAKE_PY313"] = "1"
    proc = subprocess.run([shutil.which("bash") or "bash", str(script)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    calls = log.read_text().splitlines()
    uv_version = next(line for line in (REPO / "run").read_text().splitlines()
                      if line.startswith("UV_VERSION=")).split("=", 1)[1]
    assert any(c.endswith(f"-m pip install --quiet uv=={uv_version}") for c in calls), calls
    assert any(c.startswith("uv python install") and "3.11" in c for c in calls), calls
    assert calls[-1] == "run tests CI=true PYTHON=/opt/managed/cpython-3.11/bin/python3.11"


# --- bytecode: compiled at install, so no run compiles anything ------------------------------


def test_install_compiles_bytecode_and_the_project_when_its_sources_change(
    checkout: Checkout,
) -> None:
    (checkout.root / "physio").mkdir()
    source = checkout.root / "physio" / "x.py"
    source.write_text("X = 1\n")
    code, calls = checkout.call("demo")
    assert code == 0
    lock_install = next(c for c in calls if "-r locks/core.txt" in c)
    assert "--compile-bytecode" in lock_install.split()
    compiles = [c for c in calls if c.startswith("python -m compileall")]
    # the venv was just installed with bytecode: only the editable project is compiled
    assert len(compiles) == 1 and str(checkout.root / "physio") in compiles[0]
    assert calls[-1] == "soothe demo"

    # nothing changed: no compilation at all on the next run
    assert checkout.call("demo")[1] == ["soothe demo"]

    # an edited source is compiled before the run, once
    stamp = checkout.venv / ".compiled-project"
    os.utime(source, (stamp.stat().st_mtime + 5, stamp.stat().st_mtime + 5))
    calls = checkout.call("demo")[1]
    assert [c for c in calls if "compileall" in c] and calls[-1] == "soothe demo"
    os.utime(stamp, (source.stat().st_mtime + 5, source.stat().st_mtime + 5))
    assert checkout.call("demo")[1] == ["soothe demo"]


def test_a_venv_installed_before_bytecode_is_compiled_once(checkout: Checkout) -> None:
    assert checkout.call("demo")[0] == 0
    (checkout.venv / ".compiled-site-packages").unlink()  # as an older ./run left it
    calls = checkout.call("demo")[1]
    assert installed_locks(calls) == []
    assert calls == [f"python -m compileall -q -j 0 {checkout.venv / 'lib'}", "soothe demo"]
    assert checkout.call("demo")[1] == ["soothe demo"]
