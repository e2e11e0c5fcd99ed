"""The ClickUp client and plugin against real HTTP servers: the sandbox, and nothing at all."""

from __future__ import annotations

import httpx

from integrations.v1 import integration_service_pb2 as pb
from server.integrations.clickup.client import ClickUpClient
from server.integrations.clickup.options import ClickUpOptions
from server.integrations.clickup.plugin import ClickUpIntegration, ClickUpSettings
from server.integrations.clickup.rate_limit import RateLimiter
from server.integrations.credentials import ApiToken
from server.integrations.settings import IntegrationSettings
from tests.conftest import RunningHub, RunningSandbox, Tokens, bearer, server_env, start_hub
from tests.integration.rpc import failure
from tests.integration.test_gallery import settings, update
from tests.support import free_port


async def test_limiter_learns_the_servers_budget_and_never_receives_a_429(clickup_sandbox: RunningSandbox) -> None:
    async with httpx.AsyncClient(base_url=clickup_sandbox.url) as admin:
        token = (await admin.post("/_sandbox/tokens", json={"user_id": 5550001})).json()["token"]
        await admin.put("/_sandbox/config", json={"rate_limit": 3, "rate_limit_window_seconds": 1})
        rejected_before = clickup_sandbox.sandbox.limiter.rejected
        try:
            async with ClickUpClient(token, base_url=clickup_sandbox.api_url, limiter=RateLimiter(limit=100)) as client:
                for _ in range(8):
                    assert (await client.get_user()).id == 5550001
        finally:
            await admin.put("/_sandbox/config", json={"rate_limit": None, "rate_limit_window_seconds": 60})
    assert client.stats.rate_limited == 0
    assert clickup_sandbox.sandbox.limiter.rejected == rejected_before
    assert client.limiter.stats.waits >= 2, "it waited for the window instead of running into 429s"
    assert client.rate_limit is not None
    assert client.rate_limit.limit == 3


async def test_connection_test_says_when_clickup_cannot_be_reached(
    neo4j_connection: object, tokens: Tokens, encryption_keys: str, tenant: tuple[str, str]
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/api/v2"
    env = server_env(neo4j_connection, tokens, nowhere, encryption_keys)  # type: ignore[arg-type]
    running: RunningHub = await start_hub(env)
    try:
        check = await running.stub.TestConnection(
            pb.TestConnectionRequest(org_id=tenant[0], project_id=tenant[1], name="clickup", settings=settings()),
            metadata=bearer(tokens.admin),
        )
        assert not check.ok
        assert check.status == pb.CONNECTION_STATUS_ERROR
        assert check.message.startswith(f"Network failure: could not reach ClickUp at {nowhere}")
        refused = await failure(
            running.stub.UpdateIntegration(
                update(tenant, "settings", new_settings=settings()), metadata=bearer(tokens.admin)
            )
        )
        assert "Network failure" in refused.message
    finally:
        await running.channel.close(None)
        await running.server.stop(grace=1)


async def test_workspace_the_token_cannot_see_is_reported_by_id(clickup_sandbox: RunningSandbox) -> None:
    plugin = ClickUpIntegration(ClickUpSettings(api_base_url=clickup_sandbox.api_url))
    wanted = IntegrationSettings(ApiToken(clickup_sandbox.token), ClickUpOptions(workspace_ids=("99999999",)))
    check = await plugin.test_connection(wanted)
    assert not check.ok
    assert check.message == "the token cannot see workspace(s) 99999999"


async def test_unknown_token_reads_as_rejected(clickup_sandbox: RunningSandbox) -> None:
    plugin = ClickUpIntegration(ClickUpSettings(api_base_url=clickup_sandbox.api_url))
    check = await plugin.test_connection(IntegrationSettings(ApiToken("pk_0_UNKNOWNTOKEN00000"), ClickUpOptions()))
    assert not check.ok
    assert check.message == "ClickUp rejected the API token (OAUTH_025: Token invalid)"
