"""The ``soothe`` command: dispatch each subcommand to the package that owns it.

Owners are imported lazily, so ``soothe physio ...`` never imports PsychoPy and
``soothe --help`` is instant.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from conditions.errors import SootheError
from soothe import __version__

#: subcommand -> ("module:function", one-line help). The function takes argv (the words
#: after the subcommand) and returns an exit code.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": (
        "soothe.demo:main",
        "run the simulated demo study end to end (simulate, physio, report)",
    ),
    "simulate": ("soothe.simulate.cli:main", "write a simulated raw dataset with planted effects"),
    "conditions": ("conditions.cli:main", "check the protocol, scripts and questionnaires"),
    "audio": ("conditions.audio_cli:main", "render, check and loudness-normalise induction audio"),
    "run": ("experiment.cli:run_main", "run a session (PsychoPy)"),
    "check": ("experiment.cli:check_main", "hardware check before the first participant"),
    "signals": ("experiment.signals.cli:main", "live signal check of ECG, EDA and respiration"),
    "allocation": (
        "experiment.allocation_cli:main",
        "allocation database: init, status, export, verify",
    ),
    "physio": ("physio.cli:main", "process physiology exports to windowed HR, HRV, SCL and SCRs"),
    "analyze": ("analysis.cli:analyze_main", "statistics, figures and the HTML report"),
    "power": ("analysis.cli:power_main", "power by simulation for a planned replication"),
}


def _usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: soothe <command> [options]", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run 'soothe <command> --help' for a command's options."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``soothe`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    if args[0] in ("-V", "--version"):
        print(f"soothe {__version__}")
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"soothe: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    target = COMMANDS[name][0]
    module_name, func_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == "psychopy":
            print(
                f"soothe {name}: PsychoPy is not installed. Install the experiment extra: "
                "pip install -e '.[experiment]'",
                file=sys.stderr,
            )
            return 2
        raise
    func = getattr(module, func_name)
    if argv is None and name == "physio":
        # the soothe command's own process runs the batch's recordings itself (--jobs 1):
        # let it freeze its import-time objects (physio.batch.IMPORT_FREEZE).
        # Said to physio.cli, which tells physio.batch once it has imported it: importing
        # the batch here would load pandas for `soothe physio --help` too.
        module.FREEZE_AFTER_IMPORTS = True
    try:
        return int(func(rest) or 0)
    except SootheError as exc:
        print(f"soothe {name}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"soothe {name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
