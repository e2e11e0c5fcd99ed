"""ClickUp: the webhook secret regenerated while deliveries stream through the real gateway.

ClickUp never gives a webhook a new secret, so the regeneration makes a replacement webhook (quiet
until the server has registered its secret, then sending every event) and keeps the old one,
registered with its own secret, until the grace period ends. Deliveries of the old webhook held
back from before the regeneration arrive after it (in flight), renames keep streaming throughout:
none is refused, and the graph ends with every name. After the grace a delivery signed with the
old secret is refused, and the supervisor deletes the old webhook in ClickUp.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import httpx
import neo4j
import pytest
from google.protobuf import duration_pb2

from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.generator import GeneratorConfig
from tests.conftest import Tokens, bearer
from tests.gateway.support import GatewayServer, sign, task_body
from tests.integration.importing import enable_request
from tests.integration.live_helpers import LiveStack, live_stack, task_name
from tests.integration.rpc import failure
from tests.integration.test_live_sync import settled
from tests.support import wait_until
from webhook_gateway.config import GatewayConfig

TOKEN = "pk_5550001_ROTATIONSANDBOX00000000000000000"
GRACE_SECONDS = 20


@pytest.fixture
async def stack(
    neo4j_connection: Connection, tokens: Tokens, encryption_keys: str, tmp_path: Path
) -> AsyncIterator[LiveStack]:
    config = GeneratorConfig(seed=43, spaces=1, tasks_per_list=8)
    async with live_stack(config, TOKEN, neo4j_connection, tokens, encryption_keys, tmp_path) as running:
        yield running


async def test_regenerating_while_deliveries_stream_refuses_none(
    stack: LiveStack, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver, tmp_path: Path
) -> None:
    hub, sandbox = stack.hub, stack.sandbox
    enabled = await hub.stub.UpdateIntegration(
        enable_request(tenant, TOKEN, auto_sync=True), metadata=bearer(tokens.admin)
    )
    (old_id,) = [w.id for w in enabled.webhooks]
    old_hook = sandbox.hub.webhooks[old_id]
    tasks = sorted(t.id for t in sandbox.world.tasks.values() if t.parent is None)
    names: dict[str, str] = {}
    renamed: list[str] = []  # task ids, one per rename done

    async with httpx.AsyncClient(base_url=stack.sandbox_url, timeout=60) as admin:

        async def rename() -> None:
            task_id = tasks[len(renamed) % len(tasks)]
            name = f"Rotation rename {len(renamed)}"
            response = await admin.patch(f"/_sandbox/tasks/{task_id}", json={"name": name})
            assert response.status_code == 200, response.text
            names[task_id] = name
            renamed.append(task_id)

        await rename()  # the gateway now caches the old webhook's secret
        await asyncio.to_thread(
            wait_until,
            lambda: settled(neo4j_driver, tenant) and _applied(neo4j_driver, tenant, names),
            30,
            "a first event",
        )

        await admin.put("/_sandbox/config", json={"hold_deliveries": True})
        for _ in range(3):  # sent by ClickUp before the regeneration, arriving after it
            await rename()
        in_flight = len(sandbox.hub.held)
        assert in_flight == 3
        await admin.put("/_sandbox/config", json={"hold_deliveries": False})

        stop = asyncio.Event()

        async def stream() -> None:
            while not stop.is_set():
                await rename()

        streaming = asyncio.create_task(stream())
        try:
            await asyncio.to_thread(wait_until, lambda: len(renamed) > 10, 60, "renames before the regeneration")
            done = await hub.stub.RegenerateWebhookSecret(
                pb.RegenerateWebhookSecretRequest(
                    org_id=tenant[0],
                    project_id=tenant[1],
                    name="clickup",
                    grace=duration_pb2.Duration(seconds=GRACE_SECONDS),
                ),
                metadata=bearer(tokens.admin),
            )
            regenerated_at = len(sandbox.hub.log)
            streamed_before = len(renamed)
            await asyncio.to_thread(
                wait_until, lambda: len(renamed) >= streamed_before + 15, 60, "renames after the regeneration"
            )
        finally:
            stop.set()
            await streaming
        flushed = await admin.post("/_sandbox/webhooks/flush", json={"timeout": 60})  # the held ones, and idle
        assert flushed.json()["flushed"] == in_flight

    expires = done.old_secret_expire_time.ToDatetime(UTC)
    (new_id,) = [w.id for w in done.integration.webhooks if w.id != old_id]
    new_hook = sandbox.hub.webhooks[new_id]
    assert new_hook.secret != old_hook.secret
    log = sandbox.hub.log
    refused = [(d.webhook_id, d.event, d.status) for d in log if not d.delivered]
    assert refused == [], "no delivery was refused, whichever secret signed it"
    assert any(d.webhook_id == new_id for d in log), "the replacement sent deliveries"
    late_old = [d for d in log[regenerated_at:] if d.webhook_id == old_id]
    assert len(late_old) >= in_flight, "deliveries signed with the old secret arrived after the regeneration"
    assert datetime.now(UTC) < expires, "all of it within the grace period (a longer GRACE_SECONDS if not)"

    await asyncio.to_thread(
        wait_until,
        lambda: settled(neo4j_driver, tenant) and _applied(neo4j_driver, tenant, names),
        60,
        "every rename in the graph",
    )

    # After the grace the server no longer hands out the old webhook's secret, so a gateway that asks
    # (any gateway whose cached answer has run out: answers given during the grace end with it)
    # refuses deliveries signed with it; the replacement's are accepted.
    await asyncio.to_thread(wait_until, lambda: datetime.now(UTC) > expires, 30, "the grace end")
    gone = await failure(
        hub.stub.GetWebhookSecret(
            pb.GetWebhookSecretRequest(integration="clickup", webhook_id=old_id), metadata=bearer(tokens.gateway)
        )
    )
    assert (gone.code, gone.reason) == (grpc.StatusCode.NOT_FOUND, "WEBHOOK_RETIRED")
    config = GatewayConfig(server_target=hub.target, server_token=tokens.gateway, spool_path=tmp_path / "fresh.db")
    with GatewayServer(config) as fresh:
        async with httpx.AsyncClient(base_url=fresh.url, timeout=30) as edge:
            late = [
                await edge.post(
                    "/webhooks/clickup",
                    content=(body := task_body(webhook_id, tasks[0])),
                    headers={"Content-Type": "application/json", "X-Signature": sign(secret, body)},
                )
                for webhook_id, secret in ((old_id, old_hook.secret), (new_id, new_hook.secret))
            ]
    assert [(r.status_code, r.json().get("reason")) for r in late] == [(401, "unknown_webhook"), (200, None)]

    assert hub.server.live_sync is not None
    await hub.server.live_sync.retire_due()
    assert old_id not in sandbox.hub.webhooks, "deleted in ClickUp once its grace was over"
    after = await hub.stub.GetIntegration(
        pb.GetIntegrationRequest(org_id=tenant[0], project_id=tenant[1], name="clickup"), metadata=bearer(tokens.admin)
    )
    assert [w.id for w in after.webhooks] == [new_id]

    async with httpx.AsyncClient(base_url=stack.sandbox_url, timeout=60) as admin:
        await admin.patch(f"/_sandbox/tasks/{tasks[1]}", json={"name": "After the grace"})
    await asyncio.to_thread(
        wait_until, lambda: task_name(neo4j_driver, tenant, tasks[1]) == "After the grace", 30, "the replacement alone"
    )
    assert all(d.delivered for d in sandbox.hub.log)


def _applied(driver: neo4j.Driver, tenant: tuple[str, str], names: dict[str, str]) -> bool:
    return all(task_name(driver, tenant, task_id) == name for task_id, name in names.items())
