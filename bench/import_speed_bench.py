"""Import speed targets: each figure printed beside its baseline, both measured in this one run.

    .venv/bin/python bench/import_speed_bench.py                        # 10,000 and 100,000 tasks
    .venv/bin/python bench/import_speed_bench.py --sizes 3000,10000     # a quick check

Per size: a generated ClickUp sandbox workspace served from this process, and the server as a process
of its own (``python -m server``, as tests/integration/test_import_resume.py starts it) so that its peak
RSS (``VmHWM``) is the server's alone. Then, in this order:

A. FULL import through the gRPC server, no rate limit: tasks/s.
B. Unchanged re-import (FULL again): wall time beside A's.
C. 1% of the tasks renamed through the sandbox admin API, then an INCREMENTAL import: its ``api_calls``
   (and the sandbox's own count of answered calls, task pages apart) beside hierarchy calls (counted
   as ``bench.import_bench.lower_bound`` counts them) + ceil(changed / 100).
   The server's peak RSS is read after A and after C, and the server is stopped.
D. Fetch-only: every task page of the workspace through the real ``ClickUpClient``, with the
   importer's parameters and cursor, each task transformed, nothing written: tasks/s. It runs in a
   child process, as the importer runs in the server's process, apart from the sandbox.
E. Writer-only: ``bench.import_bench.writer_once``, the writer alone from memory in 5,000-task
   batches into a fresh project (and the bare UNWIND CREATE floor beside it): tasks/s. As a
   diagnostic (not a target's baseline) the writer alone once more at the importer's page size.

Each phase prints the CPU seconds it cost per process (server, Neo4j, this process with the sandbox's
thread, the fetch-only child, everything else on the machine). Small imports run first as a warm-up
(``--warm-up-rounds``), so the first size does not pay alone for a cold Neo4j.

Then the targets table in Markdown: measured value, target, MET or MISSED. Timings are wall time on a
machine that may be shared: the load average is printed with each size. Uses its own Neo4j instance
("speedbench", port 7861, started on an empty store) and loopback servers only. Not a test: nothing
here asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import resource
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import grpc
import httpx
import neo4j
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.cpu import cpu_seconds, machine_busy_seconds
from bench.import_bench import ADMIN, TOKEN, lower_bound, rows_of, world_of, writer_once
from bench.import_bench import server_env as bench_server_env
from devtools.neo4j_local import Connection, LocalNeo4j
from graph.connection import GraphConfig, open_driver
from graph.migrations import migrate
from graph.rows import Rows
from graph.writer import GraphWriter
from integrations.v1 import integration_service_pb2 as pb
from integrations.v1 import integration_service_pb2_grpc as pb_grpc
from sandbox.clickup import render
from sandbox.clickup.app import create_app
from sandbox.clickup.model import World
from sandbox.clickup.state import Sandbox
from server.integrations.clickup import transform
from server.integrations.clickup.client import ClickUpClient, items_of
from server.integrations.clickup.importer import INCREMENTAL_OVERLAP, PAGE_SIZE, _next_page, task_page_params
from server.integrations.clickup.rate_limit import RateLimiter
from server.integrations.clickup.schema import SCHEMA as CLICKUP_SCHEMA
from server.integrations.credentials import ApiToken
from tests.integration.importing import enable_request
from tests.support import UvicornThread, free_port

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).resolve()
NAME, PORT = "speedbench", 7861
METADATA = (("authorization", f"Bearer {ADMIN}"),)
RATE_LIMIT = 100_000  # per minute: the server's ceiling (CLICKUP_RATE_LIMIT_PER_MINUTE), i.e. none here
START_SECONDS = 60.0

# The targets (the brief's table).
INCREMENTAL_SLACK = 1.05  # api calls <= 1.05 x (hierarchy calls + ceil(changed / 100))
END_TO_END_SHARE = 0.9  # end-to-end rate >= 0.9 x min(fetch-only rate, writer-only rate)
REIMPORT_SPEEDUP = 3.0  # unchanged re-import >= 3x faster than the first import
RSS_GROWTH = 1.3  # the largest size's server peak RSS <= 1.3 x the smallest size's
SANDBOX_BOUND = 0.6  # this process's CPU seconds per wall second above which a phase is flagged


# ---------------------------------------------------------------- processes


def proc_status(pid: int) -> dict[str, int]:
    """The kB figures of ``/proc/<pid>/status`` (VmHWM: peak resident set, VmRSS: now)."""
    figures: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        parts = value.split()
        if len(parts) == 2 and parts[1] == "kB":
            figures[key] = int(parts[0])
    return figures


@dataclass
class CpuMeter:
    """CPU seconds per process over a phase: the named pids, this process (the sandbox's thread and
    the bench's loop), its reaped children (the fetch-only child) and the rest of the machine."""

    pids: dict[str, int]
    last: dict[str, float] = field(default_factory=dict)  # what the latest ``since`` measured

    def snapshot(self) -> dict[str, float]:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        snap = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        snap["bench+sandbox"] = sum(os.times()[:2])
        snap["child"] = children.ru_utime + children.ru_stime
        snap["machine"] = machine_busy_seconds()
        return snap

    def since(self, before: dict[str, float], wall: float | None = None) -> str:
        """CPU seconds per process since ``before``; with the phase's ``wall`` seconds, how busy the
        whole machine was (100%: every core all the time, so nothing could overlap any further)."""
        now = self.snapshot()
        spent = {name: now[name] - before[name] for name in now}
        self.last = dict(spent)
        machine = spent.pop("machine")
        others = machine - sum(spent.values())
        parts = [f"{name} {seconds:.1f}" for name, seconds in spent.items() if seconds >= 0.05 or name != "child"]
        busy = f"; machine {machine / ((os.cpu_count() or 1) * wall):.0%} busy" if wall else ""
        return "CPU s: " + ", ".join([*parts, f"other processes {max(0.0, others):.1f}"]) + busy


def sandbox_check(meter: CpuMeter, wall: float) -> None:
    """The sandbox serves from one thread of this process: when it was busy most of a phase, that
    phase's rate is the sandbox's as much as the importer's."""
    share = meter.last.get("bench+sandbox", 0.0) / wall
    if share >= SANDBOX_BOUND:
        print(
            f"  ! this process (the sandbox) was busy {share:.0%} of the wall time: the figure above measures "
            "the sandbox as much as the importer"
        )


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it is still there after 30 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def server_env(connection: Connection, api_url: str, port: int) -> dict[str, str]:
    """``bench.import_bench.server_env`` as a process of its own: its port, the sandbox's URL."""
    return bench_server_env(connection) | {
        "PATH": os.environ["PATH"],
        "INTEGRATIONS_GRPC_ADDRESS": f"127.0.0.1:{port}",
        "CLICKUP_API_URL": api_url,
        "CLICKUP_RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT),
        "CLICKUP_TIMEOUT_SECONDS": "60",  # a 100,000-task workspace's first page sorts it (sandbox side)
        "SHUTDOWN_GRACE_SECONDS": "5",
        "WEBHOOK_WORKER": "off",
        "LIVE_SYNC_CHECK_SECONDS": "3600",
    }


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    channel: grpc.aio.Channel
    stub: pb_grpc.IntegrationServiceAsyncStub
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    async def close(self) -> None:
        await self.channel.close(None)
        await asyncio.to_thread(stop_process, self.process)


@contextlib.asynccontextmanager
async def server_process(env: dict[str, str], log: Path) -> AsyncIterator[Server]:
    """``python -m server`` until the block ends (however it ends)."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "server"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    channel = grpc.aio.insecure_channel(env["INTEGRATIONS_GRPC_ADDRESS"])
    server = Server(process, channel, pb_grpc.IntegrationServiceStub(channel), log)
    try:
        health = health_pb2_grpc.HealthStub(channel)
        deadline = time.monotonic() + START_SECONDS
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the server exited ({process.returncode}); see {log}")
            try:
                await health.Check(health_pb2.HealthCheckRequest(), wait_for_ready=True, timeout=1)
                break
            except grpc.aio.AioRpcError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"the server did not answer within {START_SECONDS:.0f} s; see {log}") from None
        yield server
    finally:
        await server.close()


async def run_import(
    stub: pb_grpc.IntegrationServiceAsyncStub, tenant: tuple[str, str], mode: pb.ImportMode.ValueType
) -> tuple[pb.ImportJob, float]:
    """bench.jobs.import_once with a mode: the final job and the wall time, start to end."""
    started = time.perf_counter()
    job = await stub.StartImport(
        pb.StartImportRequest(org_id=tenant[0], project_id=tenant[1], name="clickup", mode=mode), metadata=METADATA
    )
    final = job
    async for update in stub.WatchImportJob(
        pb.WatchImportJobRequest(org_id=tenant[0], project_id=tenant[1], job_id=job.id), metadata=METADATA
    ):
        final = update
    if final.state != pb.IMPORT_JOB_STATE_SUCCEEDED:
        raise SystemExit(f"import failed: {final.error}")
    return final, time.perf_counter() - started


# ---------------------------------------------------------------- fetch-only (a child process)


async def fetch_only(api_url: str) -> dict[str, float]:
    """Every task page of every workspace, as ``ClickUpImport._task_pages`` of a full run asks for them
    (same parameters, same cursor, duplicates skipped), each task transformed into rows; no writes."""
    limiter = RateLimiter(limit=RATE_LIMIT)
    async with ClickUpClient(ApiToken(TOKEN), base_url=api_url, timeout=60, limiter=limiter) as client:
        teams = items_of(await client.get("/team"), "teams", "/team")
        started = time.perf_counter()
        calls_before = client.stats.api_calls
        tasks = 0
        for team in teams:
            team_id = str(team.get("id"))
            path = f"/team/{team_id}/task"
            produced: set[str] = set()
            for archived in (False, True):
                page, after = 0, None
                while True:
                    params = task_page_params(page, after, archived, None)
                    items = items_of(await client.get(path, params), "tasks", path)
                    rows = Rows()
                    for item in items:
                        task_id = str(item.get("id"))
                        if task_id in produced:
                            continue
                        produced.add(task_id)
                        rows.extend(transform.task(item, team_id))
                    tasks += sum(1 for n in rows.nodes if n.label == "Task")
                    page, after = _next_page(page, after, items)
                    if len(items) < PAGE_SIZE:
                        break
        seconds = time.perf_counter() - started
        return {"tasks": tasks, "seconds": seconds, "calls": client.stats.api_calls - calls_before}


async def fetch_only_in_child(api_url: str) -> dict[str, float]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), "--fetch-worker", api_url, cwd=ROOT, stdout=subprocess.PIPE
    )
    try:
        out, _ = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    if process.returncode != 0:
        raise SystemExit(f"the fetch-only child failed ({process.returncode})")
    result: dict[str, float] = json.loads(out.decode().strip().splitlines()[-1])
    return result


# ---------------------------------------------------------------- one size


@dataclass
class Figures:
    tasks: int
    full_seconds: float = 0.0
    reimport_seconds: float = 0.0
    reimport_nodes_written: int = 0
    changed: int = 0
    listed: int = 0  # what date_updated_gt lists: the changed tasks and the overlap's
    incremental_calls: int = 0  # the job's api_calls
    incremental_seconds: float = 0.0
    sandbox_calls: Counter[str] = field(default_factory=Counter)
    hierarchy_bound: int = 0
    fetch_rate: float = 0.0
    writer_rate: float = 0.0
    floor_rate: float = 0.0
    page_writer_rate: float = 0.0  # diagnostic: the writer at the importer's page size
    rss_idle_kb: int = 0
    rss_after_full_kb: int = 0
    rss_peak_kb: int = 0

    @property
    def full_rate(self) -> float:
        return self.tasks / self.full_seconds

    @property
    def task_pages(self) -> int:
        return sum(
            n for key, n in self.sandbox_calls.items() if key.startswith("GET /api/v2/team/") and key.endswith("/task")
        )

    @property
    def incremental_target(self) -> float:
        return INCREMENTAL_SLACK * (self.hierarchy_bound + math.ceil(self.changed / 100))


def row(name: str, value: str, baseline: str = "") -> None:
    print(f"  {name:<50} {value:>20}  {baseline}")


def hierarchy_calls(world: World) -> int:
    """``lower_bound``'s calls less its task pages: /team, spaces (both archived values) per workspace,
    folders and folderless lists (both values) per space, archived lists per folder."""
    live = sum(1 for t in world.tasks.values() if not t.archived)
    archived = len(world.tasks) - live
    return lower_bound(world) - (live // 99 + 1 + archived // 99 + 1)


async def watermarks(stub: pb_grpc.IntegrationServiceAsyncStub, tenant: tuple[str, str]) -> dict[str, int]:
    found = await stub.GetIntegration(
        pb.GetIntegrationRequest(org_id=tenant[0], project_id=tenant[1], name="clickup"), metadata=METADATA
    )
    return {ws: mark.ToMilliseconds() for ws, mark in found.sync_state.workspace_watermarks.items()}


async def rename(url: str, world: World, share: float, seed: int) -> list[str]:
    """Renames ``share`` of the tasks (at least one), chosen at random, through the admin API."""
    count = max(1, round(share * len(world.tasks)))
    chosen = random.Random(seed).sample(sorted(world.tasks), count)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        for number, task_id in enumerate(chosen):
            answer = await client.patch(f"/_sandbox/tasks/{task_id}", json={"name": f"Renamed by the bench {number}"})
            if answer.status_code != 200:
                raise SystemExit(f"the sandbox refused a rename: {answer.status_code} {answer.text}")
    return chosen


async def remove_project(driver: neo4j.AsyncDriver, project: str) -> None:
    async with driver.session(database="neo4j") as session:  # IN TRANSACTIONS needs an auto-commit query
        await (
            await session.run(
                "MATCH (n {projectId: $project}) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS",
                project=project,
            )
        ).consume()


def task_batches(world: World, per_batch: int) -> list[Rows]:
    """``bench.import_bench.rows_of`` at another batch size: the world's tasks rendered and transformed,
    ``per_batch`` tasks to a batch."""
    team = next(iter(world.teams))
    waiters: dict[str, list[str]] = {}
    for task in world.tasks.values():
        for other in task.depends_on:
            waiters.setdefault(other, []).append(task.id)
    batches, current, count = [], Rows(), 0
    for task in world.tasks.values():
        current.extend(transform.task(render.task(world, task, waiters=waiters), team))
        count += 1
        if count == per_batch:
            batches.append(current)
            current, count = Rows(), 0
    batches.append(current)
    return batches


async def writer_pages(driver: neo4j.AsyncDriver, tasks: int, batches: list[Rows]) -> float:
    """The writer alone at the importer's page size (one ``write`` per page), into a fresh project
    removed afterwards: tasks/s."""
    project = f"pages-{uuid.uuid4().hex[:8]}"
    writer = GraphWriter(driver, "neo4j", "bench", project, CLICKUP_SCHEMA)
    started = time.perf_counter()
    for batch in batches:
        await writer.write(batch, "bench")
    seconds = time.perf_counter() - started
    await remove_project(driver, project)
    return tasks / seconds


async def one_size(
    size: int, connection: Connection, driver: neo4j.AsyncDriver, neo4j_pid: int, args: argparse.Namespace
) -> Figures:
    build = time.perf_counter()
    world = world_of(size)
    figures = Figures(tasks=len(world.tasks), hierarchy_bound=hierarchy_calls(world))
    print(
        f"\n## {len(world.tasks):,} tasks ({sum(1 for t in world.tasks.values() if t.parent):,} subtasks, "
        f"{sum(1 for t in world.tasks.values() if t.archived):,} archived), {len(world.teams)} workspace(s), "
        f"{len(world.spaces)} spaces, {len(world.folders)} folders, {len(world.lists)} lists; "
        f"generated in {time.perf_counter() - build:.1f} s; load average {os.getloadavg()[0]:.2f}"
    )
    sandbox = Sandbox(world)
    sandbox.limiter.limit = None
    tenant = ("bench", f"speed-{size}-{uuid.uuid4().hex[:8]}")
    work = ROOT / ".run" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    try:
        with UvicornThread(create_app(sandbox)) as clickup:
            api_url = f"{clickup.url}/api/v2"
            env = server_env(connection, api_url, free_port())
            async with server_process(env, work / f"speed-server-{size}.log") as server:
                meter = CpuMeter({"server": server.pid, "Neo4j": neo4j_pid})
                await server.stub.UpdateIntegration(enable_request(tenant, TOKEN), metadata=METADATA)
                figures.rss_idle_kb = proc_status(server.pid)["VmRSS"]

                cpu = meter.snapshot()
                first, figures.full_seconds = await run_import(server.stub, tenant, pb.IMPORT_MODE_FULL)
                figures.rss_after_full_kb = proc_status(server.pid)["VmHWM"]
                print("A. Full import, no rate limit (server in its own process)")
                row("wall time", f"{figures.full_seconds:.1f} s", meter.since(cpu, figures.full_seconds))
                row("tasks/s", f"{figures.full_rate:,.0f}", f"api calls {first.api_calls:,}, pages {first.pages:,}")
                sandbox_check(meter, figures.full_seconds)

                cpu = meter.snapshot()
                again, figures.reimport_seconds = await run_import(server.stub, tenant, pb.IMPORT_MODE_FULL)
                figures.reimport_nodes_written = again.counters["nodes_written"]
                print("B. Unchanged re-import (full)")
                row("wall time", f"{figures.reimport_seconds:.1f} s", meter.since(cpu, figures.reimport_seconds))
                sandbox_check(meter, figures.reimport_seconds)
                row(
                    "speed-up over the first import",
                    f"{figures.full_seconds / figures.reimport_seconds:.2f}x",
                    f"target >= {REIMPORT_SPEEDUP:.0f}x",
                )
                row(
                    "nodes written / properties set",
                    f"{again.counters['nodes_written']:,} / {again.counters['properties_set']:,}",
                    f"first import {first.counters['nodes_written']:,} / {first.counters['properties_set']:,}",
                )

                marks = await watermarks(server.stub, tenant)
                renamed = await rename(clickup.url, world, args.changed_share, seed=size)
                figures.changed = len(renamed)
                overlap_ms = INCREMENTAL_OVERLAP.total_seconds() * 1000
                figures.listed = sum(
                    1
                    for t in world.tasks.values()
                    if t.date_updated > marks.get(world.team_of_task(t).id, 0) - overlap_ms
                )
                sandbox.calls.clear()
                cpu = meter.snapshot()
                incremental, figures.incremental_seconds = await run_import(
                    server.stub, tenant, pb.IMPORT_MODE_INCREMENTAL
                )
                figures.sandbox_calls = Counter(sandbox.calls)
                figures.incremental_calls = incremental.api_calls
                figures.rss_peak_kb = proc_status(server.pid)["VmHWM"]
                answered = sum(figures.sandbox_calls.values())
                print(f"C. Incremental import after {figures.changed:,} tasks renamed ({args.changed_share:.0%})")
                row("wall time", f"{figures.incremental_seconds:.1f} s", meter.since(cpu, figures.incremental_seconds))
                row(
                    "api calls (the job's)",
                    f"{figures.incremental_calls:,}",
                    f"target <= {INCREMENTAL_SLACK} x ({figures.hierarchy_bound} hierarchy + "
                    f"{math.ceil(figures.changed / 100)} pages) = {figures.incremental_target:.1f}",
                )
                row(
                    "calls the sandbox answered: hierarchy + task pages",
                    f"{answered - figures.task_pages} + {figures.task_pages}",
                    f"tasks listed as changed {figures.listed:,} (renamed + the {INCREMENTAL_OVERLAP} overlap's), "
                    f"read {incremental.counters['task']:,}",
                )
                row("nodes written", f"{incremental.counters['nodes_written']:,}")
                print("   Server memory")
                row("RSS idle (after start and enable)", f"{figures.rss_idle_kb / 1024:,.0f} MiB")
                row("peak RSS (VmHWM) after the full import", f"{figures.rss_after_full_kb / 1024:,.0f} MiB")
                row("peak RSS (VmHWM) after A, B and C", f"{figures.rss_peak_kb / 1024:,.0f} MiB")

            meter = CpuMeter({"Neo4j": neo4j_pid})
            cpu, child_started = meter.snapshot(), time.perf_counter()
            fetched = await fetch_only_in_child(api_url)
            child_seconds = time.perf_counter() - child_started
            figures.fetch_rate = fetched["tasks"] / fetched["seconds"]
            print("D. Fetch-only: task pages through ClickUpClient + transform, no writes (child process)")
            row(
                "tasks/s",
                f"{figures.fetch_rate:,.0f}",
                f"{int(fetched['tasks']):,} tasks in {fetched['seconds']:.1f} s, {int(fetched['calls']):,} calls",
            )
            row("the child, start-up included", f"{child_seconds:.1f} s", meter.since(cpu, child_seconds))
            sandbox_check(meter, child_seconds)

        batches = rows_of(world)
        cpu = meter.snapshot()
        figures.writer_rate, _, figures.floor_rate, relationships = await writer_once(driver, world, batches, 0)
        del batches  # a 100,000-task world's rows: let them go before the page-size copy is built
        print("E. Writer-only, from memory, 5,000-task batches (bench.import_bench.writer_once)")
        row("tasks/s", f"{figures.writer_rate:,.0f}", f"{relationships:,} relationships")
        row("floor: bare UNWIND CREATE, no relationships", f"{figures.floor_rate:,.0f}", meter.since(cpu))
        if not args.skip_page_writer:
            figures.page_writer_rate = await writer_pages(driver, len(world.tasks), task_batches(world, PAGE_SIZE))
            row(
                f"diagnostic: the writer at the importer's page ({PAGE_SIZE})",
                f"{figures.page_writer_rate:,.0f}",
                "one write per page, no checkpoints",
            )

        floor = END_TO_END_SHARE * min(figures.fetch_rate, figures.writer_rate)
        print("   End-to-end vs the slower half")
        row(
            "full import tasks/s",
            f"{figures.full_rate:,.0f}",
            f"target >= {END_TO_END_SHARE} x min({figures.fetch_rate:,.0f}, {figures.writer_rate:,.0f}) = {floor:,.0f}"
            f" -> {verdict(figures.full_rate >= floor)}",
        )
        serial = 1 / (1 / figures.fetch_rate + 1 / figures.writer_rate)
        row(
            "diagnostic: fetch, then write, no overlap",
            f"{serial:,.0f}",
            "1 / (1/fetch-only + 1/writer-only): the rate of a pipeline that overlaps nothing",
        )
        print(f"   load average now {os.getloadavg()[0]:.2f}")
    finally:
        await remove_project(driver, tenant[1])
    return figures


async def warm_up(tasks: int, rounds: int, connection: Connection, driver: neo4j.AsyncDriver) -> None:
    """Small imports (each a full one and an unchanged re-import) through a server process, then the
    writer alone as often. A freshly started Neo4j costs several times the CPU per task until its
    query plans are compiled and hot (measured: ~20 s of Neo4j CPU for a first 3,000-task import, ~3 s
    for the third), so without this the first size's end-to-end figure pays for what E's do not."""
    started = time.perf_counter()
    world = world_of(tasks, seed=7)
    sandbox = Sandbox(world)
    sandbox.limiter.limit = None
    projects: list[str] = []
    try:
        with UvicornThread(create_app(sandbox)) as clickup:
            env = server_env(connection, f"{clickup.url}/api/v2", free_port())
            async with server_process(env, ROOT / ".run" / "bench" / "speed-server-warm-up.log") as server:
                for _ in range(rounds):
                    tenant = ("bench", f"warm-up-{uuid.uuid4().hex[:8]}")
                    projects.append(tenant[1])
                    await server.stub.UpdateIntegration(enable_request(tenant, TOKEN), metadata=METADATA)
                    await run_import(server.stub, tenant, pb.IMPORT_MODE_FULL)
                    await run_import(server.stub, tenant, pb.IMPORT_MODE_FULL)
        batches = task_batches(world, PAGE_SIZE)
        for _ in range(rounds):
            await writer_pages(driver, len(world.tasks), batches)
    finally:
        for project in projects:
            await remove_project(driver, project)
    print(
        f"warm-up: {rounds} x (a {len(world.tasks):,}-task import, its re-import, a writer pass), "
        f"{time.perf_counter() - started:.1f} s"
    )


# ---------------------------------------------------------------- the table


def verdict(met: bool) -> str:
    return "MET" if met else "MISSED"


def table(results: list[Figures]) -> None:
    print("\n| figure | measured | target | |")
    print("|---|---|---|---|")
    for f in results:
        print(
            f"| incremental sync after {f.changed:,} of {f.tasks:,} tasks changed: API calls | "
            f"{f.incremental_calls:,} | <= {INCREMENTAL_SLACK} x ({f.hierarchy_bound} + "
            f"{math.ceil(f.changed / 100)}) = {f.incremental_target:.1f} | "
            f"{verdict(f.incremental_calls <= f.incremental_target)} |"
        )
    for f in results:
        floor = END_TO_END_SHARE * min(f.fetch_rate, f.writer_rate)
        print(
            f"| end-to-end full import of {f.tasks:,} tasks, no rate limit | {f.full_rate:,.0f} tasks/s | "
            f">= {END_TO_END_SHARE} x min(fetch-only {f.fetch_rate:,.0f}, writer-only {f.writer_rate:,.0f}) "
            f"= {floor:,.0f} tasks/s | {verdict(f.full_rate >= floor)} |"
        )
    for f in results:
        speedup = f.full_seconds / f.reimport_seconds
        print(
            f"| unchanged re-import of {f.tasks:,} tasks, no rate limit | {f.reimport_seconds:.1f} s vs "
            f"{f.full_seconds:.1f} s: {speedup:.2f}x faster | >= {REIMPORT_SPEEDUP:.0f}x faster | "
            f"{verdict(speedup >= REIMPORT_SPEEDUP)} |"
        )
    if len(results) > 1:
        small, large = min(results, key=lambda f: f.tasks), max(results, key=lambda f: f.tasks)
        ratio = large.rss_peak_kb / small.rss_peak_kb
        print(
            f"| server peak RSS (VmHWM over A, B, C), import of {small.tasks:,} vs {large.tasks:,} tasks | "
            f"{small.rss_peak_kb / 1024:,.0f} vs {large.rss_peak_kb / 1024:,.0f} MiB: {ratio:.2f}x | "
            f"<= {RSS_GROWTH} x | {verdict(ratio <= RSS_GROWTH)} |"
        )


# ---------------------------------------------------------------- main


@contextlib.contextmanager
def neo4j_instance() -> Iterator[tuple[Connection, int]]:
    """The bench's own Neo4j, started on an empty store (``LocalNeo4j.start_empty``), and its pid;
    stopped at the end."""
    instance = LocalNeo4j(NAME, PORT, heap="2g")
    try:
        connection = instance.start_empty()
        pid = instance.pid()
        if pid is None:
            raise SystemExit("Neo4j answers but has no pid file")
        yield connection, pid
    finally:
        instance.stop()


async def neo4j_version(driver: neo4j.AsyncDriver) -> str:
    records, _, _ = await driver.execute_query("CALL dbms.components() YIELD name, versions, edition RETURN *")
    return ", ".join(f"{r['name']} {r['edition'].title()} {'/'.join(r['versions'])}" for r in records)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000", help="workspace sizes in tasks, comma-separated")
    parser.add_argument("--changed-share", type=float, default=0.01, help="share of the tasks the sandbox renames")
    parser.add_argument("--warm-up-tasks", type=int, default=3000, help="tasks of the warm-up imports")
    parser.add_argument("--warm-up-rounds", type=int, default=2, help="warm-up imports (0: no warm-up)")
    parser.add_argument("--skip-page-writer", action="store_true", help="leave out the page-size writer diagnostic")
    parser.add_argument("--fetch-worker", metavar="API_URL", help=argparse.SUPPRESS)  # part D's child process
    args = parser.parse_args()
    if args.fetch_worker:
        print(json.dumps(await fetch_only(args.fetch_worker)))
        return
    main_task, loop = asyncio.current_task(), asyncio.get_running_loop()
    if main_task is not None:  # SIGTERM / SIGINT: unwind, so every server, child and Neo4j is stopped
        for stop in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(stop, main_task.cancel)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    started = time.perf_counter()
    results: list[Figures] = []
    with neo4j_instance() as (connection, neo4j_pid):
        driver = await open_driver(GraphConfig(connection.uri, connection.user, connection.password))
        try:
            await migrate(driver, "neo4j")
            machine = (
                f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python "
                f"{platform.python_version()}, {await neo4j_version(driver)} (heap 2g, page cache 256m)"
            )
            print(machine)
            if args.warm_up_rounds:
                await warm_up(args.warm_up_tasks, args.warm_up_rounds, connection, driver)
            for size in sizes:
                results.append(await one_size(size, connection, driver, neo4j_pid, args))
        finally:
            await driver.close()
    print(f"\n{machine}; load average {os.getloadavg()[0]:.2f}; whole run {time.perf_counter() - started:.0f} s")
    table(results)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except asyncio.CancelledError:
        sys.exit("stopped by a signal; servers, children and Neo4j were stopped")
