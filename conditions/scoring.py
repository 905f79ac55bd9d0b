"""Questionnaire scoring shared by the experiment and the analysis.

Construct scores are means of reverse-keyed item ratings, each item reversed on its own
scale (``min + max - rating``), so VAS (0-100) and Likert (e.g. 1-7) items are handled
alike. A construct score is prorated, that is the mean of the answered items, when at most
20 % of the construct's items are missing (:data:`MAX_MISSING_FRACTION`); otherwise it is
NaN with the reason in the ``reason`` column. Cronbach's alpha (Cronbach, 1951) is computed
per construct on complete cases.

What the 20 % rule means for short constructs (a deliberate decision):
a construct of 5 items is prorated with 1 item missing; a construct of 3 or 4 items (six of
the seven shipped constructs have 4) is NaN as soon as one item is missing. We do not loosen
the rule to 25 % for 4-item constructs because

- each shipped construct has exactly one reverse-keyed item: prorating over the other three
  when it is missing gives a score made only of same-keyed items, which is open to
  acquiescence and no longer the balanced score the other participants get;
- items of one construct differ in their means, so a prorated mean depends on which item
  is missing; proration is biased even when items are missing completely at random
  (Mazza, Enders & Ruehlman, 2015, Multivariate Behavioral Research, 50(5), 504-519), and
  person-mean substitution held up only up to about 20 % of items missing (Downey & King,
  1998, Journal of General Psychology, 125(2), 175-191);
- on a computerised VAS a single skipped item is rare; a NaN construct score with its reason
  is transparent, and costs the analysis one score, not a biased one.

An analyst who wants a sensitivity analysis passes ``max_missing_fraction=0.25`` (one of four
items) explicitly; ``soothe conditions check`` prints, per construct, how many items may be
missing (``may_miss``).

The state constructs of the shipped item bank (``questionnaires/state_vas.csv``) are named
in :data:`STATE_CONSTRUCTS`; the simulator and the analysis use these names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from conditions.errors import SootheError
from conditions.questionnaire_items import Item

#: Construct names of the shipped state item bank (Gilbert's three affect systems plus
#: self-compassion and self-criticism, as measured in the paradigm).
STATE_CONSTRUCTS: tuple[str, ...] = (
    "self_compassion",
    "self_criticism",
    "safe_content",
    "connected_secure",
    "drive_activation",
    "threat",
    "relaxed",
)

#: A construct score is prorated when at most this fraction of its items is missing.
MAX_MISSING_FRACTION: float = 0.20

#: Columns of :func:`score_constructs` output after the grouping keys.
SCORE_COLUMNS: tuple[str, ...] = ("construct", "score", "n_items", "n_missing", "reason")

_GROUP_KEYS: tuple[str, ...] = ("participant_id", "session", "phase")


class ScoringError(SootheError, ValueError):
    """Questionnaire responses cannot be scored (names the item and what was wrong)."""


def _keyed_long(responses: pd.DataFrame, items: Sequence[Item]) -> tuple[pd.DataFrame, list[str]]:
    """Responses restricted to ``items``, with a ``keyed`` rating column, and group keys."""
    missing = [c for c in ("phase", "item_id", "rating") if c not in responses.columns]
    if missing:
        raise ScoringError(f"responses: missing column(s) {missing}; need phase, item_id, rating")
    if not items:
        raise ScoringError("no items given to score")
    by_id = {it.item_id: it for it in items}
    for construct in {it.construct for it in items}:
        ranges = {(it.min, it.max) for it in items if it.construct == construct}
        if len(ranges) > 1:
            raise ScoringError(
                f"construct {construct!r} mixes item ranges {sorted(ranges)}; a mean needs "
                "one scale per construct"
            )
    keys = [k for k in _GROUP_KEYS if k in responses.columns]
    r = responses.loc[responses["item_id"].astype(str).isin(by_id), [*keys, "item_id", "rating"]]
    r = r.copy()
    r["item_id"] = r["item_id"].astype(str)
    raw = r["rating"]
    na_text = raw.astype(str).str.strip().str.lower().isin({"n/a", "nan", ""})
    rating = pd.to_numeric(raw.mask(na_text), errors="coerce")
    bad_text = rating.isna() & raw.notna() & ~na_text
    if bad_text.any():
        row = r[bad_text].iloc[0]
        raise ScoringError(f"item {row['item_id']!r}: rating {row['rating']!r} is not a number")
    lo = r["item_id"].map(lambda i: by_id[i].min).astype(float)
    hi = r["item_id"].map(lambda i: by_id[i].max).astype(float)
    out_of_range = rating.notna() & ((rating < lo) | (rating > hi))
    if out_of_range.any():
        i = out_of_range.idxmax()
        raise ScoringError(
            f"item {r.at[i, 'item_id']!r}: rating {rating[i]:g} is outside its scale "
            f"{lo[i]:g}..{hi[i]:g}"
        )
    rev = r["item_id"].map(lambda i: by_id[i].reversed).astype(bool)
    r["keyed"] = np.where(rev, lo + hi - rating, rating)
    r["construct"] = r["item_id"].map(lambda i: by_id[i].construct)
    dup = r.duplicated([*keys, "item_id"], keep=False)
    if dup.any():
        row = r[dup].iloc[0]
        where = ", ".join(f"{k}={row[k]}" for k in keys)
        raise ScoringError(f"item {row['item_id']!r} answered more than once ({where})")
    return r, keys


def score_constructs(
    responses: pd.DataFrame,
    items: Sequence[Item],
    *,
    max_missing_fraction: float = MAX_MISSING_FRACTION,
) -> pd.DataFrame:
    """Construct scores per participant x phase (and session, when present).

    Parameters
    ----------
    responses : pandas.DataFrame
        Long responses: ``phase, item_id, rating`` and, when present, ``participant_id``
        and ``session`` (the ``_beh.tsv`` columns of :mod:`conditions.bids` plus
        ``participant_id``). Ratings are on each item's own scale, unreversed. A missing
        rating is NaN (or ``n/a``) or simply an absent row. Rows for items not in
        ``items`` are ignored.
    items : sequence of Item
        The item definitions (e.g. from :func:`conditions.questionnaire_items.load_items`).
    max_missing_fraction : float
        Largest fraction of missing items for which the score is prorated. The default,
        0.20, allows no missing item in a construct of 3 or 4 items (see the module
        docstring for why); pass 0.25 for a sensitivity analysis that prorates one missing
        item of four.

    Returns
    -------
    pandas.DataFrame
        One row per group x construct: the group keys, then ``construct, score, n_items,
        n_missing, reason``. ``score`` is NaN (with ``reason``) when too many items are
        missing; ``reason`` is '' for a complete score and says so for a prorated one.

    Raises
    ------
    ScoringError
        On a missing column, a non-numeric or out-of-range rating, a duplicated answer, or
        a construct whose items use different scales.

    Examples
    --------
    >>> import pandas as pd
    >>> from conditions.questionnaire_items import Item
    >>> items = [Item("a", "A", "calm", False, "no", "yes", 1, 7),
    ...          Item("b", "B", "calm", True, "no", "yes", 1, 7)]
    >>> r = pd.DataFrame({"participant_id": ["sub-01"] * 2, "phase": ["pre"] * 2,
    ...                   "item_id": ["a", "b"], "rating": [6, 2]})
    >>> float(score_constructs(r, items)["score"].iloc[0])
    6.0
    """
    r, keys = _keyed_long(responses, items)
    constructs = list(dict.fromkeys(it.construct for it in items))
    members = {c: [it.item_id for it in items if it.construct == c] for c in constructs}
    lookup = answered_by_group(r, keys)
    rows = []
    for group in response_groups(responses, keys):
        for construct in constructs:
            n_items = len(members[construct])
            score, n_missing, reason = construct_score(
                lookup.get((*group, construct)), n_items, max_missing_fraction
            )
            rows.append(
                {
                    **dict(zip(keys, group)),
                    "construct": construct,
                    "score": score,
                    "n_items": n_items,
                    "n_missing": n_missing,
                    "reason": reason,
                }
            )
    return pd.DataFrame(rows, columns=[*keys, *SCORE_COLUMNS])


def response_groups(responses: pd.DataFrame, keys: list[str]) -> list[tuple]:
    """Every participant x session x phase present in ``responses``, sorted (``[()]``
    when there are no group keys: all responses are one group)."""
    if not keys:
        return [()]
    groups = responses[keys].drop_duplicates().sort_values(keys).itertuples(index=False)
    return [tuple(g) for g in groups]


def answered_by_group(keyed: pd.DataFrame, keys: list[str]) -> dict[tuple, pd.Series]:
    """The answered keyed ratings per ``(*group, construct)``."""
    answered = keyed.dropna(subset=["keyed"])
    grouped = answered.groupby([*keys, "construct"] if keys else ["construct"], sort=False)
    return {(*k, c): s for (*k, c), s in grouped["keyed"]}


def construct_score(
    values: pd.Series | None, n_items: int, max_missing_fraction: float = MAX_MISSING_FRACTION
) -> tuple[float, int, str]:
    """One construct score: ``(score, n_missing, reason)`` from its answered keyed ratings.

    The mean of the answered items, prorated when at most ``max_missing_fraction`` of the
    ``n_items`` are missing, otherwise NaN with the reason.

    Examples
    --------
    >>> import pandas as pd
    >>> construct_score(pd.Series([4.0, 6.0]), 2)
    (5.0, 0, '')
    >>> construct_score(pd.Series([4.0, 6.0, 5.0, 5.0]), 5)
    (5.0, 1, 'prorated: 1 of 5 items missing')
    >>> construct_score(pd.Series([4.0, 6.0, 5.0]), 4)[2]
    '1 of 4 items missing (25%, more than the 20% that may be prorated)'
    >>> construct_score(None, 4)[2]
    'all 4 items missing'
    """
    n_answered = 0 if values is None else int(values.size)
    n_missing = n_items - n_answered
    if n_answered == 0:
        return math.nan, n_missing, f"all {n_items} items missing"
    if n_missing / n_items > max_missing_fraction:
        return math.nan, n_missing, (
            f"{n_missing} of {n_items} items missing ({n_missing / n_items:.0%}, "
            f"more than the {max_missing_fraction:.0%} that may be prorated)"
        )
    reason = f"prorated: {n_missing} of {n_items} items missing" if n_missing else ""
    return float(values.mean()), n_missing, reason


def cronbach_alpha(
    responses: pd.DataFrame, items: Sequence[Item], phase: str | None = None
) -> pd.DataFrame:
    """Cronbach's alpha per construct, on reverse-keyed ratings.

    Each participant x session x phase is one case (``phase=None`` pools all phases);
    cases with a missing item of the construct are left out (listwise).

    ``alpha = k / (k - 1) * (1 - sum(item variances) / variance(total))`` with sample
    variances (ddof = 1) (Cronbach, 1951).

    Parameters
    ----------
    responses : pandas.DataFrame
        As for :func:`score_constructs`.
    items : sequence of Item
        The item definitions.
    phase : str, optional
        Only use this phase (e.g. ``"pre_questionnaire"``).

    Returns
    -------
    pandas.DataFrame
        Columns ``construct, alpha, n, n_items, n_excluded, reversed_items, reason``; alpha is
        NaN with a reason when there are fewer than 2 items or 3 complete cases, or the
        total score does not vary.

    Examples
    --------
    >>> import pandas as pd
    >>> from conditions.questionnaire_items import Item
    >>> items = [Item(i, i, "c", i == "z", "lo", "hi", 1, 5) for i in "xyz"]
    >>> r = pd.DataFrame({"participant_id": [p for p in "ABCD" for _ in "xyz"],
    ...     "phase": "pre", "item_id": list("xyz") * 4,
    ...     "rating": [1, 2, 5, 2, 2, 4, 4, 3, 2, 5, 5, 1]})
    >>> round(float(cronbach_alpha(r, items)["alpha"].iloc[0]), 3)
    0.973
    """
    r, keys = _keyed_long(responses, items)
    if phase is not None:
        r = r[r["phase"] == phase]
    rows = []
    for construct in dict.fromkeys(it.construct for it in items):
        ids = [it.item_id for it in items if it.construct == construct]
        reversed_items = ",".join(it.item_id for it in items if it.construct == construct
                                  and it.reversed)
        k = len(ids)
        sub = r[r["construct"] == construct]
        if keys:
            wide = sub.pivot(index=keys, columns="item_id", values="keyed")
        else:
            wide = pd.DataFrame([sub.set_index("item_id")["keyed"]])
        wide = wide.reindex(columns=ids)
        complete = wide.dropna()
        n, n_excluded = len(complete), len(wide) - len(complete)
        alpha, reason = math.nan, ""
        if k < 2:
            reason = "alpha needs at least 2 items"
        elif n < 3:
            reason = f"only {n} complete cases (need 3)"
        else:
            values = complete.to_numpy(dtype=float)
            total_var = values.sum(axis=1).var(ddof=1)
            if total_var == 0:
                reason = "total score does not vary"
            else:
                alpha = k / (k - 1) * (1 - values.var(axis=0, ddof=1).sum() / total_var)
        rows.append(
            {
                "construct": construct,
                "alpha": float(alpha),
                "n": n,
                "n_items": k,
                "n_excluded": n_excluded,
                "reversed_items": reversed_items,
                "reason": reason,
            }
        )
    return pd.DataFrame(rows)
