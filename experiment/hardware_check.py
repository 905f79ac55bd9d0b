"""``soothe check``: the hardware check before the first participant of the day.

It plays a test tone and reports the audio device and its latency, sends test markers on
every configured back end, confirms that the LSL marker outlet is visible (and delivers)
to another process, and measures the frame rate. Each check prints one line; the exit code
is 0 only when every check passed.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import dataclass


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'OK  ' if self.ok else 'FAIL'}  {self.name:<12} {self.detail}"


def check_frame_rate(win, n_frames: int = 180) -> CheckResult:
    """Median flip interval over ``n_frames`` flips (after a warm-up)."""
    import numpy as np

    for _ in range(20):
        win.flip()
    times = np.array([win.flip() for _ in range(n_frames)], dtype=float)
    intervals = np.diff(times)
    if not len(intervals) or not np.all(np.isfinite(intervals)) or np.median(intervals) <= 0:
        return CheckResult("frame rate", False, "could not time the flips")
    med = float(np.median(intervals))
    sd_ms = float(np.std(intervals) * 1000)
    detail = f"{1 / med:.1f} Hz (median of {n_frames} flips; interval SD {sd_ms:.2f} ms)"
    if 1 / med > 250:
        detail += "; not tied to a refresh rate (virtual screen?)"
    return CheckResult("frame rate", True, detail)


def check_audio(tone_hz: float = 440.0, secs: float = 1.0) -> CheckResult:
    from psychopy import clock, core, sound

    from experiment.audio_player import choose_backend, ptb_output_devices

    backend = choose_backend("ptb")
    if backend == "ptb":
        devices = ptb_output_devices()
        device = f"{devices[0]['DeviceName']} ({devices[0]['HostAudioAPIName']})"
    else:
        try:
            import sounddevice as sd

            out = sd.query_devices(kind="output")
            device = f"{out['name']} (sounddevice)"
        except Exception as exc:
            return CheckResult("audio", False, f"no output device: {exc}")
    try:
        tone = sound.Sound(tone_hz, secs=secs, hamming=True, autoLog=False)
    except Exception as exc:
        return CheckResult("audio", False, f"{device}: cannot open: {exc}")
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
    return CheckResult("audio", finished, detail if finished else detail + " (did not finish)")


def check_markers(spec: str) -> list[CheckResult]:
    from experiment.markers import MarkerSender, open_backends

    out = []
    for word in [w.strip() for w in spec.split(",") if w.strip()]:
        try:
            sender = MarkerSender(open_backends(word))
            for bit in range(8):
                sender.send(1 << bit, f"test_bit{bit}")
                import time

                time.sleep(0.03)
            sender.reset()
            sender.close()
            out.append(CheckResult(f"markers:{word.split(':')[0]}", True,
                                   f"{word}: codes 1,2,4..128 sent, lines reset to 0"))
        except Exception as exc:
            out.append(CheckResult(f"markers:{word.split(':')[0]}", False, f"{word}: {exc}"))
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
    import time

    from experiment.markers import LSLMarkerOutlet

    outlet = LSLMarkerOutlet(stream_name)
    proc = subprocess.Popen([sys.executable, "-c", _PROBE, stream_name],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    import pylsl

    while proc.poll() is None and time.monotonic() < deadline:
        outlet.send(1, pylsl.local_clock())
        time.sleep(0.1)
    if proc.poll() is None:
        proc.kill()
    out, _ = proc.communicate()
    outlet.close()
    ok = proc.returncode == 0 and out.startswith("GOT")
    return CheckResult("LSL", ok, f"outlet {stream_name!r} seen by another process: "
                       + (out.strip() if out.strip() else "no answer"))


def run_check(markers: str = "lsl", fullscreen: bool = True, screen: int = 0,
              out=sys.stdout) -> int:
    """Run every check, print one line each; 0 when all passed."""
    from psychopy import logging, visual

    logging.console.setLevel(logging.ERROR)
    results: list[CheckResult] = []
    win = visual.Window(size=(800, 600), fullscr=fullscreen, screen=screen, units="height",
                        checkTiming=False)
    try:
        results.append(check_frame_rate(win))
    finally:
        win.close()
    results.append(check_audio())
    results += check_markers(markers)
    results.append(check_lsl_visible())
    for r in results:
        print(r.line(), file=out, flush=True)
    return 0 if all(r.ok for r in results) else 1
