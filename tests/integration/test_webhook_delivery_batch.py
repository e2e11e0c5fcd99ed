"""DeliverWebhookEvents, the gateway drainer's batch call: each delivery stored or refused on its
own, duplicates acknowledged once, the batch size capped, the scope enforced."""

from __future__ import annotations

import json
import uuid

import grpc
import neo4j

from integrations.v1 import integration_service_pb2 as pb
from tests.conftest import RunningHub, Tokens, bearer
from tests.integration.rpc import failure


def delivery(body: bytes, verified: bool = True) -> pb.DeliverWebhookEventRequest:
    return pb.DeliverWebhookEventRequest(integration="clickup", raw_body=body, signature_verified=verified)


def task_event() -> bytes:
    return json.dumps(
        {"event": "taskUpdated", "history_items": [{"id": uuid.uuid4().hex}], "task_id": "86b", "webhook_id": "w-b"}
    ).encode()


def stored_copies(driver: neo4j.Driver, body: bytes) -> int:
    records, _, _ = driver.execute_query("MATCH (e:WebhookEvent {body: $b}) RETURN count(e) AS c", b=body.decode())
    return int(records[0]["c"])


async def test_each_delivery_is_stored_or_refused_on_its_own(
    hub: RunningHub, tokens: Tokens, neo4j_driver: neo4j.Driver
) -> None:
    good, other = task_event(), task_event()
    request = pb.DeliverWebhookEventsRequest(
        events=[delivery(good), delivery(b"not json"), delivery(other, verified=False), delivery(good)]
    )
    response = await hub.stub.DeliverWebhookEvents(request, metadata=bearer(tokens.gateway))
    codes = [result.code for result in response.results]
    assert codes == [
        grpc.StatusCode.OK.value[0],
        grpc.StatusCode.INVALID_ARGUMENT.value[0],
        grpc.StatusCode.FAILED_PRECONDITION.value[0],
        grpc.StatusCode.OK.value[0],
    ]
    first, _, _, again = response.results
    assert (first.duplicate, again.duplicate, again.event_id) == (False, True, first.event_id)
    assert response.results[1].message
    assert (stored_copies(neo4j_driver, good), stored_copies(neo4j_driver, other)) == (1, 0)


async def test_a_batch_is_capped_and_needs_the_deliver_scope(hub: RunningHub, tokens: Tokens) -> None:
    too_many = pb.DeliverWebhookEventsRequest(events=[delivery(task_event()) for _ in range(501)])
    refused = await failure(hub.stub.DeliverWebhookEvents(too_many, metadata=bearer(tokens.gateway)))
    assert (refused.code, refused.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["events"])
    one = pb.DeliverWebhookEventsRequest(events=[delivery(task_event())])
    denied = await failure(hub.stub.DeliverWebhookEvents(one, metadata=bearer(tokens.admin)))
    assert denied.code == grpc.StatusCode.PERMISSION_DENIED


async def test_inbox_depth_by_state_matches_a_full_count(
    hub: RunningHub, tokens: Tokens, neo4j_driver: neo4j.Driver
) -> None:
    """The gauge's cheap count (index + stored label count) agrees with reading every event."""
    request = pb.DeliverWebhookEventsRequest(events=[delivery(task_event()) for _ in range(3)])
    await hub.stub.DeliverWebhookEvents(request, metadata=bearer(tokens.gateway))
    records, _, _ = neo4j_driver.execute_query("MATCH (e:WebhookEvent) RETURN e.state AS s, count(e) AS n")
    full = {r["s"]: r["n"] for r in records}
    cheap = await hub.server.webhooks.inbox.depth_by_state()
    assert full["HELD"] >= 3
    assert {state: n for state, n in cheap.items() if n} == full
