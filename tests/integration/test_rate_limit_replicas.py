"""Three replicas hydrating webhook events with one ClickUp token share its budget (issue 13, item 3).

The sandbox allows the token 100 requests a minute, as ClickUp does. Three server processes on one
Neo4j each apply webhook events by re-reading the task, one request per event, as fast as the budget
lets them: with a budget of their own each, they would ask for up to 300 a minute and meet 429s.
Their shared budget (``graph/rate_budgets.py``) keeps them at zero 429s, and the sandbox's own
account of each window shows the budget used: at least 90% of every window that ran out while
events were waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import neo4j
import pytest

from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.app import create_app
from sandbox.clickup.generator import GeneratorConfig, generate
from sandbox.clickup.state import Sandbox
from tests.conftest import Tokens, bearer, server_env
from tests.integration.importing import enable_request
from tests.replicas import START_SECONDS, Replica, serving, start_replica
from tests.support import UvicornThread, free_port

pytestmark = pytest.mark.timeout(420)

LIMIT = 100  # ClickUp's budget per token and minute (facts §rate limits)
# The burst starts with a fresh window: it fills that window and spills into the next.
EVENTS = LIMIT + 30


@dataclass
class Stack:
    sandbox: Sandbox
    url: str
    replicas: list[Replica]
    token: str


@pytest.fixture
async def stack(
    neo4j_connection: Connection, tokens: Tokens, encryption_keys: str, token: str, tmp_path: Path
) -> AsyncIterator[Stack]:
    world = generate(GeneratorConfig(seed=77, spaces=1, tasks_per_list=6))
    world.tokens[token] = min(world.users)
    sandbox = Sandbox(world)
    sandbox.limiter.limit = LIMIT
    sandbox.limiter.window_seconds = 60.0
    with UvicornThread(create_app(sandbox)) as clickup:
        env = server_env(neo4j_connection, tokens, f"{clickup.url}/api/v2", encryption_keys) | {
            "WEBHOOK_WORKER": "on",
            "WEBHOOK_PUBLIC_URL": f"http://127.0.0.1:{free_port()}/webhooks/clickup",
        }
        replicas = [start_replica(env, tmp_path / f"replica-{n}.log") for n in range(3)]
        try:
            deadline = time.monotonic() + START_SECONDS
            await asyncio.gather(*(serving(replica, deadline) for replica in replicas))
            yield Stack(sandbox, clickup.url, replicas, token)
        finally:
            for replica in replicas:
                with contextlib.suppress(Exception):
                    await replica.stop()


def task_updated(webhook_id: str, task_id: str) -> bytes:
    return json.dumps(
        {
            "event": "taskUpdated",
            "task_id": task_id,
            "webhook_id": webhook_id,
            "history_items": [{"id": uuid.uuid4().hex, "field": "name", "date": str(int(time.time() * 1000))}],
        }
    ).encode()


def inbox_states(driver: neo4j.Driver, webhook_id: str) -> dict[str, int]:
    records, _, _ = driver.execute_query(
        "MATCH (e:WebhookEvent {webhookId: $id}) RETURN e.state AS state, count(*) AS n", id=webhook_id
    )
    return {record["state"]: record["n"] for record in records}


async def token_windows(stack: Stack) -> list[dict[str, Any]]:
    """The sandbox's account of the token's windows (it keys them by a fingerprint of the token)."""
    async with httpx.AsyncClient(timeout=10) as http:
        state = (await http.get(f"{stack.url}/_sandbox/state")).json()
    mark = hashlib.sha256(stack.token.encode()).hexdigest()[:12]
    return [window for window in state["rate_windows"] if window["token"] == mark]


async def test_three_replicas_share_one_tokens_budget_without_a_429(
    stack: Stack, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    first = stack.replicas[0]
    live = await first.stub.UpdateIntegration(
        enable_request(tenant, stack.token, auto_sync=True), metadata=bearer(tokens.admin)
    )
    assert [w.status for w in live.webhooks] == ["active"]
    webhook_id = live.webhooks[0].id
    tasks = sorted(stack.sandbox.world.tasks)
    # The set-up spent part of a window; the burst starts once it is over, so the window the burst
    # opens has work waiting from its first request to its last.
    setup_window_ends = max(w["ends_at"] for w in await token_windows(stack))
    await asyncio.sleep(max(0.0, setup_window_ends - time.time()) + 0.5)

    started = time.time()
    bodies = [task_updated(webhook_id, tasks[n % len(tasks)]) for n in range(EVENTS)]
    for n in range(0, EVENTS, 40):  # spread over the replicas, as the gateway's round robin does
        batch = pb.DeliverWebhookEventsRequest(
            events=[
                pb.DeliverWebhookEventRequest(integration="clickup", raw_body=body, signature_verified=True)
                for body in bodies[n : n + 40]
            ]
        )
        replica = stack.replicas[(n // 40) % len(stack.replicas)]
        answer = await replica.stub.DeliverWebhookEvents(batch, metadata=bearer(tokens.gateway))
        assert {result.code for result in answer.results} == {0}

    deadline = time.monotonic() + 300  # about three minutes of budget, with room to spare
    while (states := inbox_states(neo4j_driver, webhook_id)).get("APPLIED", 0) < EVENTS:
        assert time.monotonic() < deadline, f"not every event was applied: {states}"
        await asyncio.sleep(1)
    finished = time.time()

    windows = await token_windows(stack)
    assert stack.sandbox.limiter.rejected == 0, f"429s: {windows}"
    assert sum(w["rejected"] for w in windows) == 0
    # Windows that opened after the burst began and ran out before the last event was applied: the
    # replicas had work waiting all through them.
    busy = [w for w in windows if w["started_at"] >= started and w["ends_at"] <= finished]
    assert busy, f"the burst did not outlast a whole window: {windows}"
    print("windows (used/limit, 429s):", [(w["used"], w["limit"], w["rejected"]) for w in windows])
    for window in busy:
        assert window["used"] >= 0.9 * LIMIT, f"budget use {window['used']}/{LIMIT} in {window}"
