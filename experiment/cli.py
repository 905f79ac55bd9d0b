"""``soothe run`` and ``soothe check`` (wired in soothe/cli.py)."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from conditions.protocol import load_protocol
from experiment.audio_player import jack_preload_env
from experiment.dialog import StartInfo, validate_start_info
from experiment.errors import SessionError
from experiment.lab_config import StreamSpec
from experiment.lsl_config import keep_lsl_on_machine, quiet_lsl


def _maybe_reexec_for_jack(words: list[str], argv: list[str]) -> None:
    """Re-run this command with the system libjack preloaded (see audio_player)."""
    if os.environ.get("SOOTHE_NO_REEXEC"):
        return
    env = jack_preload_env()
    if env is None:
        return
    env["SOOTHE_NO_REEXEC"] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "soothe", *words, *argv], env)


def quiet_console() -> None:
    """Keep library noise that means nothing here off the experimenter's console.

    PsychPortAudio runs ``pactl suspend-sink`` through the shell on Linux to pause
    PulseAudio; on a PC without PulseAudio (JACK or plain ALSA) the shell prints ``sh: 1:
    pactl: not found`` twice per sound device opened. With no PulseAudio there is nothing
    to suspend, so a ``pactl`` that does nothing is put on the PATH of this process only.
    A real ``pactl`` is never shadowed.
    """
    if sys.platform.startswith("linux") and shutil.which("pactl") is None:
        shim = Path(tempfile.gettempdir()) / f"soothe_shims_{os.getuid()}"
        target = shim / "pactl"
        if not target.is_file():
            shim.mkdir(parents=True, exist_ok=True)
            tmp = shim / f".pactl.{os.getpid()}"
            tmp.write_text("#!/bin/sh\n# soothe: no PulseAudio here, nothing to suspend\n"
                           "exit 0\n", encoding="ascii")
            tmp.chmod(0o755)
            os.replace(tmp, target)
        os.environ["PATH"] = f"{shim}{os.pathsep}{os.environ.get('PATH', '')}"


def _run_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="soothe run",
        description="Run a participant session. Without --participant the start-up dialog "
                    "asks for the participant's details.",
    )
    p.add_argument("--data", type=Path, default=Path("data"), help="raw BIDS dataset root")
    p.add_argument("--protocol", type=Path, default=None, help="protocol TOML (default: shipped)")
    p.add_argument("--db", default=None,
                   help="allocation database: a SQLite file on this PC's local disk (default "
                        "DATA/sourcedata/allocation.sqlite), or "
                        "postgresql://USER@HOST/DATABASE shared by several lab PCs")
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
    p.add_argument("--no-record", action="store_true",
                   help="record nothing from LSL (neither physiology nor the marker stream)")
    p.add_argument("--lab-config", type=Path, default=None,
                   help="the lab config naming the physiology streams to record (written by "
                        "'soothe check --confirm-streams'; default $SOOTHE_LAB_CONFIG or "
                        "~/.soothe/lab_streams.json)")
    p.add_argument("--no-physio", action="store_true",
                   help="go on without physiology when the configured device is absent "
                        "(recorded in the session log and state)")
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
                   help="with --simulate: do not start the simulated physiology device "
                        "(implies --no-physio)")
    p.add_argument("--skip-signal-check", action="store_true",
                   help="do not run the live signal check before the baseline (recorded)")
    return p


def _saved_session(args: argparse.Namespace):
    """The saved state of the session ``--resume`` continues (SessionError when none)."""
    # lazy: experiment.datafiles loads pandas; only --resume without the dialog needs it
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
    """Entry point of ``soothe run``: a session, or ``--close`` of a killed one."""
    args = _run_parser().parse_args(argv)
    check_run_args(args)
    if args.close:
        return close_from_args(args)
    start_info = start_info_from_args(args)
    _maybe_reexec_for_jack(["run"], argv)
    quiet_console()
    device, devices = start_simulated_device(args)
    # liblsl reads its config when pylsl loads: keep_lsl_on_machine() above runs first
    # lazy: the session module loads pandas and liblsl; `soothe run --help` stays fast
    from experiment.session import Session

    quiet_lsl()
    try:
        return Session(session_options(args, start_info, devices)).execute()
    finally:
        stop_simulated_device(device)


def check_run_args(args: argparse.Namespace) -> None:
    """Refuse contradictory ``soothe run`` options (SessionError naming them)."""
    if args.speed < 1:
        raise SessionError(f"--speed must be >= 1, got {args.speed}")
    if args.speed != 1 and not args.simulate:
        raise SessionError("--speed only makes sense with --simulate")
    if args.close and (not args.participant or args.resume or args.simulate):
        raise SessionError("--close needs --participant (and neither --resume nor "
                           "--simulate)")
    if args.participant is not None and not args.participant.strip():
        raise SessionError("--participant is empty: give the participant ID (letters and "
                           "digits, e.g. P01), or leave --participant out to use the dialog")


def close_from_args(args: argparse.Namespace) -> int:
    """``soothe run --close``: close a killed session without opening a window."""
    # lazy: the session module loads pandas; the rest of `soothe run` parses without it
    from experiment.session import close_session

    pid = args.participant[4:] if args.participant.startswith("sub-") else args.participant
    ses = args.session[4:] if str(args.session).startswith("ses-") else str(args.session)
    return close_session(args.data, pid, ses, protocol_path=args.protocol, db_path=args.db)


def start_info_from_args(args: argparse.Namespace) -> StartInfo | None:
    """The start-up entries given on the command line (``None``: ask with the dialog).

    ``--simulate`` without ``--participant`` runs participant ``sim1``.
    """
    if args.simulate and args.participant is None:
        args.participant = "sim1"
    if not args.participant:
        return None
    age, sex = _age_and_sex(args)
    start_info, problems = validate_start_info({
        "participant": args.participant, "session": args.session, "age": age,
        "sex": sex,
        "initials": args.initials or ("SIM" if args.simulate else ""),
    })
    if start_info is None:
        raise SessionError("; ".join(problems))
    return start_info


def start_simulated_device(args: argparse.Namespace
                           ) -> tuple[subprocess.Popen | None, tuple | None]:
    """With ``--simulate``: keep LSL on this machine and start the session's own simulated
    device (a source id no other session shares). Returns the device process and the
    streams to record (``(None, None)`` without a device)."""
    if not args.simulate:
        return None, None
    if not os.environ.get("DISPLAY"):
        raise SessionError("--simulate needs an X display: run under "
                           "xvfb-run -a -s '-screen 0 1280x1024x24' soothe run --simulate")
    keep_lsl_on_machine()
    if args.no_device or args.no_record:
        return None, None
    # lazy: the simulated device's module loads numpy; only --simulate needs it
    from experiment.simulated_device import STREAM_NAME

    source_id = f"soothe_sim-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    devices = (StreamSpec(STREAM_NAME, "Physio", source_id),)
    device = subprocess.Popen(
        [sys.executable, "-m", "experiment.simulated_device",
         "--rate", str(args.device_rate), "--seed", str(args.seed),
         "--parent-pid", str(os.getpid()), "--source-id", source_id],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return device, devices


def stop_simulated_device(device: subprocess.Popen | None) -> None:
    """Stop the simulated device (killed when it does not stop within 5 s)."""
    if device is None:
        return
    device.terminate()
    try:
        device.wait(5)
    except subprocess.TimeoutExpired:
        device.kill()


def session_options(args: argparse.Namespace, start_info: StartInfo | None,
                    devices: tuple | None):
    """The :class:`~experiment.session.SessionOptions` of ``soothe run``'s arguments."""
    # lazy: the session module loads pandas; the rest of `soothe run` parses without it
    from experiment.session import SessionOptions

    return SessionOptions(
        data_root=args.data, protocol_path=args.protocol, db_path=args.db,
        start_info=start_info, resume=args.resume, markers=args.markers,
        record=not args.no_record, lab_config=args.lab_config, devices=devices,
        no_physio=args.no_physio or (args.simulate and args.no_device),
        stream_wait_s=20.0 if devices else 3.0,
        fullscreen=not (args.windowed or args.simulate), screen=args.screen,
        speed=args.speed, simulate=args.simulate, seed=args.seed, abort_at=args.abort_at,
        screenshots=args.screenshots, min_free_mb=args.min_free_mb,
        signal_check="skip" if args.skip_signal_check else "live",
    )


def check_main(argv: list[str]) -> int:
    """Entry point of ``soothe check``."""
    # lazy: hardware_check loads numpy; `soothe run` never needs it
    from experiment.hardware_check import CHECKS, run_check

    p = argparse.ArgumentParser(
        prog="soothe check",
        description="hardware check before the first participant: LSL streams (and the lab "
                    "config), frame rate, audio, audio-onset latency, markers. Exit code 0: "
                    "all OK; 2: warnings; 1: a check failed.")
    p.add_argument("--markers", default="lsl",
                   help="marker back ends to test, comma-separated (as for soothe run)")
    p.add_argument("--windowed", action="store_true")
    p.add_argument("--screen", type=int, default=0)
    p.add_argument("--only", default=",".join(CHECKS),
                   help=f"comma-separated subset of: {', '.join(CHECKS)}")
    p.add_argument("--refresh-hz", type=float, default=None,
                   help="the display's refresh rate (default: what the screen reports)")
    p.add_argument("--lab-config", type=Path, default=None,
                   help="lab config to write/check (default $SOOTHE_LAB_CONFIG or "
                        "~/.soothe/lab_streams.json)")
    p.add_argument("--confirm-streams", action="store_true",
                   help="write the physiology streams visible now into the lab config "
                        "without asking (otherwise asked on a terminal)")
    p.add_argument("--latency-source", default="jack",
                   help="recording of the audio output for the latency check: jack (a "
                        "JACK loopback) or lsl:STREAM:CHANNEL (the amplifier input the "
                        "audio output is cabled into)")
    p.add_argument("--clicks", type=int, default=20, help="clicks in the latency check")
    p.add_argument("--latency-json", type=Path, default=None,
                   help="write the latency figures and their method to this JSON file")
    args = p.parse_args(argv)
    _maybe_reexec_for_jack(["check"], argv)
    quiet_console()
    quiet_lsl()
    return run_check(args.markers, fullscreen=not args.windowed, screen=args.screen,
                     only=[w.strip() for w in args.only.split(",") if w.strip()],
                     refresh_hz=args.refresh_hz, lab_config=args.lab_config,
                     confirm_streams=True if args.confirm_streams else None,
                     latency_source=args.latency_source, clicks=args.clicks,
                     latency_json=args.latency_json)
