"""Jira signed in through OAuth, served by two server processes on one Neo4j: each rotating refresh
token is spent once whichever replica meets the expired access token (V8's leeway never needed), a
revoked grant pauses the integration on both, and no token, code or secret reaches either log."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from sandbox.jira.generator import GeneratorConfig
from tests.conftest import RunningSandbox, Tokens, bearer, server_env
from tests.integration.test_jira_oauth import CLIENT_SECRET, jira_env, register_app, sign_in
from tests.jira_sites import JiraSite, serving
from tests.replicas import START_SECONDS, Replica, start_replica
from tests.replicas import serving as replica_serving

ROUNDS = 20
pytestmark = pytest.mark.timeout(300)


@dataclass
class Replicas:
    site: JiraSite
    servers: list[Replica]
    admin: str

    def logs(self) -> str:
        return "\n".join(server.log_path.read_text(errors="replace") for server in self.servers)


@pytest.fixture
async def replicas(
    neo4j_connection: Connection,
    tokens: Tokens,
    clickup_sandbox: RunningSandbox,
    encryption_keys: str,
    tmp_path: Path,
) -> AsyncIterator[Replicas]:
    with serving(GeneratorConfig(seed=23, projects=1, issues_per_project=5)) as site:
        register_app(site.url)
        env = jira_env(server_env(neo4j_connection, tokens, clickup_sandbox.api_url, encryption_keys), site) | {
            "LOG_LEVEL": "DEBUG",  # the most the server ever says: none of it may be a secret
        }
        servers = [start_replica(env, tmp_path / f"replica-{n}.log") for n in (1, 2)]
        try:
            deadline = time.monotonic() + START_SECONDS
            await asyncio.gather(*(replica_serving(server, deadline) for server in servers))
            yield Replicas(site, servers, tokens.admin)
        finally:
            for server in servers:
                with contextlib.suppress(Exception):
                    await server.stop()


async def test_two_replica_processes_spend_each_rotating_refresh_token_once(
    replicas: Replicas, tenant: tuple[str, str]
) -> None:
    oauth = replicas.site.sandbox.oauth
    first, second = replicas.servers
    await sign_in(first, replicas.admin, tenant, replicas.site.sandbox.site.name)
    before = (oauth.stats.refreshes, oauth.stats.leeway_reuses, oauth.stats.invalid_grants)
    request = pb.TestConnectionRequest(org_id=tenant[0], project_id=tenant[1], name="jira")
    started = time.monotonic()
    for round_ in range(1, ROUNDS + 1):
        refreshes = oauth.stats.refreshes
        for held in oauth.access_tokens.values():  # the access token dies at Atlassian: both replicas meet a 401
            held.expires_at = 0
        answers = await asyncio.gather(
            first.stub.TestConnection(request, metadata=bearer(replicas.admin)),
            second.stub.TestConnection(request, metadata=bearer(replicas.admin)),
        )
        assert all(a.ok for a in answers), (round_, [a.message for a in answers])
        assert oauth.stats.refreshes - refreshes == 1, f"round {round_}: one refresh, whichever replica did it"
    elapsed = time.monotonic() - started
    after = (oauth.stats.refreshes, oauth.stats.leeway_reuses, oauth.stats.invalid_grants)
    assert (after[0] - before[0], after[1] - before[1], after[2] - before[2]) == (ROUNDS, 0, 0)
    print(f"\nJira refresh race: {ROUNDS} rounds in {elapsed:.2f}s, {after[0] - before[0]} refreshes, 0 leeway reuses")

    issued = [*oauth.access_tokens, *oauth.refresh_tokens, CLIENT_SECRET, replicas.admin]
    for server in replicas.servers:
        await server.stop()
    logs = replicas.logs()
    assert "IntegrationService listening" in logs, "the logs were captured"
    leaked = [f"{secret[:6]}... ({len(secret)} chars)" for secret in issued if secret in logs]
    assert leaked == [], "secrets in the server logs"


async def test_a_revoked_grant_needs_a_new_sign_in_on_every_replica(
    replicas: Replicas, tenant: tuple[str, str]
) -> None:
    oauth = replicas.site.sandbox.oauth
    first, second = replicas.servers
    await sign_in(first, replicas.admin, tenant, replicas.site.sandbox.site.name)
    for token in list(oauth.access_tokens):
        oauth.revoke(token)
    request = pb.TestConnectionRequest(org_id=tenant[0], project_id=tenant[1], name="jira")
    assert not (await first.stub.TestConnection(request, metadata=bearer(replicas.admin))).ok
    get = pb.GetIntegrationRequest(org_id=tenant[0], project_id=tenant[1], name="jira")
    for replica in (first, second):
        seen = await replica.stub.GetIntegration(get, metadata=bearer(replicas.admin))
        assert seen.connection_status == pb.CONNECTION_STATUS_NEEDS_REAUTHORIZATION
    again = await sign_in(second, replicas.admin, tenant, replicas.site.sandbox.site.name)
    assert again.integration.connection_status == pb.CONNECTION_STATUS_CONNECTED
    assert (await first.stub.TestConnection(request, metadata=bearer(replicas.admin))).ok
