"""What the participant sees, and the one place where keys (and Escape) are read.

:class:`Display` owns the window and the keyboard. Every frame goes through
:meth:`Display.frame`, which draws, optionally saves a screenshot of a screen kind
(``--screenshots``), flips, and returns the keys pressed. Escape is caught there, and only
there: it shows a confirmation, and Y raises :class:`SessionAborted`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from experiment.errors import SessionAborted

FONT = "DejaVu Sans"  # installed on Debian/Ubuntu; PsychoPy's default font is often missing
BACKGROUND = (-0.55, -0.52, -0.40)  # a calm dark blue-grey
TEXT_COLOR = (0.85, 0.85, 0.80)
TEXT_HEIGHT = 0.035

INSTRUCTIONS_TEXT = (
    "Welcome, and thank you for taking part.\n\n"
    "In this session you will rest quietly for a few minutes, answer some short questions "
    "about how you feel right now, and listen to a recording through your headphones.\n\n"
    "There are no right or wrong answers. Please sit comfortably and keep your hands still "
    "while your heart rate and skin conductance are recorded.\n\n"
    "Press SPACE when you are ready to begin."
)
REST_TEXT = "Please sit quietly and rest your eyes on the cross."
LISTEN_TEXT = (
    "Please listen to the recording.\n\n"
    "You may close your eyes if you like.\nThe screen will change when it is over."
)
END_TEXT = (
    "Thank you. The session is finished.\n\n"
    "Please stay seated; the experimenter will be with you in a moment."
)
CONFIRM_QUIT_TEXT = (
    "End the session now?\n\n"
    "Y  =  end the session (everything recorded so far is kept)\n"
    "N  =  carry on"
)
SCREEN_KINDS = ("instructions", "rest", "slider_item", "listening", "end", "confirm_quit")


class Display:
    """The window, the keyboard, screenshots and the simulated-participant hook.

    Parameters
    ----------
    win : psychopy.visual.Window
    log : callable(str)
        Every screen's text is logged (the concealment test reads this log).
    screenshot_dir : Path or None
        Save the first frame of each screen kind as ``<kind>.png`` here.
    on_screen : callable(kind, info) or None
        Told about every new screen (the simulated participant acts on it).
    """

    def __init__(
        self,
        win,
        log: Callable[[str], None] = lambda _msg: None,
        screenshot_dir: Path | None = None,
        on_screen: Callable[[str, dict], None] | None = None,
    ) -> None:
        # lazy: PsychoPy takes seconds to load; `soothe run --help` and `--close` import this module
        from psychopy import visual
        from psychopy.hardware import keyboard

        self.win = win
        self.log = log
        self.screenshot_dir = Path(screenshot_dir) if screenshot_dir else None
        self.captured: set[str] = set()
        self.on_screen = on_screen
        # run right after every flip (and its callbacks): the session writes the flip's
        # markers to _events.tsv here, once all of them went out
        self.after_flip: Callable[[], None] | None = None
        self.kb = keyboard.Keyboard()
        self._text = visual.TextStim(
            win, text="", font=FONT, height=TEXT_HEIGHT, wrapWidth=1.1, color=TEXT_COLOR
        )
        self._small = visual.TextStim(
            win, text="", font=FONT, height=0.028, pos=(0, -0.22), color=TEXT_COLOR
        )
        self._fixation = visual.ShapeStim(
            win,
            vertices="cross",
            size=0.06,
            lineColor=TEXT_COLOR,
            fillColor=TEXT_COLOR,
        )
        self.escape_enabled = True
        # Under Xvfb flips are not tied to a refresh rate (hundreds per second); the
        # simulated session sleeps a little per frame so it does not hog the CPU.
        self.frame_sleep_s = 0.0

    # ------------------------------------------------------------------ drawing
    def draw_text(self, text: str, pos=(0.0, 0.0), height: float = TEXT_HEIGHT) -> None:
        self._text.text = text
        self._text.pos = pos
        self._text.height = height
        self._text.draw()

    def draw_instructions(self) -> None:
        self.draw_text(INSTRUCTIONS_TEXT)

    def draw_rest(self) -> None:
        self._fixation.draw()
        self._small.text = REST_TEXT
        self._small.draw()

    def draw_listening(self) -> None:
        self.draw_text(LISTEN_TEXT, pos=(0, 0.12))
        self._fixation.pos = (0, -0.12)
        self._fixation.draw()
        self._fixation.pos = (0, 0)

    def draw_end(self) -> None:
        self.draw_text(END_TEXT)

    def draw_confirm_quit(self) -> None:
        self.draw_text(CONFIRM_QUIT_TEXT)

    # ------------------------------------------------------------------ frames
    def announce(self, kind: str, text: str, **info) -> None:
        """Log a new screen and tell the simulated participant about it."""
        self.log(f"screen\t{kind}\t{text}".replace("\n", " / "))
        if self.on_screen is not None:
            self.on_screen(kind, dict(info, text=text))

    def capture(self, kind: str) -> None:
        """Save the back buffer as ``<kind>.png`` once (call after drawing, before flip)."""
        if self.screenshot_dir is None or kind in self.captured:
            return
        self.screenshot_dir.mkdir(parents=True, exist_ok=True)
        self.win.getMovieFrame(buffer="back")
        self.win.saveMovieFrames(str(self.screenshot_dir / f"{kind}.png"))
        self.captured.add(kind)

    def frame(
        self,
        draw: Callable[[], None],
        kind: str,
        keys: Sequence[str] = (),
        capture: bool = True,
    ) -> list:
        """Draw, maybe capture, flip; return the keys in ``keys`` pressed since last frame.

        Escape is handled here: confirmation screen, then :class:`SessionAborted` on Y.
        """
        draw()
        if capture:
            self.capture(kind)
        self._flip()
        if self.frame_sleep_s:
            time.sleep(self.frame_sleep_s)
        wanted = list(keys) + (["escape"] if self.escape_enabled else [])
        pressed = self.kb.getKeys(keyList=wanted, waitRelease=False) if wanted else []
        if self.escape_enabled and any(k.name == "escape" for k in pressed):
            self.confirm_quit()
            return []
        return pressed

    def _flip(self) -> None:
        self.win.flip()
        if self.after_flip is not None:
            self.after_flip()

    def confirm_quit(self) -> None:
        """Ask Y/N; raise SessionAborted on Y, return on N."""
        self.announce("confirm_quit", CONFIRM_QUIT_TEXT)
        self.kb.clearEvents()
        while True:
            self.draw_confirm_quit()
            self.capture("confirm_quit")
            self._flip()
            for key in self.kb.getKeys(keyList=["y", "n"], waitRelease=False):
                if key.name == "y":
                    self.log("experimenter confirmed Escape: aborting")
                    raise SessionAborted("session aborted by the experimenter (Escape, Y)")
                self.log("Escape cancelled: carrying on")
                return

    def wait_keys(self, draw: Callable[[], None], kind: str, keys: Sequence[str] = ("space",)):
        """Show a screen until one of ``keys`` is pressed; return that key."""
        self.kb.clearEvents()
        while True:
            pressed = self.frame(draw, kind, keys)
            if pressed:
                return pressed[0]

    def show_for(self, draw: Callable[[], None], kind: str, seconds: float) -> None:
        """Show a screen for ``seconds`` (Escape still works)."""
        # lazy: PsychoPy takes seconds to load; `soothe run --help` and `--close` import this module
        from psychopy import core

        clock = core.Clock()
        while clock.getTime() < seconds:
            self.frame(draw, kind)
