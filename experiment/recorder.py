"""Record the session's own physiology and marker streams from LSL into the session's files.

Which streams: exactly the devices of the lab config (:mod:`experiment.lab_config`; name,
type, source_id, hostname) and the session's own marker stream (its source_id is unique to
the session). Any other stream on the network, another session's markers or a neighbouring
room's amplifier, is never opened.

While the session runs, :class:`LSLRecorder` (a background thread) appends every chunk it
pulls to ``sourcedata/.../physio_raw/run-<k>_<stream>.tsv`` (LSL time + channels, flushed
and fsync'ed about twice a second) with a JSON sidecar per stream. Nothing is held only in
memory, so a crash loses at most the last half second of signal.

When the session ends (complete, aborted or resumed to the end), :func:`assemble_physio`
turns every raw file of every run into the BIDS ``_physio.tsv.gz`` + ``_physio.json``:
one regular time grid at the stream's nominal rate, ``StartTime`` on the session clock
(LSL time minus the session's ``lsl_zero``), so the physio and ``_events.tsv`` share one
clock. Gaps (a lost stream, the time between a crash and ``--resume``) are NaN, never
interpolated across.

A stream that stops delivering samples is reported through ``warn`` with a timestamp and
the session goes on; LSL inlets reconnect by themselves when the device comes back.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from conditions import bids
from experiment.datafiles import utc_now
from experiment.lab_config import StreamSpec, visible_from_info
from experiment.markers import MARKER_STREAM_NAME

FLUSH_EVERY_S = 0.5
LOST_AFTER_S = 3.0
#: after ``stop``, keep pulling this long: a marker pushed just before the stop is still
#: in transit on the network (CI lost the session's final condition-code marker)
DRAIN_S = 0.5


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "", name) or "stream"


@dataclass
class _Stream:
    inlet: Any
    name: str
    type: str
    source_id: str
    nominal_srate: float
    labels: list[str]
    path: Path
    handle: Any
    last_sample_wall: float = field(default_factory=time.monotonic)
    n_samples: int = 0
    lost: bool = False


def _channels(info) -> list[dict[str, str]]:
    out = []
    ch = info.desc().child("channels").child("channel")
    for i in range(info.channel_count()):
        if ch.empty():
            out.append({"label": f"ch{i + 1}", "unit": "n/a", "type": info.type()})
            continue
        out.append(
            {
                "label": ch.child_value("label") or f"ch{i + 1}",
                "unit": ch.child_value("unit") or "n/a",
                "type": ch.child_value("type") or info.type(),
            }
        )
        ch = ch.next_sibling()
    return out


class LSLRecorder(threading.Thread):
    """Background recorder of the configured physiology streams and the session's markers.

    Parameters
    ----------
    raw_dir : Path
        Where the raw per-stream files go.
    run_index : int
        Run number (a resumed session is a new run); part of every file name.
    devices : sequence of StreamSpec
        The physiology streams to record (from the lab config, or the session's own
        simulated device). Nothing else is opened; an empty sequence records no physiology.
    warn : callable(str)
        Receives warnings (stream not found, stream lost/back, a second copy).
    marker_source_id : str or None
        Record the ``soothe_markers`` stream with exactly this source_id (the session's own
        outlet); None records no marker stream.
    """

    def __init__(
        self,
        raw_dir: Path,
        run_index: int,
        devices: Sequence[StreamSpec] = (),
        warn: Callable[[str], None] = print,
        *,
        marker_source_id: str | None = None,
    ) -> None:
        super().__init__(name="soothe-lsl-recorder", daemon=True)
        self.raw_dir = Path(raw_dir)
        self.run_index = int(run_index)
        self.devices = list(devices)
        self.marker_spec = (StreamSpec(MARKER_STREAM_NAME, "Markers", marker_source_id)
                            if marker_source_id else None)
        self.warn = warn
        self.streams: dict[str, _Stream] = {}
        self._opened_for: dict[StreamSpec, str] = {}  # spec -> uid of the stream opened
        self._warned_second: set[str] = set()
        self._stop_event = threading.Event()
        self.ready = threading.Event()
        self.error: BaseException | None = None

    # ------------------------------------------------------------------ discovery
    def _wanted(self, info) -> StreamSpec | None:
        """The configured identity ``info`` has (None: not ours, never opened)."""
        seen = visible_from_info(info).spec
        specs = [*self.devices, *([self.marker_spec] if self.marker_spec else [])]
        return next((spec for spec in specs if spec.matches(seen)), None)

    def _open(self, info, spec: StreamSpec) -> None:
        # lazy: liblsl reads its config (LSLAPICFG) when pylsl loads; the caller sets it first
        import pylsl

        key = info.uid()
        if key in self.streams:
            return
        if spec in self._opened_for:  # a second stream with the configured identity
            if key not in self._warned_second:
                self._warned_second.add(key)
                self.warn(f"{utc_now()} WARNING a second LSL stream matches {spec.describe()}"
                          f" (host {info.hostname()}, uid {key}); it is NOT recorded")
            return
        # Clock sync only, no dejitter: dejittering assumes an unbroken regular stream and
        # spreads the samples over a dropout (measured: a 2 s gap became 7.6 ms intervals),
        # which would hide signal loss. The regular grid is made later by assemble_physio.
        inlet = pylsl.StreamInlet(info, max_buflen=360, recover=True,
                                  processing_flags=pylsl.proc_clocksync)
        full = inlet.info(timeout=5.0)
        chans = _channels(full)
        self.raw_dir.mkdir(parents=True, exist_ok=True)
        base = f"run-{self.run_index}_{_safe(info.name())}"
        path = self.raw_dir / f"{base}.tsv"
        n = 2
        while path.exists():  # never overwrite a raw file
            path = self.raw_dir / f"{base}_{n}.tsv"
            n += 1
        meta = {
            "name": info.name(),
            "type": info.type(),
            "source_id": info.source_id(),
            "hostname": info.hostname(),
            "nominal_srate": info.nominal_srate(),
            "channels": chans,
            "run": self.run_index,
            "opened_at": utc_now(),
        }
        bids.write_json(path.with_suffix(".json"), meta)
        handle = open(path, "a", encoding="ascii")
        handle.write("lsl_time\t" + "\t".join(c["label"] for c in chans) + "\n")
        handle.flush()
        self._opened_for[spec] = key
        self.streams[key] = _Stream(
            inlet=inlet,
            name=info.name(),
            type=info.type(),
            source_id=info.source_id() or key,
            nominal_srate=info.nominal_srate(),
            labels=[c["label"] for c in chans],
            path=path,
            handle=handle,
        )

    def discover(self, wait_s: float = 1.0) -> int:
        """Open the configured streams visible now; return how many physio streams are open."""
        # lazy: liblsl reads its config (LSLAPICFG) when pylsl loads; the caller sets it first
        import pylsl

        if len(self._opened_for) == len(self.devices) + bool(self.marker_spec):
            return len(self.physio_stream_names)  # all open; inlets reconnect by themselves
        for info in pylsl.resolve_streams(wait_time=wait_s):
            spec = self._wanted(info)
            if spec is not None:
                self._open(info, spec)
        return sum(s.type.lower() != "markers" for s in self.streams.values())

    @property
    def physio_stream_names(self) -> list[str]:
        return [s.name for s in self.streams.values() if s.type.lower() != "markers"]

    # ------------------------------------------------------------------ loop
    def run(self) -> None:
        try:
            found = self.discover(wait_s=1.5)
            if self.devices and found < len(self.devices):
                names = [d.describe() for d in self.devices]
                self.warn(f"{utc_now()} configured physiology stream(s) not found yet "
                          f"({names}); still looking")
            self.ready.set()
            last_flush = time.monotonic()
            last_discover = time.monotonic()
            while not self._stop_event.is_set():
                got_any = False
                for stream in list(self.streams.values()):
                    got_any |= self._pull(stream)
                now = time.monotonic()
                if now - last_flush >= FLUSH_EVERY_S:
                    self._flush()
                    last_flush = now
                if now - last_discover >= 2.0:
                    last_discover = now
                    before = len(self.physio_stream_names)
                    self.discover(wait_s=0.2)
                    if len(self.physio_stream_names) > before:
                        names = self.physio_stream_names
                        self.warn(f"{utc_now()} physiology stream found: {names}")
                if not got_any:
                    self._stop_event.wait(0.02)
            drain_until = time.monotonic() + DRAIN_S  # drain what is still in transit
            while time.monotonic() < drain_until:
                got_any = False
                for stream in list(self.streams.values()):
                    got_any |= self._pull(stream)
                if not got_any:
                    time.sleep(0.02)
        except BaseException as exc:  # recorded; the session reports it and goes on
            self.error = exc
            self.warn(f"{utc_now()} physiology recorder stopped with an error: {exc}")
        finally:
            self.ready.set()
            self._flush()
            for stream in self.streams.values():
                try:
                    stream.handle.close()
                except OSError:
                    pass
                # close the inlet now, while the outlets still exist: an inlet left open
                # until its outlet goes away makes liblsl print "Stream transmission broke
                # off" on the experimenter's console at the end of every session
                try:
                    stream.inlet.close_stream()
                except Exception:
                    pass
                stream.inlet = None

    def _pull(self, stream: _Stream) -> bool:
        samples, stamps = stream.inlet.pull_chunk(timeout=0.0, max_samples=4096)
        now = time.monotonic()
        if not stamps:
            regular = stream.nominal_srate > 0
            if regular and not stream.lost and now - stream.last_sample_wall > LOST_AFTER_S:
                stream.lost = True
                self.warn(
                    f"{utc_now()} WARNING physiology stream {stream.name!r} lost "
                    f"(no samples for {LOST_AFTER_S:g} s); the session goes on"
                )
            return False
        if stream.lost:
            stream.lost = False
            self.warn(f"{utc_now()} physiology stream {stream.name!r} is back")
        stream.last_sample_wall = now
        stream.n_samples += len(stamps)
        lines = [
            f"{t:.6f}\t" + "\t".join(f"{v:.6g}" for v in row) for row, t in zip(samples, stamps)
        ]
        stream.handle.write("\n".join(lines) + "\n")
        return True

    def _flush(self) -> None:
        for stream in self.streams.values():
            try:
                stream.handle.flush()
                os.fsync(stream.handle.fileno())
            except (OSError, ValueError):
                pass

    def stop(self, timeout: float = 5.0) -> None:
        """Stop pulling, write what is left and close the files."""
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout)


# ---------------------------------------------------------------------- reading back
def read_raw_stream(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(lsl_times, values[n, channels], labels) of one raw file; a torn last line is dropped.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "run-1_x.tsv"
    >>> _ = p.write_text("lsl_time\\tecg\\n1.0\\t0.5\\n1.002\\t0.6\\n1.0")
    >>> t, v, labels = read_raw_stream(p)
    >>> len(t), labels
    (2, ['ecg'])
    """
    text = Path(path).read_text(encoding="ascii", errors="replace")
    lines = text.split("\n")
    header = lines[0].split("\t")
    labels = header[1:]
    body = lines[1:-1] if not text.endswith("\n") else lines[1:]
    rows = []
    for line in body:
        parts = line.split("\t")
        if len(parts) != len(header):
            continue
        try:
            rows.append([float(p) for p in parts])
        except ValueError:
            continue
    if not rows:
        return np.empty(0), np.empty((0, len(labels))), labels
    arr = np.asarray(rows, dtype=np.float64)
    return arr[:, 0], arr[:, 1:], labels


def _bids_column(channel: dict[str, str]) -> str:
    text = f"{channel.get('type', '')} {channel.get('label', '')}".lower()
    if "ecg" in text or "ekg" in text:
        return bids.PHYSIO_ECG
    if "eda" in text or "gsr" in text:
        return bids.PHYSIO_EDA
    return _safe(channel.get("label", "ch")).lower()


def last_raw_time(raw_dir: Path, before_run: int | None = None) -> float:
    """The latest LSL time in any raw file (of runs before ``before_run``); -inf if none.

    A killed run's last sign of life: its physiology is flushed twice a second.
    """
    latest = float("-inf")
    for meta_path in Path(raw_dir).glob("run-*.json"):
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if before_run is not None and int(meta.get("run", 0)) >= before_run:
            continue
        t, _, _ = read_raw_stream(meta_path.with_suffix(".tsv"))
        if len(t):
            latest = max(latest, float(t[-1]))
    return latest


def raw_marker_times(raw_dir: Path) -> list[tuple[float, int]]:
    """(lsl_time, code) of every marker the recorder received, all runs, time-sorted."""
    out: list[tuple[float, int]] = []
    for meta_path in sorted(Path(raw_dir).glob("run-*.json")):
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("type", "").lower() != "markers":
            continue
        t, v, _ = read_raw_stream(meta_path.with_suffix(".tsv"))
        out += [(float(a), int(b)) for a, b in zip(t, v[:, 0])]
    return sorted(out)


def assemble_physio(raw_dir: Path, files: bids.SessionFiles, lsl_zero: float) -> bool:
    """Write the BIDS physio files from every raw physiology file of the session.

    Returns False (and writes nothing) when no physiology was recorded.
    """
    raw_dir = Path(raw_dir)
    parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    metas: dict[str, dict[str, Any]] = {}
    for meta_path in sorted(raw_dir.glob("run-*.json")):
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("type", "").lower() == "markers" or not meta.get("nominal_srate"):
            continue
        t, v, _ = read_raw_stream(meta_path.with_suffix(".tsv"))
        if not len(t):
            continue
        key = meta.get("source_id") or meta["name"]
        parts.setdefault(key, []).append((t, v))
        metas[key] = meta
    if not parts:
        return False
    fs = max(float(m["nominal_srate"]) for m in metas.values())
    t0 = min(min(p[0][0] for p in ps) for ps in parts.values())
    t1 = max(max(p[0][-1] for p in ps) for ps in parts.values())
    grid = t0 + np.arange(int(np.floor((t1 - t0) * fs)) + 1) / fs
    signals: dict[str, np.ndarray] = {}
    units: dict[str, str] = {}
    descriptions: dict[str, str] = {}
    for key, ps in parts.items():
        meta = metas[key]
        t = np.concatenate([p[0] for p in ps])
        v = np.concatenate([p[1] for p in ps])
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
        # a grid point more than 2.5 source samples from a real sample is a gap -> NaN
        max_gap = 2.5 / float(meta["nominal_srate"])
        idx = np.clip(np.searchsorted(t, grid), 1, len(t) - 1) if len(t) > 1 else None
        for j, channel in enumerate(meta["channels"]):
            name = _bids_column(channel)
            if name in signals:
                name = f"{name}{len(signals)}"
            if idx is None:
                col = np.full(len(grid), np.nan)
            else:
                col = np.interp(grid, t, v[:, j])
                near = np.minimum(np.abs(grid - t[idx - 1]), np.abs(t[idx] - grid))
                col[near > max_gap] = np.nan
            signals[name] = col
            units[name] = channel.get("unit", "n/a")
            descriptions[name] = f"{channel.get('label')} from LSL stream {meta['name']!r}"
    bids.write_physio(
        files,
        signals,
        fs,
        units,
        start_time=float(grid[0] - lsl_zero),
        descriptions=descriptions,
        extra={
            "RecordingSource": "LabStreamingLayer, recorded by soothe",
            "LSLStreams": [metas[k]["name"] for k in parts],
        },
    )
    return True
