"""A generated Jira site served by the Jira sandbox on a real uvicorn, for tests that need one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sandbox.jira.app import create_app
from sandbox.jira.generator import GeneratorConfig, generate
from sandbox.jira.state import Sandbox
from tests.support import UvicornThread


@dataclass
class JiraSite:
    url: str
    sandbox: Sandbox


@contextmanager
def serving(config: GeneratorConfig) -> Iterator[JiraSite]:
    sandbox = Sandbox(generate(config))
    with UvicornThread(create_app(sandbox)) as server:
        yield JiraSite(server.url, sandbox)
