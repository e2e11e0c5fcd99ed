"""The server is SIGKILLed while webhook deliveries stream in: nothing is lost, everything is applied."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
import neo4j

from devtools.neo4j_local import Connection
from graph.connection import GraphConfig, open_driver
from graph.webhook_inbox import WebhookInbox, WebhookRegistry
from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.app import create_app
from sandbox.clickup.generator import GeneratorConfig, generate
from sandbox.clickup.state import Sandbox
from server.crypto import KeyRing
from server.webhooks import WebhookDesk
from tests.conftest import Tokens, bearer, server_env
from tests.integration.importing import enable_request, export
from tests.integration.test_import_resume import ServerProcess
from tests.integration.test_live_sync import clean, mutate, settled
from tests.support import UvicornThread, free_port, wait_until
from webhook_gateway.app import create_app as create_gateway
from webhook_gateway.config import GatewayConfig

TOKEN = "pk_5550001_CRASHSANDBOX0000000000000000000"


def import_and_wait(server: ServerProcess, tenant: tuple[str, str], admin: str) -> None:
    auth = bearer(admin)
    server.stub.UpdateIntegration(enable_request(tenant, TOKEN), metadata=auth, timeout=30)
    job = server.stub.StartImport(
        pb.StartImportRequest(org_id=tenant[0], project_id=tenant[1], name="clickup"), metadata=auth, timeout=30
    )
    wait_until(
        lambda: (
            server.stub.GetImportJob(
                pb.GetImportJobRequest(org_id=tenant[0], project_id=tenant[1], job_id=job.id), metadata=auth, timeout=10
            ).state
            == pb.IMPORT_JOB_STATE_SUCCEEDED
        ),
        timeout=60,
        what="import",
    )


async def test_server_killed_during_deliveries_loses_nothing(
    neo4j_connection: Connection, tokens: Tokens, encryption_keys: str, tmp_path: Path, neo4j_driver: neo4j.Driver
) -> None:
    world = generate(GeneratorConfig(seed=23, spaces=1, tasks_per_list=8))
    world.tokens[TOKEN] = min(world.users)
    sandbox = Sandbox(world)
    sandbox.limiter.limit = None
    tenant, fresh = ("crash-org", "crash-live"), ("crash-org", "crash-fresh")
    port = free_port()
    with UvicornThread(create_app(sandbox)) as clickup:
        env = server_env(neo4j_connection, tokens, f"{clickup.url}/api/v2", encryption_keys)
        env |= {"INTEGRATIONS_GRPC_ADDRESS": f"127.0.0.1:{port}", "IMPORT_LEASE_SECONDS": "2", "WEBHOOK_WORKER": "on"}
        first = await asyncio.to_thread(ServerProcess, env, port)
        await asyncio.to_thread(import_and_wait, first, tenant, tokens.admin)

        team_id = next(iter(world.teams))
        gateway_config = GatewayConfig(
            server_target=f"127.0.0.1:{port}",
            server_token=tokens.gateway,
            spool_path=tmp_path / "spool.db",
            forward_timeout_seconds=0.5,
        )
        gateway_app = create_gateway(gateway_config)
        with UvicornThread(gateway_app) as gateway:
            async with httpx.AsyncClient(base_url=clickup.url, timeout=120) as client:
                hook = (
                    await client.post(
                        f"/api/v2/team/{team_id}/webhook",
                        headers={"Authorization": TOKEN},
                        json={"endpoint": f"{gateway.url}/webhooks/clickup", "events": "*"},
                    )
                ).json()["webhook"]
                driver = await open_driver(
                    GraphConfig(neo4j_connection.uri, neo4j_connection.user, neo4j_connection.password)
                )
                desk = WebhookDesk(
                    WebhookInbox(driver, "neo4j"), WebhookRegistry(driver, "neo4j"), KeyRing.from_spec(encryption_keys)
                )
                await desk.register("clickup", hook["id"], tenant[0], tenant[1], team_id, hook["secret"])
                await driver.close()
                await client.put("/_sandbox/config", json={"hold_deliveries": True})
                await mutate(client, sandbox, 120, seed=8)
                flush = asyncio.create_task(client.post("/_sandbox/webhooks/flush", json={"timeout": 110}))
                await asyncio.to_thread(
                    wait_until, lambda: sum(1 for d in sandbox.hub.log if d.delivered) >= 40, 30, "deliveries under way"
                )
                first.process.send_signal(signal.SIGKILL)  # mid-stream: some stored, some in flight
                await asyncio.to_thread(first.process.wait, 30)
                second = await asyncio.to_thread(ServerProcess, env, port)
                flushed = (await flush).json()["flushed"]
                deliveries = (await client.get("/_sandbox/deliveries")).json()["deliveries"]
            assert all(d["delivered"] for d in deliveries), "every delivery got a 2xx (durable in the spool)"
            metrics = gateway_app.state.gateway.metrics.registry
            assert (metrics.get_sample_value("gateway_forward_retries_total") or 0) > 0, "the crash was felt"
            spool = gateway_app.state.gateway.spool
            await asyncio.to_thread(wait_until, lambda: spool.depth() == 0, 60, "the gateway spool to drain")
        await asyncio.to_thread(wait_until, lambda: settled(neo4j_driver, tenant), 120, "every event applied")
        records, _, _ = neo4j_driver.execute_query(
            "MATCH (e:WebhookEvent {orgId: $o, projectId: $p}) RETURN count(e) AS n, collect(DISTINCT e.state) AS s",
            o=tenant[0],
            p=tenant[1],
        )
        assert records[0]["n"] == flushed, "each delivered event is in the inbox exactly once"
        assert records[0]["s"] == ["APPLIED"]
        await asyncio.to_thread(import_and_wait, second, fresh, tokens.admin)
        second.close()
    assert clean(export(neo4j_driver, tenant[1])) == clean(export(neo4j_driver, fresh[1]))
