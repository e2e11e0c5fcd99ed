"""One Tracker stack per module: the stand-in, the real server with the Tracker plugin registered
(and its worker applying webhook events), the real gateway in front, which learns the plugin's
signing scheme from the server. Tests keep apart by boards and tenants of their own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import neo4j
import pytest
from google.protobuf import field_mask_pb2

from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from tests.conftest import RunningHub, Tokens, bearer, server_env, start_hub
from tests.support import UvicornThread, free_port
from tests.tracker.registry import registry_with_tracker
from tests.tracker.standin import Tracker, create_app
from webhook_gateway.app import create_app as create_gateway
from webhook_gateway.config import GatewayConfig

TOKEN = "trk_" + uuid.uuid4().hex
UNUSED_URL = "http://127.0.0.1:9/api/v2"  # the ClickUp plugin is registered but never called here


@dataclass
class TrackerStack:
    tracker: Tracker
    standin_url: str
    hub: RunningHub
    gateway_url: str
    admin: str

    def new_board(self, cards: int = 3, items: int = 2) -> str:
        """A board of the test's own, with cards made quietly (it has no webhook yet)."""
        board_id = f"b{uuid.uuid4().hex[:10]}"
        self.tracker.boards[board_id] = f"Board {board_id}"
        for number in range(cards):
            self.tracker.add_card(board_id, f"Card {number}", [f"Step {n}" for n in range(items)])
        return board_id

    def standin(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.standin_url, timeout=30)

    async def configure(
        self, tenant: tuple[str, str], board_ids: list[str], *, auto_sync: bool = False, enabled: bool = True
    ) -> pb.Integration:
        settings = pb.IntegrationSettings(auth_method=pb.AUTH_METHOD_API_TOKEN, api_token=TOKEN)
        settings.options.update({"board_ids": board_ids})
        settings.sync_settings.auto_sync = auto_sync
        request = pb.UpdateIntegrationRequest(
            org_id=tenant[0],
            project_id=tenant[1],
            integration=pb.Integration(name="tracker", enabled=enabled, settings=settings),
            update_mask=field_mask_pb2.FieldMask(paths=["settings", "enabled"]),
        )
        result: pb.Integration = await self.hub.stub.UpdateIntegration(request, metadata=bearer(self.admin))
        return result

    async def run_import(self, tenant: tuple[str, str]) -> pb.ImportJob:
        job = await self.hub.stub.StartImport(
            pb.StartImportRequest(org_id=tenant[0], project_id=tenant[1], name="tracker"), metadata=bearer(self.admin)
        )
        final: pb.ImportJob | None = None
        async with asyncio.timeout(60):
            stream = self.hub.stub.WatchImportJob(
                pb.WatchImportJobRequest(org_id=tenant[0], project_id=tenant[1], job_id=job.id),
                metadata=bearer(self.admin),
            )
            async for update in stream:
                final = update
        assert final is not None
        return final


@pytest.fixture(scope="module")
async def stack(
    neo4j_connection: Connection, tokens: Tokens, encryption_keys: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TrackerStack]:
    tracker = Tracker(tokens={TOKEN})
    gateway_port = free_port()
    spool: Path = tmp_path_factory.mktemp("tracker") / "spool.db"
    with UvicornThread(create_app(tracker)) as standin:
        env = server_env(neo4j_connection, tokens, UNUSED_URL, encryption_keys) | {
            "WEBHOOK_WORKER": "on",
            "WEBHOOK_PUBLIC_URL": f"http://127.0.0.1:{gateway_port}",
            "TRACKER_API_URL": f"{standin.url}/",
        }
        hub = await start_hub(env, registry_with_tracker(env))
        # Set up as an operator would, with nothing about Tracker: the gateway learns its signing
        # scheme from the server (the plugin's webhook_scheme).
        edge = GatewayConfig.from_env(
            {
                "GATEWAY_SERVER_TARGET": hub.target,
                "GATEWAY_SERVER_TOKEN": tokens.gateway,
                "GATEWAY_SPOOL_PATH": str(spool),
            }
        )
        try:
            with UvicornThread(create_gateway(edge), gateway_port) as gateway:
                yield TrackerStack(tracker, standin.url, hub, gateway.url, tokens.admin)
        finally:
            await hub.channel.close(None)
            await hub.server.stop(grace=1)


def count(driver: neo4j.Driver, query: str, **params: object) -> int:
    records, _, _ = driver.execute_query(query, params)
    return int(records[0][0])
