"""Regenerating the webhook secret from the gallery's detail page while ClickUp deliveries stream,
keyboard only, in headless Chromium against the real server, Neo4j, the ClickUp sandbox and the real
webhook gateway in front of the server.

The RPC-level test (tests/integration/test_live_sync_secret_rotation.py) proves the rotation itself;
this one proves what a user sees does the same: pressing "Regenerate secret" in the Settings tab while
a background task keeps changing tasks in ClickUp refuses no delivery (made before, during or after
the press, or sent before it and arriving after it), the page reports until when the old secret is
accepted, every event is applied, and what ClickUp sends after the press is signed with the new
secret. ClickUp never changes a webhook's secret: the regeneration makes a replacement webhook with
its own secret, and the old one keeps sending with the old secret until the grace period ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import neo4j
import pytest
from playwright.async_api import Browser, Page, expect
from prometheus_client.parser import text_string_to_metric_families

from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.events import compact
from sandbox.clickup.generator import GeneratorConfig
from sandbox.clickup.state import Sandbox
from sandbox.clickup.webhooks import sign
from tests.clients import test_gallery_browser as shared
from tests.clients.conftest import serving_gallery
from tests.clients.test_gallery_detail_browser import open_tab
from tests.conftest import Tokens, bearer
from tests.integration.importing import enable_request, run_import
from tests.integration.live_helpers import LiveStack, live_stack, task_name
from tests.integration.test_live_sync import mutate
from tests.support import wait_for

browser = shared.browser  # the same headless Chromium as the other browser tests
ARTIFACTS, tab_to, watched_page = shared.ARTIFACTS, shared.tab_to, shared.watched_page

TOKEN = "pk_5550001_GALLERYROTATION00000000000000000"
GRACE_MINUTES = 5
PACE_SECONDS = 0.05  # between two mutations: a steady stream the 2-core CI machine keeps up with
SETTLE_SECONDS = 60


@pytest.fixture
async def stack(
    neo4j_connection: Connection, tokens: Tokens, encryption_keys: str, tmp_path: Path
) -> AsyncIterator[LiveStack]:
    config = GeneratorConfig(seed=47, spaces=1, tasks_per_list=6)
    async with live_stack(config, TOKEN, neo4j_connection, tokens, encryption_keys, tmp_path) as running:
        yield running


@dataclass
class Stream:
    """Mutations in ClickUp (``mutate`` of the live-sync test, one at a time) until stopped."""

    admin: httpx.AsyncClient
    sandbox: Sandbox
    made: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        while not self.stop.is_set():
            await mutate(self.admin, self.sandbox, 1, seed=1000 + self.made)
            self.made += 1
            await asyncio.sleep(PACE_SECONDS)

    def check(self) -> None:
        """Fail at once (not at a deadline) if the stream died."""
        if self.task is not None and self.task.done():
            self.task.result()
            raise AssertionError("the mutation stream stopped early")


@contextlib.asynccontextmanager
async def streaming(admin: httpx.AsyncClient, sandbox: Sandbox) -> AsyncIterator[Stream]:
    stream = Stream(admin, sandbox)
    stream.task = asyncio.create_task(stream.run())
    try:
        yield stream
    finally:
        stream.stop.set()
        await stream.task


async def deliveries(admin: httpx.AsyncClient) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await admin.get("/_sandbox/deliveries")).json()["deliveries"]
    return found


async def gateway_metrics(gateway_url: str) -> dict[str, float]:
    """The gateway's counters and gauges, summed over their labels but ``forwarded`` (by result)."""
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(f"{gateway_url}/metrics")).text
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name = sample.name
            if name == "gateway_deliveries_forwarded_total":
                name = f"{name}:{sample.labels['result']}"
            totals[name] = totals.get(name, 0.0) + float(sample.value)
    return totals


def event_states(driver: neo4j.Driver, tenant: tuple[str, str]) -> dict[str, int]:
    records, _, _ = driver.execute_query(
        "MATCH (e:WebhookEvent {orgId: $o, projectId: $p}) RETURN e.state AS state, count(e) AS n",
        o=tenant[0],
        p=tenant[1],
    )
    return {record["state"]: record["n"] for record in records}


async def back_to_tabs(page: Page, name: str, limit: int = 10) -> None:
    """Shift+Tab from inside the selected panel up to its tab, then the arrow keys to tab ``name``
    (going forward would cross the whole panel first: the Settings tab holds the field mapping)."""
    selected = page.get_by_role("tab", selected=True)
    for _ in range(limit):
        if await selected.evaluate("element => element === document.activeElement"):
            break
        await page.keyboard.press("Shift+Tab")
    else:
        raise AssertionError(f"the selected tab cannot be reached with Shift+Tab in {limit} presses")
    await open_tab(page, name)


async def regenerate_with_the_keyboard(page: Page) -> dict[str, Any]:
    """Grace typed, the button pressed with Space; the gallery's JSON answer."""
    grace = page.get_by_label("Accept the old secret for (minutes)")
    await tab_to(page, grace)
    await page.keyboard.press("Control+A")
    await page.keyboard.type(str(GRACE_MINUTES))
    await tab_to(page, page.get_by_role("button", name="Regenerate secret"))
    async with page.expect_response(lambda r: r.url.endswith("/integrations/clickup/webhook-secret")) as answer:
        await page.keyboard.press("Space")
    response = await answer.value
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def test_regenerating_in_the_settings_tab_while_deliveries_stream_refuses_none(
    browser: Browser, stack: LiveStack, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    hub, sandbox, log = stack.hub, stack.sandbox, stack.sandbox.hub.log
    enabled = await hub.stub.UpdateIntegration(
        enable_request(tenant, TOKEN, auto_sync=True), metadata=bearer(tokens.admin)
    )
    (old_id,) = [w.id for w in enabled.webhooks]
    assert set(sandbox.hub.webhooks) == {old_id}
    old_secret = sandbox.hub.webhooks[old_id].secret
    try:
        assert (await run_import(hub, tokens.admin, tenant))[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED
        async with (
            httpx.AsyncClient(base_url=stack.sandbox_url, timeout=60) as admin,
            serving_gallery(hub, tokens.admin, tenant) as gallery,
            watched_page(browser, expected=()) as page,
        ):
            await page.goto(f"{gallery.page}/integrations/clickup")
            await expect(page.locator("body")).to_have_attribute("data-ready", "true")
            await open_tab(page, "Settings")
            endpoint = page.locator("#settings-endpoint")
            await expect(endpoint).to_have_text(f"{stack.public_url} (1 webhook(s) registered)")

            # Sent by ClickUp before the regeneration, arriving after it (held until the end).
            await admin.put("/_sandbox/config", json={"hold_deliveries": True})
            await mutate(admin, sandbox, 3, seed=7)
            in_flight = [compact({**payload, "webhook_id": hook.id}) for hook, payload in sandbox.hub.held]
            assert len(in_flight) >= 3
            await admin.put("/_sandbox/config", json={"hold_deliveries": False})

            async with streaming(admin, sandbox) as stream:

                async def delivered_by(webhook_id: str, since: int, at_least: int) -> bool:
                    stream.check()
                    return sum(d.webhook_id == webhook_id and d.delivered for d in log[since:]) >= at_least

                await wait_for(lambda: delivered_by(old_id, 0, 10), 30, "deliveries before the regeneration")
                # ClickUp answers the replacement's activation late: the old webhook sends meanwhile.
                slow = {"path": r"^/api/v2/webhook/[^/]+$", "delay_seconds": 1.0, "times": 1}
                assert (await admin.post("/_sandbox/faults", json={"faults": [slow]})).status_code == 200
                pressed_at = len(log)
                done = await regenerate_with_the_keyboard(page)
                answered_at = len(log)
                expires = datetime.fromisoformat(done["old_secret_expire_time"])
                assert (
                    timedelta(minutes=GRACE_MINUTES) - timedelta(seconds=30)
                    < expires - datetime.now(UTC)
                    <= timedelta(minutes=GRACE_MINUTES)
                )
                shown = await page.evaluate("iso => new Date(iso).toLocaleString()", done["old_secret_expire_time"])
                await expect(page.locator("#settings-result")).to_have_text(
                    f"A new secret is in use; the old one is accepted until {shown}"
                )
                (new_id,) = [w["id"] for w in done["integration"]["webhooks"] if w["id"] != old_id]
                await wait_for(lambda: delivered_by(new_id, answered_at, 15), 30, "deliveries after the regeneration")

                # The page shows both webhooks, the old one until its grace ends.
                await back_to_tabs(page, "Overview")
                hooks = page.locator("#overview-webhooks li")
                await expect(hooks).to_have_count(2)
                await expect(hooks.filter(has_text=new_id)).to_contain_text(": active,")
                await open_tab(page, "Settings")
                await expect(endpoint).to_have_text(f"{stack.public_url} (2 webhook(s) registered)")
                await expect(page.locator("#settings-result")).to_contain_text(shown)
                ARTIFACTS.mkdir(exist_ok=True)
                await page.screenshot(path=str(ARTIFACTS / "detail-settings-rotation.png"), full_page=True)
            assert stream.made > 0

            tasks = sorted(t.id for t in sandbox.world.tasks.values() if t.parent is None and not t.archived)
            last_name = f"Last rename {uuid.uuid4().hex[:8]}"
            renamed = await admin.patch(f"/_sandbox/tasks/{tasks[0]}", json={"name": last_name})
            assert renamed.status_code == 200, renamed.text
            flushed = await admin.post("/_sandbox/webhooks/flush", json={"timeout": 60})
            assert flushed.json()["flushed"] == len(in_flight)

            seen: dict[str, object] = {}

            async def settled() -> bool:
                sent = await deliveries(admin)
                metrics = await gateway_metrics(stack.gateway_url)
                undelivered = [(d["webhook_id"], d["event"], d["status"]) for d in sent if not d["delivered"]]
                states = await asyncio.to_thread(event_states, neo4j_driver, tenant)
                name = await asyncio.to_thread(task_name, neo4j_driver, tenant, tasks[0])
                spool = metrics.get("gateway_spool_depth")
                seen.update(undelivered=undelivered, spool_depth=spool, states=states, name=name)
                return (
                    not undelivered
                    and spool == 0
                    and metrics.get("gateway_deliveries_forwarded_total:stored", 0) > 0
                    and set(states) == {"APPLIED"}
                    and name == last_name
                )

            try:
                await wait_for(settled, SETTLE_SECONDS, "every delivery accepted, every event applied")
            except TimeoutError as exc:
                raise AssertionError(f"{exc}; last seen: {seen}") from None
            sent = await deliveries(admin)
            metrics = await gateway_metrics(stack.gateway_url)

        # None refused: every delivery answered 2xx at its first attempt, the gateway refused nothing.
        assert [(d["webhook_id"], d["event"], d["status"]) for d in sent if not 200 <= (d["status"] or 0) < 300] == []
        assert {d["attempts"] for d in sent} == {1}
        assert metrics.get("gateway_deliveries_rejected_total", 0) == 0
        assert metrics["gateway_deliveries_received_total"] == metrics["gateway_deliveries_verified_total"]
        assert metrics["gateway_deliveries_received_total"] == len(sent)
        assert metrics.get("gateway_deliveries_forwarded_total:refused", 0) == 0

        # ClickUp's side: the old webhook and secret kept, a replacement with a new secret beside it.
        after = {i: h.secret for i, h in sandbox.hub.webhooks.items()}
        assert after.keys() == {old_id, new_id}
        assert after[old_id] == old_secret
        assert after[new_id] != old_secret
        assert all(d["signature"] == sign(after[d["webhook_id"]], d["body"].encode()) for d in sent)
        assert all(d.webhook_id == old_id for d in log[:pressed_at]), "the replacement is new"
        assert [f.hits for f in sandbox.faults] == [1], "the replacement's activation was answered late"
        during = [d for d in log[pressed_at:answered_at] if d.webhook_id == old_id]
        assert during, "the old webhook delivered while the regeneration was under way"
        late = [(i, d) for i, d in enumerate(log) if d.body in in_flight]
        assert len(late) == len(in_flight), "each held delivery sent once"
        assert all(i >= answered_at and d.webhook_id == old_id and d.delivered for i, d in late), (
            "deliveries signed with the old secret before the regeneration, arriving after it, accepted"
        )
        new = [d for d in log[answered_at:] if d.webhook_id == new_id]
        assert len(new) >= 15
        assert all(d.signature == sign(after[new_id], d.body) for d in new), "signed with the new secret"

        got = await hub.stub.GetIntegration(
            pb.GetIntegrationRequest(org_id=tenant[0], project_id=tenant[1], name="clickup"),
            metadata=bearer(tokens.admin),
        )
        assert sorted(w.id for w in got.webhooks) == sorted((old_id, new_id))
        assert sum((await asyncio.to_thread(event_states, neo4j_driver, tenant)).values()) > 0
    finally:  # no registration outlives the test (a later supervisor would try to reach it)
        await hub.stub.UpdateIntegration(enable_request(tenant, TOKEN), metadata=bearer(tokens.admin))
