"""The shipped item bank (seven state constructs, VAS, reverse keying) and the Likert example."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from conditions.protocol import load_protocol
from conditions.questionnaire_items import ITEM_COLUMNS, load_items
from conditions.scoring import STATE_CONSTRUCTS

QUESTIONNAIRES = Path(__file__).resolve().parents[1] / "conditions" / "questionnaires"


def test_state_vas_covers_each_construct_with_three_to_six_items_some_reversed():
    items = load_items(load_protocol().questionnaires["state_vas"].file)
    counts = Counter(i.construct for i in items)
    assert set(counts) == set(STATE_CONSTRUCTS)
    for construct in STATE_CONSTRUCTS:
        assert 3 <= counts[construct] <= 6, construct
        group = [i for i in items if i.construct == construct]
        assert any(i.reversed for i in group), f"{construct} has no reverse-keyed item"
        assert not all(i.reversed for i in group), construct


def test_state_vas_items_are_state_vas_items_with_anchors():
    items = load_items(QUESTIONNAIRES / "state_vas.csv")
    for item in items:
        assert (item.min, item.max) == (0.0, 100.0) and item.is_vas
        assert item.text.startswith("Right now,"), item.item_id
        assert item.anchor_low and item.anchor_high
    assert len({i.text for i in items}) == len(items)


def test_csv_columns_are_exactly_the_contract():
    for path in QUESTIONNAIRES.glob("*.csv"):
        header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
        assert tuple(header) == ITEM_COLUMNS, path.name


def test_likert_example_loads_as_a_seven_point_scale():
    items = load_items(QUESTIONNAIRES / "example_state_attachment_likert.csv")
    assert {(i.min, i.max) for i in items} == {(1.0, 7.0)}
    assert not any(i.is_vas for i in items)
    assert sum(i.reversed for i in items) == 2
    assert items[2].reverse(2) == 6
