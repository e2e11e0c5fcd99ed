"""Webhook benchmarks on loopback: the gateway and the server run as their own processes.

    .venv/bin/python bench/webhook_bench.py [--deliveries 3000] [--concurrency 32]

A. Verified durable deliveries/s and latency with the server up, driven by wrk (C) when installed,
   beside a baseline: an empty Starlette endpoint on the same uvicorn (the HTTP floor here);
   and how fast the drainer moves them into the Neo4j inbox.
A'. The same with the Python generator (httpx), which competes with the gateway for the cores.
B. About 500 deliveries/s for 10 s (wrk, paced): p50/p99.
C. The same burst as A' with the server down (the edge does not notice), then the drain time.
D. Webhook -> graph: a task renamed in the sandbox until the committed Neo4j write shows it
   (sandbox delivery, gateway, inbox, worker's re-fetch and write included).
Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import grpc
import httpx
import neo4j
from google.protobuf import field_mask_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from devtools.neo4j_local import Connection, LocalNeo4j
from graph.connection import GraphConfig, open_driver
from graph.migrations import migrate
from graph.webhook_inbox import WebhookInbox, WebhookRegistry
from integrations.v1 import integration_service_pb2 as pb
from integrations.v1 import integration_service_pb2_grpc as pb_grpc
from sandbox.clickup.app import create_app
from sandbox.clickup.generator import GeneratorConfig, generate
from sandbox.clickup.state import Sandbox
from server.auth import hash_token
from server.crypto import KeyRing, generate_key_spec
from server.webhooks import WebhookDesk
from tests.support import UvicornThread, free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent
STATIC_SECRET = "bench-static-secret"
SANDBOX_TOKEN = "pk_5550001_WEBHOOKBENCH0000000000000000000"
ADMIN, GATEWAY = "bench-admin", "bench-gateway"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def body_for(webhook_id: str) -> bytes:
    return json.dumps(
        {
            "event": "taskUpdated",
            "history_items": [{"id": uuid.uuid4().hex, "field": "name"}],
            "task_id": "86bench",
            "webhook_id": webhook_id,
        },
        separators=(",", ":"),
    ).encode()


async def send(client: httpx.AsyncClient, secret: str, webhook_id: str) -> tuple[int, float]:
    body = body_for(webhook_id)
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    started = time.perf_counter()
    response = await client.post(
        "/webhooks/clickup", content=body, headers={"Content-Type": "application/json", "X-Signature": signature}
    )
    return response.status_code, time.perf_counter() - started


async def burst(url: str, count: int, concurrency: int, webhook_id: str) -> tuple[float, list[float], set[int]]:
    latencies: list[float] = []
    statuses: set[int] = set()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async with httpx.AsyncClient(base_url=url, timeout=10, limits=httpx.Limits(max_connections=concurrency)) as client:

        async def worker() -> None:
            while not queue.empty():
                queue.get_nowait()
                status, seconds = await send(client, STATIC_SECRET, webhook_id)
                statuses.add(status)
                latencies.append(seconds)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies, statuses


WRK_SCRIPT = """
local bodies = {BODIES}
local signatures = {SIGNATURES}
local threads, counter = {}, 1
function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end
function init(args)
  n = id - 1
end
function request()
  -- each thread walks its own share of the unique bodies: no accidental duplicates
  n = n + THREADS
  local i = (n % #bodies) + 1
  return wrk.format("POST", "/webhooks/clickup",
    {["Content-Type"] = "application/json", ["X-Signature"] = signatures[i]}, bodies[i])
end
function done(summary, latency, requests)
  io.write(string.format('WRK {"requests": %d, "seconds": %.3f, "p50_ms": %.3f, "p99_ms": %.3f, '
    .. '"errors": %d, "non2xx": %d}\\n', summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
"""


def ensure_wrk() -> None:
    """wrk is the load generator for A-C; installed from Debian when missing and we may."""
    if shutil.which("wrk") or os.geteuid() != 0 or not shutil.which("apt-get"):
        return
    print("installing wrk (apt-get) for the load generator")
    subprocess.run(["apt-get", "update", "-qq"], check=False)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "wrk"], check=False, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    )


def wrk_run(
    url: str, seconds: int, connections: int, webhook_id: str, work: Path, rate: int | None = None
) -> dict[str, float]:
    """The fastest loopback load we can make: wrk (C, one thread) with pre-signed unique bodies, so
    the Python generator does not compete with the gateway for the two cores. With ``rate``, each
    connection pauses between requests so that together they send about that many per second."""
    count = 120_000
    threads = 1
    bodies = [body_for(webhook_id) for _ in range(count)]
    signatures = [hmac.new(STATIC_SECRET.encode(), b, hashlib.sha256).hexdigest() for b in bodies]

    def lua_list(items: list[str]) -> str:
        return "{" + ",".join(json.dumps(item) for item in items) + "}"

    script = (
        WRK_SCRIPT.replace("{BODIES}", lua_list([b.decode() for b in bodies]))
        .replace("{SIGNATURES}", lua_list(signatures))
        .replace("THREADS", str(threads))
    )
    if rate is not None:
        script += f"function delay() return {max(0, round(connections * 1000 / rate) - 1)} end\n"
    path = work / "deliveries.lua"
    path.write_text(script)
    result = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(path), url],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(line for line in result.stdout.splitlines() if line.startswith("WRK "))
    figures: dict[str, float] = json.loads(line.removeprefix("WRK "))
    return figures


FLOOR_APP = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def accept(request):
    await request.body()
    return JSONResponse({"status": "accepted"})

uvicorn.run(Starlette(routes=[Route("/webhooks/clickup", accept, methods=["POST"])]),
            host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def http_floor(connections: int, webhook_id: str, work: Path) -> dict[str, float]:
    """Baseline in the same run: an endpoint that reads the body and answers, nothing else."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", FLOOR_APP, str(port)], cwd=ROOT)
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}"), 30, "the baseline app")
        return wrk_run(f"http://127.0.0.1:{port}", 5, connections, webhook_id, work)
    finally:
        process.terminate()
        process.wait(10)


def _answers(url: str) -> bool:
    try:
        return httpx.post(f"{url}/webhooks/clickup", content=b"{}").is_success
    except httpx.HTTPError:
        return False


async def paced(url: str, rate: int, seconds: float, webhook_id: str) -> tuple[list[float], set[int]]:
    latencies: list[float] = []
    statuses: set[int] = set()
    async with httpx.AsyncClient(base_url=url, timeout=10, limits=httpx.Limits(max_connections=200)) as client:

        async def one() -> None:
            status, took = await send(client, STATIC_SECRET, webhook_id)
            statuses.add(status)
            latencies.append(took)

        tasks = []
        started = time.perf_counter()
        for i in range(int(rate * seconds)):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    return latencies, statuses


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "server"], cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), wait_for_ready=True, timeout=60)
    return process


def row(name: str, value: str, note: str = "") -> None:
    print(f"  {name:<52} {value:>18}  {note}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-samples", type=int, default=50)
    parser.add_argument("--parts", default="ABCD", help="which measurements to run, e.g. D")
    args = parser.parse_args()
    work = ROOT / ".run" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    ensure_wrk()
    instance = LocalNeo4j("bench", 7699, heap="2g")
    neo = instance.start()
    keys = generate_key_spec("bench")
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; gateway and server are separate processes\n"
    )

    world = generate(GeneratorConfig(seed=31, spaces=1, tasks_per_list=8))
    world.tokens[SANDBOX_TOKEN] = min(world.users)
    sandbox = Sandbox(world)
    sandbox.limiter.limit = None
    grpc_port, gateway_port = free_port(), free_port()
    tokens = json.dumps(
        {
            "tokens": [
                {"name": "admin", "sha256": hash_token(ADMIN), "scopes": ["integrations:read", "integrations:write"]},
                {"name": "gateway", "sha256": hash_token(GATEWAY), "scopes": ["webhooks:deliver"]},
            ]
        }
    )
    with UvicornThread(create_app(sandbox)) as clickup:
        server_env = {
            **os.environ,
            "NEO4J_URI": neo.uri,
            "NEO4J_USER": neo.user,
            "NEO4J_PASSWORD": neo.password,
            "INTEGRATION_ENCRYPTION_KEYS": keys,
            "INTEGRATIONS_AUTH_TOKENS": tokens,
            "INTEGRATIONS_GRPC_ADDRESS": f"127.0.0.1:{grpc_port}",
            "CLICKUP_API_URL": f"{clickup.url}/api/v2",
            "IMPORT_LEASE_SECONDS": "5",
            # Parts A-C measure the edge and the inbox alone: nothing applies their events.
            "WEBHOOK_WORKER": "off",
            # Part D registers its webhook directly (no auto-sync): the supervisor's reconcile pass
            # would delete it, so it stays out of the measured minutes.
            "LIVE_SYNC_CHECK_SECONDS": "3600",
        }
        server = start_server(server_env, grpc_port, work / "server.log")
        # The server refuses deliveries of webhooks it does not know, so the edge's webhook is registered
        # (to a project of its own; part D clears its events before the worker starts).
        edge_hook = f"bench-{uuid.uuid4().hex[:8]}"
        await register_webhook(neo, keys, edge_hook, ("bench", "edge"), "0")
        gateway_env = {
            **os.environ,
            "GATEWAY_SERVER_TARGET": f"127.0.0.1:{grpc_port}",
            "GATEWAY_SERVER_TOKEN": GATEWAY,
            "GATEWAY_SPOOL_PATH": str(work / f"spool-{uuid.uuid4().hex[:6]}.db"),
            "WEBHOOK_SECRET_CLICKUP": STATIC_SECRET,
        }
        gateway = subprocess.Popen(
            [sys.executable, "-m", "webhook_gateway", "--port", str(gateway_port)],
            cwd=ROOT,
            env=gateway_env,
            stdout=(work / "gateway.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{gateway_port}"
        wait_until(lambda: _ready(url), 30, "the gateway")
        try:
            if "A" in args.parts and shutil.which("wrk"):
                began = time.perf_counter()
                figures = wrk_run(url, 10, args.concurrency, edge_hook, work)
                wait_until(lambda: _depth(url) == 0, 300, "the spool to drain")
                into_inbox = time.perf_counter() - began
                print(f"A. Server up: wrk, 10 s, {args.concurrency} connections, unique signed deliveries")
                row(
                    "verified durable deliveries/s (2xx from the gateway)",
                    f"{figures['requests'] / figures['seconds']:,.0f}",
                    f"non-2xx {figures['non2xx']:.0f}, errors {figures['errors']:.0f}; target >= 2,000",
                )
                row("latency p50 / p99", f"{figures['p50_ms']:.1f} / {figures['p99_ms']:.1f} ms")
                row(
                    "of which stored in the Neo4j inbox, per second",
                    f"{figures['requests'] / into_inbox:,.0f}",
                    f"{figures['requests']:,.0f} deliveries; spool empty {into_inbox - figures['seconds']:.1f} s later",
                )
                floor = http_floor(args.concurrency, edge_hook, work)
                row(
                    "baseline: empty Starlette endpoint, same uvicorn",
                    f"{floor['requests'] / floor['seconds']:,.0f}",
                    f"p50 {floor['p50_ms']:.1f} / p99 {floor['p99_ms']:.1f} ms: the HTTP floor here",
                )
            elif "A" in args.parts:
                print("A. skipped: wrk is not installed (apt-get install wrk); see A' below")
            if "A" in args.parts:
                seconds, latencies, statuses = await burst(url, args.deliveries, args.concurrency, edge_hook)
                print(f"A'. The same with the Python load generator (httpx, shares the cores): {args.deliveries:,}")
                row(
                    "verified durable deliveries/s", f"{args.deliveries / seconds:,.0f}", f"statuses {sorted(statuses)}"
                )
                row(
                    "latency p50 / p99",
                    f"{percentile(latencies, 0.5) * 1000:.1f} / {percentile(latencies, 0.99) * 1000:.1f} ms",
                )
                wait_until(lambda: _depth(url) == 0, 300, "the spool to drain")
            if "B" in args.parts:
                if shutil.which("wrk"):
                    figures = wrk_run(url, 10, 10, edge_hook, work, rate=500)
                    print("B. About 500 deliveries/s for 10 s (wrk, 10 connections, paced)")
                    row("achieved rate", f"{figures['requests'] / figures['seconds']:,.0f}/s")
                    row(
                        "latency p50 / p99",
                        f"{figures['p50_ms']:.1f} / {figures['p99_ms']:.1f} ms",
                        f"non-2xx {figures['non2xx']:.0f}; target p99 < 20 ms",
                    )
                else:
                    paced_latencies, paced_statuses = await paced(url, 500, 5, edge_hook)
                    print("B. 500 deliveries/s for 5 s (httpx generator)")
                    row(
                        "latency p50 / p99",
                        f"{percentile(paced_latencies, 0.5) * 1000:.1f} / "
                        f"{percentile(paced_latencies, 0.99) * 1000:.1f} ms",
                        f"statuses {sorted(paced_statuses)}; target p99 < 20 ms",
                    )
                wait_until(lambda: _depth(url) == 0, 300, "the spool to drain")

            if "C" in args.parts:
                server.send_signal(signal.SIGKILL)
                server.wait(30)
                if shutil.which("wrk"):
                    figures = wrk_run(url, 5, args.concurrency, edge_hook, work)
                    count = figures["requests"]
                    print("C. Server down: wrk, 5 s (the edge does not notice)")
                    row(
                        "durable deliveries/s", f"{count / figures['seconds']:,.0f}", f"non-2xx {figures['non2xx']:.0f}"
                    )
                    row("latency p50 / p99", f"{figures['p50_ms']:.1f} / {figures['p99_ms']:.1f} ms")
                else:
                    seconds, latencies, statuses = await burst(url, args.deliveries, args.concurrency, edge_hook)
                    count = args.deliveries
                    print("C. Server down (httpx generator)")
                    row("durable deliveries/s", f"{count / seconds:,.0f}", f"statuses {sorted(statuses)}")
                    row(
                        "latency p50 / p99",
                        f"{percentile(latencies, 0.5) * 1000:.1f} / {percentile(latencies, 0.99) * 1000:.1f} ms",
                    )
                restarted = time.perf_counter()
                server = start_server(server_env, grpc_port, work / "server2.log")
                serving = time.perf_counter() - restarted
                wait_until(lambda: _depth(url) == 0, 300, "the spool to drain")
                row(
                    "drain after restart",
                    f"{time.perf_counter() - restarted:.1f} s",
                    f"{count:,.0f} deliveries; server serving after {serving:.1f} s, then the gateway's backoff",
                )

            if "D" in args.parts:
                # Every edge delivery into the inbox first, then cleared: none may reach the worker.
                wait_until(lambda: _depth(url) == 0, 300, "the spool to drain")
                server.send_signal(signal.SIGTERM)
                server.wait(30)
                clear_project(neo, "edge")
                server = start_server({**server_env, "WEBHOOK_WORKER": "on"}, grpc_port, work / "server-d.log")
                latencies = await graph_latency(
                    server_env, grpc_port, clickup.url, url, sandbox, neo, keys, args.latency_samples
                )
                print(f"D. Webhook -> graph ({len(latencies)} renames)")
                row(
                    "latency p50 / p95",
                    f"{percentile(latencies, 0.5) * 1000:.0f} / {percentile(latencies, 0.95) * 1000:.0f} ms",
                    "target p95 < 250 ms",
                )
        finally:
            gateway.send_signal(signal.SIGTERM)
            server.send_signal(signal.SIGTERM)
            gateway.wait(30)
            server.wait(30)
    instance.stop()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz").is_success
    except httpx.HTTPError:
        return False


def _depth(url: str) -> int:
    return int(httpx.get(f"{url}/readyz").json()["spool_depth"])


async def register_webhook(neo: Connection, keys: str, webhook_id: str, tenant: tuple[str, str], team: str) -> None:
    """A webhook the server knows, under the gateway's static secret."""
    driver = await open_driver(GraphConfig(neo.uri, neo.user, neo.password))
    try:
        await migrate(driver, "neo4j")
        desk = WebhookDesk(WebhookInbox(driver, "neo4j"), WebhookRegistry(driver, "neo4j"), KeyRing.from_spec(keys))
        await desk.register("clickup", webhook_id, tenant[0], tenant[1], team, STATIC_SECRET)
    finally:
        await driver.close()


def clear_project(neo: Connection, project: str) -> None:
    """Drop a project's inbox events, in batches (CALL IN TRANSACTIONS needs an auto-commit session)."""
    auth = (neo.user, neo.password)
    with neo4j.GraphDatabase.driver(neo.uri, auth=auth) as driver, driver.session(database="neo4j") as session:
        session.run(
            "MATCH (e:WebhookEvent {projectId: $p}) CALL (e) { DETACH DELETE e } IN TRANSACTIONS OF 10000 ROWS",
            p=project,
        ).consume()


async def graph_latency(
    env: dict[str, str],
    grpc_port: int,
    clickup_url: str,
    gateway_url: str,
    sandbox: Sandbox,
    neo: Connection,
    keys: str,
    samples: int,
) -> list[float]:
    org, project = "bench", f"live-{uuid.uuid4().hex[:8]}"
    channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
    stub = pb_grpc.IntegrationServiceStub(channel)
    auth = (("authorization", f"Bearer {ADMIN}"),)
    stub.UpdateIntegration(
        pb.UpdateIntegrationRequest(
            org_id=org,
            project_id=project,
            integration=pb.Integration(
                name="clickup",
                enabled=True,
                settings=pb.IntegrationSettings(auth_method=pb.AUTH_METHOD_API_TOKEN, api_token=SANDBOX_TOKEN),
            ),
            update_mask=field_mask_pb2.FieldMask(paths=["settings", "enabled"]),
        ),
        metadata=auth,
        timeout=30,
    )
    job = stub.StartImport(pb.StartImportRequest(org_id=org, project_id=project, name="clickup"), metadata=auth)
    for _ in stub.WatchImportJob(
        pb.WatchImportJobRequest(org_id=org, project_id=project, job_id=job.id), metadata=auth, timeout=120
    ):
        pass
    channel.close()
    team_id = next(iter(sandbox.world.teams))
    hook = sandbox.hub.create(min(sandbox.world.users), int(team_id), f"{gateway_url}/webhooks/clickup", ["*"])
    hook.secret = STATIC_SECRET  # the gateway runs with this static secret
    await register_webhook(neo, keys, hook.id, (org, project), team_id)
    sync = neo4j.GraphDatabase.driver(env["NEO4J_URI"], auth=(env["NEO4J_USER"], env["NEO4J_PASSWORD"]))
    tasks = [t.id for t in sandbox.world.tasks.values() if t.parent is None][:samples]
    latencies: list[float] = []
    sent_at: list[float] = []
    seen_at: list[float] = []
    async with httpx.AsyncClient(base_url=clickup_url, timeout=30) as admin:
        for number, task_id in enumerate(tasks):
            name = f"renamed {number} {uuid.uuid4().hex[:6]}"
            started = time.perf_counter()
            sent_at.append(time.time())
            await admin.patch(f"/_sandbox/tasks/{task_id}", json={"name": name})

            def written(task_id: str = task_id, name: str = name) -> bool:
                records, _, _ = sync.execute_query(
                    "MATCH (t:Task {projectId: $p, source: 'clickup', externalId: $id}) RETURN t.name AS n",
                    p=project,
                    id=task_id,
                )
                return bool(records) and records[0]["n"] == name

            await asyncio.to_thread(wait_until, written, 30, "the rename in the graph")
            latencies.append(time.perf_counter() - started)
            seen_at.append(time.time())
    records, _, _ = sync.execute_query(
        "MATCH (e:WebhookEvent {projectId: $p}) WHERE e.appliedAt IS NOT NULL "
        "RETURN e.receivedAt.epochMillis AS r, e.storedAt.epochMillis AS s, e.appliedAt.epochMillis AS a "
        "ORDER BY e.receivedAt",
        p=project,
    )
    sync.close()
    stages: dict[str, list[float]] = {
        "mutation -> gateway": [],
        "gateway -> inbox": [],
        "inbox -> applied": [],
        "applied -> seen by poll": [],
    }
    for sent, seen, record in zip(sent_at, seen_at, records, strict=False):
        stages["applied -> seen by poll"].append(seen - record["a"] / 1000)
        stages["mutation -> gateway"].append(record["r"] / 1000 - sent)
        stages["gateway -> inbox"].append((record["s"] - record["r"]) / 1000)
        stages["inbox -> applied"].append((record["a"] - record["s"]) / 1000)
    for stage, values in stages.items():
        if values:
            p50, p95 = percentile(values, 0.5) * 1000, percentile(values, 0.95) * 1000
            print(f"     {stage:<22} p50 {p50:6.0f} ms  p95 {p95:6.0f} ms")
    return latencies


if __name__ == "__main__":
    asyncio.run(main())
