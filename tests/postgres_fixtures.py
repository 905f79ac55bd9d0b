"""A private, real PostgreSQL server for the allocation tests (no mock).

Each test session starts its own cluster: ``initdb`` into a fresh temporary folder,
``pg_ctl start`` listening on 127.0.0.1 at a free port and on a private Unix-socket folder,
password (SCRAM) authentication for TCP. PostgreSQL refuses to run as root, so when the
tests run as root the cluster belongs to the ``postgres`` system user (Debian's
``postgresql`` package creates it; ``.ci/run`` installs that package) and the commands run
through ``runuser``. Each test gets its own database (:func:`pg_url`).

Without PostgreSQL's binaries the tests are skipped, except under CI (``CI=true``), where a
missing server is an error.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest
from conftest import in_ci

PG_USER = "soothe_test"


def _pg_bin() -> Path | None:
    """The folder holding initdb and pg_ctl ($SOOTHE_PG_BIN, PATH, or Debian's layout)."""
    if os.environ.get("SOOTHE_PG_BIN"):
        return Path(os.environ["SOOTHE_PG_BIN"])
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                      key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """A running private cluster; :meth:`new_database` makes an empty database."""

    def __init__(self, base: Path, port: int, password: str, run_as: str | None) -> None:
        self.base, self.port, self.password, self.run_as = base, port, password, run_as
        self.n = 0

    def url(self, database: str, password: str | None = None) -> str:
        pw = self.password if password is None else password
        return f"postgresql://{PG_USER}:{pw}@127.0.0.1:{self.port}/{database}"

    def new_database(self, prefix: str = "t") -> str:
        import psycopg

        self.n += 1
        name = f"{prefix}{self.n}_{secrets.token_hex(3)}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _run(cmd: list[str], run_as: str | None) -> subprocess.CompletedProcess:
    if run_as:
        cmd = ["runuser", "-u", run_as, "--", *cmd]
    # cwd /: the cluster's owner may not be allowed into the repository's folder
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd="/")


def _unavailable(why: str):
    if in_ci():
        pytest.fail(f"PostgreSQL is needed for the allocation tests (CI=true): {why}; "
                    ".ci/run installs the Debian 'postgresql' package")
    pytest.skip(f"PostgreSQL not available: {why}")


@pytest.fixture(scope="session")
def postgres_server():
    """Start a private PostgreSQL cluster for this test session; stop and delete it after."""
    bindir = _pg_bin()
    if bindir is None or not (bindir / "pg_ctl").exists():
        _unavailable("initdb/pg_ctl not found (set SOOTHE_PG_BIN or install postgresql)")
    run_as = None
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("running as root and there is no 'postgres' user to own the cluster")
        run_as = "postgres"
    base = Path(tempfile.mkdtemp(prefix="soothe-pg-"))
    data, sockets = base / "data", base / "sock"
    sockets.mkdir()
    password = secrets.token_urlsafe(12)
    pwfile = base / "pw"
    pwfile.write_text(password + "\n")
    if run_as:
        import pwd

        owner = pwd.getpwnam(run_as)
        for path in (base, sockets, pwfile):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    os.chmod(base, 0o700)
    init = _run([str(bindir / "initdb"), "-D", str(data), "-U", PG_USER, "--pwfile", str(pwfile),
                 "--auth-local=trust", "--auth-host=scram-sha-256", "--no-locale",
                 "--encoding=UTF8", "--no-sync"], run_as)
    if init.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"initdb failed: {init.stderr[-2000:]}")
    port = _free_port()
    opts = (f"-p {port} -k {sockets} -h 127.0.0.1 -c max_connections=60 "
            "-c shared_buffers=16MB")
    start = _run([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w",
                  "-t", "60", "-o", opts, "start"], run_as)
    if start.returncode != 0:
        log = (base / "log").read_text(errors="replace") if (base / "log").exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"pg_ctl start failed: {start.stderr[-1000:]} {log[-2000:]}")
    try:
        yield PostgresServer(base, port, password, run_as)
    finally:
        # immediate: no shutdown checkpoint, the cluster is deleted next
        _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], run_as)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture()
def pg_url(postgres_server) -> str:
    """``postgresql://`` URL of a new, empty database on the private server."""
    return postgres_server.new_database()
