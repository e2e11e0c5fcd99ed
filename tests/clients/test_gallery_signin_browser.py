"""Issue 11's acceptance: "Connect with ClickUp" in headless Chromium against the real gallery,
server, Neo4j and the sandbox's consent page. One of two workspaces is chosen and approved; the card
says connected through sign-in, a connection test passes and an import brings exactly that
workspace. A second run declined on the consent page changes nothing and says so. The screenshot
goes to the test's tmp dir, and to tests/artifacts/ when that folder exists."""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import neo4j
import pytest
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Locator,
    Page,
    Response,
    Route,
    async_playwright,
    expect,
)

from integrations.v1 import integration_service_pb2 as pb
from tests.clients.conftest import SignInGallery
from tests.clients.signin_support import FIRST_TEAM, SECOND_TASK, SECOND_TEAM, SECOND_TEAM_NAME, consent
from tests.clients.test_gallery_browser import CHROMIUM_FLAGS, chromium_path
from tests.conftest import RunningHub, RunningSandbox, Tokens, bearer

ROOT = Path(__file__).resolve().parents[2]
SHARED_ARTIFACTS = ROOT / "tests" / "artifacts"
SECRET = "sandbox-secret"
QUIET_LOGGERS = ("httpx", "httpcore", "neo4j")  # kept at WARNING by the server's log set-up


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        yield launched
        await launched.close()


class Watch:
    """What the browser saw: the gallery's answers, the redirects back to it, and any page error."""

    def __init__(self, gallery: SignInGallery) -> None:
        self.gallery = gallery
        self.answers: list[tuple[str, str]] = []  # (url, headers and body) of the gallery's answers
        self.callbacks: list[str] = []
        self.problems: list[str] = []

    def attach(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("request", lambda request: self._request(request.url))
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and message.location.get("url", "").startswith(self.gallery.url):
            self.problems.append(f"console: {message.text}")

    def _request(self, url: str) -> None:
        if url.startswith(f"{self.gallery.url}/oauth/callback"):
            self.callbacks.append(url)

    async def _response(self, response: Response) -> None:
        if not response.url.startswith(self.gallery.url):
            return
        headers = str(await response.all_headers())
        try:
            body = await response.text()
        except Exception:  # a redirect has no body to read
            body = ""
        self.answers.append((response.url, headers + body))

    def redirect(self, index: int) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(urlsplit(self.callbacks[index]).query).items()}


async def get(hub: RunningHub, tokens: Tokens, gallery: SignInGallery) -> pb.Integration:
    request = pb.GetIntegrationRequest(org_id=gallery.org, project_id=gallery.project, name="clickup")
    found: pb.Integration = await hub.stub.GetIntegration(request, metadata=bearer(tokens.admin))
    return found


async def connect_with_clickup(page: Page, card: Locator, sandbox: RunningSandbox, shot: Path | None = None) -> None:
    """Configure → "Connect with ClickUp" → the sandbox's consent page (``shot``: of the dialog)."""
    await card.get_by_role("button", name="Configure ClickUp").click()
    dialog = page.get_by_role("dialog", name="Configure ClickUp")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_role("button", name="Use an API token")).to_be_visible()
    connect = dialog.get_by_role("button", name="Connect with ClickUp")
    await expect(connect).to_be_enabled()
    if shot is not None:
        await page.screenshot(path=shot)
    await connect.click()
    await page.wait_for_url(f"{sandbox.url}/api?**")
    await expect(page.locator(f"#team-{FIRST_TEAM}")).to_be_visible()
    await expect(page.locator(f"#team-{SECOND_TEAM}")).to_be_visible()


async def test_connect_with_clickup_choosing_one_of_two_workspaces_then_a_declined_run_changes_nothing(
    browser: Browser,
    signin_gallery: SignInGallery,
    oauth_hub: RunningHub,
    oauth_sandbox: RunningSandbox,
    tokens: Tokens,
    neo4j_driver: neo4j.Driver,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    tokens_before = set(oauth_sandbox.sandbox.oauth.grants)
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    watch = Watch(signin_gallery)
    watch.attach(page)

    await page.goto(signin_gallery.page)
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    card = page.get_by_test_id("card").filter(has_text="ClickUp")
    await expect(card.get_by_test_id("status")).to_have_text("Not configured · off")

    # Sign in, choosing the second workspace only.
    await connect_with_clickup(page, card, oauth_sandbox, shot=tmp_path / "oauth-dialog.png")
    await page.locator(f"#team-{FIRST_TEAM}").set_checked(False)
    await page.locator(f"#team-{SECOND_TEAM}").set_checked(True)
    await page.screenshot(path=tmp_path / "oauth-consent.png")
    await page.locator("#approve").click()
    await page.wait_for_url(signin_gallery.page)
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    result = card.get_by_test_id("result")
    await expect(result).to_have_text(
        f"Connected to ClickUp through sign-in as Ada Tester · 1 workspace: {SECOND_TEAM_NAME}"
    )
    await expect(result).to_have_attribute("data-outcome", "connected")
    await expect(card.get_by_test_id("status")).to_have_text("Connected · on")
    await expect(card.get_by_test_id("auth")).to_contain_text("sign-in (OAuth)")
    stored = await get(oauth_hub, tokens, signin_gallery)
    assert stored.connection_status == pb.CONNECTION_STATUS_CONNECTED
    assert stored.settings.auth_method == pb.AUTH_METHOD_OAUTH

    # The stored grant works: a connection test, then an import of exactly the chosen workspace.
    await card.get_by_role("button", name="Test connection to ClickUp").click()
    await expect(result).to_contain_text("Connected as Ada Tester · 1 workspace")
    await card.get_by_role("button", name="Start import from ClickUp").click()
    await expect(result).to_contain_text("Import succeeded", timeout=60_000)
    workspaces, _, _ = neo4j_driver.execute_query(
        "MATCH (w:Workspace {projectId: $p}) WHERE w.stub IS NULL RETURN w.externalId AS id", p=signin_gallery.project
    )
    assert [record["id"] for record in workspaces] == [SECOND_TEAM]
    imported, _, _ = neo4j_driver.execute_query(
        "MATCH (t:Task {projectId: $p}) RETURN t.externalId AS id", p=signin_gallery.project
    )
    assert [record["id"] for record in imported] == [SECOND_TASK]

    shot = tmp_path / "oauth-connect.png"
    await page.screenshot(path=shot, full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if SHARED_ARTIFACTS.is_dir():
        shutil.copyfile(shot, SHARED_ARTIFACTS / "oauth-connect.png")

    # A second run, declined on the consent page: the integration is left exactly as it was.
    before = await get(oauth_hub, tokens, signin_gallery)
    await connect_with_clickup(page, card, oauth_sandbox)
    await page.locator("#deny").click()
    await page.wait_for_url(signin_gallery.page)
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    await expect(result).to_have_attribute("data-outcome", "declined")
    await expect(result).to_contain_text("Sign-in declined")
    await expect(result).to_contain_text("nothing was changed")
    await expect(card.get_by_test_id("status")).to_have_text("Connected · on")
    after = await get(oauth_hub, tokens, signin_gallery)
    assert after.update_time == before.update_time
    assert after.settings == before.settings
    assert after.connection_status == pb.CONNECTION_STATUS_CONNECTED
    await page.screenshot(path=tmp_path / "oauth-declined.png", full_page=True)

    # Nothing the browser got from the gallery, nor any log line, holds a secret; a state only in the
    # answer that handed the browser the consent URL it was about to open.
    assert len(watch.callbacks) == 2
    approved, declined = watch.redirect(0), watch.redirect(1)
    assert declined["error"] == "access_denied"
    (access_token,) = set(oauth_sandbox.sandbox.oauth.grants) - tokens_before
    secrets = {"access token": access_token, "client secret": SECRET, "code": approved["code"]}
    states = {approved["state"], declined["state"]}
    for url, seen in watch.answers:
        for what, value in secrets.items():
            assert value not in seen, (what, url)
        if not url.endswith("/authorizations"):
            assert all(state not in seen for state in states), url
    content = await page.content()
    assert all(value not in content for value in [*secrets.values(), *states])
    logged = "\n".join(
        f"{record.name} {record.getMessage()} {record.exc_text or ''}"
        for record in caplog.records
        if not record.name.startswith(QUIET_LOGGERS)
    )
    for value in [*secrets.values(), *states]:
        assert value not in logged
    await context.close()
    assert watch.problems == []


async def test_the_connect_button_is_disabled_where_the_card_cannot_sign_in(
    browser: Browser, signin_gallery: SignInGallery, oauth_hub: RunningHub
) -> None:
    """The page follows ``oauth_available``: here it is forced off in the card's JSON, as a server
    without an OAuth app sends it (the API side of that is in test_gallery_signin.py)."""
    context = await browser.new_context()
    page = await context.new_page()

    async def without_oauth(route: Route) -> None:
        response = await route.fetch()
        body = await response.json()
        for item in body["integrations"]:
            item["oauth_available"] = False
        await route.fulfill(response=response, json=body)

    await page.route(f"{signin_gallery.api}/integrations", without_oauth)
    await page.goto(signin_gallery.page)
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    await page.get_by_test_id("card").filter(has_text="ClickUp").get_by_role("button", name="Configure ClickUp").click()
    dialog = page.get_by_role("dialog", name="Configure ClickUp")
    await expect(dialog.get_by_role("button", name="Connect with ClickUp")).to_be_disabled()
    await expect(dialog).to_contain_text("Signing in to ClickUp is not set up on this server")
    await context.close()


async def test_a_card_that_needs_a_new_sign_in_offers_reconnect(
    browser: Browser,
    signin_gallery: SignInGallery,
    oauth_hub: RunningHub,
    oauth_sandbox: RunningSandbox,
    tokens: Tokens,
) -> None:
    """Connected through sign-in, then the grant is revoked at ClickUp: the next test marks the card
    "needs a new sign-in", and its Reconnect button runs the same flow and connects it again."""
    scope = {"org_id": signin_gallery.org, "project_id": signin_gallery.project, "name": "clickup"}
    before = set(oauth_sandbox.sandbox.oauth.grants)
    started = await oauth_hub.stub.StartAuthorization(
        pb.StartAuthorizationRequest(**scope, redirect_uri="http://127.0.0.1:9/oauth/callback"),
        metadata=bearer(tokens.admin),
    )
    redirect = await consent(started.authorization_url, [SECOND_TEAM])
    await oauth_hub.stub.CompleteAuthorization(
        pb.CompleteAuthorizationRequest(**scope, state=started.state, code=redirect.params["code"]),
        metadata=bearer(tokens.admin),
    )
    (granted,) = set(oauth_sandbox.sandbox.oauth.grants) - before
    async with httpx.AsyncClient(timeout=10) as admin:  # the user removes the app's access at ClickUp
        revoked = await admin.post(f"{oauth_sandbox.url}/_sandbox/oauth/revoke", json={"token": granted})
        assert revoked.status_code == 200, revoked.text

    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(signin_gallery.page)
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    card = page.get_by_test_id("card").filter(has_text="ClickUp")
    reconnect = card.get_by_role("button", name="Reconnect ClickUp")
    await expect(reconnect).to_be_hidden()
    await card.get_by_role("button", name="Test connection to ClickUp").click()
    await expect(card.get_by_test_id("status")).to_have_text("Needs a new sign-in · on")
    await expect(card.get_by_test_id("result")).to_contain_text("sign in again")
    await expect(reconnect).to_be_visible()

    await reconnect.click()
    await page.wait_for_url(f"{oauth_sandbox.url}/api?**")
    await page.locator(f"#team-{FIRST_TEAM}").set_checked(False)
    await page.locator(f"#team-{SECOND_TEAM}").set_checked(True)
    await page.locator("#approve").click()
    await page.wait_for_url(signin_gallery.page)
    await expect(card.get_by_test_id("result")).to_have_attribute("data-outcome", "connected")
    await expect(card.get_by_test_id("status")).to_have_text("Connected · on")
    await expect(reconnect).to_be_hidden()
    stored = await get(oauth_hub, tokens, signin_gallery)
    assert stored.connection_status == pb.CONNECTION_STATUS_CONNECTED
    await context.close()
