"""What every plugin's webhook parser checks before a routed delivery may be applied: bounded JSON
nesting and storable text. A failed check is a ``DeliveryProblem``: the delivery is kept as a dead
letter with its reason, never a failed batch."""

from __future__ import annotations

import hashlib
from typing import Any

from graph.text import storable
from server.integrations.base import ParsedDelivery


class DeliveryProblem(Exception):
    """A routed delivery that cannot be applied as it is; ``reason`` is the dead letter's."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def dead_letter(self, source: str, webhook_id: str, shown_event: str, raw: bytes) -> ParsedDelivery:
        """The routed delivery kept aside with this reason. Its key is one per distinct body, so a
        redelivery of the same bad body is a duplicate, not a second row."""
        digest = hashlib.sha256(raw).hexdigest()
        return ParsedDelivery(
            webhook_id,
            shown_event,
            "",
            f"{source}|{webhook_id}|dead-letter|{digest}",
            problem=self.reason,
            problem_message=self.message,
        )


MAX_DEPTH = 64
MAX_EVENT_CHARS = 200


def event_name(body: dict[str, Any], key: str) -> str:
    """The event a body names under ``key``, after the checks every parser makes: bounded nesting,
    a non-empty name of bounded length. Raises ``DeliveryProblem`` with the first one broken."""
    if json_depth(body, MAX_DEPTH) > MAX_DEPTH:
        raise DeliveryProblem("TOO_DEEP", f"the body nests deeper than {MAX_DEPTH} levels")
    event = body.get(key)
    if not isinstance(event, str) or not event.strip():
        raise DeliveryProblem("MISSING_EVENT", f"'{key}' must be a non-empty string")
    if len(event) > MAX_EVENT_CHARS:
        raise DeliveryProblem("BAD_EVENT", f"'{key}' is longer than {MAX_EVENT_CHARS} characters")
    return event


def shown_event(body: dict[str, Any], key: str) -> str:
    """The event name as far as it can be shown with a dead letter (stored text, bounded)."""
    event = body.get(key)
    return storable(event[:MAX_EVENT_CHARS]) if isinstance(event, str) else ""


def json_depth(value: Any, limit: int) -> int:
    """Nesting depth of parsed JSON, walked without recursion and stopping past ``limit``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if deepest > limit:
                return deepest
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def is_storable(text: str) -> bool:
    """True when ``text`` holds nothing a UTF-8 store refuses (a lone surrogate)."""
    return storable(text) is text
