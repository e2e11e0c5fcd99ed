"""Jira webhook -> graph latency: signed admin-webhook deliveries through the real gateway.

    .venv/bin/python bench/jira_webhook_bench.py [--renames 200] [--issues 2000]

A generated site is imported, auto-sync registers its admin webhook (the gateway's public URL), then
issues are renamed one after another through the sandbox's mutation route at a steady pace. Each
rename is delivered at once (``X-Hub-Signature``, identifier, flow headers) to the gateway, spooled,
forwarded over gRPC, stored in the inbox and applied by re-reading the issue through REST. Latency
is from the sandbox's rename (its 200) to the first poll that sees the new name in Neo4j (polled
every 5 ms), so it includes the sandbox's delivery queue. By default each rename waits for the last
to be in the graph (as ``webhook_bench.py`` part D does for ClickUp); ``--pace`` sends at a fixed rate
instead, which shows the backlog once renames come faster than one replica applies them. The baseline
from the same run: the plain REST round trip of the re-read (GET /issue/{id}), which every applied event pays once.

Uses its own Neo4j instance ("jirawebhook", port 7799) and loopback servers only. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import neo4j
from google.protobuf import field_mask_pb2

from devtools.neo4j_local import Connection, LocalNeo4j
from integrations.v1 import integration_service_pb2 as pb
from sandbox.jira.app import create_app
from sandbox.jira.generator import MAIN_EMAIL, MAIN_TOKEN, GeneratorConfig, generate
from sandbox.jira.state import Sandbox
from server.auth import hash_token
from server.crypto import generate_key_spec
from tests.conftest import RunningHub, start_hub
from tests.support import UvicornThread, free_port
from webhook_gateway.app import create_app as create_gateway
from webhook_gateway.config import GatewayConfig

ADMIN, GATEWAY = "jira-webhook-bench-admin", "jira-webhook-bench-gateway"
METADATA = (("authorization", f"Bearer {ADMIN}"),)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def row(name: str, value: str, baseline: str = "") -> None:
    print(f"  {name:<40} {value:>18}  {baseline}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--renames", type=int, default=200)
    parser.add_argument("--issues", type=int, default=2000)
    parser.add_argument(
        "--pace",
        type=float,
        default=0.0,
        help="seconds between renames; 0 (default): each rename waits for the last to reach the graph, as "
        "webhook_bench.py part D does for ClickUp",
    )
    args = parser.parse_args()
    instance = LocalNeo4j("jirawebhook", 7799, heap="1g")
    connection = instance.start_empty()  # nothing an earlier run left
    gateway_port = free_port()
    env = {
        "INTEGRATIONS_GRPC_ADDRESS": "127.0.0.1:0",
        "NEO4J_URI": connection.uri,
        "NEO4J_USER": connection.user,
        "NEO4J_PASSWORD": connection.password,
        "INTEGRATION_ENCRYPTION_KEYS": generate_key_spec("jirawebhook"),
        "INTEGRATIONS_AUTH_TOKENS": json.dumps(
            {
                "tokens": [
                    {
                        "name": "bench",
                        "sha256": hash_token(ADMIN),
                        "scopes": ["integrations:read", "integrations:write"],
                    },
                    {"name": "gateway", "sha256": hash_token(GATEWAY), "scopes": ["webhooks:deliver"]},
                ]
            }
        ),
        "WEBHOOK_WORKER": "on",
        "LIVE_SYNC_CHECK_SECONDS": "3600",
        "WEBHOOK_PUBLIC_URL": f"http://127.0.0.1:{gateway_port}",
    }
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, Neo4j Community 5.26 (heap 1g); sandbox, gateway and server in this process"
    )
    per_project = max(1, args.issues // 5)
    sandbox = Sandbox(generate(GeneratorConfig(seed=4, projects=5, issues_per_project=per_project)))
    sandbox.limiter.capacity = None
    try:
        with tempfile.TemporaryDirectory() as spool, UvicornThread(create_app(sandbox)) as jira:
            hub = await start_hub(env)
            config = GatewayConfig(server_target=hub.target, server_token=GATEWAY, spool_path=Path(spool) / "s.db")
            try:
                with UvicornThread(create_gateway(config), gateway_port):
                    await measure(hub, sandbox, jira.url, connection, args)
            finally:
                await hub.channel.close(None)
                await hub.server.stop(grace=1)
    finally:
        instance.stop()


async def measure(
    hub: RunningHub, sandbox: Sandbox, url: str, connection: Connection, args: argparse.Namespace
) -> None:
    tenant = ("bench-org", f"bench-{uuid.uuid4().hex[:8]}")
    settings = pb.IntegrationSettings(auth_method=pb.AUTH_METHOD_API_TOKEN, api_token=MAIN_TOKEN)
    settings.options.update({"site_url": url, "email": MAIN_EMAIL})
    request = pb.UpdateIntegrationRequest(
        org_id=tenant[0],
        project_id=tenant[1],
        integration=pb.Integration(name="jira", enabled=True, settings=settings),
        update_mask=field_mask_pb2.FieldMask(paths=["settings", "enabled"]),
    )
    await hub.stub.UpdateIntegration(request, metadata=METADATA)
    job = await hub.stub.StartImport(
        pb.StartImportRequest(org_id=tenant[0], project_id=tenant[1], name="jira"), metadata=METADATA
    )
    async for update in hub.stub.WatchImportJob(
        pb.WatchImportJobRequest(org_id=tenant[0], project_id=tenant[1], job_id=job.id), metadata=METADATA
    ):
        job = update
    if job.state != pb.IMPORT_JOB_STATE_SUCCEEDED:
        raise SystemExit(f"import failed: {job.error}")
    request.integration.settings.sync_settings.auto_sync = True  # the request holds its own copy
    enabled = await hub.stub.UpdateIntegration(request, metadata=METADATA)
    if [w.status for w in enabled.webhooks] != ["active"]:
        raise SystemExit(f"auto-sync did not register the webhook: {enabled.sync_state.last_error}")

    site = sandbox.site
    main = site.api_tokens[MAIN_TOKEN]
    issues = [i.id for i in site.issues.values() if site.can_browse(main, site.projects[i.project_id])]
    chosen = issues[: args.renames]
    arrived = {issue_id: asyncio.Event() for issue_id in chosen}  # set by the poller when the graph has it
    sent: dict[str, float] = {}
    sent_wall: dict[str, float] = {}
    seen: dict[str, float] = {}
    driver = neo4j.AsyncGraphDatabase.driver(connection.uri, auth=(connection.user, connection.password))

    async def poll() -> None:
        while len(seen) < len(chosen):
            records, _, _ = await driver.execute_query(
                "UNWIND $ids AS id MATCH (i:Issue {projectId: $p, externalId: id}) "
                "WHERE i.name STARTS WITH 'Bench rename ' RETURN i.externalId AS id",
                ids=[i for i in sent if i not in seen],
                p=tenant[1],
            )
            now = time.perf_counter()
            for record in records:
                seen.setdefault(record["id"], now)
                arrived[record["id"]].set()
            await asyncio.sleep(0.005)

    rest: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as api:
        auth = httpx.BasicAuth(MAIN_EMAIL, MAIN_TOKEN)
        for issue_id in chosen[:50]:
            began = time.perf_counter()
            (await api.get(f"/rest/api/3/issue/{issue_id}", auth=auth)).raise_for_status()
            rest.append(time.perf_counter() - began)
        poller = asyncio.create_task(poll())
        started = time.perf_counter()
        for n, issue_id in enumerate(chosen):
            answer = await api.patch(f"/_sandbox/issues/{issue_id}", json={"summary": f"Bench rename {n}"})
            answer.raise_for_status()
            sent[issue_id] = time.perf_counter()
            sent_wall[issue_id] = time.time()
            if args.pace > 0:
                await asyncio.sleep(args.pace)
                continue
            await asyncio.wait_for(arrived[issue_id].wait(), 60)
        try:
            await asyncio.wait_for(poller, timeout=120)
        except TimeoutError:
            print(f"  {len(chosen) - len(seen)} renames not in the graph after 120 s")
        total = time.perf_counter() - started
    stages = await breakdown(driver, tenant, sent_wall)
    await driver.close()
    latencies = [seen[i] - sent[i] for i in chosen if i in seen]
    pace = f"one every {args.pace}s" if args.pace > 0 else "one at a time"
    print(f"Jira webhook -> graph, {len(latencies)} renames of {len(issues):,} imported issues, {pace}")
    row("latency p50", f"{percentile(latencies, 0.5) * 1000:.0f} ms", "target p95 < 250 ms (ClickUp's)")
    row("latency p95", f"{percentile(latencies, 0.95) * 1000:.0f} ms")
    row("latency max", f"{max(latencies) * 1000:.0f} ms")
    row("baseline: GET /issue/{id} p50", f"{statistics.median(rest) * 1000:.1f} ms", "the re-read each event pays")
    row("wall time for all renames", f"{total:.1f} s")
    print("  where the time goes (per delivery, from Neo4j's WebhookEvent times):")
    for stage, values in stages.items():
        if values:
            p50, p95 = percentile(values, 0.5) * 1000, percentile(values, 0.95) * 1000
            row(f"  {stage}", f"p50 {p50:.0f} / p95 {p95:.0f} ms")


async def breakdown(
    driver: neo4j.AsyncDriver, tenant: tuple[str, str], sent_wall: dict[str, float]
) -> dict[str, list[float]]:
    """rename -> gateway received (sandbox queue + HTTP), -> stored in the inbox, -> applied."""
    records, _, _ = await driver.execute_query(
        "MATCH (e:WebhookEvent {orgId: $o, projectId: $p}) WHERE e.event = 'jira:issue_updated' "
        "RETURN e.objectId AS id, e.receivedAt AS received, e.storedAt AS stored, e.appliedAt AS applied",
        o=tenant[0],
        p=tenant[1],
    )
    stages: dict[str, list[float]] = {"rename -> gateway": [], "gateway -> inbox": [], "inbox -> applied": []}
    for record in records:
        sent = sent_wall.get(record["id"])
        if sent is None or record["applied"] is None:
            continue
        received, stored, applied = (record[k].to_native().timestamp() for k in ("received", "stored", "applied"))
        stages["rename -> gateway"].append(received - sent)
        stages["gateway -> inbox"].append(stored - received)
        stages["inbox -> applied"].append(applied - stored)
    return stages


if __name__ == "__main__":
    asyncio.run(main())
