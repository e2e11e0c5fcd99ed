"""A one-shot loopback listener for an OAuth redirect (RFC 8252 §7.3), as ``gh auth login`` and
``gcloud auth login`` use: the consent page sends the browser to ``http://127.0.0.1:<port>/callback``
and the command line, not a web app, receives the code.

    with LoopbackRedirect() as listener:
        started = client.start_authorization(org, project, name, listener.redirect_uri)
        listener.expect(started.state)
        redirect = listener.wait(timeout=300)     # TimeoutError if nobody came back
        ...complete it...
        listener.answer(ok, "Connected …")         # the page the browser is shown

Only a redirect carrying the state this listener expects is taken; any other request gets a 4xx page
and the wait goes on, so a stray local request cannot end or steer the sign-in. Nothing is logged
(the standard handler would print each request line, code and state included, to stderr).
"""

from __future__ import annotations

import contextlib
import hmac
import html
import queue
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

CALLBACK_PATH = "/callback"
# How long the browser's request waits for the command to finish before it is answered anyway.
ANSWER_SECONDS = 60.0
MAX_PARAMETER_CHARS = 4096


@dataclass(frozen=True)
class Redirect:
    """What the provider sent the browser back with: ``code`` or ``error``, and the state."""

    state: str
    code: str = ""
    error: str = ""
    error_description: str = ""


class LoopbackRedirect:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self._expected: str | None = None
        self._taken = False
        self._lock = threading.Lock()
        self._arrived: queue.Queue[Redirect] = queue.Queue(maxsize=1)
        self._answers: queue.Queue[tuple[bool, str]] = queue.Queue(maxsize=1)
        self._server = ThreadingHTTPServer((host, 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="loopback-redirect", daemon=True)

    @property
    def redirect_uri(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{CALLBACK_PATH}"

    def __enter__(self) -> LoopbackRedirect:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.answer(False, "The command stopped before the sign-in finished; look at the terminal.")
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def expect(self, state: str) -> None:
        with self._lock:
            self._expected = state

    def wait(self, timeout: float) -> Redirect:
        try:
            return self._arrived.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no sign-in came back within {timeout:g} s") from None

    def answer(self, ok: bool, message: str) -> None:
        """The page shown to the browser that brought the redirect (the first answer counts)."""
        with contextlib.suppress(queue.Full):
            self._answers.put_nowait((ok, message))

    def _take(self, query: dict[str, list[str]]) -> tuple[int, str]:
        """Status and text for one request to the callback path; a match is handed to ``wait``."""
        values = {key: query.get(key, [""]) for key in ("state", "code", "error", "error_description")}
        if any(len(items) != 1 or len(items[0]) > MAX_PARAMETER_CHARS for items in values.values()):
            return 400, "This is not a sign-in redirect."
        state, code, error, description = (items[0] for items in values.values())
        with self._lock:
            expected = self._expected
            if expected is None or not state or not hmac.compare_digest(state.encode(), expected.encode()):
                return 400, "This is not the sign-in the command line is waiting for."
            if self._taken:
                return 409, "This sign-in has already come back; look at the terminal."
            if bool(code) == bool(error):
                return 400, "The redirect must carry a code or an error."
            self._taken = True
        self._arrived.put(Redirect(state, code, error, description))
        try:
            ok, message = self._answers.get(timeout=ANSWER_SECONDS)
        except queue.Empty:
            return 504, "The command line is still working; look at the terminal."
        return (200 if ok else 400), message

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != CALLBACK_PATH:
                    self._page(404, "Nothing here.")
                    return
                self._page(*listener._take(parse_qs(parts.query, keep_blank_values=True)))

            def _page(self, status: int, message: str) -> None:
                body = (
                    "<!doctype html><meta charset=utf-8><title>integrations sign-in</title>"
                    f"<p>{html.escape(message)}</p>"
                ).encode()
                self.send_response(status)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.send_header("cache-control", "no-store")
                self.send_header("referrer-policy", "no-referrer")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Silent: the request line carries the code and the state."""

        return Handler
