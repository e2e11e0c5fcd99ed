"""The Integration Gallery served by real uvicorn on loopback, talking gRPC to the real server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from starlette.applications import Starlette

from clients.gallery.app import create_app
from clients.gallery.config import GalleryConfig
from devtools.neo4j_local import Connection
from sandbox.clickup.app import create_app as create_sandbox
from sandbox.clickup.fixtures import TV_TOKEN
from sandbox.clickup.state import Sandbox
from tests.clients.signin_support import two_team_world
from tests.conftest import RunningHub, RunningSandbox, Tokens, hub_with, server_env
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


@contextlib.asynccontextmanager
async def serving_gallery(hub: RunningHub, token: str, tenant: tuple[str, str]) -> AsyncIterator[RunningGallery]:
    """The gallery for ``tenant`` in front of ``hub``, acting with ``token``."""
    config = GalleryConfig(server_target=hub.target, token=token, projects=(tenant,))
    server = UvicornThread(create_app(config))
    # Started and stopped off the event loop: the gRPC server under test runs on it.
    await asyncio.to_thread(server.__enter__)
    try:
        yield RunningGallery(server.url, *tenant)
    finally:
        await asyncio.to_thread(server.__exit__, None, None, None)


@pytest.fixture
async def gallery(hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]) -> AsyncIterator[RunningGallery]:
    async with serving_gallery(hub, tokens.admin, tenant) as running:
        yield running


# ---------------------------------------------------------------- sign-in (OAuth)


@dataclass(frozen=True)
class SignInGallery(RunningGallery):
    """A gallery on the two-workspace stack; ``app`` lets a test watch the gallery's own RPCs."""

    app: Starlette


@pytest.fixture(scope="session")
def oauth_sandbox() -> Iterator[RunningSandbox]:
    """A sandbox whose user belongs to two workspaces, so a sign-in can choose one of them."""
    sandbox = Sandbox(two_team_world())
    with UvicornThread(create_sandbox(sandbox)) as server:
        yield RunningSandbox(server.url, sandbox, TV_TOKEN)


@pytest.fixture(scope="session")
async def oauth_hub(
    neo4j_connection: Connection, tokens: Tokens, oauth_sandbox: RunningSandbox, encryption_keys: str
) -> AsyncIterator[RunningHub]:
    """The real server with the sandbox's OAuth app (``server_env``), talking to ``oauth_sandbox``."""
    async with hub_with(server_env(neo4j_connection, tokens, oauth_sandbox.api_url, encryption_keys)) as running:
        yield running


@pytest.fixture
async def signin_gallery(
    oauth_hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]
) -> AsyncIterator[SignInGallery]:
    app = create_app(GalleryConfig(server_target=oauth_hub.target, token=tokens.admin, projects=(tenant,)))
    server = UvicornThread(app)
    await asyncio.to_thread(server.__enter__)
    try:
        yield SignInGallery(server.url, *tenant, app)
    finally:
        await asyncio.to_thread(server.__exit__, None, None, None)
