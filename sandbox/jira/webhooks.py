"""Jira's webhooks in the sandbox: admin and dynamic registrations, signed deliveries (being written)."""

from __future__ import annotations

from starlette.routing import BaseRoute


def routes() -> list[BaseRoute]:
    return []
