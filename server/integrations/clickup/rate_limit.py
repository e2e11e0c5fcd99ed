"""A per-token request budget that mirrors ClickUp's fixed rate-limit window.

ClickUp counts requests per token per window and reports ``X-RateLimit-Limit``,
``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (epoch seconds) on every response.
The limiter keeps its own estimate between responses (so concurrent callers cannot
overshoot), corrects it from every set of headers, spreads the last part of each window's
budget over the time left instead of hitting zero, and once the budget is spent waits
for the reset plus jitter. The clock is injectable so tests simulate minutes in milliseconds.

Several replicas using one token share one budget (``SharedRateLimiter``): the count lives in
Neo4j (``graph/rate_budgets.py``), and each request is granted there. ``LimiterPool`` hands out a
shared limiter when the project's settings carry the shared budget, the local one otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from graph.rate_budgets import ProviderCount
from server.integrations.clock import Clock, SystemClock
from server.integrations.rate_budget import SharedBudget


@dataclass(frozen=True)
class RateLimitSnapshot:
    limit: int
    remaining: int
    reset_epoch: float


@dataclass
class LimiterStats:
    waits: int = 0
    waited_seconds: float = 0.0


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except ValueError:
        return None


def provider_count(headers: Mapping[str, str], now: float) -> tuple[RateLimitSnapshot, float] | None:
    """A response's ``X-RateLimit-*`` headers and the seconds until the reset, or None without them.
    The wait is counted as the server counts it, like tap-clickup: the reset minus the server's own
    ``Date`` when it sends one, so a skewed local clock does not matter."""
    limit = _int_header(headers, "x-ratelimit-limit")
    remaining = _int_header(headers, "x-ratelimit-remaining")
    reset = _int_header(headers, "x-ratelimit-reset")
    if limit is None or remaining is None or reset is None or limit < 1:
        return None
    reset_in = reset - now
    date = headers.get("date")
    if date:
        with contextlib.suppress(TypeError, ValueError):
            reset_in = reset - parsedate_to_datetime(date).timestamp()
    return RateLimitSnapshot(limit, remaining, float(reset)), reset_in


class RateLimiter:
    def __init__(
        self,
        *,
        limit: int = 100,
        window: float = 60.0,
        clock: Clock | None = None,
        max_jitter: float = 0.25,
        slowdown_fraction: float = 0.1,
        rng: random.Random | None = None,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self._clock = clock or SystemClock()
        self._limit = limit
        self._window = window
        self._max_jitter = max_jitter
        self._slowdown_fraction = slowdown_fraction
        self._rng = rng or random.Random()
        self._remaining = limit
        self._reset_at = 0.0  # local epoch seconds at which the current window ends
        self._in_flight = 0
        self._lock = asyncio.Lock()
        self.stats = LimiterStats()
        self.last: RateLimitSnapshot | None = None

    def _jitter(self) -> float:
        return self._rng.uniform(0, self._max_jitter) if self._max_jitter > 0 else 0.0

    async def _wait(self, seconds: float) -> None:
        if seconds <= 0:
            return
        self.stats.waits += 1
        self.stats.waited_seconds += seconds
        await self._clock.sleep(seconds)

    async def acquire(self) -> None:
        """Wait until one more request fits in the budget, then take it."""
        async with self._lock:
            while True:
                now = self._clock.time()
                if now >= self._reset_at:
                    self._remaining = self._limit
                    self._reset_at = now + self._window
                if self._remaining > 0:
                    threshold = max(1, int(self._limit * self._slowdown_fraction))
                    if self._remaining <= threshold:
                        await self._wait((self._reset_at - now) / (self._remaining + 1))
                    self._remaining -= 1
                    self._in_flight += 1
                    return
                await self._wait(self._reset_at - now + self._jitter())

    def release(self) -> None:
        """The request ended without telling us anything (e.g. a network error)."""
        self._in_flight = max(0, self._in_flight - 1)

    def observe(self, headers: Mapping[str, str]) -> RateLimitSnapshot | None:
        """Correct the estimate from a response's headers; returns what they said."""
        self.release()
        now = self._clock.time()
        counted = provider_count(headers, now)
        if counted is None:
            return None
        snapshot, reset_in = counted
        self._limit = snapshot.limit
        self._reset_at = now + reset_in
        self._remaining = max(0, min(snapshot.remaining - self._in_flight, snapshot.limit))
        self.last = snapshot
        return snapshot

    def exhausted(self, headers: Mapping[str, str]) -> None:
        """A 429: nothing is left until the reset the server gave (or one window)."""
        if self.observe(headers) is None:
            self._reset_at = self._clock.time() + self._window
        self._remaining = 0


# Grants taken at once from the shared budget: one per request up to 100 a window, then a hundredth
# of the window's budget (a token with 10,000 a minute costs 100 statements a minute, not 10,000);
# at most that many per replica go unused at a window's end.
BLOCK_SHARE = 100


class SharedRateLimiter:
    """The same contract as ``RateLimiter``, with the count kept in the shared budget: grants are
    taken there (one statement per block), and the newest provider count seen here rides along."""

    def __init__(
        self,
        budget: SharedBudget,
        key: str,
        *,
        limit: int = 100,
        window: float = 60.0,
        clock: Clock | None = None,
        max_jitter: float = 0.25,
        rng: random.Random | None = None,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self._budget = budget
        self._key = key
        self._limit = limit
        self._window = window
        self._clock = clock or SystemClock()
        self._max_jitter = max_jitter
        self._rng = rng or random.Random()
        self._seen: ProviderCount | None = None
        self._grants = 0  # taken from the shared budget, not used yet
        self._grants_until = 0.0  # local time their window ends
        self._lock = asyncio.Lock()
        self.stats = LimiterStats()
        self.last: RateLimitSnapshot | None = None

    async def acquire(self) -> None:
        """Wait until the shared budget grants one more request."""
        async with self._lock:
            while True:
                if self._grants > 0 and self._clock.time() < self._grants_until:
                    self._grants -= 1
                    return
                limit = self.last.limit if self.last is not None else self._limit
                seen, self._seen = self._seen, None
                answer = await self._budget.take(
                    self._key, self._limit, self._window, seen, want=max(1, limit // BLOCK_SHARE)
                )
                if answer.granted:
                    self._grants, self._grants_until = answer.granted - 1, self._clock.time() + answer.wait_seconds
                    return
                await self._wait(answer.wait_seconds)

    async def _wait(self, seconds: float) -> None:
        wait = seconds + (self._rng.uniform(0, self._max_jitter) if self._max_jitter > 0 else 0.0)
        self.stats.waits += 1
        self.stats.waited_seconds += wait
        await self._clock.sleep(wait)

    def release(self) -> None:
        """Nothing to give back: a request that was sent counts, as the provider counts it."""

    def observe(self, headers: Mapping[str, str]) -> RateLimitSnapshot | None:
        counted = provider_count(headers, self._clock.time())
        if counted is None:
            return None
        snapshot, reset_in = counted
        self._keep(ProviderCount(snapshot.limit, snapshot.remaining, reset_in, snapshot.reset_epoch))
        self.last = snapshot
        return snapshot

    def exhausted(self, headers: Mapping[str, str]) -> None:
        """A 429: the window is spent until the reset the server gave (or one window)."""
        counted = provider_count(headers, self._clock.time())
        if counted is None:
            self._keep(ProviderCount(self._limit, 0, self._window, None))
            return
        snapshot, reset_in = counted
        self._keep(ProviderCount(snapshot.limit, 0, reset_in, snapshot.reset_epoch))
        self.last = snapshot

    def _keep(self, seen: ProviderCount) -> None:
        """Hold the newest count for the next grant: a bare refusal first, else the latest window, and
        in it the fewest left."""

        def rank(count: ProviderCount) -> tuple[float, int]:
            return (math.inf if count.window_end is None else count.window_end, -count.remaining)

        if self._seen is None or rank(seen) > rank(self._seen):
            self._seen = seen


AnyRateLimiter = RateLimiter | SharedRateLimiter


class LimiterPool:
    """One limiter per token, shared by every client of that token in this process; shared with the
    other replicas too when a shared budget is given."""

    def __init__(self, *, clock: Clock | None = None, default_limit: int = 100) -> None:
        self._clock = clock
        self._default_limit = default_limit
        self._limiters: dict[str, RateLimiter] = {}
        self._shared: dict[str, SharedRateLimiter] = {}

    def for_token(self, token: str, budget: SharedBudget | None = None) -> AnyRateLimiter:
        key = hashlib.sha256(token.encode()).hexdigest()  # never keep the token itself as a key
        if budget is not None:
            shared = self._shared.get(key)
            if shared is None:
                shared = SharedRateLimiter(budget, f"clickup:{key}", limit=self._default_limit, clock=self._clock)
                self._shared[key] = shared
            return shared
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = RateLimiter(limit=self._default_limit, clock=self._clock)
            self._limiters[key] = limiter
        return limiter
