"""``python -m sandbox.jira --port 8991 [--seed N --projects N --issues-per-project N --rate-limit N]``.

``--oauth-client-id ID --oauth-client-secret SECRET --oauth-redirect-uri URI [...]`` registers a 3LO
app at start-up, as ``POST /_sandbox/oauth/clients`` would (``/authorize``, ``/oauth/token``).
"""

from __future__ import annotations

import argparse
import logging

import uvicorn

from sandbox.jira.app import create_app
from sandbox.jira.generator import GeneratorConfig, generate
from sandbox.jira.oauth import OAuthApp, register
from sandbox.jira.state import Sandbox


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jira-sandbox", description="A faithful Jira Cloud REST sandbox.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8991)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--projects", type=int, default=3)
    parser.add_argument("--issues-per-project", type=int, default=20)
    parser.add_argument("--rate-limit", type=int, default=0, help="burst capacity per credential; 0: off")
    parser.add_argument("--refill", type=float, default=10.0, help="burst tokens regained per second")
    parser.add_argument("--oauth-client-id", help="register a 3LO app with this client id")
    parser.add_argument("--oauth-client-secret", help="its client secret (required with --oauth-client-id)")
    parser.add_argument("--oauth-redirect-uri", action="append", default=[], help="its callback URL (repeatable)")
    parser.add_argument("--oauth-app-name", default="Sandbox Integration", help="the name the consent page shows")
    args = parser.parse_args(argv)
    if args.oauth_client_id and (not args.oauth_client_secret or not args.oauth_redirect_uri):
        parser.error("--oauth-client-id needs --oauth-client-secret and at least one --oauth-redirect-uri")

    site = generate(GeneratorConfig(seed=args.seed, projects=args.projects, issues_per_project=args.issues_per_project))
    sandbox = Sandbox(site)
    sandbox.configure({"rate_limit": args.rate_limit or None, "rate_limit_refill_per_second": args.refill})
    if args.oauth_client_id:
        uris = tuple(args.oauth_redirect_uri)
        register(sandbox, OAuthApp(args.oauth_client_id, args.oauth_client_secret, uris, args.oauth_app_name))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger(__name__).info(
        "Jira sandbox on http://%s:%d/rest/api/3 (cloudId %s) with %d issues; credentials: %s",
        args.host,
        args.port,
        site.cloud_id,
        len(site.issues),
        ", ".join(f"{site.users[a].email}:{t}" for t, a in site.api_tokens.items()),
    )
    uvicorn.run(create_app(sandbox), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
