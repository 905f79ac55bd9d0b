"""Induction audio: pre-flight checks and playback through ``psychopy.sound`` (PTB preferred).

With the PTB back end a sound is scheduled a little ahead (``LEAD_S``) and the driver
reports the time the first sample reached the device (``StartTime``); the session stamps
the audio-onset marker with that time, on the PsychoPy clock and converted to the LSL
clock. With the sounddevice fallback the onset is the time of the ``play()`` call.

Note (Debian + JACK): the psychtoolbox wheel bundles an older ``libjack`` that cannot talk
to Debian's jackd2 ("PortAudio can't detect any supported sound device"). Preloading the
system library fixes it: ``LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjack.so.0``.
``soothe run --simulate`` and ``soothe check`` set this up by themselves
(:func:`jack_preload_env`).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from conditions.checksum import sha256_file
from experiment.errors import AudioPreflightError

LEAD_S = 0.15  # schedule audio this far ahead so the driver can start it on time
SYSTEM_LIBJACK = Path("/usr/lib/x86_64-linux-gnu/libjack.so.0")


def jack_preload_env(env: dict[str, str] | None = None) -> dict[str, str] | None:
    """The environment with the system libjack preloaded, or None when nothing is needed.

    Examples
    --------
    >>> out = jack_preload_env({"LD_PRELOAD": str(SYSTEM_LIBJACK)})
    >>> out is None
    True
    """
    env = dict(os.environ if env is None else env)
    if not SYSTEM_LIBJACK.exists() or str(SYSTEM_LIBJACK) in env.get("LD_PRELOAD", ""):
        return None
    env["LD_PRELOAD"] = ":".join(p for p in (str(SYSTEM_LIBJACK), env.get("LD_PRELOAD")) if p)
    return env


def audio_duration_s(path: Path) -> float:
    """Duration of an audio file in seconds (soundfile)."""
    # lazy: soundfile loads numpy; `soothe run --help` imports this module
    import soundfile

    info = soundfile.info(str(path))
    return info.frames / float(info.samplerate)


def preflight_audio(protocol) -> dict[str, float]:
    """Check every condition's audio before the session (so a failure reveals nothing).

    Each file must exist, be readable, and last the protocol's ``duration_s`` within
    ``audio.duration_tolerance_s``. All five are checked, not only the allocated one, so
    that a problem cannot hint at the allocation.

    Returns
    -------
    dict
        condition -> file duration (s).

    Raises
    ------
    AudioPreflightError
        Listing every problem, naming the file.
    """
    problems: list[str] = []
    durations: dict[str, float] = {}
    tol = protocol.audio.duration_tolerance_s
    for name, cond in protocol.conditions.items():
        path = Path(cond.audio)
        if not path.is_file():
            problems.append(f"{path}: audio file not found (render it with 'soothe audio render')")
            continue
        try:
            dur = audio_duration_s(path)
        except Exception as exc:  # soundfile raises its own error types
            problems.append(f"{path}: cannot read audio: {exc}")
            continue
        if abs(dur - cond.duration_s) > tol:
            problems.append(
                f"{path}: lasts {dur:.1f} s but the protocol expects {cond.duration_s:g} s "
                f"(tolerance {tol:g} s)"
            )
        durations[name] = dur
    if problems:
        raise AudioPreflightError(
            f"{protocol.path}: induction audio failed the pre-session check:\n  "
            + "\n  ".join(problems)
        )
    return durations


PILOT_NOTE = ("synthetic-speech PILOT PLACEHOLDER from 'soothe audio render' (its sidecar says "
              "PilotPlaceholder); record a human voice before collecting real data")


def audio_provenance(path: str | Path) -> dict:
    """What was (or will be) played: file, SHA-256, and whether it is a pilot placeholder.

    ``soothe audio render`` writes ``<name>.json`` next to each WAV with
    ``"PilotPlaceholder": true`` (``soothe audio normalize`` copies it); a lab's own
    recording has no such sidecar.

    Raises
    ------
    AudioPreflightError
        When the sidecar exists but cannot be read as JSON.

    Examples
    --------
    >>> import json, tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "a.wav").write_bytes(b"RIFF")
    >>> _ = (d / "a.json").write_text(json.dumps({"PilotPlaceholder": True}))
    >>> info = audio_provenance(d / "a.wav")
    >>> info["pilot_placeholder"], info["sha256"][:12]
    (True, 'a40ff3d5900f')
    """
    path = Path(path)
    sidecar = path.with_suffix(".json")
    pilot = False
    if sidecar.is_file():
        try:
            meta = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AudioPreflightError(f"{sidecar}: audio sidecar unreadable: {exc}") from None
        pilot = bool(meta.get("PilotPlaceholder", False)) if isinstance(meta, dict) else False
    return {"file": str(path), "sha256": sha256_file(path), "pilot_placeholder": pilot,
            "sidecar": sidecar.name if sidecar.is_file() else None}


def protocol_audio_provenance(protocol) -> dict[str, dict]:
    """:func:`audio_provenance` of every condition's audio (all five: reveals no allocation)."""
    return {name: audio_provenance(cond.audio) for name, cond in protocol.conditions.items()}


def pilot_warning(provenance: dict[str, dict]) -> str | None:
    """The start-up warning when any induction audio is a pilot placeholder (else None).

    Examples
    --------
    >>> pilot_warning({"a": {"file": "a.wav", "pilot_placeholder": False}}) is None
    True
    >>> pilot_warning({"a": {"file": "x/a.wav", "pilot_placeholder": True}})[:40]
    'WARNING PILOT AUDIO: 1 of 1 induction au'
    """
    # no file names: they are condition names, which the experimenter's console never shows
    # ('soothe audio check' names them)
    pilots = [v for v in provenance.values() if v["pilot_placeholder"]]
    if not pilots:
        return None
    return (f"WARNING PILOT AUDIO: {len(pilots)} of {len(provenance)} induction audio files "
            f"are a {PILOT_NOTE}; 'soothe audio check' lists them")


def ptb_output_devices() -> list[dict]:
    """PortAudio output devices PTB can see ([] when it sees none)."""
    try:
        # lazy: psychtoolbox loads PortAudio; only a session that plays sound needs it
        import psychtoolbox.audio as ptb_audio

        return [d for d in ptb_audio.get_devices() if d.get("NrOutputChannels", 0) > 0]
    except Exception:
        return []


def choose_backend(prefer: str = "ptb") -> str:
    """Pick the psychopy.sound back end: PTB when it sees an output device, else sounddevice.

    Must run before the first ``Sound`` is made.
    """
    # lazy: PsychoPy takes seconds to load; `soothe run --help` and `--close` import this module
    from psychopy import prefs

    backend = prefer
    if prefer == "ptb" and not ptb_output_devices():
        backend = "sounddevice"
    # Sound.backend is None until someone sets it, so Sound reads this preference when the
    # first sound is made
    prefs.hardware["audioLib"] = [backend]
    return backend


@dataclass
class PlaybackTimes:
    """Measured times of one playback, on the PsychoPy clock (seconds)."""

    onset: float
    offset: float | None = None


class AudioPlayer:
    """One sound file, played with a measured onset.

    Parameters
    ----------
    path : Path
        The audio file.
    backend : str
        'ptb' or 'sounddevice' (from :func:`choose_backend`).
    """

    def __init__(self, path: Path, backend: str) -> None:
        # lazy: PsychoPy takes seconds to load; `soothe run --help` and `--close` import this module
        from psychopy import sound

        self.backend = backend
        self.sound = sound.Sound(str(path), autoLog=False)
        self.duration_s = float(self.sound.getDuration())
        self.times: PlaybackTimes | None = None

    def _ptb_status(self) -> dict:
        track = getattr(self.sound, "track", None)
        try:
            return dict(track.status) if track is not None else {}
        except Exception:
            return {}

    @staticmethod
    def _ptb_to_core(t_ptb: float) -> float:
        """PTB driver time (``GetSecs``, epoch-based) -> PsychoPy's ``core.getTime()``."""
        # lazy: PsychoPy takes seconds to load; `soothe run --help` and `--close` import this module
        from psychopy import clock, core

        return float(t_ptb) - (clock.getTime() - core.getTime())

    def schedule(self, lead_s: float = LEAD_S) -> float:
        """Start playback ``lead_s`` from now; return the scheduled onset (PsychoPy clock)."""
        # lazy: PsychoPy takes seconds to load; `soothe run --help` and `--close` import this module
        from psychopy import clock, core

        if self.backend == "ptb":
            when = clock.getTime() + lead_s  # PTB schedules on its own (GetSecs) clock
            self.sound.play(when=when, log=False)
            return self._ptb_to_core(when)
        when = core.getTime()
        self.sound.play(log=False)
        return when

    def wait_onset(self, scheduled: float, timeout_s: float = 2.0) -> float:
        """Block until the audio has started; return its measured onset (PsychoPy clock)."""
        # lazy: PsychoPy takes seconds to load; `soothe run --help` and `--close` import this module
        from psychopy import core

        deadline = core.getTime() + timeout_s
        while core.getTime() < deadline:
            status = self._ptb_status()
            start = float(status.get("StartTime", 0.0) or 0.0)
            if status.get("Active") and start > 0:
                onset = self._ptb_to_core(start)
                self.times = PlaybackTimes(onset=onset)
                return onset
            if self.backend != "ptb" and self.sound.isPlaying:
                break
            time.sleep(0.0005)
        self.times = PlaybackTimes(onset=scheduled)
        return scheduled

    @property
    def finished(self) -> bool:
        return bool(self.sound.isFinished)

    def stop(self) -> float:
        """Stop now (or note that it finished); return the offset on the PsychoPy clock."""
        # lazy: PsychoPy takes seconds to load; `soothe run --help` and `--close` import this module
        from psychopy import core

        status = self._ptb_status()
        if self.sound.isFinished and status.get("EstimatedStopTime"):
            offset = self._ptb_to_core(float(status["EstimatedStopTime"]))
        else:
            self.sound.stop(log=False)
            offset = core.getTime()
        if self.times is not None:
            self.times.offset = offset
        return offset

    def predicted_latency_s(self) -> float | None:
        value = self._ptb_status().get("PredictedLatency")
        return float(value) if value else None
