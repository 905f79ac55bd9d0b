"""``soothe conditions check``: the protocol, the five scripts and the questionnaires.

Prints a table of the script-matching figures (words, pauses, estimated duration by the
model ``words / rate + pauses``, the measured audio duration when audio exists, the
second-person ratio, and whether the shared intro and closing frame match), then the
questionnaire constructs. Exits 1 when the scripts are not matched, or when a questionnaire
departs from the item-bank design (3-6 items per construct, some but not all reverse-keyed).

Durations are matched on what participants will hear (:func:`duration_problems`): where a
condition's audio file exists, its real duration is compared with the other conditions'
and with the protocol's ``duration_s``; the word-count model is used only for scripts that
have no audio yet.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from conditions.protocol import Protocol, load_protocol
from conditions.questionnaire_items import item_bank_problems, load_items
from conditions.script_metrics import (
    DURATION_TOLERANCE,
    MIN_SECOND_PERSON_RATIO,
    SPEECH_RATE_WPM,
    WORDS_TOLERANCE,
    matching_problems,
    parse_script,
    script_metrics,
)

if TYPE_CHECKING:  # pandas is imported where used: `--help` loads no numerical library
    import pandas as pd


def _audio_durations(protocol: Protocol) -> dict[str, float]:
    # lazy: soundfile loads numpy; `soothe conditions --help` loads no numerical library
    import soundfile as sf

    out = {}
    for name, cond in protocol.conditions.items():
        out[name] = math.nan
        try:
            if cond.audio.is_file():
                out[name] = float(sf.info(str(cond.audio)).duration)
        except RuntimeError:
            out[name] = math.nan
    return out


def duration_problems(
    table: pd.DataFrame,
    *,
    duration_tolerance: float = DURATION_TOLERANCE,
    audio_tolerance_s: float | None = None,
) -> list[str]:
    """Duration matching: on the real audio where it exists, on the model elsewhere.

    Each condition's duration is its audio's (``audio_s``) when that is known, else the
    script's model estimate (``est_duration_s``). Every such duration must lie within
    ``duration_tolerance`` (3 %) of the median of the five. Against the protocol's
    ``duration_s``: real audio must be within ``audio_tolerance_s`` seconds (the
    protocol's ``audio.duration_tolerance_s``, the limit the session runner enforces); a
    model estimate within ``duration_tolerance``.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`conditions.script_metrics.script_metrics`.
    duration_tolerance : float
        Allowed relative deviation from the median (and of a model estimate from the
        protocol).
    audio_tolerance_s : float, optional
        Allowed difference in seconds between real audio and the protocol; ``None`` skips
        that comparison.

    Returns
    -------
    list of str
        Empty when the durations are matched.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"condition": ["a", "b", "c"], "est_duration_s": [660.0] * 3,
    ...     "protocol_s": [720.0] * 3, "audio_s": [720.0, 721.0, 719.5]})
    >>> duration_problems(t, audio_tolerance_s=20.0)
    []
    >>> t["audio_s"] = [720.0, 721.0, float("nan")]  # c has no audio: the model is used
    >>> duration_problems(t, audio_tolerance_s=20.0)[0]
    'c: estimated 660 s is 8.3% from the median 720 s (allowed 3%)'
    """
    # lazy: pandas is a numerical library; `soothe conditions --help` loads none
    import pandas as pd

    audio = pd.to_numeric(table["audio_s"], errors="coerce").astype(float)
    has_audio = audio.map(math.isfinite)
    used = audio.where(has_audio, table["est_duration_s"].astype(float))
    median = float(used.median())
    problems: list[str] = []
    for row, duration, real in zip(table.itertuples(index=False), used, has_audio):
        c = row.condition
        what = f"audio lasts {duration:.1f} s and" if real else f"estimated {duration:.0f} s"
        dev = (duration - median) / median
        if abs(dev) > duration_tolerance:
            problems.append(
                f"{c}: {what} is {abs(dev):.1%} from the median {median:.0f} s "
                f"(allowed {duration_tolerance:.0%})"
            )
        if not math.isfinite(row.protocol_s):
            continue
        if real:
            if audio_tolerance_s is not None and abs(duration - row.protocol_s) > audio_tolerance_s:
                problems.append(
                    f"{c}: audio lasts {duration:.1f} s, protocol says {row.protocol_s:g} s "
                    f"(allowed +/-{audio_tolerance_s:g} s)"
                )
        else:
            dev = (duration - row.protocol_s) / row.protocol_s
            if abs(dev) > duration_tolerance:
                problems.append(
                    f"{c}: estimated {duration:.0f} s is {abs(dev):.1%} from the "
                    f"protocol's duration_s {row.protocol_s:g} (allowed {duration_tolerance:.0%})"
                )
    return problems


def format_script_table(table: pd.DataFrame) -> str:
    """The script-matching table as fixed-width text."""
    header = (
        f"{'condition':<20} {'words':>5} {'pauses_s':>8} {'speech_s':>8} {'est_dur_s':>9} "
        f"{'protocol_s':>10} {'audio_s':>8} {'2nd_person':>10} {'intro':>5} {'closing':>7}"
    )
    lines = [header, "-" * len(header)]
    for r in table.itertuples(index=False):
        audio = f"{r.audio_s:8.1f}" if math.isfinite(r.audio_s) else f"{'n/a':>8}"
        lines.append(
            f"{r.condition:<20} {r.words:>5d} {r.pauses_s:>8.0f} {r.speech_s:>8.1f} "
            f"{r.est_duration_s:>9.1f} {r.protocol_s:>10.0f} {audio} "
            f"{r.second_person_ratio:>10.2f} {'same' if r.intro_match else 'DIFF':>5} "
            f"{'same' if r.closing_match else 'DIFF':>7}"
        )
    words, dur = table["words"], table["est_duration_s"]
    lines.append("-" * len(header))
    lines.append(
        f"spread: words {words.min()}-{words.max()} "
        f"({(words.max() - words.min()) / words.median():.1%} of median), "
        f"estimated duration {dur.min():.1f}-{dur.max():.1f} s "
        f"({(dur.max() - dur.min()) / dur.median():.1%} of median)"
    )
    # lazy: pandas is a numerical library; `soothe conditions --help` loads none
    import pandas as pd

    audio = pd.to_numeric(table["audio_s"], errors="coerce").dropna()
    if len(audio):
        lines.append(
            f"audio ({len(audio)} of {len(table)} files): duration {audio.min():.1f}-"
            f"{audio.max():.1f} s ({(audio.max() - audio.min()) / audio.median():.1%} of median); "
            "durations are matched on the audio where it exists, on the model elsewhere"
        )
    return "\n".join(lines)


def questionnaire_problems(protocol: Protocol) -> list[str]:
    """Where a questionnaire named by the protocol departs from the item-bank design.

    See :func:`conditions.questionnaire_items.item_bank_problems` (3-6 items per construct,
    some but not all reverse-keyed). Applies to every item file, a lab's own included.

    Examples
    --------
    >>> questionnaire_problems(load_protocol())
    []
    """
    return [
        f"questionnaires.{name} ({ref.file.name}): {problem}"
        for name, ref in protocol.questionnaires.items()
        for problem in item_bank_problems(load_items(ref.file))
    ]


def format_questionnaire_table(protocol: Protocol) -> str:
    """One line per questionnaire construct: items, reversed items, scale, and how many items
    may be missing before the score is NaN (:data:`conditions.scoring.MAX_MISSING_FRACTION`)."""
    # lazy: conditions.scoring loads pandas; `soothe conditions --help` loads none
    from conditions.scoring import MAX_MISSING_FRACTION

    lines = [
        f"{'questionnaire':<16} {'construct':<20} {'items':>5} {'reversed':>8} "
        f"{'may_miss':>8}  scale"
    ]
    for name, ref in protocol.questionnaires.items():
        items = load_items(ref.file)
        for construct in dict.fromkeys(i.construct for i in items):
            group = [i for i in items if i.construct == construct]
            scales = sorted({f"{i.min:g}-{i.max:g}" for i in group})
            kind = "VAS" if group[0].is_vas else "Likert"
            may_miss = math.floor(len(group) * MAX_MISSING_FRACTION + 1e-9)
            lines.append(
                f"{name:<16} {construct:<20} {len(group):>5} "
                f"{sum(i.reversed for i in group):>8} {may_miss:>8}  {kind} {', '.join(scales)}"
            )
    lines.append(
        f"may_miss: items that may be missing for a prorated score (at most "
        f"{MAX_MISSING_FRACTION:.0%}); one more gives NaN with a reason (docs/content.md)"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``soothe conditions``."""
    parser = argparse.ArgumentParser(
        prog="soothe conditions",
        description="Check the protocol, the five induction scripts and the questionnaires.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="check that the five scripts are matched")
    check.add_argument("--protocol", help="protocol TOML (default: the shipped one)")
    check.add_argument(
        "--rate-wpm",
        type=float,
        default=SPEECH_RATE_WPM,
        help=f"speech rate of the duration model (default {SPEECH_RATE_WPM:g} words/min)",
    )
    args = parser.parse_args(list(argv) if argv is not None else None)

    protocol = load_protocol(args.protocol)
    scripts = {name: parse_script(protocol.conditions[name].script) for name in protocol.conditions}
    table = script_metrics(
        scripts,
        protocol_duration_s={n: c.duration_s for n, c in protocol.conditions.items()},
        audio_duration_s=_audio_durations(protocol),
        rate_wpm=args.rate_wpm,
    )
    print(f"protocol: {protocol.path}")
    print(
        f"duration model: words / {args.rate_wpm:g} wpm * 60 + pauses; matching: words within "
        f"{WORDS_TOLERANCE:.0%} of the median; duration (audio_s where the audio exists, else "
        f"est_dur_s) within {DURATION_TOLERANCE:.0%} of the median; audio within "
        f"+/-{protocol.audio.duration_tolerance_s:g} s of protocol_s, an estimate within "
        f"{DURATION_TOLERANCE:.0%}; 2nd-person ratio >= {MIN_SECOND_PERSON_RATIO:.2f}, "
        "same intro and closing"
    )
    print()
    print(format_script_table(table))
    print()
    print(format_questionnaire_table(protocol))
    # words, voice and frame from the script rules; durations on the real audio where it
    # exists (duration_problems), so the model-based duration rules are switched off here
    problems = matching_problems(table, duration_tolerance=math.inf, audio_tolerance_s=None)
    problems += duration_problems(table, audio_tolerance_s=protocol.audio.duration_tolerance_s)
    problems += questionnaire_problems(protocol)
    print()
    if problems:
        print(f"FAIL: {len(problems)} problem(s)")
        for p in problems:
            print(f"  - {p}")
        return 1
    print("OK: the five scripts are matched and the questionnaires follow the item-bank design")
    return 0
