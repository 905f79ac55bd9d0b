"""Event markers: one small interface, several back ends, usable at once.

Back ends
---------
- ``lsl``: a LabStreamingLayer outlet (pylsl; always available), one int32 channel, irregular
  rate. Every sample carries an explicit LSL timestamp, so an audio marker can be stamped
  with the measured audio onset.
- ``parallel[:PORT]``: an 8-bit parallel port through ``psychopy.parallel`` (e.g. the
  digital inputs of a BIOPAC MP160). Lines go back to 0 after each pulse and on close.
  PORT is the ppdev device file on Linux (``parallel:/dev/parport0``, the default; needs
  the ``ppdev`` kernel module and membership of the ``lp`` group) and the port's I/O
  address on Windows (``parallel:0x0378``, the default; Device Manager > Ports > LPT >
  Resources shows it; needs the inpout32/inpoutx64 driver). A Windows address on Linux (or
  a device file on Windows) is refused with a message saying what to write instead.
- ``serial:DEVICE[@BAUD]``: a serial trigger box through pyserial (one byte per marker,
  then a 0 byte after the pulse). DEVICE is ``/dev/ttyUSB0``/``/dev/ttyACM0`` on Linux,
  ``/dev/cu.usbserial-*`` on macOS and ``COM3`` on Windows; BAUD defaults to 115200.
- ``none``: markers only go to the session's ``_events.tsv``.

The task code never knows which back ends are active: it calls :meth:`MarkerSender.send`
(or :meth:`MarkerSender.send_on_flip` for screen events) and every marker is also handed to
``on_sent`` with its PsychoPy-clock and LSL-clock times, which the session writes to
``_events.tsv``.
"""

from __future__ import annotations

import os
import queue
import re
import socket
import stat
import sys
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
        # lazy: liblsl reads its config (LSLAPICFG) when pylsl loads; the caller sets it first
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


_LINUX_PARPORT_RE = re.compile(r"^/dev/(parport|parports/)\d+$")
_WIN_COM_RE = re.compile(r"^COM\d+$", re.IGNORECASE)


def parse_parallel_port(arg: str, platform: str | None = None) -> int | str:
    """What ``parallel[:ARG]`` means on this platform: a device file or an I/O address.

    Examples
    --------
    >>> parse_parallel_port("", "linux"), parse_parallel_port("/dev/parport1", "linux")
    ('/dev/parport0', '/dev/parport1')
    >>> hex(parse_parallel_port("0x0378", "win32")), hex(parse_parallel_port("", "win32"))
    ('0x378', '0x378')
    >>> try:
    ...     parse_parallel_port("0x0378", "linux")
    ... except MarkerError as exc:
    ...     print(str(exc)[:75])
    parallel:0x0378 is a Windows I/O port address; on Linux name the port's ppd
    """
    platform = platform or sys.platform
    arg = arg.strip()
    if platform.startswith("linux"):
        if not arg:
            return "/dev/parport0"
        if arg.startswith("/"):
            if not _LINUX_PARPORT_RE.match(arg):
                raise MarkerError(f"parallel:{arg}: not a parallel-port device name; expected "
                                  "/dev/parportN (e.g. parallel:/dev/parport0)")
            return arg
        raise MarkerError(
            f"parallel:{arg} is a Windows I/O port address; on Linux name the port's ppdev "
            "device file instead, e.g. parallel:/dev/parport0 (LPT1), parallel:/dev/parport1 "
            "(LPT2); 'ls /dev/parport*' lists them")
    if platform == "win32":
        if not arg:
            return 0x0378
        try:
            address = int(arg, 16)  # "0x0378" and "378" alike: addresses are hex
        except ValueError:
            raise MarkerError(
                f"parallel:{arg}: on Windows give the port's I/O address in hex, e.g. "
                "parallel:0x0378 or parallel:0xD010 (Device Manager > Ports (COM & LPT) > the "
                "LPT port > Resources > I/O Range)") from None
        if not 0 < address <= 0xFFFF:
            raise MarkerError(f"parallel:{arg}: an I/O address is 0x0001-0xFFFF")
        return address
    raise MarkerError(f"parallel port markers are not supported on {platform}: use lsl or "
                      "a serial trigger box (serial:/dev/cu.usbserial-XXXX)")


def _check_device_file(path: str, kind: str, hint: str) -> None:
    """A clear error for a device file that is missing, not a device, or not writable."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise MarkerError(f"{kind} {path} does not exist; {hint}") from None
    except OSError as exc:
        raise MarkerError(f"{kind} {path}: {exc.strerror}") from None
    if not stat.S_ISCHR(mode):
        raise MarkerError(f"{kind} {path} is not a device (not a character device file); "
                          f"{hint}")
    if not os.access(path, os.W_OK):
        raise MarkerError(f"{kind} {path}: permission denied; add the experimenter's account "
                          "to the device's group (ls -l shows it: usually lp for parallel, "
                          "dialout for serial ports), then log in again")


class ParallelPortMarkers(_PulsedBackend):
    """8-bit parallel port via ``psychopy.parallel``.

    ``port``: ``/dev/parportN`` on Linux, an I/O address (e.g. ``0x0378``) on Windows; see
    :func:`parse_parallel_port`.
    """

    name = "parallel"

    def __init__(self, port: int | str | None = None, pulse_s: float = DEFAULT_PULSE_S) -> None:
        super().__init__(pulse_s)
        if port is None or isinstance(port, str):
            port = parse_parallel_port(port or "")
        shown = hex(port) if isinstance(port, int) else port
        if isinstance(port, str):
            _check_device_file(port, "parallel port", "load the ppdev kernel module "
                               "(sudo modprobe ppdev) and check 'ls /dev/parport*'")
        try:
            # lazy: PsychoPy takes seconds to load; only a parallel-port back end needs it
            from psychopy import parallel

            self.port = parallel.ParallelPort(address=port)
        except ImportError as exc:
            raise MarkerError(f"parallel port {shown}: the driver is missing ({exc}); on "
                              "Linux install pyparallel, on Windows the inpoutx64 driver"
                              ) from None
        except Exception as exc:  # the driver raises many kinds; report one clearly
            raise MarkerError(f"parallel port {shown} could not be opened: {exc}") from None
        self.reset()

    def _write(self, code: int) -> None:
        self.port.setData(code)


class SerialMarkers(_PulsedBackend):
    """A serial trigger box: one byte per marker, then a 0 byte."""

    name = "serial"

    def __init__(self, device: str, baudrate: int = 115200, pulse_s: float = DEFAULT_PULSE_S):
        super().__init__(pulse_s)
        if sys.platform != "win32":
            _check_device_file(device, "serial port", "is the trigger box plugged in? ports "
                               f"seen: {_serial_ports() or 'none'}")
        try:
            # lazy: pyserial is needed only with a serial trigger box
            import serial

            self.port = serial.Serial(device, baudrate=baudrate, timeout=0, write_timeout=0.1)
        except Exception as exc:
            raise MarkerError(f"serial port {device!r} could not be opened: {exc}; ports "
                              f"seen: {_serial_ports() or 'none'}") from None
        self.reset()

    def _write(self, code: int) -> None:
        self.port.write(bytes([code]))
        self.port.flush()

    def close(self) -> None:
        super().close()
        self.port.close()


def _serial_ports() -> str:
    try:
        # lazy: pyserial is needed only with a serial trigger box
        from serial.tools import list_ports

        return ", ".join(sorted(p.device for p in list_ports.comports()))
    except Exception:
        return ""


def parse_serial_port(arg: str, platform: str | None = None) -> tuple[str, int]:
    """(device, baud rate) of ``serial:DEVICE[@BAUD]`` on this platform.

    Examples
    --------
    >>> parse_serial_port("/dev/ttyUSB0@9600", "linux")
    ('/dev/ttyUSB0', 9600)
    >>> parse_serial_port("com3", "win32")
    ('COM3', 115200)
    >>> try:
    ...     parse_serial_port("COM3", "linux")
    ... except MarkerError as exc:
    ...     print(str(exc)[:60])
    serial:COM3 is a Windows port name; on linux name the device
    """
    platform = platform or sys.platform
    device, _, baud_text = arg.strip().partition("@")
    device = device.strip()
    if not device:
        raise MarkerError("serial back end needs a device: serial:/dev/ttyUSB0[@BAUD] "
                          "(Linux), serial:COM3[@BAUD] (Windows)")
    baud = 115200
    if baud_text:
        try:
            baud = int(baud_text)
        except ValueError:
            baud = 0
        if baud <= 0:
            raise MarkerError(f"serial:{arg}: baud rate {baud_text!r} must be a positive "
                              "whole number, e.g. @115200")
    if platform == "win32":
        if not _WIN_COM_RE.match(device):
            raise MarkerError(f"serial:{device}: on Windows name the COM port, e.g. "
                              "serial:COM3 (Device Manager > Ports (COM & LPT))")
        return device.upper(), baud
    if _WIN_COM_RE.match(device):
        raise MarkerError(f"serial:{device} is a Windows port name; on {platform} name the "
                          "device file, e.g. serial:/dev/ttyUSB0 or serial:/dev/ttyACM0 "
                          "('ls /dev/tty*' lists them)")
    if not device.startswith("/"):
        raise MarkerError(f"serial:{device}: expected a device file such as /dev/ttyUSB0")
    return device, baud


class NullMarkers:
    """No hardware: markers go only to the events file."""

    name = "none"

    def send(self, code: int, lsl_time: float) -> None:
        pass

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


def open_backends(spec: str | Sequence[str],
                  lsl_source_id: str | None = None) -> list[MarkerBackend]:
    """Open the back ends named by ``spec``.

    Parameters
    ----------
    spec : str or list of str
        Comma-separated: ``lsl``, ``parallel`` (``parallel:/dev/parport0`` on Linux,
        ``parallel:0x0378`` on Windows), ``serial:/dev/ttyUSB0``, ``serial:COM3@9600``,
        ``none``.
    lsl_source_id : str, optional
        The LSL marker outlet's source_id (a session passes one unique to itself, so its
        recorder can tell its own markers from another session's).

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
            out.append(LSLMarkerOutlet(arg or MARKER_STREAM_NAME, source_id=lsl_source_id))
        elif kind == "parallel":
            out.append(ParallelPortMarkers(parse_parallel_port(arg)))
        elif kind == "serial":
            device, baud = parse_serial_port(arg)
            out.append(SerialMarkers(device, baud))
        elif kind == "none":
            out.append(NullMarkers())
        else:
            raise MarkerError(
                f"unknown marker back end {kind!r} in {spec!r}; "
                "expected lsl, parallel[:PORT], serial:DEV[@BAUD] or none"
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
        # lazy: liblsl reads its config (LSLAPICFG) when pylsl loads; the caller sets it first
        import pylsl

        return pylsl.local_clock
    except ImportError:  # pragma: no cover - pylsl is a core dependency
        return time.monotonic


def _psychopy_clock() -> Callable[[], float]:
    try:
        # lazy: PsychoPy takes seconds to load; `soothe run --help` and `--close` import this module
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
