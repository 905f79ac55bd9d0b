"""The conditions layer's named steps, each on its own."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from conditions.audio_check import AudioError
from conditions.audio_normalize import (
    measure_loudness,
    normalized_targets,
    write_normalized_copy,
)
from conditions.audio_render import assemble_speech, calibrate_speech, loudness_gains
from conditions.errors import ProtocolError
from conditions.questionnaire_items import (
    Item,
    check_construct_scale,
    item_from_row,
    read_item_rows,
)
from conditions.scoring import answered_by_group, construct_score, response_groups
from conditions.script_metrics import ScriptError, Segment, section_segments, split_script_lines
from conditions.soothe_version import soothe_version

HEADER = "item_id,text,construct,reversed,anchor_low,anchor_high,min,max\n"
ROW = {"item_id": "a", "text": "Calm", "construct": "calm", "reversed": "yes",
       "anchor_low": "no", "anchor_high": "yes", "min": "0", "max": "100"}


def test_soothe_version_is_the_packages_and_the_audio_modules_do_not_import_soothe():
    import soothe

    assert soothe_version() == soothe.__version__
    code = ("import sys, conditions.audio_render, conditions.audio_normalize\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'soothe'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


# --- scoring --------------------------------------------------------------------------------

def test_construct_score_prorates_up_to_the_limit_only():
    assert construct_score(pd.Series([2.0, 4.0]), 2) == (3.0, 0, "")
    score, n_missing, reason = construct_score(pd.Series([2.0, 4.0, 6.0]), 4,
                                               max_missing_fraction=0.25)
    assert (score, n_missing, reason) == (4.0, 1, "prorated: 1 of 4 items missing")
    score, n_missing, reason = construct_score(pd.Series([2.0, 4.0, 6.0]), 4)
    assert np.isnan(score) and n_missing == 1 and "more than the 20%" in reason
    score, n_missing, reason = construct_score(None, 3)
    assert np.isnan(score) and n_missing == 3 and reason == "all 3 items missing"


def test_groups_and_answers_by_group():
    r = pd.DataFrame({"participant_id": ["sub-2", "sub-1", "sub-1"],
                      "phase": ["pre", "post", "pre"], "construct": "calm",
                      "keyed": [1.0, np.nan, 3.0]})
    assert response_groups(r, ["participant_id", "phase"]) == [
        ("sub-1", "post"), ("sub-1", "pre"), ("sub-2", "pre")]
    assert response_groups(r, []) == [()]
    found = answered_by_group(r, ["participant_id", "phase"])
    assert set(found) == {("sub-2", "pre", "calm"), ("sub-1", "pre", "calm")}
    assert list(answered_by_group(r, [])[("calm",)]) == [1.0, 3.0]


# --- item files -----------------------------------------------------------------------------

def test_item_rows_and_items_are_checked(tmp_path: Path):
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "a,Calm,calm,yes,no,yes,0,100\n", encoding="utf-8")
    assert read_item_rows(good)[0]["item_id"] == "a"
    bare = tmp_path / "bare.csv"
    bare.write_text(HEADER, encoding="utf-8")
    with pytest.raises(ProtocolError, match="header but no items"):
        read_item_rows(bare)
    item = item_from_row(good, 2, ROW)
    assert item == Item("a", "Calm", "calm", True, "no", "yes", 0.0, 100.0)
    with pytest.raises(ProtocolError, match=r"line 5\.reversed"):
        item_from_row(good, 5, {**ROW, "reversed": "perhaps"})
    with pytest.raises(ProtocolError, match="min 7.0 must be below max 1.0"):
        item_from_row(good, 2, {**ROW, "min": "7", "max": "1"})


def test_a_construct_keeps_one_scale(tmp_path: Path):
    scales: dict = {}
    check_construct_scale(tmp_path, 2, Item("a", "A", "calm", False, "l", "h", 1, 7), scales)
    check_construct_scale(tmp_path, 3, Item("b", "B", "calm", True, "l", "h", 1, 7), scales)
    assert scales == {"calm": (1, 7, 2)}
    with pytest.raises(ProtocolError, match="rated 0-100 here but 1-7 on line 2"):
        check_construct_scale(tmp_path, 4, Item("c", "C", "calm", False, "l", "h", 0, 100),
                              scales)


# --- scripts --------------------------------------------------------------------------------

def test_script_lines_split_into_header_and_sections():
    header, body = split_script_lines(Path("s.txt"), [
        "# Target construct: calm", "[intro]", "Hello.", "", "[induction]", "Rest.",
        "[closing]", "Bye. [pause 1s]"])
    assert header == ["Target construct: calm"]
    assert body == {"intro": ["Hello."], "induction": ["Rest."], "closing": ["Bye. [pause 1s]"]}
    with pytest.raises(ScriptError, match="line 2: unknown mark"):
        split_script_lines(Path("s.txt"), ["[intro]", "Hello [loud]."])
    with pytest.raises(ScriptError, match="in the order"):
        split_script_lines(Path("s.txt"), ["[closing]", "a", "[intro]", "b", "[induction]"])


def test_section_segments_cut_at_pauses():
    segs = section_segments("induction", ["One. [pause 2.5s]", "[pause 1s] Two."])
    assert segs == [Segment("induction", text="One."), Segment("induction", pause_s=2.5),
                    Segment("induction", pause_s=1.0), Segment("induction", text="Two.")]


# --- audio ----------------------------------------------------------------------------------

def test_speech_is_assembled_with_its_pauses_at_the_output_rate():
    segs = (Segment("intro", text="a"), Segment("intro", pause_s=0.25),
            Segment("intro", text="b"))
    mono = assemble_speech(segs, [np.ones(100), np.full(50, 0.5)], 1000, 1000)
    assert mono.shape == (400,)
    assert (mono[100:350] == 0).all() and (mono[350:] == 0.5).all()
    assert assemble_speech(segs, [np.ones(100), np.ones(50)], 1000, 2000).shape == (800,)


def test_loudness_gains_match_a_target_or_only_pull_down_peaks():
    gains, note = loudness_gains({"a": (-20.0, -3.0), "b": (-26.0, -8.0)}, -23.0)
    assert gains == {"a": -3.0, "b": 3.0} and note == ""
    gains, note = loudness_gains({"a": (-20.0, -3.0), "b": (-26.0, -0.2)}, None)
    assert gains == {"a": 0.0, "b": -0.8} and "except b" in note


def test_fixed_speed_synthesises_once():
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    speech = calibrate_speech(["You rest."], 2, 10.0, speed_wpm=150)
    assert speech.iterations == 1 and speech.speed_wpm == 150 and speech.word_gap == 0
    assert 0.2 < speech.speech_s < 3.0 and speech.rate == 22050


def _tone(path: Path, amplitude: float, rate: int = 8000) -> Path:
    t = np.arange(rate * 2) / rate
    sf.write(str(path), amplitude * np.sin(2 * np.pi * 440 * t), rate, subtype="PCM_24")
    return path


def test_normalised_copies_keep_the_format_and_never_replace_an_original(tmp_path: Path):
    src = _tone(tmp_path / "neutral.wav", 0.1)
    (tmp_path / "neutral.json").write_text(json.dumps({"Condition": "neutral"}))
    with pytest.raises(AudioError, match="would overwrite an original"):
        normalized_targets({"neutral": src}, tmp_path)
    target = normalized_targets({"neutral": src}, tmp_path / "norm")["neutral"]
    assert target == (tmp_path / "norm" / "neutral.wav").resolve()
    measures = measure_loudness({"neutral": src})
    target.parent.mkdir()
    entry = write_normalized_copy(src, target, 6.0, -20.0, measures["neutral"])
    assert sf.info(str(target)).subtype == "PCM_24"
    assert entry["lufs_after"] == round(measures["neutral"][0] + 6.0, 3)
    sidecar = json.loads(target.with_suffix(".json").read_text())
    assert sidecar["Condition"] == "neutral"
    assert sidecar["LoudnessNormalization"]["GainDB"] == 6.0
