"""Fetch ahead, write behind: how a page-by-page importer overlaps the provider and the graph.

The importer's pages come from an async iterator (fetched and transformed there) into a bounded
queue; the writing side takes every page that is ready, up to ``batch`` of them, and writes them as
one. Fetching never runs more than ``depth`` pages ahead (backpressure, not buffering: memory stays
the same whatever the workspace's size), and a slow graph gets fewer, larger transactions instead
of a queue: one write (its hash read, its lock, its checkpoint) per batch, not per page.

The caller checkpoints after each ``write``, so a checkpoint still names only committed pages; a
crash redoes at most one batch. An error while fetching reaches the writing side in order, after the
pages read before it are written; an error (or a cancel) while writing stops the fetching.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

Page = TypeVar("Page")

DEPTH = 10  # pages fetched ahead of the write in progress
BATCH = 10  # pages written in one transaction at most


@dataclass(frozen=True)
class _Failed:
    error: BaseException


class _End:
    pass


_END = _End()


async def write_behind(
    pages: AsyncGenerator[Page, None],
    write: Callable[[list[Page]], Awaitable[None]],
    *,
    depth: int = DEPTH,
    batch: int = BATCH,
) -> None:
    """Feeds ``write`` every page of ``pages``, in order, in lists of 1 to ``batch`` pages; ``pages``
    is closed however this ends (a cancel, say), not left suspended for the garbage collector."""
    if depth < 1 or batch < 1:
        raise ValueError("depth and batch must be at least 1")
    queue: asyncio.Queue[Page | _Failed | _End] = asyncio.Queue(maxsize=depth)

    async def fetch() -> None:
        try:
            async with contextlib.aclosing(pages):
                async for page in pages:
                    await queue.put(page)
            await queue.put(_END)
        except Exception as exc:  # handed to the writing side, which raises it in order
            await queue.put(_Failed(exc))

    fetching = asyncio.get_running_loop().create_task(fetch())
    try:
        ended: _Failed | _End | None = None
        while ended is None:
            taken: list[Page] = []
            item = await queue.get()
            while True:
                if isinstance(item, _Failed | _End):
                    ended = item
                    break
                taken.append(item)
                if len(taken) == batch or queue.empty():
                    break
                item = queue.get_nowait()
            if taken:
                await write(taken)
        if isinstance(ended, _Failed):
            raise ended.error
    finally:
        fetching.cancel()
        await asyncio.gather(fetching, return_exceptions=True)
