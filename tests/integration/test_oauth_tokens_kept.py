"""A refreshed OAuth token set is sealed back in place of the old one, and nothing else changes.

Refresh tokens may be single-use: a server that refreshed and then forgot the new set would lock the
project out. The plugin's auth flow hands the new set to the settings' sink, which the gallery
seals with compare-and-set."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from google.protobuf import duration_pb2

from devtools.neo4j_local import Connection
from graph.integration_store import IntegrationKey
from integrations.v1 import integration_service_pb2 as pb
from server.integrations.base import ConnectionCheck, Outcome
from server.integrations.credentials import AuthMethod, OAuthTokens
from server.integrations.settings import IntegrationSettings
from tests.conftest import RunningHub, RunningSandbox, Tokens, bearer, hub_with, server_env
from tests.integration.test_gallery import update
from tests.plugins.dummy import DummyIntegration

LATER = datetime.now(UTC) + timedelta(hours=1)


class Expiring(DummyIntegration):
    """An OAuth-only plugin whose tokens the third party refreshes (and rotates)."""

    name = "expiring"
    display_name = "Expiring"
    auth_methods = (AuthMethod.OAUTH,)

    async def refresh_tokens(self, tokens: OAuthTokens) -> OAuthTokens:
        assert tokens.refresh_token in ("", "refresh-1")
        return OAuthTokens("dummy_access_2", "refresh-2", LATER, ("read",), "acct-1")

    async def test_connection(self, settings: IntegrationSettings[None]) -> ConnectionCheck:
        return ConnectionCheck(Outcome.CONNECTED, "ok", 0.0)


@pytest.fixture
async def expiring_hub(
    neo4j_connection: Connection, tokens: Tokens, clickup_sandbox: RunningSandbox, encryption_keys: str
) -> AsyncIterator[RunningHub]:
    env = server_env(neo4j_connection, tokens, clickup_sandbox.api_url, encryption_keys)
    async with hub_with(env, Expiring()) as hub:
        yield hub


async def test_a_refreshed_token_set_is_sealed_in_place_of_the_old_one(
    expiring_hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]
) -> None:
    settings = pb.IntegrationSettings(auth_method=pb.AUTH_METHOD_OAUTH, api_token="dummy_access_1")
    settings.sync_settings.sync_interval.CopyFrom(duration_pb2.Duration(seconds=900))
    await expiring_hub.stub.UpdateIntegration(
        update(tenant, "settings", name="expiring", new_settings=settings), metadata=bearer(tokens.admin)
    )
    gallery = expiring_hub.server.gallery
    # A token set with a refresh token, as an OAuth authorization leaves it (the wire takes access tokens only).
    await gallery.keep_tokens(IntegrationKey(*tenant, "expiring"), OAuthTokens("dummy_access_1", "refresh-1"))
    view = await gallery.get(*tenant, "expiring")
    assert view.settings is not None
    assert isinstance(view.settings.credentials, OAuthTokens)

    def api(request: httpx.Request) -> httpx.Response:  # the third party: only the new token is valid
        return httpx.Response(200 if request.headers["authorization"] == "Bearer dummy_access_2" else 401)

    auth = view.plugin.oauth_auth(view.settings, view.settings.credentials)
    async with httpx.AsyncClient(transport=httpx.MockTransport(api), auth=auth) as client:
        assert (await client.get("https://api.test/me")).status_code == 200

    kept = await gallery.get(*tenant, "expiring")
    assert kept.settings is not None
    assert kept.settings.credentials == OAuthTokens("dummy_access_2", "refresh-2", LATER, ("read",), "acct-1")
    assert kept.settings.sync.interval_seconds == 900, "only the credentials change"
    got = await expiring_hub.stub.GetIntegration(
        pb.GetIntegrationRequest(org_id=tenant[0], project_id=tenant[1], name="expiring"), metadata=bearer(tokens.admin)
    )
    assert got.settings.api_token == "********", "a short token shows only as a mask"
    assert got.settings.auth_method == pb.AUTH_METHOD_OAUTH
