"""The Tracker plugin's reading of a delivery: one row per body, each with its exact outcome."""

from __future__ import annotations

import pytest

from server.errors import InvalidArgument
from server.integrations.base import Delivery
from tests.tracker.webhooks import ROUTE_KEY_HEADER, parse_delivery

KEY = "0123abcd-b1"
GOOD = b'{"event": "card.updated", "card_id": "c7", "board_id": "b1", "change_id": "ch9"}'


def delivery(body: bytes, key: str | None = KEY) -> Delivery:
    return Delivery(body, {ROUTE_KEY_HEADER: key} if key is not None else {}, 0)


def test_a_good_delivery_is_routed_by_its_route_key_and_deduped_by_its_change() -> None:
    parsed = parse_delivery(delivery(GOOD))
    assert (parsed.webhook_id, parsed.event, parsed.object_id) == (KEY, "card.updated", "c7")
    assert parsed.dedupe_key == f"tracker|{KEY}|ch9"
    assert parsed.problem == ""
    assert not parsed.reapply_duplicate


def test_without_a_route_key_it_cannot_be_routed() -> None:
    with pytest.raises(InvalidArgument) as raised:
        parse_delivery(delivery(GOOD, key=None))
    assert raised.value.reason == "MISSING_WEBHOOK_ID"


@pytest.mark.parametrize(
    ("body", "reason", "event"),
    [
        (b"not json", "NOT_JSON", ""),
        (b"[1, 2]", "NOT_AN_OBJECT", ""),
        (b'{"event": "card.updated", "card_id": "c7", "board_id": "b1"}', "BAD_ENVELOPE", "card.updated"),
        (
            b'{"event": "card.updated", "card_id": 7, "board_id": "b1", "change_id": "x"}',
            "BAD_ENVELOPE",
            "card.updated",
        ),
        (b'{"card_id": "c7", "board_id": "b1", "change_id": "x"}', "BAD_ENVELOPE", ""),
        (b'{"event": " ", "card_id": "c7", "board_id": "b1", "change_id": "x"}', "BAD_ENVELOPE", " "),
    ],
)
def test_a_routed_but_broken_body_becomes_a_dead_letter(body: bytes, reason: str, event: str) -> None:
    parsed = parse_delivery(delivery(body))
    assert (parsed.webhook_id, parsed.problem, parsed.event) == (KEY, reason, event)
    assert parsed.dedupe_key.startswith(f"tracker|{KEY}|dead-letter|")
    assert parse_delivery(delivery(body)).dedupe_key == parsed.dedupe_key, "a redelivery is a duplicate"
