"""The lab config: which LSL streams are this lab's physiology devices.

``soothe check --confirm-streams`` lists the LSL streams it sees and, once the
experimenter confirms them, writes their identity (name, type, source_id, hostname) to a
small JSON file, the *lab config*. ``soothe run`` then records exactly those streams, plus
its own marker stream (whose source_id is unique to the session), and nothing else: a
neighbouring room's amplifier or a second soothe session on the same PC is never recorded.

Before a session starts, :func:`match_devices` compares the configured devices with what is
visible on the network:

- a device that two visible streams both match is an error naming both (which one is the
  participant's is not for the program to guess);
- a device that is absent is an error, unless the experimenter chooses to go on without
  physiology (``soothe run --no-physio``; recorded in the session log and state).

The file is JSON::

    {"version": 1, "written": "2026-...Z", "written_by": "soothe check",
     "devices": [{"name": "BioSemi", "type": "EEG", "source_id": "bs-123",
                  "hostname": "lab-pc-2"}]}

Its default place is ``~/.soothe/lab_streams.json`` (``$SOOTHE_LAB_CONFIG`` or
``--lab-config`` choose another).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from experiment.errors import SessionError

LAB_CONFIG_ENV = "SOOTHE_LAB_CONFIG"
LAB_CONFIG_VERSION = 1


class StreamIdentityError(SessionError):
    """The configured physiology streams are ambiguous, absent or the config is unusable."""


@dataclass(frozen=True)
class StreamSpec:
    """The identity of one LSL stream.

    ``source_id`` and ``hostname`` may be empty (a device that sets no source_id; any
    host), then they match anything; ``name`` and ``type`` always have to match.

    Examples
    --------
    >>> spec = StreamSpec("amp", "Physio", "amp-42", "labpc")
    >>> spec.matches(StreamSpec("amp", "Physio", "amp-42", "labpc"))
    True
    >>> spec.matches(StreamSpec("amp", "Physio", "amp-43", "labpc"))
    False
    >>> StreamSpec("amp", "Physio").matches(StreamSpec("amp", "Physio", "x", "otherpc"))
    True
    """

    name: str
    type: str
    source_id: str = ""
    hostname: str = ""

    def matches(self, other: StreamSpec) -> bool:
        """Does the visible stream ``other`` have this identity?"""
        if self.name != other.name or self.type.lower() != other.type.lower():
            return False
        if self.source_id and self.source_id != other.source_id:
            return False
        return not self.hostname or self.hostname.lower() == other.hostname.lower()

    def describe(self) -> str:
        """One line for messages.

        Examples
        --------
        >>> StreamSpec("amp", "Physio", "amp-42", "labpc").describe()
        "'amp' (type Physio, source_id 'amp-42', host labpc)"
        """
        return (f"{self.name!r} (type {self.type}, source_id {self.source_id or '(none)'!r}, "
                f"host {self.hostname or 'any'})")


@dataclass(frozen=True)
class VisibleStream:
    """A stream seen on LSL: its identity plus what tells two copies apart."""

    spec: StreamSpec
    uid: str = ""
    channel_count: int = 0
    nominal_srate: float = 0.0

    def describe(self) -> str:
        extra = f", uid {self.uid}" if self.uid else ""
        return f"{self.spec.describe()[:-1]}{extra}, {self.channel_count} ch @ " \
               f"{self.nominal_srate:g} Hz)"


def visible_from_info(info: Any) -> VisibleStream:
    """A :class:`VisibleStream` from a ``pylsl.StreamInfo``."""
    return VisibleStream(
        StreamSpec(info.name(), info.type(), info.source_id(), info.hostname()),
        uid=info.uid(), channel_count=info.channel_count(), nominal_srate=info.nominal_srate(),
    )


def default_lab_config_path() -> Path:
    """``$SOOTHE_LAB_CONFIG``, else ``~/.soothe/lab_streams.json``."""
    env = os.environ.get(LAB_CONFIG_ENV)
    return Path(env) if env else Path.home() / ".soothe" / "lab_streams.json"


def is_physiology(stream: StreamSpec) -> bool:
    """Every stream that is not a marker stream counts as a physiology device.

    Examples
    --------
    >>> is_physiology(StreamSpec("x", "Markers")), is_physiology(StreamSpec("x", "ECG"))
    (False, True)
    """
    return stream.type.lower() != "markers"


def write_lab_config(path: Path, devices: Sequence[StreamSpec], *, written_by: str,
                     written: str) -> Path:
    """Write the lab config (replacing an older one) and return its path.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "lab.json"
    >>> _ = write_lab_config(p, [StreamSpec("amp", "ECG", "a1", "pc")], written_by="test",
    ...                      written="2026-01-01T00:00:00Z")
    >>> read_lab_config(p)
    [StreamSpec(name='amp', type='ECG', source_id='a1', hostname='pc')]
    """
    if not devices:
        raise StreamIdentityError("no physiology stream to write into the lab config")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"version": LAB_CONFIG_VERSION, "written": written, "written_by": written_by,
            "devices": [asdict(d) for d in devices]}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_lab_config(path: Path) -> list[StreamSpec]:
    """The configured devices; a clear :class:`StreamIdentityError` for a bad file."""
    path = Path(path)
    if not path.is_file():
        raise StreamIdentityError(
            f"no lab config at {path}: with the amplifier streaming, run "
            "'soothe check --confirm-streams' to record which LSL streams are this lab's "
            "physiology devices (or start with --no-physio to go on without physiology)")
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StreamIdentityError(f"{path}: lab config unreadable: {exc}") from None
    devices = body.get("devices") if isinstance(body, dict) else None
    if not isinstance(devices, list) or not devices:
        raise StreamIdentityError(f"{path}: lab config names no devices (expected a "
                                  "'devices' list); run 'soothe check --confirm-streams'")
    out = []
    for i, d in enumerate(devices):
        if not isinstance(d, dict) or not d.get("name") or not d.get("type"):
            raise StreamIdentityError(f"{path}: device {i + 1} needs at least 'name' and "
                                      f"'type', got {d!r}")
        out.append(StreamSpec(str(d["name"]), str(d["type"]), str(d.get("source_id") or ""),
                              str(d.get("hostname") or "")))
    return out


def match_devices(devices: Sequence[StreamSpec], visible: Iterable[VisibleStream]
                  ) -> tuple[dict[StreamSpec, VisibleStream], list[StreamSpec]]:
    """Pair each configured device with the one visible stream that matches it.

    Returns
    -------
    found : dict
        device -> the visible stream.
    missing : list
        Devices no visible stream matches.

    Raises
    ------
    StreamIdentityError
        When two (or more) visible streams match one device; the message names them all.

    Examples
    --------
    >>> amp = StreamSpec("amp", "ECG", "a1", "pc")
    >>> found, missing = match_devices([amp], [VisibleStream(amp, uid="u1")])
    >>> found[amp].uid, missing
    ('u1', [])
    >>> try:
    ...     match_devices([amp], [VisibleStream(amp, uid="u1"), VisibleStream(amp, uid="u2")])
    ... except StreamIdentityError as exc:
    ...     print(str(exc)[:58])
    2 LSL streams match the configured device 'amp' (type ECG,
    """
    visible = list(visible)
    found: dict[StreamSpec, VisibleStream] = {}
    missing: list[StreamSpec] = []
    for device in devices:
        hits = [v for v in visible if device.matches(v.spec)]
        # one outlet resolved twice (e.g. through two network interfaces) is one stream
        unique = list({(v.uid or id(v)): v for v in hits}.values())
        if len(unique) > 1:
            raise StreamIdentityError(
                f"{len(unique)} LSL streams match the configured device {device.describe()}: "
                + " and ".join(v.describe() for v in unique)
                + "; which one is this participant's cannot be told apart: stop the second "
                "one (a second copy of the amplifier software?) or give each device its own "
                "source_id and run 'soothe check --confirm-streams' again")
        if unique:
            found[device] = unique[0]
        else:
            missing.append(device)
    return found, missing


def describe_missing(missing: Sequence[StreamSpec], visible: Iterable[VisibleStream],
                     config_path: Path | str) -> str:
    """The error text for absent devices, naming look-alikes that are visible."""
    visible = list(visible)
    lines = [f"configured physiology device(s) not on LSL (lab config {config_path}): "
             + "; ".join(d.describe() for d in missing)]
    alike = [v for v in visible
             if any(v.spec.name == d.name or v.spec.type.lower() == d.type.lower()
                    for d in missing)]
    if alike:
        lines.append("similar streams that are visible but are not the configured device: "
                     + "; ".join(v.describe() for v in alike))
    lines.append("switch the amplifier's LSL bridge on and start again, run 'soothe check "
                 "--confirm-streams' if the lab's devices changed, or start with --no-physio "
                 "to go on without physiology (recorded in the session log)")
    return "\n  ".join(lines)
