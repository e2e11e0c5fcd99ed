"""The Jira client against httpx.MockTransport with the facts' recorded shapes (V1, V5, V6, V11, V12)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from server.integrations.credentials import OAuthAuth, OAuthTokens
from server.integrations.jira.client import JiraClient, OffsetPage, SearchPage
from server.integrations.jira.errors import (
    JiraAnonymous,
    JiraAuthError,
    JiraBadRequest,
    JiraForbidden,
    JiraGone,
    JiraHTTPError,
    JiraNotFound,
    JiraRateLimited,
    JiraResponseError,
    JiraScopeError,
    JiraServerError,
    JiraSiteUnreachable,
    JiraTransportError,
)

SITE = "https://example.atlassian.net"
EMAIL = "jane@example.com"
TOKEN = "ATATT3xFfGF0-example-token"
CLOUD = "1324a887-45db-1bf4-1e99-ef0ff456d421"
GATEWAY = "https://api.atlassian.com"
MYSELF = {"accountId": "5fc9e78d2730d800760becc4", "displayName": "Jane Doe", "timeZone": "Europe/Berlin"}
Handler = Callable[[httpx.Request], httpx.Response]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_767_600_000.0  # 2026-01-05T08:00:00Z
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def site_client(handler: Handler, clock: FakeClock | None = None) -> JiraClient:
    return JiraClient.for_site(
        SITE, EMAIL, TOKEN, transport=httpx.MockTransport(handler), clock=clock or FakeClock(), rng=random.Random(0)
    )


def error_body(*messages: str) -> dict[str, Any]:
    return {"errorMessages": list(messages), "errors": {}}


async def test_v1_basic_auth_on_the_site_host() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=MYSELF)

    async with site_client(handler) as client:
        me = await client.myself()
    assert me.account_id == MYSELF["accountId"]
    assert me.time_zone == "Europe/Berlin"
    assert me.email is None
    assert str(seen[0].url) == f"{SITE}/rest/api/3/myself"
    assert seen[0].headers["Authorization"] == "Basic amFuZUBleGFtcGxlLmNvbTpBVEFUVDN4RmZHRjAtZXhhbXBsZS10b2tlbg=="
    assert TOKEN not in repr(client)


async def test_gateway_with_the_callers_oauth_auth() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=MYSELF)

    auth = OAuthAuth(OAuthTokens("access-1", site_id=CLOUD))
    async with gateway_client(handler, auth) as client:
        await client.myself()
        await client.get("/rest/agile/1.0/board", {"startAt": 0})
        assert client.cloud_id == CLOUD
    assert str(seen[0].url) == f"https://api.atlassian.com/ex/jira/{CLOUD}/rest/api/3/myself"
    assert str(seen[1].url) == f"https://api.atlassian.com/ex/jira/{CLOUD}/rest/agile/1.0/board?startAt=0"
    assert seen[0].headers["Authorization"] == "Bearer access-1"
    assert "access-1" not in repr(client)


def gateway_client(handler: Handler, auth: httpx.Auth | None = None, api_url: str = GATEWAY) -> JiraClient:
    return JiraClient.for_gateway(
        api_url,
        CLOUD,
        auth or OAuthAuth(OAuthTokens("access-1", site_id=CLOUD)),
        timeout=5.0,
        transport=httpx.MockTransport(handler),
        clock=FakeClock(),
        rng=random.Random(0),
    )


async def test_the_gateway_url_is_configurable_and_the_site_client_has_no_cloud_id() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json=MYSELF)

    async with gateway_client(handler, api_url="http://sandbox.test:8080/") as client:
        await client.myself()
    assert seen == [f"http://sandbox.test:8080/ex/jira/{CLOUD}/rest/api/3/myself"]
    async with site_client(handler) as site:
        assert site.cloud_id is None


@pytest.mark.parametrize("cloud_id", ["", "../admin", "a/b", "id?x=1", "%2e%2e", "-lead", "x" * 129, "a b"])
def test_a_cloud_id_must_be_one_safe_path_segment(cloud_id: str) -> None:
    with pytest.raises(ValueError, match="cloud id"):
        JiraClient.for_gateway(GATEWAY, cloud_id, httpx.BasicAuth("u", "p"), timeout=5.0)


async def test_the_gateway_scope_401_says_a_scope_is_missing_not_bad_credentials() -> None:
    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"code": 401, "message": "Unauthorized; scope does not match"})

    async with gateway_client(handler) as client:
        with pytest.raises(JiraScopeError) as caught:
            await client.get("/rest/agile/1.0/board")
    error = caught.value
    assert isinstance(error, JiraAuthError)
    assert (error.status, error.method, error.path) == (401, "GET", "/rest/agile/1.0/board")
    assert "missing a scope" in str(error)
    assert "GET /rest/agile/1.0/board" in str(error)
    assert "access-1" not in str(error)
    assert client.stats.api_calls == 1  # final: no refresher here, and a 401 is not retried


async def test_the_gateway_404_for_an_unknown_cloud_id_says_the_site_is_not_in_the_grant() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {
            "timestamp": "2026-01-05T08:00:00.000Z",
            "status": 404,
            "error": "Not Found",
            "message": "No message available",
            "path": request.url.path,
        }
        return httpx.Response(404, json=body)

    async with gateway_client(handler) as client:
        with pytest.raises(JiraSiteUnreachable) as caught:
            await client.myself()
    error = caught.value
    assert isinstance(error, JiraNotFound)
    assert "not reachable with this grant" in str(error)
    assert "GET /rest/api/3/myself" in str(error)
    assert client.stats.api_calls == 1  # final, not retried


@pytest.mark.parametrize(
    "body",
    [
        error_body("Issue does not exist or you do not have permission to see it."),
        {"timestamp": "2026-01-05T08:00:00Z", "status": 404, "error": "Not Found", "message": "x",
         "path": "/rest/api/3/issue/NOPE-1"},
        {"status": 404, "error": "Not Found", "message": "No message available"},
    ],
)  # fmt: skip
async def test_other_gateway_404s_stay_plain_not_found(body: dict[str, Any]) -> None:
    async with gateway_client(lambda _: httpx.Response(404, json=body)) as client:
        with pytest.raises(JiraNotFound) as caught:
            await client.get("/rest/api/3/issue/NOPE-1")
    assert type(caught.value) is JiraNotFound


async def test_the_site_host_never_calls_a_404_an_unknown_site() -> None:
    body = {"timestamp": "2026-01-05T08:00:00Z", "status": 404, "error": "Not Found", "message": "No message available",
            "path": f"/ex/jira/{CLOUD}/rest/api/3/myself"}  # fmt: skip
    async with site_client(lambda _: httpx.Response(404, json=body)) as client:
        with pytest.raises(JiraNotFound) as caught:
            await client.myself()
    assert type(caught.value) is JiraNotFound


@pytest.mark.parametrize("body", [{}, {"accountId": ""}, {"accountId": 5}, [], None])
async def test_myself_without_an_account_id_is_anonymous_not_empty(body: Any) -> None:
    async with site_client(lambda _: httpx.Response(200, json=body)) as client:
        with pytest.raises(JiraAnonymous, match="without an accountId"):
            await client.myself()


def plain_401(_: httpx.Request) -> httpx.Response:
    return httpx.Response(
        401,
        text="Client must be authenticated to access this resource.",
        headers={"X-Seraph-LoginReason": "AUTHENTICATED_FAILED", "WWW-Authenticate": "Basic realm=..."},
    )


async def test_bad_credentials_name_method_and_path_never_the_token() -> None:
    async with site_client(plain_401) as client:
        with pytest.raises(JiraAuthError) as caught:
            await client.myself()
    error = caught.value
    assert type(error) is JiraAuthError
    assert (error.status, error.method, error.path) == (401, "GET", "/rest/api/3/myself")
    assert error.messages == ("Client must be authenticated to access this resource.",)
    assert str(error) == (
        "Jira answered 401 (Client must be authenticated to access this resource.) for GET /rest/api/3/myself"
    )
    assert TOKEN not in str(error)
    assert client.stats.api_calls == 1  # a 401 is final


@pytest.mark.parametrize(
    ("status", "body", "kind", "messages"),
    [
        (404, error_body("Issue does not exist or you do not have permission to see it."), JiraNotFound,
         ("Issue does not exist or you do not have permission to see it.",)),
        (410, error_body("The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."),
         JiraGone, ("The requested API has been removed. Please migrate to the /rest/api/3/search/jql API.",)),
        (400, {"errorMessages": ["Invalid request payload. Refer to the REST API documentation and try again."]},
         JiraBadRequest, ("Invalid request payload. Refer to the REST API documentation and try again.",)),
        (400, {"errorMessages": [], "errors": {"jql": "bad clause"}}, JiraBadRequest, ("jql: bad clause",)),
        (401, {"code": 401, "message": "Unauthorized; scope does not match"}, JiraScopeError,
         ("Unauthorized; scope does not match",)),
        (403, error_body("You are not authorized to perform this operation."), JiraForbidden,
         ("You are not authorized to perform this operation.",)),
        (405, {"type": "about:blank", "title": "Method Not Allowed", "status": 405,
               "detail": "Method 'GET' is not supported."}, JiraHTTPError, ("Method 'GET' is not supported.",)),
        (404, {"timestamp": "2026-01-05T08:00:00Z", "status": 404, "error": "Not Found",
               "message": "No message available"}, JiraNotFound, ("No message available",)),
        (404, "<html>nope</html>", JiraNotFound, ()),
    ],
)  # fmt: skip
async def test_error_table(status: int, body: Any, kind: type[JiraHTTPError], messages: tuple[str, ...]) -> None:
    def handler(_: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, json=body)

    async with site_client(handler) as client:
        with pytest.raises(JiraHTTPError) as caught:
            await client.get("/rest/api/3/issue/NOPE-1", {"fields": "summary"})
    assert type(caught.value) is kind
    assert caught.value.messages == messages
    assert caught.value.path == "/rest/api/3/issue/NOPE-1"
    assert client.stats.api_calls == 1


async def test_v11_throttle_waits_retry_after_and_resends_the_identical_request() -> None:
    seen: list[httpx.Request] = []
    clock = FakeClock()

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(
                429,
                json=error_body("Rate limit exceeded."),
                headers={
                    "Retry-After": "5",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": "2026-01-05T13:00Z",
                    "RateLimit-Reason": "jira-burst-based",
                },
            )
        return httpx.Response(200, json={"ok": True})

    async with site_client(handler, clock) as client:
        assert await client.request("POST", "/rest/api/3/issue/10042/comment", body={"body": "x"}) == {"ok": True}
    assert len(clock.sleeps) == 1
    assert clock.sleeps[0] >= 5
    assert [(r.method, str(r.url), r.content) for r in seen[1:]] == [
        (seen[0].method, str(seen[0].url), seen[0].content)
    ]
    assert seen[1].headers["Authorization"] == seen[0].headers["Authorization"]
    assert client.stats.rate_limited == 1
    assert client.rate_limit is not None
    assert client.rate_limit.reason == "jira-burst-based"
    assert client.rate_limit.remaining == 0


async def test_429_without_retry_after_waits_for_the_reset() -> None:
    clock = FakeClock()  # 08:00Z; the reset is at 08:01Z
    calls = 0

    def handler(_: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return httpx.Response(429, headers={"X-RateLimit-Reset": "2026-01-05T08:01Z", "X-RateLimit-Remaining": "0"})
        return httpx.Response(200, json=MYSELF)

    async with site_client(handler, clock) as client:
        await client.myself()
    assert 60 <= clock.sleeps[0] <= 61


async def test_rate_limit_gives_up_after_max_retries() -> None:
    clock = FakeClock()
    async with site_client(lambda _: httpx.Response(429, headers={"Retry-After": "2"}), clock) as client:
        with pytest.raises(JiraRateLimited, match="429"):
            await client.myself()
    assert client.stats.api_calls == 7  # the first try and six retries
    assert all(2 <= s <= 2.2 for s in clock.sleeps)


async def test_server_errors_retry_reads_with_capped_backoff() -> None:
    clock = FakeClock()
    calls = 0

    def handler(_: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(503 if calls < 4 else 200, json=MYSELF if calls >= 4 else error_body("busy"))

    async with site_client(handler, clock) as client:
        await client.myself()
    assert calls == 4
    assert [s <= cap for s, cap in zip(clock.sleeps, (1, 2, 4), strict=True)] == [True, True, True]


async def test_server_errors_do_not_retry_writes_unless_read_only() -> None:
    clock = FakeClock()
    async with site_client(lambda _: httpx.Response(500, json=error_body("boom")), clock) as client:
        with pytest.raises(JiraServerError, match="POST /rest/api/3/issue"):
            await client.request("POST", "/rest/api/3/issue", body={})
        assert client.stats.api_calls == 1
        with pytest.raises(JiraServerError):
            await client.request("POST", "/rest/api/3/issue/bulkfetch", body={}, read_only=True)
        assert client.stats.api_calls == 1 + 7


async def test_transport_errors_retry_reads_then_name_the_path() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with site_client(handler) as client:
        with pytest.raises(JiraTransportError, match="GET /rest/api/3/myself") as caught:
            await client.myself()
    assert TOKEN not in str(caught.value)
    assert client.stats.retries == 6


async def test_near_limit_slows_the_next_request() -> None:
    clock = FakeClock()

    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=MYSELF, headers={"X-RateLimit-NearLimit": "true"})

    async with site_client(handler, clock) as client:
        await client.myself()
        assert clock.sleeps == []
        await client.myself()
    assert clock.sleeps == [0.5]
    assert client.stats.near_limit == 2


async def test_v6_offset_pages_advance_by_items_received() -> None:
    projects = [{"id": str(10000 + n), "key": f"P{n}"} for n in range(130)]
    seen: list[tuple[int, int]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        start, asked = int(request.url.params["startAt"]), int(request.url.params["maxResults"])
        seen.append((start, asked))
        size = min(asked, 100)  # the server's silent cap
        values = projects[start : start + size]
        last = start + len(values) >= len(projects)
        return httpx.Response(
            200,
            json={"maxResults": size, "startAt": start, "total": len(projects), "isLast": last, "values": values},
        )

    async with site_client(handler) as client:
        pages = [page async for page in client.offset_pages("/rest/api/3/project/search", page_size=200)]
    assert seen == [(0, 200), (100, 200)]
    assert [(p.start_at, len(p.values), p.total, p.is_last) for p in pages] == [
        (0, 100, 130, False),
        (100, 30, 130, True),
    ]
    assert [v["id"] for p in pages for v in p.values] == [p["id"] for p in projects]


async def test_total_only_lists_and_bare_arrays() -> None:
    comments = [{"id": str(n)} for n in range(5)]

    def handler(request: httpx.Request) -> httpx.Response:
        start, size = int(request.url.params["startAt"]), int(request.url.params["maxResults"])
        if request.url.path.endswith("/comment"):
            page = comments[start : start + size]
            return httpx.Response(200, json={"startAt": start, "maxResults": size, "total": 5, "comments": page})
        users = [{"accountId": str(n)} for n in range(3)]
        return httpx.Response(200, json=users[start : start + size])

    async with site_client(handler) as client:
        got = [
            p async for p in client.offset_pages("/rest/api/3/issue/PROJ-7/comment", container="comments", page_size=2)
        ]
        assert [len(p.values) for p in got] == [2, 2, 1]
        assert got[-1].is_last
        users = [p async for p in client.offset_pages("/rest/api/3/users/search", page_size=2)]
        assert [len(p.values) for p in users] == [2, 1, 0]  # a short page is not the end; only an empty one


async def test_offset_page_without_its_list_is_a_response_error() -> None:
    async with site_client(lambda _: httpx.Response(200, json={"total": 3})) as client:
        with pytest.raises(JiraResponseError, match="'values'"):
            [p async for p in client.offset_pages("/rest/agile/1.0/board")]


def v5_handler(seen: list[httpx.Request]) -> Handler:
    issues = [{"id": str(10001 + n), "key": f"PROJ-{n + 1}", "fields": {"summary": f"s{n}"}} for n in range(5)]
    pages = {None: (issues[0:2], "T1"), "T1": (issues[2:4], "T2"), "T2": (issues[4:5], None)}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/rest/api/3/search":
            return httpx.Response(410, json=error_body("The requested API has been removed."))
        token = request.url.params.get("nextPageToken")
        if token not in pages:
            return httpx.Response(400, json=error_body("The provided next page token is invalid or expired."))
        page, next_token = pages[token]
        body: dict[str, Any] = {"issues": page, "isLast": next_token is None}
        if next_token:
            body["nextPageToken"] = next_token
        return httpx.Response(200, json=body)

    return handler


async def test_v5_token_pages() -> None:
    seen: list[httpx.Request] = []
    async with site_client(v5_handler(seen)) as client:
        pages = [
            p async for p in client.search_pages("project = PROJ ORDER BY id ASC", ["summary", "updated"], page_size=2)
        ]
    assert [[i["id"] for i in p.issues] for p in pages] == [["10001", "10002"], ["10003", "10004"], ["10005"]]
    assert [(p.page_token, p.next_page_token) for p in pages] == [(None, "T1"), ("T1", "T2"), ("T2", None)]
    assert {r.url.path for r in seen} == {"/rest/api/3/search/jql"}
    for request, token in zip(seen, (None, "T1", "T2"), strict=True):
        params = dict(request.url.params)
        assert params.pop("nextPageToken", None) == token
        assert params == {"jql": "project = PROJ ORDER BY id ASC", "fields": "summary,updated", "maxResults": "2"}


async def test_search_resumes_from_a_checkpointed_token_and_reports_a_bad_one() -> None:
    seen: list[httpx.Request] = []
    async with site_client(v5_handler(seen)) as client:
        resumed = [p async for p in client.search_pages("project = PROJ", ["summary"], page_token="T2")]
        assert [len(p.issues) for p in resumed] == [1]
        with pytest.raises(JiraBadRequest, match="invalid or expired"):
            [p async for p in client.search_pages("project = PROJ", ["summary"], page_token="garbage")]


@pytest.mark.parametrize(
    ("jql", "fields", "page_size"),
    [("ORDER BY id", ["summary"], 50), ("  ", ["summary"], 50), ("project = P", [], 50), ("project = P", ["id"], 0),
     ("project = P", ["id"], 5001)],
)  # fmt: skip
async def test_search_refuses_what_jira_would_reject(jql: str, fields: list[str], page_size: int) -> None:
    async with site_client(lambda _: httpx.Response(500)) as client:
        with pytest.raises(ValueError, match=r"bounded|fields|page_size"):
            [p async for p in client.search_pages(jql, fields, page_size=page_size)]
    assert client.stats.api_calls == 0


async def test_search_stops_on_a_repeated_token() -> None:
    body = {"issues": [{"id": "1"}], "nextPageToken": "T1", "isLast": False}
    async with site_client(lambda _: httpx.Response(200, json=body)) as client:
        with pytest.raises(JiraResponseError, match="same nextPageToken"):
            [p async for p in client.search_pages("project = P", ["id"])]


async def test_approximate_count_is_a_post() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"count": 153})

    async with site_client(handler) as client:
        assert await client.approximate_count("project = PROJ") == 153
    assert seen[0].method == "POST"
    assert json.loads(seen[0].content) == {"jql": "project = PROJ"}


def test_page_records_are_plain_data() -> None:
    assert OffsetPage([], 0, 0, None, True).is_last
    assert SearchPage([], None, None).next_page_token is None
