"""Pilot audio from the induction scripts, with espeak-ng, pauses inserted as silence.

The result is a PILOT PLACEHOLDER: a synthetic voice good enough to pilot the session and
to test the tooling. A lab records a human voice for the real study (see docs/content.md).

How a script becomes audio:

1. The script is split at its ``[pause Ns]`` marks. Each stretch of text is synthesised by
   ``espeak-ng`` (a subprocess; Debian package ``espeak-ng``), and its leading and trailing
   silence is trimmed, so each marked pause is exactly the silence inserted after it.
2. The espeak-ng speed is calibrated per script so the synthetic speech lasts what the
   duration model of :mod:`conditions.script_metrics` assumes (words / 110 wpm). Then
   the rendered file lasts the script's estimated duration, which the conditions check
   holds within 3 % of the protocol's ``duration_s``.
3. The audio is resampled (polyphase) from espeak-ng's 22.05 kHz to the protocol's rate and
   written as 16-bit WAV with the protocol's channel count, with a JSON sidecar that labels it
   as a pilot placeholder and records the renderer version and settings.
4. By default the five files are loudness-matched to the protocol's target (see
   :mod:`conditions.audio_normalize`), so they pass ``soothe audio check`` directly.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from conditions.audio_check import (
    AudioError,
    integrated_loudness,
    is_pilot_placeholder,
    peak_dbfs,
)
from conditions.audio_normalize import PEAK_CEILING_DBFS, apply_gain, plan_loudness
from conditions.checksum import sha256_file
from conditions.script_metrics import SPEECH_RATE_WPM, InductionScript, Segment, parse_script
from conditions.soothe_version import soothe_version

#: Bump when the rendering method changes (it is written into every sidecar).
RENDERER_VERSION: str = "soothe-espeak-render 1"
DEFAULT_VOICE: str = "en-gb"
#: espeak-ng speed (its nominal words per minute) the calibration starts from: en-gb at
#: speed 92 speaks the shipped scripts at about 110 words per minute once trimmed.
START_SPEED_WPM: float = 92.0
#: Below this speed espeak-ng hardly gets slower; word gaps are added instead.
SLOWEST_SPEED_WPM: float = 88.0
#: espeak-ng accepts speeds from 80 to 450.
SPEED_RANGE: tuple[float, float] = (80.0, 450.0)
#: Calibration stops when synthetic speech is within this fraction of the model's time
#: (1.5 % of ~340 s of speech is ~5 s, under 1 % of an 11-min induction).
CALIBRATION_TOLERANCE: float = 0.015
#: Samples below this magnitude at a chunk's ends count as silence when trimming.
_TRIM_LEVEL: float = 10 ** (-50 / 20)
_EDGE_S: float = 0.02
_FADE_S: float = 0.005
PLACEHOLDER_NOTE = (
    "PILOT PLACEHOLDER: synthetic voice (espeak-ng) rendered from the script for piloting and "
    "testing. Record a human voice for the real study (docs/content.md)."
)


def find_espeak() -> str:
    """Path of the espeak-ng executable.

    Raises
    ------
    AudioError
        When espeak-ng is not installed (Debian/Ubuntu: ``apt-get install espeak-ng``).
    """
    exe = shutil.which("espeak-ng") or (
        "/usr/bin/espeak-ng" if os.path.exists("/usr/bin/espeak-ng") else None
    )
    if exe is None:
        raise AudioError(
            "espeak-ng: not found on PATH; install it (Debian/Ubuntu: apt-get install espeak-ng, "
            "macOS: brew install espeak-ng)"
        )
    return exe


def espeak_version(exe: str | None = None) -> str:
    """The espeak-ng version line, e.g. ``eSpeak NG text-to-speech: 1.51 ...``."""
    out = subprocess.run(
        [exe or find_espeak(), "--version"], capture_output=True, text=True, check=False
    )
    return out.stdout.strip().split("  Data at")[0]


def synthesize_text(
    text: str,
    *,
    voice: str = DEFAULT_VOICE,
    speed_wpm: float = 150.0,
    word_gap: int = 0,
    exe: str | None = None,
) -> tuple[np.ndarray, int]:
    """Synthesise one stretch of text; returns trimmed mono float audio and its rate.

    ``word_gap`` is espeak-ng's ``-g`` (extra pause between words, in its 10 ms units).

    Examples
    --------
    >>> audio, rate = synthesize_text("Hello.")
    >>> rate, 0.2 < audio.size / rate < 2.0
    (22050, True)
    """
    exe = exe or find_espeak()
    cmd = [exe, "-v", voice, "-s", str(int(round(speed_wpm))), "-g", str(int(word_gap))]
    cmd += ["--stdout", text]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0 or not proc.stdout:
        message = proc.stderr.decode(errors="replace").strip()
        raise AudioError(f"espeak-ng: failed for voice {voice!r}: {message or 'no output'}")
    data, rate = sf.read(io.BytesIO(proc.stdout), dtype="float64")
    return _trim(np.asarray(data, dtype=np.float64).reshape(-1), rate), int(rate)


def _trim(x: np.ndarray, rate: int) -> np.ndarray:
    loud = np.flatnonzero(np.abs(x) > _TRIM_LEVEL)
    if loud.size == 0:
        return x[:0]
    edge = int(_EDGE_S * rate)
    x = x[max(loud[0] - edge, 0) : loud[-1] + edge + 1].copy()
    n = min(int(_FADE_S * rate), x.size // 2)
    if n:
        ramp = np.linspace(0.0, 1.0, n)
        x[:n] *= ramp
        x[-n:] *= ramp[::-1]
    return x


@dataclass
class RenderedScript:
    """Audio rendered from one script, with what the sidecar needs."""

    data: np.ndarray
    sample_rate_hz: int
    speed_wpm: float
    speech_s: float
    pauses_s: float
    target_speech_s: float
    iterations: int
    settings: dict = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        """Duration of the rendered audio."""
        return self.data.shape[0] / self.sample_rate_hz


def _synthesize_chunks(
    texts: list[str], voice: str, speed: float, gap: int, exe: str
) -> tuple[list[np.ndarray], int]:
    def one(text: str) -> tuple[np.ndarray, int]:
        return synthesize_text(text, voice=voice, speed_wpm=speed, word_gap=gap, exe=exe)

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = list(pool.map(one, texts))
    rates = {rate for _, rate in results}
    if len(rates) != 1:
        raise AudioError(f"espeak-ng: inconsistent output rates {sorted(rates)}")
    return [a for a, _ in results], rates.pop()


def render_script(
    script: InductionScript,
    *,
    sample_rate_hz: int = 44100,
    channels: int = 1,
    voice: str = DEFAULT_VOICE,
    speed_wpm: float | None = None,
    model_rate_wpm: float = SPEECH_RATE_WPM,
    max_iterations: int = 5,
) -> RenderedScript:
    """Render a parsed script to audio (in memory).

    Parameters
    ----------
    script : InductionScript
        From :func:`conditions.script_metrics.parse_script`.
    sample_rate_hz, channels : int
        Output format (the protocol's ``[audio]`` section).
    voice : str
        espeak-ng voice.
    speed_wpm : float, optional
        Fixed espeak-ng speed. ``None`` calibrates the speed so the speech lasts
        ``words / model_rate_wpm`` minutes.
    model_rate_wpm : float
        Speech rate of the duration model.
    max_iterations : int
        Calibration rounds at most.

    Returns
    -------
    RenderedScript
    """
    exe = find_espeak()
    texts = [s.text for s in script.segments if not s.is_pause]
    target = script.words / model_rate_wpm * 60.0
    speech = calibrate_speech(texts, script.words, target, voice=voice, speed_wpm=speed_wpm,
                              max_iterations=max_iterations, exe=exe)
    mono = assemble_speech(script.segments, speech.chunks, speech.rate, sample_rate_hz)
    data = np.repeat(mono[:, None], channels, axis=1)
    return RenderedScript(
        data=data,
        sample_rate_hz=sample_rate_hz,
        speed_wpm=round(speech.speed_wpm),
        speech_s=speech.speech_s,
        pauses_s=script.pauses_s,
        target_speech_s=target,
        iterations=speech.iterations,
        settings={
            "voice": voice,
            "espeak_speed_wpm": round(speech.speed_wpm),
            "espeak_word_gap": speech.word_gap,
            "speed_calibrated": speed_wpm is None,
            "model_rate_wpm": model_rate_wpm,
            "sample_rate_hz": sample_rate_hz,
            "channels": channels,
            "trim_level_dbfs": -50.0,
        },
    )


@dataclass
class CalibratedSpeech:
    """The synthesised text chunks at the speed and word gap the calibration settled on."""

    chunks: list[np.ndarray]
    rate: int
    speed_wpm: float
    word_gap: int
    iterations: int

    @property
    def speech_s(self) -> float:
        """Duration of all the speech, silences between chunks not counted."""
        return sum(c.size for c in self.chunks) / self.rate


def calibrate_speech(
    texts: list[str],
    words: int,
    target_s: float,
    *,
    voice: str = DEFAULT_VOICE,
    speed_wpm: float | None = None,
    max_iterations: int = 5,
    exe: str | None = None,
) -> CalibratedSpeech:
    """Synthesise ``texts``, adjusting espeak-ng's speed until the speech lasts ``target_s``.

    A fixed ``speed_wpm`` synthesises once. Otherwise the speed is scaled by the ratio of
    measured to target duration until within :data:`CALIBRATION_TOLERANCE`, the speed stops
    changing, or ``max_iterations`` rounds are done. Below :data:`SLOWEST_SPEED_WPM`
    espeak-ng hardly slows down, so the gaps between the ``words`` are lengthened instead.
    """
    exe = exe or find_espeak()
    speed = float(speed_wpm) if speed_wpm else START_SPEED_WPM
    gap = 0
    iterations = 0
    while True:
        iterations += 1
        chunks, rate = _synthesize_chunks(texts, voice, speed, gap, exe)
        speech_s = sum(c.size for c in chunks) / rate
        if speed_wpm or target_s <= 0 or iterations >= max_iterations:
            break
        if abs(speech_s - target_s) / target_s <= CALIBRATION_TOLERANCE:
            break
        new = speed * speech_s / target_s
        if new < SLOWEST_SPEED_WPM and speech_s < target_s:
            # espeak-ng hardly slows down below ~88: lengthen the gaps between words instead
            # (about 20 ms per word and gap unit), then let the speed fine-tune again
            gap += max(1, math.ceil((target_s - speech_s) / (0.02 * words)))
            continue
        new = min(max(new, SPEED_RANGE[0]), SPEED_RANGE[1])
        if round(new) == round(speed):
            break
        speed = new
    return CalibratedSpeech(chunks, rate, speed, gap, iterations)


def assemble_speech(
    segments: tuple[Segment, ...], chunks: list[np.ndarray], rate: int, sample_rate_hz: int
) -> np.ndarray:
    """The script's mono audio at ``sample_rate_hz``: the spoken ``chunks`` (one per
    spoken segment, in order) with each pause as silence, resampled (polyphase).

    Examples
    --------
    >>> segs = (Segment("intro", text="Hi."), Segment("intro", pause_s=0.5))
    >>> assemble_speech(segs, [np.ones(100)], 1000, 2000).shape
    (1200,)
    """
    pieces: list[np.ndarray] = []
    it = iter(chunks)
    for seg in segments:
        if seg.is_pause:
            pieces.append(np.zeros(int(round(seg.pause_s * rate))))
        else:
            pieces.append(next(it))
    mono = np.concatenate(pieces) if pieces else np.zeros(0)
    g = math.gcd(sample_rate_hz, rate)
    if sample_rate_hz != rate:
        mono = resample_poly(mono, sample_rate_hz // g, rate // g)
    return mono


def write_rendered(
    rendered: RenderedScript,
    wav_path: str | Path,
    *,
    condition: str,
    script_path: Path,
    gain_db: float = 0.0,
    loudness_note: str = "",
    lufs_before_gain: float | None = None,
) -> Path:
    """Write the WAV (16-bit PCM) and its pilot-placeholder JSON sidecar; returns the WAV path.

    ``lufs_before_gain`` (the rendered audio's loudness, if already measured) saves measuring
    again: a static gain shifts integrated loudness by exactly the gain.
    """
    wav_path = Path(wav_path)
    wav_path.parent.mkdir(parents=True, exist_ok=True)
    data = apply_gain(rendered.data, gain_db)
    sf.write(str(wav_path), data, rendered.sample_rate_hz, subtype="PCM_16")
    lufs = (
        lufs_before_gain
        if lufs_before_gain is not None
        else integrated_loudness(rendered.data, rendered.sample_rate_hz)
    )
    sidecar = {
        "PilotPlaceholder": True,
        "Description": PLACEHOLDER_NOTE,
        "Condition": condition,
        "Script": str(script_path),
        "ScriptSHA256": sha256_file(script_path),
        "Renderer": RENDERER_VERSION,
        "SootheVersion": soothe_version(),
        "EspeakVersion": espeak_version(),
        "Settings": rendered.settings,
        "CalibrationIterations": rendered.iterations,
        "SpeechS": round(rendered.speech_s, 3),
        "TargetSpeechS": round(rendered.target_speech_s, 3),
        "PausesS": rendered.pauses_s,
        "DurationS": round(rendered.duration_s, 3),
        # lets a later render tell this file from a recording saved over it
        "AudioSHA256": sha256_file(wav_path),
        "GainDB": round(gain_db, 4),
        "LoudnessLUFS": round(lufs + gain_db, 3),
        "PeakDBFS": round(peak_dbfs(data), 3),
        "LoudnessNote": loudness_note,
    }
    wav_path.with_suffix(".json").write_text(json.dumps(sidecar, indent=2) + "\n")
    return wav_path


def protected_outputs(outputs: dict[str, Path]) -> list[Path]:
    """The output files that exist and are not pilot placeholders (a lab's own recordings).

    docs/content.md tells a lab to save its recordings at the protocol's audio paths, which
    are also where ``soothe audio render`` writes, so a render must not silently replace
    them.

    Examples
    --------
    >>> import tempfile
    >>> protected_outputs({"neutral": Path(tempfile.mkdtemp()) / "neutral.wav"})
    []
    """
    return [
        Path(p) for p in outputs.values() if Path(p).exists() and not is_pilot_placeholder(p)
    ]


def refuse_to_overwrite_recordings(outputs: dict[str, Path], *, force: bool = False) -> None:
    """Raise unless every existing output file is a pilot placeholder (or ``force``).

    Raises
    ------
    AudioError
        Naming each file that is not a pilot placeholder.
    """
    keep = [] if force else protected_outputs(outputs)
    if keep:
        names = ", ".join(str(p) for p in keep)
        raise AudioError(
            f"{names}: not a pilot placeholder (no PilotPlaceholder sidecar from an earlier "
            "render, or the sidecar describes another file): refusing to overwrite what may "
            "be a lab's own recording. Move it, render elsewhere with --out-dir, or pass "
            "--force to overwrite"
        )


def render_conditions(
    scripts: dict[str, Path],
    outputs: dict[str, Path],
    *,
    sample_rate_hz: int = 44100,
    channels: int = 1,
    voice: str = DEFAULT_VOICE,
    speed_wpm: float | None = None,
    target_lufs: float | None = -23.0,
    ceiling_dbfs: float = PEAK_CEILING_DBFS,
    force: bool = False,
) -> dict[str, dict]:
    """Render several scripts, loudness-match them together, and write them.

    Parameters
    ----------
    scripts, outputs : dict
        Condition -> script file, and condition -> WAV file to write.
    target_lufs : float or None
        Common integrated loudness; ``None`` keeps espeak-ng's own level (lowered only
        where a file would peak above ``ceiling_dbfs``).
    force : bool
        Overwrite existing output files even when they are not pilot placeholders.

    Returns
    -------
    dict
        Condition -> summary (duration, speed, loudness, output path).

    Raises
    ------
    AudioError
        Before anything is rendered, when an output file exists and is not a pilot
        placeholder (see :func:`refuse_to_overwrite_recordings`), unless ``force``.
    """
    refuse_to_overwrite_recordings(outputs, force=force)
    rendered = {
        name: render_script(
            parse_script(path),
            sample_rate_hz=sample_rate_hz,
            channels=channels,
            voice=voice,
            speed_wpm=speed_wpm,
        )
        for name, path in scripts.items()
    }
    measures = {
        name: (integrated_loudness(r.data, r.sample_rate_hz), peak_dbfs(r.data))
        for name, r in rendered.items()
    }
    gains, note = loudness_gains(measures, target_lufs, ceiling_dbfs)
    summary = {}
    for name, r in rendered.items():
        path = write_rendered(
            r,
            outputs[name],
            condition=name,
            script_path=Path(scripts[name]),
            gain_db=gains[name],
            loudness_note=note,
            lufs_before_gain=measures[name][0],
        )
        summary[name] = {
            "file": str(path),
            "duration_s": r.duration_s,
            "espeak_speed_wpm": r.speed_wpm,
            "iterations": r.iterations,
            "gain_db": gains[name],
            "lufs": measures[name][0] + gains[name],
            "note": note,
        }
    return summary


def loudness_gains(
    measures: dict[str, tuple[float, float]],
    target_lufs: float | None,
    ceiling_dbfs: float = PEAK_CEILING_DBFS,
) -> tuple[dict[str, float], str]:
    """Each file's gain (dB) and a note: matched to ``target_lufs``, or (``None``) the
    level kept except where a file would peak above ``ceiling_dbfs``.

    ``measures`` maps name -> ``(integrated loudness LUFS, sample peak dBFS)``.

    Examples
    --------
    >>> gains, note = loudness_gains({"a": (-20.0, 0.5), "b": (-22.0, -3.0)}, None)
    >>> gains
    {'a': -1.5, 'b': 0.0}
    >>> note
    'espeak-ng level kept except a, lowered to peak at -1 dBFS to avoid clipping'

    """
    if target_lufs is not None:
        plan = plan_loudness(measures, target_lufs, ceiling_dbfs)
        return plan.gains_db, plan.note
    # espeak-ng's own level, except that resampling can overshoot full scale: never
    # write a clipped file, pull any such file down to the ceiling instead
    gains = {n: round(min(0.0, ceiling_dbfs - peak), 4) for n, (_, peak) in measures.items()}
    pulled = [n for n, g in gains.items() if g < 0]
    note = ""
    if pulled:
        note = (
            f"espeak-ng level kept except {', '.join(pulled)}, lowered to peak at "
            f"{ceiling_dbfs:g} dBFS to avoid clipping"
        )
    return gains, note
