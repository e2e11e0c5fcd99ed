"""Shared fixtures: one real Neo4j per session, a ClickUp sandbox, the real gRPC server.

Neo4j comes from NEO4J_URI if set, else the project's own jar launcher (devtools), else
testcontainers where a Docker engine answers. If none works the session fails loudly.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import grpc
import neo4j
import pytest

from devtools.neo4j_local import Connection, LocalNeo4j
from graph.connection import GraphConfig, open_driver
from graph.migrations import migrate
from integrations.v1 import integration_service_pb2_grpc as pb_grpc
from sandbox.clickup.app import create_app
from sandbox.clickup.fixtures import TV_TOKEN, test_vector_world
from sandbox.clickup.model import World
from sandbox.clickup.state import Sandbox
from server.app import HubServer
from server.auth import hash_token
from server.config import ServerConfig
from server.crypto import generate_key_spec
from server.integrations.base import AnyIntegration
from server.integrations.registry import IntegrationRegistry
from tests.support import UvicornThread

TEST_NEO4J_PORT = int(os.environ.get("TEST_NEO4J_PORT", "7697"))
# The suite reaches its own Neo4j through the routing scheme, as a cluster deployment does (issue 13,
# item 4); ``NEO4J_TEST_SCHEME=bolt`` runs it over a direct connection instead.
TEST_NEO4J_SCHEME = os.environ.get("NEO4J_TEST_SCHEME", "neo4j")
if TEST_NEO4J_SCHEME not in ("neo4j", "bolt"):
    raise pytest.UsageError(f"NEO4J_TEST_SCHEME must be neo4j or bolt, not {TEST_NEO4J_SCHEME!r}")


def _wipe(connection: Connection) -> None:
    """Tests own their database: start empty so global checks (rotation, the at-rest audit) are exact."""
    auth = (connection.user, connection.password)
    # CALL ... IN TRANSACTIONS needs an auto-commit query, hence a session rather than execute_query.
    with neo4j.GraphDatabase.driver(connection.uri, auth=auth) as driver, driver.session(database="neo4j") as session:
        session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS").consume()


@pytest.fixture(scope="session")
def neo4j_connection() -> Iterator[Connection]:
    if os.environ.get("NEO4J_URI"):
        if os.environ.get("NEO4J_TEST_WIPE") != "yes":
            pytest.fail(
                "NEO4J_URI is set and the tests wipe that database. Point it at a throwaway database and "
                "set NEO4J_TEST_WIPE=yes, or unset NEO4J_URI to use the project's own Neo4j."
            )
        connection = Connection(
            os.environ["NEO4J_URI"], os.environ.get("NEO4J_USER", "neo4j"), os.environ.get("NEO4J_PASSWORD", "")
        )
        _wipe(connection)
        yield connection
        return
    if shutil.which("java") and shutil.which("mvn"):
        instance = LocalNeo4j("test", TEST_NEO4J_PORT, heap="1g")
        was_running = instance.pid() is not None and instance.answers()
        started = instance.start()
        connection = Connection(
            started.uri.replace("bolt://", f"{TEST_NEO4J_SCHEME}://", 1), started.user, started.password
        )
        _wipe(connection)
        yield connection
        if not was_running:
            instance.stop()
        return
    from testcontainers.neo4j import Neo4jContainer  # only where a Docker engine exists

    with Neo4jContainer("neo4j:5.26-community", password="test-password") as container:  # pragma: no cover
        connection = Connection(container.get_connection_url(), "neo4j", "test-password")
        _wipe(connection)
        yield connection


@pytest.fixture
async def graph_driver(neo4j_connection: Connection) -> AsyncIterator[neo4j.AsyncDriver]:
    """An async driver on a migrated database, as the server guarantees before it writes (the project
    write lock's constraint, the key constraints): a writer test run alone must not depend on an
    earlier test having started a server."""
    driver = await open_driver(GraphConfig(neo4j_connection.uri, neo4j_connection.user, neo4j_connection.password))
    try:
        await migrate(driver, "neo4j")
        yield driver
    finally:
        await driver.close()


@pytest.fixture(scope="session")
def neo4j_driver(neo4j_connection: Connection) -> Iterator[neo4j.Driver]:
    """A plain synchronous driver, for tests that inspect the raw database."""
    with neo4j.GraphDatabase.driver(
        neo4j_connection.uri, auth=(neo4j_connection.user, neo4j_connection.password)
    ) as driver:
        yield driver


# ---------------------------------------------------------------- tokens and tenants


@dataclass(frozen=True)
class Tokens:
    admin: str  # read + write on every tenant
    reader: str  # read only
    tenant: str  # read + write, pinned to org "acme" / project "p1"
    gateway: str  # webhooks:deliver only

    def config(self) -> str:
        entries = [
            {"name": "admin", "sha256": hash_token(self.admin), "scopes": ["integrations:read", "integrations:write"]},
            {"name": "reader", "sha256": hash_token(self.reader), "scopes": ["integrations:read"]},
            {
                "name": "tenant",
                "sha256": hash_token(self.tenant),
                "scopes": ["integrations:read", "integrations:write"],
                "org_id": "acme",
                "project_id": "p1",
            },
            {"name": "gateway", "sha256": hash_token(self.gateway), "scopes": ["webhooks:deliver"]},
        ]
        return json.dumps({"tokens": entries})


@pytest.fixture(scope="session")
def tokens() -> Tokens:
    return Tokens(*(f"test-{role}-{uuid.uuid4().hex}" for role in ("admin", "reader", "tenant", "gateway")))


@pytest.fixture
def tenant() -> tuple[str, str]:
    """A fresh (org, project) per test: tests share one database without seeing each other."""
    return f"org-{uuid.uuid4().hex[:12]}", f"proj-{uuid.uuid4().hex[:12]}"


# ---------------------------------------------------------------- sandbox


@dataclass
class RunningSandbox:
    url: str
    sandbox: Sandbox
    token: str

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v2"


@contextlib.contextmanager
def serve_world(world: World, token: str, *, rate_limited: bool = True) -> Iterator[RunningSandbox]:
    """``world`` served by the ClickUp sandbox on loopback, ``token`` signing in as its first user;
    ``rate_limited`` False for tests of something else than the limit."""
    world.tokens[token] = min(world.users)
    sandbox = Sandbox(world)
    if not rate_limited:
        sandbox.limiter.limit = None
    with UvicornThread(create_app(sandbox)) as server:
        yield RunningSandbox(server.url, sandbox, token)


@pytest.fixture(scope="session")
def clickup_sandbox() -> Iterator[RunningSandbox]:
    sandbox = Sandbox(test_vector_world())
    with UvicornThread(create_app(sandbox)) as server:
        yield RunningSandbox(server.url, sandbox, TV_TOKEN)


# ---------------------------------------------------------------- the gRPC server


def server_env(connection: Connection, tokens: Tokens, api_url: str, keys: str) -> dict[str, str]:
    return {
        "INTEGRATIONS_GRPC_ADDRESS": "127.0.0.1:0",
        "NEO4J_URI": connection.uri,
        "NEO4J_USER": connection.user,
        "NEO4J_PASSWORD": connection.password,
        "INTEGRATION_ENCRYPTION_KEYS": keys,
        "INTEGRATIONS_AUTH_TOKENS": tokens.config(),
        "CLICKUP_API_URL": api_url,
        "CLICKUP_TIMEOUT_SECONDS": "5",
        # The sandbox's OAuth app and consent page (sandbox/clickup: client "sandbox-client").
        "CLICKUP_OAUTH_CLIENT_ID": "sandbox-client",
        "CLICKUP_OAUTH_CLIENT_SECRET": "sandbox-secret",
        "CLICKUP_OAUTH_AUTHORIZE_URL": api_url.removesuffix("/api/v2") + "/api",
        "SHUTDOWN_GRACE_SECONDS": "5",
        # Test servers share one database but talk to different sandboxes: only a test that needs
        # events applied turns its server's worker on.
        "WEBHOOK_WORKER": "off",
        # The live-sync supervisor reconciles every integration in the (shared) database: a test that
        # wants it calls check_once itself, so no test's server changes another test's webhooks.
        "LIVE_SYNC_CHECK_SECONDS": "3600",
    }


@pytest.fixture(scope="session")
def encryption_keys() -> str:
    return generate_key_spec("test1")


@dataclass
class RunningHub:
    server: HubServer
    target: str
    channel: grpc.aio.Channel
    stub: pb_grpc.IntegrationServiceAsyncStub  # the .pyi's name for a stub over an aio channel


async def start_hub(env: dict[str, str], registry: IntegrationRegistry | None = None) -> RunningHub:
    hub = HubServer(ServerConfig.from_env(env), registry)
    port = await hub.start()
    target = f"127.0.0.1:{port}"
    channel = grpc.aio.insecure_channel(target)
    return RunningHub(hub, target, channel, pb_grpc.IntegrationServiceStub(channel))


@contextlib.asynccontextmanager
async def hub_with(env: dict[str, str], *plugins: AnyIntegration) -> AsyncIterator[RunningHub]:
    """A server with the shipped integrations and ``plugins`` registered (one line each, as in production)."""
    registry = ServerConfig.from_env(env).plugins
    for plugin in plugins:
        registry.register(plugin)
    running = await start_hub(env, registry)
    try:
        yield running
    finally:
        await running.channel.close(None)
        await running.server.stop(grace=1)


@pytest.fixture(scope="session")
async def hub(
    neo4j_connection: Connection, tokens: Tokens, clickup_sandbox: RunningSandbox, encryption_keys: str
) -> AsyncIterator[RunningHub]:
    running = await start_hub(server_env(neo4j_connection, tokens, clickup_sandbox.api_url, encryption_keys))
    yield running
    await running.channel.close(None)
    await running.server.stop(grace=1)


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)
