"""Events that arrive while a full import runs wait for it, then apply: no gap, no double apply."""

from __future__ import annotations

import asyncio

import neo4j

from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.app import create_app
from sandbox.clickup.generator import GeneratorConfig, generate
from sandbox.clickup.state import Fault, Sandbox
from server.auth import Grant, Scope
from server.webhooks import Incoming
from tests.conftest import Tokens, bearer, server_env, start_hub
from tests.integration.importing import enable
from tests.integration.live_helpers import task_name
from tests.support import UvicornThread, wait_until

TOKEN = "pk_5550001_DURINGIMPORT000000000000000000"


def event_state(driver: neo4j.Driver, event_id: str) -> str:
    records, _, _ = driver.execute_query("MATCH (e:WebhookEvent {id: $id}) RETURN e.state AS s", id=event_id)
    return str(records[0]["s"])


ADMIN = Grant("test", frozenset({Scope.DELIVER}))


async def test_events_during_an_import_are_held_then_applied(
    neo4j_connection: Connection,
    tokens: Tokens,
    encryption_keys: str,
    tenant: tuple[str, str],
    neo4j_driver: neo4j.Driver,
) -> None:
    world = generate(GeneratorConfig(seed=37, spaces=1, tasks_per_list=8))
    world.tokens[TOKEN] = min(world.users)
    sandbox = Sandbox(world)
    sandbox.limiter.limit = None
    with UvicornThread(create_app(sandbox)) as clickup:
        env = server_env(neo4j_connection, tokens, f"{clickup.url}/api/v2", encryption_keys) | {"WEBHOOK_WORKER": "on"}
        hub = await start_hub(env)
        try:
            await enable(hub, TOKEN, tokens.admin, tenant)
            team_id = next(iter(world.teams))
            await hub.server.webhooks.register("clickup", "hook-during", tenant[0], tenant[1], team_id, "s")
            sandbox.faults.append(Fault(path=r"/task$", delay_seconds=0.5, times=-1))  # a slow import
            job = await hub.stub.StartImport(
                pb.StartImportRequest(org_id=tenant[0], project_id=tenant[1], name="clickup"),
                metadata=bearer(tokens.admin),
            )
            task = next(t for t in world.tasks.values() if t.parent is None)
            task.name, task.date_updated = "Renamed during the import", 4_000_000_000_000 - 1
            body = (
                b'{"event":"taskUpdated","history_items":[{"id":"h-during-1"}],"task_id":"%s",'
                b'"webhook_id":"hook-during"}' % task.id.encode()
            )
            stored = await hub.server.webhooks.deliver(Incoming("clickup", body, True, None, {}), ADMIN)
            assert not stored.duplicate
            event_id = stored.event_id
            running_checks = 0
            final = job
            async for update in hub.stub.WatchImportJob(
                pb.WatchImportJobRequest(org_id=tenant[0], project_id=tenant[1], job_id=job.id),
                metadata=bearer(tokens.admin),
            ):
                final = update
                if update.state == pb.IMPORT_JOB_STATE_RUNNING and update.pages >= 1:
                    assert event_state(neo4j_driver, event_id) == "PENDING", "held while the import runs"
                    running_checks += 1
            assert final.state == pb.IMPORT_JOB_STATE_SUCCEEDED
            assert running_checks >= 2, "the event was observed held across several pages of the import"
            await asyncio.to_thread(
                wait_until, lambda: event_state(neo4j_driver, event_id) == "APPLIED", 30, "the held event to apply"
            )
        finally:
            await hub.channel.close(None)
            await hub.server.stop(grace=1)
    assert task_name(neo4j_driver, tenant, task.id) == "Renamed during the import"
    records, _, _ = neo4j_driver.execute_query("MATCH (e:WebhookEvent {id: $id}) RETURN e.attempts AS a", id=event_id)
    assert records[0]["a"] == 1
