"""Tracker webhooks: reading a delivery, and applying an event by re-fetching the card.

Bodies carry no webhook id: the gateway's route-keyed scheme found the secret by the last path
segment and hands it over in ``x-gateway-route-key``; that key is the webhook id. Each change has
its own ``change_id``, the dedupe key. Events are thin, so a card event re-reads the card: a 404 or
a ``card.deleted`` deletes it (with its items, leaving tombstones), anything else writes what the
API says now, and the writer's guards drop what is older than the graph (or than a tombstone).
An item taken off a card keeps its node until the next complete run sweeps it.
"""

from __future__ import annotations

import json
from typing import Any

from graph.writer import GraphWriter
from server.errors import InvalidArgument
from server.integrations.base import Delivery, ParsedDelivery, WebhookEvent
from server.integrations.delivery_checks import DeliveryProblem
from tests.tracker import transform
from tests.tracker.client import TrackerClient, TrackerNotFound

ROUTE_KEY_HEADER = "x-gateway-route-key"
FIELDS = ("event", "card_id", "board_id", "change_id")


def _problem(webhook_id: str, raw: bytes, reason: str, message: str, event: str = "") -> ParsedDelivery:
    return DeliveryProblem(reason, message).dead_letter("tracker", webhook_id, event, raw)


def parse_delivery(delivery: Delivery) -> ParsedDelivery:
    webhook_id = delivery.headers.get(ROUTE_KEY_HEADER, "")
    if not webhook_id:
        raise InvalidArgument(f"headers.{ROUTE_KEY_HEADER}", "is missing", reason="MISSING_WEBHOOK_ID")
    try:
        body: Any = json.loads(delivery.raw_body.decode("utf-8"))
    except (ValueError, RecursionError):
        return _problem(webhook_id, delivery.raw_body, "NOT_JSON", "the body is not JSON")
    if not isinstance(body, dict):
        return _problem(webhook_id, delivery.raw_body, "NOT_AN_OBJECT", "the body must be a JSON object")
    bad = [name for name in FIELDS if not isinstance(body.get(name), str) or not body[name].strip()]
    if bad:
        event = body["event"][:200] if isinstance(body.get("event"), str) else ""
        return _problem(webhook_id, delivery.raw_body, "BAD_ENVELOPE", f"missing or not text: {', '.join(bad)}", event)
    return ParsedDelivery(webhook_id, body["event"], body["card_id"], f"tracker|{webhook_id}|{body['change_id']}")


async def apply_event(client: TrackerClient, writer: GraphWriter, event: WebhookEvent, run_id: str) -> str:
    if not event.event.startswith("card.") or not event.object_id:
        return "ignored"
    if event.event == "card.deleted":
        await writer.delete("TrackerCard", event.object_id, run_id)
        return "deleted"
    try:
        card = await client.get(f"/cards/{event.object_id}")
    except TrackerNotFound:
        await writer.delete("TrackerCard", event.object_id, run_id)
        return "deleted (gone from the tracker)"
    result = await writer.write(transform.card(card), run_id)
    return "written" if sum(result.changed.values()) else "unchanged"
