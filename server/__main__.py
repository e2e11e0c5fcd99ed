"""``python -m server [serve|rotate-keys|new-key|new-token]``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from server import logs
from server.auth import Scope, hash_token, new_token
from server.config import ConfigError, ServerConfig
from server.crypto import KeyConfigError, generate_key_spec


def _batch_size(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 10000:
        raise argparse.ArgumentTypeError("must be a whole number from 1 to 10000")
    return int(text)


async def _rotate(config: ServerConfig, batch: int, check_only: bool) -> int:
    """Re-seals every sealed value under the newest key (or, with ``--check``, only counts what is
    left); exits 0 only when all of them are under it, which is when older keys may be dropped."""
    from graph.connection import GraphConfig, open_driver
    from graph.migrations import migrate
    from graph.sealed_values import SEALED_FIELDS, SealedValues
    from server.rotate import rotate_keys

    driver = await open_driver(
        GraphConfig(config.neo4j_uri, config.neo4j_user, config.neo4j_password, config.neo4j_database)
    )
    key_id = config.keyring.primary_key_id
    try:
        await migrate(driver, config.neo4j_database)
        values = SealedValues(driver, config.neo4j_database)
        if check_only:
            left = 0
            for field in SEALED_FIELDS:
                count = await values.count(field, config.keyring.primary_prefix)
                print(f"{field.name}: {count.under_prefix} under key {key_id!r}, {count.other} not (yet)")
                left += count.other
            print("all sealed values are under the newest key" if not left else "run rotate-keys before dropping a key")
            return 1 if left else 0
        report = await rotate_keys(values, config.keyring, batch)
    finally:
        await driver.close()
    print(f"re-sealing under key {key_id!r}")
    for field_report in report.fields:
        print(field_report.line())
        for who, why in field_report.unreadable:
            print(f"  unreadable {field_report.name} {who}: {why}")
    if report.complete:
        print(f"done: every sealed value is under key {key_id!r}; older keys may now be dropped")
        return 0
    print(
        "NOT done: keep the older keys configured. Unreadable values need the key they were sealed with "
        "(add it to INTEGRATION_ENCRYPTION_KEYS and run again) or must be re-entered; values that changed "
        "during the run are re-sealed by running again.",
        file=sys.stderr,
    )
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="integrations-server", description="The IntegrationService gRPC server.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the server (default)")
    rotate = sub.add_parser(
        "rotate-keys", help="re-seal every sealed value (settings, webhook secrets) under the newest key"
    )
    rotate.add_argument("--check", action="store_true", help="only count the values not yet under the newest key")
    rotate.add_argument("--batch", type=_batch_size, default=200, help="rows per transaction (1-10000)")
    key = sub.add_parser("new-key", help="print a fresh INTEGRATION_ENCRYPTION_KEYS entry")
    key.add_argument("--id", default="k1")
    token = sub.add_parser("new-token", help="print a fresh API token and its config entry")
    token.add_argument("--name", required=True)
    token.add_argument("--scope", action="append", choices=[s.value for s in Scope], required=True)
    token.add_argument("--org-id")
    token.add_argument("--project-id")
    args = parser.parse_args(argv)

    if args.command == "new-key":
        try:
            print(generate_key_spec(args.id))
        except KeyConfigError as exc:
            print(f"integrations-server: --id: {exc}", file=sys.stderr)
            return 2
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
        return asyncio.run(_rotate(config, args.batch, args.check))
    from server.app import serve

    asyncio.run(serve(config))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
