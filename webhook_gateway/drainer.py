"""Hands the spool to the server, oldest first, in batches; one bad delivery never stops the others.

What each answer means:

- the call fails with UNAVAILABLE or DEADLINE_EXCEEDED (server away), UNAUTHENTICATED or
  PERMISSION_DENIED (the gateway's token): retried with backoff, order kept, nothing set aside;
- the call fails any other way (INTERNAL, UNKNOWN, ...): some delivery in the batch may be what
  breaks it, so the batch is halved until the culprit travels alone;
- per delivery: OK (stored, duplicate, or dead-lettered *by the server*) and the final refusals
  (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, PERMISSION_DENIED) leave the spool; any
  other code keeps that delivery and those behind it for the next try.

A head delivery that failed ``ATTEMPTS`` times (alone or by its own code) is set aside in the
spool's dead table, but only once the next delivery, sent alone, goes through: if that one fails
too, the server is broken for everyone and nothing is set aside (an outage must not empty the
spool into the dead table). With nothing behind it, it is set aside at once: it blocks nothing,
yet retrying it for ever would hide it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time

import grpc

from integrations.v1 import integration_service_pb2 as pb
from webhook_gateway.metrics import GatewayMetrics
from webhook_gateway.server_link import ServerLink
from webhook_gateway.spool import Spool, Spooled

logger = logging.getLogger(__name__)

FORWARD_BATCH = 256
FORWARD_BATCH_BYTES = 3 * 1024 * 1024  # under gRPC's 4 MiB message limit
ATTEMPTS = 5
MIN_BACKOFF_SECONDS = 0.2
MAX_BACKOFF_SECONDS = 5.0
IDLE_WAIT_SECONDS = 5.0

# Whole-call failures that say nothing about the deliveries: wait and try the same batch again.
NOT_THEIR_FAULT = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
    }
)
# Per-delivery codes that will never turn into "stored": the delivery leaves the spool.
FINAL = frozenset(
    code.value[0]
    for code in (
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.PERMISSION_DENIED,
    )
)
_CODE_NAMES = {code.value[0]: code.name for code in grpc.StatusCode}


class Step(enum.Enum):
    PROGRESS = "progress"  # something left the spool: go on at once
    SMALLER = "smaller"  # the batch was halved to isolate a culprit: go on at once
    WAIT = "wait"  # nothing moved: back off


def _settled(result: pb.DeliveryResult) -> bool:
    return result.code == 0 or result.code in FINAL


def _describe(result: pb.DeliveryResult) -> str:
    name = _CODE_NAMES.get(result.code, str(result.code))
    return f"{name} ({result.reason}): {result.message}" if result.reason else f"{name}: {result.message}"


class Drainer:
    def __init__(self, spool: Spool, link: ServerLink, metrics: GatewayMetrics, wake: asyncio.Event) -> None:
        self._spool = spool
        self._link = link
        self._metrics = metrics
        self._wake = wake
        self._limit = FORWARD_BATCH
        self._failures: dict[int, int] = {}  # spool id of a delivery -> failed attempts so far
        self.server_reachable = False

    async def run(self) -> None:
        delay = MIN_BACKOFF_SECONDS
        while True:
            self._wake.clear()  # before the read: a delivery spooled meanwhile must not wait for the timeout
            batch = await asyncio.to_thread(self._spool.oldest, self._limit, FORWARD_BATCH_BYTES)
            self._metrics.spool_depth.set(self._spool.depth())
            if not batch:
                self._failures.clear()
                self._metrics.dead_depth.set(await asyncio.to_thread(self._spool.dead_count))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(IDLE_WAIT_SECONDS):
                        await self._wake.wait()
                continue
            try:
                step = await self.forward(batch)
            except Exception:  # a bug or a failing disk: keep draining, say so, never die silently
                logger.exception("the drainer failed on a batch of %d spooled deliveries", len(batch))
                step = Step.WAIT
            if step is Step.WAIT:
                self._metrics.forward_retries.inc()
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_SECONDS)
            else:
                delay = MIN_BACKOFF_SECONDS

    async def forward(self, batch: list[Spooled]) -> Step:
        started = time.perf_counter()
        try:
            results = await self._link.deliver_many([item.delivery for item in batch])
        except grpc.aio.AioRpcError as error:
            code = error.code()
            self.server_reachable = code not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
            if code in NOT_THEIR_FAULT:
                logger.warning("the server did not take %d spooled deliveries: %s", len(batch), code.name)
                return Step.WAIT
            return await self._whole_batch_failed(batch, f"{code.name}: {error.details()}")
        except RuntimeError as error:  # an answer that does not match the batch
            return await self._whole_batch_failed(batch, str(error))
        self._metrics.forward_latency.observe(time.perf_counter() - started)
        self.server_reachable = True
        settled: list[Spooled] = []
        blocked: tuple[Spooled, str] | None = None
        for item, result in zip(batch, results, strict=True):
            if not _settled(result):
                blocked = (item, _describe(result))  # keep the order: this one and those after it wait
                break
            self._count(item, result)
            settled.append(item)
        await self._remove(settled)
        if blocked is None:
            self._limit = min(FORWARD_BATCH, self._limit * 2)
            return Step.PROGRESS
        step = await self._failed(*blocked)
        return Step.PROGRESS if settled else step

    async def _whole_batch_failed(self, batch: list[Spooled], error: str) -> Step:
        if len(batch) > 1:
            self._limit = max(1, len(batch) // 2)
            logger.warning(
                "the server failed a batch of %d deliveries (%s); retrying in batches of %d to find the one at fault",
                len(batch),
                error,
                self._limit,
            )
            return Step.SMALLER
        return await self._failed(batch[0], error)

    async def _failed(self, head: Spooled, error: str) -> Step:
        """The head delivery failed once more; set it aside once that is clearly its own fault."""
        attempts = self._failures.get(head.id, 0) + 1
        self._failures[head.id] = attempts
        if attempts < ATTEMPTS:
            logger.warning("spooled delivery %s failed (attempt %d of %d): %s", head.id, attempts, ATTEMPTS, error)
            return Step.WAIT
        after = await asyncio.to_thread(self._spool.oldest, 2, FORWARD_BATCH_BYTES)
        neighbour = next((item for item in after if item.id != head.id), None)
        if neighbour is not None and not await self._probe(neighbour):
            logger.warning(
                "spooled delivery %s keeps failing (%s), but so does the next one: the server is failing, "
                "nothing is set aside",
                head.id,
                error,
            )
            return Step.WAIT
        await self._bury(head, error, attempts)
        return Step.PROGRESS

    async def _probe(self, item: Spooled) -> bool:
        """Sends one delivery alone; True (and settled) if the server takes it."""
        try:
            (result,) = await self._link.deliver_many([item.delivery])
        except (grpc.aio.AioRpcError, RuntimeError, ValueError):
            return False
        if not _settled(result):
            return False
        self._count(item, result)
        await self._remove([item])
        return True

    async def _bury(self, item: Spooled, error: str, attempts: int) -> None:
        self._failures.pop(item.id, None)
        if await asyncio.to_thread(self._spool.dead_letter, item.id, error, attempts):
            self._metrics.dead_lettered.inc()
            logger.error(
                "set aside spooled delivery %s after %d failed attempts (%s); "
                "`webhook-gateway requeue-dead` sends it again once the cause is fixed",
                item.id,
                attempts,
                error,
            )
        self._metrics.dead_depth.set(await asyncio.to_thread(self._spool.dead_count))
        self._metrics.spool_depth.set(self._spool.depth())

    def _count(self, item: Spooled, result: pb.DeliveryResult) -> None:
        if result.code in FINAL:
            logger.error("the server refused spooled delivery %s for good: %s", item.id, _describe(result))
            self._metrics.forwarded.labels("refused").inc()
        elif result.dead_lettered:
            self._metrics.forwarded.labels("dead_lettered").inc()
        else:
            self._metrics.forwarded.labels("duplicate" if result.duplicate else "stored").inc()

    async def _remove(self, items: list[Spooled]) -> None:
        if not items:
            return
        for item in items:
            self._failures.pop(item.id, None)
        await asyncio.to_thread(self._spool.remove_many, [item.id for item in items])
        self._metrics.spool_depth.set(self._spool.depth())
