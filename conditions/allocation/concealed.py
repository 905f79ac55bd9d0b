"""An allocation whose condition cannot show itself: blinding by structure.

The condition of an :class:`Allocation` is a :class:`ConcealedCondition`. Its ``repr``,
``str`` and every format spec give the same neutral text, so an allocation printed on the
experimenter's console, written to a log, or carried in an exception message names no arm.
The condition's name comes out only through :meth:`ConcealedCondition.reveal`, which the
session runner calls where it must pick the audio file (and the simulator, whose output is
unblinded by design).

Examples
--------
>>> a = Allocation("001", "neutral", "S-7K3Q", "sex=female", 1, 1, "2026-01-01", "pc1")
>>> "neutral" in repr(a) or "neutral" in f"{a} {a.condition:>20}"
False
>>> a.condition.reveal()
'neutral'
"""

from __future__ import annotations

from dataclasses import dataclass

#: What a concealed condition shows wherever it is printed.
CONCEALED_TEXT = "<concealed condition>"


class ConcealedCondition:
    """A condition name that prints as :data:`CONCEALED_TEXT`; :meth:`reveal` gives it.

    Two concealed conditions are equal when they hold the same name, so allocations can be
    compared without revealing either.

    Examples
    --------
    >>> c = ConcealedCondition("rumination")
    >>> repr(c), str(c), f"{c}"
    ('ConcealedCondition(<concealed condition>)', '<concealed condition>', '<concealed condition>')
    >>> c == ConcealedCondition("rumination"), c.reveal()
    (True, 'rumination')
    """

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"a condition name is a str, got {type(name).__name__}")
        self._name = name

    def reveal(self) -> str:
        """The condition's name. Call it only where the condition must be acted on (the
        audio file to play, an unblinded export, the simulator), never to show it."""
        return self._name

    def __repr__(self) -> str:
        return f"ConcealedCondition({CONCEALED_TEXT})"

    def __str__(self) -> str:
        return CONCEALED_TEXT

    def __format__(self, spec: str) -> str:
        return format(CONCEALED_TEXT, spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ConcealedCondition):
            return NotImplemented
        return self._name == other._name

    def __hash__(self) -> int:
        return hash((ConcealedCondition, self._name))

    def __reduce__(self):
        return (ConcealedCondition, (self._name,))


@dataclass(frozen=True)
class Allocation:
    """One participant's allocation.

    ``condition`` is a :class:`ConcealedCondition` (a plain ``str`` given here is wrapped):
    the allocation can be printed and logged without unblinding anyone. Show
    ``session_code`` to the experimenter.
    """

    participant_id: str
    condition: ConcealedCondition
    session_code: str
    stratum: str
    slot: int
    block: int
    allocated_at: str
    machine: str

    def __post_init__(self) -> None:
        if isinstance(self.condition, str):
            object.__setattr__(self, "condition", ConcealedCondition(self.condition))
        elif not isinstance(self.condition, ConcealedCondition):
            raise TypeError("Allocation.condition must be a str or a ConcealedCondition, "
                            f"got {type(self.condition).__name__}")
