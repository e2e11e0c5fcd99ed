"""Deleting an integration's data for a project: 100,000 tasks, in batches, beside one transaction.

    .venv/bin/python bench/delete_bench.py [--tasks 100000] [--batch 1000]

A workspace of about ``--tasks`` ClickUp tasks (with their lists, folders, spaces, people, tags and
relationships) is written through the graph writer into a project, next to a small neighbour
project. Then:
A. ``graph/erase.py`` removes it in batches of ``--batch`` nodes (what DisableIntegration with
   DATA_POLICY_DELETE runs): wall time, batches, the largest transaction (nodes + relationships),
   and this process's peak RSS growth while deleting (the eraser holds no rows).
B. Baseline, same run: the same data written again and removed by one ``DETACH DELETE`` in one
   transaction, the thing batches avoid (its size is the whole project).
The neighbour project is counted before and after: untouched. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import resource
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import neo4j

from bench.import_bench import rows_of, world_of
from devtools.neo4j_local import LocalNeo4j
from graph.connection import GraphConfig, open_driver
from graph.erase import GraphEraser
from graph.migrations import migrate
from graph.schema_keys import ensure_keys
from graph.writer import GraphWriter
from sandbox.clickup.generator import GeneratorConfig, generate
from server.integrations.clickup.schema import SCHEMA

ORG = "bench"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def count(driver: neo4j.AsyncDriver, project: str) -> tuple[int, int]:
    records, _, _ = await driver.execute_query(
        "MATCH (n {projectId: $p, source: 'clickup'}) OPTIONAL MATCH (n)-[r]-() "
        "RETURN count(DISTINCT n) AS nodes, count(DISTINCT r) AS rels",
        p=project,
        routing_=neo4j.RoutingControl.READ,
    )
    return int(records[0]["nodes"]), int(records[0]["rels"])


async def write(driver: neo4j.AsyncDriver, project: str, batches: list[object]) -> float:
    writer = GraphWriter(driver, "neo4j", ORG, project, SCHEMA)
    started = time.perf_counter()
    for rows in batches:
        await writer.write(rows, "bench")  # type: ignore[arg-type]
    return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()

    connection = LocalNeo4j("delbench", 7841, heap="2g").start_empty()
    driver = await open_driver(GraphConfig(connection.uri, connection.user, connection.password))
    try:
        await migrate(driver, "neo4j")
        await ensure_keys(driver, "neo4j", SCHEMA)
        world = world_of(args.tasks)
        batches: list[object] = list(rows_of(world))
        neighbour_world = generate(GeneratorConfig(seed=3, spaces=1, tasks_per_list=5))
        neighbour_rows: list[object] = list(rows_of(neighbour_world))
        project, neighbour = f"del-{uuid.uuid4().hex[:8]}", f"keep-{uuid.uuid4().hex[:8]}"
        print(f"# machine: {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}")
        print(f"# Neo4j on {connection.uri} (heap 2g); {len(world.tasks):,} tasks; batch {args.batch} nodes")
        wrote = await write(driver, project, batches)
        await write(driver, neighbour, neighbour_rows)
        nodes, rels = await count(driver, project)
        kept_before = await count(driver, neighbour)
        print(f"# written in {wrote:.1f}s: {nodes:,} nodes, {rels:,} relationships")

        eraser = GraphEraser(driver, "neo4j")
        rss_before = peak_rss_mib()
        started = time.perf_counter()
        steps = largest = removed = 0
        while True:
            batch = await eraser.erase_batch(ORG, project, SCHEMA, args.batch)
            if batch.done:
                break
            steps += 1
            removed += batch.nodes
            largest = max(largest, batch.nodes + batch.relationships)
        batched = time.perf_counter() - started
        rss_growth = peak_rss_mib() - rss_before
        left = await count(driver, project)
        kept_after = await count(driver, neighbour)

        await write(driver, project, batches)
        started = time.perf_counter()
        error = ""
        try:
            await driver.execute_query(
                "MATCH (n {projectId: $p, source: 'clickup'}) DETACH DELETE n",
                p=project,
                routing_=neo4j.RoutingControl.WRITE,
            )
        except neo4j.exceptions.Neo4jError as exc:
            error = f" (failed: {exc.code})"
        single = time.perf_counter() - started

        print()
        print("| deleting the project's ClickUp data | wall time | transactions | largest transaction | note |")
        print("|---|---:|---:|---:|---|")
        print(
            f"| A. batches of {args.batch} nodes (DisableIntegration, DELETE) | {batched:.1f} s | {steps:,} | "
            f"{largest:,} nodes + relationships | {removed:,} nodes removed, {left[0]} left; "
            f"this process's peak RSS grew {rss_growth:.0f} MiB |"
        )
        print(
            f"| B. baseline: one DETACH DELETE | {single:.1f} s{error} | 1 | {nodes + rels:,} nodes + relationships | "
            "the whole project in one transaction |"
        )
        print()
        verdict = "untouched" if kept_before == kept_after else "CHANGED"
        print(f"neighbour project (nodes, relationships): {kept_before} before, {kept_after} after: {verdict}")
    finally:
        await driver.close()


if __name__ == "__main__":
    asyncio.run(main())
