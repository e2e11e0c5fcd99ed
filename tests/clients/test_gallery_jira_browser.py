"""Jira through the Integration Gallery, in headless Chromium against the real stack (server, Neo4j,
the Jira sandbox): its options (site, email, projects, switches) are rendered from its options schema,
so the page configures it without knowing it; server field errors land next to the right input.
Also the page API's answers to bad options, which must be a 400 naming the option, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from playwright.async_api import Browser, Page, expect

from integrations.v1 import integration_service_pb2 as pb
from sandbox.jira.generator import MAIN_EMAIL, MAIN_TOKEN, GeneratorConfig
from tests.clients import test_gallery_browser as shared
from tests.clients.conftest import RunningGallery
from tests.conftest import RunningHub, Tokens, bearer
from tests.jira_sites import JiraSite, serving

browser = shared.browser  # the same headless Chromium as the ClickUp browser test
tab_to = shared.tab_to
# Chromium logs every non-2xx fetch: these are the refusals this test provokes on purpose.
EXPECTED_REFUSALS = ("status of 400 (Bad Request)",)


@pytest.fixture(scope="module")
def jira_site() -> Iterator[JiraSite]:
    with serving(GeneratorConfig(seed=5, projects=2, issues_per_project=8)) as site:
        yield site


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """As the ClickUp test's page, but the provoked 400s are expected in the console."""
    async with shared.watched_page(browser, expected=EXPECTED_REFUSALS) as opened:
        yield opened


async def stored(hub: RunningHub, tokens: Tokens, gallery: RunningGallery) -> pb.Integration:
    item: pb.Integration = await hub.stub.GetIntegration(
        pb.GetIntegrationRequest(org_id=gallery.org, project_id=gallery.project, name="jira"),
        metadata=bearer(tokens.admin),
    )
    return item


async def test_jira_is_configured_enabled_tested_and_imported_from_its_card(
    page: Page, gallery: RunningGallery, hub: RunningHub, tokens: Tokens, jira_site: JiraSite
) -> None:
    await page.goto(gallery.page)
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    await expect(page.get_by_test_id("card")).to_have_count(2)
    await expect(page.get_by_test_id("card").filter(has_text="ClickUp")).to_have_count(1)
    card = page.get_by_test_id("card").filter(has=page.get_by_role("heading", name="Jira", exact=True))
    await expect(card).to_have_count(1)
    await expect(card.get_by_test_id("status")).to_have_text("Not configured · off")

    # The dialog shows Jira's options, each labelled, with the schema's description as its help.
    configure = card.get_by_role("button", name="Configure Jira")
    await tab_to(page, configure)
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Configure Jira")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_role("group", name="Jira options")).to_be_visible()
    site_url = dialog.get_by_label("Site URL")
    email = dialog.get_by_label("Email")
    keys = dialog.get_by_label("Project keys")
    comments = dialog.get_by_label("Include comments")
    archived = dialog.get_by_label("Include archived")
    for key, field in [
        ("site_url", site_url),
        ("email", email),
        ("project_keys", keys),
        ("include_comments", comments),
        ("include_archived", archived),
    ]:
        await expect(field).to_have_attribute("data-testid", f"option-{key}")
    await expect(site_url).to_have_attribute("type", "url")
    await expect(comments).to_have_attribute("type", "checkbox")
    await expect(email).to_have_accessible_description("The Atlassian account the API token belongs to.")
    await expect(keys).to_have_accessible_description(
        "Projects to import; empty or absent means every project the credentials see. "
        "Separate values with commas (at most 200)."
    )
    await expect(comments).not_to_be_checked()

    # A project key that cannot be one is refused on the page; a site that is not a URL by the server,
    # and each message is shown next to its own input.
    await dialog.get_by_label("API token").fill(MAIN_TOKEN)
    await site_url.fill("not a site")
    await email.fill(MAIN_EMAIL)
    await keys.fill("proj-1")
    await page.keyboard.press("Enter")
    await expect(dialog.locator("#option-project_keys-error")).to_have_text("not in the expected form: proj-1")
    await expect(keys).to_have_attribute("aria-invalid", "true")
    await expect(keys).to_be_focused()
    await keys.fill("")
    await site_url.press("Enter")
    await expect(dialog.locator("#option-site_url-error")).to_contain_text("must be the site's URL")
    await expect(site_url).to_have_attribute("aria-invalid", "true")
    await expect(dialog.locator("#configure-error")).to_be_empty()
    assert not (await stored(hub, tokens, gallery)).configured  # nothing was saved

    # The right site: saved, and the token verified against it (email and token from the same form).
    await site_url.fill(jira_site.url)
    await comments.check()
    await page.keyboard.press("Enter")
    await expect(dialog).to_be_hidden()
    await expect(card.get_by_test_id("result")).to_have_text("Settings saved; the new token was verified")
    await expect(card.get_by_test_id("status")).to_have_text("Connected · off")
    saved = json_format.MessageToDict((await stored(hub, tokens, gallery)).settings.options)
    assert saved == {
        "site_url": jira_site.url,
        "email": MAIN_EMAIL,
        "project_keys": [],
        "include_comments": True,
        "include_archived": False,
    }

    # Enable, test the connection, import.
    switch = card.get_by_role("switch", name="Jira enabled")
    await switch.click()
    await expect(card.get_by_test_id("status")).to_have_text("Connected · on")
    await card.get_by_role("button", name="Test connection to Jira").click()
    await expect(card.get_by_test_id("result")).to_contain_text("Connected as")
    await expect(card.get_by_test_id("status")).to_have_text("Connected · on")
    await card.get_by_role("button", name="Start import from Jira").click()
    await expect(card.get_by_test_id("result")).to_contain_text("Import succeeded", timeout=90_000)
    await expect(card.get_by_test_id("import-text")).to_contain_text("Succeeded")
    await expect(card.get_by_test_id("last-import")).not_to_have_text("never")
    last = await stored(hub, tokens, gallery)
    assert last.sync_state.last_full_import_time.seconds > 0

    # Opened again, the dialog shows what is stored; one project chosen is one option sent.
    await configure.click()
    await expect(site_url).to_have_value(jira_site.url)
    await expect(email).to_have_value(MAIN_EMAIL)
    await expect(comments).to_be_checked()
    await expect(archived).not_to_be_checked()
    shared.ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=shared.ARTIFACTS / "gallery-jira-dialog.png")
    first_key = min(project.key for project in jira_site.sandbox.site.projects.values())
    await keys.fill(f"{first_key}, ")
    await page.keyboard.press("Enter")
    await expect(dialog).to_be_hidden()
    await expect(card.get_by_test_id("result")).to_have_text("Settings saved")
    after = json_format.MessageToDict((await stored(hub, tokens, gallery)).settings.options)
    assert after == {**saved, "project_keys": [first_key]}
    assert MAIN_TOKEN not in await page.content()


async def test_clickup_options_appear_in_its_dialog(page: Page, gallery: RunningGallery) -> None:
    await page.goto(gallery.page)
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    card = page.get_by_test_id("card").filter(has=page.get_by_role("heading", name="ClickUp", exact=True))
    await card.get_by_role("button", name="Configure ClickUp").click()
    dialog = page.get_by_role("dialog", name="Configure ClickUp")
    await expect(dialog.get_by_role("group", name="ClickUp options")).to_be_visible()
    await expect(dialog.get_by_label("Workspace IDs")).to_have_attribute("data-testid", "option-workspace_ids")
    await expect(dialog.get_by_label("Include comments")).to_have_attribute("data-testid", "option-include_comments")
    await expect(dialog.get_by_label("API token")).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()


# ---------------------------------------------------------------- the page API


@pytest.fixture
async def http(gallery: RunningGallery) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gallery.api, timeout=30, headers={"origin": gallery.url}) as client:
        yield client


async def test_a_jira_card_carries_its_options_schema(http: httpx.AsyncClient) -> None:
    card = (await http.get("/integrations/jira")).json()
    assert list(card["options_schema"]["properties"]) == [
        "email",
        "site_url",
        "project_keys",
        "include_archived",
        "include_comments",
    ]
    assert card["options_schema"]["properties"]["project_keys"]["items"]["pattern"] == "^[A-Z][A-Z0-9_]{0,49}$"
    assert card["options"] == {}


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"workspace_ids": ["1"]}, "options.workspace_ids"),  # ClickUp's, not Jira's
        ({"include_comments": "yes"}, "options.include_comments"),
        ({"project_keys": [7]}, "options.project_keys"),
        ("site_url", "options"),
        # Shapes the gallery lets through, judged by the server, come back under the form's name.
        ({"site_url": "ftp://x"}, "options.site_url"),
        ({"project_keys": ["OK", "lower"]}, "options.project_keys[1]"),
    ],
)
async def test_bad_options_are_a_400_naming_the_option(http: httpx.AsyncClient, options: Any, field: str) -> None:
    before = (await http.get("/integrations/jira")).json()
    body = {
        "api_token": MAIN_TOKEN,
        "options": {"email": MAIN_EMAIL, **options} if isinstance(options, dict) else options,
    }
    response = await http.patch("/integrations/jira/settings", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_argument"
    assert list(error["fields"]) == [field]
    assert (await http.get("/integrations/jira")).json() == before


async def test_options_of_an_unknown_integration_are_a_404(http: httpx.AsyncClient) -> None:
    response = await http.patch("/integrations/nosuch/settings", json={"options": {"a": "b"}})
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
