"""An integration's detail page (issue 14, item 1), keyboard only, in headless Chromium against the
real server (its webhook worker on), Neo4j and the ClickUp sandbox.

After an import the Imports tab shows the job and the Analytics tab a chart of what it wrote. An
event whose re-read fails (the sandbox answers 500 for that task) shows as failed in the Events tab
with a "failing since" banner; once the sandbox is fixed, replaying it from the page applies it.
Each tab is screenshotted; the page still works 360 px wide."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, expect

from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.fixtures import TV_TOKEN
from tests.clients import test_gallery_browser as shared
from tests.clients.conftest import RunningGallery, serving_gallery
from tests.conftest import RunningHub, RunningSandbox, Tokens, bearer, server_env, start_hub
from tests.integration.importing import enable_request, run_import

browser = shared.browser  # the same headless Chromium as the ClickUp browser test
GATEWAY = "http://127.0.0.1:9/webhooks/clickup"  # registered with the sandbox; nothing is delivered here
ARTIFACTS, tab_to, watched_page = shared.ARTIFACTS, shared.tab_to, shared.watched_page


@pytest.fixture
async def working_hub(
    neo4j_connection: Connection, tokens: Tokens, clickup_sandbox: RunningSandbox, encryption_keys: str
) -> AsyncIterator[RunningHub]:
    """A server that applies webhook events, giving up on one after a single failed attempt."""
    env = server_env(neo4j_connection, tokens, clickup_sandbox.api_url, encryption_keys)
    running = await start_hub(
        env | {"WEBHOOK_WORKER": "on", "WEBHOOK_MAX_ATTEMPTS": "1", "WEBHOOK_PUBLIC_URL": GATEWAY}
    )
    yield running
    await running.channel.close(None)
    await running.server.stop(grace=1)


@pytest.fixture
async def detail_gallery(
    working_hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]
) -> AsyncIterator[RunningGallery]:
    async with serving_gallery(working_hub, tokens.admin, tenant) as running:
        yield running


async def open_tab(page: Page, name: str) -> None:
    """Arrow keys move between tabs (WAI-ARIA tabs), from the selected one."""
    selected = page.get_by_role("tab", selected=True)
    await tab_to(page, selected)
    for _ in range(5):
        if await page.get_by_role("tab", name=name).get_attribute("aria-selected") == "true":
            return
        await page.keyboard.press("ArrowRight")
    raise AssertionError(f"the {name} tab could not be reached with the arrow keys")


async def show_until(page: Page, state: str, rows: Locator, seconds: int = 60) -> None:
    """Choose ``state`` in the filter by typing it, then press Show until ``rows`` appear (the worker
    settles events within seconds; the page is asked again each time)."""
    await tab_to(page, page.get_by_label("State"))
    await page.keyboard.type(state)
    await tab_to(page, page.get_by_role("button", name="Show"))
    table = page.get_by_role("table", name="Webhook events, newest first")
    for _ in range(seconds):
        await page.keyboard.press("Enter")  # the page marks the table busy at once, and not busy when drawn
        await expect(table).to_have_attribute("aria-busy", "false")
        if await rows.count():
            return
        await asyncio.sleep(1)
    raise AssertionError(f"no {state} row within {seconds}s")


async def test_history_chart_failed_event_and_replay_with_the_keyboard(
    browser: Browser,
    detail_gallery: RunningGallery,
    working_hub: RunningHub,
    tokens: Tokens,
    clickup_sandbox: RunningSandbox,
) -> None:
    hub, tenant = working_hub, (detail_gallery.org, detail_gallery.project)
    await hub.stub.UpdateIntegration(enable_request(tenant, TV_TOKEN), metadata=bearer(tokens.admin))
    job = (await run_import(hub, tokens.admin, tenant))[-1]
    assert job.state == pb.IMPORT_JOB_STATE_SUCCEEDED
    webhook_id = f"w-{uuid.uuid4().hex[:12]}"
    team = next(iter(clickup_sandbox.sandbox.world.teams))
    await hub.server.webhooks.register("clickup", webhook_id, tenant[0], tenant[1], team, "secret")
    task = sorted(clickup_sandbox.sandbox.world.tasks)[0]
    async with httpx.AsyncClient(base_url=clickup_sandbox.url) as sandbox:
        broken = {"path": f"/task/{task}$", "status": 500, "times": -1}  # every re-read of that task
        await sandbox.post("/_sandbox/faults", json={"faults": [broken]})
        body = json.dumps({"event": "taskUpdated", "task_id": task, "webhook_id": webhook_id,
                           "history_items": [{"id": uuid.uuid4().hex}]}).encode()  # fmt: skip
        delivered = await hub.stub.DeliverWebhookEvents(
            pb.DeliverWebhookEventsRequest(
                events=[pb.DeliverWebhookEventRequest(integration="clickup", raw_body=body, signature_verified=True)]
            ),
            metadata=bearer(tokens.gateway),
        )
        assert delivered.results[0].code == 0

        async with watched_page(browser, expected=()) as page:
            await page.goto(f"{detail_gallery.page}/integrations/clickup")
            await expect(page.locator("body")).to_have_attribute("data-ready", "true")
            await expect(page.get_by_role("heading", level=1)).to_have_text("ClickUp")
            await expect(page.locator("#overview-import")).to_contain_text("task")
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "detail-overview.png"), full_page=True)

            await open_tab(page, "Imports")
            rows = page.get_by_test_id("import-row")
            await expect(rows).to_have_count(1)
            await expect(rows.first).to_contain_text("succeeded")
            await expect(rows.first).to_contain_text(f"{job.api_calls}")
            await page.screenshot(path=str(ARTIFACTS / "detail-imports.png"), full_page=True)

            await open_tab(page, "Analytics")
            await expect(page.locator("#chart-written rect.chart-bar")).to_have_count(1)  # today's import
            await expect(page.get_by_test_id("analytics-row").first).to_contain_text(str(sum(job.counters.values())))
            await page.screenshot(path=str(ARTIFACTS / "detail-analytics.png"), full_page=True)

            # The event fails (one attempt, the sandbox answers 500): the Events tab shows it.
            await open_tab(page, "Events")
            failed = page.get_by_test_id("event-row").filter(has_text=task)
            await show_until(page, "Failed", failed)
            await expect(failed).to_have_attribute("data-state", "failed")
            await page.screenshot(path=str(ARTIFACTS / "detail-events-failed.png"), full_page=True)
            await page.reload()
            await expect(page.locator("body")).to_have_attribute("data-ready", "true")
            await expect(page.locator("#failing")).to_contain_text("failing since")

            # Fixed in the sandbox; replayed from the page: applied.
            await sandbox.delete("/_sandbox/faults")
            await open_tab(page, "Events")
            await show_until(page, "Failed", failed)
            pick = page.get_by_role("checkbox", name=f"Select taskUpdated {task}")
            await tab_to(page, pick)
            await page.keyboard.press("Space")
            await tab_to(page, page.get_by_role("button", name="Replay selected"))
            await page.keyboard.press("Enter")
            await expect(page.locator("#events-result")).to_have_text("1 event(s) queued again")
            applied = page.get_by_test_id("event-row").filter(has_text=task)
            await show_until(page, "Applied", applied)
            await expect(applied).to_have_attribute("data-state", "applied")
            await page.screenshot(path=str(ARTIFACTS / "detail-events-replayed.png"), full_page=True)

            await page.set_viewport_size({"width": 360, "height": 740})  # a phone: tabs wrap, tables scroll
            await open_tab(page, "Overview")
            await expect(page.locator("#overview-audit")).to_contain_text("integration.update")
            await page.screenshot(path=str(ARTIFACTS / "detail-overview-360.png"), full_page=True)


async def test_settings_show_the_endpoint_and_regenerate_the_secret_with_the_keyboard(
    browser: Browser, detail_gallery: RunningGallery, working_hub: RunningHub, tokens: Tokens
) -> None:
    hub, tenant = working_hub, (detail_gallery.org, detail_gallery.project)
    live = await hub.stub.UpdateIntegration(
        enable_request(tenant, TV_TOKEN, auto_sync=True), metadata=bearer(tokens.admin)
    )
    assert [w.status for w in live.webhooks] == ["active"]
    try:
        async with watched_page(browser, expected=()) as page:
            await page.goto(f"{detail_gallery.page}/integrations/clickup")
            await expect(page.locator("body")).to_have_attribute("data-ready", "true")
            await open_tab(page, "Settings")
            await expect(page.locator("#settings-endpoint")).to_have_text(
                "http://127.0.0.1:9/webhooks/clickup (1 webhook(s) registered)"
            )
            grace = page.get_by_label("Accept the old secret for (minutes)")
            await tab_to(page, grace)
            await page.keyboard.press("Control+A")
            await page.keyboard.type("5")
            await page.keyboard.press("Enter")
            result = page.locator("#settings-result")
            await expect(result).to_contain_text("A new secret is in use; the old one is accepted until ")
            await page.screenshot(path=str(ARTIFACTS / "detail-settings.png"), full_page=True)
        got = await hub.stub.GetIntegration(
            pb.GetIntegrationRequest(org_id=tenant[0], project_id=tenant[1], name="clickup"),
            metadata=bearer(tokens.admin),
        )
        assert len(got.webhooks) == 2, "ClickUp's replacement webhook beside the old one, for the grace period"
        audit = await hub.stub.ListAuditRecords(
            pb.ListAuditRecordsRequest(org_id=tenant[0], project_id=tenant[1], page_size=1),
            metadata=bearer(tokens.reader),
        )
        assert audit.records[0].action == "webhook.regenerate_secret"
        assert audit.records[0].details["grace_seconds"] == "300"
    finally:  # no registration outlives the test (later tests' supervisors would try to reach it)
        await hub.stub.UpdateIntegration(enable_request(tenant, TV_TOKEN), metadata=bearer(tokens.admin))
