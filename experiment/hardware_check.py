"""``soothe check``: the hardware check before the first participant of the day.

Each check prints one line, ``OK``, ``WARN`` or ``FAIL``:

- **streams**: lists the LSL streams it sees; with ``--confirm-streams`` (or a "y" at the
  prompt) it writes the lab config naming the physiology streams (see
  :mod:`experiment.lab_config`); otherwise it checks the visible streams against the lab
  config (a device missing or matched twice is a FAIL).
- **frame rate**: the measured flip rate against the expected refresh rate
  (``--refresh-hz``): flips faster than any refresh (no vsync, a virtual screen) are a WARN,
  never OK; a rate off the expected one, or dropped frames, is a FAIL.
- **audio**: plays a test tone and reports the device and PTB's predicted latency.
- **audio latency**: plays a click train and finds the clicks in a recording of the output
  (:mod:`experiment.audio_latency`): latency and jitter against the markers.
- **markers**: sends test codes on every configured back end; **LSL**: the marker outlet
  is seen by another process.

Exit code: 0 when every check is OK, 2 when the worst is a WARN, 1 when any check FAILs.
"""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experiment.audio_latency import (
    JackLoopbackCapture,
    LatencyCheckError,
    LSLChannelCapture,
    judge_latency,
    measure_audio_latency,
)
from experiment.audio_player import choose_backend, ptb_output_devices
from experiment.datafiles import utc_now
from experiment.lab_config import (
    StreamIdentityError,
    default_lab_config_path,
    describe_missing,
    is_physiology,
    match_devices,
    read_lab_config,
    visible_from_info,
    write_lab_config,
)
from experiment.markers import LSLMarkerOutlet, MarkerSender, open_backends

#: all checks, in the order they run
CHECKS = ("streams", "frame", "audio", "latency", "markers", "lsl")


@dataclass
class CheckResult:
    name: str
    status: str  # OK | WARN | FAIL
    detail: str

    @property
    def ok(self) -> bool:
        return self.status == "OK"

    def line(self) -> str:
        return f"{self.status:<4}  {self.name:<13} {self.detail}"


def assess_flip_intervals(intervals: Sequence[float], expected_hz: float,
                          tolerance: float = 0.03, max_dropped: float = 0.01) -> CheckResult:
    """Judge measured flip intervals (s) against the expected refresh rate.

    - median rate above 1.5 x the expected one (or above 500 Hz): flips are not tied to a
      refresh (no vsync): WARN, frame timing cannot be trusted;
    - median rate more than ``tolerance`` off the expected one: FAIL;
    - more than ``max_dropped`` of the intervals longer than 1.5 refresh periods: FAIL;
    - else OK.

    Examples
    --------
    >>> assess_flip_intervals([1 / 3276.8] * 100, 60).status
    'WARN'
    >>> assess_flip_intervals([1 / 60] * 100, 60).status
    'OK'
    >>> assess_flip_intervals([1 / 30] * 100, 60).status
    'FAIL'
    """
    x = np.asarray(intervals, dtype=float)
    if not len(x) or not np.all(np.isfinite(x)) or np.median(x) <= 0:
        return CheckResult("frame rate", "FAIL", "could not time the flips")
    if not expected_hz or expected_hz <= 0:
        return CheckResult("frame rate", "FAIL", f"expected refresh rate {expected_hz!r} Hz")
    med = float(np.median(x))
    rate = 1 / med
    period = 1 / expected_hz
    dropped = float(np.mean(x > 1.5 * period))
    detail = (f"{rate:.1f} Hz measured, {expected_hz:g} Hz expected (median of {len(x)} flip "
              f"intervals; SD {np.std(x) * 1000:.2f} ms; {dropped:.1%} longer than 1.5 "
              "refresh periods)")
    if rate > 1.5 * expected_hz or rate > 500:
        return CheckResult("frame rate", "WARN", detail + "; flips are not tied to a screen "
                           "refresh (no vsync: a virtual screen, or sync-to-vblank off in the "
                           "graphics driver): screen timing cannot be trusted")
    if abs(rate - expected_hz) > tolerance * expected_hz:
        return CheckResult("frame rate", "FAIL", detail + f"; off by more than "
                           f"{tolerance:.0%}: set the display to {expected_hz:g} Hz or pass the "
                           "real rate with --refresh-hz")
    if dropped > max_dropped:
        return CheckResult("frame rate", "FAIL", detail + f"; more than {max_dropped:.0%} "
                           "dropped frames")
    return CheckResult("frame rate", "OK", detail)


def screen_refresh_hz(win) -> float | None:
    """The refresh rate the operating system reports for the window's screen (or None)."""
    try:
        screen = win.winHandle.screen
        display = getattr(getattr(screen, "display", None), "_display", None)
        if display is not None:  # X11: ask first, or Xlib prints "extension ... missing"
            # lazy: pyglet's Xlib binding exists only on X11
            from pyglet.libs.x11 import xlib

            a, b, c = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
            if not xlib.XQueryExtension(display, b"XFree86-VidModeExtension",
                                        ctypes.byref(a), ctypes.byref(b), ctypes.byref(c)):
                return None
        mode = screen.get_mode()
        return float(mode.rate) if mode is not None and mode.rate else None
    except Exception:
        return None


def check_frame_rate(win, expected_hz: float | None = None, n_frames: int = 180) -> CheckResult:
    """Flip ``n_frames`` times (after a warm-up) and judge the intervals."""
    for _ in range(20):
        win.flip()
    times = np.array([win.flip() for _ in range(n_frames)], dtype=float)
    source = "--refresh-hz"
    if expected_hz is None:
        expected_hz, source = screen_refresh_hz(win), "the screen mode"
    if expected_hz is None:
        expected_hz, source = 60.0, "default (the screen reports no rate)"
    result = assess_flip_intervals(np.diff(times), expected_hz)
    result.detail += f"; expected rate from {source}"
    return result


def check_audio(tone_hz: float = 440.0, secs: float = 1.0) -> CheckResult:
    # lazy: PsychoPy takes seconds to load; the LSL and marker checks run without it
    from psychopy import clock, core, sound

    backend = choose_backend("ptb")
    if backend == "ptb":
        devices = ptb_output_devices()
        device = f"{devices[0]['DeviceName']} ({devices[0]['HostAudioAPIName']})"
    else:
        try:
            # lazy: sounddevice loads PortAudio; it is only the fallback when PTB sees no device
            import sounddevice as sd

            out = sd.query_devices(kind="output")
            device = f"{out['name']} (sounddevice)"
        except Exception as exc:
            return CheckResult("audio", "FAIL", f"no output device: {exc}")
    try:
        tone = sound.Sound(tone_hz, secs=secs, hamming=True, autoLog=False)
    except Exception as exc:
        return CheckResult("audio", "FAIL", f"{device}: cannot open: {exc}")
    when = clock.getTime() + 0.2  # PTB's own clock (GetSecs)
    if backend == "ptb":
        tone.play(when=when, log=False)
    else:
        tone.play(log=False)
    t0 = core.getTime()
    while not tone.isFinished and core.getTime() - t0 < secs + 3:
        core.wait(0.01)
    detail = f"{backend} -> {device}; {secs:g} s {tone_hz:g} Hz tone played"
    status = {}
    try:
        status = dict(tone.track.status)
    except Exception:
        pass
    if status.get("StartTime"):
        err_ms = (status["StartTime"] - when) * 1000
        detail += (f"; predicted output latency {status.get('PredictedLatency', 0) * 1000:.1f} ms"
                   f"; onset {err_ms:+.2f} ms from the scheduled time")
    finished = bool(tone.isFinished)
    return CheckResult("audio", "OK" if finished else "FAIL",
                       detail if finished else detail + " (did not finish)")


def check_markers(spec: str) -> list[CheckResult]:
    out = []
    for word in [w.strip() for w in spec.split(",") if w.strip()]:
        try:
            sender = MarkerSender(open_backends(word))
            for bit in range(8):
                sender.send(1 << bit, f"test_bit{bit}")
                time.sleep(0.03)
            sender.reset()
            sender.close()
            out.append(CheckResult(f"markers:{word.split(':')[0]}", "OK",
                                   f"{word}: codes 1,2,4..128 sent, lines reset to 0"))
        except Exception as exc:
            out.append(CheckResult(f"markers:{word.split(':')[0]}", "FAIL", f"{word}: {exc}"))
    return out


_PROBE = textwrap.dedent(
    """
    import sys, pylsl
    found = pylsl.resolve_byprop("name", sys.argv[1], timeout=8)
    if not found:
        print("NOTFOUND"); sys.exit(1)
    inlet = pylsl.StreamInlet(found[0])
    sample, ts = inlet.pull_sample(timeout=8)
    print("GOT", sample[0] if sample else None, found[0].hostname()); sys.exit(0 if sample else 2)
    """
)


def check_lsl_visible(stream_name: str = "soothe_check_markers") -> CheckResult:
    """Open a marker outlet here and have a second process resolve it and receive a marker."""
    outlet = LSLMarkerOutlet(stream_name)
    proc = subprocess.Popen([sys.executable, "-c", _PROBE, stream_name],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    # lazy: liblsl reads its config (LSLAPICFG) when pylsl loads; the caller sets it first
    import pylsl

    while proc.poll() is None and time.monotonic() < deadline:
        outlet.send(1, pylsl.local_clock())
        time.sleep(0.1)
    if proc.poll() is None:
        proc.kill()
    out, _ = proc.communicate()
    outlet.close()
    ok = proc.returncode == 0 and out.startswith("GOT")
    return CheckResult("LSL", "OK" if ok else "FAIL",
                       f"outlet {stream_name!r} seen by another process: "
                       + (out.strip() if out.strip() else "no answer"))


def check_streams(lab_config: Path, confirm: bool | None, out=sys.stdout,
                  wait_s: float = 2.0, ask=input) -> CheckResult:
    """List the LSL streams; write the lab config once confirmed, else check against it.

    ``confirm``: True writes without asking (``--confirm-streams``), None asks on an
    interactive terminal (and only checks otherwise), False only checks.
    """
    # lazy: liblsl reads its config (LSLAPICFG) when pylsl loads; the caller sets it first
    import pylsl

    visible = [visible_from_info(i) for i in pylsl.resolve_streams(wait_time=wait_s)]
    print(f"LSL streams visible now ({len(visible)}):", file=out)
    for v in visible:
        print(f"    {v.describe()}", file=out)
    physio = [v for v in visible if is_physiology(v.spec)]
    if confirm is None and sys.stdin is not None and sys.stdin.isatty() and physio:
        answer = ask(f"Record these {len(physio)} physiology stream(s) as this lab's devices "
                     f"in {lab_config}? [y/N] ")
        confirm = answer.strip().lower() in ("y", "yes")
    if confirm:
        if not physio:
            return CheckResult("streams", "FAIL", "no physiology stream is visible: switch the "
                               "amplifier's LSL bridge on, then run the check again")
        dupes = {v.spec for v in physio if sum(w.spec == v.spec for w in physio) > 1}
        if dupes:
            return CheckResult("streams", "FAIL", "streams with identical identity cannot "
                               "be told apart: " + "; ".join(d.describe() for d in dupes))
        write_lab_config(lab_config, [v.spec for v in physio], written_by="soothe check",
                         written=utc_now())
        return CheckResult("streams", "OK", f"lab config written: {lab_config} names "
                           + "; ".join(v.spec.describe() for v in physio))
    try:
        devices = read_lab_config(lab_config)
        found, missing = match_devices(devices, visible)
    except StreamIdentityError as exc:
        return CheckResult("streams", "FAIL", str(exc))
    if missing:
        return CheckResult("streams", "FAIL", describe_missing(missing, visible, lab_config))
    return CheckResult("streams", "OK", f"every device of {lab_config} is on LSL, once: "
                       + "; ".join(v.describe() for v in found.values()))


def check_audio_latency(source: str, n_clicks: int = 20, markers: str = "none",
                        max_abs_latency_ms: float = 20.0, max_jitter_ms: float = 2.0,
                        json_path: Path | None = None) -> CheckResult:
    """The audio-onset latency check (``source``: ``jack`` or ``lsl:STREAM:CHANNEL``)."""
    capture = None
    try:
        if source == "jack":
            capture = JackLoopbackCapture()
        elif source.startswith("lsl:") and source.count(":") == 2:
            _, stream, channel = source.split(":")
            capture = LSLChannelCapture(stream, channel)
        else:
            return CheckResult("audio latency", "FAIL", f"--latency-source {source!r}: "
                               "expected jack or lsl:STREAM:CHANNEL")
        report = measure_audio_latency(capture, n_clicks=n_clicks, marker_spec=markers,
                                       add_predicted_output_latency=source == "jack")
    except LatencyCheckError as exc:
        return CheckResult("audio latency", "FAIL", str(exc))
    finally:
        if capture is not None:
            capture.close()
    status, detail = judge_latency(report, max_abs_latency_ms, max_jitter_ms)
    if json_path is not None:
        body = dict(report.as_dict(), status=status, method={
            "click": "1 ms rectangular, amplitude 0.8", "n_clicks": n_clicks,
            "onset": "first sample above max(0.5 x peak, 8 robust SD) from the median",
            "pairing_window_s": [-0.05, 0.35], "limits_ms": {
                "abs_latency": max_abs_latency_ms, "jitter_sd": max_jitter_ms}})
        Path(json_path).write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    return CheckResult("audio latency", status, detail)


def run_check(markers: str = "lsl", fullscreen: bool = True, screen: int = 0,
              out=sys.stdout, *, only: Sequence[str] = CHECKS, refresh_hz: float | None = None,
              lab_config: Path | None = None, confirm_streams: bool | None = None,
              latency_source: str = "jack", clicks: int = 20,
              latency_json: Path | None = None) -> int:
    """Run the chosen checks, print one line each; 0 all OK, 2 warnings only, 1 a failure."""
    unknown = sorted(set(only) - set(CHECKS))
    if unknown:
        print(f"FAIL  unknown check(s) {unknown}; known: {', '.join(CHECKS)}", file=out)
        return 1
    results: list[CheckResult] = []

    def report(result: CheckResult) -> None:
        results.append(result)
        print(result.line(), file=out, flush=True)

    if "streams" in only:
        report(check_streams(lab_config or default_lab_config_path(), confirm_streams, out))
    if "frame" in only:
        # lazy: PsychoPy takes seconds to load; the LSL and marker checks run without it
        from psychopy import logging, visual

        logging.console.setLevel(logging.ERROR)
        win = visual.Window(size=(800, 600), fullscr=fullscreen, screen=screen,
                            units="height", checkTiming=False)
        try:
            report(check_frame_rate(win, refresh_hz))
        finally:
            win.close()
    if "audio" in only:
        report(check_audio())
    if "latency" in only:
        report(check_audio_latency(latency_source, clicks, json_path=latency_json))
    if "markers" in only:
        for r in check_markers(markers):
            report(r)
    if "lsl" in only:
        report(check_lsl_visible())
    if any(r.status == "FAIL" for r in results):
        return 1
    return 2 if any(r.status == "WARN" for r in results) else 0
