"""GetIntegrationAnalytics (issue 14, the Analytics tab's one RPC): per-day figures aggregated on the
server from import jobs and the webhook inbox, over a window of whole UTC days; guarded like every
read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import grpc
import neo4j
import pytest

from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.fixtures import TV_TOKEN
from tests.conftest import RunningHub, Tokens, bearer
from tests.integration.importing import enable_request, rpc_code, run_import


def request(tenant: tuple[str, str], **window: datetime) -> pb.GetIntegrationAnalyticsRequest:
    message = pb.GetIntegrationAnalyticsRequest(org_id=tenant[0], project_id=tenant[1], name="clickup")
    for field, moment in window.items():
        getattr(message, field).FromDatetime(moment)
    return message


def add_events(
    driver: neo4j.Driver, tenant: tuple[str, str], received: datetime, latencies: list[float | None]
) -> None:
    """Inbox rows as the server stores them: applied ones ``latency`` seconds after receipt, None: failed."""
    rows = [
        {
            "id": str(uuid.uuid4()),
            "state": "APPLIED" if latency is not None else "FAILED",
            "applied": (received + timedelta(seconds=latency)) if latency is not None else None,
        }
        for latency in latencies
    ]
    driver.execute_query(
        """
        UNWIND $rows AS row
        CREATE (:WebhookEvent {id: row.id, dedupeKey: row.id, integration: 'clickup', orgId: $org, projectId: $project,
                               state: row.state, receivedAt: $received, appliedAt: row.applied, body: '{}'})
        """,
        rows=rows,
        org=tenant[0],
        project=tenant[1],
        received=received,
    )


async def test_days_count_imports_and_events_with_their_latency(
    hub: RunningHub, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    await hub.stub.UpdateIntegration(enable_request(tenant, TV_TOKEN), metadata=bearer(tokens.admin))
    job = (await run_import(hub, tokens.admin, tenant))[-1]
    assert job.state == pb.IMPORT_JOB_STATE_SUCCEEDED
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday = today - timedelta(days=1)
    add_events(neo4j_driver, tenant, today + timedelta(minutes=1), [1.0, 2.0, 3.0, 4.0, None])
    add_events(neo4j_driver, tenant, yesterday + timedelta(hours=3), [10.0])

    answer = await hub.stub.GetIntegrationAnalytics(
        request(tenant, start_time=yesterday, end_time=today + timedelta(hours=5)), metadata=bearer(tokens.reader)
    )
    days = list(answer.days)
    assert [d.day.ToDatetime(UTC) for d in days] == [yesterday, today]
    first, second = days
    assert (first.imports, first.events_received, first.events_applied, first.events_failed) == (0, 1, 1, 0)
    assert first.event_latency_p50_seconds == pytest.approx(10.0)
    assert (second.imports, second.imports_failed, second.api_calls) == (1, 0, job.api_calls)
    assert second.objects_written == sum(job.counters.values())
    assert (second.events_received, second.events_applied, second.events_failed) == (5, 4, 1)
    assert second.event_latency_p50_seconds == pytest.approx(2.5)  # of 1, 2, 3 and 4 s
    assert second.event_latency_p95_seconds == pytest.approx(3.85)
    assert second.objects_written > 0


async def test_the_default_window_is_the_last_thirty_days_ending_today(
    hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]
) -> None:
    answer = await hub.stub.GetIntegrationAnalytics(request(tenant), metadata=bearer(tokens.reader))
    days = [d.day.ToDatetime(UTC) for d in answer.days]
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert len(days) == 30
    assert days[-1] == today
    assert all(d.imports == 0 and d.events_received == 0 for d in answer.days)


@pytest.mark.parametrize(
    ("who", "tenant_of_call", "fields", "window", "code"),
    [
        ("reader", None, {"name": "nosuch"}, {}, grpc.StatusCode.NOT_FOUND),
        ("reader", None, {"name": "Bad Name"}, {}, grpc.StatusCode.INVALID_ARGUMENT),
        ("reader", None, {}, {"start": 0, "end": -1}, grpc.StatusCode.INVALID_ARGUMENT),  # ends before it starts
        ("reader", None, {}, {"start": -100, "end": 0}, grpc.StatusCode.INVALID_ARGUMENT),  # over 92 days
        ("tenant", None, {}, {}, grpc.StatusCode.PERMISSION_DENIED),
        ("gateway", None, {}, {}, grpc.StatusCode.PERMISSION_DENIED),
    ],
)
async def test_bad_requests_are_refused(
    hub: RunningHub,
    tokens: Tokens,
    tenant: tuple[str, str],
    who: str,
    tenant_of_call: tuple[str, str] | None,
    fields: dict[str, str],
    window: dict[str, int],
    code: grpc.StatusCode,
) -> None:
    today = datetime.now(UTC)
    moments = {f"{key}_time": today + timedelta(days=days) for key, days in window.items()}
    message = request(tenant_of_call or tenant, **moments)
    for field, value in fields.items():
        setattr(message, field, value)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await hub.stub.GetIntegrationAnalytics(message, metadata=bearer(getattr(tokens, who)))
    assert rpc_code(refused.value) == code
