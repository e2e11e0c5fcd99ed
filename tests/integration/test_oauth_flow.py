"""Connecting ClickUp by signing in, through the real server, Neo4j and the sandbox's consent page:
a state is single use and bound to its org, project, integration, caller and redirect URI; every
refusal changes nothing; no code, state, token or secret reaches a log."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import grpc
import neo4j
import pytest

from devtools.neo4j_local import Connection
from graph.authorization_states import state_hash
from integrations.v1 import integration_service_pb2 as pb
from tests.conftest import RunningHub, RunningSandbox, Tokens, bearer, hub_with, server_env
from tests.integration.oauth_helpers import REDIRECT_URI, complete, consent, start
from tests.integration.rpc import failure


async def get(hub: RunningHub, token: str, tenant: tuple[str, str]) -> pb.Integration:
    request = pb.GetIntegrationRequest(org_id=tenant[0], project_id=tenant[1], name="clickup")
    found: pb.Integration = await hub.stub.GetIntegration(request, metadata=bearer(token))
    return found


async def test_the_consent_url_is_clickups_with_a_fresh_state(
    hub: RunningHub, tokens: Tokens, tenant: tuple[str, str], clickup_sandbox: RunningSandbox
) -> None:
    listed = await get(hub, tokens.admin, tenant)
    assert listed.oauth_available is True
    first = await start(hub, tokens.admin, tenant)
    second = await start(hub, tokens.admin, tenant)
    url = urlsplit(first.authorization_url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{clickup_sandbox.url}/api"
    query = parse_qs(url.query)
    assert query == {"client_id": ["sandbox-client"], "redirect_uri": [REDIRECT_URI], "state": [first.state]}
    assert len(first.state) >= 43
    assert first.state != second.state
    remaining = first.expire_time.ToDatetime(tzinfo=UTC) - datetime.now(UTC)
    assert timedelta(minutes=9) < remaining <= timedelta(minutes=10)


async def test_a_completed_sign_in_connects_through_oauth_and_the_state_cannot_be_replayed(
    hub: RunningHub, tokens: Tokens, tenant: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    started = await start(hub, tokens.admin, tenant)
    redirect = await consent(started.authorization_url)
    assert redirect["state"] == started.state
    done = await complete(hub, tokens.admin, tenant, started.state, code=redirect["code"])
    assert done.integration.connection_status == pb.CONNECTION_STATUS_CONNECTED
    assert done.integration.settings.auth_method == pb.AUTH_METHOD_OAUTH
    assert done.integration.enabled
    assert done.integration.configured
    assert done.account.id
    assert [w.id for w in done.workspaces], "the workspaces the grant covers"
    assert "****" in done.integration.settings.api_token, "the token is never returned"

    checked = await hub.stub.TestConnection(
        pb.TestConnectionRequest(org_id=tenant[0], project_id=tenant[1], name="clickup"), metadata=bearer(tokens.admin)
    )
    assert checked.ok, checked.message

    before = await get(hub, tokens.admin, tenant)
    replayed = await failure(complete(hub, tokens.admin, tenant, started.state, code=redirect["code"]))
    assert (replayed.code, replayed.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "AUTHORIZATION_STATE_INVALID")
    assert replayed.fields == ["state"]
    assert (await get(hub, tokens.admin, tenant)).update_time == before.update_time

    # Our own loggers (httpx's request lines are silenced in production by server/logs.py).
    ours = ("server", "graph", "clients", "webhook_gateway")
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.split(".")[0] in ours)
    assert "sign-in to clickup completed" in logged
    assert started.state not in logged
    assert redirect["code"] not in logged
    assert "sandbox-secret" not in logged


@pytest.mark.parametrize("who", ["another project", "another caller", "tampered"])
async def test_a_foreign_or_tampered_state_is_refused_and_changes_nothing(
    who: str, hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]
) -> None:
    # The "tenant" token may act on acme/p1 only: it starts, others try to finish.
    owner_tenant = ("acme", "p1") if who == "another caller" else tenant
    starter = tokens.tenant if who == "another caller" else tokens.admin
    started = await start(hub, starter, owner_tenant)
    redirect = await consent(started.authorization_url)
    before = await get(hub, tokens.admin, owner_tenant)
    request = pb.CompleteAuthorizationRequest(
        org_id=owner_tenant[0], project_id=owner_tenant[1], name="clickup", state=started.state, code=redirect["code"]
    )
    caller = tokens.admin
    if who == "another project":
        request.project_id = tenant[1] + "-other"
    elif who == "tampered":
        request.state = started.state[:-1] + ("A" if started.state[-1] != "A" else "B")
    refused = await failure(hub.stub.CompleteAuthorization(request, metadata=bearer(caller)))
    assert (refused.code, refused.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "AUTHORIZATION_STATE_INVALID")
    assert (await get(hub, tokens.admin, owner_tenant)).update_time == before.update_time

    # The rightful caller can still finish: a refused attempt did not use the state up.
    done = await complete(hub, starter, owner_tenant, started.state, code=redirect["code"])
    assert done.integration.connection_status == pb.CONNECTION_STATUS_CONNECTED


async def test_an_expired_state_is_refused(
    hub: RunningHub, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    started = await start(hub, tokens.admin, tenant)
    neo4j_driver.execute_query(
        "MATCH (s:AuthorizationState {stateHash: $h}) SET s.expiresAt = datetime() - duration({minutes: 1})",
        h=state_hash(started.state),
    )
    refused = await failure(complete(hub, tokens.admin, tenant, started.state, code="whatever"))
    assert (refused.code, refused.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "AUTHORIZATION_EXPIRED")
    assert (await get(hub, tokens.admin, tenant)).configured is False


async def test_a_declined_consent_and_a_bad_code_leave_the_integration_unchanged(
    hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]
) -> None:
    started = await start(hub, tokens.admin, tenant)
    redirect = await consent(started.authorization_url, approve=False)
    assert redirect == {"error": "access_denied", "state": started.state}
    declined = await failure(complete(hub, tokens.admin, tenant, started.state, error=redirect["error"]))
    assert (declined.code, declined.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "AUTHORIZATION_DENIED")
    assert "access_denied" in declined.message

    started = await start(hub, tokens.admin, tenant)
    bad = await failure(complete(hub, tokens.admin, tenant, started.state, code="not-a-code-clickup-issued"))
    assert (bad.code, bad.reason, bad.fields) == (grpc.StatusCode.INVALID_ARGUMENT, "OAUTH_EXCHANGE_FAILED", ["code"])
    assert "not-a-code-clickup-issued" not in bad.message
    assert (await get(hub, tokens.admin, tenant)).configured is False


@pytest.mark.parametrize(
    ("redirect_uri", "problem"),
    [("", "required"), ("/relative", "absolute"), ("ftp://x/cb", "absolute"), ("https://u:p@x/cb", "credentials")],
)
async def test_a_bad_redirect_uri_is_refused(
    redirect_uri: str, problem: str, hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]
) -> None:
    refused = await failure(start(hub, tokens.admin, tenant, redirect_uri=redirect_uri))
    assert (refused.code, refused.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["redirect_uri"])
    assert problem in refused.message


async def test_without_app_credentials_oauth_is_unavailable_not_broken(
    neo4j_connection: Connection,
    tokens: Tokens,
    clickup_sandbox: RunningSandbox,
    encryption_keys: str,
    tenant: tuple[str, str],
) -> None:
    env = server_env(neo4j_connection, tokens, clickup_sandbox.api_url, encryption_keys)
    for name in ("CLICKUP_OAUTH_CLIENT_ID", "CLICKUP_OAUTH_CLIENT_SECRET"):
        del env[name]
    async with hub_with(env) as plain:
        listed = await get(plain, tokens.admin, tenant)
        assert listed.oauth_available is False
        assert pb.AUTH_METHOD_OAUTH in listed.supported_auth_methods
        refused = await failure(start(plain, tokens.admin, tenant))
        assert (refused.code, refused.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "OAUTH_UNAVAILABLE")
        assert "CLICKUP_OAUTH_CLIENT_ID" in refused.message
