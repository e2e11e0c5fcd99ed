"""The api.atlassian.com gateway (§1, §2.2-§2.3): /ex/jira/{cloudId} routing, 3LO Bearer tokens only,
the scope table and its 401 body, the unknown-cloudId 404, and the rate limit keyed by grant."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from sandbox.jira.app import create_app
from sandbox.jira.gateway import GatewayMiddleware, permits
from sandbox.jira.generator import MAIN_EMAIL, MAIN_TOKEN, generate
from sandbox.jira.state import Sandbox
from tests.sandbox_jira.conftest import CONFIG, FakeClock, basic
from tests.sandbox_jira.test_oauth import CALLBACK, CLIENT_ID, SECRET, Running, code_for, exchange
from tests.support import UvicornThread

SCOPE_401 = {"code": 401, "message": "Unauthorized; scope does not match"}
UNAUTHORIZED = {"code": 401, "message": "Unauthorized"}
AGILE = "read:board-scope:jira-software read:sprint:jira-software read:issue:jira-software"
EVERYTHING = f"read:jira-work read:jira-user manage:jira-webhook offline_access {AGILE}"


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    clock = FakeClock()
    sandbox = Sandbox(generate(CONFIG), clock=clock)
    with UvicornThread(create_app(sandbox)) as server:
        app = {"client_id": CLIENT_ID, "client_secret": SECRET, "redirect_uris": [CALLBACK]}
        assert httpx.post(f"{server.url}/_sandbox/oauth/clients", json=app).status_code == 201
        yield Running(server.url, sandbox, clock)


@pytest.fixture
def http(running: Running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.url, timeout=10) as client:
        yield client


def bearer(http: httpx.Client, scope: str = EVERYTHING, **extra: str) -> dict[str, str]:
    response = exchange(http, code_for(http, scope, **extra))
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def ex(running: Running, path: str) -> str:
    return f"/ex/jira/{running.sandbox.site.cloud_id}{path}"


def test_bearer_reaches_myself_through_the_gateway(http: httpx.Client, running: Running) -> None:
    me = http.get(ex(running, "/rest/api/3/myself"), headers=bearer(http))
    assert me.status_code == 200
    assert me.json()["emailAddress"] == MAIN_EMAIL


def test_platform_reads_and_links_stay_on_the_gateway(http: httpx.Client, running: Running) -> None:
    headers = bearer(http)
    page = http.get(ex(running, "/rest/api/3/project/search"), params={"maxResults": 1}, headers=headers).json()
    assert page["values"]
    assert urlpath(page["nextPage"]).startswith(ex(running, "/rest/api/3/project/search"))
    found = http.post(ex(running, "/rest/api/3/search/jql"), json={"jql": "project = PROJ"}, headers=headers)
    assert found.status_code == 200
    assert found.json()["issues"]


def urlpath(url: str) -> str:
    return httpx.URL(url).path


def test_agile_routes_need_the_jira_software_scopes(http: httpx.Client, running: Running) -> None:
    granular = bearer(http, AGILE)
    boards = http.get(ex(running, "/rest/agile/1.0/board"), headers=granular)
    assert boards.status_code == 200
    assert boards.json()["values"]
    sprints = http.get(ex(running, "/rest/agile/1.0/board/1/sprint"), headers=granular)
    assert sprints.status_code == 200
    classic = bearer(http, "read:jira-work read:jira-user")
    refused = http.get(ex(running, "/rest/agile/1.0/board"), headers=classic)
    assert (refused.status_code, refused.json()) == (401, SCOPE_401)
    boards_only = bearer(http, "read:board-scope:jira-software")
    assert http.get(ex(running, "/rest/agile/1.0/board/1"), headers=boards_only).status_code == 200
    assert http.get(ex(running, "/rest/agile/1.0/board/1/sprint"), headers=boards_only).json() == SCOPE_401


def test_a_missing_scope_answers_the_gateway_401_body(http: httpx.Client, running: Running) -> None:
    work_only = bearer(http, "read:jira-work")
    me = http.get(ex(running, "/rest/api/3/myself"), headers=work_only)
    assert (me.status_code, me.json()) == (401, SCOPE_401)
    assert http.get(ex(running, "/rest/api/3/issuetype"), headers=work_only).status_code == 200
    user_only = bearer(http, "read:user:jira")  # granular works where classic would
    assert http.get(ex(running, "/rest/api/3/myself"), headers=user_only).status_code == 200
    assert http.get(ex(running, "/rest/api/3/issuetype"), headers=user_only).json() == SCOPE_401


@pytest.mark.parametrize(
    "path", ["/rest/api/3/no-such-thing", "/rest/api/3/issue/PROJ-1/nope", "/_edge/tenant_info", ""]
)
def test_a_path_the_gateway_does_not_serve_is_the_scope_401(http: httpx.Client, running: Running, path: str) -> None:
    response = http.get(ex(running, path), headers=bearer(http))
    assert (response.status_code, response.json()) == (401, SCOPE_401)


def test_an_unknown_cloud_id_is_springs_404(http: httpx.Client) -> None:
    path = "/ex/jira/00000000-0000-0000-0000-000000000000/rest/api/3/myself"
    response = http.get(path, headers=bearer(http))
    assert response.status_code == 404
    body = response.json()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body.pop("timestamp"))
    assert body == {"status": 404, "error": "Not Found", "message": "No message available", "path": path}


def test_an_extra_site_is_listed_for_its_grant_but_404s_at_the_gateway(http: httpx.Client) -> None:
    extra = http.post("/_sandbox/oauth/sites", json={"name": "elsewhere", "url": "https://elsewhere.atlassian.net"})
    cloud_id = extra.json()["id"]
    headers = bearer(http, "read:jira-work read:jira-user", site=cloud_id)
    resources = http.get("/oauth/token/accessible-resources", headers=headers).json()
    assert [r["id"] for r in resources] == [cloud_id]
    assert http.get(f"/ex/jira/{cloud_id}/rest/api/3/myself", headers=headers).status_code == 404


def test_a_token_granted_for_another_site_is_refused_on_the_sandbox_site(http: httpx.Client, running: Running) -> None:
    cloud_id = http.post("/_sandbox/oauth/sites", json={"name": "b", "url": "https://b.atlassian.net"}).json()["id"]
    headers = bearer(http, "read:jira-user", site=cloud_id)
    response = http.get(ex(running, "/rest/api/3/myself"), headers=headers)
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


def test_bearer_tokens_are_refused_on_the_site_host(http: httpx.Client) -> None:
    response = http.get("/rest/api/3/myself", headers=bearer(http))
    assert response.status_code == 401
    assert response.text == "Client must be authenticated to access this resource."


@pytest.mark.parametrize(
    "header",
    [None, basic(MAIN_EMAIL, MAIN_TOKEN), "Bearer not-a-token", "Bearer"],
    ids=["none", "basic", "bad", "empty"],
)
def test_the_gateway_takes_only_3lo_access_tokens(http: httpx.Client, running: Running, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = http.get(ex(running, "/rest/api/3/project/search"), headers=headers)
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


def test_an_expired_access_token_answers_401(http: httpx.Client, running: Running) -> None:
    headers = bearer(http)
    running.clock.now += 3600
    response = http.get(ex(running, "/rest/api/3/myself"), headers=headers)
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


def test_the_rate_limit_counts_per_grant(http: httpx.Client, running: Running) -> None:
    first, second = bearer(http), bearer(http)  # the same user, two grants
    assert http.put("/_sandbox/config", json={"rate_limit": 2, "rate_limit_refill_per_second": 0.001}).is_success
    try:
        codes = [http.get(ex(running, "/rest/api/3/issuetype"), headers=first).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        assert http.get(ex(running, "/rest/api/3/issuetype"), headers=second).status_code == 200
    finally:
        http.put("/_sandbox/config", json={"rate_limit": None})


def test_the_middleware_marks_the_scope_for_the_webhook_side(running: Running) -> None:
    """What a gateway request carries into the site handlers (dynamic webhooks read the client id)."""
    with httpx.Client(base_url=running.url) as http:
        headers = bearer(http, "read:jira-work manage:jira-webhook")
    seen: list[Scope] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        raise AssertionError(f"the middleware answered itself: {message}")

    app = create_app(running.sandbox)
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": ex(running, "/rest/api/3/issuetype"),
        "root_path": "",
        "headers": [(b"authorization", headers["Authorization"].encode())],
        "app": app,
    }
    asyncio.run(GatewayMiddleware(inner)(scope, receive, send))
    [marked] = seen
    assert marked["jira.gateway"] is True
    assert marked["jira.oauth_client_id"] == CLIENT_ID
    assert marked["jira.oauth_scopes"] == ("read:jira-work", "manage:jira-webhook")
    assert marked["root_path"] == f"/ex/jira/{running.sandbox.site.cloud_id}"


@pytest.mark.parametrize(
    ("method", "path", "granted", "allowed"),
    [
        ("GET", "/rest/api/3/myself", "read:jira-work", False),
        ("GET", "/rest/api/3/myself", "read:jira-user", True),
        ("GET", "/rest/api/3/users/search", "read:user:jira", True),
        ("GET", "/rest/api/3/issue/PROJ-1", "read:issue-details:jira", True),
        ("POST", "/rest/api/3/search/jql", "read:jql:jira read:issue-details:jira", True),
        ("POST", "/rest/api/3/search/jql", "read:jql:jira", False),
        ("POST", "/rest/api/3/issue/PROJ-1/comment", "read:jira-work", False),
        ("POST", "/rest/api/3/issue/PROJ-1/comment", "write:jira-work", True),
        ("GET", "/rest/api/3/webhook", "read:jira-work", False),
        ("GET", "/rest/api/3/webhook", "manage:jira-webhook", True),
        ("POST", "/rest/api/3/webhook", "manage:jira-webhook", True),
        ("PUT", "/rest/api/3/webhook/refresh", "write:webhook:jira", True),
        ("DELETE", "/rest/api/3/webhook", "read:webhook:jira", False),
        ("GET", "/rest/agile/1.0/board", "read:jira-work", False),
        ("GET", "/rest/agile/1.0/board/1/configuration", "read:board-scope:jira-software", False),
        ("GET", "/rest/agile/1.0/board/1/issue", "read:issue:jira-software", True),
        ("GET", "/rest/agile/1.0/sprint/3/issue", "read:sprint:jira-software", False),
        ("GET", "/rest/agile/1.0/sprint/3", "read:sprint:jira-software", True),
        ("GET", "/rest/agile/1.0/board/1/epic", "read:epic:jira-software", True),
    ],
)
def test_scope_table(method: str, path: str, granted: str, allowed: bool) -> None:
    assert permits(method, path, granted.split()) is allowed
