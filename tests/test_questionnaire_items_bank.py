"""The shipped item bank (seven state constructs, VAS, reverse keying) and the Likert example."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from conditions import cli as conditions_cli
from conditions.protocol import default_protocol_path, load_protocol
from conditions.questionnaire_items import ITEM_COLUMNS, item_bank_problems, load_items
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


def test_every_shipped_item_file_follows_the_item_bank_design():
    for path in QUESTIONNAIRES.glob("*.csv"):
        assert item_bank_problems(load_items(path)) == [], path.name


HEADER = ",".join(ITEM_COLUMNS) + "\n"


def _rows(construct: str, reversed_flags: list[bool]) -> str:
    return "".join(
        f"{construct}{k},Item {k},{construct},{str(r).lower()},no,yes,1,7\n"
        for k, r in enumerate(reversed_flags)
    )


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (_rows("calm", [False, True]), "construct 'calm': 2 items, expected 3-6"),
        (_rows("calm", [False, True] + [False] * 5), "construct 'calm': 7 items, expected 3-6"),
        (_rows("calm", [False] * 4), "construct 'calm': no reverse-keyed item"),
        (_rows("calm", [True] * 3), "construct 'calm': every item is reverse-keyed"),
    ],
)
def test_a_labs_item_file_that_departs_from_the_design_fails_conditions_check(
    tmp_path: Path, capsys, rows: str, expected: str
):
    src = default_protocol_path().parent
    dst = tmp_path / "conditions"
    dst.mkdir()
    for sub in ("scripts", "questionnaires"):
        shutil.copytree(src / sub, dst / sub)
    lab_csv = dst / "questionnaires" / "lab.csv"
    lab_csv.write_text(HEADER + _rows("ok", [False, False, True]) + rows)
    declare = '[questionnaires.lab]\nfile = "questionnaires/lab.csv"\n\n'
    text = (src / "protocol.toml").read_text()
    text = text.replace("# --- Randomisation", declare + "# --- Randomisation")
    (dst / "protocol.toml").write_text(text)
    problems = item_bank_problems(load_items(lab_csv))
    assert [p for p in problems if "'ok'" in p] == [] and len(problems) == 1, problems
    assert problems[0].startswith(expected)
    assert conditions_cli.main(["check", "--protocol", str(dst / "protocol.toml")]) == 1
    fail = capsys.readouterr().out.split("FAIL: 1 problem(s)")[1]
    assert f"questionnaires.lab (lab.csv): {expected}" in fail
