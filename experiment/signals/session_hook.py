"""The signal check as the first step of ``soothe run``, before the baseline.

:func:`signal_check_step` is called once from :meth:`experiment.session.Session.setup`, after
the LSL recorder has found the physiology streams and before the participant's window opens.
It checks the very streams the session records (their source ids), and records what
happened, whatever it was:

- ``sourcedata/sub-<id>/ses-<n>/signal_check_run-<k>.json``: the verdicts with the method;
- the run's entry in ``session_state.json`` (``signal_check``: outcome, overall, reasons);
- one line per channel in ``session_log.txt``.

Modes: ``live`` (the page opens on the experimenter's screen; the session waits for
"Signals OK: continue" or "Skip the check"), ``auto`` (``--simulate``: headless, the
simulated participant is asked for a deep breath 2 s in, 8 s of signal are judged), and
``skip`` (``soothe run --skip-signal-check``: nothing is checked, the skip is recorded).
The check never stops a session: a bad verdict is a warning for the experimenter, who decides.
"""

from __future__ import annotations

from typing import Any

from conditions import bids
from experiment.datafiles import utc_now
from experiment.signals import verdict as vd
from experiment.signals.cli import run_headless, run_live, verdict_record
from experiment.signals.monitor import SignalMonitor, judge_frame
from experiment.signals.page import CheckState

AUTO_SECONDS = 8.0
AUTO_CUE_S = 2.0


def _record(session, record: dict[str, Any]) -> None:
    """Write the check's record: its JSON file, the run's state entry, the session log."""
    run = session.state.runs[-1]["run"] if session.state.runs else 1
    path = session.data.source_dir / f"signal_check_run-{run}.json"
    bids.write_json(path, record)
    summary = {"outcome": record["outcome"], "overall": record.get("overall", "n/a"),
               "file": path.name}
    summary.update({k: f"{v['status']}: {v['reason']}"
                    for k, v in record.get("channels", {}).items()})
    if session.state.runs:
        session.state.runs[-1]["signal_check"] = summary
    session.data.save_state()
    session.signal_check = record
    session.log(f"signal check {record['outcome']}: {summary['overall']}")
    for kind, v in record.get("channels", {}).items():
        session.log(f"signal check {kind}: {v['status']}: {v['reason']}")


def signal_check_step(session) -> dict[str, Any]:
    """Run (or skip) the check for ``session`` and record it; returns the record."""
    opt = session.opt
    mode = getattr(opt, "signal_check", "live")
    if opt.simulate and mode != "skip":
        mode = "auto"
    base = {"started": utc_now(), "mode": mode}
    if mode == "skip":
        record = {**base, "outcome": "skipped (--skip-signal-check)"}
        session.say("signal check skipped (--skip-signal-check); recorded")
        _record(session, record)
        return record
    if session.recorder is None:
        record = {**base, "outcome": "not run: physiology is not recorded (--no-record)"}
        _record(session, record)
        return record
    # exactly the streams the session records (the lab config's devices, or its own
    # simulated device): never another stream that happens to be visible
    ids = [s.source_id for s in session.recorder.streams.values()
           if s.type.lower() != "markers"]
    ids += [d.source_id for d in session.devices
            if d.source_id and d.source_id not in ids]
    if not ids:
        record = {**base, "outcome": "not run: no physiology stream is recorded"}
        _record(session, record)
        return record
    monitor = SignalMonitor(ids, warn=session.warn)
    monitor.start()
    try:
        if mode == "auto":
            record = run_headless(monitor, AUTO_SECONDS, cue_at=AUTO_CUE_S)
            record.pop("_frame", None)
            record["outcome"] = "checked automatically (--simulate)"
        else:
            state = CheckState()
            run_live(monitor, state=state, out=opt.out)
            frame = monitor.frame()
            record = verdict_record(frame, judge_frame(frame, inverted_ok=state.inverted_ok),
                                    inverted_ticked=state.inverted_ok)
            record["outcome"] = ("skipped by the experimenter" if state.outcome == "skip"
                                 else "checked; the experimenter continued")
    except Exception as exc:  # the check must never cost the session
        record = {"outcome": f"failed: {type(exc).__name__}: {exc}"}
        session.warn(f"signal check could not run: {type(exc).__name__}: {exc}")
    finally:
        monitor.stop()
    record = {**base, **record, "ended": utc_now()}
    _record(session, record)
    overall = record.get("overall")
    if overall and overall != vd.GOOD:
        bad = [f"{k} {v['status']} ({v['reason']})" for k, v in record["channels"].items()
               if v["status"] != vd.GOOD]
        session.warn("signal check: " + "; ".join(bad))
    elif overall:
        session.say("signal check: every channel good")
    return record
