"""``soothe simulate``: write a simulated raw dataset with planted effects.

Examples
--------
``soothe simulate --participants 10 --seed 1 --out sim``
``soothe simulate --participants 2 --seed 1 --out sim --format bids edf csv xdf --no-mains``
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path

from soothe.simulate.errors import SimulationError
from soothe.simulate.noise import NoiseOptions

NOISE_SWITCHES = {
    "wander": "baseline_wander",
    "mains": "mains_hum",
    "ectopic": "ectopic_beats",
    "motion": "motion_artefacts",
    "sensor-noise": "sensor_noise",
    "bursts": "electrode_bursts",
}


def _margin_kw(minutes: list[float] | None) -> dict:
    if minutes is None:
        return {}
    if min(minutes) < 0 or max(minutes) > 24 * 60:
        raise SimulationError(
            f"--record-margin-min must be between 0 and 1440 minutes, got {minutes}"
        )
    return {"record_margin_s": (60.0 * minutes[0], 60.0 * minutes[1])}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="soothe simulate",
        description="Simulate a study: allocation, events, questionnaires, ECG, EDA and a "
        "respiration belt from one generative model (latent vagal and sympathetic drives), "
        "written as a raw BIDS dataset plus ground truth.",
    )
    p.add_argument("--participants", type=int, required=True, help="number of participants")
    p.add_argument("--seed", type=int, required=True, help="study seed (fixes every draw)")
    p.add_argument("--out", type=Path, required=True, help="raw dataset folder")
    p.add_argument("--fs", type=float, default=1000.0, help="ECG/EDA sampling rate (Hz)")
    p.add_argument(
        "--format",
        nargs="+",
        default=["bids"],
        choices=["bids", "edf", "csv", "xdf"],
        help="physiology formats to write (bids always gives the full dataset; others go to "
        "sourcedata/formats/<fmt>/)",
    )
    p.add_argument("--protocol", type=Path, default=None, help="protocol TOML (default shipped)")
    p.add_argument("--no-noise", action="store_true", help="clean signals: every switch off")
    for flag, attr in NOISE_SWITCHES.items():
        p.add_argument(f"--no-{flag}", action="store_true", help=f"turn off {attr}")
    p.add_argument("--mains-hz", type=float, default=50.0, help="mains frequency (50 or 60)")
    p.add_argument(
        "--ectopic-per-min",
        type=float,
        default=NoiseOptions.ectopic_per_min,
        help="population mean of premature beats per minute (each person: this x Gamma(1,1); "
        f"default {NoiseOptions.ectopic_per_min})",
    )
    p.add_argument(
        "--bursts-per-hour",
        type=float,
        default=NoiseOptions.bursts_per_hour,
        help=f"ECG electrode-noise bursts per hour (default {NoiseOptions.bursts_per_hour})",
    )
    p.add_argument(
        "--non-responders",
        type=float,
        default=None,
        metavar="FRACTION",
        help="chance that a participant is an EDA non-responder (default "
        "soothe.simulate.effects.SCR_MODEL: 0.12)",
    )
    p.add_argument(
        "--time-course",
        choices=["linear", "saturating"],
        default="linear",
        help="shape of the planted drive changes during the induction: linear (default) or "
        "saturating (most of the effect by minute 5)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="processes simulating and writing sessions in parallel (default 1; try "
        f"{os.cpu_count() or 1} on an idle machine); the output is identical for any value",
    )
    p.add_argument(
        "--record-margin-min",
        type=float,
        nargs=2,
        metavar=("BEFORE", "AFTER"),
        default=None,
        help="minutes of physiology recorded before session start and after session end "
        "(electrode settling, debriefing; default a few seconds). 6 6 makes the default "
        "protocol's sessions ~40 min long",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def noise_from_args(args: argparse.Namespace) -> NoiseOptions:
    """Build the noise switches from parsed arguments."""
    for name in ("ectopic_per_min", "bursts_per_hour"):
        if getattr(args, name) < 0:
            raise SimulationError(f"--{name.replace('_', '-')} must be >= 0")
    noise = NoiseOptions.none() if args.no_noise else NoiseOptions(mains_hz=args.mains_hz)
    noise = replace(
        noise, ectopic_per_min=args.ectopic_per_min, bursts_per_hour=args.bursts_per_hour
    )
    off = [
        attr
        for flag, attr in NOISE_SWITCHES.items()
        if getattr(args, "no_" + flag.replace("-", "_"))
    ]
    return noise.without(*off)


def main(argv: list[str]) -> int:
    """Entry point of ``soothe simulate``."""
    args = _parser().parse_args(argv)
    # lazy: the simulator (numpy, pandas, scipy) and the protocol parser slow `--help` down
    from conditions.protocol import load_protocol
    from soothe.simulate.study import simulate_study

    fmts = tuple(dict.fromkeys(["bids", *args.format]))  # the BIDS dataset is always written
    t0 = time.perf_counter()
    table = simulate_study(
        args.out,
        args.participants,
        args.seed,
        fs=args.fs,
        noise=noise_from_args(args),
        formats=fmts,
        protocol=load_protocol(args.protocol),
        progress=not args.quiet,
        jobs=max(1, args.jobs),
        time_course=args.time_course,
        non_responder_fraction=args.non_responders,
        **_margin_kw(args.record_margin_min),
    )
    elapsed = time.perf_counter() - t0
    print(
        f"simulated {len(table)} participant(s) in {elapsed:.1f} s -> {args.out}\n"
        f"  ground truth: {args.out / 'sourcedata' / 'ground_truth'}\n"
        f"  allocation:   {args.out / 'sourcedata' / 'allocation.sqlite'}"
    )
    return 0
