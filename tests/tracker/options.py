"""The Tracker plugin's options (``settings.options`` on the wire): which boards to import."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from server.errors import InvalidArgument

# A board id ends up as the last part of a webhook's route key, which the gateway only accepts
# in a small alphabet: checked here, once, rather than failing at registration.
BOARD_ID = re.compile(r"[A-Za-z0-9_]{1,40}")
MAX_BOARDS = 50


@dataclass(frozen=True)
class TrackerOptions:
    board_ids: tuple[str, ...] = ()  # empty: every board the token sees


OPTIONS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "board_ids": {
            "type": "array",
            "maxItems": MAX_BOARDS,
            "uniqueItems": True,
            "items": {"type": "string", "pattern": "^[A-Za-z0-9_]{1,40}$"},
            "description": "Boards to import and watch; empty or absent means every board.",
        },
    },
}


def parse_options(raw: Mapping[str, Any], path: str) -> TrackerOptions:
    for key in raw:
        if key not in OPTIONS_SCHEMA["properties"]:
            raise InvalidArgument(f"{path}.{key}", "is not an option of this integration; known: board_ids")
    ids = raw.get("board_ids", [])
    if not isinstance(ids, list | tuple):
        raise InvalidArgument(f"{path}.board_ids", "must be a list of board ids")
    if len(ids) > MAX_BOARDS:
        raise InvalidArgument(f"{path}.board_ids", f"at most {MAX_BOARDS} boards")
    for index, board_id in enumerate(ids):
        if not isinstance(board_id, str) or not BOARD_ID.fullmatch(board_id):
            raise InvalidArgument(f"{path}.board_ids[{index}]", "must be 1-40 letters, digits or '_'")
    if len(set(ids)) != len(ids):
        raise InvalidArgument(f"{path}.board_ids", "lists a board twice")
    return TrackerOptions(tuple(ids))


def dump_options(options: TrackerOptions) -> dict[str, Any]:
    return {"board_ids": list(options.board_ids)}
