"""ListWebhookEvents' filters (issue 14, the Events tab): one integration's events, received within a
window, newest first; page tokens are tied to every filter."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import grpc
import neo4j
import pytest

from integrations.v1 import integration_service_pb2 as pb
from tests.conftest import RunningHub, Tokens, bearer
from tests.integration.importing import rpc_code


def add_event(driver: neo4j.Driver, tenant: tuple[str, str], integration: str, received: datetime) -> str:
    event_id = uuid.uuid4().hex
    driver.execute_query(
        """
        CREATE (:WebhookEvent {id: $id, dedupeKey: $id, integration: $integration, orgId: $org, projectId: $project,
                               state: 'APPLIED', receivedAt: $received, body: '{}', event: 'taskUpdated'})
        """,
        id=event_id,
        integration=integration,
        org=tenant[0],
        project=tenant[1],
        received=received,
    )
    return event_id


def query(
    tenant: tuple[str, str], *, name: str = "", page_size: int = 0, newest_first: bool = False, page_token: str = ""
) -> pb.ListWebhookEventsRequest:
    return pb.ListWebhookEventsRequest(
        org_id=tenant[0],
        project_id=tenant[1],
        name=name,
        page_size=page_size,
        newest_first=newest_first,
        page_token=page_token,
    )


async def listed(hub: RunningHub, token: str, request: pb.ListWebhookEventsRequest) -> pb.ListWebhookEventsResponse:
    answer: pb.ListWebhookEventsResponse = await hub.stub.ListWebhookEvents(request, metadata=bearer(token))
    return answer


async def test_events_by_integration_and_window_newest_first(
    hub: RunningHub, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    now = datetime.now(UTC)
    old = add_event(neo4j_driver, tenant, "clickup", now - timedelta(days=3))
    recent = add_event(neo4j_driver, tenant, "clickup", now - timedelta(hours=2))
    newest = add_event(neo4j_driver, tenant, "clickup", now - timedelta(minutes=5))
    add_event(neo4j_driver, tenant, "jira", now - timedelta(minutes=1))

    everything = await listed(hub, tokens.reader, query(tenant))
    assert len(everything.events) == 4
    mine = await listed(hub, tokens.reader, query(tenant, name="clickup", newest_first=True))
    assert [e.id for e in mine.events] == [newest, recent, old]
    oldest_first = await listed(hub, tokens.reader, query(tenant, name="clickup"))
    assert [e.id for e in oldest_first.events] == [old, recent, newest]
    window = query(tenant, name="clickup", newest_first=True)
    window.start_time.FromDatetime(now - timedelta(days=1))
    window.end_time.FromDatetime(now - timedelta(hours=1))
    assert [e.id for e in (await listed(hub, tokens.reader, window)).events] == [recent]

    first = await listed(hub, tokens.reader, query(tenant, name="clickup", page_size=2, newest_first=True))
    assert [e.id for e in first.events] == [newest, recent]
    rest = query(tenant, name="clickup", page_size=2, newest_first=True, page_token=first.next_page_token)
    assert [e.id for e in (await listed(hub, tokens.reader, rest)).events] == [old]
    moved = query(tenant, name="jira", page_size=2, newest_first=True, page_token=first.next_page_token)
    with pytest.raises(grpc.aio.AioRpcError) as refused:  # a token is tied to its filters
        await listed(hub, tokens.reader, moved)
    assert rpc_code(refused.value) == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("fields", "start_offset", "end_offset"),
    [({"name": "Not A Name!"}, None, None), ({}, 0, -1)],
)
async def test_bad_filters_are_refused(
    hub: RunningHub,
    tokens: Tokens,
    tenant: tuple[str, str],
    fields: dict[str, str],
    start_offset: int | None,
    end_offset: int | None,
) -> None:
    request = query(tenant, name=fields.get("name", ""))
    now = datetime.now(UTC)
    if start_offset is not None:
        request.start_time.FromDatetime(now + timedelta(hours=start_offset))
    if end_offset is not None:
        request.end_time.FromDatetime(now + timedelta(hours=end_offset))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await listed(hub, tokens.reader, request)
    assert rpc_code(refused.value) == grpc.StatusCode.INVALID_ARGUMENT
