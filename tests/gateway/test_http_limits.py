"""Item 4: the gateway's HTTP layer against hostile senders, over real loopback sockets.

The gateway runs as in production (``webhook_gateway.serve``) with a short read deadline so the
tests stay quick; no server is needed: every request here is refused before a secret is looked up.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.gateway.support import GatewayServer, metric, ready
from tests.support import wait_until
from webhook_gateway.config import GatewayConfig

READ_TIMEOUT = 1.0
CAP = 200


def config(tmp_path: Path, read_timeout: float = READ_TIMEOUT) -> GatewayConfig:
    return GatewayConfig(
        server_target="127.0.0.1:9",
        server_token="t",
        spool_path=tmp_path / "spool.db",
        read_timeout_seconds=read_timeout,
        max_connections=CAP,
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GatewayServer]:
    with GatewayServer(config(tmp_path)) as running:
        yield running


def head(extra: bytes = b"", length: int = 2, path: bytes = b"/webhooks/clickup") -> bytes:
    return (
        b"POST "
        + path
        + b" HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nX-Signature: "
        + b"0" * 64
        + b"\r\nContent-Length: "
        + str(length).encode()
        + b"\r\n"
        + extra
        + b"\r\n"
    )


async def exchange(url: str, *parts: bytes) -> tuple[int, dict[str, object], bytes]:
    """Sends the parts, reads the answer to the end: (status, JSON body, raw response)."""
    port = int(url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for part in parts:
            writer.write(part)
        await writer.drain()
        async with asyncio.timeout(10):
            raw = await reader.read(-1)
    finally:
        writer.close()
    status = int(raw.split(b" ", 2)[1])
    return status, json.loads(raw.split(b"\r\n\r\n", 1)[1]), raw


async def streamed_until_answered(url: str, first: bytes, chunk: bytes, limit: int) -> tuple[int, int]:
    """Sends ``first``, then ``chunk`` repeatedly (at most ``limit`` bytes) until the gateway answers;
    returns (status, bytes sent)."""
    port = int(url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = asyncio.ensure_future(reader.read(-1))
    sent = 0
    try:
        writer.write(first)
        while not answer.done() and sent < limit:
            writer.write(chunk)
            sent += len(chunk)
            try:
                await writer.drain()
            except ConnectionError:
                break
            # Give the gateway its turn before the next chunk (the answer ends the wait at once), so
            # what was sent measures what the gateway read, not how far ahead the sender ran.
            await asyncio.wait({answer}, timeout=0.05)
        async with asyncio.timeout(10):
            raw = await answer
    finally:
        writer.close()
    return int(raw.split(b" ", 2)[1]), sent


HEAD_CASES = [
    ("one 64 KiB header", head(b"X-Big: " + b"a" * 65536 + b"\r\n")),
    ("101 header fields", head(b"".join(b"X-H%d: v\r\n" % i for i in range(101)))),
    ("a 20 KiB URL", head(path=b"/webhooks/clickup?" + b"q" * 20480)),
    ("many headers of 1 KiB", head(b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 1024) for i in range(20)))),
]


@pytest.mark.parametrize(("case", "request_head"), HEAD_CASES, ids=[c[0] for c in HEAD_CASES])
async def test_an_oversized_head_is_refused_431_in_json(server: GatewayServer, case: str, request_head: bytes) -> None:
    status, body, _ = await exchange(server.url, request_head, b"{}")
    assert (status, body["reason"]) == (431, "headers_too_large"), case
    assert await asyncio.to_thread(metric, server.url, "gateway_deliveries_rejected_total", reason="headers_too_large")


async def test_a_16_mib_header_is_cut_off_after_the_limit(server: GatewayServer) -> None:
    start = b"POST /webhooks/clickup HTTP/1.1\r\nHost: gw\r\nX-Big: "
    status, sent = await streamed_until_answered(server.url, start, b"a" * 4096, 16 * 1024 * 1024)
    assert status == 431
    assert sent < 1024 * 1024, "refused long before the header was complete"


async def test_100_header_fields_are_still_fine(server: GatewayServer) -> None:
    fields = b"".join(b"X-H%d: v\r\n" % i for i in range(96))  # with the 4 of head(): 100
    status, body, _ = await exchange(server.url, head(fields), b"{}")
    assert (status, body["reason"]) == (400, "missing_webhook_id"), "past the HTTP limits, refused by the app"


async def test_a_body_sent_one_byte_a_second_is_cut_at_the_deadline(server: GatewayServer) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = asyncio.ensure_future(reader.read(-1))
    writer.write(head(length=20))
    sent = 0
    try:
        while not answer.done() and sent < 20:
            writer.write(b" ")
            sent += 1
            with_timeout = asyncio.wait({answer}, timeout=1.0)
            await with_timeout
        async with asyncio.timeout(10):
            raw = await answer
    finally:
        writer.close()
    assert raw.startswith(b"HTTP/1.1 408 "), raw[:80]
    assert json.loads(raw.split(b"\r\n\r\n", 1)[1])["reason"] == "read_timeout"
    assert sent < 20, "the body was never allowed to finish"
    depth = (await asyncio.to_thread(ready, server.url))["spool_depth"]
    assert depth == 0


async def test_a_slow_head_is_cut_at_the_deadline(server: GatewayServer) -> None:
    status, body, _ = await exchange(server.url, b"POST /webhooks/clickup HTTP/1.1\r\nHost: gw\r\n")
    assert (status, body["reason"]) == (408, "read_timeout")


async def test_a_connection_that_sends_nothing_is_closed_at_the_deadline(server: GatewayServer) -> None:
    status, body, _ = await exchange(server.url)
    assert (status, body["reason"]) == (408, "read_timeout")


async def test_malformed_http_is_a_json_400(server: GatewayServer) -> None:
    status, body, _ = await exchange(server.url, b"POST /webhooks/clickup HTTP/1.1\r\nContent-Length: x\r\n\r\n")
    assert (status, body["reason"]) == (400, "bad_http")


async def test_300_half_sent_bodies_neither_pin_the_gateway_nor_stay_open(tmp_path: Path) -> None:
    # A longer deadline than the other tests': all 300 are surely open before the first is cut.
    with GatewayServer(config(tmp_path, read_timeout=3.0)) as server:
        port = int(server.url.rsplit(":", 1)[1])
        opened = []
        for _ in range(300):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(head(length=1000) + b'{"event":')
            opened.append((reader, writer))
        try:
            async with asyncio.timeout(15):
                answers = await asyncio.gather(*(reader.read(-1) for reader, _ in opened))
        finally:
            for _, writer in opened:
                writer.close()
        statuses = [int(raw.split(b" ", 2)[1]) for raw in answers]
        assert (statuses.count(408), statuses.count(503)) == (CAP, 300 - CAP), "the cap let 200 in, each cut in time"
        over = [json.loads(raw.split(b"\r\n\r\n", 1)[1]) for raw in answers if raw.startswith(b"HTTP/1.1 503")]
        assert {body["reason"] for body in over} == {"over_capacity"}
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            assert (await client.get("/healthz")).status_code == 200, "the gateway serves again at once"


async def test_a_sender_that_hangs_up_mid_body_is_one_info_line(
    server: GatewayServer, caplog: pytest.LogCaptureFixture
) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    with caplog.at_level(logging.INFO):
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(head(length=1000) + b'{"event":"taskUpdated"')
        await writer.drain()
        writer.close()  # the head arrived first, so the app is reading the body when the close lands
        await writer.wait_closed()

        def counted() -> bool:
            return metric(server.url, "gateway_deliveries_rejected_total", reason="client_disconnected") == 1

        await asyncio.to_thread(wait_until, counted, 10, "the disconnect to be counted")
    lines = [r for r in caplog.records if r.name.startswith(("webhook_gateway", "uvicorn"))]
    assert [(r.levelname, r.getMessage().split(" (")[0]) for r in lines] == [
        ("INFO", "the sender disconnected before its body arrived")
    ]
    assert all(r.exc_info is None for r in caplog.records)
    assert (await asyncio.to_thread(ready, server.url))["spool_depth"] == 0


async def test_a_non_ascii_path_is_a_json_400(server: GatewayServer) -> None:
    status, body, _ = await exchange(server.url, b"GET /\xff HTTP/1.1\r\nHost: gw\r\n\r\n")
    assert (status, body["reason"]) == (400, "bad_http")


async def test_an_unexpected_error_is_a_json_500_and_one_error_line(
    server: GatewayServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(server.gateway, "receive", broken)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        response = await client.post("/webhooks/clickup", content=b"{}")
    assert (response.status_code, response.json()["reason"]) == (500, "internal")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info is not None
