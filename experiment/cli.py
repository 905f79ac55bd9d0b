"""``soothe run`` and ``soothe check`` (wired in soothe/cli.py)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from experiment.errors import SessionError


def _maybe_reexec_for_jack(words: list[str], argv: list[str]) -> None:
    """Re-run this command with the system libjack preloaded (see audio_player)."""
    from experiment.audio_player import jack_preload_env

    if os.environ.get("SOOTHE_NO_REEXEC"):
        return
    env = jack_preload_env()
    if env is None:
        return
    env["SOOTHE_NO_REEXEC"] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "soothe", *words, *argv], env)


def _run_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="soothe run",
        description="Run a participant session. Without --participant the start-up dialog "
                    "asks for the participant's details.",
    )
    p.add_argument("--data", type=Path, default=Path("data"), help="raw BIDS dataset root")
    p.add_argument("--protocol", type=Path, default=None, help="protocol TOML (default: shipped)")
    p.add_argument("--db", default=None,
                   help="allocation database file on this PC's local disk (default "
                        "DATA/sourcedata/allocation.sqlite), or http://HOST:PORT of "
                        "'soothe allocation serve' on the lab PC that holds it")
    p.add_argument("--token-file", type=Path, default=None,
                   help="with --db http://...: the server's <database>.token (default: "
                        "$SOOTHE_ALLOCATION_TOKEN)")
    p.add_argument("--participant", help="skip the dialog: participant ID")
    p.add_argument("--session", default="1")
    p.add_argument("--age", default=None,
                   help="with --participant: required (it sets the allocation stratum); with "
                        "--resume it comes from the saved session")
    p.add_argument("--sex", default=None,
                   help="with --participant: required (female, male, diverse, 'prefer not to "
                        "say'); with --resume it comes from the saved session")
    p.add_argument("--initials", default=None)
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted session from the first unfinished phase")
    p.add_argument("--close", action="store_true",
                   help="with --participant: close a killed session that will not be resumed "
                        "(no window): assemble physio, rebuild the CSV, mark it incomplete")
    p.add_argument("--markers", default="lsl",
                   help="marker back ends, comma-separated: lsl, parallel[:0x378], "
                        "serial:/dev/ttyUSB0[@115200], none")
    p.add_argument("--no-record", action="store_true", help="do not record LSL physiology")
    p.add_argument("--physio-types", default="ECG,EDA,GSR,Physio,ExG")
    p.add_argument("--windowed", action="store_true")
    p.add_argument("--screen", type=int, default=0)
    p.add_argument("--simulate", action="store_true",
                   help="automated participant (xdotool), simulated LSL device, windowed")
    p.add_argument("--speed", type=float, default=1.0,
                   help="with --simulate: compress rest and induction time by this factor")
    p.add_argument("--seed", type=int, default=0, help="seed of the simulated participant")
    p.add_argument("--abort-at", default=None,
                   help="with --simulate: press Escape, then Y, when this phase starts")
    p.add_argument("--screenshots", type=Path, default=None,
                   help="save one PNG per screen kind into this folder")
    p.add_argument("--min-free-mb", type=float, default=500.0)
    p.add_argument("--device-rate", type=float, default=500.0,
                   help="with --simulate: sampling rate of the simulated ECG/EDA device")
    p.add_argument("--no-device", action="store_true",
                   help="with --simulate: do not start the simulated physiology device")
    p.add_argument("--skip-signal-check", action="store_true",
                   help="do not run the live signal check before the baseline (recorded)")
    return p


def _saved_session(args: argparse.Namespace):
    """The saved state of the session ``--resume`` continues (SessionError when none)."""
    from conditions.protocol import load_protocol
    from experiment.datafiles import SessionData

    pid = args.participant[4:] if args.participant.startswith("sub-") else args.participant
    ses = args.session[4:] if str(args.session).startswith("ses-") else str(args.session)
    data = SessionData(args.data, pid, ses, load_protocol(args.protocol).task)
    state = data.load_state()
    if state is None:
        raise SessionError(f"nothing to resume for sub-{pid} ses-{ses} (no {data.state_path})")
    return state


def _age_and_sex(args: argparse.Namespace) -> tuple[str, str]:
    """Age and sex for a start without the dialog: never silent defaults.

    Sex sets the allocation stratum for good, so a real session must state both; a resumed
    session takes them from its saved state; only ``--simulate`` may fall back to 30/female.
    """
    if args.resume:
        state = _saved_session(args)
        for name, given, saved in (("age", args.age, state.age), ("sex", args.sex, state.sex)):
            if given is not None and str(given).strip() != str(saved):
                raise SessionError(
                    f"--{name} {given!r} differs from the saved session ({saved!r}); "
                    f"leave --{name} out with --resume"
                )
        return str(state.age), str(state.sex)
    if args.simulate:
        return args.age or "30", args.sex or "female"
    missing = [f"--{name}" for name in ("age", "sex") if getattr(args, name) is None]
    if missing:
        raise SessionError(
            f"soothe run --participant needs {' and '.join(missing)}: sex sets the allocation "
            "stratum for good, so it is never assumed (or leave out --participant to use the "
            "start-up dialog)"
        )
    return args.age, args.sex


def run_main(argv: list[str]) -> int:
    """Entry point of ``soothe run``."""
    args = _run_parser().parse_args(argv)
    if args.speed < 1:
        raise SessionError(f"--speed must be >= 1, got {args.speed}")
    if args.speed != 1 and not args.simulate:
        raise SessionError("--speed only makes sense with --simulate")
    if args.close:
        if not args.participant or args.resume or args.simulate:
            raise SessionError("--close needs --participant (and neither --resume nor "
                               "--simulate)")
        from experiment.session import close_session

        pid = args.participant[4:] if args.participant.startswith("sub-") else args.participant
        ses = args.session[4:] if str(args.session).startswith("ses-") else str(args.session)
        return close_session(args.data, pid, ses, protocol_path=args.protocol, db_path=args.db,
                             db_token_file=args.token_file)
    from experiment.dialog import validate_start_info

    start_info = None
    if args.simulate and not args.participant:
        args.participant = "sim1"
    if args.participant:
        age, sex = _age_and_sex(args)
        start_info, problems = validate_start_info({
            "participant": args.participant, "session": args.session, "age": age,
            "sex": sex,
            "initials": args.initials or ("SIM" if args.simulate else ""),
        })
        if start_info is None:
            raise SessionError("; ".join(problems))
    _maybe_reexec_for_jack(["run"], argv)
    device = None
    if args.simulate:
        if not os.environ.get("DISPLAY"):
            raise SessionError("--simulate needs an X display: run under "
                               "xvfb-run -a -s '-screen 0 1280x1024x24' soothe run --simulate")
        from experiment.lsl_config import keep_lsl_on_machine

        keep_lsl_on_machine()
        if not args.no_device and not args.no_record:
            device = subprocess.Popen(
                [sys.executable, "-m", "experiment.simulated_device",
                 "--rate", str(args.device_rate), "--seed", str(args.seed),
                 "--parent-pid", str(os.getpid())],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
    from experiment.session import Session, SessionOptions

    options = SessionOptions(
        data_root=args.data, protocol_path=args.protocol, db_path=args.db,
        db_token_file=args.token_file,
        start_info=start_info, resume=args.resume, markers=args.markers,
        record=not args.no_record, physio_types=tuple(args.physio_types.split(",")),
        fullscreen=not (args.windowed or args.simulate), screen=args.screen,
        speed=args.speed, simulate=args.simulate, seed=args.seed, abort_at=args.abort_at,
        screenshots=args.screenshots, min_free_mb=args.min_free_mb,
        signal_check="skip" if args.skip_signal_check else "live",
    )
    try:
        return Session(options).execute()
    finally:
        if device is not None:
            device.terminate()
            try:
                device.wait(5)
            except subprocess.TimeoutExpired:
                device.kill()


def check_main(argv: list[str]) -> int:
    """Entry point of ``soothe check``."""
    p = argparse.ArgumentParser(prog="soothe check", description="hardware check")
    p.add_argument("--markers", default="lsl",
                   help="marker back ends to test, comma-separated (as for soothe run)")
    p.add_argument("--windowed", action="store_true")
    p.add_argument("--screen", type=int, default=0)
    args = p.parse_args(argv)
    _maybe_reexec_for_jack(["check"], argv)
    from experiment.hardware_check import run_check

    return run_check(args.markers, fullscreen=not args.windowed, screen=args.screen)
