"""``soothe audio render | check | normalize``: pilot audio and loudness matching.

- ``render``: pilot audio from the scripts with espeak-ng, into the protocol's audio paths
  (loudness-matched to the protocol's target unless ``--no-normalize``). It refuses to
  overwrite an existing WAV that is not a pilot placeholder from an earlier render (a lab's
  own recording) unless ``--force``.
- ``check``: duration, format, peak, clipping and loudness of each condition's audio; exits 1
  when a file fails or two inductions differ by more than the allowed loudness spread.
- ``normalize``: loudness-matched copies in ``<audio folder>/normalized/`` (originals are
  never touched); ``--update-protocol`` then points the protocol at the copies.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from conditions.protocol import load_protocol

if TYPE_CHECKING:  # pandas is imported where used: `--help` loads no numerical library
    import pandas as pd


def format_audio_table(table: pd.DataFrame) -> str:
    """The ``audio check`` table as fixed-width text."""
    header = (
        f"{'condition':<20} {'duration_s':>10} {'protocol_s':>10} {'rate_hz':>7} {'ch':>2} "
        f"{'peak_dbfs':>9} {'clipped':>7} {'lufs':>6} {'dev_lu':>6}  status"
    )
    lines = [header, "-" * len(header)]

    def num(value: object, fmt: str, width: int) -> str:
        try:
            v = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            v = math.nan
        return ("n/a" if math.isnan(v) else f"{v:{fmt}}").rjust(width)

    for r in table.itertuples(index=False):
        lines.append(
            f"{r.condition:<20} {num(r.duration_s, '.1f', 10)} {num(r.expected_s, '.0f', 10)} "
            f"{num(r.sample_rate_hz, '.0f', 7)} {num(r.channels, '.0f', 2)} "
            f"{num(r.peak_dbfs, '.1f', 9)} {num(r.clipped_samples, '.0f', 7)} "
            f"{num(r.lufs, '.1f', 6)} {num(r.lufs_from_median, '+.2f', 6)}  "
            f"{r.problems or 'ok'}"
        )
    return "\n".join(lines)


def _render(args: argparse.Namespace) -> int:
    # lazy: the audio modules load numpy and pandas; `soothe audio --help` loads neither
    from conditions.audio_render import PLACEHOLDER_NOTE, render_conditions

    protocol = load_protocol(args.protocol)
    names = args.conditions or list(protocol.condition_names)
    unknown = [n for n in names if n not in protocol.conditions]
    if unknown:
        print(f"soothe audio render: unknown condition(s) {unknown}")
        return 2
    outputs = {
        n: (Path(args.out_dir) / f"{n}.wav" if args.out_dir else protocol.conditions[n].audio)
        for n in names
    }
    start = time.perf_counter()
    summary = render_conditions(
        {n: protocol.conditions[n].script for n in names},
        outputs,
        sample_rate_hz=protocol.audio.sample_rate_hz,
        channels=protocol.audio.channels,
        voice=args.voice,
        speed_wpm=args.speed,
        target_lufs=None if args.no_normalize else protocol.audio.loudness_target_lufs,
        force=args.force,
    )
    elapsed = time.perf_counter() - start
    print(PLACEHOLDER_NOTE)
    for name, s in summary.items():
        print(
            f"  {name:<20} {s['duration_s']:7.1f} s  espeak speed {s['espeak_speed_wpm']:>3} "
            f"({s['iterations']} pass(es))  {s['lufs']:6.1f} LUFS  -> {s['file']}"
        )
    note = next(iter(summary.values()))["note"] if summary else ""
    if note:
        print(f"note: {note}")
    print(f"rendered {len(summary)} file(s) in {elapsed:.1f} s")
    return 0


def _check(args: argparse.Namespace) -> int:
    # lazy: the audio modules load numpy and pandas; `soothe audio --help` loads neither
    from conditions.audio_check import (
        audio_problems,
        audio_report,
        is_pilot_placeholder,
        protocol_audio_paths,
    )

    protocol = load_protocol(args.protocol)
    paths = protocol_audio_paths(protocol, args.audio_dir)
    table = audio_report(protocol, paths)
    a = protocol.audio
    print(
        f"expect: {a.sample_rate_hz} Hz, {a.channels} channel(s), duration within "
        f"+/-{a.duration_tolerance_s:g} s, no clipping, loudness spread <= "
        f"{a.loudness_max_spread_lu:g} LU (target {a.loudness_target_lufs:g} LUFS)"
    )
    print(format_audio_table(table))
    # lazy: pandas is a numerical library; `soothe audio --help` loads none
    import pandas as pd

    lufs = pd.to_numeric(table["lufs"], errors="coerce").dropna()
    if len(lufs):
        print(f"loudness spread: {lufs.max() - lufs.min():.2f} LU")
    pilots = [n for n, p in paths.items() if is_pilot_placeholder(p)]
    if pilots:
        print(
            f"note: PILOT PLACEHOLDER audio (synthetic voice) for {', '.join(pilots)}; "
            "record a human voice for the real study (docs/content.md)"
        )
    problems = audio_problems(table, protocol)
    if problems:
        print(f"FAIL: {len(problems)} problem(s)")
        for p in problems:
            print(f"  - {p}")
        if any("not found" in p for p in problems):
            print("  (no audio yet? run: soothe audio render)")
        return 1
    print("OK: every induction's audio matches the protocol")
    return 0


def _normalize(args: argparse.Namespace) -> int:
    # lazy: the audio modules load numpy and pandas; `soothe audio --help` loads neither
    from conditions.audio_check import protocol_audio_paths
    from conditions.audio_normalize import normalize_audio_files, update_protocol_audio

    protocol = load_protocol(args.protocol)
    sources = protocol_audio_paths(protocol, args.audio_dir)
    first = next(iter(sources.values()))
    out_dir = Path(args.out_dir) if args.out_dir else first.parent / "normalized"
    target = args.target if args.target is not None else protocol.audio.loudness_target_lufs
    manifest = normalize_audio_files(sources, out_dir, target_lufs=target)
    for name, f in manifest["files"].items():
        print(
            f"  {name:<20} {f['lufs_before']:6.1f} -> {f['lufs_after']:6.1f} LUFS "
            f"(gain {f['gain_db']:+.2f} dB, peak {f['peak_dbfs_after']:.1f} dBFS) -> {f['output']}"
        )
    if manifest["note"]:
        print(f"note: {manifest['note']}")
    print(f"manifest: {out_dir / 'manifest.json'}")
    if args.update_protocol:
        update_protocol_audio(
            protocol.path, {n: Path(f["output"]) for n, f in manifest["files"].items()}
        )
        print(f"protocol updated: {protocol.path} now points at the normalized copies")
    else:
        print("originals untouched; add --update-protocol to point the protocol at the copies")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``soothe audio``."""
    parser = argparse.ArgumentParser(
        prog="soothe audio", description="Pilot audio from the scripts, and loudness matching."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    render = sub.add_parser("render", help="pilot audio from the scripts with espeak-ng")
    render.add_argument("--protocol", help="protocol TOML (default: the shipped one)")
    render.add_argument("--conditions", nargs="+", help="only these conditions")
    render.add_argument(
        "--out-dir", help="write <condition>.wav here instead of the protocol's paths"
    )
    render.add_argument("--voice", default="en-gb", help="espeak-ng voice (default en-gb)")
    render.add_argument(
        "--speed", type=float, help="fixed espeak-ng speed; default: calibrated per script"
    )
    render.add_argument(
        "--no-normalize", action="store_true", help="keep espeak-ng's level (no loudness matching)"
    )
    render.add_argument(
        "--force",
        action="store_true",
        help="overwrite existing WAVs even when they are not pilot placeholders "
        "(for example a lab's own recordings)",
    )
    render.set_defaults(func=_render)

    check = sub.add_parser("check", help="duration, format, peak and loudness per condition")
    check.add_argument("--protocol", help="protocol TOML (default: the shipped one)")
    check.add_argument("--audio-dir", help="check <audio-dir>/<condition>.wav instead")
    check.set_defaults(func=_check)

    norm = sub.add_parser("normalize", help="loudness-matched copies (originals untouched)")
    norm.add_argument("--protocol", help="protocol TOML (default: the shipped one)")
    norm.add_argument("--audio-dir", help="read <audio-dir>/<condition>.wav instead")
    norm.add_argument("--out-dir", help="default: <audio folder>/normalized")
    norm.add_argument("--target", type=float, help="target LUFS (default: the protocol's)")
    norm.add_argument(
        "--update-protocol",
        action="store_true",
        help="point the protocol's audio paths at the normalized copies",
    )
    norm.set_defaults(func=_normalize)

    args = parser.parse_args(list(argv) if argv is not None else None)
    return int(args.func(args))
