"""The Integration Gallery served by real uvicorn on loopback, talking gRPC to the real server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from clients.gallery.app import create_app
from clients.gallery.config import GalleryConfig
from tests.conftest import RunningHub, Tokens
from tests.support import UvicornThread


@dataclass(frozen=True)
class RunningGallery:
    url: str
    org: str
    project: str

    @property
    def page(self) -> str:
        return f"{self.url}/orgs/{self.org}/projects/{self.project}"

    @property
    def api(self) -> str:
        return f"{self.url}/api/orgs/{self.org}/projects/{self.project}"


@pytest.fixture
async def gallery(hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]) -> AsyncIterator[RunningGallery]:
    config = GalleryConfig(server_target=hub.target, token=tokens.admin, projects=(tenant,))
    server = UvicornThread(create_app(config))
    # Started and stopped off the event loop: the gRPC server under test runs on it.
    await asyncio.to_thread(server.__enter__)
    try:
        yield RunningGallery(server.url, *tenant)
    finally:
        await asyncio.to_thread(server.__exit__, None, None, None)
