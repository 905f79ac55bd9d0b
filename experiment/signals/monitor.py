"""Read the physiology LSL streams into short ring buffers for the live signal check.

:class:`SignalMonitor` opens its own LSL inlets on the streams the session records (the same
stream types as :class:`experiment.recorder.LSLRecorder`, or the source ids given), sorts
their channels into ECG, EDA and respiration by the channel metadata, converts units (ECG to
mV, EDA to µS) and keeps the last :data:`KEEP_S` seconds of each. A background thread
pulls every few milliseconds; :meth:`SignalMonitor.frame` hands a consistent copy to the
page and to the verdict functions. The deep-breath cue is an LSL marker (stream
``soothe_breath_cue``) so that its time is on the same clock as the samples: one cue stream
per physiology stream read, whose source id names that stream (:func:`cue_source_id`), so a
simulated device hears the check that reads it and no other.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from physio.eda.eda_clean import eda_to_microsiemens

if TYPE_CHECKING:  # verdict loads scipy.signal (seconds on a busy machine): only when judging
    from experiment.signals import verdict as vd

PHYSIO_TYPES: tuple[str, ...] = ("ECG", "EDA", "GSR", "Physio", "ExG")
KEEP_S = 60.0  # the deep-breath test stays judged for a minute after its cue
JUDGE_S = 10.0
CUE_STREAM = "soothe_breath_cue"
RESP_PATTERN = re.compile(r"resp|rsp|respirat|breath|belt|pneumo", re.I)
_ECG_UNITS = {"mv": 1.0, "millivolts": 1.0, "v": 1000.0, "volts": 1000.0, "uv": 1e-3,
              "µv": 1e-3, "microvolts": 1e-3}


def cue_source_id(data_source_id: str) -> str:
    """Source id of the deep-breath cue stream for the physiology stream ``data_source_id``.

    The check opens one cue stream per physiology stream it reads; the simulated device with
    that source id listens for exactly this one. Tied to the data stream (not to a process),
    so two checks never share a cue stream, and a cue stream left open by an earlier check
    cannot be mistaken for the current one.

    Examples
    --------
    >>> cue_source_id("soothe_sim-42-ab12")
    'soothe_breath_cue_for_soothe_sim-42-ab12'
    """
    return f"{CUE_STREAM}_for_{data_source_id}"


def channel_kind(label: str, ctype: str) -> str | None:
    """ECG, EDA, RESP or None from an LSL channel's label and type.

    Examples
    --------
    >>> channel_kind("ecg", "ECG"), channel_kind("GSR1", "Physio"), channel_kind("Belt", "")
    ('ECG', 'EDA', 'RESP')
    >>> channel_kind("temp", "Physio") is None
    True
    """
    text = f"{label} {ctype}".lower()
    if RESP_PATTERN.search(text):
        return "RESP"
    if re.search(r"\b(ecg|ekg)|^ecg|^ekg", text) or ctype.lower() in ("ecg", "ekg"):
        return "ECG"
    if re.search(r"eda|gsr|scl|skin|conductance", text):
        return "EDA"
    return None


def to_standard_units(kind: str, x: np.ndarray, unit: str, label: str) -> np.ndarray:
    """ECG to mV, EDA to µS, respiration unchanged; a clear ValueError for unknown units.

    Examples
    --------
    >>> to_standard_units("ECG", np.array([0.001]), "V", "ecg").tolist()
    [1.0]
    """
    if kind == "ECG":
        key = (unit or "mV").strip().lower()
        if key not in _ECG_UNITS:
            raise ValueError(f"ECG channel {label!r}: unknown units {unit!r}; expected V, mV "
                             "or uV")
        return x * _ECG_UNITS[key]
    if kind == "EDA":
        try:
            return eda_to_microsiemens(x, "" if unit in ("n/a", None) else unit, name=label)
        except Exception as exc:  # the physio error names the channel and the units
            raise ValueError(str(exc)) from None
    return x


class _Ring:
    """The last ``capacity`` samples with their LSL times."""

    def __init__(self, capacity: int) -> None:
        self.t = np.full(capacity, np.nan)
        self.x = np.full(capacity, np.nan)
        self.n = 0  # samples ever written

    def push(self, t: np.ndarray, x: np.ndarray) -> None:
        cap = len(self.t)
        if len(t) >= cap:
            t, x = t[-cap:], x[-cap:]
        idx = (self.n + np.arange(len(t))) % cap
        self.t[idx] = t
        self.x[idx] = x
        self.n += len(t)

    def last(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        count = min(count, self.n, len(self.t))
        idx = (self.n - count + np.arange(count)) % len(self.t)
        return self.t[idx].copy(), self.x[idx].copy()


@dataclass
class Channel:
    kind: str
    label: str
    unit: str
    fs: float
    stream: str
    ring: _Ring


@dataclass
class Frame:
    """A consistent copy of what the check sees at one moment."""

    lsl_now: float
    channels: dict[str, tuple[np.ndarray, np.ndarray, float]]  # kind -> (lsl t, x, fs)
    cues: list[float]
    verdicts: dict[str, vd.Verdict] = field(default_factory=dict)
    newest: float = float("nan")  # LSL time of the newest sample of any channel

    @property
    def status(self) -> str:
        # lazy: verdict loads scipy.signal (seconds); the simulated device imports this module too
        from experiment.signals import verdict as vd

        return vd.overall(list(self.verdicts.values())) if self.verdicts else vd.NO_SIGNAL


def judge_frame(frame: Frame, *, inverted_ok: bool = False, judge_s: float = JUDGE_S
                ) -> dict[str, vd.Verdict]:
    """Verdicts on the last ``judge_s`` seconds of every channel of ``frame``.

    Examples
    --------
    >>> f = Frame(0.0, {"ECG": (np.arange(5000) / 500, np.zeros(5000), 500.0)}, [])
    >>> judge_frame(f)["ECG"].status
    'no signal'
    """
    # lazy: verdict loads scipy.signal (seconds); the simulated device imports this module too
    from experiment.signals import verdict as vd

    out: dict[str, vd.Verdict] = {}
    for kind, (t, x, fs) in frame.channels.items():
        n = int(judge_s * fs)
        if kind == "EDA" and len(t) and frame.cues:
            # reach back to the latest deep-breath cue (and 2 s before it, for the tonic
            # trend), so the test's result stays on screen while the frame holds it
            start = min(t[-1] - judge_s, frame.cues[-1] - 2.0)
            n = max(n, int(np.count_nonzero(t >= start)))
        history = x
        t, x = t[-n:], x[-n:]
        if kind == "ECG":
            out[kind] = vd.judge_ecg(x, fs, inverted_ok=inverted_ok)
        elif kind == "EDA":
            cues = [c - t[0] for c in frame.cues] if len(t) else []
            out[kind] = vd.judge_eda(x, fs, cues_s=cues)
        else:
            # the frame's minute of belt signal stands for the breathing depth (quiet belt)
            out[kind] = vd.judge_resp(x, fs, reference=history)
    return out


class SignalMonitor(threading.Thread):
    """Background reader of the physiology LSL streams for the signal check.

    Parameters
    ----------
    source_ids : sequence of str, optional
        Open only these streams (the session's own); otherwise every stream of ``types``.
    types : sequence of str
        LSL stream types taken as physiology.
    warn : callable(str)
        Receives problems (unknown units, nothing found).
    """

    def __init__(self, source_ids: Sequence[str] | None = None,
                 types: Sequence[str] = PHYSIO_TYPES,
                 warn: Callable[[str], None] = print) -> None:
        super().__init__(name="soothe-signal-check", daemon=True)
        self.source_ids = list(source_ids) if source_ids else None
        self.types = {t.lower() for t in types}
        self.warn = warn
        self.channels: dict[str, Channel] = {}
        self._inlets: list[tuple[object, list[tuple[int, Channel]]]] = []
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self.cues: list[float] = []
        self.found = threading.Event()
        self._cue_outlets: dict[str, object] = {}

    # ------------------------------------------------------------------ discovery
    def _wanted(self, info) -> bool:
        if self.source_ids is not None:
            return info.source_id() in self.source_ids
        return info.type().lower() in self.types

    def _open(self, info) -> None:
        # lazy: liblsl reads its config (LSLAPICFG) when pylsl loads; the caller sets it first
        import pylsl

        inlet = pylsl.StreamInlet(info, max_buflen=10, processing_flags=pylsl.proc_clocksync)
        full = inlet.info(timeout=5.0)
        fs = full.nominal_srate()
        if fs <= 0:
            self.warn(f"LSL stream {info.name()!r}: irregular rate; not a physiology signal")
            return
        picks: list[tuple[int, Channel]] = []
        ch = full.desc().child("channels").child("channel")
        for i in range(full.channel_count()):
            label = ch.child_value("label") if not ch.empty() else f"ch{i + 1}"
            unit = ch.child_value("unit") if not ch.empty() else ""
            ctype = (ch.child_value("type") if not ch.empty() else "") or full.type()
            if not ch.empty():
                ch = ch.next_sibling()
            kind = channel_kind(label, ctype)
            if kind is None or kind in self.channels:
                continue
            try:
                to_standard_units(kind, np.zeros(1), unit, label)
            except ValueError as exc:
                self.warn(f"LSL stream {info.name()!r}: {exc}")
                continue
            chan = Channel(kind, label, unit, fs, info.name(), _Ring(int(KEEP_S * fs)))
            self.channels[kind] = chan
            picks.append((i, chan))
        if picks:
            # the deep-breath cue for this stream's device (a simulated participant listens)
            cue = pylsl.StreamInfo(CUE_STREAM, "Markers", 1, 0, pylsl.cf_string,
                                   cue_source_id(info.source_id()))
            with self._lock:
                self._cue_outlets[info.source_id()] = pylsl.StreamOutlet(cue)
            self._inlets.append((inlet, picks))
            self.found.set()

    def discover(self, wait_s: float = 1.0) -> list[str]:
        """Open the wanted streams visible now; return the channel kinds found."""
        # lazy: liblsl reads its config (LSLAPICFG) when pylsl loads; the caller sets it first
        import pylsl

        opened = {inl.info().source_id() for inl, _ in self._inlets}
        if self.source_ids is not None:  # ask for exactly these (fast on a busy network)
            infos = [i for sid in self.source_ids if sid not in opened
                     for i in pylsl.resolve_byprop("source_id", sid, 1, wait_s)]
        else:
            infos = pylsl.resolve_streams(wait_time=wait_s)
        for info in infos:
            if self._wanted(info) and info.source_id() not in opened:
                self._open(info)
                opened.add(info.source_id())
        return sorted(self.channels)

    # ------------------------------------------------------------------ loop
    def run(self) -> None:
        last_look = 0.0
        while not self._stop_event.is_set():
            if not self._inlets and time.monotonic() - last_look > 0.5:
                self.discover(wait_s=1.0)
                last_look = time.monotonic()
            got = False
            for inlet, picks in self._inlets:
                data, stamps = inlet.pull_chunk(timeout=0.0)
                if not stamps:
                    continue
                got = True
                arr = np.asarray(data, dtype=np.float64)
                ts = np.asarray(stamps, dtype=np.float64)
                with self._lock:
                    for i, chan in picks:
                        chan.ring.push(ts, to_standard_units(chan.kind, arr[:, i], chan.unit,
                                                             chan.label))
            if not got:
                time.sleep(0.003)

    def stop(self) -> None:
        self._stop_event.set()
        if self.is_alive():
            self.join(2.0)
        # close the cue streams (and the inlets): nothing of this check stays on the network
        with self._lock:
            self._cue_outlets.clear()
        self._inlets.clear()

    # ------------------------------------------------------------------ use
    def cue_deep_breath(self) -> float:
        """Mark 'deep breath now' (LSL time) and send it on the cue streams."""
        # lazy: liblsl reads its config (LSLAPICFG) when pylsl loads; the caller sets it first
        import pylsl

        now = pylsl.local_clock()
        with self._lock:
            self.cues.append(now)
            outlets = list(self._cue_outlets.values())
        for outlet in outlets:
            outlet.push_sample(["deep_breath"], now)
        return now

    def wait_for_cue_listener(self, timeout_s: float = 5.0) -> bool:
        """Wait until something listens to a cue stream (the simulated participant).

        A cue sent before the listener is connected is lost (an LSL inlet gets only the
        samples pushed after it connects): ask for the deep breath after this returns True.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                outlets = list(self._cue_outlets.values())
            if any(o.have_consumers() for o in outlets):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def seconds_of_data(self) -> float:
        """Seconds of signal held for the channel with the least (0 when none)."""
        with self._lock:
            if not self.channels:
                return 0.0
            return min(min(c.ring.n, len(c.ring.t)) / c.fs for c in self.channels.values())

    def frame(self, seconds: float = KEEP_S) -> Frame:
        """The last ``seconds`` of every channel (LSL times and values), and the cues."""
        # lazy: liblsl reads its config (LSLAPICFG) when pylsl loads; the caller sets it first
        import pylsl

        with self._lock:
            chans = {k: (*c.ring.last(int(seconds * c.fs)), c.fs)
                     for k, c in self.channels.items()}
            cues = list(self.cues)
        newest = max((float(t[-1]) for t, _, _ in chans.values() if len(t)),
                     default=float("nan"))
        return Frame(pylsl.local_clock(), chans, cues, newest=newest)
