"""Simulated questionnaire answers from the stated self-report effect model.

See ``soothe.simulate.effects`` for the model: a latent state per construct (0-100 VAS
points) before the induction, shifted after it by the condition's planted effect, plus
individual differences, fixed item biases and answer noise, reverse-keyed and clipped to
each item's scale.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from conditions.bids import BEH_COLUMNS
from conditions.questionnaire_items import Item
from soothe.simulate import effects
from soothe.simulate.timeline import SessionTimeline


def item_biases(items: list[Item], seed: int) -> dict[str, float]:
    """Fixed per-item offsets (VAS points), the same for every participant of a study."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 7919]))
    sd = effects.SELFREPORT_SD["item_bias_sd"]
    return {it.item_id: float(rng.normal(0.0, sd)) for it in sorted(items, key=lambda i: i.item_id)}


def latent_states(
    constructs: list[str], condition: str, rng: np.random.Generator
) -> dict[str, dict[str, float]]:
    """Latent pre and post state per construct: ``{'pre': {...}, 'post': {...}}``."""
    sd = effects.SELFREPORT_SD
    pre, post = {}, {}
    for c in sorted(set(constructs)):
        mean = effects.SELFREPORT_MEAN.get(c, effects.SELFREPORT_DEFAULT_MEAN)
        pre[c] = float(rng.normal(mean, sd["person_sd"]))
        post[c] = (
            pre[c]
            + effects.selfreport_shift(condition, c)
            + float(rng.normal(0.0, sd["response_sd"]))
        )
    return {"pre": pre, "post": post}


def answer_item(item: Item, latent_vas: float, bias: float, rng: np.random.Generator) -> float:
    """One rating on the item's own scale, as the participant would give it."""
    vas = latent_vas + bias + rng.normal(0.0, effects.SELFREPORT_SD["item_noise_sd"])
    p = float(np.clip(vas / 100.0, 0.0, 1.0))
    if item.reversed:
        p = 1.0 - p
    rating = item.min + p * (item.max - item.min)
    if item.is_vas:
        return round(rating, 1)
    return float(np.clip(np.round(rating), item.min, item.max))


def phase_state(timeline: SessionTimeline, phase: str) -> str:
    """'pre' for questionnaires before the induction, 'post' after it."""
    span = timeline.phase(phase)
    return "pre" if span.onset_s < timeline.audio_onset_s else "post"


def simulate_beh(
    timeline: SessionTimeline,
    states: dict[str, dict[str, float]],
    biases: dict[str, float],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The ``_beh.tsv`` table of one session (one row per item and phase)."""
    rows = []
    for slot in timeline.items:
        state = phase_state(timeline, slot.phase)
        latent = states[state].get(slot.item.construct, effects.SELFREPORT_DEFAULT_MEAN)
        rows.append(
            {
                "phase": slot.phase,
                "questionnaire": slot.questionnaire,
                "item_id": slot.item.item_id,
                "construct": slot.item.construct,
                "reversed": bool(slot.item.reversed),
                "position": slot.position,
                "onset": slot.onset_s,
                "rating": answer_item(slot.item, latent, biases.get(slot.item.item_id, 0.0), rng),
                "response_time": slot.response_time_s,
                "scale_min": slot.item.min,
                "scale_max": slot.item.max,
            }
        )
    return pd.DataFrame(rows, columns=list(BEH_COLUMNS))
