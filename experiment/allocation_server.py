"""Allocation for two lab PCs: one PC serves its local database, the others allocate through it.

SQLite's guarantees (one transaction per allocation: no duplicate, no skipped slot) need every
process that writes the file on one host, with the file on that host's local disk
(:func:`experiment.allocation.check_local_disk`). A second lab PC therefore never opens the
file; it asks the PC that holds it. ``soothe allocation serve`` runs a small XML-RPC service
(the standard library's :mod:`xmlrpc.server`, one thread per request) in front of an
:class:`~experiment.allocation.AllocationDB`; each request is handled by the same
``BEGIN IMMEDIATE`` transaction a local session uses, so remote and local sessions queue on
one write lock.

The service exposes only what a session runner needs: ``allocate``, ``lookup``,
``session_status``, ``mark_session`` and ``health``. Blinded status, export and verify stay
local commands on the server PC. Every request must carry the study's shared token (an
``Authorization: Bearer`` header); the token lives next to the database in
``<database>.token`` (mode 0600) and is created by the first ``serve``. A refused request is
logged on the server console without the token it carried.

Concealment: the condition travels to the runner (it picks the audio file) but the server
never prints or logs it: its console shows participant IDs, machines and session codes only.
The traffic is plain HTTP, so keep the service on the lab network (or behind an SSH tunnel).

Clients use :class:`RemoteAllocationDB` (selected by :func:`experiment.allocation.
open_allocation_db` when ``--db`` is an ``http://`` URL), which checks the server, the token
and the API version when it is opened, so a problem stops the session before it starts.
This module does not import PsychoPy.
"""

from __future__ import annotations

import hmac
import http.client
import os
import secrets
import signal
import socket
import socketserver
import stat
import sys
import threading
import xmlrpc.client
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit
from xml.parsers.expat import ExpatError
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer

from experiment.allocation import Allocation, AllocationDB, AllocationError

SERVICE_NAME = "soothe-allocation"
#: Bumped when a method's arguments or results change; client and server must agree.
API_VERSION = 1
DEFAULT_PORT = 8765
TOKEN_ENV = "SOOTHE_ALLOCATION_TOKEN"
#: Seconds a client waits for an answer. The server itself waits up to
#: ``allocation.BUSY_TIMEOUT_MS`` for the write lock, which local sessions hold for milliseconds.
CLIENT_TIMEOUT_S = 30.0
_EXPOSED = ("health", "allocate", "lookup", "session_status", "mark_session")


class AllocationServerUnreachable(AllocationError):
    """No answer from the server (down, timed out, not reachable): the request may be retried."""


def token_path_for(db_path: str | Path) -> Path:
    """Where the shared token of a database lives: ``<database>.token`` beside it.

    Examples
    --------
    >>> token_path_for("/lab/study/allocation.sqlite").name
    'allocation.sqlite.token'
    """
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + ".token")


def read_or_create_token(db_path: str | Path) -> tuple[str, Path]:
    """The database's shared token and its file, creating both (mode 0600) when missing.

    An existing token file readable by others is tightened to 0600 (POSIX).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> db = pathlib.Path(tempfile.mkdtemp()) / "a.sqlite"
    >>> token, path = read_or_create_token(db)
    >>> read_or_create_token(db) == (token, path), len(token) >= 40
    (True, True)
    """
    path = token_path_for(db_path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if os.name == "posix" and stat.S_IMODE(path.stat().st_mode) & 0o077:
            os.chmod(path, 0o600)
        token = path.read_text(encoding="utf-8").strip()
        if not token:
            raise AllocationError(f"{path}: the token file is empty; delete it and serve "
                                  "again to create a new token") from None
        return token, path
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    return token, path


def client_token(token: str | None = None, token_file: str | Path | None = None) -> str:
    """The token a client presents: ``token``, else ``token_file``, else the environment.

    The environment variable is ``SOOTHE_ALLOCATION_TOKEN``.

    Raises
    ------
    AllocationError
        When none is given, or the token file is missing or empty.

    Examples
    --------
    >>> client_token("abc")
    'abc'
    """
    if token:
        return token.strip()
    if token_file is not None:
        path = Path(token_file)
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise AllocationError(f"{path}: cannot read the allocation token file "
                                  f"({exc.strerror or exc})") from None
        if not text:
            raise AllocationError(f"{path}: the allocation token file is empty")
        return text
    env = os.environ.get(TOKEN_ENV, "").strip()
    if env:
        return env
    raise AllocationError(
        "an allocation server needs its token: copy the file <database>.token from the "
        f"server PC and pass --token-file FILE, or set {TOKEN_ENV}"
    )


# ====================================================================== server
class _Service:
    """The exposed methods; values are plain XML-RPC types (dicts, strings, None)."""

    def __init__(self, db: AllocationDB, log) -> None:
        self.db = db
        self.log = log

    def health(self) -> dict:
        from soothe import __version__

        return {
            "service": SERVICE_NAME,
            "api_version": API_VERSION,
            "soothe_version": __version__,
            "host": socket.gethostname(),
            "database": self.db.path.name,
            "strata_fields": list(self.db.strata_fields),
            "conditions": list(self.db.conditions),
        }

    def allocate(self, participant_id: str, strata: dict, machine: str) -> dict:
        allocation = self.db.allocate(participant_id, strata or {}, machine or None)
        self.log(f"allocate {allocation.participant_id} for {machine or '?'} "
                 f"({_request.client}): session code {allocation.session_code}")
        return asdict(allocation)

    def lookup(self, participant_id: str) -> dict | None:
        allocation = self.db.lookup(participant_id)
        return asdict(allocation) if allocation else None

    def session_status(self, participant_id: str) -> str | None:
        return self.db.session_status(participant_id)

    def mark_session(self, participant_id: str, status: str) -> bool:
        self.db.mark_session(participant_id, status)
        self.log(f"session of {participant_id} marked {status} ({_request.client})")
        return True

    def _dispatch(self, method: str, params: tuple):
        if method not in _EXPOSED:
            raise xmlrpc.client.Fault(404, f"no method {method!r}; expected one of {_EXPOSED}")
        try:
            return getattr(self, method)(*params)
        except AllocationError as exc:
            raise xmlrpc.client.Fault(1, str(exc)) from None
        except TypeError as exc:
            raise xmlrpc.client.Fault(2, f"{method}: bad arguments ({exc})") from None
        except Exception as exc:
            # the type only: a message could carry a row of the database
            self.log(f"{method} failed: {type(exc).__name__}")
            raise xmlrpc.client.Fault(3, f"{method} failed on the server: "
                                         f"{type(exc).__name__}") from None


_request = threading.local()  # the client address of the request this thread handles


class _Handler(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/RPC2",)
    timeout = 30  # a client that connects and stalls does not hold a thread for ever

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        given = self.headers.get("Authorization", "").encode("utf-8", "replace")
        expected = f"Bearer {self.server.token}".encode()
        if not hmac.compare_digest(given, expected):
            self.server.log(f"refused a request from {self.client_address[0]}: "
                            "missing or wrong token")
            self.send_error(403, "allocation token missing or wrong")
            return False
        _request.client = self.client_address[0]
        return True

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        pass  # the service writes its own lines (never a request's content)


class _Server(socketserver.ThreadingMixIn, SimpleXMLRPCServer):
    daemon_threads = True


def serve_allocation(
    db_path: str | Path,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    *,
    out: TextIO | None = None,
) -> int:
    """Serve the allocation database at ``db_path`` until interrupted (Ctrl+C, SIGTERM).

    Parameters
    ----------
    db_path : str | Path
        An initialised database on this PC's local disk.
    host : str
        Address to listen on: ``127.0.0.1`` (this PC only, the default), the PC's LAN
        address, or ``0.0.0.0`` (every interface).
    port : int
        TCP port; ``0`` picks a free one (printed).
    out : TextIO | None
        The console (default ``sys.stdout``); it never shows a condition.

    Returns
    -------
    int
        0 after a clean stop.
    """
    out = out or sys.stdout
    db = AllocationDB(db_path)
    token, token_file = read_or_create_token(db.path)

    def log(message: str) -> None:
        stamp = datetime.now().astimezone().isoformat(timespec="seconds")
        print(f"[soothe allocation {stamp}] {message}", file=out, flush=True)

    try:
        server = _Server((host, port), requestHandler=_Handler, logRequests=False,
                         allow_none=True)
    except OSError as exc:
        raise AllocationError(f"cannot listen on {host}:{port}: {exc.strerror or exc} "
                              "(another server on that port? try --port)") from None
    server.token = token
    server.log = log
    server.register_instance(_Service(db, log))
    bound_host, bound_port = server.server_address[:2]
    log(f"serving {db.path} (strata {list(db.strata_fields) or 'none'})")
    log(f"token file: {token_file} (copy it to each client PC; pass it with --token-file "
        f"or set {TOKEN_ENV})")
    if bound_host not in ("127.0.0.1", "localhost", "::1"):
        log(f"reachable from the network: allow TCP port {bound_port} in this PC's firewall "
            "for the lab PCs only; the traffic is plain HTTP, keep it on the lab network")
    log(f"listening on http://{bound_host}:{bound_port} (Ctrl+C stops)")

    def stop(signum, frame):  # SIGTERM ends the loop like Ctrl+C
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop) if hasattr(signal, "SIGTERM") else None
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        log("stopped")
    return 0


# ====================================================================== client
class _Transport(xmlrpc.client.Transport):
    """The standard transport with a timeout (ServerProxy itself has none)."""

    def __init__(self, timeout: float, headers: list[tuple[str, str]]) -> None:
        super().__init__(headers=headers)
        self._timeout = timeout

    def make_connection(self, host):
        conn = super().make_connection(host)
        conn.timeout = self._timeout
        return conn


def is_allocation_url(target: object) -> bool:
    """Whether ``--db`` names an allocation server (``http://HOST:PORT``) rather than a file.

    Examples
    --------
    >>> is_allocation_url("http://10.0.0.5:8765"), is_allocation_url("data/allocation.sqlite")
    (True, False)
    """
    return isinstance(target, str) and target.strip().lower().startswith("http://")


class RemoteAllocationDB:
    """An allocation database served by ``soothe allocation serve`` on another PC.

    It has the methods a session runner uses (``allocate``, ``lookup``, ``session_status``,
    ``mark_session``, ``strata_fields``). Opening it checks that the server answers, accepts
    the token and speaks this API version, so a problem stops a session before it starts.

    Parameters
    ----------
    url : str
        ``http://HOST:PORT`` of the server.
    token, token_file
        The shared token, or the file that holds it; default ``$SOOTHE_ALLOCATION_TOKEN``.
    timeout : float
        Seconds to wait for each answer.

    Raises
    ------
    AllocationError
        Bad URL, no token, server unreachable or silent, token refused, not a soothe
        allocation server, or another API version; the message names the server.

    Examples
    --------
    >>> try:
    ...     RemoteAllocationDB("http://127.0.0.1:1", token="x")
    ... except AllocationError as exc:
    ...     print(str(exc).split(";")[0])
    allocation server http://127.0.0.1:1 is unreachable (Connection refused)
    """

    def __init__(self, url: str, token: str | None = None, *,
                 token_file: str | Path | None = None,
                 timeout: float = CLIENT_TIMEOUT_S) -> None:
        parts = urlsplit(str(url).strip())
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme != "http" or not parts.hostname or port is None or \
                parts.path not in ("", "/"):
            raise AllocationError(f"{url!r}: an allocation server is named http://HOST:PORT "
                                  f"(e.g. http://192.168.1.20:{DEFAULT_PORT})")
        self.url = f"http://{parts.netloc}"
        self.path = self.url  # where messages say the database is
        self._token = client_token(token, token_file)
        self._timeout = float(timeout)
        info = self.health()
        if not isinstance(info, dict) or info.get("service") != SERVICE_NAME:
            raise AllocationError(f"{self.url} answered, but is not a soothe allocation server")
        if info.get("api_version") != API_VERSION:
            raise AllocationError(
                f"allocation server {self.url} speaks API version {info.get('api_version')} "
                f"(soothe {info.get('soothe_version')}); this PC expects version "
                f"{API_VERSION}: install the same soothe version on both PCs"
            )
        self.server_info = info
        self.strata_fields: tuple[str, ...] = tuple(info["strata_fields"])
        self.conditions: tuple[str, ...] = tuple(info["conditions"])

    def __repr__(self) -> str:
        return f"RemoteAllocationDB({self.url!r})"

    def _call(self, method: str, *args):
        transport = _Transport(self._timeout, [("Authorization", f"Bearer {self._token}")])
        proxy = xmlrpc.client.ServerProxy(self.url + "/RPC2", transport=transport,
                                          allow_none=True)
        expect = ("expected 'soothe allocation serve' listening there, on the PC that holds "
                  "the database: check that it runs, the host and port, and the firewall")
        try:
            return getattr(proxy, method)(*args)
        except xmlrpc.client.Fault as exc:
            raise AllocationError(f"allocation server {self.url}: {exc.faultString}") from None
        except xmlrpc.client.ProtocolError as exc:
            if exc.errcode == 403:
                raise AllocationError(
                    f"allocation server {self.url} refused the token: expected the token in "
                    "<database>.token on the server PC (--token-file FILE or "
                    f"{TOKEN_ENV})"
                ) from None
            raise AllocationError(f"{self.url} answered HTTP {exc.errcode} {exc.errmsg}: not "
                                  "a soothe allocation server? " + expect) from None
        except TimeoutError:
            raise AllocationServerUnreachable(
                f"allocation server {self.url} did not answer {method!r} within "
                f"{self._timeout:g} s; {expect}") from None
        except (OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise AllocationServerUnreachable(
                f"allocation server {self.url} is unreachable ({reason}); {expect}") from None
        except (xmlrpc.client.ResponseError, ExpatError):
            raise AllocationError(f"{self.url} answered, but not as a soothe allocation "
                                  "server; " + expect) from None

    def health(self) -> dict:
        """The server's name, API and soothe version, host, database file name and strata."""
        return self._call("health")

    def allocate(self, participant_id: str, strata: Mapping[str, str] | None = None,
                 machine: str | None = None) -> Allocation:
        """Allocate on the server (or get the existing allocation): see
        :meth:`AllocationDB.allocate`. ``machine`` defaults to this PC's host name."""
        strata = {str(k): str(v) for k, v in dict(strata or {}).items()}
        row = self._call("allocate", str(participant_id), strata,
                         machine or socket.gethostname())
        return Allocation(**row)

    def lookup(self, participant_id: str) -> Allocation | None:
        """The allocation of ``participant_id`` on the server, or ``None``."""
        row = self._call("lookup", str(participant_id))
        return Allocation(**row) if row else None

    def session_status(self, participant_id: str) -> str | None:
        """'allocated', 'complete' or 'incomplete' on the server (``None``: not allocated)."""
        return self._call("session_status", str(participant_id))

    def mark_session(self, participant_id: str, status: str) -> None:
        """Record the session outcome on the server.

        Raises
        ------
        AllocationError
            Naming the server and how to record the status later; the session's own files
            keep the outcome whatever happens here.
        """
        if status not in ("complete", "incomplete"):
            raise AllocationError(
                f"session status must be 'complete' or 'incomplete', got {status!r}"
            )
        try:
            self._call("mark_session", str(participant_id), str(status))
        except AllocationServerUnreachable as exc:
            raise AllocationError(
                f"{exc}. The session status ({status}) was NOT recorded in the allocation "
                "database; the local session files keep it. Record it once the server is "
                f"back: soothe allocation mark --db {self.url} --id {participant_id} "
                f"--status {status}"
            ) from None
