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
