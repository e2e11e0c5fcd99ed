from __future__ import annotations

import grpc

from integrations.v1 import integration_service_pb2 as pb
from server.config import ServerConfig
from tests.conftest import RunningSandbox, Tokens, bearer, server_env, start_hub
from tests.integration.rpc import failure
from tests.integration.test_gallery import update
from tests.plugins.dummy import DummyIntegration


async def test_a_second_plugin_needs_one_module_and_one_registration_line(
    neo4j_connection: object,
    tokens: Tokens,
    clickup_sandbox: RunningSandbox,
    encryption_keys: str,
    tenant: tuple[str, str],
) -> None:
    env = server_env(neo4j_connection, tokens, clickup_sandbox.api_url, encryption_keys)  # type: ignore[arg-type]
    registry = ServerConfig.from_env(env).plugins
    registry.register(DummyIntegration())  # <- the one line
    running = await start_hub(env, registry)
    try:
        listed = await running.stub.ListIntegrations(
            pb.ListIntegrationsRequest(org_id=tenant[0], project_id=tenant[1]), metadata=bearer(tokens.admin)
        )
        assert [i.name for i in listed.integrations] == ["clickup", "dummy", "jira"]

        settings = pb.IntegrationSettings(auth_method=pb.AUTH_METHOD_API_TOKEN, api_token="dummy_good_token_123")
        enabled = await running.stub.UpdateIntegration(
            update(tenant, "settings", "enabled", name="dummy", enabled=True, new_settings=settings),
            metadata=bearer(tokens.admin),
        )
        assert (enabled.enabled, enabled.configured, enabled.settings.api_token) == (True, True, "dumm****_123")

        bad = pb.IntegrationSettings(auth_method=pb.AUTH_METHOD_API_TOKEN, api_token="nope")
        refused = await failure(
            running.stub.UpdateIntegration(
                update(tenant, "settings", name="dummy", new_settings=bad), metadata=bearer(tokens.admin)
            )
        )
        assert refused.code == grpc.StatusCode.INVALID_ARGUMENT
        assert refused.fields == ["settings.api_token"]

        check = await running.stub.TestConnection(
            pb.TestConnectionRequest(org_id=tenant[0], project_id=tenant[1], name="dummy"),
            metadata=bearer(tokens.admin),
        )
        assert check.ok
        assert check.account.username == "dummy"
    finally:
        await running.channel.close(None)
        await running.server.stop(grace=1)
