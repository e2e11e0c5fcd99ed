"""The import pipeline (server/integrations/write_behind.py): every page written once, in order, in
batches of the pages ready; fetching bounded ahead of the write; errors and cancels in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest

from server.integrations.write_behind import write_behind


class Source:
    """Pages 0..count-1; ``gate`` None: as fast as asked, else one page per ``gate`` release."""

    def __init__(self, count: int, fail_at: int | None = None, gate: asyncio.Semaphore | None = None) -> None:
        self.count = count
        self.fail_at = fail_at
        self.gate = gate
        self.produced = 0
        self.closed = False

    async def pages(self) -> AsyncGenerator[int, None]:
        try:
            for number in range(self.count):
                if self.gate is not None:
                    await self.gate.acquire()
                if number == self.fail_at:
                    raise RuntimeError(f"page {number} failed")
                self.produced += 1
                yield number
        finally:
            self.closed = True


async def test_every_page_is_written_once_in_order_in_batches_of_what_is_ready() -> None:
    source = Source(57)
    batches: list[list[int]] = []

    async def write(pages: list[int]) -> None:
        batches.append(pages)
        await asyncio.sleep(0)  # the fetch side gets turns while a write is "in progress"

    await write_behind(source.pages(), write, depth=4, batch=3)
    assert [p for batch in batches for p in batch] == list(range(57))
    assert all(1 <= len(batch) <= 3 for batch in batches)
    assert any(len(batch) > 1 for batch in batches), "a slow writer takes several ready pages at once"


async def test_fetching_runs_at_most_depth_pages_ahead_of_the_write() -> None:
    source = Source(40)
    ahead: list[int] = []
    release = asyncio.Event()

    async def write(pages: list[int]) -> None:
        # Let the fetch side run as far as the queue allows, then note how far ahead it got.
        for _ in range(50):
            await asyncio.sleep(0)
        ahead.append(source.produced - (pages[-1] + 1))
        release.set()

    await write_behind(source.pages(), write, depth=5, batch=2)
    assert release.is_set()
    # Queued (depth) plus the one page the fetch side holds while it waits for room.
    assert max(ahead) <= 5 + 1
    assert max(ahead) >= 5, "the fetch side ran ahead while the write was busy"


async def test_a_fetch_error_comes_after_the_pages_read_before_it() -> None:
    source = Source(20, fail_at=7)
    written: list[int] = []

    async def write(pages: list[int]) -> None:
        written.extend(pages)

    with pytest.raises(RuntimeError, match="page 7 failed"):
        await write_behind(source.pages(), write, depth=3, batch=2)
    assert written == list(range(7))


async def test_a_write_error_stops_the_fetching() -> None:
    gate = asyncio.Semaphore(0)
    source = Source(1000, gate=gate)
    writes = 0

    async def write(pages: list[int]) -> None:
        nonlocal writes
        writes += 1
        raise RuntimeError("the graph is away")

    async def feed() -> None:
        while not source.closed:
            gate.release()
            await asyncio.sleep(0)

    feeder = asyncio.get_running_loop().create_task(feed())
    with pytest.raises(RuntimeError, match="the graph is away"):
        await write_behind(source.pages(), write, depth=3, batch=2)
    await asyncio.wait_for(feeder, timeout=5)
    assert writes == 1
    assert source.closed, "the page iterator was closed, not left running"
    assert source.produced <= 1 + 3 + 1 + 1, "no page fetched beyond the queue after the failure"


async def test_a_cancel_during_a_write_stops_the_fetching() -> None:
    source = Source(1000)
    writing = asyncio.Event()

    async def write(pages: list[int]) -> None:
        writing.set()
        await asyncio.Event().wait()  # blocked until cancelled

    running = asyncio.get_running_loop().create_task(write_behind(source.pages(), write, depth=4, batch=4))
    await asyncio.wait_for(writing.wait(), timeout=5)
    produced = source.produced
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert source.closed
    assert source.produced == produced <= 4 + 4 + 1


@pytest.mark.parametrize(("depth", "batch"), [(0, 1), (1, 0)])
async def test_bounds_below_one_are_refused(depth: int, batch: int) -> None:
    async def write(pages: list[int]) -> None:
        raise AssertionError("never called")

    with pytest.raises(ValueError, match="at least 1"):
        await write_behind(Source(1).pages(), write, depth=depth, batch=batch)
