"""Two lab PCs: ``soothe allocation serve`` as a real process, clients over XML-RPC and a local
process on the same file, all allocating at once."""

from __future__ import annotations

import multiprocessing as mp
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from experiment_fixtures import make_short_protocol
from test_allocation import _worker, check_concurrent_result

from conditions.protocol import load_protocol
from experiment.allocation import AllocationDB, AllocationError, open_allocation_db
from experiment.allocation_cli import main as cli_main
from experiment.allocation_server import (
    TOKEN_ENV,
    RemoteAllocationDB,
    read_or_create_token,
    token_path_for,
)

CONDITIONS = tuple(load_protocol().condition_names)


class Server:
    """``soothe allocation serve`` in a subprocess; its whole console goes to a file."""

    def __init__(self, db_path: Path, log_path: Path) -> None:
        self.log_path = log_path
        self._log = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "soothe", "allocation", "serve", "--db", str(db_path),
             "--host", "127.0.0.1", "--port", "0"],
            stdout=self._log, stderr=subprocess.STDOUT, env=dict(os.environ),
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", self.console())
            if found:
                self.url = found.group(1)
                break
            assert self.proc.poll() is None, self.console()
            time.sleep(0.1)
        else:
            self.stop()
            pytest.fail(f"server did not start: {self.console()}")
        self.token = token_path_for(db_path).read_text(encoding="utf-8").strip()

    def console(self) -> str:
        return self.log_path.read_text(encoding="utf-8")

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)
        self._log.close()
        return self.console()


@pytest.fixture
def served(tmp_path: Path):
    db = AllocationDB.create(tmp_path / "lab.sqlite", load_protocol(), seed=21)
    server = Server(db.path, tmp_path / "server_console.txt")
    try:
        yield db, server
    finally:
        console = server.stop()
        # concealment: whatever happened, the server's console never names a condition
        assert not [c for c in CONDITIONS if c in console], console


def _remote_worker(url: str, token: str, prefix: str, n: int, queue) -> None:
    db = RemoteAllocationDB(url, token)
    out = []
    for i in range(n):
        sex = "female" if i % 3 else "male"
        a = db.allocate(f"{prefix}{i:05d}", {"sex": sex}, machine=prefix)
        out.append((a.participant_id, a.stratum, a.slot, a.condition))
    queue.put(out)


def test_two_remote_clients_and_one_local_process_allocate_at_once(served):
    db, server = served
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_remote_worker, args=(server.url, server.token, f"pc{k}x", 40,
                                                      queue)) for k in (1, 2)]
    procs.append(ctx.Process(target=_worker, args=(str(db.path), "localx", 40, queue)))
    for p in procs:
        p.start()
    results = []
    for _ in procs:
        results.extend(queue.get(timeout=120))
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    # no duplicate, no skipped slot, every block balanced, each client told what is stored
    check_concurrent_result(db, results, 120)
    machines = set(db.export(unblind=False, confirmed_by="test")["machine"])
    assert machines == {"pc1x", "pc2x", "localx"}
    console = server.console()
    assert console.count("allocate pc1x") == 40 and "localx" not in console


def test_same_id_remotely_gets_the_same_allocation(served):
    db, server = served
    remote = RemoteAllocationDB(server.url, server.token)
    assert remote.strata_fields == db.strata_fields
    first = remote.allocate("r01", {"sex": "female"}, machine="pc2")
    again = remote.allocate("sub-r01", {"sex": "male"}, machine="pc3")  # never a new draw
    assert again == first == db.lookup("r01")
    local_first = db.allocate("r02", {"sex": "male"})
    assert remote.allocate("r02", {"sex": "male"}) == local_first
    assert remote.lookup("r02") == local_first and remote.lookup("nobody") is None
    assert remote.session_status("r01") == "allocated" and remote.session_status("x") is None
    remote.mark_session("r01", "complete")
    assert db.session_status("r01") == "complete"
    with pytest.raises(AllocationError, match=re.escape(server.url) + ".*not allocated"):
        remote.mark_session("nobody", "incomplete")
    with pytest.raises(AllocationError, match="missing value"):
        remote.allocate("r03", {})
    assert db.verify() == []


def test_wrong_or_missing_token_is_refused(served, tmp_path, monkeypatch):
    db, server = served
    with pytest.raises(AllocationError, match="refused the token"):
        RemoteAllocationDB(server.url, "not-the-token")
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pytest.raises(AllocationError, match="needs its token"):
        RemoteAllocationDB(server.url)
    with pytest.raises(AllocationError, match="cannot read the allocation token file"):
        RemoteAllocationDB(server.url, token_file=tmp_path / "missing.token")
    monkeypatch.setenv(TOKEN_ENV, server.token)
    assert type(open_allocation_db(server.url)).__name__ == "RemoteAllocationDB"
    console = server.console()
    assert "refused a request from 127.0.0.1" in console and "not-the-token" not in console
    assert db.export(unblind=False, confirmed_by="t").empty  # nothing allocated by a refusal


def test_token_file_is_private_and_stable(tmp_path):
    db = AllocationDB.create(tmp_path / "t.sqlite", load_protocol(), seed=1)
    token, path = read_or_create_token(db.path)
    assert path == tmp_path / "t.sqlite.token"
    if os.name == "posix":
        assert path.stat().st_mode & 0o777 == 0o600
        path.chmod(0o644)
    assert read_or_create_token(db.path) == (token, path)
    if os.name == "posix":
        assert path.stat().st_mode & 0o777 == 0o600


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_down_is_a_clear_error_before_the_session(tmp_path, served):
    _db, server = served
    remote = RemoteAllocationDB(server.url, server.token)
    remote.allocate("d01", {"sex": "female"})
    server.stop()
    # mid-session: the outcome cannot be recorded; the message says how to do it later
    with pytest.raises(AllocationError, match="unreachable.*NOT recorded.*soothe allocation "
                                              "mark"):
        remote.mark_session("d01", "complete")
    # pre-flight: opening fails, naming the server and what was expected there
    url = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(AllocationError, match=re.escape(url) + " is unreachable.*"
                                              "soothe allocation serve"):
        open_allocation_db(url, token="x")
    with pytest.raises(AllocationError, match="http://HOST:PORT"):
        RemoteAllocationDB("http://127.0.0.1", token="x")  # no port


def test_not_a_soothe_server_and_timeout(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        with pytest.raises(AllocationError, match="did not answer 'health' within 0.5 s"):
            RemoteAllocationDB(url, token="x", timeout=0.5)
    finally:
        listener.close()


def test_session_pre_flight_stops_before_anything_is_recorded(tmp_path, monkeypatch):
    """``soothe run --db http://...`` with the server down fails in setup, before the dialog."""
    from experiment.dialog import validate_start_info
    from experiment.session import Session, SessionOptions

    info, problems = validate_start_info({"participant": "p01", "session": "1", "age": "30",
                                          "sex": "female", "initials": "AB"})
    assert info is not None, problems
    url = f"http://127.0.0.1:{_free_port()}"
    protocol = make_short_protocol(tmp_path / "conditions", likert=False)
    session = Session(SessionOptions(data_root=tmp_path / "data", protocol_path=protocol,
                                     db_path=url, db_token_file=None, start_info=info))
    monkeypatch.setenv(TOKEN_ENV, "x")
    with pytest.raises(AllocationError, match="unreachable"):
        session.setup()
    assert session.data is None and not (tmp_path / "data" / "sub-p01").exists()


def test_cli_remote_allocate_and_mark_local_only_commands(served, tmp_path, capsys):
    db, server = served
    token_file = tmp_path / "copied.token"
    token_file.write_text(server.token + "\n", encoding="utf-8")
    args = ["--db", server.url, "--token-file", str(token_file)]
    assert cli_main(["allocate", *args, "--id", "c1", "--stratum", "sex=female"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == db.lookup("c1").session_code
    assert cli_main(["mark", *args, "--id", "c1", "--status", "incomplete"]) == 0
    assert db.session_status("c1") == "incomplete"
    for command in ("status", "export", "verify", "init", "serve"):
        with pytest.raises(AllocationError, match="local command"):
            cli_main([command, "--db", server.url])
    # through the soothe command: the message names the server and the token
    run = subprocess.run([sys.executable, "-m", "soothe", "allocation", "allocate", "--db",
                          server.url, "--id", "c2", "--stratum", "sex=male"],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, TOKEN_ENV: "wrong"})
    assert run.returncode == 1 and "refused the token" in run.stderr, run.stderr
