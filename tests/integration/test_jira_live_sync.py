"""Jira live sync end to end: auto-sync registers a signed admin webhook in the Jira sandbox, 200
random mutations are delivered through the real gateway twice each and shuffled, and the graph ends
equal to a fresh import of the same site. Then the webhook's health, a gap repair with the silent
kinds (components, labels) reconciled, and the webhook removed when auto-sync is turned off."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import neo4j
import pytest
from google.protobuf import field_mask_pb2

from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from sandbox.jira.app import create_app
from sandbox.jira.generator import MAIN_EMAIL, MAIN_TOKEN, GeneratorConfig, generate
from sandbox.jira.state import Sandbox
from tests.conftest import RunningHub, Tokens, bearer, server_env, start_hub
from tests.integration.importing import VOLATILE, watch
from tests.integration.test_live_sync import settled
from tests.support import UvicornThread, free_port, wait_until
from webhook_gateway.app import create_app as create_gateway
from webhook_gateway.config import GatewayConfig


@dataclass
class Stack:
    sandbox: Sandbox
    url: str
    hub: RunningHub


@contextlib.asynccontextmanager
async def jira_stack(
    connection: Connection, tokens: Tokens, keys: str, tmp_path: Path, config: GeneratorConfig
) -> AsyncIterator[Stack]:
    """A Jira sandbox of ``config``, a server applying events, and the real gateway in front of it."""
    sandbox = Sandbox(generate(config))
    gateway_port = free_port()
    with UvicornThread(create_app(sandbox)) as jira:
        env = server_env(connection, tokens, "http://127.0.0.1:9/api/v2", keys) | {
            "WEBHOOK_WORKER": "on",
            "LIVE_SYNC_CHECK_SECONDS": "3600",
            "WEBHOOK_PUBLIC_URL": f"http://127.0.0.1:{gateway_port}",
        }
        hub = await start_hub(env)
        gateway = GatewayConfig(server_target=hub.target, server_token=tokens.gateway, spool_path=tmp_path / "s.db")
        try:
            with UvicornThread(create_gateway(gateway), gateway_port):
                yield Stack(sandbox, jira.url, hub)
        finally:
            await hub.channel.close(None)
            await hub.server.stop(grace=1)


@pytest.fixture
async def stack(
    neo4j_connection: Connection, tokens: Tokens, encryption_keys: str, tmp_path: Path
) -> AsyncIterator[Stack]:
    config = GeneratorConfig(seed=21, projects=2, issues_per_project=15)
    async with jira_stack(neo4j_connection, tokens, encryption_keys, tmp_path, config) as running:
        yield running


def jira_update(tenant: tuple[str, str], url: str, *, auto_sync: bool) -> pb.UpdateIntegrationRequest:
    settings = pb.IntegrationSettings(auth_method=pb.AUTH_METHOD_API_TOKEN, api_token=MAIN_TOKEN)
    settings.options.update({"site_url": url, "email": MAIN_EMAIL, "include_comments": True})
    settings.sync_settings.auto_sync = auto_sync
    return pb.UpdateIntegrationRequest(
        org_id=tenant[0],
        project_id=tenant[1],
        integration=pb.Integration(name="jira", enabled=True, settings=settings),
        update_mask=field_mask_pb2.FieldMask(paths=["settings", "enabled"]),
    )


async def full_import(hub: RunningHub, admin: str, tenant: tuple[str, str]) -> pb.ImportJob:
    job = await hub.stub.StartImport(
        pb.StartImportRequest(org_id=tenant[0], project_id=tenant[1], name="jira"), metadata=bearer(admin)
    )
    return (await watch(hub, admin, tenant, job.id))[-1]


def export(driver: neo4j.Driver, project_id: str) -> list[str]:
    """Jira's nodes and relationships, without what differs per run and tenant (importing.VOLATILE)."""
    volatile = VOLATILE | {"sourceUpdatedAt"}  # not volatile in truth: kept below through updatedAt
    nodes, _, _ = driver.execute_query(
        "MATCH (n {projectId: $p, source: 'jira'}) WHERE NOT n:Tombstone RETURN n", p=project_id
    )
    lines = [
        f"N {sorted(r['n'].labels)} {sorted((k, str(v)) for k, v in dict(r['n']).items() if k not in volatile)}"
        for r in nodes
    ]
    rels, _, _ = driver.execute_query(
        "MATCH (a {projectId: $p, source: 'jira'})-[r]->(b {projectId: $p, source: 'jira'}) "
        "RETURN a.externalId AS a, type(r) AS t, properties(r) AS props, b.externalId AS b",
        p=project_id,
    )
    lines += [f"R {r['a']} -{r['t']} {sorted(r['props'].items())}-> {r['b']}" for r in rels]
    return sorted(lines)


async def test_mutations_delivered_twice_and_shuffled_end_equal_to_a_fresh_import(
    stack: Stack, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    hub, admin = stack.hub, tokens.admin
    await hub.stub.UpdateIntegration(jira_update(tenant, stack.url, auto_sync=False), metadata=bearer(admin))
    assert (await full_import(hub, admin, tenant)).state == pb.IMPORT_JOB_STATE_SUCCEEDED
    enabled = await hub.stub.UpdateIntegration(jira_update(tenant, stack.url, auto_sync=True), metadata=bearer(admin))
    assert [(w.workspace_id, w.status) for w in enabled.webhooks] == [(stack.sandbox.site.cloud_id, "active")]

    async with httpx.AsyncClient(base_url=stack.url, timeout=120, auth=(MAIN_EMAIL, MAIN_TOKEN)) as jira:
        hooks = (await jira.get("/rest/webhooks/1.0/webhook")).json()
        assert len(hooks) == 1
        assert hooks[0]["url"].startswith(
            f"http://127.0.0.1:{hooks[0]['url'].split(':')[2].split('/')[0]}/webhooks/jira/"
        )
        await jira.put("/_sandbox/config", json={"hold_deliveries": True})
        mutated = (await jira.post("/_sandbox/mutate", json={"count": 200, "seed": 8})).json()
        assert len(mutated["mutations"]) == 200
        flushed = await jira.post(
            "/_sandbox/webhooks/flush", json={"duplicate": 2, "shuffle": True, "seed": 3, "timeout": 120}
        )
        assert flushed.json()["flushed"] >= 200
        deliveries = (await jira.get("/_sandbox/deliveries")).json()["deliveries"]
    assert deliveries, "the mutations were delivered"
    assert all(d["delivered"] for d in deliveries), "the gateway answered 2xx to every delivery"
    await asyncio.to_thread(wait_until, lambda: settled(neo4j_driver, tenant), 180, "every event applied")
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (e:WebhookEvent {orgId: $o, projectId: $p}) RETURN count(e) AS events, sum(e.attempts) AS attempts",
        o=tenant[0],
        p=tenant[1],
    )
    assert records[0]["events"] * 2 == len(deliveries), "each distinct delivery is stored once"
    assert records[0]["attempts"] == records[0]["events"], "and applied once"

    # Components and labels send no events: the interval's repair reconciles them.
    (reg,) = [
        r
        for r in await hub.server.webhooks.registrations()
        if (r.org_id, r.project_id, r.integration) == (tenant[0], tenant[1], "jira")
    ]
    view = await hub.server.gallery.get(tenant[0], tenant[1], "jira")
    assert hub.server.live_sync is not None
    await hub.server.live_sync.repair(reg, view)

    fresh = (tenant[0], tenant[1] + "-fresh")
    await hub.stub.UpdateIntegration(jira_update(fresh, stack.url, auto_sync=False), metadata=bearer(admin))
    assert (await full_import(hub, admin, fresh)).state == pb.IMPORT_JOB_STATE_SUCCEEDED
    live, reference = export(neo4j_driver, tenant[1]), export(neo4j_driver, fresh[1])
    missing, extra = sorted(set(reference) - set(live))[:5], sorted(set(live) - set(reference))[:5]
    assert live == reference, f"missing {missing}\nextra {extra}"

    off = await hub.stub.UpdateIntegration(jira_update(tenant, stack.url, auto_sync=False), metadata=bearer(admin))
    assert list(off.webhooks) == []
    async with httpx.AsyncClient(base_url=stack.url, auth=(MAIN_EMAIL, MAIN_TOKEN)) as jira:
        assert (await jira.get("/rest/webhooks/1.0/webhook")).json() == [], "the webhook is deleted in Jira too"


async def applied_events(driver: neo4j.Driver, tenant: tuple[str, str]) -> int:
    records, _, _ = driver.execute_query(
        "MATCH (e:WebhookEvent {orgId: $o, projectId: $p, state: 'APPLIED'}) RETURN count(e) AS c",
        o=tenant[0],
        p=tenant[1],
    )
    return int(records[0]["c"])


async def test_a_webhook_jira_disabled_is_re_armed_with_a_new_secret_the_gateway_takes_at_once(
    stack: Stack, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    """Jira (or an admin) disables the admin webhook. The supervisor turns it back on with the whole
    registration and a new secret (Jira's PUT replaces: one without the secret would leave the
    deliveries unsigned), seals the new secret, and the gateway, which still holds the old one,
    asks again on the first mismatch: the next delivery is accepted and applied."""
    hub, admin = stack.hub, tokens.admin
    await hub.stub.UpdateIntegration(jira_update(tenant, stack.url, auto_sync=True), metadata=bearer(admin))
    (hook,) = [h for h in stack.sandbox.hub.webhooks.values() if h.kind == "admin"]
    first_secret = hook.secret
    async with httpx.AsyncClient(base_url=stack.url, timeout=120, auth=(MAIN_EMAIL, MAIN_TOKEN)) as jira:

        async def mutate_and_deliver(seed: int) -> list[dict[str, object]]:
            await jira.put("/_sandbox/config", json={"hold_deliveries": True})
            await jira.post("/_sandbox/mutate", json={"count": 3, "seed": seed})
            await jira.post("/_sandbox/webhooks/flush", json={"timeout": 60})
            deliveries: list[dict[str, object]] = (await jira.get("/_sandbox/deliveries")).json()["deliveries"]
            return deliveries

        before = await mutate_and_deliver(31)  # the gateway now caches the first secret
        assert before
        assert all(d["delivered"] for d in before)
        assert (await jira.patch(f"/_sandbox/webhooks/{hook.id}", json={"enabled": False})).json()["enabled"] is False
        assert hub.server.live_sync is not None
        await hub.server.live_sync.check_once()
        assert hook.enabled, "turned back on"
        assert hook.secret, "still signed"
        assert hook.secret != first_secret, "re-armed with a new secret"
        assert hook.events, "the whole registration was sent"
        after = await mutate_and_deliver(32)
    fresh = after[len(before) :]
    assert fresh
    assert all(d["delivered"] for d in fresh), "signed with the new secret, accepted by the gateway at once"
    await asyncio.to_thread(wait_until, lambda: settled(neo4j_driver, tenant), 60, "every event applied")
    assert await applied_events(neo4j_driver, tenant) >= len(fresh) // 2
