"""The live-sync supervisor on several replicas (issue 13, item 1): each duty once per period.

Two servers on one Neo4j supervise the same webhook. Both run their check at the same moment, twice:
ClickUp is asked for the webhook's health once and the gap is repaired once, whichever replica got
there first; the second round finds every duty already done for this period.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.app import create_app
from sandbox.clickup.generator import GeneratorConfig, generate
from sandbox.clickup.state import Sandbox
from tests.conftest import RunningHub, Tokens, bearer, server_env, start_hub
from tests.integration.importing import enable_request, run_import
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


async def test_two_replicas_check_a_webhook_and_repair_its_gap_once_per_period(
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
    health_path, repair_path = f"GET /api/v2/team/{team}/webhook", f"GET /api/v2/team/{team}/task"
    replicas.calls.clear()

    supervisors = [hub.server.live_sync for hub in (first, second)]
    assert all(s is not None for s in supervisors)
    for _ in range(2):  # two rounds, each with both replicas at once
        await asyncio.gather(*(s.check_once() for s in supervisors if s is not None))

    assert replicas.calls[health_path] == 1, "one health check of the webhook, not one per replica and round"
    assert replicas.calls[repair_path] >= 1, "the gap was repaired"
