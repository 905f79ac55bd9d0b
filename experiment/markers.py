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
    """Shared pulse logic: set the code, then back to 0 after ``pulse_s`` (timer thread)."""

    name = "pulsed"

    def __init__(self, pulse_s: float = DEFAULT_PULSE_S) -> None:
        self.pulse_s = float(pulse_s)
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def _write(self, code: int) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def send(self, code: int, lsl_time: float) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._write(int(code))
            self._timer = threading.Timer(self.pulse_s, self._reset_in_timer)
            self._timer.daemon = True
            self._timer.start()

    def _reset_in_timer(self) -> None:
        """The end of a pulse, on the timer thread: a device that has just gone away must
        not raise there (nobody would see it); the next ``send`` reports the loss."""
        try:
            self.reset()
        except Exception:  # the next send() raises on the main thread and is reported
            pass

    def reset(self) -> None:
        self._write(0)

    def close(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
        self.reset()


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
    ) -> None:
        self.backends = list(backends)
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
    ) -> SentMarker:
        """Send ``code`` now on every back end.

        ``psychopy_time``/``lsl_time`` stamp the marker with a measured time (the audio
        onset reported by the sound driver) instead of the time of the call.
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
        if self.on_sent is not None:
            self.on_sent(marker)
        return marker

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
        win.callOnFlip(self.send, code, label)

    def reset(self) -> None:
        """Set every trigger line back to 0."""
        for backend in self.backends:
            backend.reset()

    def close(self) -> None:
        """Reset and release every back end (safe to call twice)."""
        for backend in self.backends:
            try:
                backend.close()
            except Exception:  # closing must never stop the session from saving
                pass
        self.backends = []
