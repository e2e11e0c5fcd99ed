"""``python -m tests.tracker.serve``: the server as ``python -m server`` runs it, with Tracker registered.

Tests that need real server processes (replicas on one Neo4j) start this one: the same
configuration, logging and SIGTERM handling as production, plus the suite's registry line.
"""

from __future__ import annotations

import asyncio
import os
import sys

from server import logs
from server.app import serve
from server.config import ConfigError, ServerConfig
from tests.tracker.registry import registry_with_tracker


def main() -> int:
    try:
        config = ServerConfig.from_env()
        registry = registry_with_tracker(os.environ)
    except ConfigError as exc:
        print(f"tracker test server: configuration error: {exc}", file=sys.stderr)
        return 2
    logs.configure(config.log_level, config.log_format)
    asyncio.run(serve(config, registry))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
