"""Induction scripts: parse them and measure how well the five are matched.

A script is plain UTF-8 text. Lines starting with ``#`` are a header that is not spoken
(it names the construct the script targets). Three section marks, each on its own line,
split the spoken text: ``[intro]``, ``[induction]`` and ``[closing]``. The intro and the
closing are a frame shared word for word by all five scripts. ``[pause 5s]`` (or
``[pause 2.5s]``) anywhere in the text is that many seconds of silence.

The spoken duration is estimated with a documented model, the same for every script::

    estimated_duration_s = words / rate_wpm * 60 + sum(pauses_s)

with a calm meditation-recording pace of ``rate_wpm = 110`` words per minute
(:data:`SPEECH_RATE_WPM`). The paradigm's recordings held 610-630 words in about 11 min
(Kirschner et al., 2019), i.e. about 56 words per minute overall once the silences are counted.

Matching rules (:func:`matching_problems`), after Kirschner et al. (2019), who matched their
scripts on length and structure:

- word count within +/-5 % of the median of the five scripts;
- estimated duration within +/-3 % of the median of the five and of the protocol's
  ``duration_s``;
- identical intro and closing frame;
- second-person voice: at least 90 % of personal pronouns are second person.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from conditions.errors import SootheError

if TYPE_CHECKING:  # pandas is imported where used: `--help` loads no numerical library
    import pandas as pd

#: Speech rate of the duration model (words per minute), a calm recorded-meditation pace.
SPEECH_RATE_WPM: float = 110.0
#: Allowed relative deviation of a script's word count from the median of the five.
WORDS_TOLERANCE: float = 0.05
#: Allowed relative deviation of the estimated duration (from the median and the protocol).
DURATION_TOLERANCE: float = 0.03
#: Minimum share of second-person pronouns among all personal pronouns.
MIN_SECOND_PERSON_RATIO: float = 0.90

SECTIONS: tuple[str, ...] = ("intro", "induction", "closing")

_SECTION_RE = re.compile(r"^\[(intro|induction|closing)\]\s*$")
_PAUSE_RE = re.compile(r"\[pause\s+(\d+(?:\.\d+)?)\s*s\]", re.IGNORECASE)
_MARK_RE = re.compile(r"\[[^\]]*\]")
_WORD_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9'\u2019-]*")
_SECOND_PERSON = frozenset({"you", "your", "yours", "yourself", "yourselves"})
_FIRST_PERSON = frozenset(
    {"i", "me", "my", "mine", "myself", "we", "us", "our", "ours", "ourselves"}
)


class ScriptError(SootheError, ValueError):
    """An induction script cannot be parsed (the message names the file and line)."""


@dataclass(frozen=True)
class Segment:
    """One piece of a script: spoken text, or a pause of ``pause_s`` seconds."""

    section: str
    text: str = ""
    pause_s: float = 0.0

    @property
    def is_pause(self) -> bool:
        """True for a silence."""
        return not self.text


@dataclass(frozen=True)
class InductionScript:
    """A parsed induction script."""

    path: Path
    header: tuple[str, ...]
    sections: dict[str, str]
    segments: tuple[Segment, ...] = field(repr=False)

    @property
    def spoken_text(self) -> str:
        """Every spoken word, pause marks removed."""
        return " ".join(s.text for s in self.segments if not s.is_pause)

    @property
    def words(self) -> int:
        """Number of spoken words."""
        return count_words(self.spoken_text)

    @property
    def pauses_s(self) -> float:
        """Total marked silence in seconds."""
        return sum(s.pause_s for s in self.segments)

    @property
    def target_construct(self) -> str:
        """The header's ``Target construct:`` text ('' if the header has none)."""
        text = " ".join(self.header)
        m = re.search(r"Target construct:\s*(.*?)(?:Expected state change:|Original text|$)", text)
        return m.group(1).strip() if m else ""

    def estimated_duration_s(self, rate_wpm: float = SPEECH_RATE_WPM) -> float:
        """Spoken duration by the documented model: words / rate + pauses."""
        return estimate_duration_s(self.words, self.pauses_s, rate_wpm)


def count_words(text: str) -> int:
    """Count spoken words (letters/digits, with inner apostrophes and hyphens).

    Examples
    --------
    >>> count_words("You take a basket. [pause 3s] Washing-up liquid, isn't it?")
    8
    """
    return len(_WORD_RE.findall(_MARK_RE.sub(" ", text)))


def second_person_ratio(text: str) -> float:
    """Share of second-person pronouns among personal pronouns (NaN if there are none).

    Examples
    --------
    >>> second_person_ratio("You rest your hands. I wait.")
    0.6666666666666666
    """
    tokens = [w.lower().replace("\u2019", "'") for w in _WORD_RE.findall(text)]
    second = sum(t in _SECOND_PERSON for t in tokens)
    first = sum(t in _FIRST_PERSON or t.startswith(("i'", "we'")) for t in tokens)
    total = second + first
    return second / total if total else math.nan


def estimate_duration_s(words: int, pauses_s: float, rate_wpm: float = SPEECH_RATE_WPM) -> float:
    """Estimated spoken duration: ``words / rate_wpm * 60 + pauses_s``.

    Examples
    --------
    >>> estimate_duration_s(110, 30.0)
    90.0
    """
    if rate_wpm <= 0:
        raise ValueError(f"rate_wpm must be positive, got {rate_wpm}")
    return words / rate_wpm * 60.0 + pauses_s


def parse_script(path: str | Path) -> InductionScript:
    """Parse an induction script file.

    Parameters
    ----------
    path : str | Path
        The script (UTF-8 text).

    Returns
    -------
    InductionScript

    Raises
    ------
    ScriptError
        When the file is unreadable, a section is missing or repeated, text comes before
        the first section, or a bracket mark is not a known pause or section mark.

    Examples
    --------
    >>> from conditions.protocol import load_protocol
    >>> script = parse_script(load_protocol().conditions["neutral"].script)
    >>> 600 <= script.words <= 640
    True
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ScriptError(f"{path}: cannot read script: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ScriptError(f"{path}: script is not UTF-8 text") from None
    header, body = split_script_lines(path, lines)
    sections = {name: "\n".join(body[name]) for name in SECTIONS}
    segments = [seg for name in SECTIONS for seg in section_segments(name, body[name])]
    return InductionScript(
        path=path, header=tuple(header), sections=sections, segments=tuple(segments)
    )


def split_script_lines(path: Path, lines: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """The header lines and each section's spoken lines (stripped, blank lines dropped).

    Raises
    ------
    ScriptError
        When a section is missing, repeated or out of order, text comes before the first
        section, or a bracket mark is not a known pause mark (``path`` names the file).

    Examples
    --------
    >>> split_script_lines(Path("s.txt"), ["# Target", "[intro]", "Hi.", "[induction]",
    ...                                    "Rest. [pause 2s]", "", "[closing]", "Bye."])
    (['Target'], {'intro': ['Hi.'], 'induction': ['Rest. [pause 2s]'], 'closing': ['Bye.']})
    """
    header: list[str] = []
    body: dict[str, list[str]] = {}
    current: str | None = None
    for lineno, line in enumerate(lines, start=1):
        stripped = line.strip()
        if current is None and stripped.startswith("#"):
            header.append(stripped.lstrip("#").strip())
            continue
        if not stripped:
            continue
        m = _SECTION_RE.match(stripped)
        if m:
            current = m.group(1)
            if current in body:
                raise ScriptError(f"{path}: line {lineno}: section [{current}] appears twice")
            body[current] = []
            continue
        if current is None:
            raise ScriptError(
                f"{path}: line {lineno}: spoken text before the first section mark; "
                "expected [intro] first"
            )
        for mark in _MARK_RE.findall(stripped):
            if not _PAUSE_RE.fullmatch(mark):
                raise ScriptError(
                    f"{path}: line {lineno}: unknown mark {mark!r}; expected e.g. [pause 5s]"
                )
        body[current].append(stripped)
    missing = [s for s in SECTIONS if s not in body]
    if missing:
        raise ScriptError(f"{path}: missing section mark(s) {['[' + s + ']' for s in missing]}")
    order = [s for s in body if s in SECTIONS]
    if order != list(SECTIONS):
        raise ScriptError(f"{path}: sections must come in the order {list(SECTIONS)}, got {order}")
    return header, body


def section_segments(section: str, lines: list[str]) -> list[Segment]:
    """A section's text cut at its ``[pause Ns]`` marks into spoken and silent segments.

    Examples
    --------
    >>> [(s.text, s.pause_s) for s in section_segments("intro", ["Breathe in.", "[pause 2s] Out."])]
    [('Breathe in.', 0.0), ('', 2.0), ('Out.', 0.0)]
    """
    segments: list[Segment] = []
    pos = 0
    text = " ".join(lines)
    for m in _PAUSE_RE.finditer(text):
        chunk = text[pos : m.start()].strip()
        if chunk:
            segments.append(Segment(section=section, text=chunk))
        segments.append(Segment(section=section, pause_s=float(m.group(1))))
        pos = m.end()
    chunk = text[pos:].strip()
    if chunk:
        segments.append(Segment(section=section, text=chunk))
    return segments


def _normalised(text: str) -> str:
    return " ".join(text.split())


def script_metrics(
    scripts: dict[str, InductionScript],
    *,
    protocol_duration_s: dict[str, float] | None = None,
    audio_duration_s: dict[str, float] | None = None,
    rate_wpm: float = SPEECH_RATE_WPM,
) -> pd.DataFrame:
    """One row per script with the figures the matching rules look at.

    Parameters
    ----------
    scripts : dict of str to InductionScript
        Condition name -> parsed script. The first one is the reference for the frame.
    protocol_duration_s : dict, optional
        Condition -> the protocol's ``duration_s``.
    audio_duration_s : dict, optional
        Condition -> measured duration of rendered or recorded audio (NaN if none).
    rate_wpm : float
        Speech rate of the duration model.

    Returns
    -------
    pandas.DataFrame
        Columns ``condition, words, pauses_s, speech_s, est_duration_s, protocol_s,
        audio_s, second_person_ratio, intro_match, closing_match``.

    Examples
    --------
    >>> from conditions.protocol import load_protocol
    >>> p = load_protocol()
    >>> table = script_metrics({c: parse_script(p.conditions[c].script) for c in p.conditions})
    >>> bool(table["intro_match"].all())
    True
    """
    protocol_duration_s = protocol_duration_s or {}
    audio_duration_s = audio_duration_s or {}
    names = list(scripts)
    ref = scripts[names[0]] if names else None
    rows = []
    for name, script in scripts.items():
        words = script.words
        rows.append(
            {
                "condition": name,
                "words": words,
                "pauses_s": script.pauses_s,
                "speech_s": words / rate_wpm * 60.0,
                "est_duration_s": script.estimated_duration_s(rate_wpm),
                "protocol_s": float(protocol_duration_s.get(name, math.nan)),
                "audio_s": float(audio_duration_s.get(name, math.nan)),
                "second_person_ratio": second_person_ratio(script.spoken_text),
                "intro_match": _normalised(script.sections["intro"])
                == _normalised(ref.sections["intro"]),
                "closing_match": _normalised(script.sections["closing"])
                == _normalised(ref.sections["closing"]),
            }
        )
    # lazy: pandas is a numerical library; `soothe conditions --help` loads none
    import pandas as pd

    return pd.DataFrame(rows)


def matching_problems(
    table: pd.DataFrame,
    *,
    words_tolerance: float = WORDS_TOLERANCE,
    duration_tolerance: float = DURATION_TOLERANCE,
    min_second_person: float = MIN_SECOND_PERSON_RATIO,
    audio_tolerance_s: float | None = None,
) -> list[str]:
    """Every way the scripts in ``table`` (from :func:`script_metrics`) are not matched.

    Returns
    -------
    list of str
        Empty when the scripts are matched.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"condition": ["a", "b"], "words": [600, 700],
    ...     "est_duration_s": [660.0, 660.0], "protocol_s": [660.0, 660.0],
    ...     "audio_s": [float("nan")] * 2, "second_person_ratio": [1.0, 1.0],
    ...     "intro_match": [True, True], "closing_match": [True, True]})
    >>> matching_problems(t)[0]
    'a: 600 words is 7.7% from the median 650 (allowed 5%)'
    """
    problems: list[str] = []
    median_words = float(table["words"].median())
    median_dur = float(table["est_duration_s"].median())
    for row in table.itertuples(index=False):
        c = row.condition
        dev = (row.words - median_words) / median_words
        if abs(dev) > words_tolerance:
            problems.append(
                f"{c}: {row.words} words is {abs(dev):.1%} from the median {median_words:g} "
                f"(allowed {words_tolerance:.0%})"
            )
        dev = (row.est_duration_s - median_dur) / median_dur
        if abs(dev) > duration_tolerance:
            problems.append(
                f"{c}: estimated {row.est_duration_s:.0f} s is {abs(dev):.1%} from the median "
                f"{median_dur:.0f} s (allowed {duration_tolerance:.0%})"
            )
        if math.isfinite(row.protocol_s):
            dev = (row.est_duration_s - row.protocol_s) / row.protocol_s
            if abs(dev) > duration_tolerance:
                problems.append(
                    f"{c}: estimated {row.est_duration_s:.0f} s is {abs(dev):.1%} from the "
                    f"protocol's duration_s {row.protocol_s:g} (allowed {duration_tolerance:.0%})"
                )
            if audio_tolerance_s is not None and math.isfinite(row.audio_s):
                if abs(row.audio_s - row.protocol_s) > audio_tolerance_s:
                    problems.append(
                        f"{c}: audio lasts {row.audio_s:.1f} s, protocol says {row.protocol_s:g} s "
                        f"(allowed +/-{audio_tolerance_s:g} s)"
                    )
        ratio = row.second_person_ratio
        if not (math.isfinite(ratio) and ratio >= min_second_person):
            problems.append(
                f"{c}: second-person ratio {ratio:.2f} is below {min_second_person:.2f}"
            )
        if not row.intro_match:
            problems.append(f"{c}: [intro] differs from {table['condition'].iloc[0]}'s")
        if not row.closing_match:
            problems.append(f"{c}: [closing] differs from {table['condition'].iloc[0]}'s")
    return problems
