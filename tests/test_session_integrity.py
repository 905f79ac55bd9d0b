"""Session side: stream identity, marker ports, start-up entries (no screen).

Each test here fails on the code before the fix: the recorder opened every stream of a
physiology type and every 'soothe_markers' stream; 'parallel:0x0378' became
'/dev/parport888' on Linux and 'parallel:/dev/parport0' an int() error; an empty
'--participant' ran as sub-sim1; the dialog had no required fields and pre-selected
'female'; a cancelled dialog exited like an Escape abort.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

import pytest
from experiment_fixtures import (  # noqa: F401  (fixtures)
    REPO,
    make_short_protocol,
    psychopy_home,
    xvfb_display,
)

from experiment.errors import MarkerError, SessionError
from experiment.lab_config import (
    StreamIdentityError,
    StreamSpec,
    read_lab_config,
    write_lab_config,
)


@pytest.fixture
def lsl_here(tmp_path, monkeypatch):
    from experiment.lsl_config import write_lsl_config

    monkeypatch.setenv("LSLAPICFG", str(write_lsl_config(tmp_path / "lsl.cfg")))
    return uuid.uuid4().hex[:10]


def _physio_outlet(name: str, source_id: str):
    from experiment.simulated_device import make_outlet

    return make_outlet(200.0, name=name, source_id=source_id)


# ------------------------------------------------------------------ lab config
def test_lab_config_round_trip_and_bad_files(tmp_path):
    path = tmp_path / "lab.json"
    devices = [StreamSpec("amp", "ECG", "amp-1", "labpc"), StreamSpec("belt", "RSP", "", "")]
    write_lab_config(path, devices, written_by="test", written="2026-01-01T00:00:00Z")
    assert read_lab_config(path) == devices
    with pytest.raises(StreamIdentityError, match="soothe check --confirm-streams"):
        read_lab_config(tmp_path / "absent.json")
    (tmp_path / "empty.json").write_text("")
    with pytest.raises(StreamIdentityError, match="empty.json: lab config unreadable"):
        read_lab_config(tmp_path / "empty.json")
    (tmp_path / "nodev.json").write_text('{"devices": []}')
    with pytest.raises(StreamIdentityError, match="names no devices"):
        read_lab_config(tmp_path / "nodev.json")
    (tmp_path / "noname.json").write_text('{"devices": [{"type": "ECG"}]}')
    with pytest.raises(StreamIdentityError, match="device 1 needs at least 'name'"):
        read_lab_config(tmp_path / "noname.json")
    with pytest.raises(StreamIdentityError, match="no physiology stream"):
        write_lab_config(path, [], written_by="t", written="now")


# ------------------------------------------------------------------ recorder
def test_recorder_records_only_its_configured_device_and_its_own_markers(tmp_path, lsl_here):
    """A look-alike device (same name and type, another source_id) and another session's
    marker stream are on the network too; neither may be recorded."""
    import pylsl

    from experiment.markers import LSLMarkerOutlet
    from experiment.recorder import LSLRecorder, raw_marker_times

    tag = lsl_here
    ours = _physio_outlet(f"amp_{tag}", f"ours_{tag}")
    theirs = _physio_outlet(f"amp_{tag}", f"theirs_{tag}")
    my_markers = LSLMarkerOutlet("soothe_markers", source_id=f"me_{tag}")
    other_markers = LSLMarkerOutlet("soothe_markers", source_id=f"other_{tag}")
    rec = LSLRecorder(tmp_path / "raw", 1, [StreamSpec(f"amp_{tag}", "Physio", f"ours_{tag}")],
                      warn=lambda _m: None, marker_source_id=f"me_{tag}")
    stop = threading.Event()

    def push():
        while not stop.is_set():
            now = pylsl.local_clock()
            ours.push_chunk([[1.0, 5.0]] * 4, now)
            theirs.push_chunk([[-1.0, 9.0]] * 4, now)
            other_markers.send(90, now)
            time.sleep(0.02)

    pusher = threading.Thread(target=push)
    pusher.start()
    try:
        rec.start()
        assert rec.ready.wait(10)
        deadline = time.monotonic() + 10
        while len(rec.streams) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        for code in (1, 10, 11):
            my_markers.send(code, pylsl.local_clock())
        time.sleep(2.5)  # past a re-discovery round
    finally:
        stop.set()
        pusher.join()
        rec.stop()
    import json

    metas = [json.loads(p.read_text()) for p in (tmp_path / "raw").glob("run-*.json")]
    assert sorted(m["source_id"] for m in metas) == sorted([f"ours_{tag}", f"me_{tag}"])
    assert [c for _, c in raw_marker_times(tmp_path / "raw")] == [1, 10, 11]
    from experiment.recorder import read_raw_stream

    physio = next((tmp_path / "raw").glob("run-1_amp*.tsv"))
    _, values, _ = read_raw_stream(physio)
    assert len(values) > 50 and (values[:, 0] == 1.0).all()  # never the look-alike's -1


def _session(tmp_path, **kw):
    from experiment.session import Session, SessionOptions

    return Session(SessionOptions(data_root=tmp_path / "data", out=open(os.devnull, "w"),
                                  stream_wait_s=0.5, **kw))


def test_a_device_matched_twice_stops_the_start_naming_both(tmp_path, lsl_here):
    tag = lsl_here
    spec = StreamSpec(f"amp_{tag}", "Physio", f"amp_{tag}")
    cfg = write_lab_config(tmp_path / "lab.json", [spec], written_by="t", written="now")
    first = _physio_outlet(spec.name, spec.source_id)  # noqa: F841 (kept alive)
    second = _physio_outlet(spec.name, spec.source_id)  # noqa: F841 (a second copy)
    with pytest.raises(StreamIdentityError) as err:
        _session(tmp_path, lab_config=cfg)._check_streams()
    text = str(err.value)
    assert "2 LSL streams match the configured device" in text
    assert text.count(f"'amp_{tag}'") >= 3 and text.count("uid ") == 2  # both named


def test_an_absent_device_stops_the_start_unless_going_on_without_physiology(tmp_path,
                                                                              lsl_here):
    tag = lsl_here
    spec = StreamSpec(f"amp_{tag}", "Physio", f"amp_{tag}")
    cfg = write_lab_config(tmp_path / "lab.json", [spec], written_by="t", written="now")
    alike = _physio_outlet(spec.name, f"other_{tag}")  # noqa: F841 (not the configured one)
    with pytest.raises(SessionError) as err:
        _session(tmp_path, lab_config=cfg)._check_streams()
    text = str(err.value)
    assert "not on LSL" in text and f"other_{tag}" in text and "--no-physio" in text
    session = _session(tmp_path, lab_config=cfg, no_physio=True)
    devices, note = session._check_streams()
    assert devices == [] and "chose to go on without physiology" in note
    assert any("WITHOUT physiology" in w for w in session.warnings)
    with pytest.raises(StreamIdentityError, match="no lab config"):
        _session(tmp_path, lab_config=tmp_path / "none.json")._check_streams()


def test_marker_outlets_of_two_sessions_differ(lsl_here):
    from experiment.markers import open_backends

    a = open_backends("lsl", lsl_source_id=f"a_{lsl_here}")[0]
    b = open_backends("lsl", lsl_source_id=f"b_{lsl_here}")[0]
    assert a.outlet.get_info().source_id() != b.outlet.get_info().source_id()


# ------------------------------------------------------------------ marker ports
def test_parallel_port_spec_per_platform():
    from experiment.markers import open_backends, parse_parallel_port

    if os.sys.platform.startswith("linux"):
        with pytest.raises(MarkerError) as err:
            open_backends("parallel:0x0378")
        assert "parport888" not in str(err.value)
        assert "Windows I/O port address" in str(err.value)
        assert "parallel:/dev/parport0" in str(err.value)
        if not os.path.exists("/dev/parport7"):
            with pytest.raises(MarkerError, match="/dev/parport7 does not exist.*ppdev"):
                open_backends("parallel:/dev/parport7")
    assert parse_parallel_port("/dev/parport2", "linux") == "/dev/parport2"
    assert parse_parallel_port("0xD010", "win32") == 0xD010
    assert parse_parallel_port("378", "win32") == 0x378
    for bad, platform, fragment in [("/dev/parport0", "win32", "I/O address in hex"),
                                    ("/dev/ttyS0", "linux", "not a parallel-port device"),
                                    ("LPT1", "win32", "I/O address in hex"),
                                    ("0x10000", "win32", "0x0001-0xFFFF"),
                                    ("", "darwin", "not supported on darwin")]:
        with pytest.raises(MarkerError, match=fragment):
            parse_parallel_port(bad, platform)


def test_parallel_port_that_is_not_a_device_is_refused(tmp_path):
    from experiment.markers import _check_device_file

    fake = tmp_path / "parport0"
    fake.write_bytes(b"")
    with pytest.raises(MarkerError, match="is not a device"):
        _check_device_file(str(fake), "parallel port", "hint")


def test_serial_port_spec_and_devices(tmp_path):
    from experiment.markers import SerialMarkers, open_backends, parse_serial_port

    assert parse_serial_port("/dev/ttyACM0", "linux") == ("/dev/ttyACM0", 115200)
    assert parse_serial_port("COM12@9600", "win32") == ("COM12", 9600)
    for bad, platform, fragment in [("COM3", "linux", "Windows port name"),
                                    ("/dev/ttyUSB0", "win32", "name the COM port"),
                                    ("/dev/ttyUSB0@fast", "linux", "baud rate 'fast'"),
                                    ("/dev/ttyUSB0@-1", "linux", "positive whole number"),
                                    ("ttyUSB0", "linux", "expected a device file"),
                                    ("", "linux", "needs a device")]:
        with pytest.raises(MarkerError, match=fragment):
            parse_serial_port(bad, platform)
    if not os.sys.platform.startswith("linux"):
        return
    with pytest.raises(MarkerError, match="does not exist.*ports seen"):
        open_backends("serial:/dev/ttyUSB97")
    fake = tmp_path / "ttyFAKE"
    fake.write_bytes(b"")
    with pytest.raises(MarkerError, match="is not a device"):
        SerialMarkers(str(fake))
    master, slave = os.openpty()  # a pseudo-terminal stands in for a trigger box
    try:
        port = open_backends(f"serial:{os.ttyname(slave)}@57600")[0]
        port.send(42, 0.0)
        port.close()
        got = b""
        deadline = time.monotonic() + 2
        while b"*" not in got and time.monotonic() < deadline:
            got += os.read(master, 64)
        assert b"*" in got  # code 42
    finally:
        os.close(master)
        os.close(slave)


# ------------------------------------------------------------------ start-up entries
class _Captured:
    seen: list = []

    def __init__(self, options):
        type(self).seen.append(options)

    def execute(self):
        return 0


@pytest.mark.parametrize("extra", [[], ["--simulate"]])
def test_empty_participant_is_refused(tmp_path, monkeypatch, extra):
    from experiment import cli, session

    monkeypatch.setenv("SOOTHE_NO_REEXEC", "1")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(session, "Session", _Captured)
    _Captured.seen = []
    for empty in ("", "  "):
        with pytest.raises(SessionError, match="--participant is empty"):
            cli.run_main(["--data", str(tmp_path), "--participant", empty, "--age", "30",
                          "--sex", "male", "--initials", "AB", "--no-device", *extra])
    assert _Captured.seen == []


def test_validation_refuses_an_unchosen_sex():
    from experiment.dialog import SEX_UNCHOSEN, validate_start_info

    raw = {"participant": "P01", "session": "1", "age": "30", "initials": "AB"}
    for sex in (SEX_UNCHOSEN, ""):
        info, problems = validate_start_info(dict(raw, sex=sex))
        assert info is None and "not chosen" in problems[0]


def test_cancelled_dialog_exits_with_its_own_code(tmp_path, monkeypatch):
    from experiment import session as session_mod

    protocol = make_short_protocol(tmp_path / "protocol")
    monkeypatch.setattr(session_mod, "ask_start_info", lambda *_a, **_k: None)
    s = session_mod.Session(session_mod.SessionOptions(
        data_root=tmp_path / "data", protocol_path=protocol, simulate=True, record=False,
        out=open(os.devnull, "w")))
    code = s.execute()
    assert code == session_mod.EXIT_CANCELLED
    assert code not in (session_mod.EXIT_ABORTED, session_mod.EXIT_ERROR,
                        session_mod.EXIT_COMPLETE)
    assert not (tmp_path / "data" / "participants.tsv").exists()  # nothing started


_DIALOG_FIELDS = """
import json
from experiment.dialog import build_dialog
dlg = build_dialog({"session": "1"})
print(json.dumps({
    "labels": [w.text() for w in dlg.findChildren(type(dlg.requiredMsg))],
    "required": [bool(f.required) for f in dlg.inputFields],
    "sex": dlg.data["sex"],
    "required_note_shown": not dlg.requiredMsg.isHidden(),
    "ok_enabled": dlg.okBtn.isEnabled(),
}))
"""


@pytest.mark.screen
def test_dialog_marks_required_fields_and_preselects_no_sex(tmp_path, xvfb_display):  # noqa: F811
    import json
    import subprocess
    import sys

    env = dict(os.environ, DISPLAY=xvfb_display, HOME=str(tmp_path), PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", _DIALOG_FIELDS], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    from experiment.dialog import SEX_CHOICES

    field_labels = [t for t in got["labels"] if t.startswith(("Participant", "Session", "Age",
                                                              "Sex", "Experimenter"))]
    assert len(field_labels) == 5 and all(t.rstrip().endswith("*") for t in field_labels)
    assert got["required"] == [True] * 5
    assert got["required_note_shown"]  # "Fields marked with an asterisk (*) are required."
    assert got["sex"] not in SEX_CHOICES  # nothing pre-selected
    assert not got["ok_enabled"]  # the participant ID is empty: OK stays off
