"""Load and validate the study protocol (``conditions/protocol.toml``).

The protocol is the single description of the session: the timeline of phases, the five
conditions, the marker-code table, the questionnaires and the randomisation settings.
Everything is checked here, at load time, so that a bad protocol never fails mid-session.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conditions.errors import ProtocolError
from conditions.questionnaire_items import load_items

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

#: The five conditions of the paradigm (Kirschner et al., 2019), in their canonical order.
CONDITION_NAMES: tuple[str, ...] = (
    "kindness_self",
    "body_scan",
    "positive_excitement",
    "rumination",
    "neutral",
)

#: The phase kinds the session runner knows how to run.
PHASE_KINDS: tuple[str, ...] = ("instructions", "rest", "questionnaire", "induction", "end")

#: Kinds whose duration is fixed by the clock (and so must be > 0).
TIMED_KINDS: tuple[str, ...] = ("rest", "induction")

#: Named event markers every protocol must define.
REQUIRED_EVENTS: tuple[str, ...] = (
    "session_start",
    "session_end",
    "session_abort",
    "item_onset",
    "item_response",
    "audio_onset",
    "audio_offset",
)

#: When the condition marker is sent. "never" (the default) keeps the condition out of
#: _events.tsv, the recorded marker stream and any amplifier's trigger channel: the
#: allocation stays concealed until unblinding. "end" and "induction_onset" put the
#: condition's code into those files (only for open-label studies: they are unblinded data).
SEND_CONDITION_CODE_CHOICES: tuple[str, ...] = ("never", "end", "induction_onset")


def default_protocol_path() -> Path:
    """Return the path of the protocol shipped with soothe.

    Examples
    --------
    >>> default_protocol_path().name
    'protocol.toml'
    """
    return Path(__file__).resolve().parent / "protocol.toml"


@dataclass(frozen=True)
class Phase:
    """One phase of the session timeline."""

    name: str
    kind: str
    duration_s: float
    questionnaires: tuple[str, ...] = ()

    @property
    def is_timed(self) -> bool:
        """True when the phase lasts a fixed time (rest, induction)."""
        return self.duration_s > 0


@dataclass(frozen=True)
class Condition:
    """One induction condition."""

    name: str
    label: str
    script: Path
    audio: Path
    duration_s: float


@dataclass(frozen=True)
class QuestionnaireRef:
    """A questionnaire named by the protocol, with its item file."""

    name: str
    file: Path
    randomise_order: bool
    title: str


@dataclass(frozen=True)
class RandomisationSettings:
    """Settings of the permuted-block randomisation."""

    scheme: str
    block_sizes: tuple[int, ...]
    strata: tuple[str, ...]
    seed: int


@dataclass(frozen=True)
class AudioSettings:
    """Format and loudness requirements for the induction audio."""

    sample_rate_hz: int = 44100
    channels: int = 1
    duration_tolerance_s: float = 20.0
    loudness_target_lufs: float = -23.0
    loudness_max_spread_lu: float = 1.0


@dataclass(frozen=True)
class MarkerTable:
    """The marker-code table: every code is an int in 1..255 and unique.

    Examples
    --------
    >>> table = load_protocol().markers
    >>> table.phase_onset("baseline")
    20
    >>> table.decode(20)
    ('phase_onset', 'baseline')
    """

    events: dict[str, int]
    phases: dict[str, tuple[int, int]]
    conditions: dict[str, int]
    induction_minutes: tuple[int, ...]
    send_condition_code: str = "never"
    _by_code: dict[int, tuple[str, str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        by_code: dict[int, tuple[str, str]] = {}
        for name, code in self.events.items():
            by_code[code] = ("event", name)
        for name, (on, off) in self.phases.items():
            by_code[on] = ("phase_onset", name)
            by_code[off] = ("phase_offset", name)
        for name, code in self.conditions.items():
            by_code[code] = ("condition", name)
        for i, code in enumerate(self.induction_minutes, start=1):
            by_code[code] = ("induction_minute", str(i))
        object.__setattr__(self, "_by_code", by_code)

    def event(self, name: str) -> int:
        """Code of a named event (``session_start``, ``item_onset``...)."""
        return self.events[name]

    def phase_onset(self, phase: str) -> int:
        """Code sent when ``phase`` starts."""
        return self.phases[phase][0]

    def phase_offset(self, phase: str) -> int:
        """Code sent when ``phase`` ends."""
        return self.phases[phase][1]

    def condition(self, name: str) -> int:
        """Code identifying condition ``name``."""
        return self.conditions[name]

    def induction_minute(self, minute: int) -> int:
        """Code for the start of induction minute ``minute`` (1-based)."""
        if not 1 <= minute <= len(self.induction_minutes):
            raise KeyError(f"no marker code for induction minute {minute}")
        return self.induction_minutes[minute - 1]

    def decode(self, code: int) -> tuple[str, str]:
        """Return ``(kind, name)`` for a code, e.g. ``('phase_onset', 'baseline')``."""
        try:
            return self._by_code[int(code)]
        except KeyError:
            raise KeyError(f"marker code {code} is not in the protocol's marker table") from None

    def label(self, code: int) -> str:
        """A readable label for a code, e.g. ``baseline_onset`` or ``induction_minute_3``."""
        kind, name = self.decode(code)
        if kind == "phase_onset":
            return f"{name}_onset"
        if kind == "phase_offset":
            return f"{name}_offset"
        if kind == "condition":
            return f"condition_{name}"
        if kind == "induction_minute":
            return f"induction_minute_{name}"
        return name

    def all_codes(self) -> dict[int, str]:
        """Every code in the table mapped to its label."""
        return {code: self.label(code) for code in sorted(self._by_code)}


@dataclass(frozen=True)
class Protocol:
    """The whole study protocol, validated."""

    path: Path
    study_name: str
    task: str
    phases: tuple[Phase, ...]
    conditions: dict[str, Condition]
    markers: MarkerTable
    questionnaires: dict[str, QuestionnaireRef]
    randomisation: RandomisationSettings
    audio: AudioSettings
    reference: str = ""
    #: dataset authors for BIDS dataset_description.json, one person per entry
    authors: tuple[str, ...] = ()

    def phase(self, name: str) -> Phase:
        """Return the phase called ``name``."""
        for phase in self.phases:
            if phase.name == name:
                return phase
        raise KeyError(f"protocol has no phase {name!r}")

    @property
    def induction_phase(self) -> Phase:
        """The (single) induction phase."""
        return next(p for p in self.phases if p.kind == "induction")

    @property
    def condition_names(self) -> tuple[str, ...]:
        """Condition names in canonical order."""
        return tuple(c for c in CONDITION_NAMES if c in self.conditions)


# --------------------------------------------------------------------------------------
# Loading and validation
# --------------------------------------------------------------------------------------


class _Checker:
    """Small helper that turns failed checks into ProtocolError with file and key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> None:
        raise ProtocolError(str(self.path), key, problem)

    def table(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        value = data.get(key.rsplit(".", 1)[-1])
        if value is None:
            self.fail(key, "required section is missing")
        if not isinstance(value, dict):
            self.fail(key, f"expected a table, got {type(value).__name__}")
        return value

    def string(self, data: dict[str, Any], name: str, key: str) -> str:
        value = data.get(name)
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{key}.{name}", f"expected a non-empty string, got {value!r}")
        return value

    def number(self, data: dict[str, Any], name: str, key: str, *, positive: bool = False) -> float:
        value = data.get(name)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            self.fail(f"{key}.{name}", f"expected a number, got {value!r}")
        if value < 0:
            self.fail(f"{key}.{name}", f"must not be negative, got {value}")
        if positive and value == 0:
            self.fail(f"{key}.{name}", "must be greater than 0")
        return float(value)

    def code(self, value: Any, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"marker code must be an integer, got {value!r}")
        if not 1 <= value <= 255:
            self.fail(key, f"marker code {value} is out of range 1-255 (8-bit parallel port)")
        return value

    def file(self, data: dict[str, Any], name: str, key: str, *, must_exist: bool = True) -> Path:
        rel = self.string(data, name, key)
        try:  # a NUL byte or an over-long name is a bad value, not a crash (found by fuzzing)
            path = (self.path.parent / rel).resolve()
            exists = path.is_file()
        except (OSError, ValueError) as exc:
            self.fail(f"{key}.{name}", f"not a usable file name {rel!r}: {exc}")
        if must_exist and not exists:
            self.fail(f"{key}.{name}", f"file not found: {path}")
        return path


def load_protocol(path: str | Path | None = None, *, check_audio: bool = False) -> Protocol:
    """Load and validate a protocol file.

    Parameters
    ----------
    path : str | Path | None
        The TOML file. ``None`` loads the protocol shipped with soothe.
    check_audio : bool
        Also require every condition's audio file to exist. The session runner sets this;
        the analysis and the simulator do not need the audio.

    Returns
    -------
    Protocol
        The validated protocol.

    Raises
    ------
    ProtocolError
        With the file, the key and what was wrong.

    Examples
    --------
    >>> protocol = load_protocol()
    >>> protocol.condition_names[0]
    'kindness_self'
    >>> protocol.induction_phase.duration_s
    660.0
    """
    path = Path(path) if path is not None else default_protocol_path()
    check = _Checker(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ProtocolError(str(path), "<file>", f"cannot read protocol: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ProtocolError(str(path), "<file>", "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProtocolError(str(path), "<toml>", f"invalid TOML: {exc}") from None

    study = check.table(data, "study")
    study_name = check.string(study, "name", "study")
    task = check.string(study, "task", "study")
    if not task.isalnum():
        check.fail("study.task", f"BIDS task label must be alphanumeric, got {task!r}")
    authors = study.get("authors", [])
    if not isinstance(authors, list) or not all(
            isinstance(a, str) and a.strip() for a in authors):
        check.fail("study.authors", "expected a list of author names (non-empty strings, one "
                   f"person per entry), got {authors!r}")

    questionnaires = _load_questionnaires(check, data)
    phases = _load_phases(check, data, questionnaires)
    conditions = _load_conditions(check, data, check_audio=check_audio)
    markers = _load_markers(check, data, phases, conditions)
    randomisation = _load_randomisation(check, data, len(conditions))
    audio = _load_audio(check, data)
    return Protocol(
        path=path.resolve(),
        study_name=study_name,
        task=task,
        phases=phases,
        conditions=conditions,
        markers=markers,
        questionnaires=questionnaires,
        randomisation=randomisation,
        audio=audio,
        reference=str(study.get("reference", "")),
        authors=tuple(a.strip() for a in authors),
    )


def _load_questionnaires(check: _Checker, data: dict[str, Any]) -> dict[str, QuestionnaireRef]:
    section = check.table(data, "questionnaires")
    out: dict[str, QuestionnaireRef] = {}
    for name, entry in section.items():
        key = f"questionnaires.{name}"
        if not isinstance(entry, dict):
            check.fail(key, "expected a table with at least 'file'")
        file = check.file(entry, "file", key)
        randomise = entry.get("randomise_order", False)
        if not isinstance(randomise, bool):
            check.fail(f"{key}.randomise_order", f"expected true or false, got {randomise!r}")
        out[name] = QuestionnaireRef(
            name=name, file=file, randomise_order=randomise, title=str(entry.get("title", ""))
        )
    if not out:
        check.fail("questionnaires", "at least one questionnaire is required")
    # The item files are validated by their own loader, so that errors name the CSV row.
    owner: dict[str, tuple[str, Path]] = {}  # item_id -> (questionnaire, file)
    scale: dict[str, tuple[float, float, str, Path]] = {}  # construct -> (min, max, q, file)
    for name, ref in out.items():
        for lineno, item in enumerate(load_items(ref.file), start=2):
            # errors name the item file and its line; the clash names the other questionnaire
            if item.item_id in owner:
                other, other_file = owner[item.item_id]
                raise ProtocolError(
                    str(ref.file),
                    f"line {lineno}.item_id",
                    f"item_id {item.item_id!r} (questionnaires.{name}) is also an item of "
                    f"questionnaires.{other} ({other_file}); item ids must be unique across "
                    "the protocol's questionnaires",
                )
            owner[item.item_id] = (name, ref.file)
            lo, hi, other, other_file = scale.setdefault(
                item.construct, (item.min, item.max, name, ref.file)
            )
            if (lo, hi) != (item.min, item.max):
                raise ProtocolError(
                    str(ref.file),
                    f"line {lineno}.min/max",
                    f"construct {item.construct!r} is rated {item.min:g}-{item.max:g} in "
                    f"questionnaires.{name} but {lo:g}-{hi:g} in questionnaires.{other} "
                    f"({other_file}); a construct needs one scale across questionnaires "
                    "(give the new scale's construct its own name)",
                )
    return out


def _load_phases(
    check: _Checker, data: dict[str, Any], questionnaires: dict[str, QuestionnaireRef]
) -> tuple[Phase, ...]:
    entries = data.get("phases")
    if not isinstance(entries, list) or not entries:
        check.fail("phases", "required: a non-empty array of [[phases]] tables")
    phases: list[Phase] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        key = f"phases[{i}]"
        if not isinstance(entry, dict):
            check.fail(key, "expected a table")
        name = check.string(entry, "name", key)
        key = f"phases[{i}] ({name})"
        if name in seen:
            check.fail(f"{key}.name", f"duplicate phase name {name!r}")
        seen.add(name)
        kind = check.string(entry, "kind", key)
        if kind not in PHASE_KINDS:
            check.fail(f"{key}.kind", f"unknown kind {kind!r}; expected one of {PHASE_KINDS}")
        duration = check.number(entry, "duration_s", key)
        if kind in TIMED_KINDS and duration == 0:
            check.fail(f"{key}.duration_s", f"a {kind} phase needs a duration > 0")
        qnames = entry.get("questionnaires", [])
        if kind == "questionnaire":
            if not isinstance(qnames, list) or not qnames:
                check.fail(
                    f"{key}.questionnaires", "a questionnaire phase names its questionnaires"
                )
            for q in qnames:
                if q not in questionnaires:
                    check.fail(
                        f"{key}.questionnaires",
                        f"unknown questionnaire {q!r}; defined: {sorted(questionnaires)}",
                    )
        phases.append(
            Phase(name=name, kind=kind, duration_s=duration, questionnaires=tuple(qnames))
        )
    n_induction = sum(p.kind == "induction" for p in phases)
    if n_induction != 1:
        check.fail("phases", f"exactly one induction phase is required, found {n_induction}")
    return tuple(phases)


def _load_conditions(
    check: _Checker, data: dict[str, Any], *, check_audio: bool
) -> dict[str, Condition]:
    section = check.table(data, "conditions")
    out: dict[str, Condition] = {}
    for name, entry in section.items():
        key = f"conditions.{name}"
        if name not in CONDITION_NAMES:
            check.fail(key, f"unknown condition {name!r}; expected one of {CONDITION_NAMES}")
        if not isinstance(entry, dict):
            check.fail(key, "expected a table")
        out[name] = Condition(
            name=name,
            label=check.string(entry, "label", key),
            script=check.file(entry, "script", key),
            audio=check.file(entry, "audio", key, must_exist=check_audio),
            duration_s=check.number(entry, "duration_s", key, positive=True),
        )
    missing = [c for c in CONDITION_NAMES if c not in out]
    if missing:
        check.fail("conditions", f"missing condition(s) {missing}; the paradigm has all five")
    return {name: out[name] for name in CONDITION_NAMES}


def _load_markers(
    check: _Checker,
    data: dict[str, Any],
    phases: tuple[Phase, ...],
    conditions: dict[str, Condition],
) -> MarkerTable:
    section = check.table(data, "markers")
    used: dict[int, str] = {}

    def claim(value: Any, key: str) -> int:
        code = check.code(value, key)
        if code in used:
            check.fail(key, f"duplicate marker code {code} (already used by {used[code]})")
        used[code] = key
        return code

    events_raw = check.table(section, "markers.events")
    events: dict[str, int] = {}
    for name in REQUIRED_EVENTS:
        if name not in events_raw:
            check.fail(f"markers.events.{name}", "required event code is missing")
    for name, value in events_raw.items():
        events[name] = claim(value, f"markers.events.{name}")

    phases_raw = check.table(section, "markers.phases")
    phase_names = {p.name for p in phases}
    phase_codes: dict[str, tuple[int, int]] = {}
    for name in phases_raw:
        if name not in phase_names:
            check.fail(f"markers.phases.{name}", f"unknown phase {name!r}")
    for phase in phases:
        key = f"markers.phases.{phase.name}"
        entry = phases_raw.get(phase.name)
        if not isinstance(entry, dict) or "onset" not in entry or "offset" not in entry:
            check.fail(key, "each phase needs {onset = code, offset = code}")
        phase_codes[phase.name] = (
            claim(entry["onset"], f"{key}.onset"),
            claim(entry["offset"], f"{key}.offset"),
        )

    cond_raw = check.table(section, "markers.conditions")
    cond_codes: dict[str, int] = {}
    for name in cond_raw:
        if name not in conditions:
            check.fail(f"markers.conditions.{name}", f"unknown condition {name!r}")
    for name in conditions:
        if name not in cond_raw:
            check.fail(f"markers.conditions.{name}", "condition has no marker code")
        cond_codes[name] = claim(cond_raw[name], f"markers.conditions.{name}")

    minutes_raw = section.get("induction_minutes")
    if not isinstance(minutes_raw, list):
        check.fail("markers.induction_minutes", "expected an array of codes, one per minute")
    minutes = tuple(claim(v, f"markers.induction_minutes[{i}]") for i, v in enumerate(minutes_raw))
    longest = max(c.duration_s for c in conditions.values())
    needed = math.ceil(longest / 60.0)
    if len(minutes) < needed:
        check.fail(
            "markers.induction_minutes",
            f"{len(minutes)} codes for an induction of up to {longest:g} s; need {needed}",
        )
    send = section.get("send_condition_code", "never")
    if send not in SEND_CONDITION_CODE_CHOICES:
        check.fail(
            "markers.send_condition_code",
            f"expected one of {SEND_CONDITION_CODE_CHOICES}, got {send!r}",
        )
    return MarkerTable(
        events=events,
        phases=phase_codes,
        conditions=cond_codes,
        induction_minutes=minutes,
        send_condition_code=send,
    )


def _load_randomisation(
    check: _Checker, data: dict[str, Any], n_conditions: int
) -> RandomisationSettings:
    section = check.table(data, "randomisation")
    scheme = section.get("scheme", "permuted_block")
    if scheme != "permuted_block":
        check.fail("randomisation.scheme", f"only 'permuted_block' is supported, got {scheme!r}")
    sizes = section.get("block_sizes")
    if not isinstance(sizes, list) or not sizes:
        check.fail("randomisation.block_sizes", "expected a non-empty array of integers")
    for i, size in enumerate(sizes):
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            check.fail(
                f"randomisation.block_sizes[{i}]", f"expected a positive integer, got {size!r}"
            )
        if size % n_conditions:
            check.fail(
                f"randomisation.block_sizes[{i}]",
                f"block size {size} is not a multiple of the {n_conditions} conditions",
            )
    strata = section.get("strata", [])
    if not isinstance(strata, list) or not all(isinstance(s, str) and s for s in strata):
        check.fail("randomisation.strata", f"expected an array of field names, got {strata!r}")
    seed = section.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        check.fail("randomisation.seed", f"expected a non-negative integer, got {seed!r}")
    return RandomisationSettings(
        scheme=scheme, block_sizes=tuple(sizes), strata=tuple(strata), seed=seed
    )


def _load_audio(check: _Checker, data: dict[str, Any]) -> AudioSettings:
    section = data.get("audio", {})
    if not isinstance(section, dict):
        check.fail("audio", "expected a table")
    defaults = AudioSettings()
    rate = section.get("sample_rate_hz", defaults.sample_rate_hz)
    if isinstance(rate, bool) or not isinstance(rate, int) or rate < 8000:
        check.fail("audio.sample_rate_hz", f"expected an integer >= 8000, got {rate!r}")
    channels = section.get("channels", defaults.channels)
    if channels not in (1, 2):
        check.fail("audio.channels", f"expected 1 (mono) or 2 (stereo), got {channels!r}")
    values = {}
    for name in ("duration_tolerance_s", "loudness_max_spread_lu"):
        values[name] = (
            check.number(section, name, "audio") if name in section else getattr(defaults, name)
        )
    target = section.get("loudness_target_lufs", defaults.loudness_target_lufs)
    if isinstance(target, bool) or not isinstance(target, (int, float)) or target >= 0:
        check.fail("audio.loudness_target_lufs", f"expected a negative LUFS value, got {target!r}")
    return AudioSettings(
        sample_rate_hz=rate,
        channels=channels,
        duration_tolerance_s=values["duration_tolerance_s"],
        loudness_target_lufs=float(target),
        loudness_max_spread_lu=values["loudness_max_spread_lu"],
    )
