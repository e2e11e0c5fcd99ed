"""Atlassian OAuth 2.0 (3LO) in the sandbox (§2.2, V8): consent page, codes, the token endpoint,
refresh-token rotation with its leeway and expiries, revocation, accessible-resources."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from sandbox.jira.app import create_app
from sandbox.jira.generator import generate
from sandbox.jira.state import Sandbox
from tests.sandbox_jira.conftest import CONFIG, FakeClock
from tests.support import UvicornThread

CLIENT_ID = "graph-sync"
SECRET = "graph-sync-secret"
CALLBACK = "http://127.0.0.1:9/oauth/callback"
SCOPES = "read:jira-work read:jira-user manage:jira-webhook offline_access"
MINUTE = 60.0
DAY = 86_400.0
INVALID_REFRESH = {"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."}


@dataclass
class Running:
    url: str
    sandbox: Sandbox
    clock: FakeClock


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    """A server of its own: these tests move its clock by up to a year."""
    clock = FakeClock()
    sandbox = Sandbox(generate(CONFIG), clock=clock)
    with UvicornThread(create_app(sandbox)) as server:
        http = httpx.post(
            f"{server.url}/_sandbox/oauth/clients",
            json={"client_id": CLIENT_ID, "client_secret": SECRET, "redirect_uris": [CALLBACK], "name": "Graph <Sync>"},
        )
        assert http.status_code == 201
        yield Running(server.url, sandbox, clock)


@pytest.fixture
def http(running: Running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.url, timeout=10, follow_redirects=False) as client:
        yield client


def code_for(http: httpx.Client, scope: str = SCOPES, **extra: str) -> str:
    body = {"client_id": CLIENT_ID, "redirect_uri": CALLBACK, "scope": scope, **extra}
    response = http.post("/_sandbox/oauth/codes", json=body)
    assert response.status_code == 200, response.text
    code: str = response.json()["code"]
    return code


def exchange(http: httpx.Client, code: str, **override: str) -> httpx.Response:
    body = {
        "grant_type": "authorization_code",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "code": code,
        "redirect_uri": CALLBACK,
    }
    return http.post("/oauth/token", json=body | override)


def refresh(http: httpx.Client, token: str, *, form: bool = False) -> httpx.Response:
    body = {"grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": SECRET, "refresh_token": token}
    return http.post("/oauth/token", data=body) if form else http.post("/oauth/token", json=body)


def tokens(http: httpx.Client, scope: str = SCOPES, **extra: str) -> dict[str, Any]:
    """A fresh grant: a code as an Accept gives one, exchanged."""
    response = exchange(http, code_for(http, scope, **extra))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def stats(http: httpx.Client) -> dict[str, int]:
    body: dict[str, int] = http.get("/_sandbox/oauth/stats").json()
    return body


# ---------------------------------------------------------------- a browser's view of the page


@dataclass
class Page:
    hidden: dict[str, str] = field(default_factory=dict)
    options: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)  # select name -> (value, selected)
    buttons: dict[str, dict[str, str]] = field(default_factory=dict)  # by id
    scopes: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    error: str | None = None


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.page = Page()
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if "id" in values:
            self.page.ids.add(values["id"])
        if tag == "input" and values.get("type") == "hidden":
            self.page.hidden[values["name"]] = values["value"]
        elif tag == "select":
            self._select = values["name"]
            self.page.options[self._select] = []
        elif tag == "option" and self._select is not None:
            self.page.options[self._select].append((values["value"], "selected" in values))
        elif tag == "button":
            self.page.buttons[values["id"]] = values
        elif tag == "li" and "data-scope" in values:
            self.page.scopes.append(values["data-scope"])
        elif values.get("id") == "error":
            self.page.error = values.get("data-error", "")


def read(response: httpx.Response) -> Page:
    assert response.headers["content-type"].startswith("text/html")
    reader = _Reader()
    reader.feed(response.text)
    return reader.page


def authorize_params(**override: str) -> dict[str, str]:
    params = {
        "audience": "api.atlassian.com",
        "client_id": CLIENT_ID,
        "scope": SCOPES,
        "redirect_uri": CALLBACK,
        "state": "csrf-123",
        "response_type": "code",
        "prompt": "consent",
    }
    return {k: v for k, v in (params | override).items() if v != ""}


def submit(http: httpx.Client, page: Page, button: str, **choices: str) -> httpx.Response:
    """Posts the form as a browser would: hidden fields, the selected options, the clicked button."""
    fields = dict(page.hidden)
    fields |= {name: next(v for v, selected in opts if selected) for name, opts in page.options.items()}
    fields |= choices
    fields[page.buttons[button]["name"]] = page.buttons[button]["value"]
    return http.post(
        "/authorize", content=urlencode(fields), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )


def callback_query(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(CALLBACK + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


# ---------------------------------------------------------------- authorize


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"client_id": "nobody"}, "unauthorized_client"),
        ({"redirect_uri": "http://127.0.0.1:9/elsewhere"}, "invalid_redirect_uri"),
        ({"redirect_uri": ""}, "invalid_redirect_uri"),
        ({"audience": ""}, "invalid_audience"),
        ({"audience": "api.example.com"}, "invalid_audience"),
    ],
)
def test_authorize_refuses_untrusted_requests_with_a_400_page_not_a_redirect(
    http: httpx.Client, override: dict[str, str], error: str
) -> None:
    response = http.get("/authorize", params=authorize_params(**override))
    assert response.status_code == 400
    assert "location" not in response.headers
    assert read(response).error == error


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"scope": "read:jira-work write:everything"}, "invalid_scope"),
        ({"scope": ""}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
    ],
)
def test_authorize_sends_request_errors_to_the_trusted_redirect_uri(
    http: httpx.Client, override: dict[str, str], error: str
) -> None:
    query = callback_query(http.get("/authorize", params=authorize_params(**override)))
    assert query["error"] == error
    assert query["state"] == "csrf-123"


def test_the_consent_page_lists_scopes_users_and_sites(http: httpx.Client, running: Running) -> None:
    extra = http.post("/_sandbox/oauth/sites", json={"name": "other-site", "url": "https://other.atlassian.net"})
    assert extra.status_code == 201
    page = read(http.get("/authorize", params=authorize_params()))
    assert {"app-name", "scopes", "consent", "account", "site", "accept", "deny"} <= page.ids
    assert page.scopes == SCOPES.split()
    site = running.sandbox.site
    users = page.options["account_id"]
    assert users[0] == (next(iter(site.api_tokens.values())), True)  # the main user, preselected
    assert {v for v, _ in users} == {
        u.account_id for u in site.users.values() if u.active and u.account_type == "atlassian"
    }
    sites = [v for v, _ in page.options["site"]]
    assert sites[0] == site.cloud_id
    assert extra.json()["id"] in sites
    assert page.hidden["state"] == "csrf-123"


def test_accept_gives_a_code_for_the_chosen_user_and_site(http: httpx.Client, running: Running) -> None:
    page = read(http.get("/authorize", params=authorize_params(scope="read:jira-user")))
    jane = "5fc9e78d2730d800760becc4"
    query = callback_query(submit(http, page, "accept", account_id=jane))
    assert query["state"] == "csrf-123"
    body = exchange(http, query["code"]).json()
    assert body["scope"] == "read:jira-user"
    assert "refresh_token" not in body  # no offline_access asked
    me = http.get(
        f"/ex/jira/{running.sandbox.site.cloud_id}/rest/api/3/myself",
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert me.json()["accountId"] == jane


def test_deny_redirects_with_access_denied_and_the_state(http: httpx.Client) -> None:
    page = read(http.get("/authorize", params=authorize_params()))
    query = callback_query(submit(http, page, "deny"))
    assert query["error"] == "access_denied"
    assert query["error_description"]
    assert query["state"] == "csrf-123"
    assert "code" not in query


def test_accept_for_an_unknown_account_shows_the_form_again(http: httpx.Client) -> None:
    page = read(http.get("/authorize", params=authorize_params()))
    response = submit(http, page, "accept", account_id="nobody")
    assert response.status_code == 400
    assert "accept" in read(response).ids


# ---------------------------------------------------------------- the token endpoint


def test_exchange_answers_the_documented_shape(http: httpx.Client) -> None:
    body = tokens(http)
    assert set(body) == {"access_token", "expires_in", "token_type", "refresh_token", "scope"}
    assert body["expires_in"] == 3600
    assert body["token_type"] == "Bearer"
    assert body["scope"] == SCOPES
    assert body["access_token"].startswith("eyJ")


def test_exchange_accepts_a_form_body(http: httpx.Client) -> None:
    fields = {
        "grant_type": "authorization_code",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "code": code_for(http),
        "redirect_uri": CALLBACK,
    }
    response = http.post("/oauth/token", data=fields)
    assert response.status_code == 200
    assert refresh(http, response.json()["refresh_token"], form=True).status_code == 200


def test_a_code_is_single_use(http: httpx.Client) -> None:
    code = code_for(http)
    assert exchange(http, code).status_code == 200
    again = exchange(http, code)
    assert again.status_code == 403
    assert again.json()["error"] == "invalid_grant"


def test_a_code_expires_after_ten_minutes(http: httpx.Client, running: Running) -> None:
    code = code_for(http)
    running.clock.now += 10 * MINUTE
    assert exchange(http, code).status_code == 403


def test_a_code_is_bound_to_its_redirect_uri(http: httpx.Client) -> None:
    assert exchange(http, code_for(http), redirect_uri="http://127.0.0.1:9/other").status_code == 403


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        (b"{not json", 400, {"error": "invalid_request", "error_description": "Incorrect request parameters"}),
        (b"[]", 400, {"error": "invalid_request", "error_description": "Incorrect request parameters"}),
        (
            b'{"grant_type":"password","client_id":"graph-sync","client_secret":"graph-sync-secret"}',
            400,
            {
                "error": "invalid_request",
                "error_description": "grant_type must be one of [authorization_code|refresh_token|client_credentials]",
            },
        ),
        (
            b'{"grant_type":"refresh_token","client_id":"graph-sync","client_secret":"wrong","refresh_token":"x"}',
            401,
            {"error": "access_denied", "error_description": "Unauthorized"},
        ),
        (
            b'{"grant_type":"authorization_code","client_id":"graph-sync","client_secret":"graph-sync-secret",'
            b'"code":"bogus","redirect_uri":"http://127.0.0.1:9/oauth/callback"}',
            403,
            {"error": "invalid_grant", "error_description": "Invalid authorization code"},
        ),
        (
            b'{"grant_type":"refresh_token","client_id":"graph-sync","client_secret":"graph-sync-secret",'
            b'"refresh_token":"bogus"}',
            403,
            INVALID_REFRESH,
        ),
    ],
)
def test_token_endpoint_errors(http: httpx.Client, body: bytes, status: int, expected: dict[str, str]) -> None:
    response = http.post("/oauth/token", content=body, headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()) == (status, expected)


def test_v8_refresh_rotation_with_leeway_then_invalid_grant(http: httpx.Client, running: Running) -> None:
    rt1 = tokens(http)["refresh_token"]
    before = stats(http)
    t0 = running.clock.now
    first = refresh(http, rt1)
    assert first.status_code == 200
    at2, rt2 = first.json()["access_token"], first.json()["refresh_token"]
    assert rt2 != rt1
    assert at2
    running.clock.now = t0 + 2 * MINUTE
    assert refresh(http, rt1).status_code == 200  # a racing worker within the leeway
    running.clock.now = t0 + 15 * MINUTE
    late = refresh(http, rt1)
    assert (late.status_code, late.json()) == (403, INVALID_REFRESH)
    after = stats(http)
    assert after["refreshes"] - before["refreshes"] == 2
    assert after["leeway_reuses"] - before["leeway_reuses"] == 1
    assert after["invalid_grants"] - before["invalid_grants"] == 1
    running.clock.now = t0 + 90 * DAY  # RT2 unused for 90 days
    idle = refresh(http, rt2)
    assert (idle.status_code, idle.json()) == (403, INVALID_REFRESH)


def test_use_resets_the_idle_clock_but_not_the_365_day_limit(http: httpx.Client, running: Running) -> None:
    token = tokens(http)["refresh_token"]
    for _ in range(4):  # 356 days of use, each inside the 90-day window
        running.clock.now += 89 * DAY
        response = refresh(http, token)
        assert response.status_code == 200
        token = response.json()["refresh_token"]
    running.clock.now += 10 * DAY  # 366 days after the consent, last used 10 days ago
    late = refresh(http, token)
    assert (late.status_code, late.json()) == (403, INVALID_REFRESH)


def test_revoking_kills_the_grant_and_all_its_tokens(http: httpx.Client, running: Running) -> None:
    issued = tokens(http)
    rotated = refresh(http, issued["refresh_token"]).json()
    revoked = http.post("/_sandbox/oauth/revoke", json={"token": rotated["access_token"]})
    assert revoked.status_code == 200
    assert revoked.json()["client_id"] == CLIENT_ID
    assert refresh(http, rotated["refresh_token"]).json() == INVALID_REFRESH
    assert refresh(http, issued["refresh_token"]).json() == INVALID_REFRESH  # even within the leeway
    for access in (issued["access_token"], rotated["access_token"]):
        gone = http.get("/oauth/token/accessible-resources", headers={"Authorization": f"Bearer {access}"})
        assert gone.status_code == 401
    assert http.post("/_sandbox/oauth/revoke", json={"token": "never-issued"}).status_code == 404


def test_config_sets_the_access_token_lifetime_and_is_validated(http: httpx.Client) -> None:
    assert http.put("/_sandbox/oauth/config", json={"access_token_ttl_seconds": 0}).status_code == 400
    assert http.put("/_sandbox/oauth/config", json={"bogus": 1}).status_code == 400
    assert http.put("/_sandbox/oauth/config", json={"refresh_leeway_seconds": "x"}).status_code == 400
    changed = http.put("/_sandbox/oauth/config", json={"access_token_ttl_seconds": 120})
    assert changed.json()["access_token_ttl_seconds"] == 120
    try:
        assert tokens(http)["expires_in"] == 120
    finally:
        http.put("/_sandbox/oauth/config", json={"access_token_ttl_seconds": 3600})


def test_registering_an_app_records_its_secret_for_webhook_jwts(running: Running) -> None:
    assert running.sandbox.app_secrets[CLIENT_ID] == SECRET


# ---------------------------------------------------------------- accessible-resources


def test_accessible_resources_names_the_granted_site(http: httpx.Client, running: Running) -> None:
    access = tokens(http)["access_token"]
    body = http.get("/oauth/token/accessible-resources", headers={"Authorization": f"Bearer {access}"}).json()
    site = running.sandbox.site
    assert body == [
        {
            "id": site.cloud_id,
            "name": site.name,
            "url": site.url,
            "scopes": ["read:jira-work", "read:jira-user", "manage:jira-webhook"],
            "avatarUrl": body[0]["avatarUrl"],
        }
    ]


def test_accessible_resources_refuses_bad_and_expired_tokens(http: httpx.Client, running: Running) -> None:
    access = tokens(http)["access_token"]
    bad = http.get("/oauth/token/accessible-resources", headers={"Authorization": "Bearer nope"})
    assert (bad.status_code, bad.json()) == (401, {"code": 401, "message": "Unauthorized"})
    running.clock.now += 3600
    expired = http.get("/oauth/token/accessible-resources", headers={"Authorization": f"Bearer {access}"})
    assert expired.status_code == 401
