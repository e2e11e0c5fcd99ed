"""The shared request budget (graph/rate_budgets.py) on the real Neo4j: three drivers stand for three
replicas; grants never pass the limit, the provider's counts move the row, late ones do not."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import neo4j
import pytest

from devtools.neo4j_local import Connection
from graph.rate_budgets import ProviderCount, RateBudgets


@pytest.fixture
async def replicas(graph_driver: neo4j.AsyncDriver, neo4j_connection: Connection) -> AsyncIterator[list[RateBudgets]]:
    """Three budgets, each on its own driver (its own connection pool), as three replicas have."""
    drivers = [
        neo4j.AsyncGraphDatabase.driver(neo4j_connection.uri, auth=(neo4j_connection.user, neo4j_connection.password))
        for _ in range(3)
    ]
    try:
        yield [RateBudgets(driver, "neo4j") for driver in drivers]
    finally:
        for driver in drivers:
            await driver.close()


def fresh_key() -> str:
    return f"test:{uuid.uuid4().hex}"


async def test_three_replicas_taking_at_once_are_granted_the_limit_exactly(replicas: list[RateBudgets]) -> None:
    key = fresh_key()

    async def hammer(budget: RateBudgets) -> list[int]:
        async def one() -> int:
            return (await budget.take(key, 100, 60)).granted

        return list(await asyncio.gather(*(one() for _ in range(50))))

    answers = [granted for replica in await asyncio.gather(*(hammer(b) for b in replicas)) for granted in replica]
    assert sorted(set(answers)) == [0, 1]
    assert sum(answers) == 100
    refused = await replicas[0].take(key, 100, 60)
    assert refused.granted == 0
    assert 0 < refused.wait_seconds <= 60
    assert (refused.used, refused.limit) == (100, 100)


async def test_the_providers_count_raises_the_row_and_sets_its_reset(replicas: list[RateBudgets]) -> None:
    key = fresh_key()
    first = await replicas[0].take(key, 100, 60)
    assert (first.granted, first.used) == (True, 1)
    # Someone else spent the token too: the provider says 10 are left, the window ends in 20 s.
    told = await replicas[1].take(key, 100, 60, ProviderCount(limit=100, remaining=10, reset_in=20, window_end=1000))
    assert (told.granted, told.used) == (True, 91)
    assert 18 < told.wait_seconds <= 20
    # A provider count lower than ours does not lower the row: our grants in flight are not counted there yet.
    kept = await replicas[2].take(key, 100, 60, ProviderCount(limit=100, remaining=50, reset_in=20, window_end=1000))
    assert kept.used == 92


async def test_a_late_answer_from_an_older_window_is_ignored(replicas: list[RateBudgets]) -> None:
    key = fresh_key()
    short = await replicas[0].take(key, 100, 0.3, ProviderCount(limit=100, remaining=99, reset_in=0.3, window_end=1000))
    assert short.used == 2  # the one the provider counted, and this one
    await asyncio.sleep(short.wait_seconds + 0.05)
    rolled = await replicas[1].take(key, 100, 60)
    assert (rolled.granted, rolled.used) == (True, 1)
    # An answer about the window that ended (the provider spent it) arrives only now.
    late = await replicas[2].take(key, 100, 60, ProviderCount(limit=100, remaining=0, reset_in=0, window_end=1000))
    assert (late.granted, late.used) == (True, 2)
    assert late.wait_seconds > 55
    # The next window's first answer is taken: it names a later window.
    newer = await replicas[0].take(key, 100, 60, ProviderCount(limit=100, remaining=40, reset_in=50, window_end=1060))
    assert (newer.granted, newer.used) == (True, 61)
    assert 48 < newer.wait_seconds <= 50


async def test_a_429_spends_the_window_until_the_providers_reset(replicas: list[RateBudgets]) -> None:
    key = fresh_key()
    await replicas[0].take(key, 100, 60)
    spent = await replicas[1].take(key, 100, 60, ProviderCount(limit=100, remaining=0, reset_in=0.5, window_end=1000))
    assert not spent.granted
    assert spent.wait_seconds <= 0.5
    await asyncio.sleep(spent.wait_seconds + 0.05)  # the database's clock says when the window ends
    after = await replicas[2].take(key, 100, 60)
    assert (after.granted, after.used) == (True, 1)


async def test_a_new_window_grants_again_and_the_providers_limit_wins(replicas: list[RateBudgets]) -> None:
    key = fresh_key()
    short = [await replicas[0].take(key, 2, 0.3) for _ in range(3)]
    assert [a.granted for a in short] == [True, True, False]
    await asyncio.sleep(short[-1].wait_seconds + 0.05)
    renewed = await replicas[1].take(key, 2, 0.3, ProviderCount(limit=5, remaining=4, reset_in=30, window_end=2000))
    assert (renewed.granted, renewed.used, renewed.limit) == (True, 2, 5)


async def test_a_bare_429_spends_at_least_the_rest_of_the_window(replicas: list[RateBudgets]) -> None:
    """A refusal without headers says nothing of the provider's window: the row's window is spent,
    and lasts at least ``reset_in`` more."""
    key = fresh_key()
    first = await replicas[0].take(key, 100, 1)
    spent = await replicas[1].take(key, 100, 1, ProviderCount(limit=100, remaining=0, reset_in=30, window_end=None))
    assert (first.granted, spent.granted, spent.used) == (True, False, 100)
    assert 29 < spent.wait_seconds <= 30


async def test_a_block_is_granted_as_far_as_the_budget_goes(replicas: list[RateBudgets]) -> None:
    key = fresh_key()
    blocks = [await replicas[n % 3].take(key, 250, 60, want=100) for n in range(4)]
    assert [(b.granted, b.used) for b in blocks] == [(100, 100), (100, 200), (50, 250), (0, 250)]
