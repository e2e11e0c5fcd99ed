"""BodyLimit, message by message: a body that never finishes is answered 408 at the deadline, and a
client that leaves mid-body is one INFO line, not a traceback; neither reaches the handler."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from clients.gallery.guards import BodyLimit

SCOPE: dict[str, Any] = {
    "type": "http",
    "method": "PATCH",
    "path": "/",
    "headers": [(b"content-type", b"application/json")],
}


class Handler:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        self.bodies.append(message["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def run(guard: BodyLimit, messages: list[Message], then_wait: bool) -> list[Message]:
    """Feeds the messages; then either waits for ever (a client that stopped sending) or ends."""
    pending = list(messages)
    sent: list[Message] = []

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then_wait:
            await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await guard(dict(SCOPE), receive, send)
    return sent


def chunk(body: bytes, more: bool = True) -> Message:
    return {"type": "http.request", "body": body, "more_body": more}


async def test_a_body_that_stops_arriving_is_answered_408() -> None:
    handler = Handler()
    sent = await run(BodyLimit(handler, seconds=0.2), [chunk(b'{"a":')], then_wait=True)
    assert sent[0]["status"] == 408
    assert (b"connection", b"close") in sent[0]["headers"]
    assert json.loads(sent[1]["body"])["error"]["code"] == "request_timeout"
    assert handler.bodies == []


async def test_a_client_leaving_mid_body_is_one_info_line(caplog: pytest.LogCaptureFixture) -> None:
    handler = Handler()
    with caplog.at_level(logging.INFO, logger="clients.gallery.guards"):
        sent = await run(BodyLimit(handler), [chunk(b'{"a":')], then_wait=False)
    assert sent == []
    assert handler.bodies == []
    assert [(r.levelname, r.exc_info) for r in caplog.records] == [("INFO", None)]


async def test_a_body_in_pieces_reaches_the_handler_whole() -> None:
    handler = Handler()
    sent = await run(BodyLimit(handler), [chunk(b'{"a":'), chunk(b" 1}", more=False)], then_wait=False)
    assert sent[0]["status"] == 200
    assert handler.bodies == [b'{"a": 1}']


@pytest.mark.parametrize(
    ("length", "status"),
    [(b"16385", 413), (b"99999999999999999999999", 413), (b"-1", 400), (b"1e3", 400), (b"\xb2", 400)],
)
async def test_a_declared_length_is_checked_before_reading(length: bytes, status: int) -> None:
    handler = Handler()
    guard = BodyLimit(handler)
    scope = {**SCOPE, "headers": [*SCOPE["headers"], (b"content-length", length)]}
    sent: list[Message] = []

    async def receive() -> Message:
        raise AssertionError("the body was read")

    async def send(message: Message) -> None:
        sent.append(message)

    await guard(scope, receive, send)
    assert sent[0]["status"] == status
    assert handler.bodies == []
