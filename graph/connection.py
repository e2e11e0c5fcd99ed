"""Opening the one async driver a process uses, and waiting until the server answers."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import neo4j

DEFAULT_DATABASE = "neo4j"


@dataclass(frozen=True)
class GraphConfig:
    uri: str
    user: str
    password: str
    database: str = DEFAULT_DATABASE

    def __repr__(self) -> str:
        return f"GraphConfig(uri={self.uri!r}, user={self.user!r}, password='***', database={self.database!r})"


async def open_driver(config: GraphConfig, *, connect_timeout: float = 30.0) -> neo4j.AsyncDriver:
    """Open a driver and wait (with a deadline) until Neo4j accepts a session."""
    # "Property does not exist yet" notifications are noise for a schema that grows as data arrives.
    driver = neo4j.AsyncGraphDatabase.driver(
        config.uri, auth=(config.user, config.password), notifications_min_severity="OFF"
    )
    deadline = time.monotonic() + connect_timeout
    while True:
        try:
            await driver.verify_connectivity()
            return driver
        except neo4j.exceptions.AuthError:
            await driver.close()
            raise
        except (neo4j.exceptions.ServiceUnavailable, OSError):
            if time.monotonic() >= deadline:
                await driver.close()
                raise
            await asyncio.sleep(0.5)


def to_datetime(value: Any) -> datetime | None:
    """A Neo4j temporal (or None) as a Python datetime."""
    if value is None:
        return None
    native = value.to_native() if hasattr(value, "to_native") else value
    assert isinstance(native, datetime)
    return native


def is_transient(error: BaseException) -> bool:
    """Whether a failure is the database's passing state (unreachable, leader change, deadlock) rather
    than something about the data: the first is retried as a whole, the second isolated."""
    return isinstance(
        error,
        neo4j.exceptions.ServiceUnavailable | neo4j.exceptions.SessionExpired | neo4j.exceptions.TransientError,
    )
