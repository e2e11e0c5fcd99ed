"""The gallery served as ``integrations-gallery`` serves it (``server_config``): an oversized request
head is refused, not buffered (uvicorn's default parser, httptools, buffers a 16 MiB header whole)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
import uvicorn

from clients.gallery.__main__ import MAX_HEAD_BYTES, server_config
from clients.gallery.app import create_app
from clients.gallery.config import GalleryConfig
from tests.support import free_port, wait_until


@pytest.fixture
def served() -> Iterator[int]:
    config = GalleryConfig(server_target="127.0.0.1:1", token="unused", projects=(("acme", "p1"),))
    port = free_port()
    server = uvicorn.Server(server_config(create_app(config), "127.0.0.1", port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, what="the gallery's uvicorn")
    yield port
    server.should_exit = True
    thread.join(10)


async def exchange(port: int, request: bytes) -> bytes:
    """The answer's bytes; b"" when the gallery reset the connection before answering (it does when
    it closes with the rest of the oversized head unread)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = b""
    try:
        writer.write(request)
        async with asyncio.timeout(20):  # a guard against hanging, not a timed assertion
            await writer.drain()
            while chunk := await reader.read(65536):
                answer += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        writer.close()
    return answer


@pytest.mark.parametrize(
    ("extra", "accepted"),
    [
        (b"", True),
        # h11 caps what it buffers while a head is incomplete: one socket read past MAX_HEAD_BYTES at most.
        (b"x-big: " + b"a" * (64 * MAX_HEAD_BYTES) + b"\r\n", False),
        (b"".join(b"x-%d: a\r\n" % n for n in range(8 * MAX_HEAD_BYTES)), False),  # many small headers
    ],
)
async def test_an_oversized_request_head_is_refused(served: int, extra: bytes, accepted: bool) -> None:
    answer = await exchange(
        served, b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n" + extra + b"\r\n"
    )
    if accepted:
        assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    else:
        assert answer == b"" or answer.startswith(b"HTTP/1.1 400 "), answer[:200]
