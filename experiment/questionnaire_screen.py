"""Questionnaire items on ``visual.Slider``: VAS (0-100) or Likert, one item per screen.

The participant must place the marker (click or drag on the line) before SPACE continues.
For each item the session records the rating, the response time (SPACE press minus the
item's first flip), the onset on the session clock, and the position in the order shown.
The order can be randomised per participant and phase (seeded, so a resumed session shows
the same order and skips the items already answered).
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from experiment.screens import FONT, TEXT_COLOR

HINT_MOVE = "Click on the line to answer."
HINT_CONTINUE = "Press SPACE to continue (you can still change your answer)."
SLIDER_POS = (0.0, -0.05)
SLIDER_SIZE = (1.0, 0.035)


def item_order(items: Sequence, randomise: bool, seed: int, subject: str, phase: str) -> list:
    """The order in which ``items`` are shown (stable for a participant and phase).

    Examples
    --------
    >>> item_order([1, 2, 3], False, 1, "001", "pre")
    [1, 2, 3]
    >>> item_order([1, 2, 3, 4], True, 1, "001", "pre") == item_order(
    ...     [1, 2, 3, 4], True, 1, "001", "pre")
    True
    """
    items = list(items)
    if randomise:
        rng = random.Random(zlib.crc32(f"{seed}|{subject}|{phase}".encode()))
        rng.shuffle(items)
    return items


def rating_to_pixels(rating: float, item, win_size: Sequence[int]) -> tuple[int, int]:
    """Window pixel (x from left, y from top) where ``rating`` sits on the slider line.

    Uses the window's 'height' units: one unit is the window height.

    Examples
    --------
    >>> class It: min, max = 0.0, 100.0
    >>> rating_to_pixels(50, It(), (1000, 800))
    (500, 440)
    """
    w, h = int(win_size[0]), int(win_size[1])
    frac = (float(rating) - item.min) / (item.max - item.min)
    x_units = SLIDER_POS[0] - SLIDER_SIZE[0] / 2 + frac * SLIDER_SIZE[0]
    return int(round(w / 2 + x_units * h)), int(round(h / 2 - SLIDER_POS[1] * h))


@dataclass
class ItemResult:
    rating: float
    onset_psychopy: float
    response_psychopy: float

    @property
    def response_time(self) -> float:
        return self.response_psychopy - self.onset_psychopy


def make_slider(win, item):
    """A Slider for ``item``: continuous VAS, or integer ticks for a Likert item."""
    # lazy: PsychoPy takes seconds to load; `soothe run --help` and `--close` import this module
    from psychopy import visual

    if item.is_vas:
        ticks, granularity, labels = (item.min, item.max), 0, None
    else:
        ticks = tuple(range(int(item.min), int(item.max) + 1))
        granularity, labels = 1, [str(t) for t in ticks]
    return visual.Slider(
        win,
        ticks=ticks,
        labels=labels,
        granularity=granularity,
        pos=SLIDER_POS,
        size=SLIDER_SIZE,
        units="height",
        style="rating",
        font=FONT,
        labelHeight=0.025,
        labelColor=TEXT_COLOR,
        lineColor=TEXT_COLOR,
        markerColor=(0.9, 0.55, 0.3),
        autoLog=False,
    )


def run_item(
    display,
    item,
    title: str,
    position: int,
    n_items: int,
    on_onset: Callable[[], None],
    info: dict | None = None,
) -> ItemResult:
    """Show one item until it has a rating and SPACE is pressed.

    ``on_onset`` is called on the item's first flip (it sends the item-onset marker).
    """
    # lazy: PsychoPy takes seconds to load; `soothe run --help` and `--close` import this module
    from psychopy import core, visual

    win = display.win
    slider = make_slider(win, item)
    texts = {
        "title": visual.TextStim(win, title, font=FONT, height=0.03, pos=(0, 0.38),
                                 color=TEXT_COLOR, wrapWidth=1.2),
        "item": visual.TextStim(win, item.text, font=FONT, height=0.045, pos=(0, 0.14),
                                color=TEXT_COLOR, wrapWidth=1.1),
        "low": visual.TextStim(win, item.anchor_low, font=FONT, height=0.028,
                               pos=(-SLIDER_SIZE[0] / 2, -0.12), color=TEXT_COLOR,
                               wrapWidth=0.35),
        "high": visual.TextStim(win, item.anchor_high, font=FONT, height=0.028,
                                pos=(SLIDER_SIZE[0] / 2, -0.12), color=TEXT_COLOR,
                                wrapWidth=0.35),
        "count": visual.TextStim(win, f"{position} / {n_items}", font=FONT, height=0.022,
                                 pos=(0, -0.42), color=TEXT_COLOR),
    }
    hint = visual.TextStim(win, HINT_MOVE, font=FONT, height=0.026, pos=(0, -0.28),
                           color=TEXT_COLOR)

    def draw() -> None:
        for stim in texts.values():
            stim.draw()
        slider.draw()
        hint.text = HINT_MOVE if slider.getRating() is None else HINT_CONTINUE
        hint.draw()

    onset: dict[str, float] = {}

    def _mark_onset() -> None:
        onset["t"] = core.getTime()
        on_onset()

    display.announce(
        "slider_item",
        f"{title} | {item.text} | {item.anchor_low} .. {item.anchor_high}",
        item_id=item.item_id,
        min=item.min,
        max=item.max,
        pixel_of=lambda r: rating_to_pixels(r, item, win.size),
        **(info or {}),
    )
    display.kb.clearEvents()
    win.callOnFlip(_mark_onset)
    while True:
        rated = slider.getRating() is not None
        # screenshot of the slider once it shows a marker: more telling than an empty line
        pressed = display.frame(draw, "slider_item", ["space"], capture=rated)
        if pressed and slider.getRating() is not None:
            key = pressed[-1]
            t_resp = float(key.tDown) if getattr(key, "tDown", None) else core.getTime()
            return ItemResult(float(slider.getRating()), onset["t"], t_resp)
