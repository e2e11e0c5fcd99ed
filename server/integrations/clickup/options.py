"""A project's ClickUp options (``settings.options`` on the wire): which workspaces, whether comments.

Versioned with the plugin's ``options_version``; ``OPTIONS_SCHEMA`` documents them for callers
(``Integration.options_schema``), and ``parse_options`` is the rule the server applies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from server.errors import InvalidArgument

_WORKSPACE_ID = re.compile(r"[0-9]{1,20}")
MAX_WORKSPACES = 100


@dataclass(frozen=True)
class ClickUpOptions:
    """What a project chose to import from ClickUp."""

    workspace_ids: tuple[str, ...] = ()  # empty: every workspace the token sees
    include_comments: bool = False  # one extra API call per task


OPTIONS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "workspace_ids": {
            "type": "array",
            "maxItems": MAX_WORKSPACES,
            "uniqueItems": True,
            "items": {"type": "string", "pattern": "^[0-9]{1,20}$"},
            "description": "ClickUp workspace (team) ids to import; empty or absent means every workspace.",
        },
        "include_comments": {
            "type": "boolean",
            "description": "Import task comments too (one extra API call per task).",
        },
    },
}


def parse_options(raw: Mapping[str, Any], path: str) -> ClickUpOptions:
    for key in raw:
        if key not in OPTIONS_SCHEMA["properties"]:
            known = ", ".join(OPTIONS_SCHEMA["properties"])
            raise InvalidArgument(f"{path}.{key}", f"is not a ClickUp option; known: {known}")
    ids = raw.get("workspace_ids", [])
    if not isinstance(ids, list | tuple):
        raise InvalidArgument(f"{path}.workspace_ids", "must be a list of ClickUp workspace ids")
    if len(ids) > MAX_WORKSPACES:
        raise InvalidArgument(f"{path}.workspace_ids", f"at most {MAX_WORKSPACES} workspaces")
    for index, workspace_id in enumerate(ids):
        if not isinstance(workspace_id, str) or not _WORKSPACE_ID.fullmatch(workspace_id):
            raise InvalidArgument(f"{path}.workspace_ids[{index}]", "must be a ClickUp workspace id (digits)")
    if len(set(ids)) != len(ids):
        raise InvalidArgument(f"{path}.workspace_ids", "lists a workspace twice")
    comments = raw.get("include_comments", False)
    if not isinstance(comments, bool):
        raise InvalidArgument(f"{path}.include_comments", "must be true or false")
    return ClickUpOptions(tuple(ids), comments)


def dump_options(options: ClickUpOptions) -> dict[str, Any]:
    return {"workspace_ids": list(options.workspace_ids), "include_comments": options.include_comments}
