"""Internal consistency of the state constructs: Cronbach's alpha, pre and post."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from conditions.questionnaire_items import Item


def cronbach_alpha_matrix(matrix: np.ndarray) -> float:
    """Cronbach's alpha (Cronbach, 1951) of a people x items matrix (complete rows only).

    Examples
    --------
    >>> round(cronbach_alpha_matrix(np.array([[1, 2], [2, 3], [3, 5.0]])), 3)
    0.963
    """
    m = np.asarray(matrix, dtype=float)
    m = m[~np.isnan(m).any(axis=1)]
    n, k = m.shape
    if k < 2 or n < 3:
        return float("nan")
    total_var = m.sum(axis=1).var(ddof=1)
    if total_var <= 0:
        return float("nan")
    return float(k / (k - 1) * (1.0 - m.var(axis=0, ddof=1).sum() / total_var))


def construct_alphas(responses: pd.DataFrame, items: Sequence[Item]) -> pd.DataFrame:
    """Alpha per construct and questionnaire phase, on reverse-keyed item ratings.

    Returns columns ``construct, phase, n_items, n_people, alpha, note``; a construct with
    fewer than two items gets NaN and a note.

    Examples
    --------
    >>> from analysis.synthetic import synthetic_study_tables
    >>> t = synthetic_study_tables(6, seed=0)
    >>> a = construct_alphas(t.responses, t.items)
    >>> bool((a["alpha"] > 0.5).all())
    True
    """
    by_id = {it.item_id: it for it in items}
    r = responses[responses["item_id"].isin(by_id)].copy()
    r["rating"] = pd.to_numeric(r["rating"], errors="coerce")
    r["keyed"] = [
        by_id[i].reverse(v) if by_id[i].reversed else v for i, v in zip(r["item_id"], r["rating"])
    ]
    r["construct"] = r["item_id"].map(lambda i: by_id[i].construct)
    rows = []
    for (construct, phase), g in r.groupby(["construct", "phase"], sort=True):
        wide = g.pivot_table(index=["participant_id", "session"], columns="item_id",
                             values="keyed", aggfunc="mean")
        k = wide.shape[1]
        alpha = cronbach_alpha_matrix(wide.to_numpy()) if k >= 2 else float("nan")
        note = "" if k >= 2 else "single item: alpha undefined"
        rows.append({"construct": construct, "phase": phase, "n_items": k,
                     "n_people": int(wide.dropna().shape[0]), "alpha": alpha, "note": note})
    return pd.DataFrame(rows, columns=["construct", "phase", "n_items", "n_people", "alpha",
                                       "note"])
