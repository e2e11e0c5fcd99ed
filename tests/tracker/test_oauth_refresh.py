"""Tracker connected by signing in, served by two server processes on one Neo4j (issue 11's refresh race).

The stand-in issues hour-long access tokens and rotating refresh tokens (``standin_oauth.py``).
Each round expires the access token at the stand-in and asks both replicas at once to call
Tracker; the stand-in answers their two 401s together, so both reach for the refresh at the same
instant. One replica takes the refresh lease, spends the refresh token and seals
the new set; the other waits and uses it: one refresh per round, never an ``invalid_grant``.

A revoked grant pauses the integration (``NEEDS_REAUTHORIZATION``) on every replica; a new sign-in
resumes it. The replicas' logs are captured and searched for every secret the flow handled.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import grpc
import httpx
import pytest

from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from tests.conftest import Tokens, bearer, server_env
from tests.integration.rpc import failure
from tests.replicas import START_SECONDS, Replica, serving, start_replica
from tests.support import UvicornThread
from tests.tracker.conftest import UNUSED_URL
from tests.tracker.standin import Tracker, create_app

CLIENT_ID = "tracker-test-app"
REDIRECT_URI = "http://127.0.0.1:9/oauth/callback"  # never called: the test reads the redirect itself
ROUNDS = 20

pytestmark = pytest.mark.timeout(300)


@dataclass
class Replicas:
    tracker: Tracker
    standin_url: str
    servers: list[Replica]
    admin: str
    secrets: list[str]  # known before the flow starts; the stand-in records the ones it issues

    async def stop(self) -> None:
        await asyncio.gather(*(server.stop() for server in self.servers))

    def standin(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.standin_url, timeout=30)

    def logs(self) -> str:
        return "\n".join(server.log_path.read_text(errors="replace") for server in self.servers)


@pytest.fixture
async def replicas(
    neo4j_connection: Connection, tokens: Tokens, encryption_keys: str, tmp_path: Path
) -> AsyncIterator[Replicas]:
    client_secret = f"trk-app-secret-{uuid.uuid4().hex}"
    tracker = Tracker(tokens=set())
    tracker.oauth.clients[CLIENT_ID] = client_secret
    tracker.boards["b-oauth"] = "OAuth board"
    for number in range(3):
        tracker.add_card("b-oauth", f"Card {number}", [f"Step {n}" for n in range(2)])
    secret_file = tmp_path / "tracker-client-secret"
    secret_file.write_text(client_secret + "\n")
    with UvicornThread(create_app(tracker)) as standin:
        env = server_env(neo4j_connection, tokens, UNUSED_URL, encryption_keys) | {
            "TRACKER_API_URL": f"{standin.url}/",
            "TRACKER_OAUTH_CLIENT_ID": CLIENT_ID,
            "TRACKER_OAUTH_CLIENT_SECRET_FILE": str(secret_file),
            "LOG_LEVEL": "DEBUG",  # the most the server ever says: none of it may be a secret
        }
        servers = [start_replica(env, tmp_path / f"replica-{n}.log", "tests.tracker.serve") for n in (1, 2)]
        stack = Replicas(tracker, standin.url, servers, tokens.admin, [client_secret, tokens.admin])
        try:
            deadline = time.monotonic() + START_SECONDS
            await asyncio.gather(*(serving(server, deadline) for server in servers))
            yield stack
        finally:
            for server in servers:  # also when the test failed: no process outlives its test
                if server.process.poll() is None:
                    server.process.kill()
                    server.process.wait(30)
            with contextlib.suppress(Exception):
                await stack.stop()


async def sign_in(stack: Replicas, replica: Replica, tenant: tuple[str, str]) -> pb.CompleteAuthorizationResponse:
    """StartAuthorization, the stand-in's consent (it approves at once), CompleteAuthorization."""
    started = await replica.stub.StartAuthorization(
        pb.StartAuthorizationRequest(org_id=tenant[0], project_id=tenant[1], name="tracker", redirect_uri=REDIRECT_URI),
        metadata=bearer(stack.admin),
    )
    asked = parse_qs(urlsplit(started.authorization_url).query)
    assert asked["code_challenge_method"] == ["S256"], "Tracker takes PKCE, so the server sends a challenge"
    assert "offline_access" in asked["scope"][0].split()
    async with httpx.AsyncClient(timeout=10) as browser:
        answer = await browser.get(started.authorization_url)
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    back = {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
    assert back["state"] == started.state
    done: pb.CompleteAuthorizationResponse = await replica.stub.CompleteAuthorization(
        pb.CompleteAuthorizationRequest(
            org_id=tenant[0], project_id=tenant[1], name="tracker", state=back["state"], code=back["code"]
        ),
        metadata=bearer(stack.admin),
    )
    assert done.integration.connection_status == pb.CONNECTION_STATUS_CONNECTED
    assert done.integration.settings.auth_method == pb.AUTH_METHOD_OAUTH
    assert [w.id for w in done.workspaces] == ["b-oauth"]
    return done


async def get(stack: Replicas, replica: Replica, tenant: tuple[str, str]) -> pb.Integration:
    request = pb.GetIntegrationRequest(org_id=tenant[0], project_id=tenant[1], name="tracker")
    found: pb.Integration = await replica.stub.GetIntegration(request, metadata=bearer(stack.admin))
    return found


def import_request(tenant: tuple[str, str]) -> pb.StartImportRequest:
    return pb.StartImportRequest(org_id=tenant[0], project_id=tenant[1], name="tracker")


async def stop_and_read_logs(stack: Replicas) -> str:
    """Stop both replicas (their logs are complete then) and check no secret the flow handled is in them."""
    await stack.stop()
    logs = stack.logs()
    assert "IntegrationService listening" in logs, "the logs were captured"
    secrets = [*stack.secrets, *stack.tracker.oauth.issued]
    assert len(secrets) > 10
    leaked = [f"{secret[:6]}... ({len(secret)} chars)" for secret in secrets if secret in logs]
    assert leaked == [], "secrets in the server logs"
    return logs


async def test_two_replicas_spend_each_rotating_refresh_token_once(replicas: Replicas, tenant: tuple[str, str]) -> None:
    oauth = replicas.tracker.oauth
    first, second = replicas.servers
    await sign_in(replicas, first, tenant)
    assert (oauth.refreshes, oauth.invalid_grants) == (0, 0)
    request = pb.TestConnectionRequest(org_id=tenant[0], project_id=tenant[1], name="tracker")
    started = time.monotonic()
    async with replicas.standin() as standin:
        for round_ in range(1, ROUNDS + 1):
            refreshes, refused = oauth.refreshes, oauth.unauthorized
            expired = await standin.post("/_test/oauth/expire", json={"refuse_together": 2})
            assert expired.json()["expired"] >= 1
            answers = await asyncio.gather(
                first.stub.TestConnection(request, metadata=bearer(replicas.admin)),
                second.stub.TestConnection(request, metadata=bearer(replicas.admin)),
            )
            assert [a.status for a in answers] == [pb.CONNECTION_STATUS_CONNECTED] * 2, (
                round_,
                [a.message for a in answers],
            )
            assert oauth.unauthorized - refused == 2, f"round {round_}: both replicas met the expired token"
            spent = oauth.refreshes - refreshes
            assert spent == 1, f"round {round_}: {spent} refreshes ({oauth.leeway_reuses} leeway reuses so far)"
    elapsed = time.monotonic() - started
    assert (oauth.refreshes, oauth.leeway_reuses, oauth.invalid_grants) == (ROUNDS, 0, 0)
    print(
        f"\nrefresh race: {ROUNDS} rounds in {elapsed:.2f}s ({elapsed / ROUNDS * 1000:.0f} ms/round), "
        f"{oauth.refreshes} refreshes ({oauth.refreshes / ROUNDS:.0f} per round), "
        f"{oauth.leeway_reuses} leeway reuses, {oauth.invalid_grants} invalid_grant, {oauth.unauthorized} 401s"
    )
    for replica in replicas.servers:  # both serve the last sealed set without another refresh
        assert (await get(replicas, replica, tenant)).connection_status == pb.CONNECTION_STATUS_CONNECTED
    logs = await stop_and_read_logs(replicas)
    assert logs.count("refreshed OAuth tokens of") == ROUNDS, "one sealed refresh per round, across both replicas"


async def test_a_revoked_grant_pauses_the_integration_on_every_replica_until_a_new_sign_in(
    replicas: Replicas, tenant: tuple[str, str]
) -> None:
    oauth = replicas.tracker.oauth
    first, second = replicas.servers
    await sign_in(replicas, first, tenant)
    async with replicas.standin() as standin:
        assert (await standin.post("/_test/oauth/revoke")).json() == {"revoked": 1}

    request = pb.TestConnectionRequest(org_id=tenant[0], project_id=tenant[1], name="tracker")
    check = await first.stub.TestConnection(request, metadata=bearer(replicas.admin))
    assert check.status == pb.CONNECTION_STATUS_NEEDS_REAUTHORIZATION, check.message
    assert "sign in again" in check.message
    assert (oauth.invalid_grants, oauth.refreshes) == (1, 0)

    assert (await get(replicas, second, tenant)).connection_status == pb.CONNECTION_STATUS_NEEDS_REAUTHORIZATION
    refused = await failure(
        second.stub.StartImport(
            pb.StartImportRequest(org_id=tenant[0], project_id=tenant[1], name="tracker"),
            metadata=bearer(replicas.admin),
        )
    )
    assert (refused.code, refused.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "NEEDS_REAUTHORIZATION")

    await sign_in(replicas, second, tenant)  # reconnect, through the other replica
    assert (await get(replicas, first, tenant)).connection_status == pb.CONNECTION_STATUS_CONNECTED
    job = await first.stub.StartImport(import_request(tenant), metadata=bearer(replicas.admin))
    final: pb.ImportJob | None = None
    async with asyncio.timeout(60):
        async for update in first.stub.WatchImportJob(
            pb.WatchImportJobRequest(org_id=tenant[0], project_id=tenant[1], job_id=job.id),
            metadata=bearer(replicas.admin),
        ):
            final = update
    assert final is not None
    assert final.state == pb.IMPORT_JOB_STATE_SUCCEEDED, final
    assert oauth.invalid_grants == 1
    await stop_and_read_logs(replicas)
