"""Loudness-matched copies of the induction audio, without clipping.

Every file gets the gain that brings its integrated loudness (ITU-R BS.1770-4) to one common
target, -23 LUFS by default (EBU R 128). A static gain keeps the recording's own dynamics;
no compressor or limiter touches the voice. If that gain would push any file's sample peak
above the ceiling (-1 dBFS by default, headroom for inter-sample peaks), the target is lowered
for *all* files, so that they stay matched, and the manifest says so.

Originals are never overwritten: copies go to ``<audio folder>/normalized/<condition>.wav``
with a ``manifest.json``. ``update_protocol_audio`` points the protocol at the copies.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from conditions.audio_check import AudioError, integrated_loudness, peak_dbfs, read_audio
from conditions.checksum import sha256_file
from conditions.protocol import Protocol, load_protocol
from conditions.soothe_version import soothe_version

#: Highest sample peak a normalised file may have (dBFS).
PEAK_CEILING_DBFS: float = -1.0


@dataclass(frozen=True)
class LoudnessPlan:
    """The common target and each file's gain."""

    requested_lufs: float
    target_lufs: float
    gains_db: dict[str, float]
    note: str


def plan_loudness(
    measures: dict[str, tuple[float, float]],
    target_lufs: float,
    ceiling_dbfs: float = PEAK_CEILING_DBFS,
) -> LoudnessPlan:
    """Choose one target loudness that no file can clip at, and each file's gain.

    Parameters
    ----------
    measures : dict
        Name -> ``(integrated loudness LUFS, sample peak dBFS)``.
    target_lufs : float
        Requested target.
    ceiling_dbfs : float
        Highest allowed peak after the gain.

    Examples
    --------
    >>> plan = plan_loudness({"a": (-20.0, -3.0), "b": (-30.0, -6.0)}, -23.0)
    >>> plan.target_lufs, plan.gains_db
    (-25.0, {'a': -5.0, 'b': 5.0})
    """
    bad = [n for n, (lufs, _) in measures.items() if not math.isfinite(lufs)]
    if bad:
        raise AudioError(f"{bad[0]}: loudness cannot be measured (silent or too short)")
    # the loudest target each file can reach with its peak staying under the ceiling
    headroom = {n: ceiling_dbfs - peak + lufs for n, (lufs, peak) in measures.items()}
    target = min([target_lufs, *headroom.values()])
    note = ""
    if target < target_lufs:
        limiting = min(headroom, key=headroom.get)
        note = (
            f"target lowered from {target_lufs:g} to {target:.2f} LUFS for all files: at "
            f"{target_lufs:g} LUFS {limiting} would peak above {ceiling_dbfs:g} dBFS"
        )
    gains = {n: round(target - lufs, 4) for n, (lufs, _) in measures.items()}
    return LoudnessPlan(requested_lufs=target_lufs, target_lufs=target, gains_db=gains, note=note)


def apply_gain(data: np.ndarray, gain_db: float) -> np.ndarray:
    """Scale audio by ``gain_db`` decibels.

    Examples
    --------
    >>> import numpy as np
    >>> apply_gain(np.array([0.5]), -6.0206).round(3)
    array([0.25])
    """
    return np.asarray(data, dtype=np.float64) * 10 ** (gain_db / 20)


def normalize_audio_files(
    sources: dict[str, Path],
    out_dir: str | Path,
    *,
    target_lufs: float = -23.0,
    ceiling_dbfs: float = PEAK_CEILING_DBFS,
) -> dict:
    """Write loudness-matched copies of ``sources`` into ``out_dir`` and a manifest.

    Parameters
    ----------
    sources : dict
        Condition -> original audio file.
    out_dir : str | Path
        Folder for the copies (``<condition>.wav``) and ``manifest.json``.
    target_lufs, ceiling_dbfs : float
        See :func:`plan_loudness`.

    Returns
    -------
    dict
        The manifest (also written to ``out_dir/manifest.json``).

    Raises
    ------
    AudioError
        When a copy would overwrite an original, or a source is unreadable or silent.
    """
    out_dir = Path(out_dir)
    targets = normalized_targets(sources, out_dir)
    measures = measure_loudness(sources)
    plan = plan_loudness(measures, target_lufs, ceiling_dbfs)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        name: write_normalized_copy(
            sources[name], targets[name], plan.gains_db[name], plan.target_lufs,
            measures[name],
        )
        for name in sources
    }
    manifest = {
        "method": "static gain to a common integrated loudness (ITU-R BS.1770-4, pyloudnorm); "
        "target lowered for all files if any would peak above the ceiling",
        "requested_target_lufs": plan.requested_lufs,
        "target_lufs": plan.target_lufs,
        "peak_ceiling_dbfs": ceiling_dbfs,
        "note": plan.note,
        "soothe_version": soothe_version(),
        "files": files,
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def normalized_targets(sources: dict[str, Path], out_dir: Path) -> dict[str, Path]:
    """Where each copy goes (``out_dir/<condition>.wav``); refuses to overwrite an original.

    Examples
    --------
    >>> normalized_targets({"neutral": Path("/a/neutral.wav")}, Path("/a/normalized"))
    {'neutral': PosixPath('/a/normalized/neutral.wav')}
    """
    targets = {name: (out_dir / f"{name}.wav").resolve() for name in sources}
    originals = {Path(p).resolve() for p in sources.values()}
    clash = [str(t) for t in targets.values() if t in originals]
    if clash:
        raise AudioError(
            f"{clash[0]}: normalising would overwrite an original; choose another out_dir"
        )
    return targets


def measure_loudness(sources: dict[str, Path]) -> dict[str, tuple[float, float]]:
    """Name -> ``(integrated loudness LUFS, sample peak dBFS)`` of each file, read one at a
    time so only one file is in memory."""
    measures = {}
    for name, path in sources.items():
        data, rate = read_audio(path)
        measures[name] = (integrated_loudness(data, rate), peak_dbfs(data))
        del data
    return measures


def write_normalized_copy(
    source: str | Path,
    target: Path,
    gain_db: float,
    target_lufs: float,
    measure: tuple[float, float],
) -> dict:
    """Write ``source`` scaled by ``gain_db`` to ``target`` with its sidecar; return the
    manifest entry.

    The copy keeps the source's sample format (16-bit, 24-bit or float; anything else is
    written as 16-bit), and its sidecar is the source's (if any) plus a
    ``LoudnessNormalization`` record. ``measure`` is the source's ``(LUFS, peak dBFS)``.
    """
    data, rate = read_audio(source)
    out = apply_gain(data, gain_db)
    info = sf.info(str(source))
    subtype = info.subtype if info.subtype in ("PCM_16", "PCM_24", "FLOAT") else "PCM_16"
    sf.write(str(target), out, rate, subtype=subtype)
    src_sidecar = Path(source).with_suffix(".json")
    sidecar = json.loads(src_sidecar.read_text()) if src_sidecar.is_file() else {}
    sidecar["LoudnessNormalization"] = {
        "Source": str(source),
        "SourceSHA256": sha256_file(source),
        "GainDB": gain_db,
        "TargetLUFS": target_lufs,
    }
    target.with_suffix(".json").write_text(json.dumps(sidecar, indent=2) + "\n")
    return {
        "source": str(source),
        "source_sha256": sidecar["LoudnessNormalization"]["SourceSHA256"],
        "output": str(target),
        "lufs_before": round(measure[0], 3),
        "peak_dbfs_before": round(measure[1], 3),
        "gain_db": gain_db,
        # a static gain shifts integrated loudness by exactly the gain
        "lufs_after": round(measure[0] + gain_db, 3),
        "peak_dbfs_after": round(peak_dbfs(out), 3),
    }


def update_protocol_audio(protocol_path: str | Path, new_paths: dict[str, Path]) -> Protocol:
    """Point each ``[conditions.<name>] audio = ...`` line of the protocol at a new file.

    Only those lines change (comments and layout are kept); the edited protocol is
    validated before it replaces the old one.
    """
    protocol_path = Path(protocol_path)
    text = protocol_path.read_text(encoding="utf-8")
    base = protocol_path.parent.resolve()
    for name, new in new_paths.items():
        section = re.search(
            rf"^\[conditions\.{re.escape(name)}\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S
        )
        if section is None:
            raise AudioError(f"{protocol_path}: no [conditions.{name}] section to update")
        rel = Path(new).resolve()
        rel_str = rel.relative_to(base).as_posix() if rel.is_relative_to(base) else str(rel)
        body, n = re.subn(
            r'^(audio\s*=\s*)"[^"]*"', rf'\g<1>"{rel_str}"', section.group(1), count=1, flags=re.M
        )
        if n != 1:
            raise AudioError(f"{protocol_path}: [conditions.{name}] has no audio = \"...\" line")
        text = text[: section.start(1)] + body + text[section.end(1) :]
    tmp = protocol_path.with_name(protocol_path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    try:
        load_protocol(tmp)
    except Exception:
        tmp.unlink()
        raise
    tmp.replace(protocol_path)
    return load_protocol(protocol_path)
