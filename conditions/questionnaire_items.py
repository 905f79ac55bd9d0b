"""Questionnaire item files: one CSV per questionnaire.

Columns: ``item_id, text, construct, reversed, anchor_low, anchor_high, min, max``.
A VAS item runs 0-100; a Likert item has a small integer range (for example 1-7).
A lab adds its own licensed scale by adding a CSV with the same columns and naming it in
the protocol.

Two kinds of rules apply:

- :func:`load_items` rejects a file that cannot be used at all (missing columns, empty or
  duplicate ids, bad numbers, a construct whose items use different scales). The protocol
  loader also rejects item ids or construct scales that clash across questionnaires.
- :func:`item_bank_problems` lists where a file departs from the design of the item bank
  (3-6 items per construct, some but not all reverse-keyed); ``soothe conditions check``
  fails on these.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from conditions.errors import ProtocolError

ITEM_COLUMNS: tuple[str, ...] = (
    "item_id",
    "text",
    "construct",
    "reversed",
    "anchor_low",
    "anchor_high",
    "min",
    "max",
)

#: Items per construct allowed by the item-bank design (3-6 items).
ITEMS_PER_CONSTRUCT: tuple[int, int] = (3, 6)

_TRUE = {"1", "true", "yes", "y"}
_FALSE = {"0", "false", "no", "n", ""}


@dataclass(frozen=True)
class Item:
    """One questionnaire item."""

    item_id: str
    text: str
    construct: str
    reversed: bool
    anchor_low: str
    anchor_high: str
    min: float
    max: float

    @property
    def is_vas(self) -> bool:
        """True for a continuous visual-analogue item (range wider than 20 points)."""
        return (self.max - self.min) > 20

    def reverse(self, rating: float) -> float:
        """Reverse-key a rating on this item's own scale."""
        return self.min + self.max - rating


def load_items(path: str | Path) -> list[Item]:
    """Load and validate one item file.

    Parameters
    ----------
    path : str | Path
        The CSV file.

    Returns
    -------
    list of Item
        In file order.

    Raises
    ------
    ProtocolError
        Naming the file, the row and what was wrong.

    Examples
    --------
    >>> from conditions.protocol import load_protocol
    >>> items = load_items(load_protocol().questionnaires["state_vas"].file)
    >>> items[0].min, items[0].max
    (0.0, 100.0)
    """
    path = Path(path)
    rows = read_item_rows(path)
    items: list[Item] = []
    seen: set[str] = set()
    scales: dict[str, tuple[float, float, int]] = {}
    for lineno, row in enumerate(rows, start=2):
        item_id = (row.get("item_id") or "").strip()
        if item_id in seen:
            raise ProtocolError(
                str(path), f"line {lineno}.item_id", f"duplicate item_id {item_id!r}"
            )
        item = item_from_row(path, lineno, row)
        seen.add(item.item_id)
        check_construct_scale(path, lineno, item, scales)
        items.append(item)
    return items


def read_item_rows(path: Path) -> list[dict[str, str]]:
    """The rows of an item file as dictionaries, after checking its text and header.

    Raises
    ------
    ProtocolError
        When the file cannot be read, is not UTF-8, is empty, lacks a column of
        :data:`ITEM_COLUMNS` or has no items.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ProtocolError(str(path), "<file>", f"cannot read item file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ProtocolError(str(path), "<file>", "item file is not UTF-8 text") from None
    rows = list(csv.DictReader(text.splitlines()))
    if not text.strip():
        raise ProtocolError(str(path), "<file>", "item file is empty")
    header = tuple(csv.reader([text.splitlines()[0]]).__next__())
    missing = [c for c in ITEM_COLUMNS if c not in header]
    if missing:
        raise ProtocolError(str(path), "<header>", f"missing column(s) {missing}")
    if not rows:
        raise ProtocolError(str(path), "<rows>", "item file has a header but no items")
    return rows


def item_from_row(path: Path, lineno: int, row: dict[str, str]) -> Item:
    """One item from its CSV row (line ``lineno`` of ``path``), every field checked.

    Examples
    --------
    >>> row = {"item_id": "a", "text": "Calm", "construct": "calm", "reversed": "no",
    ...        "anchor_low": "not at all", "anchor_high": "very", "min": "1", "max": "7"}
    >>> item_from_row(Path("items.csv"), 2, row).max
    7.0
    """
    key = f"line {lineno}"
    item_id = (row.get("item_id") or "").strip()
    if not item_id:
        raise ProtocolError(str(path), f"{key}.item_id", "empty item_id")
    for col in ("text", "construct", "anchor_low", "anchor_high"):
        if not (row.get(col) or "").strip():
            raise ProtocolError(str(path), f"{key}.{col}", f"empty {col} for item {item_id!r}")
    rev = (row.get("reversed") or "").strip().lower()
    if rev not in _TRUE | _FALSE:
        raise ProtocolError(
            str(path), f"{key}.reversed", f"expected true/false, got {row.get('reversed')!r}"
        )
    try:
        lo = float(row["min"])
        hi = float(row["max"])
    except (TypeError, ValueError):
        raise ProtocolError(
            str(path), f"{key}.min/max", f"min and max must be numbers for item {item_id!r}"
        ) from None
    if not lo < hi:
        raise ProtocolError(str(path), f"{key}.min/max", f"min {lo} must be below max {hi}")
    return Item(
        item_id=item_id,
        text=row["text"].strip(),
        construct=row["construct"].strip(),
        reversed=rev in _TRUE,
        anchor_low=row["anchor_low"].strip(),
        anchor_high=row["anchor_high"].strip(),
        min=lo,
        max=hi,
    )


def check_construct_scale(
    path: Path, lineno: int, item: Item, scales: dict[str, tuple[float, float, int]]
) -> None:
    """Raise unless ``item`` uses the scale of its construct's first item (recorded in
    ``scales`` as ``construct -> (min, max, line)``): a construct score is a mean."""
    first = scales.setdefault(item.construct, (item.min, item.max, lineno))
    if first[:2] != (item.min, item.max):
        raise ProtocolError(
            str(path),
            f"line {lineno}.min/max",
            f"construct {item.construct!r} is rated {item.min:g}-{item.max:g} here but "
            f"{first[0]:g}-{first[1]:g} on line {first[2]}; a construct score is a mean, so "
            "all its items need one scale",
        )


def item_bank_problems(items: list[Item]) -> list[str]:
    """Where an item file departs from the design of the item bank.

    Each construct has 3-6 items (:data:`ITEMS_PER_CONSTRUCT`), at least one of them
    reverse-keyed (so that agreeing with everything does not raise the score) and at least
    one not reverse-keyed.

    Parameters
    ----------
    items : list of Item
        From :func:`load_items`.

    Returns
    -------
    list of str
        One line per problem, naming the construct; empty when the file follows the design.

    Examples
    --------
    >>> items = [Item(f"c{k}", "t", "calm", k == 0, "no", "yes", 1, 7) for k in range(2)]
    >>> item_bank_problems(items)
    ["construct 'calm': 2 items, expected 3-6"]
    """
    lo, hi = ITEMS_PER_CONSTRUCT
    problems = []
    for construct in dict.fromkeys(i.construct for i in items):
        group = [i for i in items if i.construct == construct]
        n_reversed = sum(i.reversed for i in group)
        if not lo <= len(group) <= hi:
            problems.append(f"construct {construct!r}: {len(group)} items, expected {lo}-{hi}")
        if n_reversed == 0:
            problems.append(f"construct {construct!r}: no reverse-keyed item, expected at least 1")
        elif n_reversed == len(group):
            problems.append(
                f"construct {construct!r}: every item is reverse-keyed, expected at least 1 "
                "that is not"
            )
    return problems
