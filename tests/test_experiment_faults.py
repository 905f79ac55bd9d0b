"""Faults of the session runner: a full disk, a lost marker outlet, kill -9.

The full-disk tests put the dataset on a real small tmpfs (we run as root; where ``mount``
is not permitted they are skipped, and in CI that is a failure). The kill -9 campaign runs
the real program (``soothe run --simulate``) under Xvfb with JACK audio and kills it at a
seeded random time; ``-m slow`` runs it 20 times:

    .venv/bin/pytest tests/test_experiment_faults.py -m slow -s
"""

from __future__ import annotations

import os
import random
import re
import select
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from experiment_fixtures import (  # noqa: F401  (fixtures)
    IN_CI,
    N_ITEMS,
    PYTHON,
    REPO,
    jack_server,
    psychopy_home,
    session_env,
    short_protocol,
    soothe_run,
    xvfb_display,
)

from conditions import bids

TASK = "induction"
SPEED = "2"
N_KILL_RUNS = 20


def _files(root: Path, pid: str) -> bids.SessionFiles:
    return bids.SessionFiles(root, pid, "1", TASK)


def _args(protocol: Path, root: Path, pid: str, *extra: str) -> list[str]:
    return ["--simulate", "--speed", SPEED, "--protocol", str(protocol), "--data", str(root),
            "--participant", pid, *extra]


def _popen(env, args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([PYTHON, "-m", "soothe", "run", *args], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _complete_lines(path: Path) -> list[str]:
    """The newline-terminated lines of a file (what a reader can rely on), header excluded."""
    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")[:-1]  # the part after the last newline is not a full row
    return lines[1:]


# ============================================================== tmpfs
@pytest.fixture
def small_fs(tmp_path):
    """Mount a fresh tmpfs of the requested size in MB; unmounted afterwards."""
    mounted: list[Path] = []

    def make(size_mb: int) -> Path:
        where = tmp_path / f"fs{len(mounted)}"
        where.mkdir()
        out = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs",
                              str(where)], capture_output=True, text=True)
        if out.returncode != 0:
            msg = f"cannot mount a tmpfs ({out.stderr.strip()}); run as root"
            if IN_CI:
                pytest.fail(f"{msg} (CI=true runs as root: this must work)")
            pytest.skip(msg)
        mounted.append(where)
        return where

    yield make
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _fill(fs: Path) -> Path:
    """Fill the file system until ENOSPC; returns the filler file."""
    filler = fs / "filler.bin"
    block = b"\0" * (1 << 16)
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(block)
        except OSError:
            pass
        for _ in range(64):  # the last partial page
            try:
                fh.write(b"\0" * 64)
            except OSError:
                break
    return filler


@pytest.mark.screen
@pytest.mark.audio
def test_refuses_to_start_when_the_disk_is_nearly_full(small_fs, session_env,  # noqa: F811
                                                        short_protocol):  # noqa: F811
    root = small_fs(2) / "data"
    proc = soothe_run(session_env, *_args(short_protocol, root, "disk0"), timeout=120)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "refusing to start" in proc.stderr
    assert "WARNING only" in proc.stdout and "MB free" in proc.stdout
    assert not _files(root, "disk0").beh_tsv.exists()
    assert not _files(root, "disk0").events_tsv.exists()


@pytest.mark.screen
@pytest.mark.audio
def test_disk_full_mid_session_fails_safely_and_resumes(small_fs, session_env,  # noqa: F811
                                                       short_protocol):  # noqa: F811
    fs = small_fs(48)
    root = fs / "data"
    files = _files(root, "disk1")
    args = _args(short_protocol, root, "disk1", "--min-free-mb", "100")
    proc = _popen(session_env, args)
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline and proc.poll() is None:
        if len(_complete_lines(files.beh_tsv)) >= 1:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "session ended before the disk could be filled"
    filler = _fill(fs)
    beh_before = _complete_lines(files.beh_tsv)
    events_before = _complete_lines(files.events_tsv)
    out, _ = proc.communicate(timeout=150)
    assert proc.returncode == 3, out[-3000:]
    # warned before the start: less free than --min-free-mb
    assert "WARNING only" in out and "want >= 100 MB" in out
    assert "DISK FULL" in out
    # everything written before the disk filled is intact and readable
    beh = bids.read_tsv(files.beh_tsv, bids.BEH_COLUMNS)
    events = bids.read_tsv(files.events_tsv, bids.EVENTS_COLUMNS)
    assert len(beh) >= len(beh_before) >= 1 and beh["rating"].notna().all()
    assert len(events) >= len(events_before) and events["onset"].notna().all()
    assert _complete_lines(files.beh_tsv)[: len(beh_before)] == beh_before
    assert _complete_lines(files.events_tsv)[: len(events_before)] == events_before
    state = (files.sourcedata_dir / "session_state.json").read_text()
    assert '"status": "complete"' not in state  # never claims completion
    # the experimenter frees space and resumes: the session finishes
    filler.unlink()
    resumed = soothe_run(session_env, *args, "--resume")
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    after = bids.read_tsv(files.beh_tsv, bids.BEH_COLUMNS)
    assert len(after) == 2 * N_ITEMS
    assert not after.duplicated(["phase", "questionnaire", "item_id"]).any()
    pd.testing.assert_frame_equal(after.iloc[: len(beh)], beh)
    assert bids.read_participants(root)["status"].tolist() == ["complete"]


# ============================================================== marker outlet
def test_lost_lsl_marker_outlet_is_warned_with_timestamp_and_session_goes_on():
    from experiment.lsl_config import keep_lsl_on_machine
    from experiment.markers import LSLMarkerOutlet, MarkerSender

    keep_lsl_on_machine()
    warnings: list[str] = []
    written = []
    outlet = LSLMarkerOutlet(stream_name=f"soothe_fault_{uuid.uuid4().hex[:8]}")
    sender = MarkerSender([outlet], on_sent=written.append, warn=warnings.append)
    sender.send(20, "baseline_onset")
    real = outlet.outlet
    outlet.outlet = None  # the outlet is gone (destroyed under us)
    sender.send(21, "baseline_offset")
    sender.send(30, "pre_questionnaire_onset")
    assert [m.label for m in written] == ["baseline_onset", "baseline_offset",
                                         "pre_questionnaire_onset"]  # _events.tsv keeps all
    assert len(warnings) == 1, warnings  # reported once, not per marker
    assert warnings[0][:4].isdigit() and "T" in warnings[0][:20]  # ISO timestamp first
    assert "'lsl'" in warnings[0] and "goes on" in warnings[0]
    outlet.outlet = real  # back
    sender.send(31, "pre_questionnaire_offset")
    assert len(warnings) == 2 and "is back" in warnings[1]
    sender.close()


def test_without_warn_a_failing_marker_backend_still_raises():
    from experiment.markers import MarkerSender

    class Broken:
        name = "broken"

        def send(self, code, lsl_time):
            raise OSError("port gone")

        def reset(self):
            pass

        def close(self):
            pass

    with pytest.raises(OSError, match="port gone"):
        MarkerSender([Broken()]).send(20, "baseline_onset")


@pytest.mark.screen
@pytest.mark.audio
def test_trigger_box_unplugged_mid_session_is_warned_and_the_session_completes(
        tmp_path, session_env, short_protocol):  # noqa: F811
    """A USB serial trigger box pulled out during a running session.

    The box is a pseudo-terminal; closing its master side is what unplugging does to the
    port (every later write fails with EIO). The session must log one timestamped warning,
    keep every marker in ``_events.tsv`` and finish normally.
    """
    master, slave = os.openpty()
    device = os.ttyname(slave)
    received = bytearray()
    stop = threading.Event()

    def drain() -> None:
        while not stop.is_set():
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    received.extend(os.read(master, 1024))
                except OSError:
                    time.sleep(0.05)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    root = tmp_path / "data"
    files = _files(root, "trig1")
    proc = _popen(session_env, _args(short_protocol, root, "trig1",
                                     "--markers", f"lsl,serial:{device}"))
    try:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and proc.poll() is None:
            if _complete_lines(files.beh_tsv):
                break
            time.sleep(0.02)
        assert proc.poll() is None, "session ended before the box could be unplugged"
        stop.set()
        reader.join()
        os.close(master)  # unplugged
        n_before = len(_complete_lines(files.events_tsv))
        out, _ = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(slave)
    assert proc.returncode == 0, out[-3000:]
    warned = [ln for ln in out.splitlines() if "marker back end 'serial' failed" in ln]
    assert len(warned) == 1, out[-3000:]
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", warned[0]), warned[0]
    log = (files.sourcedata_dir / "session_log.txt").read_text(encoding="utf-8")
    assert "marker back end 'serial' failed" in log
    events = bids.read_tsv(files.events_tsv, bids.EVENTS_COLUMNS)
    codes = events["value"].astype(int).tolist()
    assert len(codes) > n_before  # markers after the unplug still reach _events.tsv
    assert 2 in codes[-2:]  # session_end (then the condition code) closes the session
    sent_to_box = [b for b in received if b != 0]
    assert sent_to_box and sent_to_box == codes[: len(sent_to_box)]
    assert bids.read_participants(root)["status"].tolist() == ["complete"]


@pytest.mark.screen
@pytest.mark.audio
def test_physio_device_lost_mid_session_is_warned_and_the_session_completes(
        tmp_path, session_env, short_protocol):  # noqa: F811
    """The ECG/EDA amplifier dies mid-session (its LSL outlet process is killed).

    The recorder warns with a timestamp, the session runs to its end, and the physiology
    recorded before the loss is written.
    """
    import psutil

    root = tmp_path / "data"
    files = _files(root, "dev1")
    proc = _popen(session_env, _args(short_protocol, root, "dev1"))
    device = None
    try:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and proc.poll() is None:
            if _complete_lines(files.beh_tsv):
                break
            time.sleep(0.02)
        assert proc.poll() is None, "session ended before the device could be lost"
        children = psutil.Process(proc.pid).children(recursive=True)
        device = next(c for c in children if "experiment.simulated_device" in c.cmdline())
        device.kill()
        out, _ = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out[-3000:]
    lost = [ln for ln in out.splitlines() if "physiology stream" in ln and " lost " in ln]
    assert len(lost) == 1, out[-3000:]
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", lost[0]), lost[0]
    assert "lost" in (files.sourcedata_dir / "session_log.txt").read_text(encoding="utf-8")
    # what was recorded before the loss is written, and it stops where the device died
    meta = bids.read_physio_sidecar(files)
    data = pd.read_csv(files.physio_tsv_gz, sep="\t", header=None).to_numpy(float)
    assert len(data) > meta["SamplingFrequency"] * 2 and np.isfinite(data).mean() > 0.99
    events = bids.read_tsv(files.events_tsv, bids.EVENTS_COLUMNS)
    rec_end = meta["StartTime"] + len(data) / meta["SamplingFrequency"]
    assert rec_end < events["onset"].max() - 2.0  # the session went on after the loss
    assert bids.read_participants(root)["status"].tolist() == ["complete"]


# ============================================================== kill -9
def _kill_and_resume(env, protocol: Path, root: Path, pid: str, kill_after_s: float,
                     anchor: str = "launch") -> dict:
    """Start a session, kill -9 it ``kill_after_s`` after ``anchor`` ("launch", "events":
    the first marker on disk, "beh": the first response on disk), check, then resume."""
    files = _files(root, pid)
    args = _args(protocol, root, pid)
    proc = _popen(env, args)
    t0 = time.monotonic()
    if anchor != "launch":
        path = files.beh_tsv if anchor == "beh" else files.events_tsv
        while (time.monotonic() - t0 < 150 and proc.poll() is None
               and not _complete_lines(path)):
            time.sleep(0.01)
        t0 = time.monotonic()
    while time.monotonic() - t0 < kill_after_s and proc.poll() is None:
        time.sleep(0.01)
    killed = proc.poll() is None
    beh_seen = _complete_lines(files.beh_tsv)
    events_seen = _complete_lines(files.events_tsv)
    if killed:
        os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    result = {"kill_after_s": kill_after_s, "killed": killed, "beh_rows": len(beh_seen),
              "event_rows": len(events_seen)}
    # every row acknowledged (on disk) before the kill is there and parseable
    beh_lines, event_lines = _complete_lines(files.beh_tsv), _complete_lines(files.events_tsv)
    assert beh_lines[: len(beh_seen)] == beh_seen
    assert event_lines[: len(events_seen)] == events_seen
    if beh_lines:
        beh = bids.read_tsv(files.beh_tsv, bids.BEH_COLUMNS)
        assert len(beh) >= len(beh_seen) and beh["rating"].notna().all()
    if event_lines:
        events = bids.read_tsv(files.events_tsv, bids.EVENTS_COLUMNS)
        assert len(events) >= len(events_seen) and events["onset"].notna().all()
    result["survived"] = True
    if not killed:
        assert proc.returncode == 0
        result["resumed"] = None
        return result
    resumed = soothe_run(env, *args, "--resume")
    if resumed.returncode == 1 and "nothing to resume" in resumed.stderr:
        # killed before the session state existed: a fresh start is what the message asks for
        resumed = soothe_run(env, *args)
        result["fresh_start"] = True
    if resumed.returncode == 1 and "already has a complete session" in resumed.stderr:
        # killed during the save at the very end, after the session was recorded complete:
        # refusing to run it again is right, and everything must already be there
        after = bids.read_tsv(files.beh_tsv, bids.BEH_COLUMNS)
        assert len(after) == 2 * N_ITEMS
        assert bids.read_participants(root)["status"].tolist() == ["complete"]
        assert bids.read_physio_sidecar(files)["SamplingFrequency"] > 0
        result["resumed"] = "already complete"
        return result
    assert resumed.returncode == 0, (kill_after_s, resumed.stdout[-2000:]
                                     + resumed.stderr[-2000:])
    after = bids.read_tsv(files.beh_tsv, bids.BEH_COLUMNS)
    assert len(after) == 2 * N_ITEMS
    assert not after.duplicated(["phase", "questionnaire", "item_id"]).any()
    assert _complete_lines(files.beh_tsv)[: len(beh_seen)] == beh_seen
    assert bids.read_participants(root)["status"].tolist() == ["complete"]
    result["resumed"] = True
    return result


@pytest.fixture(scope="module")
def session_seconds(tmp_path_factory, session_env, short_protocol):  # noqa: F811
    """Wall time of one uninterrupted compressed session (sets the kill-time range)."""
    root = tmp_path_factory.mktemp("timing") / "data"
    events = _files(root, "time1").events_tsv
    t0 = time.monotonic()
    proc = _popen(session_env, _args(short_protocol, root, "time1"))
    while proc.poll() is None and not _complete_lines(events):
        time.sleep(0.01)
    setup_s = time.monotonic() - t0
    out, _ = proc.communicate(timeout=240)
    assert proc.returncode == 0, out[-3000:]
    return setup_s, time.monotonic() - t0 - setup_s


def _campaign(n_runs: int, seed0: int, seconds: tuple[float, float], env, protocol: Path,
              base: Path):
    """Every 5th run is killed during start-up (time from launch); the others while the
    session runs (time from the first marker on disk, up to 95 % of the run time)."""
    setup_s, run_s = seconds
    results = []
    t0 = time.monotonic()
    for i in range(n_runs):
        rng = random.Random(seed0 + i)
        anchor = "launch" if i % 5 == 4 else "events"
        hi = setup_s if anchor == "launch" else 0.95 * run_s
        kill_after = round(rng.uniform(0.3, hi), 2)
        res = _kill_and_resume(env, protocol, base / f"run{i}" / "data", f"k{i}", kill_after,
                               anchor=anchor)
        print(f"run {i:2d} seed {seed0 + i}: kill {kill_after:6.2f} s after {anchor:6s} "
              f"killed={res['killed']} beh_rows={res['beh_rows']} "
              f"event_rows={res['event_rows']} resumed={res['resumed']}"
              + (" (fresh start)" if res.get("fresh_start") else ""), flush=True)
        results.append(res)
    killed = [r for r in results if r["killed"]]
    print(f"kill -9 campaign: {len(results)} runs, {len(killed)} killed, "
          f"{sum(r['survived'] for r in killed)} kills survived with all rows intact, "
          f"{sum(bool(r['resumed']) for r in killed)} resumed to completion, "
          f"uninterrupted session {setup_s:.1f} s start-up + {run_s:.1f} s, "
          f"total {time.monotonic() - t0:.0f} s")
    return results


@pytest.mark.screen
@pytest.mark.audio
def test_kill9_at_one_random_point_then_resume(tmp_path, session_env,  # noqa: F811
                                              short_protocol):  # noqa: F811
    """Default-set version: a seeded random kill 0-8 s after the first response."""
    kill_after = round(random.Random(7).uniform(0.0, 8.0), 2)
    res = _kill_and_resume(session_env, short_protocol, tmp_path / "data", "k1", kill_after,
                           anchor="beh")
    print(f"kill {kill_after:.2f} s after the first response: {res}")
    assert res["killed"] and res["beh_rows"] >= 1 and res["resumed"]


@pytest.mark.screen
@pytest.mark.audio
@pytest.mark.slow
def test_kill9_at_random_points_across_20_runs(tmp_path, session_env,  # noqa: F811
                                               short_protocol, session_seconds):  # noqa: F811
    results = _campaign(N_KILL_RUNS, 1000, session_seconds, session_env, short_protocol,
                        tmp_path)
    killed = [r for r in results if r["killed"]]
    assert len(killed) >= N_KILL_RUNS - 2  # kill times lie inside the session
    assert all(r["resumed"] for r in killed)
    assert sum(r["beh_rows"] > 0 for r in killed) >= 3  # some kills hit after responses


# ============================================================== kill -9, never resumed
@pytest.mark.screen
@pytest.mark.audio
def test_killed_session_closed_without_resuming_keeps_everything(tmp_path, session_env):  # noqa: F811
    """kill -9 in the questionnaire, then ``soothe run --close``: no window, physio
    assembled, CSV rebuilt, the session marked incomplete everywhere. The audio here is
    labelled as pilot placeholders, which the start-up must warn about and record."""
    import hashlib
    import json

    from experiment_fixtures import make_short_protocol

    protocol = make_short_protocol(tmp_path / "protocol")
    for wav in (tmp_path / "protocol" / "audio").glob("*.wav"):
        wav.with_suffix(".json").write_text(json.dumps({"PilotPlaceholder": True}))
    root = tmp_path / "data"
    files = _files(root, "close1")
    proc = _popen(session_env, _args(protocol, root, "close1"))
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline and proc.poll() is None and not _complete_lines(
            files.beh_tsv):
        time.sleep(0.01)
    time.sleep(1.0)  # some physio on disk
    assert proc.poll() is None, proc.communicate()[0][-3000:]
    os.kill(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    assert "WARNING PILOT AUDIO: 5 of 5" in out
    beh_before = _complete_lines(files.beh_tsv)
    events_before = _complete_lines(files.events_tsv)
    assert beh_before and not files.physio_tsv_gz.exists()

    closed = soothe_run(session_env, "--protocol", str(protocol), "--data", str(root),
                        "--participant", "close1", "--close", timeout=120)
    assert closed.returncode == 0, closed.stdout[-2000:] + closed.stderr[-2000:]
    assert "closed as incomplete" in closed.stdout
    assert _complete_lines(files.beh_tsv) == beh_before  # nothing lost or rewritten
    assert _complete_lines(files.events_tsv) == events_before
    assert files.physio_tsv_gz.is_file() and files.physio_json.is_file()
    assert bids.read_participants(root)["status"].tolist() == ["incomplete"]
    condition = bids.read_participants(root)["condition"].fillna("n/a").astype(str).tolist()
    assert condition == ["n/a"]  # still concealed
    from conditions.allocation import AllocationDB

    assert AllocationDB(bids.allocation_db_path(root)).session_status("close1") == "incomplete"
    state = json.loads((files.sourcedata_dir / "session_state.json").read_text())
    # the killed run's own PsychoPy CSV (saved row by row, each row before its _beh.tsv line)
    # holds every answer on disk; --close names it and rebuilds nothing
    (csv,) = root.glob("close1_soothe_*.csv")
    assert state["runs"][0]["psychopy_csv"] == csv.name and csv.name in closed.stdout
    answered = pd.read_csv(csv)["slider.response"].notna().sum()
    assert len(beh_before) <= answered <= len(beh_before) + 1
    assert not list(files.sourcedata_dir.glob("*psychopy*.csv"))
    assert state["status"] == "incomplete" and state["runs"][0]["outcome"] == "killed"
    # audio provenance: every file's SHA-256 and pilot flag; the played file stays concealed
    hashes = sorted(hashlib.sha256(wav.read_bytes()).hexdigest()
                    for wav in (tmp_path / "protocol" / "audio").glob("*.wav"))
    assert [v["sha256"] for v in state["audio_files"]] == hashes
    assert all(v["pilot_placeholder"] for v in state["audio_files"])
    assert state["audio_played"] == {}
    log = (files.sourcedata_dir / "session_log.txt").read_text(encoding="utf-8")
    assert "WARNING PILOT AUDIO" in log and "closed without resuming" in log
    again = soothe_run(session_env, "--protocol", str(protocol), "--data", str(root),
                       "--participant", "close1", "--close", timeout=120)
    assert again.returncode == 0  # closing twice is harmless
