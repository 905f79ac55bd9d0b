"""A simulated physiology amplifier streaming ECG and EDA over LSL (for ``--simulate``).

One LSL stream (``type='Physio'``, two float32 channels ``ecg`` in mV and ``eda`` in µS, and
with a scenario a third, ``resp`` in V) at a fixed rate, as a lab amplifier bridged to LSL
delivers them. The signals come from :class:`experiment.physio_generator.PhysioGenerator`.

The device listens for the cue stream of the signal check that reads it
(``soothe_breath_cue``, source id ``soothe_breath_cue_for_<this stream's source id>``) and
takes a deep breath when asked.

``--scenario NAME`` streams one of the signal check's known faults
(:mod:`experiment.signals.scenarios`) with all three channels.

Run it as ``python -m experiment.simulated_device --rate 500`` (it stops on SIGTERM or
after ``--duration`` seconds).
"""

from __future__ import annotations

import argparse
import os
import queue
import signal
import sys
import threading
import time

import numpy as np

from experiment.lsl_config import keep_lsl_on_machine, quiet_lsl
from experiment.physio_generator import PhysioGenerator
from experiment.signals.monitor import cue_source_id
from experiment.signals.scenarios import apply_fault, check_scenario, generator_options

STREAM_NAME = "soothe_simulated_physio"

def make_outlet(rate: float, name: str = STREAM_NAME, source_id: str | None = None,
                resp: bool = False):
    """An LSL outlet with channel labels, types and units in its description."""
    # lazy: liblsl reads its config when pylsl loads; main() sets it first
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
    # lazy: liblsl reads its config when pylsl loads; main() sets it first
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
    # lazy: liblsl reads its config when pylsl loads; main() sets it first
    import pylsl

    options, fault = {}, None
    if scenario:
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
        try:
            check_scenario(args.scenario)
        except ValueError as exc:
            parser.error(str(exc))
    keep_lsl_on_machine()
    quiet_lsl()  # no liblsl INFO banner in the stderr a failing device hands to its caller
    stream(args.rate, args.duration, args.seed, args.name, args.parent_pid, args.scenario,
           args.source_id)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
