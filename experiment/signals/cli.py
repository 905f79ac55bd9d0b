"""``soothe signals``: the live signal check, or a headless run of it for CI and scripts.

Live (the experimenter's PC)::

    soothe signals                        # physiology streams on LSL; opens the page
    soothe signals --simulate good        # the simulated device, one scenario

Headless (writes what the experimenter would see, and the verdicts)::

    soothe signals --simulate ecg_inverted --seconds 10 --snapshot ecg.png --verdict ecg.json

Exit status: 0 when every channel is good, 5 when one is not (or no stream was found).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
import webbrowser
from collections.abc import Sequence
from pathlib import Path

from experiment.errors import SessionError
from experiment.lab_config import default_lab_config_path, is_physiology, read_lab_config
from experiment.lsl_config import keep_lsl_on_machine, quiet_lsl
from experiment.signals import verdict as vd
from experiment.signals.monitor import SignalMonitor, judge_frame
from experiment.signals.page import CheckState, screenshot, serve, snapshot_html, stop_server
from experiment.signals.scenarios import EXPECTED, SCENARIOS, check_scenario

EXIT_GOOD, EXIT_NOT_GOOD = 0, 5
#: Extra signal (s) collected while a channel still says 'waiting' after ``seconds``.
WAITING_GRACE_S = 10.0
#: How long a headless check waits for the simulated participant to hear its cue stream.
CUE_LISTENER_WAIT_S = 15.0
FIND_TIMEOUT_S = 30.0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="soothe signals",
        description="Live signal check of the physiology streams (ECG, EDA, respiration) on "
                    "the experimenter's screen. With --seconds it runs headless.",
        epilog="scenarios: " + "; ".join(f"{k} ({v})" for k, v in SCENARIOS.items()),
    )
    p.add_argument("--simulate", metavar="SCENARIO", default=None,
                   help="start the simulated device with this scenario")
    p.add_argument("--seconds", type=float, default=None,
                   help="headless: collect this many seconds of signal, then write the "
                        "verdicts (and the snapshot) and stop")
    p.add_argument("--snapshot", type=Path, default=None, help="PNG of the page (headless "
                   "Chromium)")
    p.add_argument("--verdict", type=Path, default=None, help="JSON file of the verdicts")
    p.add_argument("--cue-at", type=float, default=2.0,
                   help="headless with --simulate: ask for the deep breath this many seconds "
                        "into the signal (default 2)")
    p.add_argument("--rate", type=float, default=500.0, help="simulated device rate (Hz)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--source-id", action="append", default=None,
                   help="check only the LSL stream(s) with this source id")
    p.add_argument("--physio-types", default="ECG,EDA,GSR,Physio,ExG")
    p.add_argument("--port", type=int, default=0, help="page port on 127.0.0.1 (0: any free)")
    p.add_argument("--no-browser", action="store_true", help="print the address, do not open "
                   "a browser")
    return p


def start_simulated_device(scenario: str | None, rate: float, seed: int
                           ) -> tuple[subprocess.Popen, str]:
    """Start the simulated device (a child process) with a fresh source id."""
    keep_lsl_on_machine()
    source_id = f"soothe_signals_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    cmd = [sys.executable, "-m", "experiment.simulated_device", "--rate", str(rate),
           "--seed", str(seed), "--parent-pid", str(os.getpid()), "--name", source_id,
           "--source-id", source_id]
    if scenario:
        cmd += ["--scenario", scenario]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return proc, source_id


def stop_device(proc: subprocess.Popen | None) -> None:
    """Stop the simulated device (killed when it does not stop within 5 s)."""
    if proc is None:
        return
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def wait_for_streams(monitor, timeout_s: float = FIND_TIMEOUT_S) -> list[str]:
    """Wait until the monitor has found at least one channel; SessionError when none."""
    if not monitor.found.wait(timeout_s):
        raise SessionError(f"no physiology stream found on LSL within {timeout_s:g} s "
                           "(is the amplifier on and streaming?)")
    return sorted(monitor.channels)


def method_block() -> dict:
    """The rules' constants, for the verdict JSON (every number traceable).

    The quality rules are the pipeline's: their constants come from the quality modules'
    own ``*_methods()``, as in the sidecar of ``soothe physio process``.
    """
    # lazy: the quality modules load pandas and the physio pipeline; only the JSON needs them
    from physio.ecg.ecg_quality import ecg_quality_methods
    from physio.eda.eda_artifacts import eda_artifact_methods
    from physio.rsp.rsp_quality import rsp_quality_methods

    return {
        "module": "experiment.signals.verdict",
        "judged_seconds": 10.0,
        "ecg_flat_mv": vd.ECG_FLAT_MV, "mains_ratio": vd.MAINS_RATIO,
        "ecg_detector": "physio.ecg.ecg_peaks.detect_qrs (Pan-Tompkins/Hamilton-Tompkins)",
        "eda_off_us": vd.EDA_OFF_US, "eda_flat_us": vd.EDA_FLAT_US,
        "eda_clip_run_s": vd.CLIP_RUN_S, "scr_min_us": vd.SCR_MIN_US,
        "breath_window_s": vd.BREATH_WINDOW_S, "eda_artifact_recent_s": vd.ARTIFACT_RECENT_S,
        "resp_range_per_min": list(vd.RESP_RANGE_BPM),
        "ecg_quality": ecg_quality_methods(), "eda_artifacts": eda_artifact_methods(),
        "rsp_quality": rsp_quality_methods(),
    }


def run_headless(monitor, seconds: float, *, cue_at: float | None) -> dict:
    """Collect ``seconds`` of signal (asking for a deep breath at ``cue_at``), judge it.

    Returns the verdict record (see :func:`verdict_record`) with the monitor's last frame
    under the key ``"_frame"``.
    """
    wait_for_streams(monitor)
    first_good = None
    cued = cue_at is None
    deadline = time.monotonic() + seconds + WAITING_GRACE_S + FIND_TIMEOUT_S
    while True:
        have = monitor.seconds_of_data()
        if not cued and have >= cue_at:
            # the simulated participant must be listening before it is asked (a cue sent to
            # nobody is lost); a late cue only delays the verdict (see WAITING_GRACE_S)
            if not monitor.wait_for_cue_listener(CUE_LISTENER_WAIT_S):
                monitor.warn(f"nothing listened to the deep-breath cue within "
                             f"{CUE_LISTENER_WAIT_S:g} s; asking anyway")
            monitor.cue_deep_breath()
            cued = True
        frame = monitor.frame()
        verdicts = judge_frame(frame)
        if first_good is None and vd.overall(list(verdicts.values())) == vd.GOOD:
            first_good = round(have, 2)
        # "waiting" means not enough signal yet (e.g. fewer than two breaths since the deep
        # breath): a loaded machine delivers the cue late, so wait a little longer for it
        waiting = any(v.status == vd.WAITING for v in verdicts.values())
        if have >= seconds and not waiting:
            break
        if have >= seconds + WAITING_GRACE_S or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    record = verdict_record(frame, verdicts, seconds_of_data=have, first_good_s=first_good)
    record["_frame"] = frame
    return record


def verdict_record(frame, verdicts: dict[str, vd.Verdict], **extra) -> dict:
    """JSON-ready verdicts with the method block."""
    t_first = min((float(t[0]) for t, _, _ in frame.channels.values() if len(t)),
                  default=frame.lsl_now)
    return {
        "overall": vd.overall(list(verdicts.values())) if verdicts else vd.NO_SIGNAL,
        "channels": {k: v.to_dict() for k, v in verdicts.items()},
        "deep_breath_cues_s": [round(c - t_first, 3) for c in frame.cues],
        **extra,
        "method": method_block(),
    }


def write_outputs(record: dict, verdict_path: Path | None, snapshot_path: Path | None,
                  note: str = "") -> None:
    """Write the verdict JSON and the page snapshot (PNG through headless Chromium)."""
    frame = record.pop("_frame", None)
    if verdict_path:
        Path(verdict_path).parent.mkdir(parents=True, exist_ok=True)
        Path(verdict_path).write_text(json.dumps(record, indent=2, allow_nan=False) + "\n",
                                      encoding="utf-8")
    if snapshot_path and frame is not None:
        html_path = Path(snapshot_path).with_suffix(".html")
        snapshot_html(frame, judge_frame(frame), html_path, note=note)
        try:
            screenshot(html_path, snapshot_path)
        finally:
            html_path.unlink(missing_ok=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``soothe signals``."""
    args = _parser().parse_args(argv)
    if args.simulate:
        try:
            check_scenario(args.simulate)
        except ValueError as exc:
            raise SessionError(str(exc)) from None
    if args.seconds is not None and args.seconds <= 0:
        raise SessionError(f"--seconds must be > 0, got {args.seconds}")
    device, source_ids = None, args.source_id
    if args.simulate:
        device, sid = start_simulated_device(args.simulate, args.rate, args.seed)
        source_ids = [sid]
    elif not source_ids:
        source_ids = configured_source_ids()
    quiet_lsl()  # before the monitor's first LSL call: no INFO banner on the console
    monitor = SignalMonitor(source_ids, tuple(args.physio_types.split(",")),
                            warn=lambda m: print(f"[soothe] {m}", file=sys.stderr))
    monitor.start()
    try:
        if args.seconds is not None:
            return run_headless_check(monitor, device, args)
        return run_live(monitor, port=args.port, browser=not args.no_browser,
                        verdict_path=args.verdict)
    finally:
        monitor.stop()
        stop_device(device)


def configured_source_ids() -> list[str] | None:
    """The source ids of the lab's configured physiology devices (``soothe check
    --confirm-streams``); ``None`` (any physiology stream) without a lab config."""
    config = default_lab_config_path()
    if not config.is_file():
        return None
    return [d.source_id for d in read_lab_config(config)
            if is_physiology(d) and d.source_id] or None


def run_headless_check(monitor, device: subprocess.Popen | None,
                       args: argparse.Namespace) -> int:
    """``soothe signals --seconds``: judge, print one line per channel, write the outputs.

    Returns :data:`EXIT_GOOD` when every channel is good, else :data:`EXIT_NOT_GOOD`.
    """
    try:
        record = run_headless(monitor, args.seconds,
                              cue_at=args.cue_at if args.simulate else None)
    except SessionError:
        if device is not None and device.poll() is not None:
            err = device.stderr.read().decode("utf-8", "replace")[-2000:]
            raise SessionError(f"the simulated device stopped: {err}") from None
        raise
    record["scenario"] = args.simulate
    if args.simulate:
        record["expected"] = EXPECTED[args.simulate]
    note = f" Simulated scenario: {args.simulate}." if args.simulate else ""
    for kind, v in record["channels"].items():
        print(f"{kind:5s} {v['status']:17s} {v['reason']}")
    write_outputs(record, args.verdict, args.snapshot, note)
    return EXIT_GOOD if record["overall"] == vd.GOOD else EXIT_NOT_GOOD


def run_live(monitor, *, port: int = 0, browser: bool = True, verdict_path: Path | None = None,
             state=None, out=sys.stdout) -> int:
    """Serve the page until the experimenter continues or skips (or Ctrl-C)."""
    state = state or CheckState()
    # the page lays out the channels it finds when it opens: give the streams a moment
    monitor.found.wait(FIND_TIMEOUT_S / 3)
    box, port, thread = serve(monitor, state, port)
    url = f"http://127.0.0.1:{port}/"
    print(f"[soothe] signal check: {url} (experimenter's screen only). Ctrl-C ends it.",
          file=out, flush=True)
    if browser:
        webbrowser.open(url)
    try:
        while not state.done.wait(0.5):
            pass
    except KeyboardInterrupt:
        state.finish("skip")
    finally:
        stop_server(box, thread)
    frame = monitor.frame()
    verdicts = judge_frame(frame, inverted_ok=state.inverted_ok)
    record = verdict_record(frame, verdicts, outcome=state.outcome,
                            inverted_ticked=state.inverted_ok)
    if verdict_path:
        write_outputs(record, verdict_path, None)
    print(f"[soothe] signal check {state.outcome}: {record['overall']}", file=out, flush=True)
    return EXIT_GOOD if record["overall"] == vd.GOOD else EXIT_NOT_GOOD
