"""``soothe <command> --help`` loads no numerical library (issue 16: start-up time)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("pandas", "numpy", "scipy", "matplotlib", "pyarrow")


def _loaded_after(words: list[str]) -> list[str]:
    code = (
        "import sys\n"
        f"sys.argv = ['soothe', *{words!r}]\n"
        "from soothe.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('LOADED:' + ','.join(sorted({k.split('.')[0] for k in sys.modules}\n"
        f"                                  & set({HEAVY!r}))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    line = out.stdout.strip().splitlines()[-1]
    assert line.startswith("LOADED:")
    return [m for m in line[len("LOADED:"):].split(",") if m]


@pytest.mark.parametrize("words", [["--help"], ["physio", "--help"],
                                   ["physio", "process", "--help"], ["simulate", "--help"],
                                   ["conditions", "--help"], ["conditions", "check", "--help"],
                                   ["audio", "--help"], ["audio", "check", "--help"],
                                   ["allocation", "--help"], ["allocation", "init", "--help"],
                                   ["allocation", "status", "--help"]])
def test_help_loads_no_numerical_library(words):
    assert _loaded_after(words) == []


def test_the_soothe_command_still_freezes_its_import_time_objects(tmp_path):
    from tests.readers_fixtures import write_bids_session

    write_bids_session(tmp_path / "raw", seconds=60.0)
    code = (
        "import gc, sys\n"
        f"sys.argv = ['soothe', 'physio', 'process', {str(tmp_path / 'raw')!r}, '--out', "
        f"{str(tmp_path / 'deriv')!r}, '--no-progress']\n"
        "from soothe.cli import main\n"
        "rc = main()\n"
        "print('FROZEN:', rc, gc.get_freeze_count() > 10000)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "FROZEN: 0 True"
