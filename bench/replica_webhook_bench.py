"""Webhook -> graph throughput with 1 and with 3 server replicas on one Neo4j, side by side (issue 13).

    .venv/bin/python bench/replica_webhook_bench.py [--events 600] [--replicas 1,3] [--concurrency 16]

Every piece is its own process, as deployed: Neo4j, one gateway (one uvicorn worker) and N servers
(``python -m server``, webhook worker on). The gateway reaches the N servers through one gRPC
target (``ipv4:127.0.0.1:a,127.0.0.1:b,...``) with round_robin, as ``GATEWAY_SERVER_TARGET`` allows.

One project is imported from the ClickUp sandbox and live sync turned on (auto-sync registers the
project's webhook, with its own secret, at the gateway's URL). Per replica count, M tasks are renamed
in the sandbox with its deliveries held; the held events are then signed exactly as the sandbox
signs them (X-Signature over the raw body with the webhook's secret) and sent to the webhook's
endpoint as fast as the gateway takes them (``--concurrency`` connections). Each event goes: gateway
(verify, spool) -> gRPC batch to one replica -> Neo4j inbox -> a replica's worker claims it, re-reads
the task from the sandbox (REST) and writes it. Throughput is M over the time from the first send
until Neo4j shows every new name (polled every 50 ms: the last ten sent, then all); latencies are
from the send to the event's ``appliedAt`` in the inbox. CPU seconds per process come from ``/proc``
over the same window. ``--sample-neo4j`` also samples ``SHOW TRANSACTIONS`` (what Neo4j is running).

The sandbox runs in this process (a thread), with the load generator and the poller: its re-reads
compete with them for this process's GIL, and all of it for the machine's cores. Its rate limit is
off, so ClickUp's 100 requests/min per token is not what is measured.

Uses its own Neo4j instance ("replbench", port 7811) and loopback servers only. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import grpc
import httpx
import neo4j
from google.protobuf import field_mask_pb2

from bench.cpu import cpu_seconds, machine_busy_seconds
from devtools.neo4j_local import Connection, LocalNeo4j
from integrations.v1 import integration_service_pb2 as pb
from integrations.v1 import integration_service_pb2_grpc as pb_grpc
from sandbox.clickup.app import create_app
from sandbox.clickup.events import compact
from sandbox.clickup.generator import GeneratorConfig, generate
from sandbox.clickup.state import Sandbox
from sandbox.clickup.webhooks import Webhook, sign
from server.auth import hash_token
from server.crypto import generate_key_spec
from tests.replicas import START_SECONDS, Replica, serving
from tests.support import UvicornThread, free_port
from webhook_gateway.drainer import FORWARD_BATCH

ROOT = Path(__file__).resolve().parent.parent
NAME, PORT = "replbench", 7811
ADMIN, GATEWAY = "replbench-admin", "replbench-gateway"
METADATA = (("authorization", f"Bearer {ADMIN}"),)
SANDBOX_TOKEN = "pk_5550001_REPLICABENCH000000000000000000"
TENANT = ("bench-org", f"replicas-{uuid.uuid4().hex[:8]}")
POLL_SECONDS = 0.05
POLL_TAIL = 10
BENCH = "bench (sandbox, load, poll)"  # this process


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass
class Fleet:
    """The processes of one round: N server replicas and the gateway in front of them."""

    replicas: list[Replica] = field(default_factory=list)
    gateway: subprocess.Popen[bytes] | None = None

    def pids(self) -> dict[str, int | None]:
        named: dict[str, int | None] = {f"server {n + 1}": r.process.pid for n, r in enumerate(self.replicas)}
        named["gateway"] = self.gateway.pid if self.gateway is not None else None
        return named

    async def stop(self) -> None:
        if self.gateway is not None and self.gateway.poll() is None:
            self.gateway.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.gateway.wait, 30)
            except subprocess.TimeoutExpired:
                self.gateway.kill()
                await asyncio.to_thread(self.gateway.wait, 30)
        await asyncio.gather(*(r.stop() for r in self.replicas), return_exceptions=True)


def start_server(env: dict[str, str], log_path: Path) -> tuple[Replica, str]:
    """``python -m server`` on a free loopback port, as ``tests.replicas.start_replica`` starts one,
    keeping the address for the gateway's target."""
    address = f"127.0.0.1:{free_port()}"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "server"],
        cwd=ROOT,
        env={**env, "INTEGRATIONS_GRPC_ADDRESS": address, "PATH": os.environ["PATH"]},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    channel = grpc.aio.insecure_channel(address)
    return Replica(process, log_path, log, channel, pb_grpc.IntegrationServiceStub(channel)), address


async def start_fleet(count: int, env: dict[str, str], gateway_port: int, work: Path, fleet: Fleet) -> None:
    """Fills ``fleet`` as it starts, so that whatever started is stopped when a start fails."""
    addresses: list[str] = []
    for n in range(count):
        replica, address = start_server(env, work / f"server-{count}x-{n + 1}.log")
        fleet.replicas.append(replica)
        addresses.append(address)
    deadline = time.monotonic() + START_SECONDS
    await asyncio.gather(*(serving(r, deadline) for r in fleet.replicas))
    log = (work / f"gateway-{count}x.log").open("wb")
    fleet.gateway = subprocess.Popen(
        [sys.executable, "-m", "webhook_gateway", "--port", str(gateway_port)],
        cwd=ROOT,
        env={
            **os.environ,
            # One target naming every replica; the gateway's channel spreads batches round_robin.
            "GATEWAY_SERVER_TARGET": "ipv4:" + ",".join(addresses),
            "GATEWAY_SERVER_TOKEN": GATEWAY,
            "GATEWAY_SPOOL_PATH": str(work / f"spool-{count}x-{uuid.uuid4().hex[:6]}.db"),
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    async with httpx.AsyncClient(timeout=2) as client:
        for _ in range(300):
            if fleet.gateway.poll() is not None:
                raise SystemExit(f"the gateway exited ({fleet.gateway.returncode}); see {work}/gateway-{count}x.log")
            try:
                if (await client.get(f"http://127.0.0.1:{gateway_port}/readyz")).is_success:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("the gateway was not ready within 30 s")


@dataclass
class Round:
    replicas: int
    events: int
    accepted_seconds: float  # first send -> last 2xx from the gateway
    total_seconds: float  # first send -> every new name seen in Neo4j
    latencies: list[float]  # send -> appliedAt, seconds
    to_inbox: list[float]  # gateway received -> stored in the inbox
    in_inbox: list[float]  # stored -> applied (waiting for a worker included)
    per_worker: list[int]  # applied events per replica's worker, largest first
    cpu: dict[str, float]  # CPU seconds per process over the window
    statuses: Counter[int]
    running: Counter[str] = field(default_factory=Counter)  # Neo4j statements seen running, by kind
    samples: int = 0
    others: float = 0.0  # CPU seconds the rest of the machine (other people's tests) used meanwhile
    load: float = 0.0  # 1-minute load average at the end of the round
    provider_requests: int = 0  # ClickUp API requests the sandbox answered during the window
    budget: str = ""  # the shared ClickUp request budget at the end (used/quota in its window)

    @property
    def rate(self) -> float:
        return self.events / self.total_seconds


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=600, help="task renames per replica count (default 600)")
    parser.add_argument("--replicas", default="1,3", help="replica counts to run, in order (default 1,3)")
    parser.add_argument("--concurrency", type=int, default=16, help="connections sending to the gateway")
    parser.add_argument("--warmup", type=int, default=20, help="renames applied before each measured round")
    parser.add_argument(
        "--first-warmup",
        type=int,
        default=None,
        help="renames applied before the first measured round (default: --events): Neo4j's JIT and caches warm "
        "up over the first thousand or so events, which the first row alone would otherwise pay",
    )
    parser.add_argument(
        "--sample-neo4j",
        action="store_true",
        help="sample SHOW TRANSACTIONS every 20 ms during the rounds: which statements Neo4j is running",
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds a round may take to reach the graph")
    args = parser.parse_args()
    counts = [int(part) for part in args.replicas.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise SystemExit("--replicas: a comma-separated list of counts >= 1, e.g. 1,3")

    work = Path(tempfile.mkdtemp(prefix="replbench-"))
    instance = LocalNeo4j(NAME, PORT, heap="1g")
    neo = instance.start()
    try:
        empty(neo)
        await run(args, counts, neo, instance, work)
    finally:
        instance.stop()


async def run(args: argparse.Namespace, counts: list[int], neo: Connection, instance: LocalNeo4j, work: Path) -> None:
    # 2 spaces x 5 lists (one archived hierarchy per workspace): enough live top-level tasks.
    world = generate(GeneratorConfig(seed=13, spaces=2, tasks_per_list=max(12, args.events // 5 + 10)))
    world.tokens[SANDBOX_TOKEN] = min(world.users)
    sandbox = Sandbox(world)
    sandbox.limiter.limit = None  # off: the rounds measure our service, not ClickUp's rate limit
    gateway_port = free_port()
    driver = neo4j.AsyncGraphDatabase.driver(neo.uri, auth=(neo.user, neo.password))
    version = await neo4j_version(driver)
    tokens = json.dumps(
        {
            "tokens": [
                {"name": "admin", "sha256": hash_token(ADMIN), "scopes": ["integrations:read", "integrations:write"]},
                {"name": "gateway", "sha256": hash_token(GATEWAY), "scopes": ["webhooks:deliver"]},
            ]
        }
    )
    print(
        f"machine: {platform.node()}, {os.cpu_count()} CPUs (os.cpu_count()), {platform.platform()}, "
        f"Python {platform.python_version()}; load average at start {os.getloadavg()[0]:.2f}\n"
        f"Neo4j {version} (heap 1g, own instance {NAME!r} on port {PORT})\n"
        f"parameters: --events {args.events} --replicas {args.replicas} --concurrency {args.concurrency} "
        f"--warmup {args.warmup} --first-warmup {args.first_warmup or args.events}; gateway: 1 process, "
        f"forwards spooled batches of <= {FORWARD_BATCH} over one "
        f"round_robin channel; each server: 1 process, its worker claims 20 events at a time and applies them "
        f"one by one\n"
        "assumption: the ClickUp sandbox's rate limit is OFF (ClickUp allows 100 requests/min per token; every "
        "applied event re-reads its task once), so this measures our service, not ClickUp's limit\n"
        "the sandbox (ClickUp's REST re-reads), the load generator and the Neo4j poller share this process\n"
    )
    with UvicornThread(create_app(sandbox)) as clickup:
        env = {
            "NEO4J_URI": neo.uri,
            "NEO4J_USER": neo.user,
            "NEO4J_PASSWORD": neo.password,
            "INTEGRATION_ENCRYPTION_KEYS": generate_key_spec(NAME),
            "INTEGRATIONS_AUTH_TOKENS": tokens,
            "CLICKUP_API_URL": f"{clickup.url}/api/v2",
            "WEBHOOK_WORKER": "on",
            "WEBHOOK_PUBLIC_URL": f"http://127.0.0.1:{gateway_port}",
            # The supervisor's checks stay out of the measured minutes (auto-sync registers at once).
            "LIVE_SYNC_CHECK_SECONDS": "3600",
            "SHUTDOWN_GRACE_SECONDS": "5",
        }
        rounds: list[Round] = []
        hook: Webhook | None = None
        tasks: list[str] = []
        try:
            for count in counts:
                async with AsyncExitStack() as stack:
                    fleet = Fleet()
                    stack.push_async_callback(fleet.stop)
                    await start_fleet(count, env, gateway_port, work, fleet)
                    if hook is None:
                        hook, tasks = await set_up(fleet.replicas[0], sandbox, driver, args.events)
                    rest = await rest_baseline(clickup.url, tasks[:50])
                    warmup = args.warmup if rounds else max(args.warmup, args.first_warmup or args.events)
                    while warmup > 0:  # in passes over the chosen tasks: each pass renames each task once
                        size = min(warmup, len(tasks))
                        await measure(
                            args, count, size, "warm", fleet, sandbox, clickup.url, hook, tasks, driver, instance
                        )
                        warmup -= size
                    result = await measure(
                        args, count, args.events, "bench", fleet, sandbox, clickup.url, hook, tasks, driver, instance
                    )
                    rounds.append(result)
                    report(result, rest)
        finally:
            if hook is not None:  # no registration outlives the sandbox
                sandbox.hub.webhooks.pop(hook.id, None)
            await driver.close()
    print_table(rounds)
    print(f"\nlogs: {work}")


def enable_request(auto_sync: bool) -> pb.UpdateIntegrationRequest:
    """ClickUp on for the bench's project with the sandbox's personal token (the whole settings)."""
    settings = pb.IntegrationSettings(auth_method=pb.AUTH_METHOD_API_TOKEN, api_token=SANDBOX_TOKEN)
    settings.sync_settings.auto_sync = auto_sync
    return pb.UpdateIntegrationRequest(
        org_id=TENANT[0],
        project_id=TENANT[1],
        integration=pb.Integration(name="clickup", enabled=True, settings=settings),
        update_mask=field_mask_pb2.FieldMask(paths=["settings", "enabled"]),
    )


def empty(neo: Connection) -> None:
    """Every run starts from an empty database (the instance is this bench's own; the schema stays),
    so an earlier run's inbox and projects neither slow nor feed this one."""
    with (
        neo4j.GraphDatabase.driver(neo.uri, auth=(neo.user, neo.password)) as driver,
        driver.session(database="neo4j") as session,
    ):
        session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS").consume()


async def neo4j_version(driver: neo4j.AsyncDriver) -> str:
    records, _, _ = await driver.execute_query(
        "CALL dbms.components() YIELD name, versions, edition RETURN versions[0] AS v, edition AS e"
    )
    return f"{records[0]['v']} {str(records[0]['e']).title()}"


async def set_up(
    replica: Replica, sandbox: Sandbox, driver: neo4j.AsyncDriver, events: int
) -> tuple[Webhook, list[str]]:
    """Import the workspace, turn live sync on; the project's webhook and the tasks the rounds rename."""
    stub = replica.stub
    await stub.UpdateIntegration(enable_request(auto_sync=False), metadata=METADATA, timeout=30)
    job = await stub.StartImport(
        pb.StartImportRequest(org_id=TENANT[0], project_id=TENANT[1], name="clickup"), metadata=METADATA
    )
    async for update in stub.WatchImportJob(
        pb.WatchImportJobRequest(org_id=TENANT[0], project_id=TENANT[1], job_id=job.id), metadata=METADATA, timeout=300
    ):
        job = update
    if job.state != pb.IMPORT_JOB_STATE_SUCCEEDED:
        raise SystemExit(f"import failed: {job.error}")
    live = await stub.UpdateIntegration(enable_request(auto_sync=True), metadata=METADATA, timeout=30)
    if [w.status for w in live.webhooks] != ["active"]:
        raise SystemExit(f"auto-sync did not register the webhook: {live.sync_state.last_error}")
    hook = sandbox.hub.webhooks[live.webhooks[0].id]
    records, _, _ = await driver.execute_query(
        "MATCH (t:Task {projectId: $p, source: 'clickup'}) WHERE t.stub IS NULL AND NOT coalesce(t.archived, false) "
        "RETURN t.externalId AS id ORDER BY id",
        p=TENANT[1],
    )
    world = sandbox.world
    tasks = [r["id"] for r in records if r["id"] in world.tasks and world.tasks[r["id"]].parent is None]
    if len(tasks) < events:
        raise SystemExit(f"only {len(tasks)} live top-level tasks in the graph for {events} events")
    print(f"set-up: imported {len(records):,} live tasks; webhook {hook.id} -> {hook.endpoint}\n")
    return hook, tasks[:events]


async def rest_baseline(url: str, tasks: list[str]) -> list[float]:
    """The REST re-read every applied event pays once (GET /task/{id}), on its own."""
    took: list[float] = []
    async with httpx.AsyncClient(base_url=f"{url}/api/v2", headers={"Authorization": SANDBOX_TOKEN}) as api:
        for task_id in tasks:
            began = time.perf_counter()
            (await api.get(f"/task/{task_id}")).raise_for_status()
            took.append(time.perf_counter() - began)
    return took


async def held_deliveries(
    url: str, sandbox: Sandbox, hook: Webhook, renames: dict[str, str]
) -> list[tuple[str, bytes, str]]:
    """Renames the tasks in the sandbox with its deliveries held; (task, body, X-Signature) per event,
    signed as the sandbox (and ClickUp) signs them."""
    sandbox.hub.hold = True
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as admin:
            for task_id, name in renames.items():
                (await admin.patch(f"/_sandbox/tasks/{task_id}", json={"name": name})).raise_for_status()
        held, sandbox.hub.held = sandbox.hub.held, []
    finally:
        sandbox.hub.hold = False
    out: list[tuple[str, bytes, str]] = []
    for held_hook, payload in held:
        if held_hook.id != hook.id or payload["event"] != "taskUpdated":
            continue
        body = compact({**payload, "webhook_id": hook.id})
        out.append((str(payload["task_id"]), body, sign(hook.secret, body)))
    return out


async def measure(
    args: argparse.Namespace,
    count: int,
    events: int,
    tag: str,
    fleet: Fleet,
    sandbox: Sandbox,
    sandbox_url: str,
    hook: Webhook,
    tasks: list[str],
    driver: neo4j.AsyncDriver,
    instance: LocalNeo4j,
) -> Round:
    chosen = tasks[:events]
    marker = f"{tag}-{count}x-{uuid.uuid4().hex[:6]}"
    renames = {task_id: f"{marker} {n}" for n, task_id in enumerate(chosen)}
    deliveries = await held_deliveries(sandbox_url, sandbox, hook, renames)
    if len(deliveries) != events:
        raise SystemExit(f"the sandbox held {len(deliveries)} taskUpdated events for {events} renames")
    sent_wall: dict[str, float] = {}
    statuses: Counter[int] = Counter()
    queue: asyncio.Queue[tuple[str, bytes, str]] = asyncio.Queue()
    for delivery in deliveries:
        queue.put_nowait(delivery)

    async def sender(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            task_id, body, signature = queue.get_nowait()
            sent_wall[task_id] = time.time()
            answer = await client.post(
                hook.endpoint, content=body, headers={"Content-Type": "application/json", "X-Signature": signature}
            )
            statuses[answer.status_code] += 1

    async def visible(ids: list[str]) -> set[str]:
        records, _, _ = await driver.execute_query(
            "UNWIND $rows AS row MATCH (t:Task {projectId: $p, source: 'clickup', externalId: row.id}) "
            "WHERE t.name = row.name RETURN t.externalId AS id",
            rows=[{"id": task_id, "name": renames[task_id]} for task_id in ids],
            p=TENANT[1],
        )
        return {str(r["id"]) for r in records}

    sampler = Sampler(driver) if args.sample_neo4j else None
    sampling = asyncio.create_task(sampler.run()) if sampler is not None else None
    pids = {**fleet.pids(), "Neo4j": instance.pid(), BENCH: os.getpid()}
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    machine_before = machine_busy_seconds()
    requests_before = sandbox.requests
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        await asyncio.gather(*(sender(client) for _ in range(args.concurrency)))
    accepted = time.perf_counter() - started
    deadline = started + args.timeout
    # Workers take the oldest events first, so the last ones sent are about the last applied: the poll
    # watches those (a 600-row lookup every 50 ms would cost Neo4j a third of a core), and checks
    # everything still missing once they are in.
    pending = sorted(sent_wall, key=sent_wall.__getitem__)
    while pending:
        tail = pending[-POLL_TAIL:]
        if len(await visible(tail)) == len(tail):
            seen = await visible(pending)
            pending = [task_id for task_id in pending if task_id not in seen]
            if not pending:
                break
        if time.perf_counter() > deadline:
            raise SystemExit(f"{len(pending)} of {events} renames not in the graph after {args.timeout:.0f} s")
        await asyncio.sleep(POLL_SECONDS)
    total = time.perf_counter() - started
    cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    others = max(0.0, machine_busy_seconds() - machine_before - sum(cpu.values()))
    provider_requests = sandbox.requests - requests_before
    budgets, _, _ = await driver.execute_query(
        "MATCH (b:RateBudget) RETURN b.quota AS quota, b.used AS used ORDER BY b.endsAt DESC LIMIT 1"
    )
    budget = f"{budgets[0]['used']}/{budgets[0]['quota']}" if budgets else "none"
    if sampling is not None:
        sampling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampling
    if set(statuses) - {200, 202, 204}:
        print(f"  warning: gateway answers {dict(statuses)}")
    records, _, _ = await driver.execute_query(
        "MATCH (e:WebhookEvent {projectId: $p, event: 'taskUpdated'}) WHERE e.webhookId = $w "
        "AND e.receivedAt >= datetime({epochMillis: $since}) AND e.appliedAt IS NOT NULL "
        "RETURN e.objectId AS id, e.receivedAt.epochMillis AS r, e.storedAt.epochMillis AS s, "
        "e.appliedAt.epochMillis AS a, e.leaseOwner AS owner",
        p=TENANT[1],
        w=hook.id,
        since=int(min(sent_wall.values()) * 1000) - 1000,
    )
    latencies, to_inbox, in_inbox = [], [], []
    owners: Counter[str] = Counter()
    for record in records:
        sent = sent_wall.get(record["id"])
        if sent is None:
            continue
        latencies.append(record["a"] / 1000 - sent)
        to_inbox.append((record["s"] - record["r"]) / 1000)
        in_inbox.append((record["a"] - record["s"]) / 1000)
        owners[str(record["owner"])] += 1
    return Round(
        count,
        events,
        accepted,
        total,
        latencies,
        to_inbox,
        in_inbox,
        sorted(owners.values(), reverse=True),
        cpu,
        statuses,
        sampler.running if sampler is not None else Counter(),
        sampler.samples if sampler is not None else 0,
        others,
        os.getloadavg()[0],
        provider_requests,
        budget,
    )


def ms(values: list[float], share: float) -> str:
    return f"{percentile(values, share) * 1000:.0f}" if values else "-"


class Sampler:
    """What Neo4j is busy with: ``SHOW TRANSACTIONS`` every 20 ms, running statements counted by their
    first words (a poor man's profiler; Community has no query log)."""

    def __init__(self, driver: neo4j.AsyncDriver) -> None:
        self._driver = driver
        self.running: Counter[str] = Counter()
        self.samples = 0

    async def run(self) -> None:
        while True:
            records, _, _ = await self._driver.execute_query(
                "SHOW TRANSACTIONS YIELD currentQuery, status WHERE currentQuery <> '' "
                "AND NOT currentQuery STARTS WITH 'SHOW TRANSACTIONS' RETURN currentQuery AS q"
            )
            self.samples += 1
            for record in records:
                self.running[" ".join(str(record["q"]).split())[:90]] += 1
            await asyncio.sleep(0.02)


def report(result: Round, rest: list[float]) -> None:
    window = result.total_seconds
    print(f"{result.replicas} replica(s): {result.events} renames")
    print(
        f"  gateway took them all in {result.accepted_seconds:.2f} s ({result.events / result.accepted_seconds:,.0f}/s)"
    )
    print(f"  all in the graph after    {window:.2f} s -> {result.rate:,.1f} events/s applied")
    print(
        f"  send -> applied p50 / p95 {ms(result.latencies, 0.5)} / {ms(result.latencies, 0.95)} ms; "
        f"gateway -> inbox p50 {ms(result.to_inbox, 0.5)} ms; inbox -> applied p50 {ms(result.in_inbox, 0.5)} / "
        f"p95 {ms(result.in_inbox, 0.95)} ms"
    )
    print(f"  applied per replica's worker: {' / '.join(str(n) for n in result.per_worker)}")
    print(
        f"  ClickUp requests: {result.provider_requests} ({result.provider_requests / result.events:.2f} per event); "
        f"shared request budget in Neo4j at the end: {result.budget} (used/quota this window)"
    )
    print(f"  baseline: GET /task/{{id}} alone p50 {statistics.median(rest) * 1000:.1f} ms (every event pays one)")
    print(f"  CPU over the {window:.1f} s window (seconds, and share of one core):")
    for name, seconds in result.cpu.items():
        print(f"    {name:<30} {seconds:6.2f} s  {seconds / window * 100:5.0f} %")
    busy = sum(result.cpu.values())
    print(f"    {'all of these':<30} {busy:6.2f} s  {busy / window * 100:5.0f} % of {os.cpu_count()} cores x 100 %")
    per_event = busy / result.events * 1000
    parts = " / ".join(f"{v / result.events * 1000:.1f}" for v in grouped(result))
    print(
        f"    per event: {per_event:.1f} ms of CPU ({parts}"
        f" ms gateway / servers / Neo4j / bench): a ceiling of {(os.cpu_count() or 1) * 1000 / per_event:,.0f} "
        "events/s on these cores if nothing else ran and nothing waited"
    )
    print(
        f"    {'other processes on the machine':<30} {result.others:6.2f} s  {result.others / window * 100:5.0f} %"
        f"   (load average {result.load:.1f} at the end)"
    )
    if result.samples:
        print(f"  Neo4j statements running, share of {result.samples} samples (SHOW TRANSACTIONS):")
        for query, seen in result.running.most_common(8):
            print(f"    {seen / result.samples * 100:5.0f} %  {query}")
    print()


def grouped(result: Round) -> tuple[float, float, float, float]:
    """CPU seconds of the gateway, all servers, Neo4j and this process."""
    servers = sum(v for k, v in result.cpu.items() if k.startswith("server"))
    return result.cpu["gateway"], servers, result.cpu["Neo4j"], result.cpu[BENCH]


def print_table(rounds: list[Round]) -> None:
    """One markdown row per round, for the README; the first round is the baseline of the ratio."""
    if not rounds:
        return
    base = rounds[0].rate
    capacity = os.cpu_count() or 1
    print(
        "| replicas | events | gateway 2xx/s | applied events/s | vs first row | send→applied p50 / p95 | "
        "CPU ms per event: gateway / servers / Neo4j / bench | cores busy: ours / others |"
    )
    print("|---:|---:|---:|---:|---:|---:|---|---|")
    for r in rounds:
        ours = sum(r.cpu.values()) / r.total_seconds
        per_event = " / ".join(f"{v / r.events * 1000:.1f}" for v in grouped(r))
        print(
            f"| {r.replicas} | {r.events} | {r.events / r.accepted_seconds:,.0f} | {r.rate:,.1f} | "
            f"{r.rate / base:.2f}x | {ms(r.latencies, 0.5)} / {ms(r.latencies, 0.95)} ms | {per_event} | "
            f"{ours:.2f} / {r.others / r.total_seconds:.2f} of {capacity} |"
        )


if __name__ == "__main__":
    asyncio.run(main())
