"""Which secret signs a webhook's deliveries, asked of the server as rarely as possible.

The ids come from unauthenticated bodies, so the lookup is built for strangers:

- known webhooks are cached for the TTL the server gives (and served stale for a while if the
  server is away, so deliveries keep being accepted and spooled through a server restart);
- unknown ones are cached too (a bounded *negative* cache), so repeating an id costs nothing;
- concurrent lookups of one id share one RPC, and only a few RPCs run at once;
- during a regeneration's grace period the server names, besides the secret, the old ones still
  accepted (``previous``), cached alike; the server's TTL ends with the grace, so an old secret is
  dropped when its grace is over;
- a signature that matches none of the cached secrets may mean the secret changed (a webhook
  re-armed with a new one): the server is asked again, at most once per webhook every
  ``RECHECK_SECONDS``, so forged signatures cost next to nothing;
- what the answer means for the sender is decided here, once: unknown (NOT_FOUND, or a
  PERMISSION_DENIED because a tenant-pinned token may not see that webhook) is 401, a malformed
  id is 400, both permanent; only the server being away or misconfigured is 503, which senders
  retry and which no cache remembers.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import grpc

from webhook_gateway.envelope import Rejected
from webhook_gateway.metrics import GatewayMetrics
from webhook_gateway.server_link import ServerLink, error_reason
from webhook_gateway.ttl_cache import TtlCache

logger = logging.getLogger(__name__)

MAX_ENTRIES = 10_000
UNKNOWN_TTL_SECONDS = 30.0
STALE_FOR_SECONDS = 3600.0
MAX_CONCURRENT_LOOKUPS = 32
RECHECK_SECONDS = 10.0
# The gateway's own set-up is wrong: every delivery would fail alike, so it is a 503 and an ERROR line.
OPERATOR_PROBLEMS = frozenset({grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.FAILED_PRECONDITION})

Key = tuple[str, str]


@dataclass(frozen=True)
class Secrets:
    """A webhook's secret and those still accepted besides it (a regeneration's grace period)."""

    current: str = field(repr=False)
    previous: tuple[str, ...] = field(default=(), repr=False)

    def candidates(self) -> tuple[str, ...]:
        """Every secret a genuine signature may be made with, the current one first."""
        return (self.current, *self.previous)


def _unknown() -> Rejected:
    return Rejected(401, "unknown_webhook", "unknown webhook")


def _invalid() -> Rejected:
    return Rejected(400, "bad_webhook_id", "the server does not accept this webhook_id")


def _unavailable() -> Rejected:
    return Rejected(503, "secret_unavailable", "cannot look up the webhook's secret right now")


class SecretLookup:
    def __init__(
        self,
        link: ServerLink,
        metrics: GatewayMetrics,
        *,
        max_entries: int = MAX_ENTRIES,
        unknown_ttl: float = UNKNOWN_TTL_SECONDS,
        stale_for: float = STALE_FOR_SECONDS,
    ) -> None:
        self._link = link
        self._metrics = metrics
        self._known: TtlCache[Key, Secrets] = TtlCache(max_entries)
        self._refused: TtlCache[Key, Rejected] = TtlCache(max_entries)
        self._rechecked: TtlCache[Key, bool] = TtlCache(max_entries)
        self._unknown_ttl = unknown_ttl
        self._stale_for = stale_for
        self._flights: dict[Key, asyncio.Future[Secrets]] = {}
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_LOOKUPS)

    async def secret(self, integration: str, webhook_id: str) -> Secrets:
        """The secrets, or ``Rejected`` (401/400 permanent, 503 for now)."""
        key = (integration, webhook_id)
        known = self._known.get(key)
        if known is not None:
            return known
        refused = self._refused.get(key)
        if refused is not None:
            raise Rejected(refused.status, refused.reason, refused.message)
        return await self._flight(key)

    async def newer_than(self, integration: str, webhook_id: str, stale: Secrets) -> Secrets | None:
        """The secrets as the server has them now, if they are not ``stale`` (those a signature did not
        match); None if unchanged, unknown now, or asked within ``RECHECK_SECONDS`` already."""
        key = (integration, webhook_id)
        if self._rechecked.get(key) is not None:
            return None
        self._rechecked.put(key, True, RECHECK_SECONDS)
        try:
            fresh = await self._flight(key)
        except Rejected:
            return None
        return fresh if fresh != stale else None

    async def _flight(self, key: Key) -> Secrets:
        """Ask the server, sharing a lookup already on its way."""
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.ensure_future(self._fetch(key))
            self._flights[key] = flight
            flight.add_done_callback(lambda done: self._landed(key, done))
        # Shielded: a sender that hangs up must not cancel the lookup others are waiting for.
        try:
            return await asyncio.shield(flight)
        except Rejected as refusal:  # a copy each: waiters must not share one exception's traceback
            raise Rejected(refusal.status, refusal.reason, refusal.message) from None

    def _landed(self, key: Key, flight: asyncio.Future[Secrets]) -> None:
        self._flights.pop(key, None)
        if not flight.cancelled():
            flight.exception()  # retrieved here: every waiter may have gone (no "never retrieved" noise)

    async def _fetch(self, key: Key) -> Secrets:
        async with self._slots:
            try:
                answer = await self._link.secret(*key)
            except grpc.aio.AioRpcError as error:
                refusal = self._refusal(key, error)
            else:
                self._metrics.secret_lookups.labels("found").inc()
                found = Secrets(answer.secret, answer.previous)
                self._known.put(key, found, answer.ttl)
                return found
        stale = self._known.get(key, stale_for=self._stale_for) if refusal.status == 503 else None
        if stale is not None:
            return stale
        raise refusal

    def _refusal(self, key: Key, error: grpc.aio.AioRpcError) -> Rejected:
        code, reason = error.code(), error_reason(error)
        if code == grpc.StatusCode.NOT_FOUND or (
            code == grpc.StatusCode.PERMISSION_DENIED and reason != "MISSING_SCOPE"
        ):
            self._metrics.secret_lookups.labels("unknown").inc()
            self._known.pop(key)
            self._refused.put(key, _unknown(), self._unknown_ttl)
            return _unknown()
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            self._metrics.secret_lookups.labels("invalid").inc()
            self._refused.put(key, _invalid(), self._unknown_ttl)
            return _invalid()
        self._metrics.secret_lookups.labels("unavailable").inc()
        if code in OPERATOR_PROBLEMS or code == grpc.StatusCode.PERMISSION_DENIED:
            logger.error("the server refused the gateway's secret lookup: %s %s", code.name, reason or error.details())
        else:
            logger.warning("cannot look up a webhook secret: %s", code.name)
        return _unavailable()
