"""The typed Python clients against the real server over loopback."""

from __future__ import annotations

import asyncio
import time

import pytest

from clients.client import AsyncIntegrationsClient, IntegrationsClient
from clients.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    UnauthenticatedError,
)
from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.fixtures import TV_TOKEN
from server.metrics import ServerMetrics
from tests.conftest import RunningHub, RunningSandbox, Tokens, server_env, start_hub
from tests.support import free_port


async def test_sync_client_returns_typed_values_and_raises_typed_errors(
    hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]
) -> None:
    def scenario() -> None:  # in a thread: the server under test runs on this test's event loop
        with IntegrationsClient(hub.target, tokens.admin) as client:
            listed = client.list_integrations(*tenant)
            assert [i.name for i in listed] == ["clickup", "jira"]
            settings = pb.IntegrationSettings(auth_method=pb.AUTH_METHOD_API_TOKEN, api_token=TV_TOKEN)
            updated = client.update_integration(
                *tenant, "clickup", pb.Integration(enabled=True, settings=settings), ["settings", "enabled"]
            )
            assert updated.settings.api_token == "pk_5****0000"
            assert client.test_connection(*tenant, "clickup").ok
            started = client.start_import(*tenant, "clickup", request_id="client-start-1")
            assert client.start_import(*tenant, "clickup", request_id="client-start-1").id == started.id
            with pytest.raises(NotFoundError) as missing:
                client.get_integration(*tenant, "linear")
            assert missing.value.reason == "UNKNOWN_INTEGRATION"
            with pytest.raises(InvalidArgumentError) as invalid:
                client.get_integration("", tenant[1], "clickup")
            assert invalid.value.field_violations == {"org_id": "must not be empty"}
            with pytest.raises(FailedPreconditionError):
                client.update_integration(
                    *tenant,
                    "clickup",
                    pb.Integration(
                        settings=pb.IntegrationSettings(
                            auth_method=pb.AUTH_METHOD_API_TOKEN, api_token="pk_0_WRONGTOKEN1234567"
                        )
                    ),
                    ["settings"],
                )
        with IntegrationsClient(hub.target, "wrong-token") as stranger, pytest.raises(UnauthenticatedError):
            stranger.list_integrations(*tenant)
        with IntegrationsClient(hub.target, tokens.reader) as reader, pytest.raises(PermissionDeniedError):
            reader.start_import(*tenant, "clickup")

    await asyncio.to_thread(scenario)


def test_a_client_needs_a_token() -> None:
    with pytest.raises(ValueError, match="token"):
        IntegrationsClient("127.0.0.1:1", "")


async def test_async_client_retries_unavailable_until_the_server_is_back(
    neo4j_connection: Connection,
    tokens: Tokens,
    clickup_sandbox: RunningSandbox,
    encryption_keys: str,
    tenant: tuple[str, str],
) -> None:
    env = server_env(neo4j_connection, tokens, clickup_sandbox.api_url, encryption_keys)
    env["INTEGRATIONS_GRPC_ADDRESS"] = f"127.0.0.1:{free_port()}"
    first = await start_hub(env)
    await first.channel.close(None)
    await first.server.stop(grace=0)  # the server goes away ...
    async with AsyncIntegrationsClient(
        env["INTEGRATIONS_GRPC_ADDRESS"], tokens.admin, retries=8, backoff=0.1, deadline=5
    ) as client:
        call = asyncio.create_task(client.list_integrations(*tenant))
        await asyncio.sleep(0)  # the call is now retrying against nothing
        second = await start_hub(env)  # ... and comes back on the same address
        try:
            listed = await call
        finally:
            await second.channel.close(None)
            await second.server.stop(grace=1)
    assert [i.name for i in listed] == ["clickup", "jira"]
    assert client.retries_made >= 1, "the first attempt met no server and was retried"


async def test_a_client_spreads_over_replicas_and_keeps_working_when_one_stops(
    neo4j_connection: Connection,
    tokens: Tokens,
    clickup_sandbox: RunningSandbox,
    encryption_keys: str,
    tenant: tuple[str, str],
) -> None:
    """A target naming several replicas (``ipv4:a,b``): calls go round-robin, and a stopped replica is
    left out (issue 13, item 5)."""
    env = server_env(neo4j_connection, tokens, clickup_sandbox.api_url, encryption_keys)
    replicas = []
    for _ in range(2):
        env["INTEGRATIONS_GRPC_ADDRESS"] = f"127.0.0.1:{free_port()}"
        replicas.append(await start_hub(env))
    target = "ipv4:" + ",".join(hub.target for hub in replicas)
    served = [hub.server.metrics for hub in replicas]
    try:
        async with AsyncIntegrationsClient(target, tokens.admin, retries=8, backoff=0.1, deadline=5) as client:
            # Round robin picks among the connections that are ready: on a busy machine the second may
            # connect a moment after the first, so calls go on until both served one (bounded).
            deadline = time.monotonic() + 20
            while not all(rpc_count(metrics) >= 1 for metrics in served):
                assert time.monotonic() < deadline, f"not both replicas served: {[rpc_count(m) for m in served]}"
                assert [i.name for i in await client.list_integrations(*tenant)] == ["clickup", "jira"]
            await replicas[0].channel.close(None)
            await replicas[0].server.stop(grace=0)
            for _ in range(4):
                assert [i.name for i in await client.list_integrations(*tenant)] == ["clickup", "jira"]
    finally:
        for hub in replicas[1:]:
            await hub.channel.close(None)
            await hub.server.stop(grace=1)


def rpc_count(metrics: ServerMetrics) -> float:
    """ListIntegrations calls this replica answered OK (its own metrics registry)."""
    value = metrics.registry.get_sample_value("integrations_rpc_total", {"method": "ListIntegrations", "code": "OK"})
    return value or 0.0
