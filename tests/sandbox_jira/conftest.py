"""A Jira sandbox on a real uvicorn server, with a clock the tests move (token expiry, rate refill)."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from sandbox.jira.app import create_app
from sandbox.jira.generator import MAIN_EMAIL, MAIN_TOKEN, GeneratorConfig, generate
from sandbox.jira.model import Site
from sandbox.jira.state import Sandbox
from tests.support import UvicornThread

CONFIG = GeneratorConfig(seed=11, projects=3, issues_per_project=25)


class FakeClock:
    def __init__(self, now: float = 1_767_700_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def basic(email: str, token: str) -> str:
    return "Basic " + base64.b64encode(f"{email}:{token}".encode()).decode()


@pytest.fixture(scope="session")
def jira_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def jira_sandbox(jira_clock: FakeClock) -> Sandbox:
    return Sandbox(generate(CONFIG), clock=jira_clock)


@pytest.fixture(scope="session")
def site(jira_sandbox: Sandbox) -> Site:
    return jira_sandbox.site


@pytest.fixture(scope="session")
def jira_url(jira_sandbox: Sandbox) -> Iterator[str]:
    with UvicornThread(create_app(jira_sandbox)) as server:
        yield server.url


@pytest.fixture
def jira(jira_url: str) -> Iterator[httpx.Client]:
    """The main user's client (Mia: sees every live project but the restricted one)."""
    with httpx.Client(base_url=jira_url, headers={"Authorization": basic(MAIN_EMAIL, MAIN_TOKEN)}) as client:
        yield client


@pytest.fixture
def anonymous(jira_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=jira_url) as client:
        yield client
