"""Custom-field mapping on an integration's detail page (Settings tab), keyboard only, in headless
Chromium against the real server, Neo4j and a generated ClickUp workspace with seven custom fields.

After an import, the Settings tab's Custom fields section is opened (it lists the fields only then);
one field's property is renamed (a built-in name first, which the server refuses and
the page shows against that field), another's values become text, a third is skipped. Saving starts a
re-map of the nodes already imported, which the page follows to its end; the project's tasks then
carry the new property and type and nothing of the skipped field, while another project that imported
the same workspace is untouched. Screenshotted; the section still works 360 px wide."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import neo4j
import pytest
from playwright.async_api import Browser, Locator, Page, expect

from devtools.neo4j_local import Connection
from sandbox.clickup.app import create_app as create_sandbox
from sandbox.clickup.generator import GeneratorConfig, generate
from sandbox.clickup.state import Sandbox
from tests.clients import test_gallery_browser as shared
from tests.clients.conftest import RunningGallery, serving_gallery
from tests.clients.test_gallery_detail_browser import open_tab
from tests.conftest import RunningHub, RunningSandbox, Tokens, hub_with, server_env
from tests.integration.importing import export
from tests.integration.test_data_deletion import imported
from tests.support import UvicornThread

browser = shared.browser  # the same headless Chromium as the ClickUp browser test
ARTIFACTS, watched_page = shared.ARTIFACTS, shared.watched_page
TOKEN = "pk_5550001_FIELDMAPSANDBOX0000000000000000"
# One space, so one set of the generator's fields: Stage, Estimate (h), Customer, Approved, Launch
# date, Budget, Areas; most tasks hold a value of each.
WORLD = GeneratorConfig(
    seed=31,
    spaces=1,
    folders_per_space=1,
    lists_per_folder=2,
    folderless_lists_per_space=0,
    tasks_per_list=6,
    archived_hierarchy=False,
    comment_ratio=0.0,
    custom_field_ratio=0.8,
)


@pytest.fixture(scope="module")
def fields_sandbox() -> Iterator[RunningSandbox]:
    world = generate(WORLD)
    world.tokens[TOKEN] = min(world.users)
    sandbox = Sandbox(world)
    sandbox.limiter.limit = None
    with UvicornThread(create_sandbox(sandbox)) as server:
        yield RunningSandbox(server.url, sandbox, TOKEN)


@pytest.fixture
async def fields_gallery(
    neo4j_connection: Connection,
    tokens: Tokens,
    fields_sandbox: RunningSandbox,
    encryption_keys: str,
    tenant: tuple[str, str],
) -> AsyncIterator[tuple[RunningGallery, RunningHub]]:
    env = server_env(neo4j_connection, tokens, fields_sandbox.api_url, encryption_keys)
    async with hub_with(env) as hub, serving_gallery(hub, tokens.admin, tenant) as gallery:
        yield gallery, hub


async def open_fields(page: Page) -> None:
    """The Settings tab, then its Custom fields section (listed when it opens: a call to the provider)."""
    await open_tab(page, "Settings")
    section = page.locator("#fields-section")
    await expect(section).not_to_have_attribute("open", "")
    await key_to(page, section.locator("summary"))
    await page.keyboard.press("Enter")
    await expect(section).to_have_attribute("open", "")


async def key_to(page: Page, target: Locator, limit: int = 60) -> None:
    """Tab, or Shift+Tab when the target comes before the focus, until the target has focus: proof
    that the keyboard reaches it."""
    for _ in range(limit):
        if await target.evaluate("element => element === document.activeElement"):
            return
        behind = await target.evaluate(
            "element => Boolean(document.activeElement.compareDocumentPosition(element) & "
            "Node.DOCUMENT_POSITION_PRECEDING)"
        )
        await page.keyboard.press("Shift+Tab" if behind else "Tab")
    raise AssertionError(f"{target} cannot be reached with the keyboard")


def tasks(driver: neo4j.Driver, tenant: tuple[str, str]) -> dict[str, dict[str, Any]]:
    """Every task of the project, with all its properties, by ClickUp id."""
    records, _, _ = driver.execute_query(
        "MATCH (t:Task {orgId: $org, projectId: $project, source: 'clickup'}) WHERE t.stub IS NULL "
        "RETURN t.externalId AS id, properties(t) AS props",
        org=tenant[0],
        project=tenant[1],
    )
    return {r["id"]: dict(r["props"]) for r in records}


def holding(nodes: dict[str, dict[str, Any]], prop: str) -> dict[str, Any]:
    return {task: props[prop] for task, props in nodes.items() if prop in props}


async def test_rename_retype_and_skip_with_the_keyboard_remap_this_project_only(
    browser: Browser,
    fields_gallery: tuple[RunningGallery, RunningHub],
    tokens: Tokens,
    neo4j_driver: neo4j.Driver,
) -> None:
    gallery, hub = fields_gallery
    tenant, other = (gallery.org, gallery.project), (gallery.org, f"other-{uuid.uuid4().hex[:8]}")
    await imported(hub, tokens, tenant, TOKEN)
    await imported(hub, tokens, other, TOKEN)
    before, other_before = tasks(neo4j_driver, tenant), export(neo4j_driver, other[1])
    customers, estimates = holding(before, "cf_customer"), holding(before, "cf_estimate_h")
    assert customers, "the generated tasks hold customers"
    assert estimates, "... estimates"
    assert all(isinstance(value, int | float) for value in estimates.values()), "numbers, unmapped"
    assert holding(before, "cf_approved"), "... and approvals"

    async with watched_page(browser, expected=("status of 400 (Bad Request)",)) as page:
        await page.goto(f"{gallery.page}/integrations/clickup")
        await expect(page.locator("body")).to_have_attribute("data-ready", "true")
        await open_fields(page)
        await expect(page.get_by_test_id("field-row")).to_have_count(7)
        customer = page.get_by_label("Property for Customer")
        await expect(customer).to_have_attribute("placeholder", "cf_customer")
        await expect(customer).to_have_value("")
        result = page.locator("#fields-result")

        # A property the Task has of its own is refused by the server, against that field; nothing is saved.
        await key_to(page, customer)
        await page.keyboard.type("name")
        await page.keyboard.press("Enter")
        await expect(result).to_contain_text("Not saved: Customer (mappings[0].property): ")
        await expect(result).to_have_attribute("data-ok", "false")
        await expect(customer).to_have_attribute("aria-invalid", "true")
        await expect(customer).to_be_focused()
        await page.keyboard.press("Control+A")
        await page.keyboard.type("customer")

        estimate = page.get_by_label("Type of Estimate (h)")
        await expect(estimate).to_have_value("natural")
        await key_to(page, estimate)
        await page.keyboard.type("Text")  # a closed select picks the option its typed label starts
        await expect(estimate).to_have_value("string")
        approved = page.get_by_label("Skip Approved")
        await key_to(page, approved)
        await page.keyboard.press("Space")
        await expect(approved).to_be_checked()
        await key_to(page, page.get_by_role("button", name="Save field mapping"))
        await page.keyboard.press("Enter")
        await expect(result).to_contain_text("Re-map succeeded", timeout=60_000)
        await expect(result).to_have_attribute("data-ok", "true")
        await expect(customer).not_to_have_attribute("aria-invalid", "true")
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "detail-settings-fields.png"), full_page=True)

        # What was saved is what the page shows next time.
        await page.reload()
        await expect(page.locator("body")).to_have_attribute("data-ready", "true")
        await open_fields(page)
        await expect(page.get_by_label("Property for Customer")).to_have_value("customer")
        await expect(page.get_by_label("Type of Estimate (h)")).to_have_value("string")
        await expect(page.get_by_label("Skip Approved")).to_be_checked()
        await expect(page.get_by_label("Skip Customer")).not_to_be_checked()
        await expect(result).to_contain_text("Last re-map succeeded")

        await page.set_viewport_size({"width": 360, "height": 740})  # a phone: the table scrolls, not the page
        assert await page.evaluate("document.documentElement.scrollWidth") <= 360
        save = page.get_by_role("button", name="Save field mapping")
        await key_to(page, save)
        await expect(save).to_be_in_viewport()
        await key_to(page, page.get_by_label("Skip Approved"))
        await expect(page.get_by_label("Skip Approved")).to_be_in_viewport()
        approved_row = page.get_by_test_id("field-row").filter(has_text="Approved")
        await expect(approved_row.get_by_role("rowheader")).to_be_in_viewport()  # the name stays beside it
        await page.screenshot(path=str(ARTIFACTS / "detail-settings-fields-360.png"), full_page=True)

    after = tasks(neo4j_driver, tenant)
    assert after.keys() == before.keys()
    assert holding(after, "customer") == customers, "renamed, values as they were"
    assert holding(after, "cf_customer") == {}, "... and the old property gone"
    retyped = holding(after, "cf_estimate_h")
    assert retyped.keys() == estimates.keys()
    assert all(isinstance(value, str) and float(value) == estimates[task] for task, value in retyped.items())
    assert holding(after, "cf_approved") == {}, "skipped: no property at all"
    for untouched in ("cf_stage", "cf_budget", "cf_launch_date", "cf_areas"):
        assert holding(after, untouched) == holding(before, untouched), untouched
    assert export(neo4j_driver, other[1]) == other_before, "another project's nodes are untouched"
