"""Event markers: one small interface, several back ends, usable at once.

Back ends
---------
- ``lsl``: a LabStreamingLayer outlet (pylsl; always available), one int32 channel, irregular
  rate. Every sample carries an explicit LSL timestamp, so an audio marker can be stamped
  with the measured audio onset.
- ``parallel[:ADDRESS]``: an 8-bit parallel port through ``psychopy.parallel`` (e.g. the
  digital inputs of a BIOPAC MP160). Lines go back to 0 after each pulse and on close.
- ``serial:DEVICE[@BAUD]``: a serial trigger box through pyserial (one byte per marker,
  then a 0 byte after the pulse).
- ``none``: markers only go to the session's ``_events.tsv``.

The task code never knows which back ends are active: it calls :meth:`MarkerSender.send`
(or :meth:`MarkerSender.send_on_flip` for screen events) and every marker is also handed to
``on_sent`` with its PsychoPy-clock and LSL-clock times, which the session writes to
``_events.tsv``.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

from experiment.errors import MarkerError

MARKER_STREAM_NAME = "soothe_markers"
DEFAULT_PULSE_S = 0.010  # 10 ms: long enough for a 1 kHz digital input (BIOPAC) to latch


class MarkerBackend(Protocol):
    """What a marker back end does."""

    name: str

    def send(self, code: int, lsl_time: float) -> None:
        """Put ``code`` out now (``lsl_time`` is the timestamp to stamp it with)."""

    def reset(self) -> None:
        """Set trigger lines back to 0."""

    def close(self) -> None:
        """Reset and release the device."""


def _check_code(code: int) -> int:
    if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code <= 255:
        raise MarkerError(f"marker code must be an integer 0-255, got {code!r}")
    return code


class LSLMarkerOutlet:
    """Markers as an LSL stream (``type='Markers'``, one int32 channel)."""

    name = "lsl"

    def __init__(self, stream_name: str = MARKER_STREAM_NAME, source_id: str | None = None):
        import pylsl

        self._pylsl = pylsl
        info = pylsl.StreamInfo(
            stream_name,
            "Markers",
            1,
            pylsl.IRREGULAR_RATE,
            pylsl.cf_int32,
            source_id or f"{stream_name}@{socket.gethostname()}",
        )
        info.desc().append_child_value("manufacturer", "soothe")
        self.stream_name = stream_name
        self.outlet = pylsl.StreamOutlet(info)

    def send(self, code: int, lsl_time: float) -> None:
        self.outlet.push_sample([int(code)], float(lsl_time))

    def reset(self) -> None:  # an LSL stream has no lines to reset
        pass

    def close(self) -> None:
        self.outlet = None


class _PulsedBackend:
    """Shared pulse logic for trigger lines: one writer thread works through a queue.

    Every code is held for ``pulse_s``, then the lines go back to 0 for at least ``pulse_s``
    before the next code, so markers sent back to back (``session_start`` and the first
    phase onset on one flip, ``item_response`` then the phase offset, ...) reach a digital
    input as separate pulses, in order, none lost. Markers sent together therefore come out
    spaced by ``2 * pulse_s`` on the hardware; ``_events.tsv`` keeps their true times.

    :meth:`send` only queues the code, so it never blocks the frame loop. Every write to the
    device happens under ``_lock`` on the writer thread (or in :meth:`reset`/:meth:`close`
    after the queue is drained), so a late reset can never clear a newer pulse. A write that
    fails on the writer thread (a device unplugged) is raised by the next :meth:`send` on
    the caller's thread, and keeps being raised until a write succeeds again.
    """

    name = "pulsed"

    def __init__(self, pulse_s: float = DEFAULT_PULSE_S) -> None:
        self.pulse_s = float(pulse_s)
        self._lock = threading.Lock()
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def _write(self, code: int) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _write_locked(self, code: int) -> None:
        with self._lock:
            try:
                self._write(code)
            except Exception as exc:  # reported by the next send() on the caller's thread
                self._error = exc
            else:
                self._error = None

    def _writer(self) -> None:
        while True:
            code = self._queue.get()
            try:
                if code is None:
                    return
                self._write_locked(code)
                time.sleep(self.pulse_s)
                self._write_locked(0)
                time.sleep(self.pulse_s)  # the 0 gap before the next code
            finally:
                self._queue.task_done()

    def send(self, code: int, lsl_time: float) -> None:
        if self._closed:
            raise MarkerError(f"{self.name} marker back end is closed")
        if self._thread is None:
            self._thread = threading.Thread(target=self._writer, name=f"soothe-{self.name}",
                                            daemon=True)
            self._thread.start()
        self._queue.put(int(code))
        error = self._error
        if error is not None:
            raise error

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued pulse is out (True) or ``timeout`` s passed (False)."""
        if self._thread is None or not self._thread.is_alive():
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(self.pulse_s / 4 or 0.001)
        return True

    def _drain_timeout(self) -> float:
        return 1.0 + 2 * self.pulse_s * (self._queue.qsize() + 1)

    def reset(self) -> None:
        """Lines to 0 once the pulses already queued are out (none is cut short)."""
        self.flush(self._drain_timeout())
        with self._lock:
            self._write(0)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(self._drain_timeout())
        with self._lock:
            self._write(0)


class ParallelPortMarkers(_PulsedBackend):
    """8-bit parallel port via ``psychopy.parallel`` (address e.g. ``0x0378``)."""

    name = "parallel"

    def __init__(self, address: int | str = 0x0378, pulse_s: float = DEFAULT_PULSE_S) -> None:
        super().__init__(pulse_s)
        try:
            from psychopy import parallel

            self.port = parallel.ParallelPort(address=address)
        except Exception as exc:  # the driver raises many kinds; report one clearly
            raise MarkerError(f"parallel port {address!r} could not be opened: {exc}") from None
        self.reset()

    def _write(self, code: int) -> None:
        self.port.setData(code)


class SerialMarkers(_PulsedBackend):
    """A serial trigger box: one byte per marker, then a 0 byte."""

    name = "serial"

    def __init__(self, device: str, baudrate: int = 115200, pulse_s: float = DEFAULT_PULSE_S):
        super().__init__(pulse_s)
        try:
            import serial

            self.port = serial.Serial(device, baudrate=baudrate, timeout=0, write_timeout=0.1)
        except Exception as exc:
            raise MarkerError(f"serial port {device!r} could not be opened: {exc}") from None
        self.reset()

    def _write(self, code: int) -> None:
        self.port.write(bytes([code]))
        self.port.flush()

    def close(self) -> None:
        super().close()
        self.port.close()


class NullMarkers:
    """No hardware: markers go only to the events file."""

    name = "none"

    def send(self, code: int, lsl_time: float) -> None:
        pass

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


def open_backends(spec: str | Sequence[str]) -> list[MarkerBackend]:
    """Open the back ends named by ``spec``.

    Parameters
    ----------
    spec : str or list of str
        Comma-separated: ``lsl``, ``parallel``, ``parallel:0x0378``, ``serial:/dev/ttyUSB0``,
        ``serial:/dev/ttyUSB0@9600``, ``none``.

    Raises
    ------
    MarkerError
        For an unknown back end or a device that cannot be opened.

    Examples
    --------
    >>> [b.name for b in open_backends("none")]
    ['none']
    """
    words = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[MarkerBackend] = []
    for word in (w.strip() for w in words):
        if not word:
            continue
        kind, _, arg = word.partition(":")
        if kind == "lsl":
            out.append(LSLMarkerOutlet(arg or MARKER_STREAM_NAME))
        elif kind == "parallel":
            out.append(ParallelPortMarkers(int(arg, 0) if arg else 0x0378))
        elif kind == "serial":
            if not arg:
                raise MarkerError("serial back end needs a device: serial:/dev/ttyUSB0[@BAUD]")
            device, _, baud = arg.partition("@")
            out.append(SerialMarkers(device, int(baud) if baud else 115200))
        elif kind == "none":
            out.append(NullMarkers())
        else:
            raise MarkerError(
                f"unknown marker back end {kind!r} in {spec!r}; "
                "expected lsl, parallel[:ADDR], serial:DEV[@BAUD] or none"
            )
    if not out:
        out.append(NullMarkers())
    return out


@dataclass(frozen=True)
class SentMarker:
    """A marker as it went out."""

    code: int
    label: str
    psychopy_time: float
    lsl_time: float


def _lsl_clock() -> Callable[[], float]:
    try:
        import pylsl

        return pylsl.local_clock
    except ImportError:  # pragma: no cover - pylsl is a core dependency
        return time.monotonic


def _psychopy_clock() -> Callable[[], float]:
    try:
        from psychopy import core

        return core.getTime
    except ImportError:
        return time.perf_counter


class MarkerSender:
    """Send each marker on every back end and report it to ``on_sent``.

    Parameters
    ----------
    backends : list of MarkerBackend
    on_sent : callable(SentMarker) or None
        Called for every marker after it went out (the session appends it to
        ``_events.tsv``).
    hold_flip_writes : bool
        Markers sent on a flip (:meth:`send_on_flip`, or ``send(..., hold=True)`` from a
        flip callback) go out at once but reach ``on_sent`` only at :meth:`write_held`,
        which the caller runs right after the flip. Every marker of a flip thus leaves
        before any of them is written (an fsync takes milliseconds and would delay the
        later markers of the same flip). Off by default: ``on_sent`` runs at each send.

    Examples
    --------
    >>> got = []
    >>> sender = MarkerSender([NullMarkers()], on_sent=got.append)
    >>> sender.send(20, "baseline_onset").code
    20
    >>> got[0].label
    'baseline_onset'
    """

    def __init__(
        self,
        backends: Sequence[MarkerBackend],
        on_sent: Callable[[SentMarker], None] | None = None,
        *,
        lsl_clock: Callable[[], float] | None = None,
        psychopy_clock: Callable[[], float] | None = None,
        warn: Callable[[str], None] | None = None,
        hold_flip_writes: bool = False,
    ) -> None:
        self.backends = list(backends)
        self.hold_flip_writes = hold_flip_writes
        self._held: list[SentMarker] = []
        self.on_sent = on_sent
        self.warn = warn  # None: a failing back end raises; else warn and go on
        self._failed: set[int] = set()
        self.lsl_clock = lsl_clock or _lsl_clock()
        self.psychopy_clock = psychopy_clock or _psychopy_clock()
        self.sent: list[SentMarker] = []

    def send(
        self,
        code: int,
        label: str,
        *,
        psychopy_time: float | None = None,
        lsl_time: float | None = None,
        hold: bool = False,
    ) -> SentMarker:
        """Send ``code`` now on every back end.

        ``psychopy_time``/``lsl_time`` stamp the marker with a measured time (the audio
        onset reported by the sound driver) instead of the time of the call. ``hold``
        (inside a flip callback, with ``hold_flip_writes``): report it to ``on_sent`` only
        at :meth:`write_held`.
        """
        _check_code(code)
        now_lsl = self.lsl_clock()
        now_py = self.psychopy_clock()
        lsl_t = now_lsl if lsl_time is None else float(lsl_time)
        py_t = now_py if psychopy_time is None else float(psychopy_time)
        for backend in self.backends:
            self._send_one(backend, code, lsl_t)
        marker = SentMarker(code, label, py_t, lsl_t)
        self.sent.append(marker)
        if hold and self.hold_flip_writes:
            self._held.append(marker)
        else:
            self.write_held()  # earlier markers first: _events.tsv stays in sending order
            if self.on_sent is not None:
                self.on_sent(marker)
        return marker

    def write_held(self) -> None:
        """Report the markers held since the last flip to ``on_sent`` (run after a flip)."""
        while self._held:
            marker = self._held.pop(0)
            if self.on_sent is not None:
                self.on_sent(marker)

    def _send_one(self, backend: MarkerBackend, code: int, lsl_t: float) -> None:
        """One back end; with ``warn`` set, a lost back end is reported once and skipped.

        The marker still reaches ``on_sent`` (``_events.tsv``), so no event is lost when the
        LSL outlet or a trigger port goes away mid-session.
        """
        if self.warn is None:
            backend.send(code, lsl_t)
            return
        key = id(backend)
        try:
            backend.send(code, lsl_t)
        except Exception as exc:  # any driver/outlet failure: report, keep the session going
            if key not in self._failed:
                self._failed.add(key)
                stamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
                self.warn(f"{stamp} WARNING marker back end {getattr(backend, 'name', '?')!r} "
                          f"failed ({type(exc).__name__}: {exc}); markers still go to "
                          "_events.tsv; the session goes on")
            return
        if key in self._failed:
            self._failed.discard(key)
            stamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
            self.warn(f"{stamp} marker back end {getattr(backend, 'name', '?')!r} is back")

    def send_on_flip(self, win, code: int, label: str) -> None:
        """Send ``code`` right after the next ``win.flip()`` (time-locked to the screen)."""
        _check_code(code)
        win.callOnFlip(self.send, code, label, hold=True)

    def reset(self) -> None:
        """Set every trigger line back to 0."""
        for backend in self.backends:
            backend.reset()

    def close(self) -> None:
        """Write held markers, reset and release every back end (safe to call twice)."""
        self.write_held()
        for backend in self.backends:
            try:
                backend.close()
            except Exception:  # closing must never stop the session from saving
                pass
        self.backends = []
