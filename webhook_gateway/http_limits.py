"""Limits the HTTP layer enforces before the app sees a request: the gateway faces the internet.

uvicorn's httptools protocol has no header size or count limit and no deadline for receiving a
request (a client may send one byte a second for ever), and its own refusals are plain text. This
subclass adds, per connection:

- a head limit: request line and header fields together at most ``max_header_bytes``, at most
  ``max_headers`` fields -> 431, counted while the head arrives, so memory stays bounded;
- a read deadline: the whole request, head and body, within ``read_timeout`` of its first byte (or
  of the connection opening) -> 408, well inside ClickUp's 7 s, so slow senders cannot pin sockets;
- a connection cap: beyond ``max_connections`` open connections (or running requests) a request
  is answered 503 (uvicorn's ``limit_concurrency``, answered in JSON here);
- JSON bodies for every refusal it makes itself (a malformed request is a 400, not text).

Each refusal is one log line and ends the connection: the answer is written, the sending side
shut, and what the client still sends is read and dropped for up to ``LINGER_SECONDS`` (a lingering
close, as nginx does), so the client reads the answer instead of a reset. Refusals are counted
through a hook the app puts in its lifespan state under ``REFUSAL_HOOK``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

logger = logging.getLogger(__name__)

LINGER_SECONDS = 2.0
REFUSAL_HOOK = "webhook_gateway.count_refusal"
READ_TIMED_OUT = "webhook_gateway.read_timed_out"  # set in a request's scope when the deadline cut it


@dataclass(frozen=True)
class HttpLimits:
    max_header_bytes: int = 16 * 1024
    max_headers: int = 100
    read_timeout: float = 5.0
    max_connections: int = 200


class _HeadTooLarge(Exception):
    pass


def _json_body(reason: str, message: str) -> bytes:
    return json.dumps({"error": message, "reason": reason}).encode()


async def _over_capacity(scope: Any, receive: Any, send: Any) -> None:
    body = _json_body("over_capacity", "too many open connections; try again shortly")
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        (b"retry-after", b"1"),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class GatewayHttpProtocol(HttpToolsProtocol):
    limits: ClassVar[HttpLimits] = HttpLimits()

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limit_concurrency = None  # enforced in on_headers_complete, to answer in JSON
        self._deadline: asyncio.TimerHandle | None = None
        self._head_open = True  # between the first byte of a request and the end of its header fields
        self._head_bytes = 0
        self._header_count = 0
        self._refused = False

    # ------------------------------------------------------------ connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_deadline()  # a connection that never sends a byte is a request that never arrives

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        head_was_open = self._head_open
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(400, "upgrade_unsupported", "this endpoint does not switch protocols")
            return
        except httptools.HttpParserError as error:
            if isinstance(error.__context__, _HeadTooLarge):
                self._refuse(431, "headers_too_large", str(error.__context__))
            else:
                self._refuse(400, "bad_http", "the request is not valid HTTP/1.1")
            return
        # A chunk that neither opened nor closed the head is head, all of it (a chunk that did is
        # measured exactly in on_headers_complete).
        if head_was_open and self._head_open:
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.max_header_bytes:
                self._refuse(431, "headers_too_large", self._head_message())

    # ------------------------------------------------------------ parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_count = 0
        if self._deadline is None:
            self._start_deadline()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.limits.max_header_bytes:
            raise _HeadTooLarge(self._head_message())

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            raise _HeadTooLarge(f"more than {self.limits.max_headers} header fields")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.limits.max_header_bytes:
            raise _HeadTooLarge(self._head_message())
        self._head_open = False
        cap = self.limits.max_connections
        if len(self.connections) <= cap and len(self.tasks) < cap:
            super().on_headers_complete()
            return
        logger.warning("refused a request: %d connections open (the cap is %d)", len(self.connections), cap)
        self._count("over_capacity")
        app, self.app = self.app, _over_capacity
        try:
            super().on_headers_complete()
        finally:
            self.app = app

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._stop_deadline()
        self._head_open = True
        self._head_bytes = 0

    # ------------------------------------------------------------ refusals

    def _head_message(self) -> str:
        return f"the request line and header fields are larger than {self.limits.max_header_bytes} bytes"

    def _start_deadline(self) -> None:
        self._stop_deadline()
        self._deadline = self.loop.call_later(self.limits.read_timeout, self._read_timed_out)

    def _stop_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _read_timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = None if self._head_open else self.cycle
        if cycle is not None and cycle.response_started:
            self.transport.close()  # already answered (say, a 413) while the client kept sending
            return
        if cycle is not None:
            cycle.scope[READ_TIMED_OUT] = True  # type: ignore[literal-required]
        self._refuse(408, "read_timeout", f"the request was not received within {self.limits.read_timeout:g} s")

    def _refuse(self, status: int, reason: str, message: str) -> None:
        """Answers in JSON (unless a response is already on the wire), then hangs up."""
        self._refused = True
        self._stop_deadline()
        cycle = self.cycle
        answering = cycle is not None and cycle.response_started and not cycle.response_complete
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the app's receive() now says "disconnect"; its sends are dropped
            cycle.message_event.set()
        if answering:
            self.transport.close()
        else:
            body = _json_body(reason, message)
            head = [STATUS_LINE[status]]
            for name, value in self.server_state.default_headers:
                head.extend([name, b": ", value, b"\r\n"])
            head.append(b"content-type: application/json\r\nconnection: close\r\n")
            head.append(b"content-length: " + str(len(body)).encode() + b"\r\n\r\n")
            self.transport.write(b"".join(head) + body)
            if self.transport.can_write_eof():
                self.transport.write_eof()
            self.flow.resume_reading()  # keep reading (and dropping) until the client hangs up
            self.loop.call_later(LINGER_SECONDS, self.transport.close)
        logger.info("refused a request: %d %s (%s)", status, reason, message)
        self._count(reason)

    def _count(self, reason: str) -> None:
        hook: Callable[[str], None] | None = self.app_state.get(REFUSAL_HOOK)
        if callable(hook):
            hook(reason)


def protocol_for(limits: HttpLimits) -> type[GatewayHttpProtocol]:
    """The protocol class uvicorn instantiates per connection, bound to these limits."""
    return type("GatewayHttpProtocol", (GatewayHttpProtocol,), {"limits": limits})
