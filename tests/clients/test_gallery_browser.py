"""The Integration Gallery in headless Chromium (Debian's, driven by Playwright) against the real
stack: server, Neo4j and the ClickUp sandbox. Everything is done with the keyboard only; the page is
also checked on a phone-sized screen. Screenshots land in test-artifacts/."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Locator, Page, Response, async_playwright, expect

from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.fixtures import TV_TOKEN
from tests.clients.conftest import RunningGallery
from tests.conftest import RunningHub, RunningSandbox, Tokens, bearer
from tests.integration.importing import expected_counts
from tests.support import wait_for

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_FLAGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def chromium_path() -> str:
    found = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail(
            "Chromium not found: run scripts/bootstrap.sh --for-tests (installs Debian's chromium) or set CHROMIUM_PATH"
        )
    return found


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    # Chromium logs every non-2xx fetch; the one 409 is the wrong token the test sends on purpose.
    async with watched_page(browser, expected=("status of 409 (Conflict)",)) as opened:
        yield opened


@contextlib.asynccontextmanager
async def watched_page(browser: Browser, expected: tuple[str, ...]) -> AsyncIterator[Page]:
    """A tab whose console errors and page errors fail the test, but for the ``expected`` ones."""
    context = await browser.new_context(viewport={"width": 1280, "height": 860})
    opened = await context.new_page()
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and not any(text in message.text for text in expected):
            problems.append(f"console: {message.text}")

    opened.on("console", console)
    opened.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    yield opened
    await context.close()
    assert problems == []  # no script error, no CSP violation, no unexpected failed request


async def tab_to(page: Page, target: Locator, limit: int = 40) -> None:
    """Presses Tab until the target has focus: proof that the keyboard reaches it."""
    for _ in range(limit):
        if await target.evaluate("element => element === document.activeElement"):
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"{target} cannot be reached with Tab")


async def test_toggle_configure_test_and_import_with_the_keyboard_only(
    page: Page, gallery: RunningGallery, hub: RunningHub, tokens: Tokens, clickup_sandbox: RunningSandbox
) -> None:
    api_bodies: list[str] = []

    async def keep_body(response: Response) -> None:
        if "/api/" in response.url and "text/event-stream" not in response.headers.get("content-type", ""):
            api_bodies.append(await response.text())

    page.on("response", keep_body)
    await page.goto(gallery.url + "/")
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    await expect(page.get_by_test_id("card")).to_have_count(2)
    card = page.get_by_test_id("card").filter(has_text="ClickUp")
    await expect(card).to_have_count(1)
    await expect(card.get_by_role("heading", name="ClickUp")).to_be_visible()
    await expect(card.get_by_test_id("status")).to_have_text("Not configured · off")

    # Configure: the dialog opens on the token field, which is masked; a rejected token is shown inline.
    configure = card.get_by_role("button", name="Configure ClickUp")
    await tab_to(page, configure)
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Configure ClickUp")
    await expect(dialog).to_be_visible()
    token_field = dialog.get_by_label("API token")
    await expect(token_field).to_be_focused()
    await expect(token_field).to_have_attribute("type", "password")
    await page.keyboard.type("pk_0_WRONGTOKEN1234567")
    await page.keyboard.press("Enter")
    await expect(dialog.get_by_role("alert")).to_contain_text("credentials")
    await token_field.fill("")  # the keyboard's select-all would be as good; fill keeps the test short
    await page.keyboard.type(TV_TOKEN)
    interval = dialog.get_by_label("Sync changes every (minutes)")
    await tab_to(page, interval)
    await page.keyboard.press("Control+A")
    await page.keyboard.type("90")
    await page.keyboard.press("Enter")
    await expect(dialog).to_be_hidden()
    await expect(configure).to_be_focused()  # focus goes back where it was
    await expect(card.get_by_test_id("result")).to_have_text("Settings saved; the new token was verified")
    await expect(card.get_by_test_id("status")).to_have_text("Connected · off")  # verified on save

    # Toggle: Space on the switch enables the integration on the server.
    switch = card.get_by_role("switch", name="ClickUp enabled")
    await tab_to(page, switch)
    await page.keyboard.press("Space")
    await expect(switch).to_have_attribute("aria-checked", "true")
    await expect(card.get_by_test_id("status")).to_have_text("Connected · on")
    stored = await hub.stub.GetIntegration(
        pb.GetIntegrationRequest(org_id=gallery.org, project_id=gallery.project, name="clickup"),
        metadata=bearer(tokens.admin),
    )
    assert (stored.enabled, stored.settings.sync_settings.sync_interval.seconds) == (True, 90 * 60)

    # Test Connection: the result inline, the badge updated.
    await tab_to(page, card.get_by_role("button", name="Test connection to ClickUp"))
    await page.keyboard.press("Enter")
    await expect(card.get_by_test_id("result")).to_contain_text("Connected as")
    await expect(card.get_by_test_id("status")).to_have_text("Connected · on")

    # Start Import: progress streams in until the job completes.
    await tab_to(page, card.get_by_role("button", name="Start import from ClickUp"))
    await page.keyboard.press("Enter")
    await expect(card.get_by_test_id("progress")).to_be_visible()
    tasks = expected_counts(clickup_sandbox.sandbox.world)["Task"]
    await expect(card.get_by_test_id("result")).to_contain_text("Import succeeded", timeout=60_000)
    await expect(card.get_by_test_id("import-text")).to_contain_text(f"{tasks} tasks")
    await expect(card.get_by_test_id("last-import")).to_contain_text(f"{tasks} tasks")
    assert await card.get_by_test_id("progress").evaluate("bar => bar.value === bar.max")
    await expect(card.get_by_test_id("webhooks")).to_have_text("off")

    # After a full import, the changes alone can be synced (an incremental import).
    sync = card.get_by_role("button", name="Sync the changes from ClickUp since the last import")
    await tab_to(page, sync)
    await page.keyboard.press("Enter")

    async def synced() -> bool:
        listed = await hub.stub.ListImportJobs(
            pb.ListImportJobsRequest(org_id=gallery.org, project_id=gallery.project, name="clickup"),
            metadata=bearer(tokens.admin),
        )
        modes = [(job.mode, job.state) for job in listed.jobs[:2]]
        return modes == [
            (pb.IMPORT_MODE_INCREMENTAL, pb.IMPORT_JOB_STATE_SUCCEEDED),
            (pb.IMPORT_MODE_FULL, pb.IMPORT_JOB_STATE_SUCCEEDED),
        ]

    await wait_for(synced, 60, "the incremental import started from the page to succeed")
    await expect(card.get_by_test_id("result")).to_contain_text("Import succeeded", timeout=60_000)

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "gallery-after-import.png"
    await page.screenshot(path=shot, full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Nothing the browser received or holds contains the token.
    assert api_bodies
    assert all(TV_TOKEN not in body for body in api_bodies)
    assert TV_TOKEN not in await page.content()
    assert await page.locator("#api-token").input_value() == ""


async def test_the_page_works_on_a_narrow_screen(page: Page, gallery: RunningGallery) -> None:
    await page.set_viewport_size({"width": 360, "height": 780})
    await page.goto(gallery.page)
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    card = page.get_by_test_id("card").filter(has_text="ClickUp")
    for button in await card.get_by_role("button").all():
        box = await button.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 360

    await tab_to(page, card.get_by_role("button", name="Configure ClickUp"))
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_be_visible()
    box = await dialog.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= 360
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=ARTIFACTS / "gallery-narrow-dialog.png")
    await page.keyboard.press("Escape")  # the native dialog closes with Escape
    await expect(dialog).to_be_hidden()
