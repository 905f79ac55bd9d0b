"""The review page's local server: Bokeh on 127.0.0.1, BokehJS served by the server itself.

``GET /`` shows the list of recordings (:mod:`physio.review.catalog`); ``GET /?rec=PREFIX``
opens one (``PREFIX`` = ``sub-X_ses-Y_task-Z``). Each browser tab is its own Bokeh session;
the signals of a recording are read once and shared (:func:`physio.review.data.recording_signals`).
Only 127.0.0.1 is listened on, and only pages served from it may open its websocket.
"""

from __future__ import annotations

import html
import threading
import webbrowser
from collections.abc import Callable
from pathlib import Path

from bokeh.document import Document
from bokeh.events import DocumentReady
from bokeh.layouts import column
from bokeh.models import Column, Div

from conditions.errors import SootheError
from physio.reprocess import reprocess_recording
from physio.review.catalog import WINDOWS_JSON_RE, recording_catalog
from physio.review.data import read_tables, recording_signals
from physio.review.local_server import LocalServer, start_local_server
from physio.review.page import PAGE_TEMPLATE, RecordingView, catalog_layout, message_html
from physio.review.session import ReviewSession, default_author, file_digest, recording_drafts


def windows_json_of(deriv: Path, prefix: str) -> Path | None:
    """The windows sidecar of recording ``prefix`` in ``deriv`` (None when there is none).

    Examples
    --------
    >>> windows_json_of(Path("/nonexistent"), "sub-1_ses-1_task-x") is None
    True
    >>> windows_json_of(Path("/tmp"), "../etc") is None
    True
    """
    name = f"{prefix}_desc-windows_physio.json"
    m = WINDOWS_JSON_RE.match(name)
    if m is None:
        return None
    path = Path(deriv) / f"sub-{m['sub']}" / f"ses-{m['ses']}" / "beh" / name
    return path if path.is_file() else None


def request_argument(doc: Document, name: str) -> str | None:
    """A query argument of the page's URL (``?rec=...``), or None."""
    ctx = getattr(doc, "session_context", None)
    request = getattr(ctx, "request", None) if ctx is not None else None
    values = (getattr(request, "arguments", None) or {}).get(name) if request else None
    if not values:
        return None
    v = values[0]
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def error_layout(text: str) -> Column:
    """A page that says what went wrong, with the way back to the list."""
    return column(Div(text='<div style="font-family:sans-serif"><a href="?">&larr; all '
                           'recordings</a></div>'),
                  Div(name="message", text=message_html(text, "error")),
                  sizing_mode="stretch_width")


def view_stamp(windows_json: Path) -> tuple:
    """What a recording's page is built from, as it is on disk now: its sidecar (re-written
    by every re-processing), its edit file and every draft of it. A view built ahead is used
    only while this is unchanged."""
    session = ReviewSession(Path(windows_json), "")
    stamps = []
    drafts = recording_drafts(Path(windows_json))
    for path in (Path(windows_json), session.edits_tsv, *drafts):
        try:
            stamps.append((path.name, path.stat().st_mtime_ns))
        except OSError:
            stamps.append((path.name, None))
    return (*stamps, file_digest(session.edits_tsv), *(file_digest(p) for p in drafts))


#: how long a new tab waits for the view being built ahead for it (s), rather than build
#: a second one at the same time
PREPARE_WAIT_S = 10.0


class ViewPool:
    """Recording views built ahead of their browser tabs, one per recording.

    Building a page's plots costs a few hundred milliseconds of the server's time, and a
    new tab would wait for it. So, after a tab of a recording opens (and when the list
    shows the worst recording first), the next tab's view is built in the background; the
    next tab of that recording takes it at once, unless its files changed since
    (:func:`view_stamp`).
    """

    def __init__(self, author: str, reprocess: Callable[[Path], dict]) -> None:
        self.author, self.reprocess = author, reprocess
        self.spares: dict[Path, tuple[tuple, RecordingView]] = {}
        self.lock = threading.Lock()
        self.building: dict[Path, threading.Event] = {}

    def build(self, windows_json: Path) -> RecordingView:
        """A new view of the recording, not yet in any document.

        Raises
        ------
        SootheError, OSError, ValueError
            The tables or the source file cannot be read.
        """
        tables = read_tables(windows_json)
        signals = recording_signals(tables.provenance)
        session = ReviewSession.open(windows_json, self.author)
        return RecordingView(None, tables, signals, session, reload=read_tables,
                             reprocess=self.reprocess)

    def take(self, windows_json: Path) -> RecordingView:
        """The view built ahead when still current (waiting for one being built), else a
        new one."""
        key = Path(windows_json)
        with self.lock:
            done = self.building.get(key)
        if done is not None:
            done.wait(PREPARE_WAIT_S)
        with self.lock:
            spare = self.spares.pop(key, None)
        if spare is not None and spare[0] == view_stamp(key):
            return spare[1]
        if spare is not None:
            spare[1].session.close()  # out of date: never shown
        return self.build(key)

    def prepare(self, windows_json: Path) -> None:
        """Build the recording's next view in a background thread (once at a time)."""
        key = Path(windows_json)
        with self.lock:
            if key in self.building or key in self.spares:
                return
            done = self.building[key] = threading.Event()

        def work() -> None:
            try:
                stamp = view_stamp(key)
                view = self.build(key)
                with self.lock:
                    self.spares[key] = (stamp, view)
            except (SootheError, OSError, ValueError):
                pass  # the tab that opens it builds it itself and shows the error
            finally:
                with self.lock:
                    self.building.pop(key, None)
                done.set()

        threading.Thread(target=work, name="soothe-review-prepare", daemon=True).start()


def recording_layout(doc: Document, windows_json: Path, pool: ViewPool) -> None:
    """Show one recording in ``doc`` (or an error page saying why it cannot be shown)."""
    try:
        view = pool.take(windows_json)
    except (SootheError, OSError, ValueError) as exc:
        doc.add_root(error_layout(f"{windows_json.name}: {exc}"))
        return
    view.attach(doc)
    # a closed tab's unsaved edits (its draft) are offered to the next page of the recording
    doc.on_session_destroyed(lambda _context: view.session.close())
    # the next tab's view is built once this one is drawn, not while the browser draws it
    doc.on_event(DocumentReady, lambda _event: pool.prepare(windows_json))


def review_app(deriv: Path, *, author: str, participant: str | None = None,
               reprocess: Callable[[Path], dict] = reprocess_recording,
               pool: ViewPool | None = None) -> Callable:
    """The function that builds one browser tab (Bokeh's ``FunctionHandler``).

    Without ``?rec=`` the tab shows the list of recordings, or the recording itself when
    ``participant`` has exactly one. ``pool`` holds the views built ahead (a new one when
    not given).
    """
    deriv = Path(deriv)
    pool = pool or ViewPool(author, reprocess)

    def make_doc(doc: Document) -> None:
        doc.title = "soothe review"
        doc.template = PAGE_TEMPLATE
        prefix = request_argument(doc, "rec")
        if prefix is None and participant:
            entries = recording_catalog(deriv, participant)
            if len(entries) == 1:
                prefix = entries[0].prefix
        if prefix is None:
            entries = recording_catalog(deriv, participant)
            doc.add_root(catalog_layout(entries, str(deriv)))
            if entries:  # the worst recording is the one most likely opened next
                pool.prepare(entries[0].windows_json)
            return
        windows_json = windows_json_of(deriv, prefix)
        if windows_json is None:
            doc.add_root(error_layout(f"no processed recording {html.escape(prefix)} in "
                                      f"{deriv}"))
            return
        recording_layout(doc, windows_json, pool)

    return make_doc


def serve_review(deriv: Path, *, port: int = 0, author: str | None = None,
                 participant: str | None = None,
                 reprocess: Callable[[Path], dict] = reprocess_recording) -> LocalServer:
    """Start the review server on 127.0.0.1 in a background thread.

    The view of the recording most likely opened first (the participant's only one, else
    the worst of the list) is built ahead in the background at once.

    Raises
    ------
    RuntimeError
        The server could not start (the port is taken...).
    """
    pool = ViewPool(author or default_author(), reprocess)
    make_doc = review_app(Path(deriv), author=pool.author, participant=participant,
                          reprocess=reprocess, pool=pool)
    server = start_local_server(make_doc, port, name="soothe-review-server",
                                what="the review page")
    entries = recording_catalog(Path(deriv), participant)
    if entries:
        pool.prepare(entries[0].windows_json)
    return server


def run_review(deriv: Path, *, port: int = 0, author: str | None = None,
               participant: str | None = None, open_browser: bool = True) -> int:
    """``soothe physio review``: serve until interrupted (Ctrl+C); returns the exit code."""
    deriv = Path(deriv)
    if not deriv.is_dir():
        print(f"soothe physio review: {deriv}: no such folder")
        return 2
    server = serve_review(deriv, port=port, author=author, participant=participant)
    print(f"review page: {server.url}  (author: {author or default_author()}; Ctrl+C to "
          "stop)", flush=True)
    if open_browser:
        webbrowser.open(server.url)
    try:
        while server.thread.is_alive():
            server.thread.join(0.5)
    except KeyboardInterrupt:
        print("review page stopped")
    finally:
        server.stop()
    return 0
