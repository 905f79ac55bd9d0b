"""Check the induction audio against the protocol: duration, format, level and loudness.

Loudness is integrated loudness in LUFS after ITU-R BS.1770-4 (K-weighting, 400 ms blocks,
absolute gate -70 LUFS and relative gate -10 LU), measured with ``pyloudnorm``. The gating
means the silences of a meditation recording do not pull its loudness down, so two
recordings with the same voice level but different amounts of silence measure the same.

Loudness differences between conditions are an arousal confound for the physiology, so the
check fails when any two inductions differ by more than the protocol's
``audio.loudness_max_spread_lu`` (1 LU by default).

Durations are checked twice: each file against its condition's ``duration_s`` (within the
protocol's ``audio.duration_tolerance_s``, the limit the session runner enforces), and the
five files against each other: each within 3 % of the median duration of the five
(:data:`conditions.script_metrics.DURATION_TOLERANCE`, the same rule the scripts follow),
so that the inductions are matched on the time participants actually listen.

Peak level is the sample peak in dBFS; a sample at or above -0.01 dBFS counts as clipped.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from conditions.checksum import sha256_file
from conditions.errors import SootheError
from conditions.protocol import Protocol
from conditions.script_metrics import DURATION_TOLERANCE

#: A sample whose magnitude reaches this (about -0.01 dBFS) counts as clipped.
CLIP_LEVEL: float = 0.999


class AudioError(SootheError, ValueError):
    """An audio file is missing, unreadable, or cannot be rendered (names the file)."""


@dataclass(frozen=True)
class AudioMeasures:
    """What :func:`measure_audio` finds in one file."""

    path: str
    duration_s: float
    sample_rate_hz: int
    channels: int
    peak_dbfs: float
    clipped_samples: int
    lufs: float


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a sound file as float64, shape (samples, channels).

    Raises
    ------
    AudioError
        When the file is missing or not a readable sound file.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: audio file not found")
    try:
        data, rate = sf.read(str(path), dtype="float64", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise AudioError(f"{path}: not a readable sound file ({exc})") from None
    return data, int(rate)


def integrated_loudness(data: np.ndarray, sample_rate_hz: int) -> float:
    """Integrated loudness in LUFS (ITU-R BS.1770-4, ``pyloudnorm``); NaN if under 400 ms.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(44100 * 3) / 44100
    >>> tone = 0.1 * np.sin(2 * np.pi * 1000 * t)
    >>> round(integrated_loudness(tone, 44100), 1)
    -23.0
    """
    # lazy: pyloudnorm imports scipy.signal, slow to load; only a loudness measure needs it
    import pyloudnorm as pyln

    x = np.asarray(data, dtype=np.float64)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.shape[0] < int(0.4 * sample_rate_hz):
        return math.nan  # shorter than one 400 ms gating block
    return float(pyln.Meter(sample_rate_hz).integrated_loudness(x))


def peak_dbfs(data: np.ndarray) -> float:
    """Sample peak in dBFS (-inf for digital silence).

    Examples
    --------
    >>> import numpy as np
    >>> peak_dbfs(np.array([0.0, -0.5, 0.25]))
    -6.020599913279624
    """
    peak = float(np.max(np.abs(data))) if np.size(data) else 0.0
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def measure_audio(path: str | Path) -> AudioMeasures:
    """Duration, format, sample peak, clipped samples and integrated loudness of one file."""
    data, rate = read_audio(path)
    return AudioMeasures(
        path=str(path),
        duration_s=data.shape[0] / rate,
        sample_rate_hz=rate,
        channels=data.shape[1],
        peak_dbfs=peak_dbfs(data),
        clipped_samples=int(np.count_nonzero(np.abs(data) >= CLIP_LEVEL)),
        lufs=integrated_loudness(data, rate),
    )


def protocol_audio_paths(
    protocol: Protocol, audio_dir: str | Path | None = None
) -> dict[str, Path]:
    """Each condition's audio path: the protocol's, or ``<audio_dir>/<condition>.wav``."""
    if audio_dir is None:
        return {name: protocol.conditions[name].audio for name in protocol.condition_names}
    return {name: Path(audio_dir) / f"{name}.wav" for name in protocol.condition_names}


def is_pilot_placeholder(wav: str | Path) -> bool:
    """True when ``wav`` is a pilot placeholder written by ``soothe audio render``.

    A pilot placeholder has a JSON sidecar (same name, ``.json``) with
    ``"PilotPlaceholder": true``, and the sidecar still describes this very file: its
    ``AudioSHA256`` (written by every current render) matches the WAV, or, for older
    sidecars, its ``DurationS`` matches the WAV's duration. A lab's own recording saved over
    a pilot file, with the old sidecar forgotten beside it, is therefore not a placeholder.

    Examples
    --------
    >>> import tempfile
    >>> is_pilot_placeholder(Path(tempfile.mkdtemp()) / "none.wav")
    False
    """
    wav = Path(wav)
    sidecar = wav.with_suffix(".json")
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        if not (isinstance(meta, dict) and meta.get("PilotPlaceholder") is True):
            return False
        if meta.get("AudioSHA256"):
            return meta["AudioSHA256"] == sha256_file(wav)
        if "DurationS" in meta:
            return abs(float(sf.info(str(wav)).duration) - float(meta["DurationS"])) < 0.01
    except (OSError, ValueError, TypeError, RuntimeError):
        return False
    return True


def _stale_render(wav: Path, script: Path) -> str:
    """A problem when the WAV's sidecar says it was rendered from another script version."""
    sidecar = wav.with_suffix(".json")
    if not sidecar.is_file() or not script.is_file():
        return ""
    try:
        rendered_from = json.loads(sidecar.read_text(encoding="utf-8")).get("ScriptSHA256")
    except (OSError, ValueError, AttributeError):
        return f"unreadable sidecar {sidecar.name}"
    if rendered_from and rendered_from != hashlib.sha256(script.read_bytes()).hexdigest():
        return f"rendered from an older version of {script.name}; run soothe audio render"
    return ""


def audio_report(protocol: Protocol, paths: dict[str, Path] | None = None) -> pd.DataFrame:
    """Measure every condition's audio and compare it with the protocol.

    Parameters
    ----------
    protocol : Protocol
        Gives expected durations, sample rate, channels and the loudness spread allowed.
    paths : dict, optional
        Condition -> audio file; defaults to the protocol's audio paths.

    Returns
    -------
    pandas.DataFrame
        One row per condition: ``condition, file, duration_s, expected_s, sample_rate_hz,
        channels, peak_dbfs, clipped_samples, lufs, lufs_from_median, problems`` where
        ``problems`` is '' when the file passes.
    """
    paths = paths or protocol_audio_paths(protocol)
    settings = protocol.audio
    rows = []
    for name, path in paths.items():
        expected = protocol.conditions[name].duration_s
        row: dict[str, object] = {"condition": name, "file": str(path), "expected_s": expected}
        try:
            m = measure_audio(path)
        except AudioError as exc:
            row["problems"] = str(exc).split(": ", 1)[-1]
            rows.append(row)
            continue
        row.update({k: v for k, v in asdict(m).items() if k != "path"})
        problems = []
        if abs(m.duration_s - expected) > settings.duration_tolerance_s:
            problems.append(
                f"duration {m.duration_s:.1f} s vs protocol {expected:g} s "
                f"(allowed +/-{settings.duration_tolerance_s:g} s)"
            )
        if m.sample_rate_hz != settings.sample_rate_hz:
            problems.append(
                f"sample rate {m.sample_rate_hz} Hz, expected {settings.sample_rate_hz}"
            )
        if m.channels != settings.channels:
            problems.append(f"{m.channels} channel(s), expected {settings.channels}")
        if m.clipped_samples:
            problems.append(f"{m.clipped_samples} clipped samples")
        if not math.isfinite(m.lufs):
            problems.append("loudness cannot be measured (silent or too short)")
        stale = _stale_render(Path(path), protocol.conditions[name].script)
        if stale:
            problems.append(stale)
        row["problems"] = "; ".join(problems)
        rows.append(row)
    columns = [
        "condition", "file", "duration_s", "expected_s", "sample_rate_hz", "channels",
        "peak_dbfs", "clipped_samples", "lufs", "lufs_from_median", "problems",
    ]
    table = pd.DataFrame(rows).reindex(columns=columns)
    lufs = pd.to_numeric(table["lufs"], errors="coerce")
    finite = lufs[np.isfinite(lufs)]
    table["lufs_from_median"] = lufs - (finite.median() if len(finite) else math.nan)
    return table


def audio_problems(
    table: pd.DataFrame, protocol: Protocol, *, duration_tolerance: float = DURATION_TOLERANCE
) -> list[str]:
    """Every failure in an :func:`audio_report` table, including the loudness spread and
    the duration match across conditions (each within ``duration_tolerance`` of the median).

    Examples
    --------
    >>> import pandas as pd
    >>> from conditions.protocol import load_protocol
    >>> t = pd.DataFrame({"condition": ["a", "b"], "lufs": [-23.0, -21.5], "problems": ""})
    >>> audio_problems(t, load_protocol())
    ['loudness spread 1.50 LU between a (-23.0 LUFS) and b (-21.5 LUFS) exceeds 1 LU']
    """
    problems = [f"{r.condition}: {r.problems}" for r in table.itertuples() if r.problems]
    if "duration_s" in table.columns:
        durations = pd.to_numeric(table["duration_s"], errors="coerce")
        known = durations[np.isfinite(durations)]
        if len(known) >= 2:
            median = float(known.median())
            for i, duration in known.items():
                dev = (duration - median) / median
                if abs(dev) > duration_tolerance:
                    problems.append(
                        f"{table.at[i, 'condition']}: audio lasts {duration:.1f} s, "
                        f"{abs(dev):.1%} from the median {median:.1f} s of the inductions "
                        f"(allowed {duration_tolerance:.0%})"
                    )
    lufs = pd.to_numeric(table["lufs"], errors="coerce")
    ok = lufs[np.isfinite(lufs)]
    if len(ok) >= 2:
        spread = float(ok.max() - ok.min())
        limit = protocol.audio.loudness_max_spread_lu
        if spread > limit:
            lo, hi = table.loc[ok.idxmin()], table.loc[ok.idxmax()]
            problems.append(
                f"loudness spread {spread:.2f} LU between {lo['condition']} "
                f"({lo['lufs']:.1f} LUFS) and {hi['condition']} ({hi['lufs']:.1f} LUFS) "
                f"exceeds {limit:g} LU"
            )
    return problems
