"""The gallery's JSON and event-stream API against the real server and sandbox: what the page can do,
what it refuses (with a JSON body, changing nothing), and that no secret ever reaches the browser."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sandbox.clickup.fixtures import TV_TOKEN
from tests.clients.conftest import RunningGallery
from tests.conftest import RunningSandbox
from tests.integration.importing import expected_counts

JSON: dict[str, str | None] = {"content-type": "application/json"}
ENABLED = "/integrations/clickup/enabled"
DISABLE = "/integrations/clickup/disable"
SECRET = "/integrations/clickup/webhook-secret"
BAD = "invalid_argument"
SETTINGS = "/integrations/clickup/settings"
ON = b'{"enabled": true}'


@pytest.fixture
async def http(gallery: RunningGallery) -> AsyncIterator[httpx.AsyncClient]:
    # The Origin a browser sends with every fetch from the page that is not GET or HEAD.
    async with httpx.AsyncClient(base_url=gallery.api, timeout=30, headers={"origin": gallery.url}) as client:
        yield client


async def configure(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.patch("/integrations/clickup/settings", json={"api_token": TV_TOKEN})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def read_events(http: httpx.AsyncClient, job_id: str) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    async with http.stream("GET", f"/imports/{job_id}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-content-type-options"] == "nosniff"
        name = ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((name, json.loads(line.removeprefix("data: "))))
                if name == "end":
                    break
    return events


async def test_configure_test_and_import_through_the_page_api(
    http: httpx.AsyncClient, clickup_sandbox: RunningSandbox
) -> None:
    listed = (await http.get("/integrations")).json()["integrations"]
    assert [(c["name"], c["enabled"], c["configured"]) for c in listed] == [
        ("clickup", False, False),
        ("jira", False, False),
    ]

    card = await configure(http)
    assert card["configured"] is True
    assert card["settings"]["api_token_hint"] == "pk_5****0000"
    card = (await http.put("/integrations/clickup/enabled", json={"enabled": True})).json()
    assert card["enabled"] is True

    tested = (await http.post("/integrations/clickup/test", json={})).json()
    assert (tested["ok"], tested["status"]) == (True, "connected")
    assert tested["workspaces"]

    started = await http.post("/integrations/clickup/imports", json={})
    assert started.status_code == 202
    job = started.json()
    events = await read_events(http, job["id"])
    assert events[0][0] == "progress"
    name, final = events[-1]
    assert (name, final["state"], final["done"]) == ("end", "succeeded", True)
    expected = expected_counts(clickup_sandbox.sandbox.world)
    assert final["counters"]["task"] == expected["Task"]

    latest = (await http.get("/integrations/clickup/imports/latest")).json()["job"]
    assert (latest["id"], latest["state"]) == (job["id"], "succeeded")
    card = (await http.get("/integrations/clickup")).json()
    assert card["last_import_job_id"] == job["id"]
    assert card["totals"]["task"] == expected["Task"]

    synced = await http.post("/integrations/clickup/imports", json={"mode": "incremental"})
    assert synced.status_code == 202
    assert (await read_events(http, synced.json()["id"]))[-1][1]["state"] == "succeeded"
    card = (await http.get("/integrations/clickup")).json()
    assert card["last_import_job_id"] == synced.json()["id"], "the incremental import is the last one"
    bad = await http.post("/integrations/clickup/imports", json={"mode": "sometimes"})
    assert (bad.status_code, list(bad.json()["error"]["fields"])) == (400, ["mode"])


async def test_no_secret_ever_reaches_the_browser(http: httpx.AsyncClient) -> None:
    bodies = [(await http.patch("/integrations/clickup/settings", json={"api_token": TV_TOKEN})).text]
    bodies.append((await http.get("/integrations")).text)
    bodies.append((await http.get("/integrations/clickup")).text)
    bodies.append((await http.post("/integrations/clickup/test", json={})).text)
    assert all(TV_TOKEN not in body and TV_TOKEN[4:-4] not in body for body in bodies)


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "code", "field"),
    [
        ("PATCH", "/integrations/clickup/settings", b"{not json", JSON, 400, "invalid_argument", "body"),
        ("PATCH", "/integrations/clickup/settings", b"[1, 2]", JSON, 400, "invalid_argument", "body"),
        ("PATCH", "/integrations/clickup/settings", b"{}", JSON, 400, "invalid_argument", "body"),
        ("PATCH", "/integrations/clickup/settings", b'{"api_key": "x"}', JSON, 400, "invalid_argument", "api_key"),
        (
            "PATCH",
            "/integrations/clickup/settings",
            b'{"sync_interval_minutes": -5}',
            JSON,
            400,
            "invalid_argument",
            "sync_interval_minutes",
        ),
        (
            "PATCH",
            "/integrations/clickup/settings",
            b'{"sync_interval_minutes": 1.5}',
            JSON,
            400,
            "invalid_argument",
            "sync_interval_minutes",
        ),
        (
            "PATCH",
            "/integrations/clickup/settings",
            b'{"auto_sync": "yes"}',
            JSON,
            400,
            "invalid_argument",
            "auto_sync",
        ),
        # The server's own validation, its field path mapped back to the form's field name.
        (
            "PATCH",
            "/integrations/clickup/settings",
            b'{"api_token": "nope"}',
            JSON,
            400,
            "invalid_argument",
            "api_token",
        ),
        (
            "PATCH",
            "/integrations/clickup/settings",
            b'{"api_token": "pk_0_WRONGTOKEN1234567"}',
            JSON,
            409,
            "failed_precondition",
            None,
        ),
        ("PUT", "/integrations/clickup/enabled", b'{"enabled": 1}', JSON, 400, "invalid_argument", "enabled"),
        (
            "PUT",
            "/integrations/clickup/enabled",
            b'{"enabled": true}',
            {"content-type": "text/plain"},
            415,
            "unsupported_media_type",
            None,
        ),
        (
            "PUT",
            "/integrations/clickup/enabled",
            b'{"enabled": true}',
            {**JSON, "origin": "https://evil.example"},
            403,
            "cross_origin",
            None,
        ),
        ("PUT", ENABLED, ON, {**JSON, "origin": "null"}, 403, "cross_origin", None),
        ("PUT", ENABLED, ON, {**JSON, "origin": "http://127.0.0.1:1"}, 403, "cross_origin", None),
        # No Origin: only Sec-Fetch-Site "same-origin" vouches for the caller; nothing at all is refused.
        ("PUT", ENABLED, ON, {**JSON, "origin": None}, 403, "origin_required", None),
        ("PUT", ENABLED, ON, {**JSON, "origin": None, "sec-fetch-site": "cross-site"}, 403, "origin_required", None),
        ("PUT", ENABLED, ON, {**JSON, "origin": None, "sec-fetch-site": "same-site"}, 403, "origin_required", None),
        ("PUT", ENABLED, ON, {**JSON, "origin": None, "sec-fetch-site": "none"}, 403, "origin_required", None),
        # The body: capped (413 without reading on), and JSON that could be neither answered nor stored.
        ("PUT", ENABLED, b" " * (16 * 1024 + 1), JSON, 413, "payload_too_large", None),
        ("PATCH", SETTINGS, b"[" * 10_000, JSON, 400, "invalid_argument", "body"),
        ("PATCH", SETTINGS, b'{"api_token": "pk_1_\\ud800"}', JSON, 400, "invalid_argument", "body"),
        ("PATCH", SETTINGS, b'{"\\ud800": 1}', JSON, 400, "invalid_argument", "body"),
        ("PUT", "/integrations/nosuch/enabled", b'{"enabled": true}', JSON, 404, "not_found", None),
        ("POST", "/integrations/clickup/test", b"{}", JSON, 409, "failed_precondition", None),
        ("POST", "/integrations/clickup/imports", b"{}", JSON, 409, "failed_precondition", None),
        ("GET", "/imports/00000000-0000-4000-8000-000000000000/events", b"", {}, 404, "not_found", None),
        ("DELETE", "/integrations/clickup/enabled", b"", JSON, 405, "http_error", None),
        # Disable: keep or delete, the name typed again for a delete (checked by the server).
        ("POST", DISABLE, b'{"data_policy": "maybe"}', JSON, 400, "invalid_argument", "data_policy"),
        ("POST", DISABLE, b'{"confirm_name": "clickup"}', JSON, 400, "invalid_argument", "body"),
        ("POST", DISABLE, b'{"data_policy": "keep", "extra": 1}', JSON, 400, "invalid_argument", "body"),
        (
            "POST",
            DISABLE,
            b'{"data_policy": "delete", "confirm_name": 7}',
            JSON,
            400,
            "invalid_argument",
            "confirm_name",
        ),
        ("POST", DISABLE, b'{"data_policy": "delete", "confirm_name": "nope"}', JSON, 400, BAD, "confirm_name"),
        (
            "POST",
            DISABLE,
            b'{"data_policy": "keep"}',
            {**JSON, "origin": "https://evil.example"},
            403,
            "cross_origin",
            None,
        ),
        ("POST", "/integrations/nosuch/disable", b'{"data_policy": "keep"}', JSON, 404, "not_found", None),
        ("GET", "/deletions/00000000-0000-4000-8000-000000000000", b"", {}, 404, "not_found", None),
        # The Settings tab: regenerate the webhook secret with a grace period in minutes.
        ("POST", SECRET, b'{"grace_minutes": 0}', JSON, 400, BAD, "grace_minutes"),
        ("POST", SECRET, b'{"grace_minutes": 1441}', JSON, 400, BAD, "grace_minutes"),
        ("POST", SECRET, b'{"grace_minutes": "10"}', JSON, 400, BAD, "grace_minutes"),
        ("POST", SECRET, b'{"grace_minutes": true}', JSON, 400, BAD, "grace_minutes"),
        ("POST", SECRET, b'{"grace": 10}', JSON, 400, BAD, "body"),
        ("POST", SECRET, b'{"grace_minutes": 10}', JSON, 409, "failed_precondition", None),  # no webhooks
        ("GET", "/integrations/clickup/events?state=sideways", b"", {}, 400, BAD, "state"),
        ("GET", "/integrations/clickup/events?since_hours=5", b"", {}, 400, BAD, "since_hours"),
        ("GET", "/integrations/clickup/events?since_hours=-1", b"", {}, 400, BAD, "since_hours"),
        ("POST", "/events/replay", b'{"event_ids": []}', JSON, 400, BAD, "event_ids"),
    ],
)
async def test_bad_requests_get_a_json_error_and_change_nothing(
    http: httpx.AsyncClient,
    method: str,
    path: str,
    body: bytes,
    headers: dict[str, str | None],
    status: int,
    code: str,
    field: str | None,
) -> None:
    before = (await http.get("/integrations/clickup")).json()
    request = http.build_request(method, path, content=body)
    for name, value in headers.items():  # None: the header is not sent at all
        if value is None:
            del request.headers[name]
        else:
            request.headers[name] = value
    response = await http.send(request)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    if field is not None:
        assert field in error["fields"]
    assert (await http.get("/integrations/clickup")).json() == before


async def test_the_gallery_serves_only_its_projects(gallery: RunningGallery) -> None:
    async with httpx.AsyncClient(base_url=gallery.url, timeout=10) as client:
        home = await client.get("/")
        assert (home.status_code, home.headers["location"]) == (307, f"/orgs/{gallery.org}/projects/{gallery.project}")
        other = await client.get("/api/orgs/someone-else/projects/theirs/integrations")
        assert (other.status_code, other.json()["error"]["code"]) == (404, "not_found")
        assert (await client.get("/orgs/someone-else/projects/theirs")).status_code == 404
        missing = await client.get("/no/such/page")
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")

        page = await client.get(gallery.page.removeprefix(gallery.url))
        assert page.status_code == 200
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        assert (await client.get("/static/gallery.js")).status_code == 200
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert (await client.get("/readyz")).json() == {"status": "ready"}
