"""Disable with or without the data, in the gallery (issue 14, item 2), keyboard only, in headless
Chromium against the real server, Neo4j and the ClickUp sandbox.

Turning the switch off asks what happens to the imported data. Keeping it is the default; deleting
it needs the integration's name typed again, then the card follows the deletion to its end, and
the graph is emptied for this project only."""

from __future__ import annotations

import uuid

import neo4j
from playwright.async_api import Browser, Page, expect

from tests.clients import test_gallery_browser as shared
from tests.clients.conftest import RunningGallery
from tests.conftest import RunningHub, Tokens
from tests.integration.test_data_deletion import clickup_nodes, imported

browser = shared.browser  # the same headless Chromium as the ClickUp browser test
ARTIFACTS, tab_to, watched_page = shared.ARTIFACTS, shared.tab_to, shared.watched_page


async def switch_off(page: Page, gallery: RunningGallery) -> None:
    await page.goto(gallery.page)
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    card = page.get_by_test_id("card").filter(has_text="ClickUp")
    switch = card.get_by_role("switch", name="ClickUp enabled")
    await expect(switch).to_have_attribute("aria-checked", "true")
    await tab_to(page, switch)
    await page.keyboard.press("Space")


async def test_disable_and_delete_with_the_keyboard_empties_this_project_only(
    browser: Browser, gallery: RunningGallery, hub: RunningHub, tokens: Tokens, neo4j_driver: neo4j.Driver
) -> None:
    tenant = (gallery.org, gallery.project)
    other = (gallery.org, f"other-{uuid.uuid4().hex[:8]}")
    await imported(hub, tokens, tenant)
    await imported(hub, tokens, other)
    others_before = clickup_nodes(neo4j_driver, other)
    assert clickup_nodes(neo4j_driver, tenant) > 0

    async with watched_page(browser, expected=("status of 400 (Bad Request)",)) as page:
        await switch_off(page, gallery)
        dialog = page.get_by_role("dialog", name="Disable ClickUp")
        await expect(dialog).to_be_visible()
        keep = dialog.get_by_role("radio", name="Keep it in the graph")
        await expect(keep).to_be_focused()
        await expect(keep).to_be_checked()
        await page.keyboard.press("ArrowDown")  # radios move with the arrow keys
        await expect(dialog.get_by_role("radio", name="Delete all of it")).to_be_checked()
        name = dialog.get_by_label("Type clickup to confirm")
        await expect(name).to_be_visible()
        await tab_to(page, name)
        await page.keyboard.type("clickupp")
        await page.keyboard.press("Enter")
        await expect(dialog.get_by_role("alert")).to_have_text("Type clickup exactly to delete its data.")
        assert clickup_nodes(neo4j_driver, tenant) > 0, "nothing happens on a wrong name"
        await page.keyboard.press("Backspace")
        await page.keyboard.press("Enter")
        await expect(dialog).to_be_hidden()
        card = page.get_by_test_id("card").filter(has_text="ClickUp")
        result = card.get_by_test_id("result")
        await expect(result).to_contain_text("ClickUp disabled; its data was deleted: ", timeout=60_000)
        await expect(result).to_contain_text("task")
        await expect(card.get_by_role("switch", name="ClickUp enabled")).to_have_attribute("aria-checked", "false")
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "gallery-disable-deleted.png"), full_page=True)

    assert clickup_nodes(neo4j_driver, tenant) == 0
    assert clickup_nodes(neo4j_driver, other) == others_before, "another project's data is untouched"


async def test_disable_keeping_the_data_is_the_default(
    browser: Browser, gallery: RunningGallery, hub: RunningHub, tokens: Tokens, neo4j_driver: neo4j.Driver
) -> None:
    tenant = (gallery.org, gallery.project)
    await imported(hub, tokens, tenant)
    before = clickup_nodes(neo4j_driver, tenant)
    async with watched_page(browser, expected=()) as page:
        await page.set_viewport_size({"width": 360, "height": 740})  # a phone: the dialog still works
        await switch_off(page, gallery)
        dialog = page.get_by_role("dialog", name="Disable ClickUp")
        await expect(dialog.get_by_label("Type clickup to confirm")).to_be_hidden()
        await page.keyboard.press("Enter")
        await expect(dialog).to_be_hidden()
        card = page.get_by_test_id("card").filter(has_text="ClickUp")
        await expect(card.get_by_test_id("result")).to_have_text("ClickUp disabled; its data is kept")
        switch = card.get_by_role("switch", name="ClickUp enabled")
        await expect(switch).to_be_focused()  # focus goes back where it was
        await expect(switch).to_have_attribute("aria-checked", "false")
    assert clickup_nodes(neo4j_driver, tenant) == before
