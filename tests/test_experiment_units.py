"""Unit tests of the session runner's pure parts (no screen, no audio device)."""

from __future__ import annotations

import json
import os
import threading
import time

import numpy as np
import pytest
from experiment_fixtures import make_short_protocol, psychopy_home  # noqa: F401

from conditions import bids
from conditions.protocol import load_protocol
from experiment.datafiles import SessionData, SessionState, unique_path
from experiment.dialog import validate_start_info
from experiment.errors import AudioPreflightError, MarkerError
from experiment.markers import MarkerSender, NullMarkers, _PulsedBackend, open_backends
from experiment.physio_generator import PhysioGenerator
from experiment.questionnaire_screen import item_order, rating_to_pixels
from experiment.recorder import assemble_physio, raw_marker_times, read_raw_stream
from experiment.timeline import build_timeline, induction_minute_offsets

GOOD = {"participant": "P01", "session": "1", "age": "25", "sex": "male", "initials": "jd"}


def test_start_info_accepts_valid_and_strips_prefixes():
    info, problems = validate_start_info(dict(GOOD, participant="sub-P01", session="ses-2"))
    assert problems == []
    assert (info.participant, info.session, info.age, info.initials) == ("P01", "2", 25, "JD")


@pytest.mark.parametrize(
    "field,value,fragment",
    [
        ("participant", "P_01", "participant ID"),
        ("participant", "", "participant ID"),
        ("session", "1 ", None),  # stripped: valid
        ("age", "abc", "age"),
        ("age", "7", "age 7"),
        ("sex", "x", "sex/gender"),
        ("initials", "J", "initials"),
    ],
)
def test_start_info_rejects_bad_entries(field, value, fragment):
    info, problems = validate_start_info(dict(GOOD, **{field: value}))
    if fragment is None:
        assert info is not None and problems == []
    else:
        assert info is None
        assert any(fragment in p for p in problems), problems


def test_timeline_comes_from_protocol_and_compresses():
    protocol = load_protocol()
    steps = build_timeline(protocol, speed=30)
    assert [s.name for s in steps] == [p.name for p in protocol.phases]
    assert steps[1].run_s == pytest.approx(protocol.phases[1].duration_s / 30)
    resumed = build_timeline(protocol, completed=["instructions", "baseline"])
    assert resumed[0].name == "pre_questionnaire"
    with pytest.raises(ValueError):
        build_timeline(protocol, speed=0.5)


def test_induction_minute_offsets_cover_the_audio():
    offsets = induction_minute_offsets(660.0, 1.0, 11)
    assert len(offsets) == 11 and offsets[-1] == (11, 600.0)
    assert induction_minute_offsets(3.0, 1.0, 11) == [(1, 0.0)]


def test_item_order_is_stable_and_randomised():
    items = list(range(20))
    a = item_order(items, True, 1, "001", "pre_questionnaire")
    assert a == item_order(items, True, 1, "001", "pre_questionnaire")
    assert sorted(a) == items and a != items
    assert a != item_order(items, True, 1, "002", "pre_questionnaire")
    assert item_order(items, False, 1, "001", "pre") == items


def test_rating_to_pixels_spans_the_line():
    class Item:
        min, max = 0.0, 100.0

    left = rating_to_pixels(0, Item(), (1024, 768))
    right = rating_to_pixels(100, Item(), (1024, 768))
    assert right[0] - left[0] == pytest.approx(768, abs=1)  # slider is 1.0 height units wide
    assert left[1] == right[1] > 384  # below the centre


def test_marker_sender_reports_every_marker_with_both_clocks():
    got = []
    sender = MarkerSender([NullMarkers(), NullMarkers()], on_sent=got.append,
                          lsl_clock=lambda: 100.0, psychopy_clock=lambda: 5.0)
    sender.send(20, "baseline_onset")
    sender.send(90, "audio_onset", psychopy_time=4.5, lsl_time=99.5)
    assert [(m.code, m.psychopy_time, m.lsl_time) for m in got] == [(20, 5.0, 100.0),
                                                                     (90, 4.5, 99.5)]
    with pytest.raises(MarkerError):
        sender.send(256, "too big")


class FakePort(_PulsedBackend):
    name = "fake"

    def __init__(self):
        super().__init__(pulse_s=0.02)
        self.writes = []

    def _write(self, code):
        self.writes.append((time.monotonic(), code))


def test_pulsed_backend_resets_lines_after_pulse_and_on_close():
    port = FakePort()
    sender = MarkerSender([port])
    sender.send(30, "x")
    time.sleep(0.1)
    assert [c for _, c in port.writes] == [30, 0]
    assert port.writes[1][0] - port.writes[0][0] >= 0.015
    sender.send(31, "y")
    sender.close()  # before the pulse ends: close must still leave the lines at 0
    time.sleep(0.05)
    assert port.writes[-1][1] == 0


def test_open_backends_rejects_unknown():
    assert [b.name for b in open_backends("none")] == ["none"]
    with pytest.raises(MarkerError, match="unknown marker back end"):
        open_backends("carrier_pigeon")
    with pytest.raises(MarkerError, match="serial"):
        open_backends("serial")


def test_unique_path_never_overwrites(tmp_path):
    first = tmp_path / "run.csv"
    first.write_text("a")
    second = unique_path(first)
    second.write_text("b")
    assert unique_path(first).name == "run_3.csv"
    assert first.read_text() == "a"


def test_session_data_appends_are_readable_after_a_torn_write(tmp_path):
    data = SessionData(tmp_path, "001", "1", "induction")
    data.state = SessionState("001", "1", "S-TEST", lsl_zero=1000.0)
    from experiment.markers import SentMarker

    data.write_event(SentMarker(20, "baseline_onset", 3.0, 1012.5))
    row = {c: "n/a" for c in bids.BEH_COLUMNS}
    row.update(phase="pre_questionnaire", questionnaire="q", item_id="a1", rating=55.0)
    data.write_response(row)
    with open(data.files.beh_tsv, "a") as fh:  # a crash in the middle of the next row
        fh.write("pre_questionnaire\tq\ta2\tcon")
    events = bids.read_tsv(data.files.events_tsv, bids.EVENTS_COLUMNS)
    assert events["onset"].tolist() == [12.5]
    beh = bids.read_tsv(data.files.beh_tsv, bids.BEH_COLUMNS)
    assert beh["item_id"].tolist() == ["a1"] and beh["rating"].tolist() == [55.0]
    assert data.answered_items("pre_questionnaire") == {("q", "a1")}


def test_preflight_audio_names_the_bad_file(tmp_path):
    from experiment.audio_player import preflight_audio

    protocol = load_protocol(make_short_protocol(tmp_path / "p"), check_audio=True)
    assert set(preflight_audio(protocol)) == set(protocol.condition_names)
    wav = protocol.conditions["neutral"].audio
    import soundfile

    soundfile.write(str(wav), np.zeros(44100 * 10), 44100)  # 10 s instead of 3 s
    with pytest.raises(AudioPreflightError, match="neutral.wav: lasts 10.0 s"):
        preflight_audio(protocol)
    wav.unlink()
    with pytest.raises(AudioPreflightError, match="neutral.wav: audio file not found"):
        preflight_audio(protocol)


def _write_raw(raw_dir, name, kind, rate, t, values, labels, units):
    raw_dir.mkdir(parents=True, exist_ok=True)
    meta = {"name": name, "type": kind, "source_id": name.split("_", 1)[1], "nominal_srate": rate,
            "channels": [{"label": la, "unit": u, "type": la.upper()}
                         for la, u in zip(labels, units)]}
    (raw_dir / f"{name}.json").write_text(json.dumps(meta))
    lines = ["lsl_time\t" + "\t".join(labels)]
    lines += [f"{a:.6f}\t" + "\t".join(f"{x:.6g}" for x in row) for a, row in zip(t, values)]
    (raw_dir / f"{name}.tsv").write_text("\n".join(lines) + "\n")


def test_assemble_physio_aligns_to_session_clock_and_marks_gaps(tmp_path):
    raw = tmp_path / "raw"
    fs = 100.0
    t1 = 500.0 + np.arange(300) / fs  # run 1: 3 s
    t2 = 510.0 + np.arange(200) / fs  # run 2 after a crash: 2 s, 7 s gap
    for name, t in (("run-1_dev", t1), ("run-2_dev", t2)):
        _write_raw(raw, name, "Physio", fs, t, np.column_stack([np.sin(t), t * 0 + 5.0]),
                   ["ecg", "eda"], ["mV", "uS"])
    _write_raw(raw, "run-1_soothemarkers", "Markers", 0.0, [501.25], [[90]], ["value"], ["n/a"])
    files = bids.SessionFiles(tmp_path / "ds", "001", "1", "induction")
    assert assemble_physio(raw, files, lsl_zero=499.0)
    meta = bids.read_physio_sidecar(files)
    assert meta["StartTime"] == pytest.approx(1.0)
    assert meta["Columns"] == ["ecg", "eda"] and meta["eda"]["Units"] == "uS"
    import pandas as pd

    table = pd.read_csv(files.physio_tsv_gz, sep="\t", header=None)
    assert len(table) == int(round((t2[-1] - t1[0]) * fs)) + 1
    gap = table.iloc[int(5 * fs) : int(9 * fs), 1]
    assert gap.isna().all()
    assert table.iloc[:290, 1].eq(5.0).all()
    assert raw_marker_times(raw) == [(501.25, 90)]


def test_read_raw_stream_drops_torn_last_line(tmp_path):
    p = tmp_path / "run-1_x.tsv"
    p.write_text("lsl_time\tecg\teda\n1.0\t0.1\t5\n1.01\t0.2\t5\n1.02\t0.")
    t, v, labels = read_raw_stream(p)
    assert t.tolist() == [1.0, 1.01] and labels == ["ecg", "eda"] and v.shape == (2, 2)


def test_generator_has_plausible_heart_rate():
    gen = PhysioGenerator(rate=250, seed=3)
    x = np.concatenate([gen.next_chunk(250) for _ in range(30)])
    from scipy.signal import find_peaks

    peaks, _ = find_peaks(x[:, 0], height=0.6, distance=75)
    assert 60 <= len(peaks) * 2 <= 80  # ~70 bpm over 30 s
    assert 4.0 < float(np.median(x[:, 1])) < 6.5


def test_generator_hands_out_a_reproducible_signal_in_chunks():
    """The one simulated device's signal: chunk by chunk, seeded, its clock moving on."""
    chunks = [37, 250, 13, 200]
    first = PhysioGenerator(rate=100.0, seed=2, resp=True)
    parts = [first.next_chunk(n) for n in chunks]
    assert [p.shape for p in parts] == [(n, 3) for n in chunks]
    assert all(p.dtype == np.float32 for p in parts)
    assert first.n == sum(chunks) and first.n / first.rate == pytest.approx(5.0)
    again = PhysioGenerator(rate=100.0, seed=2, resp=True)
    assert np.array_equal(np.concatenate(parts), np.concatenate([again.next_chunk(n)
                                                                 for n in chunks]))
    other = PhysioGenerator(rate=100.0, seed=3, resp=True)
    assert not np.array_equal(np.concatenate(parts), other.next_chunk(sum(chunks)))
    assert PhysioGenerator(rate=100.0, seed=2).next_chunk(5).shape == (5, 2)  # no belt


def test_recorder_records_a_live_lsl_stream(tmp_path, monkeypatch):
    """Outlet and recorder in one process: the raw file gets the samples in time order."""
    from experiment.lsl_config import write_lsl_config

    monkeypatch.setenv("LSLAPICFG", str(write_lsl_config(tmp_path / "lsl.cfg")))
    import pylsl

    from experiment.lab_config import StreamSpec
    from experiment.recorder import LSLRecorder
    from experiment.simulated_device import make_outlet

    sid = f"unit_{time.time()}"
    outlet = make_outlet(200.0, name="unit_physio", source_id=sid)
    warnings = []
    rec = LSLRecorder(tmp_path / "raw", 1, [StreamSpec("unit_physio", "Physio", sid)],
                      warn=warnings.append)
    rec.start()
    stop = threading.Event()

    def push():
        gen = PhysioGenerator(200.0)
        while not stop.is_set():
            outlet.push_chunk(gen.next_chunk(4).tolist(), pylsl.local_clock())
            time.sleep(0.02)

    pusher = threading.Thread(target=push)
    pusher.start()
    assert rec.ready.wait(10)
    time.sleep(2.0)
    stop.set()
    pusher.join()
    rec.stop()
    files = list((tmp_path / "raw").glob("run-1_unitphysio*.tsv"))
    assert len(files) == 1, warnings
    t, v, labels = read_raw_stream(files[0])
    assert labels == ["ecg", "eda"] and len(t) > 100
    assert np.all(np.diff(t) > 0)


def test_recorder_warns_with_timestamp_when_the_stream_is_lost(tmp_path, monkeypatch):
    """A physio stream that stops is reported (with a time) and recording goes on."""
    from experiment.lsl_config import write_lsl_config

    monkeypatch.setenv("LSLAPICFG", str(write_lsl_config(tmp_path / "lsl.cfg")))
    import pylsl

    from experiment import recorder as rec_mod
    from experiment.simulated_device import make_outlet

    monkeypatch.setattr(rec_mod, "LOST_AFTER_S", 1.0)
    from experiment.lab_config import StreamSpec

    sid = f"lossy_{time.time()}"
    outlet = make_outlet(200.0, name="lossy_physio", source_id=sid)
    warnings = []
    rec = rec_mod.LSLRecorder(tmp_path / "raw", 1, [StreamSpec("lossy_physio", "Physio", sid)],
                              warn=warnings.append)
    rec.start()
    assert rec.ready.wait(10)
    gen = PhysioGenerator(200.0)

    def push_for(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            outlet.push_chunk(gen.next_chunk(4).tolist(), pylsl.local_clock())
            time.sleep(0.02)

    push_for(1.0)
    time.sleep(2.0)  # the device goes silent
    push_for(1.0)
    rec.stop()
    lost = [w for w in warnings if "lost" in w]
    back = [w for w in warnings if "is back" in w]
    assert lost and back, warnings
    assert lost[0][:4].isdigit() and "T" in lost[0][:20]  # ISO timestamp first
    t, _, _ = read_raw_stream(next((tmp_path / "raw").glob("run-1_lossyphysio*.tsv")))
    assert np.max(np.diff(t)) > 1.5  # the gap is in the data, not papered over


def test_recorder_keeps_a_marker_pushed_just_before_stop(tmp_path, monkeypatch):
    """CI lost the session's last marker (the condition code, sent at the very end).

    The recorder has to drain what is still in transit after ``stop``.
    """
    from experiment.lsl_config import write_lsl_config

    monkeypatch.setenv("LSLAPICFG", str(write_lsl_config(tmp_path / "lsl.cfg")))
    import pylsl

    from experiment.markers import LSLMarkerOutlet
    from experiment.recorder import LSLRecorder

    name = f"soothe_markers_unit{int(time.time() * 1000) % 100000}"
    missing = []
    for attempt in range(5):
        outlet = LSLMarkerOutlet(name, source_id=f"{name}_{attempt}")
        raw = tmp_path / f"raw{attempt}"
        monkeypatch.setattr("experiment.recorder.MARKER_STREAM_NAME", name)
        rec = LSLRecorder(raw, 1, (), warn=lambda _m: None,
                          marker_source_id=f"{name}_{attempt}")
        rec.start()
        assert rec.ready.wait(10)
        deadline = time.monotonic() + 10
        while not rec.streams and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rec.streams, "recorder never found the marker stream"
        time.sleep(0.5)
        codes = list(range(1, 31))
        for code in codes:
            outlet.send(code, pylsl.local_clock())
        rec.stop()  # no pause: the last markers are still in flight
        outlet.close()
        got = [c for _, c in raw_marker_times(raw)]
        missing.append(sorted(set(codes) - set(got)))
    assert all(m == [] for m in missing), f"markers lost at stop: {missing}"


class RecordingPort(_PulsedBackend):
    """A trigger port that records every (time, value) written to its lines."""

    name = "recording"

    def __init__(self, pulse_s: float = 0.03):
        super().__init__(pulse_s=pulse_s)
        self.writes: list[tuple[float, int]] = []
        self.fail = False

    def _write(self, code):
        if self.fail:
            raise OSError("port gone")
        self.writes.append((time.perf_counter(), code))


@pytest.mark.parametrize("codes", [[1, 20], [30, 31, 32, 33, 34]])
def test_pulsed_backend_keeps_back_to_back_markers_apart(codes):
    pulse = 0.03
    port = RecordingPort(pulse)
    sender = MarkerSender([port])
    t0 = time.perf_counter()
    for i, code in enumerate(codes):
        sender.send(code, f"m{i}")
    assert time.perf_counter() - t0 < pulse  # send() only queues: the frame loop never waits
    assert port.flush(timeout=5)
    values = [v for _, v in port.writes]
    assert values == [x for code in codes for x in (code, 0)]  # in order, none lost
    held = np.diff([t for t, _ in port.writes])
    assert (held >= pulse * 0.98).all(), held  # each code held, each 0 gap, >= pulse_s
    sender.close()
    assert port.writes[-1][1] == 0


def test_pulsed_backend_reports_a_failed_write_on_the_next_send():
    port = RecordingPort(0.005)
    port.send(5, 0.0)
    port.flush(2)
    port.fail = True
    port.send(6, 0.0)  # queued; the writer thread fails on it
    port.flush(2)
    with pytest.raises(OSError, match="port gone"):
        port.send(7, 0.0)
    port.flush(2)
    port.fail = False
    with pytest.raises(OSError):  # still failing: the last write attempt failed
        port.send(8, 0.0)
    port.flush(2)
    port.send(9, 0.0)  # the queued 8 went out: the port is back
    port.close()
    assert [v for _, v in port.writes] == [5, 0, 8, 0, 9, 0, 0]


class _FlipWindow:
    """PsychoPy's callOnFlip semantics: callbacks run after the flip, in order."""

    def __init__(self):
        self.calls = []

    def callOnFlip(self, function, *args, **kwargs):
        self.calls.append((function, args, kwargs))

    def flip(self):
        calls, self.calls = self.calls, []
        for function, args, kwargs in calls:
            function(*args, **kwargs)


def test_markers_of_one_flip_all_go_out_before_any_is_written():
    log = []

    class Port(NullMarkers):
        def send(self, code, lsl_time):
            log.append(("send", code))

    def slow_write(marker):  # an fsync'ed append takes milliseconds
        log.append(("write", marker.code))
        time.sleep(0.01)

    sender = MarkerSender([Port()], on_sent=slow_write, hold_flip_writes=True)
    win = _FlipWindow()
    sender.send_on_flip(win, 1, "session_start")
    sender.send_on_flip(win, 10, "baseline_onset")
    win.callOnFlip(lambda: sender.send(40, "item_onset", hold=True))
    win.flip()
    assert log == [("send", 1), ("send", 10), ("send", 40)]
    sender.write_held()  # what the display runs right after the flip
    assert log[3:] == [("write", 1), ("write", 10), ("write", 40)]
    sender.send_on_flip(win, 11, "baseline_offset")
    win.flip()
    sender.send(12, "plain")  # a plain send writes at once, after any held marker
    assert log[6:] == [("send", 11), ("send", 12), ("write", 11), ("write", 12)]
    times = [m.lsl_time for m in sender.sent]
    assert times == sorted(times)


class _CapturedSession:
    """Stands in for experiment.session.Session: records the options it was given."""

    seen: list = []

    def __init__(self, options):
        type(self).seen.append(options)

    def execute(self):
        return 0


def test_run_without_dialog_requires_age_and_sex(tmp_path, monkeypatch):
    from experiment import cli, session
    from experiment.errors import SessionError

    monkeypatch.setenv("SOOTHE_NO_REEXEC", "1")
    monkeypatch.setattr(session, "Session", _CapturedSession)
    base = ["--data", str(tmp_path), "--participant", "P01", "--initials", "AB"]
    with pytest.raises(SessionError, match="--age and --sex"):
        cli.run_main(base)
    with pytest.raises(SessionError, match="needs --sex"):
        cli.run_main([*base, "--age", "41"])
    assert _CapturedSession.seen == []  # nothing started with an assumed stratum
    assert cli.run_main([*base, "--age", "41", "--sex", "male"]) == 0
    info = _CapturedSession.seen[-1].start_info
    assert (info.age, info.sex) == (41, "male")


def test_resume_takes_age_and_sex_from_the_saved_session(tmp_path, monkeypatch):
    from experiment import cli, session
    from experiment.errors import SessionError

    monkeypatch.setenv("SOOTHE_NO_REEXEC", "1")
    monkeypatch.setattr(session, "Session", _CapturedSession)
    base = ["--data", str(tmp_path), "--participant", "P02", "--initials", "AB", "--resume"]
    with pytest.raises(SessionError, match="nothing to resume"):
        cli.run_main(base)
    data = SessionData(tmp_path, "P02", "1", load_protocol().task)
    data.state = SessionState(subject="P02", session="1", session_code="S-TEST", age="57",
                              sex="diverse", initials="AB")
    data.save_state()
    assert cli.run_main(base) == 0
    info = _CapturedSession.seen[-1].start_info
    assert (info.age, info.sex) == (57, "diverse")
    with pytest.raises(SessionError, match="differs from the saved session"):
        cli.run_main([*base, "--sex", "female"])


_UPSERT_WORKER = """
import sys
from conditions import bids
root, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    bids.upsert_participant(root, {"participant_id": f"sub-{prefix}{i:03d}", "age": 30,
                                   "sex": "female", "condition": "n/a",
                                   "session_code": "S-TEST", "status": "n/a"})
    bids.upsert_participant(root, {"participant_id": f"sub-{prefix}{i:03d}",
                                   "status": "incomplete"})
"""


def test_concurrent_participant_upserts_lose_no_row(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(repo))
    n_procs, n_each = 3, 20
    procs = [subprocess.Popen([sys.executable, "-c", _UPSERT_WORKER, str(tmp_path), f"w{k}x",
                               str(n_each)], env=env, stderr=subprocess.PIPE, text=True)
             for k in range(n_procs)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
    table = bids.read_participants(tmp_path)
    assert len(table) == n_procs * n_each  # nobody's row overwritten by a stale read
    assert table["participant_id"].is_unique
    assert (table["status"] == "incomplete").all()  # every update kept too


def test_audio_provenance_flags_pilot_placeholders_and_hashes_the_file(tmp_path):
    import hashlib

    from experiment.audio_player import pilot_warning, protocol_audio_provenance

    protocol = load_protocol(make_short_protocol(tmp_path / "p"), check_audio=True)
    prov = protocol_audio_provenance(protocol)
    assert pilot_warning(prov) is None  # a lab's own recordings: no sidecar, no warning
    wav = protocol.conditions["body_scan"].audio
    wav.with_suffix(".json").write_text(json.dumps({"PilotPlaceholder": True}))
    prov = protocol_audio_provenance(protocol)
    assert prov["body_scan"]["pilot_placeholder"] is True
    assert prov["body_scan"]["sha256"] == hashlib.sha256(wav.read_bytes()).hexdigest()
    assert not prov["neutral"]["pilot_placeholder"]
    warning = pilot_warning(prov)
    assert "1 of 5" in warning and "PILOT" in warning
    assert not any(name in warning for name in protocol.condition_names)  # concealment
    wav.with_suffix(".json").write_text("{not json")
    with pytest.raises(AudioPreflightError, match="body_scan.json: audio sidecar unreadable"):
        protocol_audio_provenance(protocol)


def test_simulated_device_exits_when_its_session_is_already_gone(tmp_path):
    """A session killed right after starting the device left an orphan streaming for ever
    (its getppid() was already 1), which later sessions then recorded as their own."""
    import subprocess
    import sys

    from experiment.lsl_config import write_lsl_config

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    env = dict(os.environ, LSLAPICFG=str(write_lsl_config(tmp_path / "lsl.cfg")))
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "experiment.simulated_device", "--rate", "100",
                          "--parent-pid", str(dead.pid)], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert time.monotonic() - t0 < 30
