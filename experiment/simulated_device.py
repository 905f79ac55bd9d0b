"""A simulated physiology amplifier streaming ECG and EDA over LSL (for ``--simulate``).

One LSL stream (``type='Physio'``, two float32 channels ``ecg`` in mV and ``eda`` in µS) at
a fixed rate, as a lab amplifier bridged to LSL delivers them. The signals come from a
small, documented generator (this module does not know the condition, so it plants no
effect):

- **ECG**: beat by beat from an RR series around 70 bpm with respiratory sinus arrhythmia
  (0.25 Hz, ±40 ms) and small random variability; each beat is a sum of Gaussian P, Q, R,
  S and T waves (a McSharry-style shape, amplitudes in mV).
- **EDA**: a tonic level of 5 µS with slow drift, plus a skin-conductance response about
  every 20 s (bi-exponential shape, rise 0.7 s, recovery 3 s, 0.1-0.4 µS).

- **Respiration** (with ``resp=True``, a third channel ``resp`` in V, as a belt bridged to
  LSL): 15 breaths/min (in step with the sinus arrhythmia) and, on a deep breath, one breath
  three times as deep.
- **Deep breath on request**: :meth:`PhysioGenerator.deep_breath` plants, 1.5-2.5 s after the
  request, a skin-conductance response of ``breath_response_us`` (0 for a non-responder).
  The device listens for the cue stream of the signal check that reads it
  (``soothe_breath_cue``, source id ``soothe_breath_cue_for_<this stream's source id>``) and
  breathes when asked.

``--scenario NAME`` streams one of the signal check's known faults
(:mod:`experiment.signals.scenarios`) with all three channels.

Run it as ``python -m experiment.simulated_device --rate 500`` (it stops on SIGTERM or
after ``--duration`` seconds).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time

import numpy as np

STREAM_NAME = "soothe_simulated_physio"

# (relative time to R in s, width s, amplitude mV): P, Q, R, S, T
_WAVES = ((-0.20, 0.025, 0.12), (-0.03, 0.010, -0.12), (0.0, 0.012, 1.1),
          (0.03, 0.010, -0.25), (0.25, 0.050, 0.30))


class PhysioGenerator:
    """Endless ECG (mV) and EDA (µS) at ``rate`` Hz, produced chunk by chunk.

    Examples
    --------
    >>> gen = PhysioGenerator(rate=250, seed=1)
    >>> chunk = gen.next_chunk(500)
    >>> chunk.shape
    (500, 2)
    >>> bool(chunk[:, 0].max() > 0.8)      # R peaks
    True
    """

    def __init__(self, rate: float = 500.0, seed: int = 0, hr_bpm: float = 70.0, *,
                 resp: bool = False, spontaneous_scr: bool = True,
                 breath_response_us: float = 0.5, tonic_us: float = 5.0) -> None:
        self.rate = float(rate)
        self.rng = np.random.default_rng(seed)
        self.mean_rr = 60.0 / hr_bpm
        self.n = 0
        self.beats: list[float] = [0.3]
        self.scrs: list[tuple[float, float]] = []
        self.next_scr = 5.0 if spontaneous_scr else float("inf")
        self.resp = resp
        self.breath_response_us = float(breath_response_us)
        self.tonic_us = float(tonic_us)
        self.deep_breaths: list[float] = []

    def deep_breath(self, t: float) -> None:
        """The participant takes one deep breath at ``t`` (s on this generator's clock).

        A skin-conductance response of ``breath_response_us`` follows 1.5-2.5 s later (skin
        conductance responds to an inspiratory gasp after 1-3 s); the belt shows one breath
        three times as deep.

        Examples
        --------
        >>> gen = PhysioGenerator(rate=50, seed=2, resp=True, spontaneous_scr=False)
        >>> gen.deep_breath(1.0)
        >>> x = gen.next_chunk(400)
        >>> bool(x[300:, 1].max() - x[:50, 1].min() > 0.1)
        True
        """
        self.deep_breaths.append(float(t))
        if self.breath_response_us > 0:
            self.scrs.append((float(t) + self.rng.uniform(1.5, 2.5), self.breath_response_us))

    def _extend_beats(self, until: float) -> None:
        while self.beats[-1] < until + 1.0:
            t = self.beats[-1]
            rr = self.mean_rr + 0.04 * np.sin(2 * np.pi * 0.25 * t) + self.rng.normal(0, 0.015)
            self.beats.append(t + max(rr, 0.3))

    def next_chunk(self, n: int) -> np.ndarray:
        """The next ``n`` samples as an (n, 2) array: columns ecg (mV), eda (µS) (and a third,
        resp (V), with ``resp=True``)."""
        t = (self.n + np.arange(n)) / self.rate
        self.n += n
        self._extend_beats(t[-1])
        ecg = np.zeros(n)
        for beat in self.beats:
            if beat < t[0] - 0.6 or beat > t[-1] + 0.6:
                continue
            for dt, width, amp in _WAVES:
                ecg += amp * np.exp(-0.5 * ((t - beat - dt) / width) ** 2)
        ecg += self.rng.normal(0, 0.01, n)
        while self.next_scr < t[-1] + 30:
            self.scrs.append((self.next_scr, self.rng.uniform(0.1, 0.4)))
            self.next_scr += self.rng.uniform(12, 28)
        eda = self.tonic_us + 0.3 * np.sin(2 * np.pi * t / 300.0)
        for onset, amp in self.scrs:
            if onset > t[-1] or onset < t[0] - 40:
                continue
            x = np.clip(t - onset, 0, None)
            eda += amp * 1.35 * (np.exp(-x / 3.0) - np.exp(-x / 0.7)) * (t >= onset)
        eda += self.rng.normal(0, 0.002, n)
        self.beats = [b for b in self.beats if b > t[-1] - 2]
        if not self.resp:
            return np.column_stack([ecg, eda]).astype(np.float32)
        resp = np.sin(2 * np.pi * 0.25 * t + 0.3 * np.sin(2 * np.pi * t / 37.0))
        for b in self.deep_breaths:  # one 4-s breath, 0.5 s after the request
            x = np.clip((t - b - 0.5) / 4.0, 0.0, 1.0)
            resp += 2.0 * np.sin(np.pi * x) ** 2
        resp += self.rng.normal(0, 0.01, n)
        return np.column_stack([ecg, eda, resp]).astype(np.float32)


def make_outlet(rate: float, name: str = STREAM_NAME, source_id: str | None = None,
                resp: bool = False):
    """An LSL outlet with channel labels, types and units in its description."""
    import pylsl

    chans_spec = [("ecg", "mV", "ECG"), ("eda", "uS", "EDA")]
    if resp:
        chans_spec.append(("resp", "V", "RESP"))
    info = pylsl.StreamInfo(name, "Physio", len(chans_spec), rate, pylsl.cf_float32,
                            source_id or name)
    chans = info.desc().append_child("channels")
    for label, unit, kind in chans_spec:
        ch = chans.append_child("channel")
        ch.append_child_value("label", label)
        ch.append_child_value("unit", unit)
        ch.append_child_value("type", kind)
    info.desc().append_child_value("manufacturer", "soothe simulated device")
    return pylsl.StreamOutlet(info, chunk_size=10)


def listen_for_cues(source_id: str, on_cue, stop: dict) -> threading.Thread:
    """Call ``on_cue(lsl_time)`` for every deep-breath cue on the stream(s) ``source_id``.

    A background thread asks LSL for exactly this source id (``resolve_byprop``, which keeps
    querying until its timeout, so the answer does not depend on which stream on the machine
    happens to answer first) and opens every such stream it finds; the listening loop drops a
    stream whose outlet has closed, and a check started later is found again.
    """
    import queue

    import pylsl
    from pylsl.util import LostError

    found: queue.Queue = queue.Queue()

    def resolve_loop() -> None:
        while not stop["flag"]:
            for info in pylsl.resolve_byprop("source_id", source_id, 1, 1.0):
                found.put(info)
            time.sleep(0.5)

    def loop() -> None:
        inlets: dict[str, object] = {}
        while not stop["flag"]:
            while not found.empty():
                info = found.get_nowait()
                if info.uid() in inlets:
                    continue
                # no clock sync: the check runs on this machine (LSL clock shared by every
                # process), and a first offset measurement would hold the first cue ~0.6 s
                inlet = pylsl.StreamInlet(info, recover=False)
                try:
                    inlet.open_stream(timeout=5.0)  # the check sees its listener at once
                except Exception:  # noqa: BLE001  (gone already: found again if it returns)
                    continue
                inlets[info.uid()] = inlet
            for uid, inlet in list(inlets.items()):
                try:
                    sample, ts = inlet.pull_sample(timeout=0.0)
                except LostError:  # that check has ended
                    del inlets[uid]
                    continue
                if sample is not None:
                    on_cue(ts)
            time.sleep(0.02)

    threading.Thread(target=resolve_loop, name="cue-resolver", daemon=True).start()
    thread = threading.Thread(target=loop, name="cue-listener", daemon=True)
    thread.start()
    return thread


def stream(rate: float = 500.0, duration_s: float = 0.0, seed: int = 0,
           name: str = STREAM_NAME, parent_pid: int | None = None,
           scenario: str | None = None, source_id: str | None = None) -> None:
    """Stream until ``duration_s`` has passed (0: until SIGTERM/SIGINT).

    With ``scenario`` (see :mod:`experiment.signals.scenarios`) the stream has a belt
    channel too and carries that scenario's fault.
    """
    import pylsl

    from experiment.signals.monitor import cue_source_id

    options, fault = {}, None
    if scenario:
        from experiment.signals.scenarios import apply_fault, generator_options

        options = generator_options(scenario)
        fault_rng = np.random.default_rng(seed + 1)

        def fault(t, chunk):
            return apply_fault(scenario, t, chunk, fault_rng)

    outlet = make_outlet(rate, name, source_id, resp=bool(options.get("resp")))
    gen = PhysioGenerator(rate, seed, **options)
    stop = {"flag": False}

    def _stop(*_):
        stop["flag"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    start = pylsl.local_clock()
    sent = 0
    # the session that started us: given explicitly, because a session killed before this
    # line runs would leave getppid() == 1 here and the device would stream on for ever
    parent = parent_pid if parent_pid else os.getppid()
    # the simulated participant takes a deep breath when the signal check reading this
    # stream asks for one
    listen_for_cues(cue_source_id(source_id or name), lambda ts: gen.deep_breath(ts - start),
                    stop)
    print(f"streaming {name} at {rate:g} Hz", flush=True)
    while not stop["flag"]:
        now = pylsl.local_clock()
        if duration_s and now - start >= duration_s:
            break
        if os.getppid() != parent:  # the session was killed: do not stream on as an orphan
            break
        due = int((now - start) * rate) - sent
        if due > 0:
            chunk = gen.next_chunk(due)
            if fault is not None:
                chunk = fault((sent + np.arange(due)) / rate, chunk)
            sent += due
            # timestamp of the last sample on the LSL clock
            outlet.push_chunk(chunk.tolist(), start + (sent - 1) / rate)
        time.sleep(0.01)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiment.simulated_device")
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--duration", type=float, default=0.0, help="seconds (0 = until killed)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default=STREAM_NAME)
    parser.add_argument("--parent-pid", type=int, default=None,
                        help="stop when this process is gone (default: the parent process)")
    parser.add_argument("--scenario", default=None,
                        help="a signal-check fault to stream (experiment.signals.scenarios); "
                             "adds a respiration belt channel")
    parser.add_argument("--source-id", default=None, help="LSL source id (default: --name)")
    args = parser.parse_args(argv)
    if args.scenario:
        from experiment.signals.scenarios import check_scenario

        try:
            check_scenario(args.scenario)
        except ValueError as exc:
            parser.error(str(exc))
    from experiment.lsl_config import keep_lsl_on_machine

    keep_lsl_on_machine()
    stream(args.rate, args.duration, args.seed, args.name, args.parent_pid, args.scenario,
           args.source_id)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
