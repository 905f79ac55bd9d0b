"""The start-up dialog: participant ID, session, age, sex/gender, experimenter initials.

:func:`validate_start_info` is pure (testable without a screen); :func:`ask_start_info`
shows ``psychopy.gui.Dlg`` and re-asks, with the problem shown, until the entries are valid
or the experimenter cancels.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

SEX_CHOICES: tuple[str, ...] = ("female", "male", "diverse", "prefer not to say")
#: first entry of the sex/gender list: nothing is chosen until the experimenter chooses
#: (sex is an allocation stratum and is never assumed)
SEX_UNCHOSEN = "(please choose)"
_INITIALS_RE = re.compile(r"^[A-Za-z]{2,4}$")
_ID_RE = re.compile(r"^[A-Za-z0-9]+$")


@dataclass(frozen=True)
class StartInfo:
    """What the experimenter entered."""

    participant: str  # BIDS label, no 'sub-'
    session: str  # BIDS label, no 'ses-'
    age: int
    sex: str
    initials: str


def validate_start_info(raw: Mapping[str, Any]) -> tuple[StartInfo | None, list[str]]:
    """Check the dialog entries; return (info, []) or (None, problems).

    Examples
    --------
    >>> info, errs = validate_start_info(
    ...     {"participant": "sub-007", "session": "1", "age": "24", "sex": "female",
    ...      "initials": "ab"})
    >>> info.participant, info.initials, errs
    ('007', 'AB', [])
    >>> validate_start_info({"participant": "p_01", "session": "1", "age": "x",
    ...                      "sex": "female", "initials": "AB"})[1][0]
    "participant ID 'p_01': letters and digits only (BIDS label), e.g. 001 or P01"
    """
    problems: list[str] = []
    pid = str(raw.get("participant", "")).strip()
    pid = pid[4:] if pid.startswith("sub-") else pid
    if not _ID_RE.match(pid):
        problems.append(
            f"participant ID {pid!r}: letters and digits only (BIDS label), e.g. 001 or P01"
        )
    ses = str(raw.get("session", "")).strip()
    ses = ses[4:] if ses.startswith("ses-") else ses
    if not _ID_RE.match(ses):
        problems.append(f"session {ses!r}: letters and digits only, e.g. 1")
    age_text = str(raw.get("age", "")).strip()
    age = -1
    try:
        age = int(age_text)
    except ValueError:
        problems.append(f"age {age_text!r}: a whole number of years")
    else:
        if not 16 <= age <= 100:
            problems.append(f"age {age}: expected 16-100 years")
    sex = str(raw.get("sex", "")).strip()
    if sex in ("", SEX_UNCHOSEN):
        problems.append("sex/gender: not chosen yet (it sets the allocation stratum, so it is "
                        f"never assumed); choose one of {', '.join(SEX_CHOICES)}")
    elif sex not in SEX_CHOICES:
        problems.append(f"sex/gender {sex!r}: choose one of {', '.join(SEX_CHOICES)}")
    initials = str(raw.get("initials", "")).strip()
    if not _INITIALS_RE.match(initials):
        problems.append(f"experimenter initials {initials!r}: 2-4 letters")
    if problems:
        return None, problems
    return StartInfo(pid, ses, age, sex, initials.upper()), []


def build_dialog(values: Mapping[str, Any], problems: list[str] | None = None, title="soothe"):
    """The gui.Dlg with its fields (not shown yet).

    Every field is required: its label carries an asterisk and PsychoPy keeps OK disabled
    while a required text field is empty. The sex/gender list starts at
    :data:`SEX_UNCHOSEN`, so nothing is pre-selected.
    """
    # lazy: PsychoPy takes seconds to load; `soothe run --participant` never opens the dialog
    from psychopy import gui

    dlg = gui.Dlg(title=f"{title}: start a session")
    if problems:
        dlg.addText("Please correct:\n- " + "\n- ".join(problems), color="red")
    dlg.addField("participant", initial=str(values.get("participant", "")),
                 label="Participant ID *", required=True)
    dlg.addField("session", initial=str(values.get("session", "1")), label="Session *",
                 required=True)
    dlg.addField("age", initial=str(values.get("age", "")), label="Age (years) *",
                 required=True)
    sex = values.get("sex")
    dlg.addField("sex", initial=sex if sex in SEX_CHOICES else SEX_UNCHOSEN,
                 choices=[SEX_UNCHOSEN, *SEX_CHOICES], label="Sex / gender *", required=True)
    dlg.addField("initials", initial=str(values.get("initials", "")),
                 label="Experimenter initials *", required=True)
    dlg.validate()  # shows "Fields marked with an asterisk (*) are required."
    return dlg


def ask_start_info(
    check: Callable[[StartInfo], str | None] = lambda _info: None,
    defaults: Mapping[str, Any] | None = None,
) -> StartInfo | None:
    """Ask until the entries are valid and ``check`` (e.g. 'already complete') passes.

    Returns None when the experimenter cancels.
    """
    values: dict[str, Any] = dict(defaults or {})
    problems: list[str] = []
    while True:
        dlg = build_dialog(values, problems)
        data = dlg.show()
        if not dlg.OK:
            return None
        if isinstance(data, dict):
            values.update(data)
        else:  # older PsychoPy returns a list in field order
            values.update(zip(("participant", "session", "age", "sex", "initials"), data))
        info, problems = validate_start_info(values)
        if info is None:
            continue
        refusal = check(info)
        if refusal:
            problems = [refusal]
            continue
        return info
