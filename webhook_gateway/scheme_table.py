"""Which signing scheme an integration's deliveries use: configuration first, else the server's answer.

The configured table (the defaults module with ``GATEWAY_SCHEMES`` over it) always wins, and an
integration configured ``off`` stays off. Any other integration is looked up in the server's table
(``ListWebhookSchemes``: each plugin names its scheme), so a new integration needs no gateway
configuration. Path names come from strangers, so the server is asked at most once per
``min_gap`` seconds however many unknown names arrive, concurrent askers share one call, and an
answer is kept for the TTL the server gives (and kept past it while the server is away).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping

import grpc

from webhook_gateway.schemes import SCHEMES
from webhook_gateway.server_link import ServerLink

logger = logging.getLogger(__name__)

MIN_GAP_SECONDS = 30.0


class SchemeTable:
    def __init__(
        self,
        link: ServerLink | None,
        configured: Mapping[str, str],
        disabled: frozenset[str] = frozenset(),
        *,
        min_gap: float = MIN_GAP_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._link = link
        self._configured = dict(configured)
        self._disabled = disabled
        self._min_gap = min_gap
        self._clock = clock
        self._served: dict[str, str] = {}
        self._fresh_until = float("-inf")
        self._last_asked = float("-inf")
        self._flight: asyncio.Future[None] | None = None

    async def scheme_for(self, integration: str) -> str | None:
        """The scheme's name, or None when nobody says this integration receives webhooks."""
        if integration in self._disabled:
            return None
        if integration in self._configured:
            return self._configured[integration]
        now = self._clock()
        stale = now >= self._fresh_until
        if (stale or integration not in self._served) and now - self._last_asked >= self._min_gap:
            await self._refresh()
        return self._served.get(integration)

    async def _refresh(self) -> None:
        if self._flight is None or self._flight.done():
            self._last_asked = self._clock()
            self._flight = asyncio.ensure_future(self._ask())
        await asyncio.shield(self._flight)

    async def _ask(self) -> None:
        if self._link is None:
            return
        try:
            served, ttl = await self._link.schemes()
        except grpc.aio.AioRpcError as error:  # keep what we had: deliveries of known ones go on
            logger.warning("cannot read the server's webhook schemes: %s", error.code().name)
            return
        unknown = sorted(name for name, scheme in served.items() if scheme not in SCHEMES)
        if unknown:
            logger.error("the server names signing schemes this gateway lacks for %s; they are refused", unknown)
        self._served = {name: scheme for name, scheme in served.items() if scheme in SCHEMES}
        self._fresh_until = self._clock() + ttl
