"""The five induction scripts: parsing, the duration model and the matching check."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conditions import cli as conditions_cli
from conditions.protocol import CONDITION_NAMES, load_protocol
from conditions.script_metrics import (
    SPEECH_RATE_WPM,
    ScriptError,
    count_words,
    estimate_duration_s,
    matching_problems,
    parse_script,
    script_metrics,
    second_person_ratio,
)

CONDITIONS_DIR = Path(__file__).resolve().parents[1] / "conditions"


@pytest.fixture()
def conditions_copy(tmp_path: Path) -> Path:
    """A copy of the protocol, scripts and questionnaires to edit freely."""
    dest = tmp_path / "conditions"
    dest.mkdir()
    shutil.copy(CONDITIONS_DIR / "protocol.toml", dest / "protocol.toml")
    shutil.copytree(CONDITIONS_DIR / "scripts", dest / "scripts")
    shutil.copytree(CONDITIONS_DIR / "questionnaires", dest / "questionnaires")
    (dest / "audio").mkdir()
    return dest


def _shipped_scripts():
    protocol = load_protocol()
    return protocol, {c: parse_script(protocol.conditions[c].script) for c in CONDITION_NAMES}


#: Words the header's "Target construct:" must use for each script (issue 5's definitions),
#: and words it must not use (another condition's construct).
CONSTRUCT_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "kindness_self": (("self-compassion", "warmth", "kind wishes", "oneself"), ("drive",)),
    "body_scan": (
        ("self-compassion", "body", "openness", "non-judgement"), ("drive", "rumination")
    ),
    "positive_excitement": (
        ("drive system", "achievement", "excitement", "success"),
        ("self-compassion", "soothing", "rumination"),
    ),
    "rumination": (
        ("rumination", "dwelling", "did not go as wanted", "why", "oneself"),
        ("self-compassion", "drive"),
    ),
    "neutral": (
        ("none (control)", "supermarket", "no emotional"),
        ("self-compassion", "drive", "rumination"),
    ),
}


def test_each_script_states_its_construct_and_has_three_sections():
    _, scripts = _shipped_scripts()
    assert set(CONSTRUCT_WORDS) == set(scripts)
    for name, script in scripts.items():
        assert script.header[0].startswith(f"soothe induction script: {name} - "), name
        construct = script.target_construct.lower()
        wanted, unwanted = CONSTRUCT_WORDS[name]
        for word in wanted:
            assert word in construct, f"{name}: header's target construct lacks {word!r}"
        for word in unwanted:
            assert word not in construct, f"{name}: header names another construct ({word!r})"
        assert set(script.sections) == {"intro", "induction", "closing"}
        assert script.sections["induction"].strip(), name


def test_shipped_scripts_hold_the_paradigms_word_count_and_duration():
    protocol, scripts = _shipped_scripts()
    for name, script in scripts.items():
        # Kirschner et al. (2019): ~11-min recordings held 610-630 words
        assert 610 <= script.words <= 630, (name, script.words)
        est = script.estimated_duration_s()
        assert abs(est - protocol.conditions[name].duration_s) <= 0.03 * 660, (name, est)
        assert second_person_ratio(script.spoken_text) >= 0.9, name


def test_shipped_scripts_are_matched_and_the_command_prints_the_table(capsys):
    protocol, scripts = _shipped_scripts()
    table = script_metrics(
        scripts, protocol_duration_s={n: c.duration_s for n, c in protocol.conditions.items()}
    )
    assert matching_problems(table) == []
    assert conditions_cli.main(["check"]) == 0
    out = capsys.readouterr().out
    for name in CONDITION_NAMES:
        assert name in out
    assert "est_dur_s" in out and "OK: the five scripts are matched" in out


def test_check_fails_on_a_deliberately_mismatched_script(conditions_copy: Path, capsys):
    path = conditions_copy / "scripts" / "rumination.txt"
    text = path.read_text()
    # cut the induction to its first three lines and alter the shared intro
    head, rest = text.split("[induction]\n")
    body, closing = rest.split("[closing]\n")
    short_body = "\n".join(body.splitlines()[:3]) + "\n\n"
    head = head.replace("Welcome.", "Hello there.")
    path.write_text(head + "[induction]\n" + short_body + "[closing]\n" + closing)
    assert conditions_cli.main(["check", "--protocol", str(conditions_copy / "protocol.toml")]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out
    assert "rumination: " in out and "words is" in out
    assert "rumination: [intro] differs" in out
    assert "kindness_self:" not in out.split("FAIL")[1]


def test_first_person_voice_is_caught(conditions_copy: Path):
    path = conditions_copy / "scripts" / "neutral.txt"
    text = path.read_text().replace(" you ", " I ").replace("You ", "I ")
    path.write_text(text)
    script = parse_script(path)
    assert second_person_ratio(script.spoken_text) < 0.5
    protocol = load_protocol(conditions_copy / "protocol.toml")
    scripts = {c: parse_script(protocol.conditions[c].script) for c in CONDITION_NAMES}
    table = script_metrics(scripts)
    assert any("neutral: second-person ratio" in p for p in matching_problems(table))


def test_duration_model_is_words_over_rate_plus_pauses(tmp_path: Path):
    path = tmp_path / "s.txt"
    path.write_text(
        "# header\n[intro]\nYou sit down. [pause 2.5s]\n[induction]\nYou breathe in and out."
        " [pause 10s] You rest.\n[closing]\nYou open your eyes. [pause 3s]\n"
    )
    script = parse_script(path)
    assert script.words == 3 + 5 + 2 + 4
    assert script.pauses_s == pytest.approx(15.5)
    assert script.estimated_duration_s() == pytest.approx(14 / SPEECH_RATE_WPM * 60 + 15.5)
    assert estimate_duration_s(100, 0.0, rate_wpm=100) == pytest.approx(60.0)
    kinds = [(s.section, s.is_pause) for s in script.segments]
    assert kinds[:2] == [("intro", False), ("intro", True)]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[intro]\nYou sit. [breathe]\n[induction]\nx\n[closing]\ny\n", "line 2: unknown mark"),
        ("[intro]\nYou sit.\n[closing]\ny\n", "missing section"),
        ("You sit.\n[intro]\nx\n[induction]\nx\n[closing]\ny\n", "line 1: spoken text before"),
        ("[intro]\na\n[intro]\nb\n[induction]\nx\n[closing]\ny\n", "appears twice"),
        ("[intro]\na\n[closing]\nb\n[induction]\nx\n", "must come in the order"),
    ],
)
def test_bad_scripts_fail_with_file_and_reason(tmp_path: Path, content: str, expected: str):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(ScriptError, match=expected) as info:
        parse_script(path)
    assert str(path) in str(info.value)


def test_word_count_and_pronoun_ratio_helpers():
    assert count_words("You walk [pause 4s] to the washing-up liquid.") == 6
    assert second_person_ratio("You and your self") == 1.0
    assert math.isnan(second_person_ratio("The shop is open."))
    assert second_person_ratio("We go; you stay.") == pytest.approx(0.5)


# --- durations are matched on the real audio where it exists ---------------------------------


def _set_durations(protocol_path: Path, seconds: int) -> None:
    """Set every condition's duration_s, with enough induction-minute codes for it."""
    text = protocol_path.read_text().replace("duration_s = 660", f"duration_s = {seconds}")
    codes = ", ".join(str(201 + i) for i in range(math.ceil(seconds / 60)))
    text = text.replace(
        "induction_minutes = [201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211]",
        f"induction_minutes = [{codes}]",
    )
    protocol_path.write_text(text)


def _write_silence(path: Path, seconds: float, rate: int = 8000) -> None:
    # the conditions check reads durations only, so a low rate keeps the files small
    sf.write(str(path), np.zeros(int(round(seconds * rate)), dtype=np.int16), rate)


def test_recorded_audio_of_720_s_with_duration_720_passes_on_the_audio(
    conditions_copy: Path, capsys
):
    """docs step 5: a lab records 720-s audio and sets duration_s = 720. The word-count model
    still says ~660 s, but what participants hear is the audio, so the check passes."""
    protocol_path = conditions_copy / "protocol.toml"
    _set_durations(protocol_path, 720)
    for k, name in enumerate(CONDITION_NAMES):
        _write_silence(conditions_copy / "audio" / f"{name}.wav", 718.0 + k)
    assert conditions_cli.main(["check", "--protocol", str(protocol_path)]) == 0, (
        capsys.readouterr().out
    )
    out = capsys.readouterr().out
    assert "audio (5 of 5 files): duration 718.0-722.0 s" in out
    assert "OK: the five scripts are matched" in out


def test_audio_durations_must_match_each_other_and_the_protocol(conditions_copy: Path, capsys):
    protocol_path = conditions_copy / "protocol.toml"
    _set_durations(protocol_path, 720)
    audio = conditions_copy / "audio"
    for name in CONDITION_NAMES:
        _write_silence(audio / f"{name}.wav", 720.0)
    args = ["check", "--protocol", str(protocol_path)]
    # 745 s: 25 s off the protocol (allowed 20 s) and 3.5 % from the median of the five
    _write_silence(audio / "neutral.wav", 745.0)
    assert conditions_cli.main(args) == 1
    fail = capsys.readouterr().out.split("FAIL")[1]
    assert "neutral: audio lasts 745.0 s and is 3.5% from the median 720 s (allowed 3%)" in fail
    assert "neutral: audio lasts 745.0 s, protocol says 720 s (allowed +/-20 s)" in fail
    assert "rumination" not in fail and "estimated" not in fail
    # a condition without audio falls back on the model: ~660 s is 8 % short of the others
    (audio / "neutral.wav").unlink()
    assert conditions_cli.main(args) == 1
    fail = capsys.readouterr().out.split("FAIL")[1]
    assert "neutral: estimated 660 s is 8.3% from the median 720 s" in fail
    assert "neutral: estimated 660 s is 8.3% from the protocol's duration_s 720" in fail
    assert "body_scan" not in fail
