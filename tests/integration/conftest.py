"""Fixtures of the live-sync tests: a ClickUp token of the test's own and a factory of whole stacks."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from devtools.neo4j_local import Connection
from tests.conftest import Tokens
from tests.integration.live_helpers import StackFactory, live_stack


@pytest.fixture
def token() -> str:
    """A ClickUp token of this test alone: the supervisor, which looks at every registration in the
    shared database, then cannot reach the webhooks of earlier tests in this test's sandbox."""
    return f"pk_5550001_{uuid.uuid4().hex}"


@pytest.fixture
def stacks(
    neo4j_connection: Connection, tokens: Tokens, encryption_keys: str, tmp_path: Path, token: str
) -> StackFactory:
    return lambda config: live_stack(config, token, neo4j_connection, tokens, encryption_keys, tmp_path)
