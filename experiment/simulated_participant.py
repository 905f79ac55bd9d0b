"""An automated participant that answers through real X input events (xdotool).

The session tells it about each new screen (``on_screen``); a worker thread then acts as a
person would: SPACE on instruction and end screens, a press-and-hold mouse click at the
pixel of a chosen rating on a slider item (a plain click is not registered by
``visual.Slider``), then SPACE. PsychoPy receives these exactly like a person's input.
It never learns the condition.

``abort_at`` makes it press Escape, then Y, on the first screen of a named phase (the
abort-path test).
"""

from __future__ import annotations

import queue
import random
import shutil
import subprocess
import threading
import time

from experiment.errors import SessionError


def _xdotool(*args: str) -> None:
    subprocess.run(["xdotool", *args], check=False, capture_output=True, timeout=10)


class SimulatedParticipant:
    """Answers the session's screens through xdotool.

    Parameters
    ----------
    window_id : int
        X window id of the PsychoPy window.
    seed : int
        Seeds the ratings.
    abort_at : str or None
        Phase whose first screen triggers Escape + Y.
    think_s : float
        Pause before answering a screen.
    """

    def __init__(
        self, window_id: int, seed: int = 0, abort_at: str | None = None, think_s: float = 0.3
    ) -> None:
        if shutil.which("xdotool") is None:
            raise SessionError("--simulate needs xdotool (apt-get install xdotool)")
        self.window_id = str(int(window_id))
        self.rng = random.Random(seed)
        self.abort_at = abort_at
        self.think_s = think_s
        self._queue: queue.Queue = queue.Queue()
        self._screen_serial = 0
        self._aborting = False
        self.retries = 0  # input events that had to be repeated (not registered in time)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name="simulated-participant",
                                        daemon=True)
        self._thread.start()
        _xdotool("windowfocus", "--sync", self.window_id)

    def on_screen(self, kind: str, info: dict) -> None:
        """Called by the session for every new screen (from the session's thread)."""
        with self._lock:
            self._screen_serial += 1
            serial = self._screen_serial
        self._queue.put((serial, kind, info))

    def _current(self, serial: int) -> bool:
        with self._lock:
            return serial == self._screen_serial

    def key(self, name: str) -> None:
        _xdotool("windowfocus", self.window_id)
        _xdotool("key", name)

    def press_and_hold(self, x: int, y: int) -> None:
        _xdotool("mousemove", "--window", self.window_id, str(x), str(y),
                 "mousedown", "1", "sleep", "0.2", "mouseup", "1")

    def _work(self) -> None:
        while True:
            serial, kind, info = self._queue.get()
            if kind == "stop":
                return
            time.sleep(self.think_s)
            if self.abort_at and info.get("phase") == self.abort_at:
                self.abort_at = None
                self._aborting = True
                self._until_next(serial, lambda: self.key("Escape"))
                continue
            if kind == "confirm_quit":
                self._until_next(serial, lambda: self.key("y" if self._aborting else "n"),
                                 tries=20)
                continue
            if kind in ("instructions", "end"):
                self._until_next(serial, lambda: self.key("space"))
            elif kind == "slider_item":
                lo, hi = float(info["min"]), float(info["max"])
                rating = self.rng.uniform(lo + 0.05 * (hi - lo), hi - 0.05 * (hi - lo))
                x, y = info["pixel_of"](rating)

                def answer(x=x, y=y) -> None:
                    self.press_and_hold(x, y)
                    time.sleep(0.15)
                    self.key("space")

                self._until_next(serial, answer)

    def _until_next(self, serial: int, action, retry_s: float = 1.5, tries: int = 200) -> None:
        """Do ``action``; repeat it if the screen has not changed after ``retry_s``."""
        for attempt in range(tries):
            if not self._current(serial):
                return
            if attempt:
                self.retries += 1
            action()
            deadline = time.monotonic() + retry_s
            while time.monotonic() < deadline:
                if not self._current(serial):
                    return
                time.sleep(0.05)

    def close(self) -> None:
        self._queue.put((0, "stop", {}))
