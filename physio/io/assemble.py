"""Shared steps of every reader: wrap library errors, set channel kinds, finish markers."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from conditions.errors import SootheError
from physio.errors import ChannelError, ReaderError
from physio.io.channel_kinds import assign_kinds
from physio.io.markers_digital import code_to_markers, digital_channels_to_markers
from physio.io.units import ecg_units_problem
from physio.recording import MARKER_COLUMNS, Channel, Recording, empty_markers

#: Code given to a marker that carries only text (no integer code), e.g. "Segment 1".
NO_CODE = -1
#: Whether pyarrow may parse a text table on several threads. True in a single process
#: (the parse then finishes sooner on idle cores). A batch's pool workers set it False
#: (``physio.batch.init_pool_worker``): the workers already keep every core busy, and
#: threads inside each worker would only add CPU time (bench/bench_readers.py).
PARSE_THREADS = True

# Digital *lines* (one bit each) as opposed to trigger channels that carry the whole code.
_LINE_NAME = re.compile(r"(digital|\bstp\b|^d\d{1,2}$|^din\s*\d*$|^di\s*\d+$)", re.IGNORECASE)


@contextlib.contextmanager
def library_errors(path: Path | str, what: str) -> Iterator[None]:
    """Turn any exception from a third-party library into a :class:`ReaderError`.

    The message names the file and what was being done, and keeps the library's own text;
    the library traceback is dropped (``from None``).
    """
    try:
        yield
    except SootheError:
        raise
    except MemoryError:
        raise ReaderError(
            f"{path}: {what}: the file declares more data than fits in memory "
            "(a corrupt header?)"
        ) from None
    except Exception as exc:  # noqa: BLE001 - any library failure becomes a ReaderError
        text = str(exc).strip() or "no message"
        raise ReaderError(f"{path}: {what}: {type(exc).__name__}: {text}") from None


def code_from_text(text: str) -> int:
    """The integer code a marker's text carries (``"12"``, ``"12 onset"``), else NO_CODE.

    Examples
    --------
    >>> code_from_text("12"), code_from_text(" 7: induction"), code_from_text("Hello")
    (12, 7, -1)
    """
    m = re.match(r"^\s*(-?\d+)(?:\.0+)?(?:\s|[:;,|/_-]|$)", str(text))
    if not m:
        return NO_CODE
    try:
        return int(m.group(1))
    except ValueError:  # pragma: no cover - the regex only matches digits
        return NO_CODE


def make_markers(onsets, codes, labels) -> pd.DataFrame:
    """A sorted marker table with the standard columns and dtypes."""
    table = pd.DataFrame(
        {
            "onset_s": np.asarray(onsets, dtype=np.float64),
            "code": np.asarray(codes, dtype=np.int64),
            "label": pd.Series(list(labels), dtype=object),
        }
    )
    return sort_markers(table)


def sort_markers(table: pd.DataFrame) -> pd.DataFrame:
    if table is None or len(table) == 0:
        return empty_markers()
    table = table.loc[:, list(MARKER_COLUMNS)]
    table = table.sort_values("onset_s", kind="stable").reset_index(drop=True)
    table["onset_s"] = table["onset_s"].astype(np.float64)
    table["code"] = table["code"].astype(np.int64)
    table["label"] = table["label"].astype(object)
    return table


def markers_from_channels(
    channels: Mapping[str, Channel], source: Path | str, marker_channel: str | None
) -> pd.DataFrame:
    """Markers decoded from the digital/trigger channels (or the one the user named).

    Channels named like digital lines (``Digital input``, ``D0``.., ``STP``) are combined
    bitwise (:func:`~physio.io.markers_digital.digital_channels_to_markers`); trigger
    channels (``Stim``, ``trigger``, ``TTL``, or ``marker_channel``) carry the code itself
    and are rounded to integers.
    """
    if marker_channel is not None:
        if marker_channel not in channels:
            raise ChannelError(
                f"{source}: marker channel {marker_channel!r} not found; available "
                f"channels: {', '.join(repr(n) for n in channels) or 'none'}"
            )
        ch = channels[marker_channel]
        ch.kind = "digital"
        return code_to_markers(ch.data, ch.sampling_rate, start_s=ch.start_s)
    digital = [c for c in channels.values() if c.kind == "digital"]
    lines = [c for c in digital if _LINE_NAME.search(c.name.strip())]
    triggers = [c for c in digital if c not in lines]
    parts = [digital_channels_to_markers(lines)] if lines else []
    parts += [code_to_markers(c.data, c.sampling_rate, start_s=c.start_s) for c in triggers]
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else empty_markers()


def saturation_note(channel: Channel, min_fraction: float = 0.01) -> str | None:
    """A note when a channel sits at its maximum (or minimum) for a suspicious share of samples.

    An amplifier that clips holds the exact same extreme value; natural signals almost
    never repeat their extreme for more than 1 % of the samples.

    Examples
    --------
    >>> x = np.r_[np.linspace(1, 5, 900), np.full(100, 5.0)]
    >>> "clipped" in saturation_note(Channel("EDA", x, 10.0, "uS"))
    True
    """
    data = np.asarray(channel.data)
    finite = np.isfinite(data)
    x = data if finite.all() else data[finite]  # no copy of a channel without gaps
    if x.size < 10:
        return None
    top, bottom = x.max(), x.min()
    if top == bottom:
        return None
    for name, value in (("maximum", top), ("minimum", bottom)):
        share = np.count_nonzero(x == value) / x.size
        if share >= min_fraction:
            return (
                f"channel {channel.name!r} looks clipped: {100 * share:.1f}% of samples sit "
                f"at its {name} {value:g} {channel.units}"
            )
    return None


def finish_recording(
    recording: Recording,
    *,
    ecg_channel: str | None = None,
    eda_channel: str | None = None,
    rsp_channel: str | None = None,
    marker_channel: str | None = None,
    decode_digital: bool = True,
    keep_kinds: bool = False,
) -> Recording:
    """Classify channels, apply overrides, add digital markers, sort, sanity-check."""
    source = recording.source
    if not recording.channels:
        raise ReaderError(f"{source}: no signal channels found in the file")
    for ch in recording.channels.values():
        if not (np.isfinite(ch.sampling_rate) and ch.sampling_rate > 0):
            raise ReaderError(
                f"{source}: channel {ch.name!r} has sampling rate {ch.sampling_rate!r}; "
                "expected a positive number of Hz"
            )
    assign_kinds(
        recording.channels, source, ecg_channel=ecg_channel, eda_channel=eda_channel,
        rsp_channel=rsp_channel, keep_existing=keep_kinds,
    )
    parts = [recording.markers] if len(recording.markers) else []
    if decode_digital or marker_channel is not None:
        digital = markers_from_channels(recording.channels, source, marker_channel)
        if len(digital):
            parts.append(digital)
    recording.markers = (
        sort_markers(pd.concat(parts, ignore_index=True)) if parts else empty_markers()
    )
    notes = recording.meta.setdefault("reader_notes", [])
    end = recording.duration_s
    late = recording.markers[recording.markers["onset_s"] > end]
    if len(late):
        notes.append(
            f"{len(late)} marker(s) fall after the end of the data ({end:.3f} s): the "
            "recording stops early"
        )
    for ch in recording.channels.values():
        if ch.kind == "ecg":
            problem = ecg_units_problem(ch)
            if problem:
                notes.append(problem)
        if ch.kind == "eda":
            clipped = saturation_note(ch)
            if clipped:
                notes.append(clipped)
        if ch.kind == "ecg" and ch.sampling_rate < 100:
            notes.append(
                f"ECG channel {ch.name!r} is sampled at {ch.sampling_rate:g} Hz, below the "
                "100 Hz the ECG pipeline needs (physio.io.units.require_ecg_rate)"
            )
        n_nan = int(np.count_nonzero(~np.isfinite(ch.data)))
        if n_nan:
            notes.append(f"channel {ch.name!r} has {n_nan} missing (NaN) samples")
    return recording
