"""``python -m server [serve|rotate-keys|new-key|new-token]``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from server import logs
from server.auth import Scope, hash_token, new_token
from server.config import ConfigError, ServerConfig
from server.crypto import generate_key_spec


async def _rotate(config: ServerConfig) -> int:
    from graph.connection import GraphConfig, open_driver
    from graph.integration_store import IntegrationStore
    from graph.migrations import migrate
    from server.rotate import rotate_keys

    driver = await open_driver(
        GraphConfig(config.neo4j_uri, config.neo4j_user, config.neo4j_password, config.neo4j_database)
    )
    try:
        await migrate(driver, config.neo4j_database)
        result = await rotate_keys(IntegrationStore(driver, config.neo4j_database), config.keyring)
    finally:
        await driver.close()
    print(
        f"re-encrypted {result.rotated} setting(s) under key {config.keyring.primary_key_id!r}; "
        f"{result.unreadable} unreadable"
    )
    return 1 if result.unreadable else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="integrations-server", description="The IntegrationService gRPC server.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the server (default)")
    sub.add_parser("rotate-keys", help="re-encrypt all settings under the newest key")
    key = sub.add_parser("new-key", help="print a fresh INTEGRATION_ENCRYPTION_KEYS entry")
    key.add_argument("--id", default="k1")
    token = sub.add_parser("new-token", help="print a fresh API token and its config entry")
    token.add_argument("--name", required=True)
    token.add_argument("--scope", action="append", choices=[s.value for s in Scope], required=True)
    token.add_argument("--org-id")
    token.add_argument("--project-id")
    args = parser.parse_args(argv)

    if args.command == "new-key":
        print(generate_key_spec(args.id))
        return 0
    if args.command == "new-token":
        secret = new_token()
        entry = {
            "name": args.name,
            "sha256": hash_token(secret),
            "scopes": args.scope,
            "org_id": args.org_id,
            "project_id": args.project_id,
        }
        print(f"token (give to the caller, shown once): {secret}", file=sys.stderr)
        print(json.dumps(entry))
        return 0
    try:
        config = ServerConfig.from_env()
    except ConfigError as exc:
        print(f"integrations-server: configuration error: {exc}", file=sys.stderr)
        return 2
    logs.configure(config.log_level, config.log_format)
    if args.command == "rotate-keys":
        return asyncio.run(_rotate(config))
    from server.app import serve

    asyncio.run(serve(config))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
