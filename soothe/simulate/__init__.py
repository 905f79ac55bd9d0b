"""The simulated study: the CI test mode of soothe.

One generative model (``soothe.simulate.effects``: latent vagal and sympathetic drives,
breathing; ``soothe.simulate.physiology``: how they reach HR, RMSSD, HF, SCL, SCRs) feeds
the signals (ECG, EDA, respiration belt), the ground truth, the table-level generators and
``soothe power``. See docs/simulation.md.

Public entry points::

    simulate_study(out, n_participants, seed, fs=1000.0, noise=None, formats=("bids",),
                   time_course="linear")
    simulate_session(protocol, participant_id, condition, seed=..., index=..., fs=...)
    simulate_study_tables(n_per_group, seed, measurement_noise=False)
    planted_effects()                       # the model as data (soothe.simulate.effects)

Heavy modules are imported lazily, so ``import soothe.simulate`` stays fast.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "simulate_study",
    "simulate_session",
    "simulate_study_tables",
    "planted_effects",
    "NoiseOptions",
]

_WHERE = {
    "simulate_study": "soothe.simulate.study",
    "simulate_session": "soothe.simulate.study",
    "simulate_study_tables": "soothe.simulate.study",
    "planted_effects": "soothe.simulate.effects",
    "NoiseOptions": "soothe.simulate.noise",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'soothe.simulate' has no attribute {name!r}")
