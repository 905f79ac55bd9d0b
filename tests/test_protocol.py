"""The protocol loader: the shipped protocol loads, and every validation rule fires with a
one-line message naming the file, the key and the problem."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

from conditions import CONDITION_NAMES, ProtocolError, load_protocol
from conditions.protocol import default_protocol_path
from conditions.questionnaire_items import load_items

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def test_shipped_protocol_loads_with_paradigm_defaults():
    p = load_protocol()
    assert p.condition_names == CONDITION_NAMES
    names = [ph.name for ph in p.phases]
    assert names.index("baseline") < names.index("pre_questionnaire") < names.index("induction")
    assert names.index("induction") < names.index("post_questionnaire") < names.index("recovery")
    assert p.phase("baseline").duration_s == 300
    assert p.phase("recovery").duration_s == 300
    assert 600 <= p.induction_phase.duration_s <= 720  # ~11 minutes
    codes = list(p.markers.all_codes())
    assert len(codes) == len(set(codes)) and all(1 <= c <= 255 for c in codes)
    assert len(p.markers.induction_minutes) >= 11
    assert p.markers.decode(p.markers.phase_onset("induction")) == ("phase_onset", "induction")
    assert p.markers.label(p.markers.induction_minute(3)) == "induction_minute_3"
    for size in p.randomisation.block_sizes:
        assert size % 5 == 0


@pytest.fixture()
def protocol_dir(tmp_path: Path) -> Path:
    """A writable copy of the shipped protocol and the files it names."""
    src = default_protocol_path().parent
    dst = tmp_path / "conditions"
    dst.mkdir()
    shutil.copy(src / "protocol.toml", dst / "protocol.toml")
    shutil.copytree(src / "scripts", dst / "scripts")
    shutil.copytree(src / "questionnaires", dst / "questionnaires")
    return dst


def _edit(protocol_dir: Path, old: str, new: str, count: int = 1) -> Path:
    path = protocol_dir / "protocol.toml"
    text = path.read_text()
    assert old in text, f"test setup: {old!r} not in protocol"
    path.write_text(text.replace(old, new, count))
    return path


def _fails(path: Path, key_pattern: str, problem_pattern: str) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        load_protocol(path)
    err = info.value
    message = str(err)
    assert "\n" not in message, "errors are one line"
    assert str(path) in message, "the error names the file"
    assert re.search(key_pattern, err.key), f"key {err.key!r} !~ {key_pattern!r}"
    assert re.search(problem_pattern, err.problem), f"{err.problem!r} !~ {problem_pattern!r}"
    return err


def test_copy_of_protocol_is_valid(protocol_dir):
    assert load_protocol(protocol_dir / "protocol.toml").task == "induction"


def test_unknown_condition(protocol_dir):
    path = _edit(protocol_dir, "[conditions.neutral]", "[conditions.gratitude]")
    _fails(path, r"conditions\.gratitude", r"unknown condition")


def test_missing_condition(protocol_dir):
    path = protocol_dir / "protocol.toml"
    text = path.read_text()
    start = text.index("[conditions.neutral]")
    end = text.index("# --- Audio format")
    path.write_text(text[:start] + text[end:])
    _fails(path, r"^conditions$", r"missing condition")


def test_duplicate_marker_code(protocol_dir):
    path = _edit(
        protocol_dir,
        "baseline = { onset = 20, offset = 21 }",
        "baseline = { onset = 20, offset = 10 }",
    )
    err = _fails(path, r"markers\.phases\.baseline\.offset", r"duplicate marker code 10")
    assert "instructions" in err.problem  # says who already uses it


@pytest.mark.parametrize("bad", ["0", "256", "-3", "12.5", '"twenty"'])
def test_out_of_range_or_non_integer_marker_code(protocol_dir, bad):
    path = _edit(protocol_dir, "rumination = 104", f"rumination = {bad}")
    _fails(path, r"markers\.conditions\.rumination", r"out of range 1-255|must be an integer")


def test_marker_for_unknown_phase(protocol_dir):
    path = _edit(
        protocol_dir,
        "end = { onset = 70, offset = 71 }",
        "end = { onset = 70, offset = 71 }\nbreak = { onset = 72, offset = 73 }",
    )
    _fails(path, r"markers\.phases\.break", r"unknown phase")


def test_phase_without_marker_codes(protocol_dir):
    path = _edit(protocol_dir, "recovery = { onset = 60, offset = 61 }\n", "")
    _fails(path, r"markers\.phases\.recovery", r"onset = code")


def test_too_few_induction_minute_codes(protocol_dir):
    path = _edit(protocol_dir, "203, 204, 205, 206, 207, 208, 209, 210, 211]", "203]")
    _fails(path, r"markers\.induction_minutes", r"need 11")


def test_missing_script_file(protocol_dir):
    (protocol_dir / "scripts" / "body_scan.txt").unlink()
    path = protocol_dir / "protocol.toml"
    _fails(path, r"conditions\.body_scan\.script", r"file not found")


def test_missing_audio_only_checked_when_asked(protocol_dir):
    path = protocol_dir / "protocol.toml"
    load_protocol(path)  # analysts and the simulator do not need audio
    with pytest.raises(ProtocolError, match=r"conditions\.kindness_self\.audio.*file not found"):
        load_protocol(path, check_audio=True)


def test_negative_duration(protocol_dir):
    path = _edit(protocol_dir, "duration_s = 300", "duration_s = -300")
    _fails(path, r"phases\[1\] \(baseline\)\.duration_s", r"must not be negative")


def test_zero_duration_for_timed_phase(protocol_dir):
    path = _edit(protocol_dir, "duration_s = 300", "duration_s = 0")
    _fails(path, r"baseline\)\.duration_s", r"needs a duration > 0")


def test_negative_condition_duration(protocol_dir):
    text = (protocol_dir / "protocol.toml").read_text()
    i = text.index("[conditions.rumination]")
    j = text.index("duration_s = 660", i)
    (protocol_dir / "protocol.toml").write_text(text[:j] + "duration_s = -1" + text[j + 16 :])
    _fails(protocol_dir / "protocol.toml", r"conditions\.rumination\.duration_s", r"negative")


def test_unknown_phase_kind(protocol_dir):
    path = _edit(protocol_dir, 'kind = "rest"', 'kind = "nap"')
    _fails(path, r"baseline\)\.kind", r"unknown kind 'nap'")


def test_duplicate_phase_name(protocol_dir):
    path = _edit(protocol_dir, 'name = "recovery"', 'name = "baseline"')
    _fails(path, r"\.name$", r"duplicate phase name")


def test_unknown_questionnaire_in_phase(protocol_dir):
    path = _edit(protocol_dir, 'questionnaires = ["state_vas"]', 'questionnaires = ["mood"]')
    _fails(path, r"questionnaires$", r"unknown questionnaire 'mood'")


def test_block_size_not_multiple_of_conditions(protocol_dir):
    path = _edit(protocol_dir, "block_sizes = [5, 10]", "block_sizes = [5, 8]")
    _fails(path, r"randomisation\.block_sizes\[1\]", r"not a multiple of the 5")


def test_bad_seed(protocol_dir):
    path = _edit(protocol_dir, "seed = 20190101", 'seed = "abc"')
    _fails(path, r"randomisation\.seed", r"non-negative integer")


def test_invalid_toml(protocol_dir):
    path = _edit(protocol_dir, "[study]", "[study")
    _fails(path, r"<toml>", r"invalid TOML")


def test_missing_section(protocol_dir):
    path = protocol_dir / "protocol.toml"
    data = path.read_text()
    start = data.index("[randomisation]")
    path.write_text(data[:start])
    _fails(path, r"^randomisation$", r"required section is missing")


def test_missing_protocol_file(tmp_path):
    with pytest.raises(ProtocolError, match=r"nope\.toml: \[<file>\] cannot read protocol"):
        load_protocol(tmp_path / "nope.toml")


def test_bad_send_condition_code(protocol_dir):
    path = _edit(protocol_dir, 'send_condition_code = "never"',
                 'send_condition_code = "always"')
    _fails(path, r"send_condition_code", r"expected one of")


def test_missing_required_event_code(protocol_dir):
    path = _edit(protocol_dir, "audio_offset = 91\n", "")
    _fails(path, r"^markers\.events\.audio_offset$", r"required event code is missing")


@pytest.mark.parametrize(
    ("old", "new", "found"),
    [
        ('name = "induction"\nkind = "induction"', 'name = "induction"\nkind = "rest"', 0),
        ('name = "recovery"\nkind = "rest"', 'name = "recovery"\nkind = "induction"', 2),
    ],
)
def test_not_exactly_one_induction_phase(protocol_dir, old, new, found):
    path = _edit(protocol_dir, old, new)
    _fails(path, r"^phases$", rf"exactly one induction phase is required, found {found}")


@pytest.mark.parametrize("task", ["self-compassion", "induction_1", "ind uction"])
def test_task_label_must_be_alphanumeric(protocol_dir, task):
    path = _edit(protocol_dir, 'task = "induction"', f'task = "{task}"')
    _fails(path, r"^study\.task$", rf"BIDS task label must be alphanumeric, got '{task}'")


def test_unsupported_randomisation_scheme(protocol_dir):
    path = _edit(protocol_dir, 'scheme = "permuted_block"', 'scheme = "minimisation"')
    _fails(
        path, r"^randomisation\.scheme$", r"only 'permuted_block' is supported, got 'minimisation'"
    )


@pytest.mark.parametrize("strata", ['"sex"', '["sex", 3]', '[""]', "{ sex = 1 }"])
def test_bad_strata(protocol_dir, strata):
    path = _edit(protocol_dir, 'strata = ["sex"]', f"strata = {strata}")
    _fails(path, r"^randomisation\.strata$", r"expected an array of field names")


def test_condition_without_a_marker_code(protocol_dir):
    path = _edit(protocol_dir, "neutral = 105\n", "")
    _fails(path, r"^markers\.conditions\.neutral$", r"condition has no marker code")


@pytest.mark.parametrize("value", ["201", '"201-211"', "{ first = 201 }"])
def test_induction_minutes_not_an_array(protocol_dir, value):
    path = _edit(
        protocol_dir,
        "induction_minutes = [201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211]",
        f"induction_minutes = {value}",
    )
    _fails(path, r"^markers\.induction_minutes$", r"expected an array of codes")


def test_missing_questionnaire_item_file(protocol_dir):
    (protocol_dir / "questionnaires" / "state_vas.csv").unlink()
    path = protocol_dir / "protocol.toml"
    _fails(path, r"^questionnaires\.state_vas\.file$", r"file not found: .*state_vas\.csv")


@pytest.mark.parametrize(
    ("old", "new", "key", "problem"),
    [
        ("sample_rate_hz = 44100", "sample_rate_hz = 4000", "sample_rate_hz", r"integer >= 8000"),
        ("sample_rate_hz = 44100", "sample_rate_hz = 44100.0", "sample_rate_hz", r">= 8000"),
        ("channels = 1", "channels = 6", "channels", r"expected 1 \(mono\) or 2 \(stereo\)"),
        (
            "duration_tolerance_s = 20.0", "duration_tolerance_s = -5",
            "duration_tolerance_s", r"must not be negative",
        ),
        (
            "loudness_max_spread_lu = 1.0", 'loudness_max_spread_lu = "one"',
            "loudness_max_spread_lu", r"expected a number",
        ),
        (
            "loudness_target_lufs = -23.0", "loudness_target_lufs = 3",
            "loudness_target_lufs", r"expected a negative LUFS value",
        ),
    ],
)
def test_bad_audio_settings(protocol_dir, old, new, key, problem):
    path = _edit(protocol_dir, old, new)
    _fails(path, rf"^audio\.{key}$", problem)


def test_shipped_protocol_is_valid_toml_with_all_five_conditions():
    data = tomllib.loads(default_protocol_path().read_text())
    assert set(data["conditions"]) == set(CONDITION_NAMES)
    assert set(data["markers"]["conditions"]) == set(CONDITION_NAMES)


# --- item files ---------------------------------------------------------------------


def _write_items(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "items.csv"
    path.write_text(body)
    return path


HEADER = "item_id,text,construct,reversed,anchor_low,anchor_high,min,max\n"


def test_item_file_loads_likert(tmp_path):
    items = load_items(_write_items(tmp_path, HEADER + "a1,I feel held,att,false,no,yes,1,7\n"))
    assert items[0].min == 1 and items[0].max == 7 and not items[0].is_vas
    assert items[0].reverse(2) == 6


@pytest.mark.parametrize(
    ("body", "pattern"),
    [
        ("", r"empty"),
        (HEADER, r"no items"),
        ("item_id,text\nx,y\n", r"missing column"),
        (HEADER + "a,t,c,maybe,l,h,0,100\n", r"line 2\.reversed"),
        (HEADER + "a,t,c,false,l,h,0,100\na,t,c,false,l,h,0,100\n", r"duplicate item_id"),
        (HEADER + "a,t,c,false,l,h,100,0\n", r"below max"),
        (HEADER + "a,t,c,false,l,h,zero,100\n", r"must be numbers"),
        (HEADER + "a,,c,false,l,h,0,100\n", r"empty text"),
        (
            HEADER + "a,t,c,false,l,h,0,100\nb,t,c,true,l,h,1,7\n",
            r"\[line 3\.min/max\] construct 'c' is rated 1-7 here but 0-100 on line 2",
        ),
    ],
)
def test_item_file_errors(tmp_path, body, pattern):
    with pytest.raises(ProtocolError, match=pattern):
        load_items(_write_items(tmp_path, body))


# --- questionnaires combined in one protocol --------------------------------------------------


def _add_questionnaire(protocol_dir: Path, name: str, rows: str) -> Path:
    """Write questionnaires/<name>.csv, declare it and ask it after the induction."""
    csv_path = protocol_dir / "questionnaires" / f"{name}.csv"
    csv_path.write_text(HEADER + rows)
    path = protocol_dir / "protocol.toml"
    text = path.read_text().replace(
        '# --- Randomisation', f'[questionnaires.{name}]\nfile = "questionnaires/{name}.csv"\n\n'
        "# --- Randomisation",
    )
    i = text.index('name = "post_questionnaire"')
    text = text[:i] + text[i:].replace(
        'questionnaires = ["state_vas"]', f'questionnaires = ["state_vas", "{name}"]', 1
    )
    path.write_text(text)
    return csv_path


def test_a_second_questionnaire_with_its_own_ids_and_constructs_loads(protocol_dir):
    rows = "".join(f"att{k},I feel held {k},attachment,{k == 1},no,yes,1,7\n" for k in range(3))
    _add_questionnaire(protocol_dir, "attachment", rows)
    p = load_protocol(protocol_dir / "protocol.toml")
    assert set(p.questionnaires) == {"state_vas", "attachment"}
    assert p.phase("post_questionnaire").questionnaires == ("state_vas", "attachment")


def _fails_in_item_file(protocol_dir: Path, csv_path: Path, key: str, problem: str) -> None:
    with pytest.raises(ProtocolError) as info:
        load_protocol(protocol_dir / "protocol.toml")
    err = info.value
    assert "\n" not in str(err)
    assert err.file == str(csv_path.resolve()), "the error names the item file at fault"
    assert err.key == key
    assert re.search(problem, err.problem), err.problem


def test_item_id_shared_by_two_questionnaires(protocol_dir):
    rows = (
        "x1,I feel held,attachment,false,no,yes,1,7\n"
        "scp3,I feel apart,attachment,true,no,yes,1,7\n"
    )
    csv_path = _add_questionnaire(protocol_dir, "attachment", rows)
    _fails_in_item_file(
        protocol_dir, csv_path, "line 3.item_id",
        r"item_id 'scp3' \(questionnaires\.attachment\) is also an item of "
        r"questionnaires\.state_vas .*state_vas\.csv.*unique across",
    )


def test_construct_rated_on_two_scales_across_questionnaires(protocol_dir):
    rows = "lsc1,I am kind to myself,self_compassion,false,disagree,agree,1,7\n"
    csv_path = _add_questionnaire(protocol_dir, "licensed_sc", rows)
    _fails_in_item_file(
        protocol_dir, csv_path, "line 2.min/max",
        r"construct 'self_compassion' is rated 1-7 in questionnaires\.licensed_sc but 0-100 "
        r"in questionnaires\.state_vas .*one scale across questionnaires",
    )
