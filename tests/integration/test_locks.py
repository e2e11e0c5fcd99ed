"""Node locks that really lock: the refresh lease (one holder at a time across replicas) and the
project write lock. Both once used ``REMOVE n.lockedBy``, which on a database that never stored
that property takes no lock at all: two replicas then both held the lease."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import neo4j
import pytest

from devtools.neo4j_local import Connection
from graph.connection import GraphConfig, open_driver
from graph.projects import lock
from graph.refresh_leases import RefreshLeases


@pytest.fixture
async def second_driver(neo4j_connection: Connection) -> AsyncIterator[neo4j.AsyncDriver]:
    """Another replica: its own driver, its own connections."""
    driver = await open_driver(GraphConfig(neo4j_connection.uri, neo4j_connection.user, neo4j_connection.password))
    try:
        yield driver
    finally:
        await driver.close()


async def test_of_two_replicas_taking_the_refresh_lease_at_once_exactly_one_gets_it(
    graph_driver: neo4j.AsyncDriver, second_driver: neo4j.AsyncDriver
) -> None:
    project = f"proj-{uuid.uuid4().hex[:8]}"
    first, second = RefreshLeases(graph_driver, "neo4j"), RefreshLeases(second_driver, "neo4j")
    assert await first.acquire("org", project, "planner", "a", 30)  # the lease node exists from here on
    await first.release("org", project, "planner", "a")
    both = 0
    for _ in range(60):
        taken = await asyncio.gather(
            first.acquire("org", project, "planner", "a", 30), second.acquire("org", project, "planner", "b", 30)
        )
        assert any(taken), "a free lease is taken by someone"
        both += all(taken)
        await first.release("org", project, "planner", "a")
        await second.release("org", project, "planner", "b")
    assert both == 0, f"both replicas held the lease in {both} of 60 rounds"


async def test_a_held_lease_is_refused_to_another_owner_until_released_or_run_out(
    graph_driver: neo4j.AsyncDriver,
) -> None:
    leases, project = RefreshLeases(graph_driver, "neo4j"), f"proj-{uuid.uuid4().hex[:8]}"
    assert await leases.acquire("org", project, "planner", "a", 30)
    assert not await leases.acquire("org", project, "planner", "b", 30)
    await leases.release("org", project, "planner", "a")
    assert await leases.acquire("org", project, "planner", "b", 0.001)
    await asyncio.sleep(0.01)  # the lease's own TTL, the thing under test (1 ms)
    assert await leases.acquire("org", project, "planner", "a", 30), "a lease that ran out is free"


async def test_the_project_lock_makes_a_second_writer_wait_for_the_first(
    graph_driver: neo4j.AsyncDriver, second_driver: neo4j.AsyncDriver
) -> None:
    project = f"proj-{uuid.uuid4().hex[:8]}"
    take = f"MERGE (l:ProjectWriteLock {{projectId: $p}}) {lock('l')} RETURN l.lockTakenAt AS at"
    await graph_driver.execute_query(take, p=project)  # exists, as after a project's first write
    async with graph_driver.session() as holder_session, second_driver.session() as waiter_session:
        holder = await holder_session.begin_transaction()
        await (await holder.run(take, p=project)).consume()

        async def take_lock(tx: neo4j.AsyncManagedTransaction) -> None:
            await (await tx.run(take, p=project)).consume()

        async def wait_for_lock() -> None:
            await waiter_session.execute_write(take_lock)

        waiter = asyncio.create_task(wait_for_lock())
        done, _ = await asyncio.wait({waiter}, timeout=1.0)
        assert not done, "the second writer went ahead while the first held the project's lock"
        await holder.commit()
        await asyncio.wait_for(waiter, 10)
