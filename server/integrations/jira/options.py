"""The Jira plugin's options (``settings.options`` on the wire): which site, as whom, which projects."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from server.errors import InvalidArgument

PROJECT_KEY = re.compile(r"[A-Z][A-Z0-9_]{0,49}")
EMAIL = re.compile(r"[^@\s]{1,200}@[^@\s]{1,200}")
MAX_PROJECTS = 200


@dataclass(frozen=True)
class JiraOptions:
    site_url: str = ""  # https://<site>.atlassian.net (API-token sign-in talks to the site host)
    email: str = ""  # the account the API token belongs to (basic auth is email:token, §2.1)
    project_keys: tuple[str, ...] = ()  # empty: every project the credentials see
    include_comments: bool = False
    include_archived: bool = False


OPTIONS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "site_url": {"type": "string", "format": "uri", "description": "https://<site>.atlassian.net"},
        "email": {"type": "string", "description": "The Atlassian account the API token belongs to."},
        "project_keys": {
            "type": "array",
            "maxItems": MAX_PROJECTS,
            "uniqueItems": True,
            "items": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]{0,49}$"},
            "description": "Projects to import; empty or absent means every project the credentials see.",
        },
        "include_comments": {"type": "boolean", "description": "Import comments (one more call per issue with some)."},
        "include_archived": {"type": "boolean", "description": "Import archived projects too."},
    },
}


def _site_url(value: Any, path: str) -> str:
    if not isinstance(value, str) or len(value) > 300:
        raise InvalidArgument(path, "must be the site's URL, e.g. https://example.atlassian.net")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.query or parts.fragment:
        raise InvalidArgument(path, "must be the site's URL, e.g. https://example.atlassian.net")
    return value.rstrip("/")


def parse_options(raw: Mapping[str, Any], path: str) -> JiraOptions:
    for key in raw:
        if key not in OPTIONS_SCHEMA["properties"]:
            known = ", ".join(OPTIONS_SCHEMA["properties"])
            raise InvalidArgument(f"{path}.{key}", f"is not an option of this integration; known: {known}")
    site_url = _site_url(raw["site_url"], f"{path}.site_url") if raw.get("site_url") else ""
    email = raw.get("email", "")
    if email and (not isinstance(email, str) or not EMAIL.fullmatch(email)):
        raise InvalidArgument(f"{path}.email", "must be an email address")
    keys = raw.get("project_keys", [])
    if not isinstance(keys, list | tuple) or len(keys) > MAX_PROJECTS:
        raise InvalidArgument(f"{path}.project_keys", f"must be a list of at most {MAX_PROJECTS} project keys")
    for index, key in enumerate(keys):
        if not isinstance(key, str) or not PROJECT_KEY.fullmatch(key):
            raise InvalidArgument(f"{path}.project_keys[{index}]", "must be a Jira project key, e.g. PROJ")
    if len(set(keys)) != len(keys):
        raise InvalidArgument(f"{path}.project_keys", "lists a project twice")
    flags = {}
    for flag in ("include_comments", "include_archived"):
        value = raw.get(flag, False)
        if not isinstance(value, bool):
            raise InvalidArgument(f"{path}.{flag}", "must be true or false")
        flags[flag] = value
    return JiraOptions(site_url, str(email), tuple(keys), flags["include_comments"], flags["include_archived"])


def dump_options(options: JiraOptions) -> dict[str, Any]:
    return {
        "site_url": options.site_url,
        "email": options.email,
        "project_keys": list(options.project_keys),
        "include_comments": options.include_comments,
        "include_archived": options.include_archived,
    }
