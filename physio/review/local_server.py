"""A Bokeh server on 127.0.0.1, on a thread of its own: the review page and the live signal
check both run their pages on it.

Only 127.0.0.1 is listened on, and only pages served from it (``127.0.0.1:PORT`` or
``localhost:PORT``) may open its websocket. BokehJS is served by the server itself, so the
pages work without internet.

Examples
--------
>>> port = free_port()
>>> 0 < port < 65536
True
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: How long a server may take to start listening before it is given up (s).
START_TIMEOUT_S = 30.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LocalServer:
    """A running server (:func:`start_local_server`); :meth:`stop` stops it."""

    server: Any
    loop: Any
    thread: threading.Thread
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def stop(self) -> None:
        """Stop the server and its event loop, and wait for its thread."""
        def _stop() -> None:
            self.server.stop()
            self.loop.stop()

        self.loop.add_callback(_stop)
        self.thread.join(5)


def run_server(make_doc: Callable, port: int, box: dict, ready: threading.Event) -> None:
    """Run the Bokeh server on 127.0.0.1:``port`` on this thread's own event loop.

    ``box`` receives the server and its loop, or the error that kept it from starting;
    ``ready`` is set either way.
    """
    try:
        # lazy: Bokeh's server and tornado take a second to load; the signal check imports
        # this module at start, and only its live page needs them
        from bokeh.application import Application
        from bokeh.application.handlers.function import FunctionHandler
        from bokeh.server.server import Server
        from tornado.ioloop import IOLoop

        asyncio.set_event_loop(asyncio.new_event_loop())
        loop = IOLoop.current()
        server = Server({"/": Application(FunctionHandler(make_doc))}, io_loop=loop,
                        address="127.0.0.1", port=port,
                        allow_websocket_origin=[f"127.0.0.1:{port}", f"localhost:{port}"])
        server.start()
        box["server"], box["loop"] = server, loop
    except Exception as exc:  # noqa: BLE001 - reported by start_local_server
        box["error"] = exc
        ready.set()
        return
    ready.set()
    loop.start()


def start_local_server(make_doc: Callable, port: int = 0, *, name: str,
                       what: str) -> LocalServer:
    """Serve ``make_doc`` (one Bokeh document per browser tab) on 127.0.0.1:``port`` (0: a
    free one) on a daemon thread called ``name``; return once it listens.

    A closed browser tab is normal for these pages, so Bokeh's websocket warnings about it
    are silenced.

    Raises
    ------
    RuntimeError
        ``what`` (e.g. 'the review page') could not start: the port is taken, or it did
        not listen within :data:`START_TIMEOUT_S`.
    """
    logging.getLogger("bokeh.server.views.ws").setLevel(logging.ERROR)
    port = port or free_port()  # a number now: the websocket allow-list needs it
    box: dict[str, Any] = {}
    ready = threading.Event()
    thread = threading.Thread(target=run_server, args=(make_doc, port, box, ready),
                              name=name, daemon=True)
    thread.start()
    if not ready.wait(START_TIMEOUT_S) or "error" in box:
        why = box.get("error", f"it did not listen within {START_TIMEOUT_S:g} s")
        raise RuntimeError(f"{what} could not start on 127.0.0.1:{port}: {why}")
    return LocalServer(box["server"], box["loop"], thread, int(port))
