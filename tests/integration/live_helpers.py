"""Shared pieces of the live-sync tests: a whole stack of a chosen shape, and small graph reads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import neo4j

from devtools.neo4j_local import Connection
from sandbox.clickup.app import create_app
from sandbox.clickup.generator import GeneratorConfig, generate
from sandbox.clickup.state import Sandbox
from tests.conftest import RunningHub, Tokens, server_env, start_hub
from tests.support import UvicornThread, free_port
from webhook_gateway.app import create_app as create_gateway
from webhook_gateway.config import GatewayConfig


def task_name(driver: neo4j.Driver, tenant: tuple[str, str], task_id: str) -> str | None:
    records, _, _ = driver.execute_query(
        "MATCH (t:Task {projectId: $p, externalId: $id}) RETURN t.name AS name", p=tenant[1], id=task_id
    )
    return records[0]["name"] if records else None


StackFactory = Callable[[GeneratorConfig], AbstractAsyncContextManager["LiveStack"]]


@dataclass
class LiveStack:
    sandbox: Sandbox
    sandbox_url: str
    hub: RunningHub
    gateway_url: str
    token: str  # the sandbox user's ClickUp token

    @property
    def public_url(self) -> str:
        return f"{self.gateway_url}/webhooks/clickup"


@asynccontextmanager
async def live_stack(
    config: GeneratorConfig,
    token: str,
    connection: Connection,
    tokens: Tokens,
    keys: str,
    spool_dir: Path,
    settings: Mapping[str, str] | None = None,
) -> AsyncIterator[LiveStack]:
    """A sandbox of the given shape (``token`` for its first user), a server with the applying worker
    and a public webhook URL (the supervisor left to the test; ``settings`` override the server's
    environment), and the real gateway in front."""
    world = generate(config)
    world.tokens[token] = min(world.users)
    sandbox = Sandbox(world)
    sandbox.limiter.limit = None
    gateway_port = free_port()
    with UvicornThread(create_app(sandbox)) as clickup:
        env = server_env(connection, tokens, f"{clickup.url}/api/v2", keys) | {
            "WEBHOOK_WORKER": "on",
            "LIVE_SYNC_CHECK_SECONDS": "3600",
            "WEBHOOK_PUBLIC_URL": f"http://127.0.0.1:{gateway_port}/webhooks/clickup",
            **(settings or {}),
        }
        hub = await start_hub(env)
        gateway = GatewayConfig(
            server_target=hub.target, server_token=tokens.gateway, spool_path=spool_dir / f"spool-{gateway_port}.db"
        )
        try:
            with UvicornThread(create_gateway(gateway), gateway_port) as edge:
                yield LiveStack(sandbox, clickup.url, hub, edge.url, token)
        finally:
            await hub.channel.close(None)
            await hub.server.stop(grace=1)
