"""Protocol phases from markers, hand overrides, and the windows cut from each phase.

Decisions (documented here and recorded in every sidecar):

- A phase is known from its onset and offset codes in the protocol's marker table.
- **Duplicated onset**: the first one is kept (a re-sent trigger must not restart a phase).
- **Duplicated offset**: the first offset after the onset is kept.
- **Missing offset**: the phase ends at the next phase's onset; a timed phase (rest,
  induction) ends no later than onset + its protocol duration. With neither, at the end of
  the recording.
- **Missing onset** with an offset: a timed phase starts at offset - duration; otherwise
  the phase is left out.
- **Offset before onset**: :class:`~physio.errors.PhaseError`.
- **Out-of-order markers** are sorted by time first.
- The **induction** phase is timed from the audio: it starts at the ``induction_minute``
  1 marker, else the ``audio_onset`` event inside the phase, else the phase onset, so that
  window n is minute n of the audio (the protocol's minute codes start at audio onset).
- **No phase markers at all** (e.g. a lab recording with stimulus codes only): the whole
  recording is one phase called ``recording``.
- A phase that runs past the end of the recording is cut at the end.
- **Windows**: ``window_s`` (default :data:`DEFAULT_WINDOW_S`) windows from the phase
  onset, each cut at ``onset + k * window_s`` (never accumulated, so no rounding drift); a
  phase that is a whole number of windows within :data:`LENGTH_TOLERANCE_S` has no
  remainder. A last remainder is kept when it covers at least ``min_partial`` (default
  :data:`DEFAULT_MIN_PARTIAL`) of ``window_s`` and is flagged ``partial`` (shorter than the
  nominal length): the analysis leaves partial windows out, and ``physio.hrv.hrv_window``
  gives no HR/HRV value (NaN with the reason) to a window shorter than its
  ``MIN_WINDOW_S``. Shorter remainders are dropped.
Every assumption adds a sentence to ``PhasePlan.warnings``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from physio.errors import PhaseError

WHOLE_RECORDING = "recording"
DEFAULT_WINDOW_S = 60.0
DEFAULT_MIN_PARTIAL = 0.5
#: Lengths within this tolerance (s) are equal: a window cut at a non-integer marker time is
#: 59.99999... s long in floating point and must still be a full window.
LENGTH_TOLERANCE_S = 1e-3


@dataclass(frozen=True)
class PhaseSpan:
    """One phase on the session clock."""

    name: str
    start_s: float
    end_s: float
    source: str = "markers"

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass
class PhasePlan:
    """The phases of one recording, its condition, and the assumptions made."""

    phases: list[PhaseSpan]
    condition: str = "n/a"
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "condition": self.condition,
            "phases": [
                {"name": p.name, "start_s": p.start_s, "end_s": p.end_s, "source": p.source}
                for p in self.phases
            ],
            "warnings": list(self.warnings),
        }


@dataclass
class MarkerTimes:
    """The protocol's markers of one recording, decoded: times on the session clock."""

    #: phase name -> onset / offset marker times, in time order
    onsets: dict[str, list[float]] = field(default_factory=dict)
    offsets: dict[str, list[float]] = field(default_factory=dict)
    #: event name (``audio_onset``, ``induction_minute_<n>``...) -> times
    events: dict[str, list[float]] = field(default_factory=dict)
    #: condition markers' conditions, in time order
    conditions: list[str] = field(default_factory=list)
    #: codes not in the protocol's marker table
    unknown: set[int] = field(default_factory=set)


def decode_markers(markers: pd.DataFrame, protocol: Any) -> MarkerTimes:
    """Sort each marker into phase onsets/offsets, events and conditions by its code.

    Codes that are not integers or not positive (a trigger line back to 0) are skipped;
    codes the protocol does not know are collected in ``unknown``.

    Examples
    --------
    >>> from conditions.protocol import load_protocol
    >>> m = pd.DataFrame({"onset_s": [10.0, 12.0, 310.0], "code": [20, 999, 21]})
    >>> times = decode_markers(m, load_protocol())
    >>> times.onsets, times.offsets, times.unknown
    ({'baseline': [10.0]}, {'baseline': [310.0]}, {999})
    """
    times = MarkerTimes()
    for t, code in zip(markers["onset_s"].to_numpy(float), markers["code"].to_numpy()):
        try:
            code = int(code)
        except (TypeError, ValueError):
            continue
        if code <= 0:
            continue
        try:
            kind, name = protocol.markers.decode(code)
        except KeyError:
            times.unknown.add(code)
            continue
        if kind == "phase_onset":
            times.onsets.setdefault(name, []).append(float(t))
        elif kind == "phase_offset":
            times.offsets.setdefault(name, []).append(float(t))
        elif kind == "condition":
            times.conditions.append(name)
        elif kind == "event":
            times.events.setdefault(name, []).append(float(t))
        elif kind == "induction_minute":
            times.events.setdefault(f"induction_minute_{name}", []).append(float(t))
    return times


def markers_in_time_order(markers: pd.DataFrame, where: str,
                          warnings: list[str]) -> pd.DataFrame:
    """The markers sorted by onset (stable), with a warning when they were not."""
    if len(markers) and not np.all(np.diff(markers["onset_s"].to_numpy(float)) >= 0):
        warnings.append(f"{where}: markers were not in time order; sorted by onset")
        return markers.sort_values("onset_s", kind="stable")
    return markers


def plan_condition(condition: str | None, markers: list[str], where: str,
                   warnings: list[str]) -> str:
    """The condition: from the metadata first, then the first condition marker, else n/a.

    Examples
    --------
    >>> w = []
    >>> plan_condition(None, ["calm", "calm"], "x", w), w
    ('calm', [])
    >>> plan_condition("calm", ["sad"], "x", w), len(w)
    ('calm', 1)
    """
    cond = condition if condition and condition != "n/a" else None
    if markers:
        if len(set(markers)) > 1:
            warnings.append(
                f"{where}: several condition markers {sorted(set(markers))}; first kept"
            )
        if cond is None:
            cond = markers[0]
        elif cond != markers[0]:
            warnings.append(
                f"{where}: condition marker says {markers[0]!r} but metadata says "
                f"{cond!r}; metadata kept"
            )
    return cond or "n/a"


def phase_starts(protocol: Any, times: MarkerTimes, where: str,
                 warnings: list[str]) -> dict[str, float]:
    """Onset of each phase that has one: its first onset marker, else (a timed phase with
    an offset marker) offset - protocol duration; phases with neither are left out."""
    durations = {p.name: float(p.duration_s) for p in protocol.phases}
    starts: dict[str, float] = {}
    for name in (p.name for p in protocol.phases):
        duration = durations[name]
        onsets, offsets = times.onsets.get(name), times.offsets.get(name)
        if onsets:
            if len(onsets) > 1:
                warnings.append(
                    f"{where}: phase {name!r} has {len(onsets)} onset markers "
                    f"(at {', '.join(f'{t:.1f}' for t in onsets)} s); first kept"
                )
            starts[name] = onsets[0]
        elif offsets and duration > 0:
            starts[name] = offsets[0] - duration
            warnings.append(
                f"{where}: phase {name!r} has no onset marker; assumed offset - "
                f"{duration:.0f} s = {starts[name]:.1f} s"
            )
        elif offsets:
            warnings.append(
                f"{where}: phase {name!r} has an offset but no onset marker; phase left out"
            )
    return starts


def phase_end(name: str, start: float, offsets: list[float], next_onsets: list[float],
              protocol_duration_s: float, duration_s: float, where: str,
              warnings: list[str]) -> float:
    """End of a phase: its first offset marker after the onset; without one, the earlier of
    the next phase's onset and onset + protocol duration, else the end of the recording.

    Raises
    ------
    PhaseError
        Offset markers, all before the onset.
    """
    later = [t for t in offsets if t >= start]
    if offsets and not later:
        raise PhaseError(
            f"{where}: phase {name!r} offset marker at {offsets[0]:.3f} s comes "
            f"before its onset at {start:.3f} s; fix the markers or give an override file"
        )
    if later:
        if len(offsets) > 1:
            warnings.append(
                f"{where}: phase {name!r} has {len(offsets)} offset markers; "
                f"first after the onset kept ({later[0]:.1f} s)"
            )
        return later[0]
    candidates = []
    if next_onsets:
        candidates.append((min(next_onsets), "the next phase's onset"))
    if protocol_duration_s > 0:
        candidates.append((start + protocol_duration_s, "onset + protocol duration"))
    if candidates:
        end, how = min(candidates)
    else:
        end, how = duration_s, "the end of the recording"
    warnings.append(
        f"{where}: phase {name!r} has no offset marker; assumed it ends at {how} "
        f"({end:.1f} s)"
    )
    return end


def induction_start(start: float, end: float, events: dict[str, list[float]]) -> float:
    """The induction starts at its first ``induction_minute`` 1 marker, else at the audio
    onset event inside ``[start, end)``, else at ``start`` (window n = minute n of audio).

    Examples
    --------
    >>> induction_start(100.0, 400.0, {"audio_onset": [50.0, 102.5]})
    102.5
    """
    for ev in ("induction_minute_1", "audio_onset"):
        inside = [t for t in events.get(ev, []) if start <= t < end]
        if inside:
            return inside[0]
    return start


def marker_phases(protocol: Any, times: MarkerTimes, duration_s: float, where: str,
                  warnings: list[str]) -> list[PhaseSpan]:
    """The protocol's phases found in the markers, in protocol order, cut at the end of
    the recording (a phase starting after it is left out)."""
    order = [p.name for p in protocol.phases]
    induction = next((p.name for p in protocol.phases if p.kind == "induction"), None)
    durations = {p.name: float(p.duration_s) for p in protocol.phases}
    starts = phase_starts(protocol, times, where, warnings)
    phases: list[PhaseSpan] = []
    for i, name in enumerate(order):
        if name not in starts:
            continue
        start = starts[name]
        next_onsets = [starts[n] for n in order[i + 1 :] if n in starts and starts[n] > start]
        end = phase_end(name, start, times.offsets.get(name, []), next_onsets,
                        durations[name], duration_s, where, warnings)
        if name == induction:
            start = induction_start(start, end, times.events)
        if end > duration_s:
            warnings.append(
                f"{where}: recording ends at {duration_s:.1f} s, before phase {name!r} "
                f"ends ({end:.1f} s); phase cut at the end of the recording"
            )
            end = duration_s
        if end > start:
            phases.append(PhaseSpan(name, start, end, "markers"))
        else:
            warnings.append(f"{where}: phase {name!r} starts after the recording ends; left out")
    return phases


def warn_overlaps(phases: list[PhaseSpan], where: str, warnings: list[str]) -> None:
    """A warning for each pair of consecutive phases (sorted by start) that overlap."""
    for a, b in zip(phases, phases[1:]):
        if b.start_s < a.end_s - 1e-6:
            warnings.append(
                f"{where}: phases {a.name!r} and {b.name!r} overlap by "
                f"{a.end_s - b.start_s:.1f} s"
            )


def phases_from_markers(
    markers: pd.DataFrame,
    protocol: Any,
    *,
    duration_s: float,
    condition: str | None = None,
    overrides: dict[str, tuple[float, float]] | None = None,
    where: str = "recording",
) -> PhasePlan:
    """Map markers to the protocol's phases (the rules: see the module).

    Parameters
    ----------
    markers : pandas.DataFrame
        ``onset_s`` (session clock) and ``code`` columns.
    protocol : conditions.protocol.Protocol
        Supplies the marker table, phase order and durations.
    duration_s : float
        End of the recording on the session clock.
    condition : str or None
        The allocated condition if known (e.g. from BIDS metadata); else the condition
        marker is used, else ``'n/a'``.
    overrides : dict
        ``{phase: (start_s, end_s)}`` set by hand; they replace the marker-derived times.
    where : str
        Name of the recording for messages.

    Raises
    ------
    PhaseError
        Offset before onset, or an override naming an unknown phase or inverted times.

    Examples
    --------
    >>> from conditions.protocol import load_protocol
    >>> m = pd.DataFrame({"onset_s": [10.0, 310.0], "code": [20, 21]})
    >>> plan = phases_from_markers(m, load_protocol(), duration_s=400)
    >>> [(p.name, p.start_s, p.end_s) for p in plan.phases]
    [('baseline', 10.0, 310.0)]
    """
    warnings: list[str] = []
    times = decode_markers(markers_in_time_order(markers, where, warnings), protocol)
    if times.unknown:
        warnings.append(
            f"{where}: marker codes {sorted(times.unknown)} are not in the protocol's table; "
            "ignored"
        )
    cond = plan_condition(condition, times.conditions, where, warnings)
    phases = marker_phases(protocol, times, duration_s, where, warnings)
    if overrides:
        phases = apply_overrides(phases, overrides, protocol, where=where)
        warnings.append(f"{where}: phase times set by hand for {sorted(overrides)}")
    if not phases:
        warnings.append(
            f"{where}: no protocol phase markers found; the whole recording "
            f"(0-{duration_s:.1f} s) is analysed as one phase {WHOLE_RECORDING!r}"
        )
        phases = [PhaseSpan(WHOLE_RECORDING, 0.0, float(duration_s), "whole_recording")]
    phases.sort(key=lambda p: p.start_s)
    warn_overlaps(phases, where, warnings)
    return PhasePlan(phases=phases, condition=cond, warnings=warnings)


def apply_overrides(
    phases: list[PhaseSpan],
    overrides: dict[str, tuple[float, float]],
    protocol: Any,
    *,
    where: str = "recording",
) -> list[PhaseSpan]:
    """Replace (or add) phases with hand-set times."""
    known = {p.name for p in protocol.phases} | {WHOLE_RECORDING}
    out = {p.name: p for p in phases}
    for name, (start, end) in overrides.items():
        if name not in known:
            raise PhaseError(
                f"{where}: override names phase {name!r}, which is not in the protocol "
                f"(phases: {sorted(known)})"
            )
        if not (np.isfinite(start) and np.isfinite(end) and end > start):
            raise PhaseError(
                f"{where}: override for phase {name!r} needs start_s < end_s, got "
                f"{start}, {end}"
            )
        out[name] = PhaseSpan(name, float(start), float(end), "override")
    return list(out.values())


def read_overrides(path: Path, recording_keys: tuple[str, ...] = ()) -> dict:
    """Read a phase override file for one recording.

    Formats
    -------
    TSV: columns ``phase``, ``start_s``, ``end_s`` and optionally ``recording`` (a file
    name, stem or ``sub-X_ses-Y`` key; rows without one apply to every recording).
    JSON: ``{"phases": {"baseline": [start_s, end_s], ...}}`` or, for several recordings,
    ``{"<recording key>": {"baseline": [start_s, end_s]}}``.

    Returns
    -------
    dict
        ``{phase: (start_s, end_s)}`` for the recording named by any of ``recording_keys``.

    Examples
    --------
    >>> import tempfile, os
    >>> p = Path(tempfile.mkdtemp()) / "o.tsv"
    >>> _ = p.write_text("phase\\tstart_s\\tend_s\\nbaseline\\t5\\t305\\n")
    >>> read_overrides(p)
    {'baseline': (5.0, 305.0)}
    """
    path = Path(path)
    if not path.is_file():
        raise PhaseError(f"{path}: override file not found")
    keys = set(recording_keys)
    out: dict[str, tuple[float, float]] = {}
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise PhaseError(f"{path}: expected a JSON object")
            blocks = [data["phases"]] if "phases" in data else [
                v for k, v in data.items() if k in keys
            ]
            for block in blocks:
                for name, pair in block.items():
                    start, end = (pair["start_s"], pair["end_s"]) if isinstance(
                        pair, dict) else pair
                    out[name] = (float(start), float(end))
        else:
            table = pd.read_csv(path, sep="\t" if path.suffix.lower() != ".csv" else ",")
            missing = {"phase", "start_s", "end_s"} - set(table.columns)
            if missing:
                raise PhaseError(
                    f"{path}: override table lacks column(s) {sorted(missing)}; "
                    "expected phase, start_s, end_s [, recording]"
                )
            for row in table.itertuples(index=False):
                rec = getattr(row, "recording", None)
                if isinstance(rec, str) and rec and rec != "*" and rec not in keys:
                    continue
                out[str(row.phase)] = (float(row.start_s), float(row.end_s))
    except PhaseError:
        raise
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise PhaseError(f"{path}: cannot read phase overrides: {exc}") from None
    return out


def phase_windows(
    phases: list[PhaseSpan],
    window_s: float = DEFAULT_WINDOW_S,
    *,
    min_partial: float = DEFAULT_MIN_PARTIAL,
) -> pd.DataFrame:
    """Cut each phase into consecutive windows.

    Returns
    -------
    pandas.DataFrame
        ``phase``, ``window`` (1-based), ``start_s``, ``end_s``, ``partial``.

    Examples
    --------
    >>> w = phase_windows([PhaseSpan("baseline", 10.0, 150.0)], 60.0)
    >>> w[["window", "start_s", "end_s", "partial"]].values.tolist()
    [[1, 10.0, 70.0, False], [2, 70.0, 130.0, False]]
    >>> w = phase_windows([PhaseSpan("induction", 3.7, 3.7 + 180 - 1e-7)], 60.0)
    >>> w["partial"].tolist(), [round(e - s, 6) for s, e in zip(w.start_s, w.end_s)]
    ([False, False, False], [60.0, 60.0, 60.0])
    """
    if not window_s > 0:
        raise PhaseError(f"window length must be > 0 s, got {window_s}")
    rows = []
    for p in phases:
        n_full = int(np.floor((p.duration_s + LENGTH_TOLERANCE_S) / window_s))
        for k in range(n_full):
            s = p.start_s + k * window_s
            rows.append((p.name, k + 1, s, p.start_s + (k + 1) * window_s, False))
        rest = p.duration_s - n_full * window_s
        if rest > LENGTH_TOLERANCE_S and rest >= min_partial * window_s:
            s = p.start_s + n_full * window_s
            rows.append((p.name, n_full + 1, s, p.end_s, True))
    return pd.DataFrame(rows, columns=["phase", "window", "start_s", "end_s", "partial"])
