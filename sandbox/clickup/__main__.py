"""``python -m sandbox.clickup --port 8990 [--fixture test-vectors | --seed N --tasks-per-list N ...]``."""

from __future__ import annotations

import argparse
import logging

import uvicorn

from sandbox.clickup.app import create_app
from sandbox.clickup.fixtures import test_vector_world
from sandbox.clickup.generator import GeneratorConfig, generate
from sandbox.clickup.oauth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from sandbox.clickup.ratelimit import TokenRateLimiter
from sandbox.clickup.state import Sandbox


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="clickup-sandbox", description="A faithful ClickUp API v2 sandbox.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8990)
    parser.add_argument("--fixture", choices=["generated", "test-vectors"], default="generated")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workspaces", type=int, default=1)
    parser.add_argument("--spaces", type=int, default=2)
    parser.add_argument("--tasks-per-list", type=int, default=12)
    parser.add_argument("--rate-limit", type=int, default=100, help="requests per window per token; 0: unlimited")
    parser.add_argument("--rate-window", type=float, default=60.0, help="window length in seconds")
    parser.add_argument("--token", help="also accept this personal token (for the owner user)")
    args = parser.parse_args(argv)

    world = (
        test_vector_world()
        if args.fixture == "test-vectors"
        else generate(
            GeneratorConfig(
                seed=args.seed, workspaces=args.workspaces, spaces=args.spaces, tasks_per_list=args.tasks_per_list
            )
        )
    )
    if args.token:
        world.tokens[args.token] = min(world.users)
    sandbox = Sandbox(world, limiter=TokenRateLimiter(args.rate_limit or None, args.rate_window))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger(__name__).info(
        "ClickUp sandbox on http://%s:%d/api/v2 with %d tasks; tokens: %s",
        args.host,
        args.port,
        len(world.tasks),
        ", ".join(sorted(world.tokens)),
    )
    logging.getLogger(__name__).info(
        "OAuth consent page on http://%s:%d/api; app %s / %s accepts any http://127.0.0.1 or http://localhost "
        "redirect URI; signed in as user %d unless user_id= says otherwise",
        args.host,
        args.port,
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        min(world.users),
    )
    uvicorn.run(create_app(sandbox), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
