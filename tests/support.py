"""Test helpers: real servers on loopback, condition waits with deadlines."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable

import uvicorn
from starlette.types import ASGIApp


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_for(condition: Callable[[], Awaitable[bool]], seconds: float = 10.0, what: str = "condition") -> None:
    """``wait_until`` for a condition that must be awaited (an RPC): polled, with a deadline."""
    try:
        async with asyncio.timeout(seconds):
            while not await condition():  # noqa: ASYNC110 - polling a remote state: no event to wait on
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise TimeoutError(f"{what} not reached within {seconds}s") from None


def wait_until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout}s")
        time.sleep(0.02)


class UvicornThread:
    """A real uvicorn server for an ASGI app, in a background thread, on a free loopback port."""

    def __init__(self, app: ASGIApp, port: int | None = None) -> None:
        self.port = port or free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> UvicornThread:
        self.thread.start()
        wait_until(lambda: self.server.started, what="uvicorn start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
