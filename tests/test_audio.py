"""Audio tooling: espeak-ng rendering, the audio check and loudness normalisation.

Rendering needs espeak-ng: under CI (CI=true) its absence fails the tests, elsewhere it
skips them.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conditions import audio_cli
from conditions.audio_check import (
    AudioError,
    audio_problems,
    audio_report,
    integrated_loudness,
    is_pilot_placeholder,
    measure_audio,
    protocol_audio_paths,
)
from conditions.audio_normalize import normalize_audio_files, plan_loudness
from conditions.audio_render import protected_outputs, render_conditions, render_script
from conditions.protocol import CONDITION_NAMES, load_protocol
from conditions.script_metrics import parse_script

CONDITIONS_DIR = Path(__file__).resolve().parents[1] / "conditions"
RATE = 44100


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="module")
def espeak() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        if _in_ci():
            pytest.fail("espeak-ng is required in CI (apt-get install espeak-ng)")
        pytest.skip("espeak-ng is not installed")
    return exe


def copy_conditions(dest: Path, *, duration_s: int | None = None) -> Path:
    """Copy protocol, scripts and questionnaires; optionally shorten every duration."""
    dest.mkdir(parents=True)
    text = (CONDITIONS_DIR / "protocol.toml").read_text()
    if duration_s is not None:
        text = text.replace("duration_s = 660", f"duration_s = {duration_s}")
    (dest / "protocol.toml").write_text(text)
    shutil.copytree(CONDITIONS_DIR / "scripts", dest / "scripts")
    shutil.copytree(CONDITIONS_DIR / "questionnaires", dest / "questionnaires")
    (dest / "audio").mkdir()
    return dest / "protocol.toml"


def tone(seconds: float, amplitude: float, channels: int = 1, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    x = amplitude * np.sin(2 * np.pi * 440 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))
    return np.repeat(x[:, None], channels, axis=1)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- rendering a short script ---------------------------------------------------------------

SHORT = """# soothe induction script: test
# Target construct: none (test)
[intro]
You sit down on the chair and rest your hands in your lap. [pause 2s]
[induction]
You take a basket from the stack by the door and walk to the shelves. [pause 3s]
You pick up a bag of rice and read the label on the back.
[closing]
You put the basket down and wait for the next instructions. [pause 1s]
"""


def test_short_script_renders_to_its_estimated_duration_and_target_loudness(
    espeak: str, tmp_path: Path
):
    script_path = tmp_path / "short.txt"
    script_path.write_text(SHORT)
    script = parse_script(script_path)
    rendered = render_script(script, sample_rate_hz=RATE, channels=1)
    est = script.estimated_duration_s()
    assert rendered.duration_s == pytest.approx(est, rel=0.03)
    mono = rendered.data[:, 0]
    # the 3 s pause is inserted as digital silence
    silent = np.concatenate([[False], mono == 0.0, [False]]).astype(int)
    edges = np.flatnonzero(np.diff(silent))
    longest = (edges[1::2] - edges[::2]).max() / RATE
    assert longest == pytest.approx(3.0, abs=0.06)

    wav = tmp_path / "out" / "short.wav"
    summary = render_conditions({"short": script_path}, {"short": wav}, target_lufs=-23.0)
    m = measure_audio(wav)
    assert (m.sample_rate_hz, m.channels) == (RATE, 1)
    assert m.duration_s == pytest.approx(summary["short"]["duration_s"], abs=1e-3)
    assert m.lufs == pytest.approx(-23.0, abs=0.1)
    assert m.peak_dbfs <= -1.0 and m.clipped_samples == 0
    sidecar = json.loads(wav.with_suffix(".json").read_text())
    assert sidecar["PilotPlaceholder"] is True and "PILOT PLACEHOLDER" in sidecar["Description"]
    assert sidecar["ScriptSHA256"] == sha(script_path)
    assert sidecar["Settings"]["voice"] == "en-gb" and sidecar["Renderer"]


def test_stereo_output_follows_the_requested_channels(espeak: str, tmp_path: Path):
    script_path = tmp_path / "short.txt"
    script_path.write_text(SHORT)
    rendered = render_script(parse_script(script_path), sample_rate_hz=48000, channels=2)
    assert rendered.data.shape[1] == 2 and rendered.sample_rate_hz == 48000
    assert np.array_equal(rendered.data[:, 0], rendered.data[:, 1])


# --- render never overwrites a lab's own recording ------------------------------------------


def _recording(path: Path, seconds: float = 2.0) -> str:
    """A 'human recording' (a tone) at ``path``; returns its hash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), tone(seconds, 0.1), RATE, subtype="PCM_16")
    return sha(path)


def test_render_refuses_to_overwrite_a_recording_without_a_pilot_sidecar(tmp_path: Path):
    from soothe import cli as soothe_cli

    protocol_path = copy_conditions(tmp_path / "conditions")
    wav = protocol_path.parent / "audio" / "body_scan.wav"
    before = _recording(wav)
    with pytest.raises(AudioError, match=r"body_scan\.wav: not a pilot placeholder.*--force"):
        audio_cli.main(["render", "--protocol", str(protocol_path)])
    # refused before any rendering: the recording is intact, nothing else was written
    assert sha(wav) == before
    assert sorted(p.name for p in wav.parent.iterdir()) == ["body_scan.wav"]
    # through the umbrella command: exit 1 and a one-line message naming the file
    assert soothe_cli.main(["audio", "render", "--protocol", str(protocol_path)]) == 1
    assert sha(wav) == before


def test_a_recording_saved_over_a_pilot_file_with_its_old_sidecar_is_protected(tmp_path: Path):
    wav = tmp_path / "audio" / "neutral.wav"
    _recording(wav)
    sidecar = {"PilotPlaceholder": True, "AudioSHA256": sha(wav), "DurationS": 2.0}
    wav.with_suffix(".json").write_text(json.dumps(sidecar))
    assert is_pilot_placeholder(wav)  # the render's own file
    assert protected_outputs({"neutral": wav}) == []
    _recording(wav, seconds=3.0)  # the lab saves its recording there, sidecar forgotten
    assert not is_pilot_placeholder(wav)
    assert protected_outputs({"neutral": wav}) == [wav]
    # sidecars from before AudioSHA256 was written: the duration must still match
    wav.with_suffix(".json").write_text(json.dumps({"PilotPlaceholder": True, "DurationS": 2.0}))
    assert not is_pilot_placeholder(wav)
    wav.with_suffix(".json").write_text(json.dumps({"PilotPlaceholder": True, "DurationS": 3.0}))
    assert is_pilot_placeholder(wav)
    wav.with_suffix(".json").write_text(json.dumps({"PilotPlaceholder": False}))
    assert not is_pilot_placeholder(wav)


def test_render_replaces_its_own_pilot_file_but_a_recording_only_with_force(
    espeak: str, tmp_path: Path
):
    script_path = tmp_path / "short.txt"
    script_path.write_text(SHORT)
    wav = tmp_path / "audio" / "short.wav"
    render_conditions({"short": script_path}, {"short": wav}, target_lufs=None)
    assert is_pilot_placeholder(wav)
    render_conditions({"short": script_path}, {"short": wav}, target_lufs=None)  # re-render ok
    recorded = _recording(wav)
    with pytest.raises(AudioError, match="short.wav: not a pilot placeholder"):
        render_conditions({"short": script_path}, {"short": wav}, target_lufs=None)
    assert sha(wav) == recorded
    render_conditions({"short": script_path}, {"short": wav}, target_lufs=None, force=True)
    assert sha(wav) != recorded and is_pilot_placeholder(wav)


# --- the five shipped scripts: render, drift, normalise, check -------------------------------


def shorten_scripts(protocol_path: Path) -> None:
    """Keep the intro, two induction lines and the closing of each script; fit the protocol.

    The shortened scripts are padded with a pause at the end of their induction so that all
    five last the same estimated time, as the real scripts do (the audio check matches the
    durations across conditions).
    """
    parts = {}
    for name in CONDITION_NAMES:
        script = protocol_path.parent / "scripts" / f"{name}.txt"
        head, rest = script.read_text().split("[induction]\n")
        body, closing = rest.split("[closing]\n")
        parts[name] = (script, head, "\n".join(body.splitlines()[:2]), closing)
        script.write_text(head + "[induction]\n" + parts[name][2] + "\n[closing]\n" + closing)
    est = {n: parse_script(p[0]).estimated_duration_s() for n, p in parts.items()}
    longest = math.ceil(max(est.values()))
    for name, (script, head, body, closing) in parts.items():
        pad = f" [pause {longest - est[name]:.2f}s]"
        script.write_text(head + "[induction]\n" + body + pad + "\n[closing]\n" + closing)
    protocol_path.write_text(
        protocol_path.read_text().replace("duration_s = 660", f"duration_s = {longest}")
    )


def _render_five(root: Path, *, short: bool) -> Path:
    protocol_path = copy_conditions(root / "conditions")
    if short:
        shorten_scripts(protocol_path)
    assert audio_cli.main(["render", "--protocol", str(protocol_path), "--no-normalize"]) == 0
    return protocol_path


@pytest.fixture(scope="module")
def rendered_five_short(espeak: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shortened versions of the five scripts rendered at espeak-ng's level (fast)."""
    return _render_five(tmp_path_factory.mktemp("five_short"), short=True)


@pytest.fixture(scope="module")
def rendered_five(espeak: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The five shipped 11-minute scripts rendered into a protocol copy (slow)."""
    return _render_five(tmp_path_factory.mktemp("five"), short=False)


def _assert_protocol_agrees_with_rendered_files(protocol_path: Path) -> None:
    protocol = load_protocol(protocol_path, check_audio=True)
    for name in CONDITION_NAMES:
        cond = protocol.conditions[name]
        assert cond.audio.name == f"{name}.wav"
        info = sf.info(str(cond.audio))
        assert abs(info.duration - cond.duration_s) <= protocol.audio.duration_tolerance_s, name
        est = parse_script(cond.script).estimated_duration_s()
        assert info.duration == pytest.approx(est, rel=0.02), name
        assert (info.samplerate, info.channels) == (
            protocol.audio.sample_rate_hz,
            protocol.audio.channels,
        )


def _assert_check_passes_after_normalize(protocol_path: Path, capsys) -> None:
    protocol = load_protocol(protocol_path)
    for path in protocol_audio_paths(protocol).values():  # raw renders never clip either
        assert measure_audio(path).clipped_samples == 0, path.name
    originals = {n: sha(p) for n, p in protocol_audio_paths(protocol).items()}
    args = ["--protocol", str(protocol_path)]
    assert audio_cli.main(["normalize", *args, "--update-protocol"]) == 0
    assert audio_cli.main(["check", *args]) == 0
    out = capsys.readouterr().out
    assert "OK: every induction's audio matches the protocol" in out
    updated = load_protocol(protocol_path, check_audio=True)
    for name in CONDITION_NAMES:
        assert updated.conditions[name].audio.parent.name == "normalized"
        assert sha(protocol.conditions[name].audio) == originals[name], "original changed"
    table = audio_report(updated)
    assert float(table["lufs"].max() - table["lufs"].min()) <= 0.1
    manifest = json.loads((protocol_path.parent / "audio/normalized/manifest.json").read_text())
    assert set(manifest["files"]) == set(CONDITION_NAMES)


def test_short_five_agree_with_protocol_and_pass_check_after_normalize(
    rendered_five_short: Path, capsys
):
    _assert_protocol_agrees_with_rendered_files(rendered_five_short)
    _assert_check_passes_after_normalize(rendered_five_short, capsys)


@pytest.mark.slow
def test_shipped_five_agree_with_protocol_and_pass_check_after_normalize(
    rendered_five: Path, capsys
):
    _assert_protocol_agrees_with_rendered_files(rendered_five)
    _assert_check_passes_after_normalize(rendered_five, capsys)


def test_shipped_protocol_points_at_the_render_outputs_and_matches_script_durations():
    """Drift check without rendering: file names, durations and any local renders."""
    protocol = load_protocol()
    for name in CONDITION_NAMES:
        cond = protocol.conditions[name]
        assert cond.audio == CONDITIONS_DIR / "audio" / f"{name}.wav"
        est = parse_script(cond.script).estimated_duration_s()
        assert abs(est - cond.duration_s) <= protocol.audio.duration_tolerance_s, name
        sidecar = cond.audio.with_suffix(".json")
        if cond.audio.is_file() and sidecar.is_file():  # a local render: is it current?
            meta = json.loads(sidecar.read_text())
            assert meta["ScriptSHA256"] == sha(cond.script), f"{name}: re-run soothe audio render"
            duration = sf.info(str(cond.audio)).duration
            assert abs(duration - cond.duration_s) <= protocol.audio.duration_tolerance_s, name


# --- check and normalise on synthetic files (no espeak-ng needed) -----------------------------


@pytest.fixture()
def short_protocol(tmp_path: Path) -> Path:
    """A protocol copy whose five conditions last 6 s, with matched tones in place."""
    path = copy_conditions(tmp_path / "conditions", duration_s=6)
    for name in CONDITION_NAMES:
        sf.write(str(path.parent / "audio" / f"{name}.wav"), tone(6, 0.1), RATE, subtype="PCM_16")
    return path


def _problems(protocol_path: Path) -> list[str]:
    protocol = load_protocol(protocol_path)
    return audio_problems(audio_report(protocol), protocol)


def test_check_passes_on_matched_files(short_protocol: Path):
    assert _problems(short_protocol) == []
    assert audio_cli.main(["check", "--protocol", str(short_protocol)]) == 0


@pytest.mark.parametrize(
    ("name", "data", "rate", "expected"),
    [
        ("rumination", tone(6, 0.13), RATE, "loudness spread"),
        ("neutral", tone(40, 0.1), RATE, "duration 40.0 s vs protocol 6 s"),
        ("body_scan", tone(6, 0.1), 48000, "sample rate 48000 Hz"),
        ("kindness_self", tone(6, 0.1, channels=2), RATE, "2 channel(s), expected 1"),
        ("positive_excitement", tone(6, 1.3), RATE, "clipped samples"),
    ],
)
def test_check_fails_with_the_reason(short_protocol: Path, name, data, rate, expected):
    sf.write(str(short_protocol.parent / "audio" / f"{name}.wav"), data, rate, subtype="PCM_16")
    problems = _problems(short_protocol)
    assert any(expected in p for p in problems), problems
    assert audio_cli.main(["check", "--protocol", str(short_protocol)]) == 1


@pytest.mark.parametrize(("seconds", "passes"), [(6.15, True), (6.5, False)])
def test_check_matches_the_real_durations_across_conditions(
    short_protocol: Path, seconds: float, passes: bool
):
    """Within the per-file +/-20 s of the protocol, yet 8 % longer than the other four."""
    wav = short_protocol.parent / "audio" / "neutral.wav"
    sf.write(str(wav), tone(seconds, 0.1), RATE, subtype="PCM_16")
    problems = _problems(short_protocol)
    expected = f"neutral: audio lasts {seconds:.1f} s, 8.3% from the median 6.0 s"
    if passes:
        assert problems == []
    else:
        assert len(problems) == 1 and problems[0].startswith(expected), problems
    assert audio_cli.main(["check", "--protocol", str(short_protocol)]) == (0 if passes else 1)


@pytest.mark.parametrize("louder_lu", [0.8, 0.95, 1.05, 1.2])
def test_loudness_spread_limit_is_1_lu(short_protocol: Path, louder_lu: float, capsys):
    """One induction louder than the other four by 0.8-1.2 LU: the check fails above 1 LU."""
    gain = 10 ** (louder_lu / 20)
    wav = short_protocol.parent / "audio" / "rumination.wav"
    sf.write(str(wav), tone(6, 0.1 * gain), RATE, subtype="PCM_16")
    table = audio_report(load_protocol(short_protocol))
    spread = float(table["lufs"].max() - table["lufs"].min())
    assert spread == pytest.approx(louder_lu, abs=0.01)
    problems = _problems(short_protocol)
    code = audio_cli.main(["check", "--protocol", str(short_protocol)])
    out = capsys.readouterr().out
    assert f"loudness spread: {louder_lu:.2f} LU" in out
    if louder_lu <= 1.0:
        assert problems == [] and code == 0
    else:
        assert len(problems) == 1, problems
        assert re.fullmatch(
            rf"loudness spread {louder_lu:.2f} LU between kindness_self \(-[\d.]+ LUFS\) and "
            r"rumination \(-[\d.]+ LUFS\) exceeds 1 LU",
            problems[0],
        ), problems
        assert code == 1


def test_check_reports_a_missing_file(short_protocol: Path, capsys):
    (short_protocol.parent / "audio" / "neutral.wav").unlink()
    assert audio_cli.main(["check", "--protocol", str(short_protocol)]) == 1
    assert "neutral: audio file not found" in capsys.readouterr().out


def test_check_flags_audio_rendered_from_an_older_script(short_protocol: Path):
    wav = short_protocol.parent / "audio" / "neutral.wav"
    wav.with_suffix(".json").write_text(json.dumps({"ScriptSHA256": "0" * 64}))
    assert any("older version of neutral.txt" in p for p in _problems(short_protocol))


def test_normalize_lowers_the_target_for_all_when_one_would_clip(short_protocol: Path):
    audio = short_protocol.parent / "audio"
    quiet_peaky = tone(6, 0.03)
    quiet_peaky[RATE :: RATE // 4] = 0.85  # sparse spikes: quiet loudness, high peak
    sf.write(str(audio / "neutral.wav"), quiet_peaky, RATE, subtype="PCM_16")
    before = sha(audio / "neutral.wav")
    protocol = load_protocol(short_protocol)
    manifest = normalize_audio_files(
        protocol_audio_paths(protocol), audio / "normalized", target_lufs=-23.0
    )
    assert manifest["target_lufs"] < -23.0 and "neutral" in manifest["note"]
    assert sha(audio / "neutral.wav") == before
    measured = [measure_audio(audio / "normalized" / f"{n}.wav") for n in CONDITION_NAMES]
    lufs = [m.lufs for m in measured]
    assert max(lufs) - min(lufs) <= 0.1
    assert max(m.peak_dbfs for m in measured) <= -1.0 + 0.01
    assert audio_cli.main(
        ["check", "--protocol", str(short_protocol), "--audio-dir", str(audio / "normalized")]
    ) == 0


def test_normalize_never_overwrites_the_originals(short_protocol: Path):
    protocol = load_protocol(short_protocol)
    with pytest.raises(AudioError, match="would overwrite an original"):
        normalize_audio_files(protocol_audio_paths(protocol), short_protocol.parent / "audio")


def test_plan_loudness_and_loudness_meter():
    plan = plan_loudness({"a": (-30.0, -10.0), "b": (-20.0, -2.0)}, -23.0)
    assert plan.target_lufs == -23.0 and plan.note == ""
    assert plan.gains_db == {"a": 7.0, "b": -3.0}
    sine = 0.1 * np.sin(2 * np.pi * 1000 * np.arange(RATE * 3) / RATE)
    assert integrated_loudness(sine, RATE) == pytest.approx(-23.0, abs=0.1)
    assert integrated_loudness(sine * 10 ** (-6 / 20), RATE) == pytest.approx(-29.0, abs=0.1)
