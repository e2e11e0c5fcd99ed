"""Gallery configuration from the environment, checked at start-up."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from clients.credentials import TokenMissing, bearer_token

# The server's own rule for org and project ids; checked here too so a bad setting fails at start-up.
_SCOPE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


class ConfigError(ValueError):
    """A setting is missing or wrong; the message names the variable."""


@dataclass(frozen=True)
class GalleryConfig:
    server_target: str
    token: str
    # The (org, project) pairs this gallery serves; any other is answered with 404.
    projects: tuple[tuple[str, str], ...]
    log_format: str = "text"

    def __repr__(self) -> str:
        return f"GalleryConfig(server_target={self.server_target!r}, projects={self.projects!r}, token=***)"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GalleryConfig:
        env = os.environ if env is None else env
        log_format = env.get("LOG_FORMAT", "text")
        if log_format not in ("text", "json"):
            raise ConfigError(f"LOG_FORMAT must be 'text' or 'json', got {log_format!r}")
        return cls(
            log_format=log_format,
            server_target=env.get("INTEGRATIONS_SERVER", "127.0.0.1:50051"),
            token=_token(env),
            projects=parse_projects(env.get("GALLERY_PROJECTS", "")),
        )


def _token(env: Mapping[str, str]) -> str:
    try:
        return bearer_token(env)
    except TokenMissing as exc:
        raise ConfigError(f"{exc} (it needs integrations:read and integrations:write)") from None


def parse_projects(raw: str) -> tuple[tuple[str, str], ...]:
    """``GALLERY_PROJECTS="acme/p1,acme/p2"``: the projects whose gallery this app serves."""
    projects: list[tuple[str, str]] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        org, _, project = item.partition("/")
        if not (_SCOPE_ID.match(org) and _SCOPE_ID.match(project)):
            raise ConfigError(f"GALLERY_PROJECTS: {item!r} is not 'org/project'")
        if (org, project) not in projects:
            projects.append((org, project))
    if not projects:
        raise ConfigError("GALLERY_PROJECTS is not set: a comma-separated list of 'org/project' to serve")
    return tuple(projects)
