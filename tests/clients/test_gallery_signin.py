"""The gallery's sign-in routes over HTTP against the real server, Neo4j and the sandbox's consent
page: the browser completes only a sign-in it started (refused before any RPC otherwise), the
outcome comes back to the page once, and no token, state, code or secret is answered or logged."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from clients.client import AsyncIntegrationsClient
from clients.gallery.app import create_app
from clients.gallery.config import GalleryConfig
from clients.gallery.signin import PENDING_COOKIE, RESULT_COOKIE, state_hash
from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from tests.clients.conftest import RunningGallery, SignInGallery
from tests.clients.signin_support import SECOND_TEAM, SECOND_TEAM_NAME, consent
from tests.conftest import RunningHub, RunningSandbox, Tokens, bearer, hub_with, server_env
from tests.support import UvicornThread

SECRET = "sandbox-secret"
# What the server's own log set-up keeps at WARNING (server/logs.py): their INFO lines print request
# URLs, and the token exchange's URL carries the code and the client secret by ClickUp's spec.
QUIET_LOGGERS = ("httpx", "httpcore", "neo4j")


def page_client(gallery: RunningGallery) -> httpx.AsyncClient:
    """A browser on the gallery's page: its writes carry the page's Origin; cookies are kept."""
    return httpx.AsyncClient(base_url=gallery.url, timeout=30, headers={"origin": gallery.url})


async def start(client: httpx.AsyncClient, gallery: RunningGallery) -> str:
    started = await client.post(f"{gallery.api}/integrations/clickup/authorizations", json={})
    assert started.status_code == 200, started.text
    url: str = started.json()["authorization_url"]
    return url


def state_of(url: str | httpx.URL) -> str:
    return parse_qs(urlsplit(str(url)).query)["state"][0]


def completions(monkeypatch: pytest.MonkeyPatch, gallery: SignInGallery) -> list[pb.CompleteAuthorizationRequest]:
    """Every CompleteAuthorization the gallery sends from now on."""
    calls: list[pb.CompleteAuthorizationRequest] = []
    client: AsyncIntegrationsClient = gallery.app.state.gallery.client
    original = client.complete_authorization

    async def spy(request: pb.CompleteAuthorizationRequest) -> pb.CompleteAuthorizationResponse:
        calls.append(request)
        return await original(request)

    monkeypatch.setattr(client, "complete_authorization", spy)
    return calls


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(
        f"{record.name} {record.getMessage()} {record.exc_text or ''}"
        for record in caplog.records
        if not record.name.startswith(QUIET_LOGGERS)
    )


async def stored(hub: RunningHub, tokens: Tokens, gallery: RunningGallery) -> pb.Integration:
    request = pb.GetIntegrationRequest(org_id=gallery.org, project_id=gallery.project, name="clickup")
    found: pb.Integration = await hub.stub.GetIntegration(request, metadata=bearer(tokens.admin))
    return found


async def test_start_answers_the_consent_url_and_remembers_only_the_hash_of_the_state(
    signin_gallery: SignInGallery, oauth_sandbox: RunningSandbox
) -> None:
    async with page_client(signin_gallery) as client:
        started = await client.post(f"{signin_gallery.api}/integrations/clickup/authorizations", json={})
    assert started.status_code == 200, started.text
    assert started.headers["cache-control"] == "no-store"
    url = urlsplit(started.json()["authorization_url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{oauth_sandbox.url}/api"
    query = parse_qs(url.query)
    assert query["redirect_uri"] == [f"{signin_gallery.url}/oauth/callback"]
    assert query["client_id"] == ["sandbox-client"]

    cookie = started.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite", "path", "max-age"} <= attributes
    assert "samesite=lax" in cookie.lower()
    assert "path=/oauth/callback" in cookie.lower()
    max_age = int(cookie.lower().split("max-age=")[1].split(";")[0])
    assert 500 < max_age <= 600
    raw = cookie.split(";")[0].split("=", 1)[1]
    value = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    state = query["state"][0]
    assert value == {
        "org": signin_gallery.org,
        "project": signin_gallery.project,
        "name": "clickup",
        "state_sha256": state_hash(state),
    }
    assert state not in cookie


@pytest.mark.parametrize(
    ("headers", "body", "status", "code"),
    [
        ({}, b"{}", 403, "origin_required"),
        ({"origin": "http://evil.example"}, b"{}", 403, "cross_origin"),
        ({"origin": "{own}", "content-type": "text/plain"}, b"{}", 415, "unsupported_media_type"),
        ({"origin": "{own}"}, b'{"redirect_uri": "http://evil.example/"}', 400, "invalid_argument"),
        ({"origin": "{own}"}, b"[]", 400, "invalid_argument"),
    ],
)
async def test_start_is_a_write_of_the_page_only(
    signin_gallery: SignInGallery, headers: dict[str, str], body: bytes, status: int, code: str
) -> None:
    sent = {"content-type": "application/json"} | {k: v.format(own=signin_gallery.url) for k, v in headers.items()}
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(
            f"{signin_gallery.api}/integrations/clickup/authorizations", content=body, headers=sent
        )
    assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), answer.text
    assert "set-cookie" not in answer.headers


async def test_a_callback_with_a_state_this_browser_did_not_start_is_refused_before_any_rpc(
    signin_gallery: SignInGallery,
    oauth_hub: RunningHub,
    tokens: Tokens,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    calls = completions(monkeypatch, signin_gallery)
    callback = f"{signin_gallery.url}/oauth/callback"
    async with page_client(signin_gallery) as victim, page_client(signin_gallery) as attacker:
        await start(victim, signin_gallery)
        victims_cookie = victim.cookies[PENDING_COOKIE]
        # The attacker's own sign-in, approved on the consent page: a working code and state.
        location = await consent(await start(attacker, signin_gallery), [SECOND_TEAM])
        state, code = location.params["state"], location.params["code"]

        attempts = {
            "no cookie": {},
            "another browser's state": {PENDING_COOKIE: victims_cookie},
            "a cookie that is not ours": {PENDING_COOKIE: "not-base64-json!"},
            "a hash changed": {
                PENDING_COOKIE: base64.urlsafe_b64encode(
                    json.dumps(
                        {"org": signin_gallery.org, "project": signin_gallery.project, "name": "clickup"}
                        | {"state_sha256": state_hash(state + "x")}
                    ).encode()
                ).decode()
            },
        }
        for what, cookies in attempts.items():
            async with httpx.AsyncClient(timeout=10, cookies=cookies) as browser:
                refused = await browser.get(callback, params={"code": code, "state": state})
            assert refused.status_code == 400, (what, refused.text)
            assert refused.json()["error"]["code"] == "unknown_state", what
            assert "set-cookie" not in refused.headers, what
            assert state not in refused.text
            assert code not in refused.text
        assert calls == []  # refused by the gallery itself

        # Nothing was spent: the attacker's browser, which did start it, still completes it.
        assert (await stored(oauth_hub, tokens, signin_gallery)).configured is False
        completed = await attacker.get(callback, params={"code": code, "state": state})
    assert completed.status_code == 303, completed.text
    assert len(calls) == 1
    assert (await stored(oauth_hub, tokens, signin_gallery)).settings.auth_method == pb.AUTH_METHOD_OAUTH
    text = logged(caplog)
    assert "did not start" in text
    for value in (state, code, SECRET):
        assert value not in text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "no state"),
        ("code=abc", "no state"),
        ("state=S", "exactly one of code and error"),
        ("state=S&code=abc&error=access_denied", "exactly one of code and error"),
        ("state=S&state=T&code=abc", "state more than once"),
        ("state=S&code=abc&code=def", "code more than once"),
        ("state=" + "s" * 5000 + "&code=abc", "too long"),
    ],
)
async def test_a_malformed_callback_is_refused(
    signin_gallery: SignInGallery, monkeypatch: pytest.MonkeyPatch, query: str, message: str
) -> None:
    calls = completions(monkeypatch, signin_gallery)
    async with page_client(signin_gallery) as browser:
        await start(browser, signin_gallery)
        refused = await browser.get(f"/oauth/callback?{query}")
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["code"] == "invalid_argument"
    assert message in refused.json()["error"]["message"]
    assert calls == []


async def test_a_declined_sign_in_returns_to_the_page_with_its_result_once(
    signin_gallery: SignInGallery, oauth_hub: RunningHub, tokens: Tokens
) -> None:
    async with page_client(signin_gallery) as browser:
        location = await consent(await start(browser, signin_gallery), [], approve=False)
        assert location.params["error"] == "access_denied"
        back = await browser.get(str(location))
        assert back.status_code == 303, back.text
        assert back.headers["location"] == f"/orgs/{signin_gallery.org}/projects/{signin_gallery.project}"
        assert PENDING_COOKIE not in browser.cookies  # spent
        first = await browser.get(f"{signin_gallery.api}/signin-result")
        again = await browser.get(f"{signin_gallery.api}/signin-result")
    assert first.json()["result"]["outcome"] == "declined"
    assert first.json()["result"]["name"] == "clickup"
    assert first.json()["result"]["message"].startswith("Sign-in declined: ")
    assert "access_denied" in first.json()["result"]["message"]
    assert RESULT_COOKIE in first.headers["set-cookie"]
    assert again.json() == {"result": None}
    assert (await stored(oauth_hub, tokens, signin_gallery)).configured is False


async def test_a_completed_sign_in_connects_and_no_secret_reaches_a_response_or_a_log(
    signin_gallery: SignInGallery,
    oauth_hub: RunningHub,
    oauth_sandbox: RunningSandbox,
    tokens: Tokens,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    calls = completions(monkeypatch, signin_gallery)
    before = set(oauth_sandbox.sandbox.oauth.grants)
    answers: list[httpx.Response] = []
    async with page_client(signin_gallery) as browser:
        browser.event_hooks["response"] = [_keep(answers)]
        location = await consent(await start(browser, signin_gallery), [SECOND_TEAM])
        state, code = location.params["state"], location.params["code"]
        back = await browser.get(str(location))
        assert back.status_code == 303, back.text
        result = (await browser.get(f"{signin_gallery.api}/signin-result")).json()["result"]
        card = (await browser.get(f"{signin_gallery.api}/integrations/clickup")).json()
        # The same redirect again: the browser's cookie is gone, so the gallery refuses it itself.
        replayed = await browser.get(str(location))
    assert result["outcome"] == "connected", result
    assert result["message"] == f"Connected to ClickUp through sign-in as Ada Tester · 1 workspace: {SECOND_TEAM_NAME}"
    assert (card["auth_method"], card["oauth_available"], card["connection_status"]) == ("oauth", True, "connected")
    assert replayed.status_code == 400
    assert len(calls) == 1

    (access_token,) = set(oauth_sandbox.sandbox.oauth.grants) - before
    secrets = {"access token": access_token, "client secret": SECRET, "code": code}
    for answer in answers:
        seen = answer.text + json.dumps(dict(answer.headers))
        for what, value in secrets.items():
            assert value not in seen, (what, answer.url)
        if "/authorizations" not in answer.url.path:  # the one answer that hands the browser its state
            assert state not in seen, answer.url
    text = logged(caplog)
    assert "sign-in to clickup" in text
    for what, value in (secrets | {"state": state}).items():
        assert value not in text, what


def _keep(answers: list[httpx.Response]) -> Callable[[httpx.Response], Awaitable[None]]:
    async def hook(response: httpx.Response) -> None:
        await response.aread()
        answers.append(response)

    return hook


@pytest.fixture
async def gallery_without_oauth(
    neo4j_connection: Connection,
    tokens: Tokens,
    clickup_sandbox: RunningSandbox,
    encryption_keys: str,
    tenant: tuple[str, str],
) -> AsyncIterator[RunningGallery]:
    env = server_env(neo4j_connection, tokens, clickup_sandbox.api_url, encryption_keys)
    env = {key: value for key, value in env.items() if not key.startswith("CLICKUP_OAUTH_")}
    async with hub_with(env) as hub:
        server = UvicornThread(create_app(GalleryConfig(hub.target, tokens.admin, (tenant,))))
        await asyncio.to_thread(server.__enter__)
        try:
            yield RunningGallery(server.url, *tenant)
        finally:
            await asyncio.to_thread(server.__exit__, None, None, None)


async def test_without_an_oauth_app_the_card_says_so_and_start_is_refused(
    gallery_without_oauth: RunningGallery,
) -> None:
    async with page_client(gallery_without_oauth) as browser:
        card = (await browser.get(f"{gallery_without_oauth.api}/integrations/clickup")).json()
        refused = await browser.post(f"{gallery_without_oauth.api}/integrations/clickup/authorizations", json={})
    assert card["oauth_available"] is False
    assert refused.status_code == 409, refused.text
    assert "not available on this server" in refused.json()["error"]["message"]
    assert "set-cookie" not in refused.headers
