"""What sharing a token's rate limit across replicas costs per request, two ways (issue 13, item 3).

    .venv/bin/python bench/rate_budget_bench.py [--takes 2000] [--replicas 3] [--callers 4]

A. A budget row in Neo4j (``graph/rate_budgets.py``, what the server does): every request is one
   write statement. Timed alone, then with N drivers (replicas) x M concurrent callers on one row,
   then in blocks of 100 grants a statement, as the limiter takes them for budgets of 10,000 a window.
B. The budget split by live replica count: every request is an in-process limiter call (timed
   here: the baseline), plus one lease renewal per replica and period to count the live replicas
   (timed too: one ``DutyLeases.claim``). Its weak spot is not speed but the budget left unused
   when load is uneven, computed in the last table.
C. For scale: one request to the ClickUp sandbox on loopback (what a limiter call guards).
Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import neo4j

from devtools.neo4j_local import LocalNeo4j
from graph.duty_leases import DutyLeases
from graph.migrations import migrate
from graph.rate_budgets import RateBudgets
from sandbox.clickup.app import create_app
from sandbox.clickup.generator import GeneratorConfig, generate
from sandbox.clickup.state import Sandbox
from server.integrations.clickup.rate_limit import RateLimiter
from tests.support import UvicornThread

LIMIT, WINDOW = 1_000_000, 60.0  # never refuses: the bench times the bookkeeping, not the waits


def row(name: str, samples: list[float], wall: float | None = None) -> str:
    ordered = sorted(samples)
    p50 = ordered[len(ordered) // 2] * 1000
    p95 = ordered[int(len(ordered) * 0.95)] * 1000
    rate = f"{len(samples) / wall:,.0f}" if wall else f"{1 / statistics.fmean(samples):,.0f}"
    return f"| {name} | {len(samples):,} | {p50:.3f} | {p95:.3f} | {rate} |"


async def timed(call: object, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        await call()  # type: ignore[operator]
        samples.append(time.perf_counter() - started)
    return samples


async def shared_row(drivers: list[neo4j.AsyncDriver], callers: int, takes: int) -> tuple[list[float], float]:
    key = f"bench:{uuid.uuid4().hex}"
    budgets = [RateBudgets(driver, "neo4j") for driver in drivers]
    per_caller = max(1, takes // (len(budgets) * callers))

    async def caller(budget: RateBudgets) -> list[float]:
        return await timed(lambda: budget.take(key, LIMIT, WINDOW), per_caller)

    started = time.perf_counter()
    results = await asyncio.gather(*(caller(budget) for budget in budgets for _ in range(callers)))
    return [s for r in results for s in r], time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--takes", type=int, default=2000)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--callers", type=int, default=4, help="concurrent requests per replica")
    args = parser.parse_args()

    connection = LocalNeo4j("ratebench", 7831, heap="1g").start_empty()
    drivers = [
        neo4j.AsyncGraphDatabase.driver(connection.uri, auth=(connection.user, connection.password))
        for _ in range(args.replicas)
    ]
    try:
        await migrate(drivers[0], "neo4j")
        version = (await drivers[0].execute_query("CALL dbms.components() YIELD versions RETURN versions[0] AS v"))[0][
            0
        ]["v"]
        print(f"# machine: {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}")
        print(f"# Neo4j {version} on loopback ({connection.uri}); {args.replicas} drivers stand for the replicas")
        print()
        print("| per request | calls | p50 ms | p95 ms | calls/s |")
        print("|---|---:|---:|---:|---:|")

        local = RateLimiter(limit=LIMIT, window=WINDOW)

        async def local_call() -> None:
            await local.acquire()
            local.release()

        print(
            row("B: in-process limiter (the split's per-request cost; baseline)", await timed(local_call, args.takes))
        )
        key = f"bench:{uuid.uuid4().hex}"
        solo = RateBudgets(drivers[0], "neo4j")
        await timed(lambda: solo.take(key, LIMIT, WINDOW), 50)  # warm the pool and the plan cache
        print(row("A: Neo4j budget row, one caller", await timed(lambda: solo.take(key, LIMIT, WINDOW), args.takes)))
        samples, wall = await shared_row(drivers, args.callers, args.takes)
        print(row(f"A: Neo4j budget row, {args.replicas} replicas x {args.callers} callers", samples, wall))
        blocks = await timed(lambda: solo.take(key, LIMIT, WINDOW, want=100), max(1, args.takes // 10))
        print(row("A: Neo4j budget row, blocks of 100 (a 10,000/min token), per request", [b / 100 for b in blocks]))
        leases = DutyLeases(drivers[0], "neo4j")
        owner = uuid.uuid4().hex
        lease_samples = await timed(lambda: leases.claim(f"bench-live:{uuid.uuid4().hex}", owner, 10), 200)
        print(row("B: one lease renewal (per replica and period, not per request)", lease_samples))

        world = generate(GeneratorConfig(seed=5, spaces=1, tasks_per_list=3))
        token = "pk_5550001_RATEBENCH000000000000000000000"
        world.tokens[token] = min(world.users)
        sandbox = Sandbox(world)
        sandbox.limiter.limit = None
        task = sorted(world.tasks)[0]
        with UvicornThread(create_app(sandbox)) as clickup:
            async with httpx.AsyncClient(base_url=f"{clickup.url}/api/v2", headers={"Authorization": token}) as http:

                async def provider_call() -> None:
                    (await http.get(f"/task/{task}")).raise_for_status()

                await timed(provider_call, 20)
                print(row("C: one ClickUp sandbox GET /task on loopback (for scale)", await timed(provider_call, 300)))
    finally:
        for driver in drivers:
            await driver.close()

    print()
    print("Budget use of the split when only some replicas have work (each keeps limit / live replicas):")
    print()
    print("| replicas | busy | split: budget used | Neo4j row: budget used |")
    print("|---:|---:|---:|---:|")
    for replicas in (2, 3, 5):
        for busy in range(1, replicas + 1):
            print(f"| {replicas} | {busy} | {busy / replicas:.0%} | 100% |")


if __name__ == "__main__":
    asyncio.run(main())
