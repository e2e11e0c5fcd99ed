"""DeliverWebhookEvents, the gateway drainer's batch call: each delivery stored, set aside or refused on
its own, duplicates acknowledged once, the batch size capped, the scope and the token's pin enforced."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import grpc
import neo4j
import pytest

from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from server.auth import hash_token
from server.webhooks import GroupCommit, dead_letter
from tests.conftest import RunningHub, RunningSandbox, Tokens, bearer, server_env, start_hub
from tests.integration.rpc import failure

OK = grpc.StatusCode.OK.value[0]


def delivery(body: bytes, verified: bool = True) -> pb.DeliverWebhookEventRequest:
    return pb.DeliverWebhookEventRequest(integration="clickup", raw_body=body, signature_verified=verified)


def task_event(webhook_id: str, event: str = "taskUpdated") -> bytes:
    return json.dumps(
        {"event": event, "history_items": [{"id": uuid.uuid4().hex}], "task_id": "86b", "webhook_id": webhook_id}
    ).encode()


def stored_copies(driver: neo4j.Driver, body: bytes) -> int:
    records, _, _ = driver.execute_query("MATCH (e:WebhookEvent {body: $b}) RETURN count(e) AS c", b=body.decode())
    return int(records[0]["c"])


@pytest.fixture
async def hook(hub: RunningHub, tenant: tuple[str, str]) -> str:
    """A webhook registered for the test's tenant; deliveries naming it are routed there."""
    webhook_id = f"w-{uuid.uuid4().hex[:12]}"
    await hub.server.webhooks.register("clickup", webhook_id, tenant[0], tenant[1], "90120000", "secret")
    return webhook_id


async def test_each_delivery_is_stored_or_refused_on_its_own(
    hub: RunningHub, tokens: Tokens, neo4j_driver: neo4j.Driver, hook: str
) -> None:
    good, other = task_event(hook), task_event(hook)
    request = pb.DeliverWebhookEventsRequest(
        events=[delivery(good), delivery(b"not json"), delivery(other, verified=False), delivery(good)]
    )
    response = await hub.stub.DeliverWebhookEvents(request, metadata=bearer(tokens.gateway))
    codes = [result.code for result in response.results]
    assert codes == [
        OK,
        grpc.StatusCode.INVALID_ARGUMENT.value[0],
        grpc.StatusCode.FAILED_PRECONDITION.value[0],
        OK,
    ]
    first, refused, _, again = response.results
    assert (first.duplicate, again.duplicate, again.event_id) == (False, True, first.event_id)
    assert refused.message
    assert refused.reason == "NOT_JSON"
    assert (stored_copies(neo4j_driver, good), stored_copies(neo4j_driver, other)) == (1, 0)


async def test_a_delivery_for_an_unknown_webhook_is_refused_not_stored_where_nobody_sees_it(
    hub: RunningHub, tokens: Tokens, neo4j_driver: neo4j.Driver
) -> None:
    """Issue 9, item 5: such events used to be stored HELD with no project, never applied or listed."""
    body = task_event(f"unknown-{uuid.uuid4().hex}")
    response = await hub.stub.DeliverWebhookEvents(
        pb.DeliverWebhookEventsRequest(events=[delivery(body)]), metadata=bearer(tokens.gateway)
    )
    (result,) = response.results
    assert (result.code, result.reason) == (grpc.StatusCode.NOT_FOUND.value[0], "UNKNOWN_WEBHOOK")
    assert stored_copies(neo4j_driver, body) == 0


POISON = [
    # (what, body template) — each is routed to a known webhook but cannot be applied as it is.
    ("lone surrogate in event", '{"event":"taskUpdated\\ud800","task_id":"86b","webhook_id":"HOOK"}'),
    ("lone surrogate in task_id", '{"event":"taskUpdated","task_id":"\\udfff","webhook_id":"HOOK"}'),
    ("history_items not a list", '{"event":"taskUpdated","history_items":{"id":"1"},"webhook_id":"HOOK"}'),
    ("no event", '{"task_id":"86b","webhook_id":"HOOK"}'),
    ("object id an object", '{"event":"taskUpdated","task_id":{"id":1},"webhook_id":"HOOK"}'),
    ("nested too deep", '{"event":"taskUpdated","x":' + "[" * 70 + "]" * 70 + ',"webhook_id":"HOOK"}'),
]


@pytest.mark.parametrize(("what", "template"), POISON, ids=[p[0] for p in POISON])
async def test_a_poison_delivery_is_dead_lettered_and_holds_back_nothing(
    hub: RunningHub, tokens: Tokens, tenant: tuple[str, str], hook: str, what: str, template: str
) -> None:
    """Issue 9, item 1: one such delivery used to fail the whole batch with INTERNAL, for ever."""
    poison = template.replace("HOOK", hook).encode()
    before, after = task_event(hook), task_event(hook)
    response = await hub.stub.DeliverWebhookEvents(
        pb.DeliverWebhookEventsRequest(events=[delivery(before), delivery(poison), delivery(after)]),
        metadata=bearer(tokens.gateway),
    )
    assert [r.code for r in response.results] == [OK, OK, OK]
    assert [r.dead_lettered for r in response.results] == [False, True, False]
    listed = await hub.stub.ListWebhookEvents(
        pb.ListWebhookEventsRequest(org_id=tenant[0], project_id=tenant[1], state=pb.WEBHOOK_EVENT_STATE_DEAD_LETTERED),
        metadata=bearer(tokens.admin),
    )
    assert [e.id for e in listed.events] == [response.results[1].event_id]
    assert listed.events[0].last_error, "the list says why it was set aside"
    again = await hub.stub.DeliverWebhookEvents(
        pb.DeliverWebhookEventsRequest(events=[delivery(poison)]), metadata=bearer(tokens.gateway)
    )
    assert again.results[0].duplicate, "a redelivery of the same bad body is not a second dead letter"


async def test_replaying_a_dead_letter_reads_its_body_again(
    hub: RunningHub, tokens: Tokens, tenant: tuple[str, str], hook: str, neo4j_driver: neo4j.Driver
) -> None:
    """Still unreadable: it stays aside with the new reason. Readable now (the reader was fixed; here an
    event set aside by an older reader): it is queued like any other."""
    poison = '{"event":"taskUpdated\\ud800","task_id":"86b","webhook_id":"HOOK"}'.replace("HOOK", hook).encode()
    response = await hub.stub.DeliverWebhookEvents(
        pb.DeliverWebhookEventsRequest(events=[delivery(poison), delivery(task_event(hook))]),
        metadata=bearer(tokens.gateway),
    )
    dead_id, fine_id = (r.event_id for r in response.results)
    neo4j_driver.execute_query("MATCH (e:WebhookEvent {id: $id}) SET e.state = 'DEAD_LETTERED'", id=fine_id)
    replayed = await hub.stub.ReplayWebhookEvents(
        pb.ReplayWebhookEventsRequest(org_id=tenant[0], project_id=tenant[1], event_ids=[dead_id, fine_id]),
        metadata=bearer(tokens.admin),
    )
    assert replayed.replayed == 1
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (e:WebhookEvent) WHERE e.id IN $ids RETURN e.id AS id, e.state AS state, e.event AS event",
        ids=[dead_id, fine_id],
    )
    states = {r["id"]: (r["state"], r["event"]) for r in records}
    assert states == {dead_id: ("DEAD_LETTERED", "taskUpdated\ufffd"), fine_id: ("PENDING", "taskUpdated")}


async def test_a_row_the_database_refuses_is_stored_as_a_dead_letter_alone(
    hub: RunningHub, neo4j_driver: neo4j.Driver, tenant: tuple[str, str]
) -> None:
    """The group commit's last line of defence, against the real inbox: a row whose text Neo4j cannot
    encode fails its batch; it is isolated and stored plainly, its neighbours as they were."""
    inbox = hub.server.webhooks.inbox
    commits = GroupCommit(inbox.store_many, dead_letter)

    def row(event: str) -> dict[str, object]:
        return dict(
            integration="clickup",
            webhook_id="w-raw",
            event=event,
            object_id="86b",
            dedupe_key=f"test|{uuid.uuid4().hex}",
            body="{}",
            headers="{}",
            received_at=datetime.now(UTC),
            org_id=tenant[0],
            project_id=tenant[1],
            reapply_duplicate=False,
            state="PENDING",
            last_error="",
        )

    results = await asyncio.gather(*(commits.submit(row(e)) for e in ("taskCreated", "bad\ud800", "taskDeleted")))
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (e:WebhookEvent) WHERE e.id IN $ids RETURN e.id AS id, e.state AS state, e.event AS event",
        ids=[r[0] for r in results],
    )
    by_id = {r["id"]: (r["state"], r["event"]) for r in records}
    assert [by_id[r[0]] for r in results] == [
        ("PENDING", "taskCreated"),
        ("DEAD_LETTERED", "bad\ufffd"),
        ("PENDING", "taskDeleted"),
    ]


async def test_a_batch_is_capped_and_needs_the_deliver_scope(hub: RunningHub, tokens: Tokens, hook: str) -> None:
    too_many = pb.DeliverWebhookEventsRequest(events=[delivery(task_event(hook)) for _ in range(501)])
    refused = await failure(hub.stub.DeliverWebhookEvents(too_many, metadata=bearer(tokens.gateway)))
    assert (refused.code, refused.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["events"])
    one = pb.DeliverWebhookEventsRequest(events=[delivery(task_event(hook))])
    denied = await failure(hub.stub.DeliverWebhookEvents(one, metadata=bearer(tokens.admin)))
    assert denied.code == grpc.StatusCode.PERMISSION_DENIED


async def test_inbox_depth_by_state_matches_a_full_count(
    hub: RunningHub, tokens: Tokens, neo4j_driver: neo4j.Driver, hook: str
) -> None:
    """The gauge's cheap count (index + stored label count) agrees with reading every event."""
    poison = '{"event":"x\\ud800","task_id":"1","webhook_id":"HOOK"}'.replace("HOOK", hook).encode()
    request = pb.DeliverWebhookEventsRequest(events=[delivery(task_event(hook)) for _ in range(3)] + [delivery(poison)])
    await hub.stub.DeliverWebhookEvents(request, metadata=bearer(tokens.gateway))
    records, _, _ = neo4j_driver.execute_query("MATCH (e:WebhookEvent) RETURN e.state AS s, count(e) AS n")
    full = {r["s"]: r["n"] for r in records}
    cheap = await hub.server.webhooks.inbox.depth_by_state()
    assert full["PENDING"] >= 3
    assert full["DEAD_LETTERED"] >= 1
    assert {state: n for state, n in cheap.items() if n} == full


# ---------------------------------------------------------------- item 6: a deliver token keeps its pin

PINNED = f"test-pinned-gateway-{uuid.uuid4().hex}"


@pytest.fixture
async def pinned_hub(
    neo4j_connection: Connection, tokens: Tokens, clickup_sandbox: RunningSandbox, encryption_keys: str
) -> AsyncIterator[RunningHub]:
    """A server whose config also holds a deliver token pinned to org-a/proj-a."""
    env = server_env(neo4j_connection, tokens, clickup_sandbox.api_url, encryption_keys)
    config = json.loads(env["INTEGRATIONS_AUTH_TOKENS"])
    config["tokens"].append(
        {
            "name": "gateway-a",
            "sha256": hash_token(PINNED),
            "scopes": ["webhooks:deliver"],
            "org_id": "org-a",
            "project_id": "proj-a",
        }
    )
    env["INTEGRATIONS_AUTH_TOKENS"] = json.dumps(config)
    running = await start_hub(env)
    yield running
    await running.channel.close(None)
    await running.server.stop(grace=1)


async def test_a_pinned_deliver_token_reaches_only_its_own_project(
    pinned_hub: RunningHub, neo4j_driver: neo4j.Driver
) -> None:
    """Issue 9, item 6: such a token read another org's signing secret in clear and stored its events."""
    ours, theirs = f"w-a-{uuid.uuid4().hex[:8]}", f"w-b-{uuid.uuid4().hex[:8]}"
    await pinned_hub.server.webhooks.register("clickup", ours, "org-a", "proj-a", "1", "secret-a")
    await pinned_hub.server.webhooks.register("clickup", theirs, "org-b", "proj-b", "1", "secret-b")
    secret = await pinned_hub.stub.GetWebhookSecret(
        pb.GetWebhookSecretRequest(integration="clickup", webhook_id=ours), metadata=bearer(PINNED)
    )
    assert secret.secret == "secret-a"
    denied = await failure(
        pinned_hub.stub.GetWebhookSecret(
            pb.GetWebhookSecretRequest(integration="clickup", webhook_id=theirs), metadata=bearer(PINNED)
        )
    )
    assert (denied.code, denied.reason) == (grpc.StatusCode.PERMISSION_DENIED, "WRONG_TENANT")
    assert "secret-b" not in denied.message
    mine, foreign = task_event(ours), task_event(theirs)
    response = await pinned_hub.stub.DeliverWebhookEvents(
        pb.DeliverWebhookEventsRequest(events=[delivery(mine), delivery(foreign)]), metadata=bearer(PINNED)
    )
    assert [r.code for r in response.results] == [OK, grpc.StatusCode.PERMISSION_DENIED.value[0]]
    assert response.results[1].reason == "WRONG_TENANT"
    assert (stored_copies(neo4j_driver, mine), stored_copies(neo4j_driver, foreign)) == (1, 0)
    single = await failure(pinned_hub.stub.DeliverWebhookEvent(delivery(task_event(theirs)), metadata=bearer(PINNED)))
    assert single.code == grpc.StatusCode.PERMISSION_DENIED
