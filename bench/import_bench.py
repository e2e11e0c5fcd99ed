"""Import benchmarks: prints figures side by side with baselines measured in the same run.

    .venv/bin/python bench/import_bench.py [--tasks 100000] [--rate-tasks 3000]
    .venv/bin/python bench/import_bench.py --writer-only --writer-runs 5 --baseline-sample 0   # part 3 only

1. API calls of a full import vs the fetch plan's lower bound for that workspace.
2. End-to-end import (sandbox over HTTP -> importer -> writer -> Neo4j, through the gRPC server),
   no rate limit: tasks/s.
3. The writer alone, from memory, in 5,000-task batches: tasks/s with relationships, side by side
   with (a) a per-row MERGE baseline (one transaction per task) and (b) the floor of a bare
   UNWIND ... CREATE of the same task nodes without relationships.
4. Re-import of the unchanged workspace: wall time and properties written (result counters).
5. A 100 req/min run on a small workspace: wall time vs calls/limit and 429s received.

Uses its own Neo4j instance ("bench", port 7699) and loopback servers only. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


import neo4j

from bench.jobs import import_once
from devtools.neo4j_local import Connection, LocalNeo4j
from graph.connection import GraphConfig, open_driver
from graph.migrations import migrate
from graph.rows import Rows
from graph.writer import GraphWriter
from sandbox.clickup import render
from sandbox.clickup.app import create_app
from sandbox.clickup.generator import GeneratorConfig, generate
from sandbox.clickup.model import World
from sandbox.clickup.state import Sandbox
from server.auth import hash_token
from server.crypto import generate_key_spec
from server.integrations.clickup import transform
from server.integrations.clickup.schema import SCHEMA as CLICKUP_SCHEMA
from tests.conftest import start_hub
from tests.integration.importing import enable
from tests.support import UvicornThread

TOKEN = "pk_5550001_BENCHSANDBOX000000000000000000"
ADMIN = "bench-admin-token"


def server_env(connection: Connection) -> dict[str, str]:
    """A server's environment for the import benches: their Neo4j, a new key, the bench's admin token
    and no rate limit (the ceiling of CLICKUP_RATE_LIMIT_PER_MINUTE)."""
    return {
        "NEO4J_URI": connection.uri,
        "NEO4J_USER": connection.user,
        "NEO4J_PASSWORD": connection.password,
        "INTEGRATION_ENCRYPTION_KEYS": generate_key_spec("bench"),
        "INTEGRATIONS_AUTH_TOKENS": json.dumps(
            {
                "tokens": [
                    {
                        "name": "bench",
                        "sha256": hash_token(ADMIN),
                        "scopes": ["integrations:read", "integrations:write"],
                    }
                ]
            }
        ),
        "CLICKUP_RATE_LIMIT_PER_MINUTE": "100000",
    }


def world_of(tasks: int, seed: int = 5) -> World:
    """Sized from a small probe so the workspace holds about ``tasks`` tasks (subtasks included)."""
    config = GeneratorConfig(
        seed=seed,
        spaces=5,
        folders_per_space=3,
        lists_per_folder=4,
        folderless_lists_per_space=1,
        tasks_per_list=20,
        comment_ratio=0.0,
    )
    per_list_unit = len(generate(config).tasks) / 20
    world = generate(replace(config, tasks_per_list=max(1, round(tasks / per_list_unit))))
    world.tokens[TOKEN] = min(world.users)
    return world


def lower_bound(world: World) -> int:
    """The plan's calls: each task page after the first starts at the last task of the one before
    (a cursor on date_created that cannot skip a task), so a page brings 99 new tasks."""
    live = sum(1 for t in world.tasks.values() if not t.archived)
    archived = len(world.tasks) - live
    return 1 + 2 * len(world.teams) + 4 * len(world.spaces) + len(world.folders) + live // 99 + 1 + archived // 99 + 1


def rows_of(world: World) -> list[Rows]:
    team = next(iter(world.teams))
    waiters: dict[str, list[str]] = {}
    for task in world.tasks.values():
        for other in task.depends_on:
            waiters.setdefault(other, []).append(task.id)
    batches, current = [], Rows()
    for task in world.tasks.values():
        current.extend(transform.task(render.task(world, task, waiters=waiters), team))
        if sum(1 for n in current.nodes if n.label == "Task") >= 5000:
            batches.append(current)
            current = Rows()
    batches.append(current)
    return batches


def row(name: str, value: str, baseline: str = "") -> None:
    print(f"  {name:<58} {value:>22}  {baseline}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--rate-tasks", type=int, default=3_000)
    parser.add_argument("--baseline-sample", type=int, default=2_000, help="tasks in the per-row baseline (0: skip)")
    parser.add_argument("--writer-only", action="store_true", help="run only part 3 (the writer alone)")
    parser.add_argument("--writer-runs", type=int, default=1, help="repeat part 3 this many times (medians)")
    args = parser.parse_args()

    instance = LocalNeo4j("bench", 7699, heap="2g")
    connection = instance.start_empty()  # nothing an earlier run left
    env = server_env(connection) | {"INTEGRATIONS_GRPC_ADDRESS": "127.0.0.1:0"}
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, Neo4j Community 5.26 (heap 2g, page cache 256m)"
    )

    build = time.perf_counter()
    world = world_of(args.tasks)
    print(
        f"workspace: {len(world.tasks):,} tasks ({sum(1 for t in world.tasks.values() if t.parent):,} subtasks, "
        f"{sum(1 for t in world.tasks.values() if t.archived):,} archived), {len(world.lists)} lists, "
        f"generated in {time.perf_counter() - build:.1f}s\n"
    )
    if not args.writer_only:
        await end_to_end(world, env)
    await writer_part(connection, world, args.writer_runs, args.baseline_sample)
    if not args.writer_only:
        await rate_limited(args.rate_tasks, env)
    instance.stop()


async def end_to_end(world: World, env: dict[str, str]) -> None:
    """Parts 1, 2 and 4: a full import through the gRPC server, then an unchanged re-import."""
    sandbox = Sandbox(world)
    sandbox.limiter.limit = None
    with UvicornThread(create_app(sandbox)) as server:
        env["CLICKUP_API_URL"] = f"{server.url}/api/v2"
        hub = await start_hub(env)
        try:
            tenant = ("bench", f"bench-{uuid.uuid4().hex[:8]}")
            await enable(hub, TOKEN, ADMIN, tenant)
            first, seconds = await import_once(hub, tenant, "clickup", ADMIN)
            print("1. API calls (full import)")
            row(
                "calls made",
                f"{first.api_calls:,}",
                f"lower bound {lower_bound(world):,} (ratio {first.api_calls / lower_bound(world):.3f})",
            )
            print("2. End-to-end import, no rate limit")
            row("wall time", f"{seconds:.1f} s")
            row("tasks/s", f"{len(world.tasks) / seconds:,.0f}")
            print("4. Re-import of the unchanged workspace")
            again, again_seconds = await import_once(hub, tenant, "clickup", ADMIN)
            row("wall time", f"{again_seconds:.1f} s", f"first import {seconds:.1f} s")
            row(
                "properties written (result counters)",
                f"{again.counters['properties_set']:,}",
                f"first import {first.counters['properties_set']:,}",
            )
            row(
                "relationships created",
                f"{again.counters['relationships_created']:,}",
                f"first import {first.counters['relationships_created']:,}",
            )
        finally:
            await hub.channel.close(None)
            await hub.server.stop(grace=1)


async def rate_limited(rate_tasks: int, env: dict[str, str]) -> None:
    """Part 5: a small workspace under ClickUp's 100 requests/minute."""
    small = world_of(rate_tasks, seed=9)
    sandbox = Sandbox(small)
    sandbox.limiter.limit = 100
    with UvicornThread(create_app(sandbox)) as server:
        env["CLICKUP_API_URL"] = f"{server.url}/api/v2"
        env["CLICKUP_RATE_LIMIT_PER_MINUTE"] = "100"
        hub = await start_hub(env)
        try:
            tenant = ("bench", f"rate-{uuid.uuid4().hex[:8]}")
            await enable(hub, TOKEN, ADMIN, tenant)
            job, seconds = await import_once(hub, tenant, "clickup", ADMIN)
        finally:
            await hub.channel.close(None)
            await hub.server.stop(grace=1)
    calls = job.api_calls + 2  # the connection test of enable() used the same budget: /user and /team
    print(f"5. 100 requests/minute, {len(small.tasks):,}-task workspace")
    row(
        "wall time",
        f"{seconds:.1f} s",
        f"calls/limit = {calls} / 100 per min = {calls * 0.6:.1f} s (ratio {seconds / (calls * 0.6):.2f})",
    )
    row("429s received", f"{sandbox.limiter.rejected}", f"rate-limit waits {job.rate_limit_waits}")


async def writer_part(connection: Connection, world: World, runs: int, baseline_sample: int) -> None:
    """Part 3, ``runs`` times in this run: each run's figures, then the medians."""
    driver = await open_driver(GraphConfig(connection.uri, connection.user, connection.password))
    await migrate(driver, "neo4j")
    batches = rows_of(world)
    figures: list[tuple[float, float, float]] = []
    try:
        for number in range(1, runs + 1):
            rate, per_row_rate, floor_rate, relationships = await writer_once(driver, world, batches, baseline_sample)
            figures.append((rate, floor_rate, rate / floor_rate))
            print(f"3. Writer alone, from memory, 5,000-task batches (run {number} of {runs})")
            row("tasks/s with relationships", f"{rate:,.0f}", f"({relationships:,} relationships)")
            if per_row_rate:
                row(
                    "per-row MERGE baseline (one transaction per task)",
                    f"{per_row_rate:,.0f}",
                    f"writer is {rate / per_row_rate:.1f}x",
                )
            row(
                "floor: bare UNWIND CREATE, no relationships",
                f"{floor_rate:,.0f}",
                f"writer at {rate / floor_rate:.0%} of it",
            )
    finally:
        await driver.close()
    if runs > 1:
        print(f"3. Medians of {runs} runs")
        row("tasks/s with relationships", f"{statistics.median(f[0] for f in figures):,.0f}")
        row("floor: bare UNWIND CREATE, no relationships", f"{statistics.median(f[1] for f in figures):,.0f}")
        row("writer / floor (median of the runs' ratios)", f"{statistics.median(f[2] for f in figures):.0%}")


async def writer_once(
    driver: neo4j.AsyncDriver, world: World, batches: list[Rows], baseline_sample: int
) -> tuple[float, float, float, int]:
    """One run of part 3 into fresh projects, removed afterwards so repeated runs start alike."""
    tasks = sum(1 for b in batches for n in b.nodes if n.label == "Task")
    projects = [f"writer-{uuid.uuid4().hex[:8]}", f"per-row-{uuid.uuid4().hex[:8]}"]
    writer = GraphWriter(driver, "neo4j", "bench", projects[0], CLICKUP_SCHEMA)
    started = time.perf_counter()
    relationships = 0
    for batch in batches:
        relationships += (await writer.write(batch, "bench")).relationships_created
    writer_seconds = time.perf_counter() - started

    # Baseline (a): the same rows, one transaction per task (nodes and their edges).
    per_row_rate = 0.0
    if baseline_sample:
        sample = list(world.tasks.values())[:baseline_sample]
        team = next(iter(world.teams))
        per_row = GraphWriter(driver, "neo4j", "bench", projects[1], CLICKUP_SCHEMA)
        started = time.perf_counter()
        for task in sample:
            await per_row.write(transform.task(render.task(world, task), team), "bench")
        per_row_rate = len(sample) / (time.perf_counter() - started)

    # Baseline (b): the floor, a bare UNWIND CREATE of the same task properties, no relationships.
    props = [n.props | {"externalId": n.external_id} for b in batches for n in b.nodes if n.label == "Task"]
    started = time.perf_counter()
    for start in range(0, len(props), 5000):
        await driver.execute_query(
            "UNWIND $rows AS row CREATE (n:BenchFloor) SET n = row", rows=props[start : start + 5000]
        )
    floor_rate = len(props) / (time.perf_counter() - started)
    async with driver.session(database="neo4j") as session:  # IN TRANSACTIONS needs an auto-commit query
        await (await session.run("MATCH (n:BenchFloor) CALL (n) { DELETE n } IN TRANSACTIONS OF 10000 ROWS")).consume()
        for project in projects:
            await (
                await session.run(
                    "MATCH (n {projectId: $project}) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS",
                    project=project,
                )
            ).consume()
    return tasks / writer_seconds, per_row_rate, floor_rate, relationships


if __name__ == "__main__":
    asyncio.run(main())
