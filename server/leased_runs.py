"""What every kind of long work held by a lease shares (imports, data deletions): one task per run
in this process, watchers woken on every change it makes, a heartbeat that renews the lease, and a
scan that resumes the runs whose lease ran out (their server died).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

SCAN_STOP_SECONDS = 10.0  # how long a stop waits for a scan's query in flight


class LeasedRuns:
    """Subclasses say what a run is (``_execute``) and where orphans are found (``_orphans``)."""

    what = "run"  # for log lines: "import", "data deletion"

    def __init__(self, lease_seconds: float) -> None:
        self._lease_seconds = lease_seconds
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._changed: dict[str, asyncio.Event] = {}
        self._scanner: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def _orphans(self) -> list[str]:
        raise NotImplementedError

    async def _execute(self, run_id: str) -> None:
        raise NotImplementedError

    async def changed(self, run_id: str) -> None:
        """Returns when a run this process holds changes; callers bound the wait (other replicas' runs)."""
        event = self._changed.setdefault(run_id, asyncio.Event())
        try:
            await event.wait()
        finally:
            event.clear()

    async def start_background(self, scan_seconds: float | None = None) -> None:
        """Resume orphans now, then keep looking (another replica may die too)."""
        interval = scan_seconds or self._lease_seconds / 2

        async def scan() -> None:
            while not self._stopping.is_set():
                try:
                    for run_id in await self._orphans():
                        if run_id not in self._tasks or self._tasks[run_id].done():
                            logger.info("resuming %s %s (its lease ran out)", self.what, run_id)
                            self._launch(run_id)
                except Exception:
                    logger.exception("the scan for orphaned %ss failed", self.what)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), interval)

        self._scanner = asyncio.get_running_loop().create_task(scan())

    async def stop(self, grace: float = SCAN_STOP_SECONDS) -> None:
        """Stop working; the runs in hand keep their progress and are resumed once their lease runs out.

        The scan is let finish its query rather than cancelled in it: the Neo4j driver leaks the socket
        of a connection whose opening is cancelled (an unclosed socket the test suite caught)."""
        self._stopping.set()
        if self._scanner is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._scanner), grace)
        tasks = [t for t in (self._scanner, *self._tasks.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _notify(self, run_id: str) -> None:
        self._changed.setdefault(run_id, asyncio.Event()).set()

    def _launch(self, run_id: str) -> None:
        self._tasks[run_id] = asyncio.get_running_loop().create_task(self._execute(run_id))

    async def _heartbeat(
        self,
        run_id: str,
        renew: Callable[[], Awaitable[object]],
        lost: type[Exception],
        worker: asyncio.Task[None] | None,
    ) -> None:
        """Renew the lease every third of it; once another runner holds it (``lost``), stop ``worker``."""
        while True:
            await asyncio.sleep(self._lease_seconds / 3)
            try:
                await renew()
            except lost:
                if worker is not None:
                    worker.cancel()
                return
            except Exception:
                logger.exception("heartbeat of %s %s failed", self.what, run_id)
