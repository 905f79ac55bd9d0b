"""Blinding by structure: an Allocation never shows its condition unless asked to reveal it."""

from __future__ import annotations

import logging
import pickle
from dataclasses import asdict
from pathlib import Path

import pytest

from conditions.allocation import (
    Allocation,
    AllocationDB,
    AllocationError,
    ConcealedCondition,
    open_allocation_db,
)
from conditions.allocation.concealed import CONCEALED_TEXT
from conditions.protocol import load_protocol

CONDITIONS = load_protocol().condition_names


@pytest.fixture()
def allocations(tmp_path: Path) -> list[Allocation]:
    db = AllocationDB.create(tmp_path / "a.sqlite", load_protocol(), seed=5)
    made = [db.allocate(f"p{i}", {"sex": "female"}) for i in range(10)]
    reopened = open_allocation_db(tmp_path / "a.sqlite")
    return made + [reopened.lookup("p0")]


def _texts(a: Allocation) -> list[str]:
    """Every way an allocation is commonly turned into text."""
    percent = ["%s %r" % (a, a), "%s" % a.condition]  # noqa: UP031 (as logging formats)
    return [repr(a), str(a), f"{a}", f"{a!r}", *percent, repr(a.condition),
            str(a.condition), f"{a.condition}", f"{a.condition:>40}",
            repr(asdict(a)), str(vars(a)), repr([a]), repr({"x": a})]


def test_no_text_of_an_allocation_names_its_condition(allocations):
    assert {a.condition.reveal() for a in allocations} == set(CONDITIONS)  # all arms drawn
    for a in allocations:
        for text in _texts(a):
            assert not any(name in text for name in CONDITIONS), text
        assert CONCEALED_TEXT in str(a.condition)


def test_logging_an_allocation_names_no_condition(allocations, caplog):
    log = logging.getLogger("soothe.test")
    with caplog.at_level(logging.INFO):
        for a in allocations:
            log.info("allocated %s", a)
            log.info("condition %s / %r", a.condition, a.condition)
            log.info(f"allocation {a} condition {a.condition}")
    assert caplog.records
    for name in CONDITIONS:
        assert name not in caplog.text


def test_exceptions_carrying_an_allocation_name_no_condition(allocations):
    for a in allocations:
        for exc in (AllocationError(f"refused {a}"), ValueError(a), KeyError(a.condition),
                    RuntimeError("bad", a.condition)):
            text = f"{exc} {exc!r} {exc.args}"
            assert not any(name in text for name in CONDITIONS), text


def test_reveal_gives_the_name_and_equality_does_not_need_it():
    c = ConcealedCondition("neutral")
    assert c.reveal() == "neutral"
    assert c == ConcealedCondition("neutral") and c != ConcealedCondition("rumination")
    assert hash(c) == hash(ConcealedCondition("neutral"))
    assert c != "neutral"  # comparing with a name would be a way to guess it
    assert pickle.loads(pickle.dumps(c)).reveal() == "neutral"
    with pytest.raises(TypeError):
        ConcealedCondition(3)


def test_allocation_wraps_a_plain_name():
    a = Allocation("001", "neutral", "S-2345", "all", 1, 1, "t", "pc")
    assert isinstance(a.condition, ConcealedCondition)
    assert a.condition.reveal() == "neutral"
    assert a == Allocation("001", ConcealedCondition("neutral"), "S-2345", "all", 1, 1, "t", "pc")
