"""``soothe demo``: the embedded default, end to end.

Simulates a small study with planted effects, processes its physiology into windowed HR,
HRV, SCL and SCRs, then runs the statistics and writes the report. Each stage is the same
command an analyst would run by hand; the demo only chains them and prints where the
results are.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from analysis import cli as analysis_cli
from conditions.errors import SootheError
from physio import cli as physio_cli
from soothe.simulate import cli as simulate_cli

DEMO_MARKER = ".soothe-demo"
"""File the demo writes into every folder it creates; only such a folder is ever deleted."""


class DemoFolderError(SootheError, ValueError):
    """The demo's ``--out`` folder holds something the demo did not make."""


def prepare_demo_folder(out: Path, keep: bool = False) -> Path:
    """Make ``out`` ready for a demo run, deleting only what an earlier demo made.

    A missing or empty folder is created and marked with a ``.soothe-demo`` file. A folder
    carrying that marker is deleted and made afresh (or kept as it is with ``keep``). Any
    other non-empty folder is refused: a real study laid out as ``out/raw/`` looks just
    like the demo's raw dataset, and must never be wiped or written into.

    Parameters
    ----------
    out : Path
        The demo's output folder.
    keep : bool
        Keep an earlier demo's folder and its contents instead of starting afresh.

    Returns
    -------
    Path
        ``out``, existing and marked.

    Raises
    ------
    DemoFolderError
        When ``out`` is a file, or a non-empty folder without the marker.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "demo"
    >>> (prepare_demo_folder(out) / ".soothe-demo").is_file()
    True
    >>> _ = (out / "old.txt").write_text("from the last run")
    >>> (prepare_demo_folder(out) / "old.txt").exists()
    False
    >>> study = Path(tempfile.mkdtemp())
    >>> _ = (study / "participants.tsv").write_text("participant_id")
    >>> prepare_demo_folder(study)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    soothe.demo.DemoFolderError: ...
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DemoFolderError(f"--out {out}: is a file; expected a folder for the demo")
    if out.is_dir() and any(out.iterdir()):
        if not (out / DEMO_MARKER).is_file():
            raise DemoFolderError(
                f"--out {out}: folder exists, is not empty and has no {DEMO_MARKER} marker, so "
                "it was not made by soothe demo; it is left untouched. Choose another --out "
                "(or delete the folder yourself if it is an old demo run)."
            )
        if not keep:
            shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / DEMO_MARKER).write_text(
        "Made by 'soothe demo'. The demo deletes and rewrites this folder on its next run.\n",
        encoding="utf-8",
    )
    return out


def echo_command(command: str, argv: Sequence[str]) -> str:
    """The command line a user would type for one stage, quoted for a POSIX shell.

    Examples
    --------
    >>> echo_command("analyze", ["demo/raw", "demo/deriv", "--out", "my report"])
    "soothe analyze demo/raw demo/deriv --out 'my report'"
    """
    return shlex.join(["soothe", *command.split(), *map(str, argv)])


def _stage(title: str, command: str, func: Callable[[list[str]], int],
           argv: list[str]) -> tuple[int, float]:
    """Run one stage and echo the real sub-command (``$ soothe analyze RAW DERIV ...``)."""
    words = command.split()[1:]  # "physio process": the function takes "process ..."
    print(f"\n=== {title}\n$ {echo_command(command, argv)}", flush=True)
    t0 = time.perf_counter()
    code = int(func([*words, *argv]) or 0)
    elapsed = time.perf_counter() - t0
    print(f"--- {title}: exit code {code}, {elapsed:.1f} s", flush=True)
    return code, elapsed


def demo_parser() -> argparse.ArgumentParser:
    """The ``soothe demo`` command line."""
    parser = argparse.ArgumentParser(prog="soothe demo", description=__doc__)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("soothe-demo"),
        help="output folder (default: ./soothe-demo)",
    )
    parser.add_argument(
        "--participants",
        type=int,
        default=20,
        help="participants to simulate (default: 20, 4 per condition)",
    )
    parser.add_argument("--seed", type=int, default=1, help="study seed (default: 1)")
    parser.add_argument(
        "--fs",
        type=float,
        default=1000.0,
        help="ECG/EDA sampling rate of the simulated recordings in Hz (default: 1000)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="parallel processes for the physiology batch",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep an earlier demo's output folder instead of starting afresh",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo study.

    Examples
    --------
    ``soothe demo --out soothe-demo --participants 20 --seed 1``
    """
    args = demo_parser().parse_args(list(argv) if argv is not None else None)
    out: Path = prepare_demo_folder(args.out, keep=args.keep)
    raw, deriv, report = out / "raw", out / "derivatives" / "soothe", out / "report"
    timings: dict[str, float] = {}
    code, timings["simulate"] = _stage(
        "1/3 simulate the study",
        "simulate",
        simulate_cli.main,
        [
            "--participants", str(args.participants), "--seed", str(args.seed),
            "--fs", str(args.fs), "--out", str(raw),
        ],
    )
    if code:
        return code
    code, timings["physio"] = _stage(
        "2/3 process the physiology",
        "physio process",
        physio_cli.main,
        [str(raw), "--out", str(deriv), "--jobs", str(args.jobs)],
    )
    if code:
        print("physiology batch reported failures; see", deriv / "failures.tsv")
    code_an, timings["analyze"] = _stage(
        "3/3 statistics and report", "analyze", analysis_cli.analyze_main,
        [str(raw), str(deriv), "--out", str(report)],
    )
    print_demo_summary(sum(timings.values()), raw, deriv, report)
    return code or code_an


def print_demo_summary(total_s: float, raw: Path, deriv: Path, report: Path) -> None:
    """Print the demo's total time and where its results are."""
    print(f"\n=== soothe demo finished in {total_s:.0f} s")
    print(f"raw dataset (BIDS):      {raw.resolve()}")
    print(f"physiology derivatives:  {deriv.resolve()}")
    print(f"quality control:         {(deriv / 'qc' / 'index.html').resolve()}")
    print(f"report:                  {(report / 'report.html').resolve()}")
