"""OAuth via the browser for Jira (consent → site choice → import), in headless Chromium against the
real gallery, server, Neo4j and the Jira sandbox's consent page (``/authorize``). The sandbox offers
its own site and an extra site "beta" (which its gateway answers 404 for), so the choice is real:

- choosing the sandbox's own site connects the Jira card through sign-in; a connection test passes
  and an import from the card brings that site (and nothing of "beta") into Neo4j;
- denying on the consent page leaves the integration exactly as it was, and the card says so;
- choosing "beta" ends on the card as a clear failure (never a 500), with nothing saved.

The headless (httpx) version of the same flow is tests/integration/test_jira_oauth.py; ClickUp's
browser sign-in is tests/clients/test_gallery_signin_browser.py."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import neo4j
import pytest
from google.protobuf import field_mask_pb2, json_format
from playwright.async_api import Browser, Locator, Page, expect

from clients.gallery.app import create_app
from clients.gallery.config import GalleryConfig
from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from sandbox.jira.generator import MAIN_EMAIL, MAIN_TOKEN, GeneratorConfig
from tests.clients import test_gallery_signin_browser as clickup
from tests.clients.conftest import SignInGallery
from tests.conftest import RunningHub, RunningSandbox, Tokens, bearer, hub_with, server_env
from tests.jira_sites import JiraSite, serving
from tests.support import UvicornThread

browser = clickup.browser  # the same headless Chromium as ClickUp's sign-in test
Watch = clickup.Watch  # what the browser saw: the callbacks to the gallery and any page error

CLIENT_ID, CLIENT_SECRET = "jira-gallery-app", "jira-gallery-secret-0123456789"
BETA, BETA_URL = "beta", "https://beta.example.net"
SHARED_ARTIFACTS = clickup.SHARED_ARTIFACTS


@pytest.fixture(scope="module")
def jira_cloud() -> Iterator[JiraSite]:
    """One Jira sandbox: its site, plus the extra site "beta" offered on the consent page."""
    with serving(GeneratorConfig(seed=11, projects=2, issues_per_project=6)) as site:
        with httpx.Client(base_url=site.url, timeout=10) as admin:
            added = admin.post("/_sandbox/oauth/sites", json={"name": BETA, "url": BETA_URL})
            assert added.status_code == 201, added.text
        yield site


@pytest.fixture(scope="module")
async def jira_hub(
    neo4j_connection: Connection,
    tokens: Tokens,
    clickup_sandbox: RunningSandbox,
    encryption_keys: str,
    jira_cloud: JiraSite,
) -> AsyncIterator[RunningHub]:
    """The real server with Jira's OAuth app pointing at the sandbox (auth, token and API on one port)."""
    env = {
        **server_env(neo4j_connection, tokens, clickup_sandbox.api_url, encryption_keys),
        "JIRA_OAUTH_CLIENT_ID": CLIENT_ID,
        "JIRA_OAUTH_CLIENT_SECRET": CLIENT_SECRET,
        "JIRA_OAUTH_AUTHORIZE_URL": f"{jira_cloud.url}/authorize",
        "JIRA_OAUTH_TOKEN_URL": f"{jira_cloud.url}/oauth/token",
        "JIRA_API_URL": jira_cloud.url,
    }
    async with hub_with(env) as running:
        yield running


@pytest.fixture
async def jira_gallery(
    jira_hub: RunningHub, tokens: Tokens, tenant: tuple[str, str], jira_cloud: JiraSite
) -> AsyncIterator[SignInGallery]:
    """A gallery on ``jira_hub``; the sandbox's OAuth app trusts this gallery's callback."""
    app = create_app(GalleryConfig(server_target=jira_hub.target, token=tokens.admin, projects=(tenant,)))
    server = UvicornThread(app)
    await asyncio.to_thread(server.__enter__)
    try:
        gallery = SignInGallery(server.url, *tenant, app)
        async with httpx.AsyncClient(base_url=jira_cloud.url, timeout=10) as admin:
            registered = await admin.post(
                "/_sandbox/oauth/clients",
                json={
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "redirect_uris": [f"{gallery.url}/oauth/callback"],
                    "name": "Integration Hub",
                },
            )
            assert registered.status_code == 201, registered.text
        yield gallery
    finally:
        await asyncio.to_thread(server.__exit__, None, None, None)


class Tab:
    """The page, what the browser saw (``Watch``), and the status of every answer from the gallery."""

    def __init__(self, page: Page, gallery: SignInGallery) -> None:
        self.page = page
        self.watch = Watch(gallery)
        self.watch.attach(page)
        self.statuses: list[tuple[str, int]] = []
        page.on(
            "response", lambda r: self.statuses.append((r.url, r.status)) if r.url.startswith(gallery.url) else None
        )


@pytest.fixture
async def page(browser: Browser, jira_gallery: SignInGallery) -> AsyncIterator[Tab]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    tab = Tab(await context.new_page(), jira_gallery)
    yield tab
    await context.close()
    assert tab.watch.problems == []  # no script error, no failed request from the gallery's page
    assert [answer for answer in tab.statuses if answer[1] >= 500] == []  # the gallery never answered a 5xx


async def get(hub: RunningHub, tokens: Tokens, gallery: SignInGallery) -> pb.Integration:
    found: pb.Integration = await hub.stub.GetIntegration(
        pb.GetIntegrationRequest(org_id=gallery.org, project_id=gallery.project, name="jira"),
        metadata=bearer(tokens.admin),
    )
    return found


def beta_id(cloud: JiraSite) -> str:
    (beta,) = [site.cloud_id for site in cloud.sandbox.oauth.sites() if site.name == BETA]
    return beta


async def open_jira_card(page: Page, gallery: SignInGallery) -> Locator:
    await page.goto(gallery.page)
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    card = page.get_by_test_id("card").filter(has=page.get_by_role("heading", name="Jira", exact=True))
    await expect(card).to_have_count(1)
    return card


async def connect_with_jira(page: Page, card: Locator, cloud: JiraSite, shot: Path | None = None) -> None:
    """Configure → "Connect with Jira" → the sandbox's consent page, which offers both sites."""
    await card.get_by_role("button", name="Configure Jira").click()
    dialog = page.get_by_role("dialog", name="Configure Jira")
    await expect(dialog).to_be_visible()
    connect = dialog.get_by_role("button", name="Connect with Jira")
    await expect(connect).to_be_enabled()
    await connect.click()
    await page.wait_for_url(f"{cloud.url}/authorize?**")
    await expect(page.locator("#consent")).to_be_visible()
    site = cloud.sandbox.site
    options = page.locator("#site option")
    await expect(options).to_have_count(2)
    await expect(options.nth(0)).to_have_attribute("value", site.cloud_id)  # the sandbox's own site first
    await expect(options.nth(0)).to_have_text(f"{site.name} ({site.url})")
    await expect(options.nth(1)).to_have_attribute("value", beta_id(cloud))
    await expect(options.nth(1)).to_contain_text(BETA)
    await expect(page.locator("#account")).to_have_value(site.api_tokens[MAIN_TOKEN])
    if shot is not None:
        await page.screenshot(path=shot)


async def back_on_the_gallery(page: Page, gallery: SignInGallery) -> None:
    await page.wait_for_url(gallery.page)
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")


async def test_connect_with_jira_choosing_the_site_then_import(
    page: Tab,
    jira_gallery: SignInGallery,
    jira_hub: RunningHub,
    jira_cloud: JiraSite,
    tokens: Tokens,
    neo4j_driver: neo4j.Driver,
    tmp_path: Path,
) -> None:
    tab, watch = page.page, page.watch
    site = jira_cloud.sandbox.site
    card = await open_jira_card(tab, jira_gallery)
    await expect(card.get_by_test_id("status")).to_have_text("Not configured · off")

    # Sign in, choosing the sandbox's own site (not "beta").
    await connect_with_jira(tab, card, jira_cloud, shot=tmp_path / "jira-consent.png")
    await tab.locator("#site").select_option(site.cloud_id)
    await tab.locator("#accept").click()
    await back_on_the_gallery(tab, jira_gallery)
    result = card.get_by_test_id("result")
    me = site.api_tokens[MAIN_TOKEN]  # the account the consent page signs in by default
    await expect(result).to_have_attribute("data-outcome", "connected")
    await expect(result).to_have_text(
        f"Connected to Jira through sign-in as {site.users[me].display_name} · 1 workspace: {site.url}"
    )
    await expect(card.get_by_test_id("status")).to_have_text("Connected · on")
    await expect(card.get_by_test_id("auth")).to_contain_text("sign-in (OAuth)")
    stored = await get(jira_hub, tokens, jira_gallery)
    assert stored.connection_status == pb.CONNECTION_STATUS_CONNECTED
    assert stored.settings.auth_method == pb.AUTH_METHOD_OAUTH
    assert stored.enabled
    assert len(watch.callbacks) == 1
    assert "code" in watch.redirect(0)

    # The grant works: a connection test, then an import of the chosen site through the gateway.
    await card.get_by_role("button", name="Test connection to Jira").click()
    await expect(result).to_contain_text(f"Connected as {site.users[me].display_name} · 1 workspace")
    await expect(card.get_by_test_id("status")).to_have_text("Connected · on")
    await card.get_by_role("button", name="Start import from Jira").click()
    await expect(result).to_contain_text("Import succeeded", timeout=90_000)
    await expect(card.get_by_test_id("last-import")).not_to_have_text("never")

    project = jira_gallery.project
    sites, _, _ = neo4j_driver.execute_query(
        "MATCH (s:Site:Organization {projectId: $p, source: 'jira'}) RETURN s.externalId AS id, s.url AS url",
        p=project,
    )
    assert [(record["id"], record["url"]) for record in sites] == [(site.cloud_id, site.url)]
    issues, _, _ = neo4j_driver.execute_query(
        "MATCH (:Site {projectId: $p, externalId: $site})-[:CONTAINS]->(:JiraProject)-[:CONTAINS]->(i:Issue:Task)"
        " WHERE i.stub IS NULL RETURN i.externalId AS id",
        p=project,
        site=site.cloud_id,
    )
    imported = {record["id"] for record in issues}
    browsable = {p.id for p in site.projects.values() if not p.archived and (p.members is None or me in p.members)}
    visible = {i.id for i in site.issues.values() if i.project_id in browsable}
    assert imported, "issues were imported"
    assert imported == visible, "every issue the account sees on the site, under that site"
    nodes, _, _ = neo4j_driver.execute_query("MATCH (n {projectId: $p}) RETURN properties(n) AS n", p=project)
    assert nodes
    other = [record["n"] for record in nodes if beta_id(jira_cloud) in str(record["n"]) or BETA_URL in str(record["n"])]
    assert other == [], "nothing of the other site"

    shot = tmp_path / "jira-oauth-connect.png"
    await tab.screenshot(path=shot, full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if SHARED_ARTIFACTS.is_dir():
        shutil.copyfile(shot, SHARED_ARTIFACTS / "jira-oauth-connect.png")
    assert CLIENT_SECRET not in await tab.content()


async def test_a_denied_jira_consent_changes_nothing(
    page: Tab,
    jira_gallery: SignInGallery,
    jira_hub: RunningHub,
    jira_cloud: JiraSite,
    tokens: Tokens,
    tmp_path: Path,
) -> None:
    """Connected with an API token first, so there is something to leave as it was."""
    tab, watch = page.page, page.watch
    settings = pb.IntegrationSettings(auth_method=pb.AUTH_METHOD_API_TOKEN, api_token=MAIN_TOKEN)
    settings.options.update({"site_url": jira_cloud.url, "email": MAIN_EMAIL})
    await jira_hub.stub.UpdateIntegration(
        pb.UpdateIntegrationRequest(
            org_id=jira_gallery.org,
            project_id=jira_gallery.project,
            integration=pb.Integration(name="jira", settings=settings),
            update_mask=field_mask_pb2.FieldMask(paths=["settings"]),
        ),
        metadata=bearer(tokens.admin),
    )
    before = await get(jira_hub, tokens, jira_gallery)
    assert before.connection_status == pb.CONNECTION_STATUS_CONNECTED
    assert before.settings.auth_method == pb.AUTH_METHOD_API_TOKEN
    grants_before = set(jira_cloud.sandbox.oauth.grants)

    card = await open_jira_card(tab, jira_gallery)
    await expect(card.get_by_test_id("status")).to_have_text("Connected · off")
    await connect_with_jira(tab, card, jira_cloud)
    await tab.locator("#deny").click()
    await back_on_the_gallery(tab, jira_gallery)
    result = card.get_by_test_id("result")
    await expect(result).to_have_attribute("data-outcome", "declined")
    await expect(result).to_contain_text("Sign-in declined")
    await expect(result).to_contain_text("access_denied")
    await expect(result).to_contain_text("nothing was changed")
    await expect(card.get_by_test_id("status")).to_have_text("Connected · off")
    await expect(card.get_by_test_id("auth")).to_contain_text("API token")
    await tab.screenshot(path=tmp_path / "jira-oauth-declined.png", full_page=True)

    after = await get(jira_hub, tokens, jira_gallery)
    assert after.update_time == before.update_time
    assert after.settings == before.settings
    assert json_format.MessageToDict(after.settings.options)["site_url"] == jira_cloud.url
    assert after.connection_status == pb.CONNECTION_STATUS_CONNECTED
    assert set(jira_cloud.sandbox.oauth.grants) == grants_before, "no code was issued, so no grant"
    assert watch.redirect(0)["error"] == "access_denied"


async def test_choosing_a_site_the_server_cannot_reach_is_a_clear_error(
    page: Tab,
    jira_gallery: SignInGallery,
    jira_hub: RunningHub,
    jira_cloud: JiraSite,
    tokens: Tokens,
    neo4j_driver: neo4j.Driver,
    tmp_path: Path,
) -> None:
    """ "beta" is granted by the consent page but its gateway answers 404: the server's connection
    test fails, so the sign-in is refused with a message on the card and nothing is saved."""
    tab, watch = page.page, page.watch
    card = await open_jira_card(tab, jira_gallery)
    await connect_with_jira(tab, card, jira_cloud)
    await tab.locator("#site").select_option(beta_id(jira_cloud))
    await tab.locator("#accept").click()
    await back_on_the_gallery(tab, jira_gallery)
    result = card.get_by_test_id("result")
    await expect(result).to_have_attribute("data-outcome", "failed")
    await expect(result).to_contain_text("Sign-in failed")
    await expect(result).to_contain_text("connection test failed, so nothing was saved")
    await expect(result).to_contain_text("404")
    await expect(card.get_by_test_id("status")).to_have_text("Not configured · off")
    await tab.screenshot(path=tmp_path / "jira-oauth-beta.png", full_page=True)

    # The callback was answered with the usual redirect back to the page, never a server error.
    assert len(watch.callbacks) == 1
    assert "code" in watch.redirect(0)
    callback = [status for url, status in page.statuses if url.startswith(f"{jira_gallery.url}/oauth/callback")]
    assert callback == [303]
    stored = await get(jira_hub, tokens, jira_gallery)
    assert not stored.configured
    assert stored.connection_status != pb.CONNECTION_STATUS_CONNECTED
    assert stored.settings.auth_method != pb.AUTH_METHOD_OAUTH
    written, _, _ = neo4j_driver.execute_query("MATCH (n {projectId: $p}) RETURN count(n) AS n", p=jira_gallery.project)
    assert written[0]["n"] == 0
