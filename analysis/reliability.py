"""Internal consistency of the state constructs: Cronbach's alpha, pre and post."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from conditions.questionnaire_items import Item
from conditions.scoring import cronbach_alpha


def construct_alphas(responses: pd.DataFrame, items: Sequence[Item]) -> pd.DataFrame:
    """Alpha per construct and questionnaire phase (shared ``conditions.scoring``).

    Returns columns ``construct, phase, alpha, n, n_items, reason``.

    Examples
    --------
    >>> from analysis.synthetic import synthetic_study_tables
    >>> t = synthetic_study_tables(6, seed=0)
    >>> a = construct_alphas(t.responses, t.items)
    >>> bool((a["alpha"] > 0.5).all())
    True
    """
    parts = []
    for phase in ("pre_questionnaire", "post_questionnaire"):
        if not (responses["phase"] == phase).any():
            continue
        a = cronbach_alpha(responses, items, phase=phase)
        a.insert(1, "phase", phase)
        parts.append(a)
    cols = ["construct", "phase", "alpha", "n", "n_items", "reason"]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)
    return out[[c for c in cols if c in out.columns]]
