"""Issue 13's acceptance: three server processes on one Neo4j, two of them SIGKILLed mid-run.

Five projects import one ClickUp workspace while a stream of more than a thousand signed webhook
deliveries (some of them twice, shuffled) goes from the sandbox through the real gateway, which
spreads them over the three replicas (round robin). At random points (a seeded ``random.Random``; the
seed is in every failure message, ``REPLICAS_KILL_SEED`` replays one) one replica is SIGKILLed, then
a second. The one left must finish everything:

- every import SUCCEEDED (read over gRPC from the survivor);
- each project's graph equals a fresh single-replica import of the sandbox's final state;
- every distinct delivery is in the inbox exactly once, APPLIED, with one attempt: nothing lost,
  nothing applied twice;
- each webhook's health was read at most once per check interval however many replicas supervised
  it (the sandbox's per-route counts), and the survivor took the duty over;
- no webhook was registered twice (the sandbox's list per workspace: one per project endpoint).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import neo4j
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from devtools.neo4j_local import Connection, LocalNeo4j
from graph.integration_store import IntegrationKey
from graph.webhook_inbox import WebhookInbox
from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.app import create_app
from sandbox.clickup.generator import GeneratorConfig, generate
from sandbox.clickup.state import Fault, Sandbox
from server.live_sync import project_endpoint
from tests.conftest import Tokens, bearer, server_env, start_hub
from tests.integration.importing import TERMINAL, enable_request, export, run_import
from tests.integration.live_helpers import StackFactory
from tests.integration.test_live_sync import clean, mutate, settled
from tests.replicas import START_SECONDS, Replica, serving, start_replica
from tests.support import UvicornThread, free_port, wait_for, wait_until
from webhook_gateway.app import create_app as create_gateway
from webhook_gateway.config import GatewayConfig

pytestmark = pytest.mark.timeout(300)

PROJECTS = 5
DELIVERIES = 1000
CHECK_SECONDS = 2.0  # LIVE_SYNC_CHECK_SECONDS: many intervals within the run
LEASE_SECONDS = 3  # IMPORT_LEASE_SECONDS (imports and claimed events): a dead replica's work moves on soon
SEED = int(os.environ.get("REPLICAS_KILL_SEED") or random.SystemRandom().randrange(1 << 32))


class Run:
    """What happened so far, for failure messages: the seed first, then the kills."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.started = time.monotonic()
        self.events: list[str] = []

    def note(self, what: str) -> None:
        self.events.append(f"{time.monotonic() - self.started:6.1f}s {what}")

    def __str__(self) -> str:
        return f"seed {self.seed} (REPLICAS_KILL_SEED={self.seed} replays it):\n  " + "\n  ".join(self.events)

    __repr__ = __str__  # pytest shows a non-string assertion message by its repr


async def job_of(replica: Replica, admin: str, tenant: tuple[str, str], job_id: str) -> pb.ImportJob:
    job: pb.ImportJob = await replica.stub.GetImportJob(
        pb.GetImportJobRequest(org_id=tenant[0], project_id=tenant[1], job_id=job_id),
        metadata=bearer(admin),
        timeout=10,
    )
    return job


async def events_of(replica: Replica, admin: str, tenant: tuple[str, str]) -> list[pb.WebhookEvent]:
    """Every inbox event of the project, whatever its state, paged through ListWebhookEvents."""
    found: list[pb.WebhookEvent] = []
    token = ""
    while True:
        page = await replica.stub.ListWebhookEvents(
            pb.ListWebhookEventsRequest(org_id=tenant[0], project_id=tenant[1], page_size=100, page_token=token),
            metadata=bearer(admin),
            timeout=10,
        )
        found.extend(page.events)
        token = page.next_page_token
        if not token:
            return found


async def health_reads(client: httpx.AsyncClient, paths: list[str]) -> int:
    """Webhook-health reads the sandbox answered (its admin stats, per route)."""
    calls = (await client.get("/_sandbox/state")).json()["calls"]
    return sum(int(calls.get(path, 0)) for path in paths)


async def stream(client: httpx.AsyncClient, sandbox: Sandbox, rng: random.Random, run: Run) -> int:
    """Mutations in small bursts, their deliveries flushed shuffled (some bursts twice over) while the
    next burst is made; returns how many deliveries were sent."""
    await client.put("/_sandbox/config", json={"hold_deliveries": True})
    sent = 0
    while sent < DELIVERIES:
        await mutate(client, sandbox, rng.randint(3, 8), seed=rng.randrange(1 << 32))
        flushed = await client.post(
            "/_sandbox/webhooks/flush",
            json={"duplicate": rng.choice((1, 1, 2)), "shuffle": True, "seed": rng.randrange(1 << 32), "wait": False},
        )
        sent += int(flushed.json()["flushed"])
        await asyncio.sleep(rng.uniform(0.4, 1.2))  # pacing the producer (about 20 s in all), not a wait
    await client.put("/_sandbox/config", json={"hold_deliveries": False})
    run.note(f"stream: {sent} deliveries queued")
    return sent


@dataclass
class Kills:
    """Two SIGKILLs at random points: the first once the imports have committed a random number of
    pages between them (so it lands inside them on any machine), the second a random time later."""

    servers: list[Replica]
    rng: random.Random
    run: Run
    admin: str
    imports: list[tuple[tuple[str, str], str]]  # (tenant, job id)
    reads: Callable[[], Awaitable[int]]
    first_kill: float = 0.0
    reads_at_first_kill: int = 0

    async def pages(self, replica: Replica) -> int:
        return sum([(await job_of(replica, self.admin, tenant, job_id)).pages for tenant, job_id in self.imports])

    async def __call__(self) -> Replica:
        alive = list(self.servers)
        pages = self.rng.randint(2, 12)
        await wait_for(lambda: self._reached(alive[0], pages), 120, f"{pages} import pages; {self.run}")
        self.first_kill, self.reads_at_first_kill = time.monotonic(), await self.reads()
        await self._kill(alive, 1)
        await asyncio.sleep(self.rng.uniform(1.0, 6.0))  # the second random kill point
        await self._kill(alive, 2)
        return alive[0]

    async def _reached(self, replica: Replica, pages: int) -> bool:
        return await self.pages(replica) >= pages

    async def _kill(self, alive: list[Replica], n: int) -> None:
        victim = alive.pop(self.rng.randrange(len(alive)))
        states = [(await job_of(alive[0], self.admin, t, j)).state for t, j in self.imports]
        self.run.note(
            f"SIGKILL replica {self.servers.index(victim) + 1} ({victim.target}), kill {n} of 2: "
            f"{sum(s not in TERMINAL for s in states)} imports unfinished, "
            f"{await self.pages(alive[0])} pages committed"
        )
        await victim.kill()


@pytest.fixture(scope="module")
def own_neo4j() -> Iterator[Connection]:
    """A Neo4j of this test's own. Its replicas resume orphaned work within seconds (3 s leases, 2 s
    checks), and so does any server that shares a database: the suite's other servers, configured
    with other sandboxes, would otherwise take over this test's orphaned imports (and fail them
    against their sandbox), and these replicas would act on the other tests' leftovers."""
    instance = LocalNeo4j("replicas-kill", free_port(), heap="1g")
    instance.stop()  # one a run that died left behind (on another port) would hold the store's lock
    connection = instance.start()
    try:
        auth = (connection.user, connection.password)
        with (
            neo4j.GraphDatabase.driver(connection.uri, auth=auth) as driver,
            driver.session(database="neo4j") as session,
        ):
            # An earlier run's data: start empty.
            session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS").consume()
        yield connection
    finally:
        instance.stop()


@pytest.fixture
def own_driver(own_neo4j: Connection) -> Iterator[neo4j.Driver]:
    with neo4j.GraphDatabase.driver(own_neo4j.uri, auth=(own_neo4j.user, own_neo4j.password)) as driver:
        yield driver


async def test_three_replicas_two_killed_finish_every_import_and_event_once(
    own_neo4j: Connection,
    tokens: Tokens,
    encryption_keys: str,
    token: str,
    tmp_path: Path,
    own_driver: neo4j.Driver,
) -> None:
    neo4j_connection, neo4j_driver = own_neo4j, own_driver
    run = Run(SEED)
    kill_rng, stream_rng = random.Random(SEED), random.Random(SEED + 1)
    world = generate(GeneratorConfig(seed=61, spaces=2, tasks_per_list=20))
    world.tokens[token] = min(world.users)
    sandbox = Sandbox(world)
    sandbox.limiter.limit = None
    # Slow task pages: each import takes long enough for the kills to land in it.
    sandbox.faults.append(Fault(path=r"/team/\d+/task$", delay_seconds=0.4, times=-1))
    teams = sorted(world.teams)
    org = "org-replicas-kill"
    tenants = [(org, f"kill-{SEED:x}-{n}") for n in range(PROJECTS)]
    fresh = (org, f"kill-{SEED:x}-fresh")
    admin = tokens.admin
    gateway_port = free_port()
    public_url = f"http://127.0.0.1:{gateway_port}/webhooks/clickup"

    with UvicornThread(create_app(sandbox)) as clickup:
        env = server_env(neo4j_connection, tokens, f"{clickup.url}/api/v2", encryption_keys) | {
            "WEBHOOK_WORKER": "on",
            "LIVE_SYNC_CHECK_SECONDS": str(CHECK_SECONDS),
            "IMPORT_LEASE_SECONDS": str(LEASE_SECONDS),
            "WEBHOOK_PUBLIC_URL": public_url,
        }
        servers = [start_replica(env, tmp_path / f"replica-{n}.log") for n in (1, 2, 3)]
        gateway_config = GatewayConfig(
            server_target="ipv4:" + ",".join(server.target for server in servers),
            server_token=tokens.gateway,
            spool_path=tmp_path / "spool.db",
            forward_timeout_seconds=2,
        )
        gateway_app = create_gateway(gateway_config)
        try:
            deadline = time.monotonic() + START_SECONDS
            await asyncio.gather(*(serving(server, deadline) for server in servers))
            run.note("three replicas serving")
            with UvicornThread(gateway_app, gateway_port):
                async with httpx.AsyncClient(base_url=clickup.url, timeout=120) as client:
                    # Auto-sync on for every project, through the replicas in turn: one webhook each.
                    for n, tenant in enumerate(tenants):
                        answer = await servers[n % 3].stub.UpdateIntegration(
                            enable_request(tenant, token, auto_sync=True), metadata=bearer(admin), timeout=30
                        )
                        assert [w.status for w in answer.webhooks] == ["active"] * len(teams), run
                    registrations = PROJECTS * len(teams)
                    paths = [f"GET /api/v2/team/{team}/webhook" for team in teams]
                    window_start, reads_before = time.monotonic(), await health_reads(client, paths)

                    # Five imports (spread over the replicas), the stream and the kills, all at once.
                    jobs = [
                        await servers[n % 3].stub.StartImport(
                            pb.StartImportRequest(org_id=t[0], project_id=t[1], name="clickup"),
                            metadata=bearer(admin),
                            timeout=30,
                        )
                        for n, t in enumerate(tenants)
                    ]
                    run.note(f"imports started: {[job.id for job in jobs]}")
                    kills = Kills(
                        servers,
                        kill_rng,
                        run,
                        admin,
                        [(t, job.id) for t, job in zip(tenants, jobs, strict=True)],
                        lambda: health_reads(client, paths),
                    )
                    sent, survivor = await asyncio.gather(stream(client, sandbox, stream_rng, run), kills())
                    reads_by_survivor_from = await health_reads(client, paths)  # the others are dead by now

                    # 4a. While all three replicas supervised: each webhook's health read once per period.
                    reads = kills.reads_at_first_kill - reads_before
                    elapsed = kills.first_kill - window_start
                    periods = math.ceil(elapsed / CHECK_SECONDS)
                    run.note(f"health reads by three replicas: {reads} in {elapsed:.1f}s ({periods} periods)")
                    assert reads <= registrations * (periods + 1), (
                        f"{reads} health reads of {registrations} webhooks by three replicas in {elapsed:.1f}s: more "
                        f"than one per webhook and {CHECK_SECONDS}s period; {run}"
                    )

                    # 1. Every import SUCCEEDED, as the survivor tells.
                    for tenant, job in zip(tenants, jobs, strict=True):
                        await wait_for(
                            functools.partial(_ended, survivor, admin, tenant, job.id),
                            150,
                            f"import {job.id} of {tenant[1]} to end; {run}",
                        )
                        ended = await job_of(survivor, admin, tenant, job.id)
                        assert ended.state == pb.IMPORT_JOB_STATE_SUCCEEDED, (
                            f"{tenant[1]}: {pb.ImportJobState.Name(ended.state)} {ended.error!r}; {run}\n"
                            f"{survivor.tail()}"
                        )
                    run.note("every import SUCCEEDED")

                    # Every delivery attempted and answered 2xx by the gateway, then handed to a replica.
                    drained = await client.post("/_sandbox/webhooks/flush", json={"wait": True, "timeout": 120})
                    assert drained.status_code == 200, run
                    spool = gateway_app.state.gateway.spool
                    await asyncio.to_thread(wait_until, lambda: spool.depth() == 0, 90, f"the spool to drain; {run}")
                    for tenant in tenants:
                        await asyncio.to_thread(
                            wait_until,
                            functools.partial(settled, neo4j_driver, tenant),
                            120,
                            f"every event of {tenant[1]} applied; {run}",
                        )
                    run.note("every event applied")

                    # 4b. The survivor took the health checks over; no webhook was read twice in a period.
                    await wait_for(
                        lambda: _at_least(client, paths, reads_by_survivor_from + registrations),
                        4 * CHECK_SECONDS + 10,
                        f"the survivor's health checks of every webhook; {run}",
                    )
                    reads = await health_reads(client, paths) - reads_before
                    elapsed = time.monotonic() - window_start
                    periods = math.ceil(elapsed / CHECK_SECONDS)
                    run.note(f"health reads in all: {reads} in {elapsed:.1f}s ({periods} periods of {CHECK_SECONDS}s)")
                    assert reads <= registrations * (periods + 1), (
                        f"{reads} health reads of {registrations} webhooks in {elapsed:.1f}s: more than one per "
                        f"webhook and {CHECK_SECONDS}s period; {run}"
                    )

                deliveries = list(sandbox.hub.log)
                assert len(deliveries) == sent >= DELIVERIES, run
                undelivered = [d for d in deliveries if not d.delivered]
                assert not undelivered, f"{len(undelivered)} deliveries not acknowledged by the gateway; {run}"

                # 3. Every distinct delivery stored once per project, applied once.
                hooks = {h.id: h for h in sandbox.hub.webhooks.values()}
                for tenant in tenants:
                    endpoint = project_endpoint(public_url, IntegrationKey(tenant[0], tenant[1], "clickup"))
                    mine = {hook_id for hook_id, hook in hooks.items() if hook.endpoint == endpoint}
                    bodies = Counter(d.body.decode() for d in deliveries if d.webhook_id in mine)
                    records, _, _ = neo4j_driver.execute_query(
                        "MATCH (e:WebhookEvent {orgId: $o, projectId: $p}) RETURN e.body AS body",
                        o=tenant[0],
                        p=tenant[1],
                    )
                    stored = Counter(str(r["body"]) for r in records)
                    missing, extra = set(bodies) - set(stored), set(stored) - set(bodies)
                    twice = [body for body, n in stored.items() if n > 1]
                    of = f"of {len(bodies)} distinct deliveries to {tenant[1]}"
                    assert not missing, f"{len(missing)} {of} are missing from the inbox; {run}"
                    assert not extra, f"{len(extra)} events in the inbox were never sent ({of}); {run}"
                    assert not twice, f"{len(twice)} {of} are stored twice; {run}"
                    events = await events_of(survivor, admin, tenant)
                    assert len(events) == len(bodies), run
                    states = Counter(pb.WebhookEventState.Name(e.state) for e in events)
                    assert states == {"WEBHOOK_EVENT_STATE_APPLIED": len(bodies)}, f"{tenant[1]}: {states}; {run}"
                    attempts = Counter(e.attempts for e in events)
                    assert attempts == {1: len(bodies)}, (
                        f"{tenant[1]}: events by attempts {dict(attempts)}: each must be applied exactly once; {run}"
                    )
                run.note("every event stored and applied exactly once")

                # 5. One webhook per project endpoint in each workspace, each registered once with us.
                for team in teams:
                    endpoints = Counter(h.endpoint for h in hooks.values() if str(h.team_id) == team)
                    wanted = {project_endpoint(public_url, IntegrationKey(t[0], t[1], "clickup")): 1 for t in tenants}
                    assert endpoints == wanted, f"workspace {team}: webhooks per endpoint {dict(endpoints)}; {run}"
                records, _, _ = neo4j_driver.execute_query(
                    "MATCH (w:WebhookRegistration {integration: 'clickup'}) WHERE w.orgId = $o "
                    "RETURN w.webhookId AS id, w.projectId AS p, w.workspaceId AS ws",
                    o=org,
                )
                assert sorted(r["id"] for r in records) == sorted(hooks), run
                registered = Counter((r["p"], r["ws"]) for r in records)
                assert registered == {(t[1], ws): 1 for t in tenants for ws in teams}, f"{dict(registered)}; {run}"

                # 2. Each project's graph equals a single-replica import of the final state.
                await survivor.stub.UpdateIntegration(enable_request(fresh, token), metadata=bearer(admin), timeout=30)
                reference_job = await survivor.stub.StartImport(
                    pb.StartImportRequest(org_id=fresh[0], project_id=fresh[1], name="clickup"),
                    metadata=bearer(admin),
                    timeout=30,
                )
                await wait_for(
                    lambda: _ended(survivor, admin, fresh, reference_job.id), 120, f"the reference import; {run}"
                )
                reference_state = (await job_of(survivor, admin, fresh, reference_job.id)).state
                assert reference_state == pb.IMPORT_JOB_STATE_SUCCEEDED, run
                reference = clean(export(neo4j_driver, fresh[1]))
                for tenant in tenants:
                    live = clean(export(neo4j_driver, tenant[1]))
                    missing_lines = sorted(set(reference) - set(live))[:5]
                    extra_lines = sorted(set(live) - set(reference))[:5]
                    assert live == reference, (
                        f"{tenant[1]} differs from a fresh import: missing {missing_lines}, extra {extra_lines}; {run}"
                    )
                run.note("every graph equals the fresh import")
                print(f"\n{run}")
        finally:
            alive = [server for server in servers if server.process.poll() is None]
            for tenant in tenants if alive else []:
                with contextlib.suppress(Exception):  # no registration outlives this sandbox
                    await alive[0].stub.UpdateIntegration(
                        enable_request(tenant, token), metadata=bearer(admin), timeout=30
                    )
            for server in servers:
                with contextlib.suppress(Exception):
                    await server.stop()


async def _ended(replica: Replica, admin: str, tenant: tuple[str, str], job_id: str) -> bool:
    return (await job_of(replica, admin, tenant, job_id)).state in TERMINAL


async def _at_least(client: httpx.AsyncClient, paths: list[str], count: int) -> bool:
    return await health_reads(client, paths) >= count


class DeletesAfterFirstPage:
    """The sandbox, deleting its oldest task right after it served the first page of live tasks: what
    a user deleting a task while an import pages through the workspace does."""

    def __init__(self, app: ASGIApp, sandbox: Sandbox) -> None:
        self.app = app
        self.sandbox = sandbox
        self.deleted: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        query = scope.get("query_string", b"").decode() if scope["type"] == "http" else ""
        path = scope.get("path", "")
        if path.endswith("/task") and "page=0" in query and "archived=false" in query and not self.deleted:
            world = self.sandbox.world
            oldest = min((t for t in world.tasks.values() if t.parent is None), key=lambda t: (t.date_created, t.id))
            self.deleted = world.delete_task(oldest.id)
            self.sandbox.touch()


async def test_an_import_misses_no_task_when_an_earlier_one_is_deleted_under_it(
    neo4j_connection: Connection,
    tokens: Tokens,
    encryption_keys: str,
    token: str,
    tenant: tuple[str, str],
    neo4j_driver: neo4j.Driver,
) -> None:
    """Found by the test above: task pages by number shift when a task of an earlier page is deleted
    mid-import, and the task that moved onto the page already read was never imported."""
    world = generate(GeneratorConfig(seed=62, spaces=1, tasks_per_list=30, archived_ratio=0.0))
    world.tokens[token] = min(world.users)
    sandbox = Sandbox(world)
    sandbox.limiter.limit = None
    deleting = DeletesAfterFirstPage(create_app(sandbox), sandbox)
    with UvicornThread(deleting) as clickup:
        hub = await start_hub(server_env(neo4j_connection, tokens, f"{clickup.url}/api/v2", encryption_keys))
        try:
            await hub.stub.UpdateIntegration(enable_request(tenant, token), metadata=bearer(tokens.admin))
            assert (await run_import(hub, tokens.admin, tenant))[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED
        finally:
            await hub.channel.close(None)
            await hub.server.stop(grace=1)
    assert deleting.deleted, "a task was deleted during the import"
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (t:Task {projectId: $p}) WHERE t.stub IS NULL AND NOT t:Tombstone RETURN t.externalId AS id",
        p=tenant[1],
    )
    imported = {r["id"] for r in records}
    live = {t.id for t in world.tasks.values()}
    assert len(live) > 2 * 100, "several pages of tasks"
    assert sorted(live - imported) == [], "tasks that existed throughout the import but were not imported"


async def test_replicas_claiming_the_inbox_at_once_never_share_an_event(neo4j_connection: Connection) -> None:
    """Found by the test above (an event applied twice): three replicas claiming pending events at the
    same moment each got the same ones, since each lease was read before its write lock was taken."""
    auth = (neo4j_connection.user, neo4j_connection.password)
    drivers = [neo4j.AsyncGraphDatabase.driver(neo4j_connection.uri, auth=auth) for _ in range(3)]
    project = f"claim-race-{uuid.uuid4().hex[:8]}"
    try:
        shared: list[str] = []
        for round_ in range(10):
            rows = [
                {
                    "integration": "clickup",
                    "webhook_id": "hook-claim-race",
                    "event": "taskUpdated",
                    "object_id": str(n),
                    "dedupe_key": f"{project}|{round_}|{n}",
                    "body": "{}",
                    "headers": "{}",
                    "received_at": datetime.now(UTC),
                    "org_id": "org-claim-race",
                    "project_id": project,
                }
                for n in range(60)
            ]
            await WebhookInbox(drivers[0], "neo4j").store_many(rows)
            claims = await asyncio.gather(
                *(WebhookInbox(driver, "neo4j").claim(f"replica-{n}", 20, 60) for n, driver in enumerate(drivers))
            )
            ids = Counter(event.id for claim in claims for event in claim)
            shared.extend(event_id for event_id, owners in ids.items() if owners > 1)
            await drivers[0].execute_query(
                "MATCH (e:WebhookEvent {projectId: $p}) SET e.state = 'APPLIED'", p=project, database_="neo4j"
            )
        assert shared == [], f"{len(shared)} events were claimed by two replicas at once"
    finally:
        await drivers[0].execute_query(
            "MATCH (e:WebhookEvent {projectId: $p}) DETACH DELETE e", p=project, database_="neo4j"
        )
        for driver in drivers:
            await driver.close()


async def test_a_moved_task_takes_its_deeper_subtasks_to_the_new_list(
    stacks: StackFactory, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    """Found by the test above: ClickUp sends ``taskMoved`` for the moved task only, and its answer
    lists its direct subtasks only; the grandchildren stayed in the old list in the graph."""
    async with stacks(GeneratorConfig(seed=63, spaces=1, tasks_per_list=6, subtask_ratio=0.7)) as stack:
        await stack.hub.stub.UpdateIntegration(
            enable_request(tenant, stack.token, auto_sync=True), metadata=bearer(tokens.admin)
        )
        assert (await run_import(stack.hub, tokens.admin, tenant))[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED
        world = stack.sandbox.world

        def subtree(task_id: str) -> list[str]:
            return [d for child in world.children_of(task_id) for d in (child.id, *subtree(child.id))]

        moved = next(t for t in world.tasks.values() if t.parent is None and len(subtree(t.id)) > 2)
        deep = [d for child in world.children_of(moved.id) for d in subtree(child.id)]
        assert deep, "the moved task has subtasks of subtasks"
        target = next(
            x
            for x in world.lists.values()
            if x.space_id == world.lists[moved.list_id].space_id and x.id != moved.list_id and not x.archived
        )
        async with httpx.AsyncClient(base_url=stack.sandbox_url, timeout=30) as client:
            answer = await client.post(f"/_sandbox/tasks/{moved.id}/move", json={"list_id": target.id})
            assert answer.status_code == 200, answer.text

        def applied() -> bool:
            records, _, _ = neo4j_driver.execute_query(
                "MATCH (e:WebhookEvent {projectId: $p, event: 'taskMoved', state: 'APPLIED'}) RETURN count(e) AS n",
                p=tenant[1],
            )
            return bool(records[0]["n"] >= 1)

        await asyncio.to_thread(wait_until, applied, 30, "the taskMoved event applied")
        records, _, _ = neo4j_driver.execute_query(
            "MATCH (l:List {projectId: $p})-[:CONTAINS]->(t:Task {projectId: $p}) WHERE t.externalId IN $ids "
            "RETURN t.externalId AS task, l.externalId AS list",
            p=tenant[1],
            ids=[moved.id, *subtree(moved.id)],
        )
        homes = {r["task"]: r["list"] for r in records}
        assert homes == dict.fromkeys([moved.id, *subtree(moved.id)], target.id), "every task of the subtree moved"
        await stack.hub.stub.UpdateIntegration(enable_request(tenant, stack.token), metadata=bearer(tokens.admin))
