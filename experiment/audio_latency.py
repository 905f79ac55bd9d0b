"""Audio-onset latency: play clicks, find them in a recorded channel, compare with markers.

The session stamps its ``audio_onset`` marker with the onset the sound driver reports (PTB's
``StartTime``). Whether the sound really starts then is measured here: a train of clicks is
played through the same player (:class:`experiment.audio_player.AudioPlayer`), each click's
marker is stamped exactly as the session stamps ``audio_onset``, and the clicks are found
in a recording of the audio output. Latency = click onset in the recording minus its
marker; jitter = the SD of the latencies.

Two recordings are supported:

- **lab**: the audio output is cabled into an amplifier input that streams on LSL
  (``--latency-source lsl:STREAM:CHANNEL``); the amplifier's LSL timestamps are compared
  with the markers directly, so the figure includes the sound card's real output latency.
- **JACK loopback** (CI, no sound card): a JACK client of our own is connected to the
  player's output ports and timestamps each block it receives (LSL clock, at the start of
  its process callback). What it measures is the software path up to the JACK graph; the
  driver's output latency after the graph, which PTB's predicted ``StartTime`` includes,
  is added from PTB's own prediction (``PredictedLatency``) and reported separately.

Click finding (:func:`find_click_onsets`): the first sample whose magnitude exceeds a
threshold of half the largest magnitude, or 8 robust SDs (MAD) of the signal above its
median when that is larger, with a refractory time; each marker is paired with the first
click in a window after it (:func:`pair_latencies`). A marker without a click stays NaN and
is reported.
"""

from __future__ import annotations

import math
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile

from experiment.audio_player import AudioPlayer, choose_backend
from experiment.clocks import core_minus_lsl
from experiment.errors import SessionError
from experiment.markers import MarkerSender, open_backends

#: a marker is paired with the first click from this long before it to this long after it
PAIR_WINDOW_S = (-0.05, 0.35)


class LatencyCheckError(SessionError):
    """The latency check cannot run or its recording is unusable."""


def write_click(path: Path, rate: int = 44100, click_s: float = 0.001,
                length_s: float = 0.06, amplitude: float = 0.8) -> Path:
    """A WAV file with one rectangular click at its very start, then silence.

    Examples
    --------
    >>> import tempfile, soundfile
    >>> p = write_click(Path(tempfile.mkdtemp()) / "click.wav")
    >>> x, fs = soundfile.read(str(p))
    >>> fs, int((abs(x) > 0.5).sum())
    (44100, 44)
    """
    x = np.zeros(int(round(length_s * rate)))
    x[: max(1, int(round(click_s * rate)))] = amplitude
    soundfile.write(str(path), x, rate)
    return Path(path)


def find_click_onsets(times: np.ndarray, signal: np.ndarray, refractory_s: float = 0.15,
                      min_relative: float = 0.5, min_robust_sd: float = 8.0) -> np.ndarray:
    """Times of the clicks in a recorded channel.

    Parameters
    ----------
    times, signal : array
        Sample times (s) and values of one channel, same length.
    refractory_s : float
        After a click, no new click starts within this time.
    min_relative : float
        Threshold as a fraction of the largest deviation from the median.
    min_robust_sd : float
        The threshold is at least this many robust SDs (1.4826 * MAD) above the median.

    Raises
    ------
    LatencyCheckError
        Mismatched or empty input, or a flat channel (nothing to find).

    Examples
    --------
    >>> t = np.arange(10000) / 1000.0
    >>> x = np.zeros_like(t); x[[1000, 4000, 4001, 7500]] = 1.0
    >>> find_click_onsets(t, x).tolist()
    [1.0, 4.0, 7.5]
    """
    t = np.asarray(times, dtype=float)
    x = np.asarray(signal, dtype=float)
    if t.shape != x.shape or t.ndim != 1:
        raise LatencyCheckError(f"recorded channel: {len(t)} time stamps for {x.size} samples")
    if not len(t):
        raise LatencyCheckError("recorded channel is empty: nothing reached the recorder")
    ok = np.isfinite(t) & np.isfinite(x)
    t, x = t[ok], x[ok]
    dev = np.abs(x - np.median(x))
    peak = float(dev.max()) if len(dev) else 0.0
    if peak <= 0:
        raise LatencyCheckError("recorded channel is flat: no click reached it (is the audio "
                                "output connected to the recorded input?)")
    robust = 1.4826 * float(np.median(dev))
    threshold = max(min_relative * peak, min_robust_sd * robust)
    above = np.flatnonzero(dev > threshold)
    onsets: list[float] = []
    for i in above:
        if not onsets or t[i] - onsets[-1] >= refractory_s:
            onsets.append(float(t[i]))
    return np.asarray(onsets)


def pair_latencies(markers: Sequence[float], clicks: Sequence[float],
                   window: tuple[float, float] = PAIR_WINDOW_S) -> np.ndarray:
    """Latency (s) of each marker's click: the first click in ``window`` after it, else NaN.

    Examples
    --------
    >>> pair_latencies([1.0, 2.0, 3.0], [1.012, 2.011, 9.0]).round(3).tolist()
    [0.012, 0.011, nan]
    """
    c = np.sort(np.asarray(clicks, dtype=float))
    out = np.full(len(markers), np.nan)
    for k, m in enumerate(markers):
        hit = c[(c >= m + window[0]) & (c <= m + window[1])]
        if len(hit):
            out[k] = hit[0] - m
    return out


@dataclass
class LatencyReport:
    """What the check found (all times in ms)."""

    source: str
    n_clicks: int
    n_found: int
    latency_ms: float  # mean of the found clicks
    jitter_ms: float  # SD of the latencies (ddof=1)
    median_ms: float
    max_abs_dev_ms: float  # largest distance from the median
    latencies_ms: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_latencies(cls, source: str, latencies_s: np.ndarray,
                       notes: list[str] | None = None) -> LatencyReport:
        """Summary of per-click latencies (NaN = no click found).

        Examples
        --------
        >>> r = LatencyReport.from_latencies("x", np.array([0.010, 0.012, np.nan]))
        >>> r.n_found, round(r.latency_ms, 3), round(r.jitter_ms, 3)
        (2, 11.0, 1.414)
        """
        ms = np.asarray(latencies_s, dtype=float) * 1000
        found = ms[np.isfinite(ms)]
        nan = float("nan")
        med = float(np.median(found)) if len(found) else nan
        return cls(
            source=source, n_clicks=len(ms), n_found=len(found),
            latency_ms=float(found.mean()) if len(found) else nan,
            jitter_ms=float(found.std(ddof=1)) if len(found) > 1 else nan,
            median_ms=med,
            max_abs_dev_ms=float(np.max(np.abs(found - med))) if len(found) else nan,
            latencies_ms=[round(float(v), 3) for v in ms], notes=list(notes or []),
        )

    def as_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------- recordings
class JackLoopbackCapture:
    """A JACK client whose input is connected to every other client's audio outputs.

    Each block is stamped with ``pylsl.local_clock()`` at the start of the process
    callback; only blocks that hold signal are kept. ``server`` defaults to
    ``$JACK_DEFAULT_SERVER``.
    """

    def __init__(self, server: str | None = None, name: str = "soothe_latency_probe") -> None:
        try:
            # lazy: JACK-Client needs libjack when it loads; only the JACK loopback uses it
            import jack
        except (ImportError, OSError) as exc:
            raise LatencyCheckError(f"JACK loopback needs the JACK-Client package and "
                                    f"libjack: {exc}") from None
        # lazy: liblsl reads its config (LSLAPICFG) when pylsl loads; the caller sets it first
        import pylsl

        try:
            self.client = jack.Client(name, no_start_server=True, servername=server)
        except jack.JackError as exc:
            raise LatencyCheckError(f"no JACK server to loop back through ({exc}); start one, "
                                    "e.g. jackd -n NAME --no-realtime -d dummy -r 44100 -p 256"
                                    ) from None
        self.rate = float(self.client.samplerate)
        self.audio_rate = int(self.rate)  # the click file is written at the server's rate
        self.label = f"JACK loopback ({self.client.name})"
        self.port = self.client.inports.register("in")
        self._blocks: list[tuple[float, np.ndarray]] = []
        self._lock = threading.Lock()
        clock = pylsl.local_clock
        port = self.port

        def process(n_frames: int) -> None:
            t = clock()
            x = port.get_array()
            if np.any(x != 0.0):
                with self._lock:
                    self._blocks.append((t, x.copy()))

        self.client.set_process_callback(process)
        self.client.activate()

    def connect_players(self) -> list[str]:
        """Connect every audio output port except the driver's own; return their names."""
        own = {p.name for p in self.client.outports}
        ports = [p for p in self.client.get_ports(is_audio=True, is_output=True)
                 if not p.name.startswith("system:") and p.name not in own]
        for p in ports:
            if self.port.name not in {q.name for q in self.client.get_all_connections(p)}:
                self.client.connect(p, self.port)
        return [p.name for p in ports]

    def recording(self) -> tuple[np.ndarray, np.ndarray]:
        """(times on the LSL clock, values) of every block with signal."""
        with self._lock:
            blocks = list(self._blocks)
        if not blocks:
            return np.empty(0), np.empty(0)
        times = np.concatenate([t + np.arange(len(x)) / self.rate for t, x in blocks])
        return times, np.concatenate([x for _, x in blocks]).astype(float)

    def close(self) -> None:
        try:
            self.client.deactivate()
            self.client.close()
        except Exception:
            pass


class LSLChannelCapture:
    """One channel of an LSL stream (an amplifier input the audio output is cabled into)."""

    def __init__(self, stream_name: str, channel: str, wait_s: float = 5.0) -> None:
        # lazy: liblsl reads its config (LSLAPICFG) when pylsl loads; the caller sets it first
        import pylsl

        found = pylsl.resolve_byprop("name", stream_name, timeout=wait_s)
        if not found:
            raise LatencyCheckError(f"LSL stream {stream_name!r} (the amplifier input the "
                                    "audio output is cabled into) is not on the network")
        if len(found) > 1:
            raise LatencyCheckError(f"{len(found)} LSL streams are named {stream_name!r}; "
                                    "which one carries the audio cannot be told")
        self.inlet = pylsl.StreamInlet(found[0], max_buflen=60,
                                       processing_flags=pylsl.proc_clocksync)
        info = self.inlet.info(timeout=5.0)
        labels = []
        ch = info.desc().child("channels").child("channel")
        for _ in range(info.channel_count()):
            labels.append(ch.child_value("label"))
            ch = ch.next_sibling()
        if channel not in labels:
            raise LatencyCheckError(f"LSL stream {stream_name!r} has no channel {channel!r}; "
                                    f"its channels: {labels}")
        self.index = labels.index(channel)
        self.label = f"LSL {stream_name}:{channel}"
        self._t: list[float] = []
        self._x: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pull, daemon=True)
        self._thread.start()

    def _pull(self) -> None:
        while not self._stop.is_set():
            samples, stamps = self.inlet.pull_chunk(timeout=0.05)
            self._t += stamps
            self._x += [row[self.index] for row in samples]

    def recording(self) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(self._t, dtype=float), np.asarray(self._x, dtype=float)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.inlet.close_stream()


# ---------------------------------------------------------------------- the check
def measure_audio_latency(capture, n_clicks: int = 20, gap_s: float = 0.3,
                          workdir: Path | None = None, marker_spec: str = "none",
                          seed: int = 0, add_predicted_output_latency: bool = False
                          ) -> LatencyReport:
    """Play ``n_clicks`` clicks, stamp a marker per click as the session stamps
    ``audio_onset``, find the clicks in ``capture`` and pair them with the markers.

    The gaps between clicks vary (``gap_s`` to 1.5 x ``gap_s``, seeded), so a latency longer
    than a gap cannot pair a click with the wrong marker unnoticed.
    """
    if n_clicks < 2:
        raise LatencyCheckError(f"n_clicks must be >= 2 to estimate jitter, got {n_clicks}")
    workdir = Path(workdir or tempfile.mkdtemp(prefix="soothe_clicks_"))
    backend = choose_backend("ptb")
    rate = int(getattr(capture, "audio_rate", 44100))
    player = AudioPlayer(write_click(workdir / "click.wav", rate=rate), backend)
    notes = [f"audio back end {backend}"]
    if isinstance(capture, JackLoopbackCapture):
        ports = capture.connect_players()
        if not ports:
            raise LatencyCheckError("no player output port on the JACK server to loop back")
        notes.append(f"JACK loopback from {', '.join(ports)}")
    sender = MarkerSender(open_backends(marker_spec))
    rng = np.random.default_rng(seed)
    markers: list[float] = []
    predicted: list[float] = []
    try:
        for _ in range(n_clicks):
            scheduled = player.schedule()
            onset = player.wait_onset(scheduled)
            lsl_onset = onset - core_minus_lsl()
            sender.send(90, "audio_onset", psychopy_time=onset, lsl_time=lsl_onset)
            markers.append(lsl_onset)
            latency = player.predicted_latency_s()
            if latency is not None:
                predicted.append(latency)
            time.sleep(gap_s * (1 + 0.5 * rng.random()))
            player.stop()
        time.sleep(0.3)  # the last click still in flight
    finally:
        sender.close()
    times, values = capture.recording()
    clicks = find_click_onsets(times, values)
    offset = 0.0
    if add_predicted_output_latency:
        if predicted:
            offset = float(np.median(predicted))
            raw = LatencyReport.from_latencies("raw", pair_latencies(markers, clicks))
            notes.append(f"in the JACK graph {raw.latency_ms:+.2f} ms; plus the driver output "
                         f"latency PTB predicts ({offset * 1000:.2f} ms) = at the output")
        else:
            notes.append("PTB predicted no output latency: figure is at the JACK graph")
    report = LatencyReport.from_latencies(getattr(capture, "label", type(capture).__name__),
                                          pair_latencies(markers, clicks + offset), notes)
    return report


def judge_latency(report: LatencyReport, max_abs_latency_ms: float = 20.0,
                  max_jitter_ms: float = 2.0) -> tuple[str, str]:
    """(status, detail): FAIL when a click is missing or a limit is exceeded.

    Examples
    --------
    >>> r = LatencyReport.from_latencies("jack", np.array([0.0101, 0.0099, 0.0100]))
    >>> judge_latency(r)[0]
    'OK'
    >>> judge_latency(LatencyReport.from_latencies("jack", np.array([0.01, np.nan])))[0]
    'FAIL'
    """
    detail = (f"{report.source}: latency {report.latency_ms:+.2f} ms, jitter (SD) "
              f"{report.jitter_ms:.2f} ms, median {report.median_ms:+.2f} ms, max deviation "
              f"{report.max_abs_dev_ms:.2f} ms over {report.n_found}/{report.n_clicks} clicks")
    if report.notes:
        detail += " (" + "; ".join(report.notes) + ")"
    if report.n_found < report.n_clicks:
        return "FAIL", detail + f"; {report.n_clicks - report.n_found} click(s) not found"
    if not math.isfinite(report.latency_ms) or abs(report.latency_ms) > max_abs_latency_ms:
        return "FAIL", detail + f"; |latency| above {max_abs_latency_ms:g} ms"
    if not math.isfinite(report.jitter_ms) or report.jitter_ms > max_jitter_ms:
        return "FAIL", detail + f"; jitter above {max_jitter_ms:g} ms"
    return "OK", detail
