"""Live sync on several replicas (issue 13, items 1 and 2): each duty once per period, one
registration however many replicas save the same update.

Two servers on one Neo4j supervise the same webhook. Both run their check at the same moment, twice:
ClickUp is asked for the webhook's health once and one scheduled sync (an INCREMENTAL import job) is
started, whichever replica got there first; the second round finds every duty already done for this
period.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from google.protobuf import field_mask_pb2
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.app import create_app
from sandbox.clickup.generator import GeneratorConfig, generate
from sandbox.clickup.state import Sandbox
from sandbox.jira.generator import MAIN_EMAIL, MAIN_TOKEN
from sandbox.jira.generator import GeneratorConfig as JiraConfig
from tests.conftest import RunningHub, Tokens, bearer, server_env, start_hub
from tests.integration.importing import enable_request, run_import, watch
from tests.jira_sites import serving
from tests.support import UvicornThread, free_port


class Counting:
    """Counts the requests the sandbox answers with a 2xx, by method and path (registrations of
    earlier tests in the shared database carry other tokens: the sandbox refuses them)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.calls: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        name = f"{scope['method']} {scope['path']}"

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                self.calls[name] += 1
            await send(message)

        await self.app(scope, receive, counted)


@dataclass
class TwoReplicas:
    sandbox: Sandbox
    calls: Counter[str]
    servers: tuple[RunningHub, RunningHub]
    token: str


@pytest.fixture
async def replicas(
    neo4j_connection: Connection, tokens: Tokens, encryption_keys: str, token: str
) -> AsyncIterator[TwoReplicas]:
    world = generate(GeneratorConfig(seed=41, spaces=1, tasks_per_list=4))
    world.tokens[token] = min(world.users)
    sandbox = Sandbox(world)
    sandbox.limiter.limit = None
    counting = Counting(create_app(sandbox))
    with UvicornThread(counting) as clickup:
        env = server_env(neo4j_connection, tokens, f"{clickup.url}/api/v2", encryption_keys) | {
            "LIVE_SYNC_CHECK_SECONDS": "3600",  # the loops sleep: the test runs the rounds itself
            "WEBHOOK_PUBLIC_URL": f"http://127.0.0.1:{free_port()}/webhooks/clickup",
        }
        first, second = await start_hub(env), await start_hub(env)
        try:
            yield TwoReplicas(sandbox, counting.calls, (first, second), token)
        finally:
            for hub in (first, second):
                await hub.channel.close(None)
                await hub.server.stop(grace=1)


async def test_two_replicas_check_a_webhook_and_start_its_scheduled_sync_once_per_period(
    replicas: TwoReplicas, tokens: Tokens, tenant: tuple[str, str]
) -> None:
    first, second = replicas.servers
    await first.stub.UpdateIntegration(enable_request(tenant, replicas.token), metadata=bearer(tokens.admin))
    assert (await run_import(first, tokens.admin, tenant))[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED
    live = await first.stub.UpdateIntegration(
        enable_request(tenant, replicas.token, auto_sync=True), metadata=bearer(tokens.admin)
    )
    assert [w.status for w in live.webhooks] == ["active"]
    team = next(iter(replicas.sandbox.world.teams))
    health_path, tasks_path = f"GET /api/v2/team/{team}/webhook", f"GET /api/v2/team/{team}/task"
    replicas.calls.clear()

    supervisors = [hub.server.live_sync for hub in (first, second)]
    assert all(s is not None for s in supervisors)
    for _ in range(2):  # two rounds, each with both replicas at once
        await asyncio.gather(*(s.check_once() for s in supervisors if s is not None))

    assert replicas.calls[health_path] == 1, "one health check of the webhook, not one per replica and round"
    listed = await first.stub.ListImportJobs(
        pb.ListImportJobsRequest(org_id=tenant[0], project_id=tenant[1], name="clickup"), metadata=bearer(tokens.admin)
    )
    scheduled = [job for job in listed.jobs if job.mode == pb.IMPORT_MODE_INCREMENTAL]
    assert len(scheduled) == 1, "one scheduled sync, not one per replica and round"
    assert (await watch(first, tokens.admin, tenant, scheduled[0].id))[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED
    assert replicas.calls[tasks_path] >= 1, "it read what changed"
    # No registration outlives this test's sandbox (the next tests' supervisors would try to reach it).
    await first.stub.UpdateIntegration(enable_request(tenant, replicas.token), metadata=bearer(tokens.admin))


async def test_two_replicas_turning_auto_sync_on_at_once_register_one_webhook(
    neo4j_connection: Connection, tokens: Tokens, encryption_keys: str
) -> None:
    """Issue 13, item 2: the update's reconcile runs one replica at a time, against the saved state.
    Eight projects, each turned on through both replicas at once, each on its own Jira site."""
    sites = [serving(JiraConfig(seed=43 + n, projects=1, issues_per_project=2)) for n in range(8)]
    with contextlib.ExitStack() as stack:
        running = [stack.enter_context(site) for site in sites]
        env = server_env(neo4j_connection, tokens, "http://127.0.0.1:9/api/v2", encryption_keys) | {
            "LIVE_SYNC_CHECK_SECONDS": "3600",
            "WEBHOOK_PUBLIC_URL": f"http://127.0.0.1:{free_port()}",
        }
        first, second = await start_hub(env), await start_hub(env)
        try:
            tenants = [("org-race", f"race-{uuid.uuid4().hex[:8]}") for _ in running]

            def update(tenant: tuple[str, str], url: str, auto_sync: bool) -> pb.UpdateIntegrationRequest:
                settings = pb.IntegrationSettings(auth_method=pb.AUTH_METHOD_API_TOKEN, api_token=MAIN_TOKEN)
                settings.options.update({"site_url": url, "email": MAIN_EMAIL})
                settings.sync_settings.auto_sync = auto_sync
                return pb.UpdateIntegrationRequest(
                    org_id=tenant[0],
                    project_id=tenant[1],
                    integration=pb.Integration(name="jira", enabled=True, settings=settings),
                    update_mask=field_mask_pb2.FieldMask(paths=["settings", "enabled"]),
                )

            for tenant, site in zip(tenants, running, strict=True):
                await first.stub.UpdateIntegration(update(tenant, site.url, False), metadata=bearer(tokens.admin))
            answers = await asyncio.gather(
                *(
                    hub.stub.UpdateIntegration(update(tenant, site.url, True), metadata=bearer(tokens.admin))
                    for tenant, site in zip(tenants, running, strict=True)
                    for hub in (first, second)
                )
            )
            assert all([w.status for w in a.webhooks] == ["active"] for a in answers)
            for site in running:
                hooks = [h for h in site.sandbox.hub.webhooks.values() if h.kind == "admin"]
                assert len(hooks) == 1, "one webhook in Jira per project, not one per replica"
            for tenant, site in zip(tenants, running, strict=True):  # no registration outlives its site
                await first.stub.UpdateIntegration(update(tenant, site.url, False), metadata=bearer(tokens.admin))
        finally:
            for hub in (first, second):
                await hub.channel.close(None)
                await hub.server.stop(grace=1)
