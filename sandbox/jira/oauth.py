"""Atlassian's OAuth 2.0 (3LO) in the sandbox (being written)."""

from __future__ import annotations

from starlette.routing import BaseRoute


def routes() -> list[BaseRoute]:
    return []
