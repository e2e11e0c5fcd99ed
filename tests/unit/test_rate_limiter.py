"""The limiter on a simulated clock: minutes of ClickUp budget in milliseconds of test time."""

from __future__ import annotations

import math
import random
from email.utils import formatdate

import httpx
import pytest

from graph.rate_budgets import BudgetAnswer, ProviderCount
from server.integrations.clickup.client import ClickUpClient
from server.integrations.clickup.rate_limit import LimiterPool, RateLimiter, SharedRateLimiter

START = 1_800_000_000.0


class FakeClock:
    def __init__(self) -> None:
        self.now = START
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)


class WindowedServer:
    """ClickUp's accounting: `limit` requests per fixed window, headers on every answer, 429 past it."""

    def __init__(self, clock: FakeClock, limit: int = 100, window: float = 60.0) -> None:
        self.clock, self.limit, self.window = clock, limit, window
        self.window_end = 0.0
        self.used = 0
        self.served = 0
        self.rejected = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        now = self.clock.time()
        if now >= self.window_end:
            self.window_end, self.used = now + self.window, 0
        headers = {"X-RateLimit-Limit": str(self.limit), "Date": formatdate(now, usegmt=True)}
        if self.used >= self.limit:
            self.rejected += 1
            headers |= {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(math.ceil(self.window_end))}
            return httpx.Response(429, json={"err": "Rate limit reached", "ECODE": "APP_002"}, headers=headers)
        self.used += 1
        self.served += 1
        headers |= {
            "X-RateLimit-Remaining": str(self.limit - self.used),
            "X-RateLimit-Reset": str(math.ceil(self.window_end)),
        }
        return httpx.Response(200, json={"ok": True}, headers=headers)


def client_for(handler: object, clock: FakeClock, limiter: RateLimiter | None = None) -> ClickUpClient:
    return ClickUpClient(
        "pk_test_token",
        base_url="http://clickup.test/api/v2",
        transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
        clock=clock,
        limiter=limiter or RateLimiter(clock=clock, rng=random.Random(1)),
        rng=random.Random(1),
    )


async def test_105_requests_under_100_per_minute_take_at_least_a_minute_and_never_hit_429() -> None:
    clock = FakeClock()
    server = WindowedServer(clock)
    async with client_for(server, clock) as client:
        for _ in range(105):
            await client.get("/team")
    assert server.served == 105
    assert server.rejected == 0
    assert clock.now - START >= 60.0
    assert clock.now - START < 62.0  # waits for the reset, not much longer
    assert client.limiter.stats.waits >= 1


async def test_budget_is_enforced_without_any_headers() -> None:
    clock = FakeClock()

    def silent(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={})

    async with client_for(silent, clock) as client:
        for _ in range(105):
            await client.get("/team")
    assert clock.now - START >= 60.0


async def test_429_with_reset_seven_seconds_ahead_waits_seven_seconds_then_retries() -> None:
    clock = FakeClock()
    calls: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(clock.time())
        if len(calls) == 1:
            return httpx.Response(
                429,
                json={"err": "Rate limit reached", "ECODE": "APP_002"},
                headers={
                    "X-RateLimit-Limit": "100",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(int(START) + 7),
                },
            )
        return httpx.Response(200, json={"teams": []})

    limiter = RateLimiter(clock=clock, max_jitter=0.25, rng=random.Random(3))
    async with client_for(handler, clock, limiter) as client:
        assert await client.get("/team") == {"teams": []}
    assert len(calls) == 2
    waited = calls[1] - calls[0]
    assert 7.0 <= waited <= 7.25
    assert client.stats.rate_limited == 1


async def test_limiter_slows_down_before_the_budget_runs_out() -> None:
    clock = FakeClock()
    server = WindowedServer(clock, limit=20, window=60.0)
    async with client_for(server, clock) as client:
        stamps = []
        for _ in range(20):
            await client.get("/team")
            stamps.append(clock.now)
    # The first 18 go at once; the last two are spread over the rest of the window.
    assert stamps[17] == START
    assert stamps[18] > START
    assert stamps[19] > stamps[18]
    assert server.rejected == 0


async def test_persistent_429_gives_up_after_bounded_retries() -> None:
    clock = FakeClock()

    def always_limited(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429,
            json={"err": "Rate limit reached"},
            headers={
                "X-RateLimit-Limit": "100",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(clock.now) + 1),
            },
        )

    from server.integrations.clickup.errors import ClickUpRateLimited

    async with client_for(always_limited, clock) as client:
        with pytest.raises(ClickUpRateLimited):
            await client.get("/team")
    assert client.stats.rate_limited == 7  # first try + 6 retries


class ScriptedBudget:
    """A shared budget that answers from a script and records what each take was told."""

    def __init__(self, answers: list[BudgetAnswer]) -> None:
        self.answers = answers
        self.takes: list[ProviderCount | None] = []
        self.wanted: list[int] = []

    async def take(
        self, key: str, limit: int, window_seconds: float, seen: ProviderCount | None = None, want: int = 1
    ) -> BudgetAnswer:
        assert key.startswith("clickup:")
        assert "pk_" not in key  # a fingerprint, never the token
        self.takes.append(seen)
        self.wanted.append(want)
        return self.answers.pop(0)


def headers(remaining: str, reset: float, **more: str) -> httpx.Headers:
    return httpx.Headers(
        {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": remaining, "X-RateLimit-Reset": str(int(reset)), **more}
    )


GRANT = BudgetAnswer(granted=1, wait_seconds=60, used=1, limit=100)


async def test_the_shared_limiter_sends_the_providers_newest_count_with_the_next_take() -> None:
    clock = FakeClock()
    budget = ScriptedBudget([GRANT, BudgetAnswer(0, 7.5, 100, 100), GRANT])
    limiter = LimiterPool(clock=clock).for_token("pk_secret_token", budget)
    assert isinstance(limiter, SharedRateLimiter)
    await limiter.acquire()
    date = formatdate(START, usegmt=True)
    for remaining, reset in (("12", START + 40), ("9", START + 40), ("30", START - 20)):  # the last: a late one
        limiter.observe(headers(remaining, reset, Date=date))
    await limiter.acquire()  # refused once, waits what the budget said, then granted
    assert budget.takes == [None, ProviderCount(100, 9, 40.0, START + 40), None]
    assert len(clock.sleeps) == 1
    assert 7.5 <= clock.sleeps[0] <= 7.75
    assert limiter.stats.waits == 1


async def test_a_bare_429_tells_the_shared_budget_the_window_is_spent() -> None:
    clock = FakeClock()
    budget = ScriptedBudget([GRANT, GRANT])
    limiter = LimiterPool(clock=clock).for_token("pk_secret_token", budget)
    await limiter.acquire()
    limiter.observe(
        {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "50", "X-RateLimit-Reset": str(int(START + 9))}
    )
    limiter.exhausted({})
    await limiter.acquire()
    assert budget.takes == [None, ProviderCount(100, 0, 60.0, None)]


def test_the_pool_keeps_one_shared_limiter_per_token() -> None:
    budget = ScriptedBudget([])
    pool = LimiterPool()
    assert pool.for_token("pk_a_token", budget) is pool.for_token("pk_a_token", budget)
    assert pool.for_token("pk_a_token", budget) is not pool.for_token("pk_b_token", budget)
    assert isinstance(pool.for_token("pk_a_token"), RateLimiter)


async def test_a_large_budget_is_taken_in_blocks_that_end_with_their_window() -> None:
    """At 10,000 a minute the limiter takes a hundred grants per statement, spends them here, and
    drops what is left when the window they belong to ends."""
    clock = FakeClock()
    budget = ScriptedBudget([BudgetAnswer(100, 60, 100, 10_000), BudgetAnswer(100, 60, 200, 10_000)])
    limiter = LimiterPool(clock=clock).for_token("pk_secret_token", budget)
    limiter.observe(headers("9999", START + 60, **{"X-RateLimit-Limit": "10000"}))
    for _ in range(100):
        await limiter.acquire()
    assert budget.wanted == [100]
    clock.now += 1
    await limiter.acquire()  # the block is spent: the next one
    assert budget.wanted == [100, 100]
    clock.now += 60
    budget.answers.append(BudgetAnswer(100, 60, 100, 10_000))
    await limiter.acquire()  # 99 left, but their window is over
    assert budget.wanted == [100, 100, 100]
