"""Jira webhooks in the sandbox: registration APIs, signatures (V2-V4), headers, retries, holding, expiry."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.jira.app import create_app
from sandbox.jira.delivery import jwt_hs256, sign
from sandbox.jira.generator import MAIN_EMAIL, MAIN_TOKEN, OTHER_EMAIL, OTHER_TOKEN, generate
from sandbox.jira.state import Sandbox
from tests.sandbox_jira.conftest import CONFIG, FakeClock, basic
from tests.support import UvicornThread

APP_ID, APP_SECRET = "sandbox-app-client", "app-secret-for-jwt"
DAY_S = 86_400
V3_BODY = (
    b'{"timestamp":1767225600000,"webhookEvent":"comment_created","comment":{"self":"https://example.atlassian.net/'
    b'rest/api/2/issue/10042/comment/10100","id":"10100","author":{"accountId":"5fc9e78d2730d800760becc4",'
    b'"displayName":"Jane Doe","active":true,"accountType":"atlassian"},"body":"Looks good to me","created":'
    b'"2026-01-01T00:00:00.000+0000","updated":"2026-01-01T00:00:00.000+0000","jsdPublic":true},"issue":{"id":'
    b'"10042","self":"https://example.atlassian.net/rest/api/2/issue/10042","key":"PROJ-7","fields":{"summary":'
    b'"Fix login"}}}'
)
V3_SIGNATURE = "sha256=f6ef5f19576f8b7c0bff4335d55d5553f24b2e5aa2ad8181b5e2619c7c632946"


@dataclass
class Receiver:
    """A webhook endpoint recording raw bodies and headers; answers from ``script`` first, then 200."""

    received: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    script: list[int] = field(default_factory=list)

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            self.received.append((await request.body(), dict(request.headers)))
            return Response(status_code=self.script.pop(0) if self.script else 200)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for body, _ in self.received]


def as_app(app: ASGIApp) -> ASGIApp:
    """Stands in for the gateway: ``X-Test-App: <client id>`` marks the call as an OAuth app's."""

    async def wrapper(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"x-test-app":
                    scope = {**scope, "jira.oauth_client_id": value.decode()}
        await app(scope, receive, send)

    return wrapper


@dataclass
class Hub:
    sandbox: Sandbox
    clock: FakeClock
    jira: httpx.Client
    app: httpx.Client  # the same caller, seen as the OAuth app
    receiver: Receiver
    hook_url: str

    def drain(self) -> list[dict[str, Any]]:
        """Wait until every queued delivery is done; the sandbox's log of deliveries."""
        answer = self.jira.get("/_sandbox/deliveries", params={"wait": "true", "timeout": "10"}, timeout=15)
        assert answer.status_code == 200, answer.text
        deliveries: list[dict[str, Any]] = answer.json()["deliveries"]
        return deliveries

    def admin_hook(self, events: list[str], jql: str = "", secret: str | None = None) -> int:
        body: dict[str, Any] = {"name": "graph-sync", "url": self.hook_url, "events": events}
        body |= {"filters": {"issue-related-events-section": jql}, "excludeBody": False}
        if secret is not None:
            body["secret"] = secret
        created = self.jira.post("/rest/webhooks/1.0/webhook", json=body)
        assert created.status_code == 201, created.text
        return int(created.json()["self"].rsplit("/", 1)[1])

    def reset(self) -> None:
        self.drain()
        for hook_id in list(self.sandbox.hub.webhooks):
            del self.sandbox.hub.webhooks[hook_id]
        self.receiver.received.clear()
        self.receiver.script.clear()


@pytest.fixture(scope="module")
def hub_env() -> Iterator[Hub]:
    clock = FakeClock()
    sandbox = Sandbox(generate(CONFIG), clock=clock)
    sandbox.app_secrets[APP_ID] = APP_SECRET
    receiver = Receiver()
    auth = {"Authorization": basic(MAIN_EMAIL, MAIN_TOKEN)}
    with (
        UvicornThread(receiver.app()) as sink,
        UvicornThread(as_app(create_app(sandbox))) as server,
        httpx.Client(base_url=server.url, headers=auth, timeout=10) as jira,
        httpx.Client(base_url=server.url, headers={**auth, "X-Test-App": APP_ID}, timeout=10) as app,
    ):
        yield Hub(sandbox, clock, jira, app, receiver, f"{sink.url}/hook")


@pytest.fixture
def hub(hub_env: Hub) -> Hub:
    hub_env.reset()
    return hub_env


# ---------------------------------------------------------------- signatures


@pytest.mark.parametrize(
    ("secret", "body", "expected"),
    [
        (
            "It's a Secret to Everybody",
            b"Hello World!",
            "sha256=a4771c39fbe90f317c7824e83ddef3caae9cb3d976c214ace1f2937e133263c9",
        ),
        ("s3cr3t-webhook-key", V3_BODY, V3_SIGNATURE),
        (
            "test-secret",
            b'{"webhookEvent":"jira:issue_deleted","issue":{"id":"10001","key":"PROJ-1"}}',
            "sha256=86a0710910d1f2868b284362ed6ef6c5f886535c739b975f5287963aaa691fd4",
        ),
    ],
)
def test_signatures_match_the_published_vectors(secret: str, body: bytes, expected: str) -> None:
    assert sign(secret, body) == expected


def test_v3_negatives_sign_differently() -> None:
    assert len(V3_BODY) == 534
    pretty = json.dumps(json.loads(V3_BODY), indent=2).encode()
    assert sign("s3cr3t-webhook-key", pretty) == (
        "sha256=a16fb29c06fe685ed29eed3b053c4e154386d120b160fbc0d02146b8ecbfb662"
    )
    assert sign("s3cr3t-webhook-key", V3_BODY + b"\n") == (
        "sha256=ce9ed690ea639bcd433fad736806002a37d3717c16715b6185496f7d29658c18"
    )
    assert V3_SIGNATURE not in {sign("s3cr3t-webhook-key", pretty), sign("s3cr3t-webhook-key", V3_BODY + b"\n")}


def verify_jwt(token: str, secret: str) -> dict[str, Any]:
    """What a receiver does (§6.2): check the HS256 signature, then read the claims."""
    header, payload, signature = token.split(".")
    expected = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)) == expected
    assert json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))) == {"alg": "HS256", "typ": "JWT"}
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def test_jwt_verifies_with_its_secret_only() -> None:
    token = jwt_hs256("k", {"iss": "a", "iat": 1, "exp": 181})
    assert verify_jwt(token, "k") == {"iss": "a", "iat": 1, "exp": 181}
    with pytest.raises(AssertionError):
        verify_jwt(token, "other")


# ---------------------------------------------------------------- admin registration


def test_admin_webhook_crud_shapes(hub: Hub) -> None:
    hook_id = hub.admin_hook(["jira:issue_created"], "project = WEB", secret="s")
    listed = hub.jira.get("/rest/webhooks/1.0/webhook").json()
    assert isinstance(listed, list)
    item = listed[0]
    assert set(item) == {
        "name",
        "url",
        "excludeBody",
        "filters",
        "events",
        "enabled",
        "self",
        "lastUpdatedUser",
        "lastUpdatedDisplayName",
        "lastUpdated",
    }
    assert item["enabled"] is True
    assert item["filters"] == {"issue-related-events-section": "project = WEB"}
    assert item["self"] == f"{hub.sandbox.site.url}/rest/webhooks/1.0/webhook/{hook_id}"
    assert item["lastUpdated"] == hub.sandbox.now_ms()
    assert "secret" not in item
    changed = {"name": "renamed", "url": hub.hook_url, "events": ["comment_created"]}
    put = hub.jira.put(f"/rest/webhooks/1.0/webhook/{hook_id}", json=changed)
    assert put.status_code == 200
    assert put.json()["events"] == ["comment_created"]
    assert hub.jira.get(f"/rest/webhooks/1.0/webhook/{hook_id}").json()["name"] == "renamed"
    assert hub.jira.delete(f"/rest/webhooks/1.0/webhook/{hook_id}").status_code == 204
    missing = hub.jira.get(f"/rest/webhooks/1.0/webhook/{hook_id}")
    assert missing.status_code == 404
    assert missing.json()["errorMessages"]


@pytest.mark.parametrize(
    ("change", "field_name"),
    [
        ({"url": "ftp://x"}, "url"),
        ({"events": ["jira:issue_exploded"]}, "events"),
        ({"filters": {"issue-related-events-section": "watchCount = 3"}}, "filters"),
        ({"filters": {"issue-related-events-section": "project ="}}, "filters"),
        ({"name": ""}, "name"),
        ({"excludeBody": "no"}, "excludeBody"),
    ],
)
def test_admin_webhook_input_is_validated(hub: Hub, change: dict[str, Any], field_name: str) -> None:
    body = {"name": "n", "url": hub.hook_url, "events": ["jira:issue_created"]} | change
    refused = hub.jira.post("/rest/webhooks/1.0/webhook", json=body)
    assert refused.status_code == 400
    assert field_name in refused.json()["errors"]


def test_only_site_admins_manage_admin_webhooks(hub: Hub) -> None:
    with httpx.Client(base_url=str(hub.jira.base_url)) as anonymous:
        assert anonymous.get("/rest/webhooks/1.0/webhook").status_code == 401
    jane = {"Authorization": basic(OTHER_EMAIL, OTHER_TOKEN)}
    refused = hub.jira.get("/rest/webhooks/1.0/webhook", headers=jane)
    assert refused.status_code == 403
    assert refused.json()["errorMessages"]


# ---------------------------------------------------------------- deliveries


def test_signed_delivery_carries_jiras_headers_and_exact_bytes(hub: Hub) -> None:
    hook_id = hub.admin_hook(["comment_created"], secret="s3cr3t-webhook-key")
    sent = hub.jira.post(f"/_sandbox/webhooks/{hook_id}/deliver", json={"payload": json.loads(V3_BODY)})
    assert sent.json()["deliveries"][0]["delivered"] is True
    body, headers = hub.receiver.received[-1]
    assert body == V3_BODY
    assert headers["x-hub-signature"] == V3_SIGNATURE
    assert headers["content-type"] == "application/json; charset=UTF-8"
    assert headers["x-atlassian-webhook-flow"] == "Primary"
    assert headers["x-atlassian-webhook-identifier"] == sent.json()["deliveries"][0]["identifier"]
    assert "x-atlassian-webhook-retry" not in headers
    assert "authorization" not in headers


def test_no_secret_no_signature_and_corruption_on_demand(hub: Hub) -> None:
    plain = hub.admin_hook(["comment_created"])
    hub.jira.post(f"/_sandbox/webhooks/{plain}/deliver", json={"payload": {"webhookEvent": "comment_created"}})
    assert "x-hub-signature" not in hub.receiver.received[-1][1]
    signed = hub.admin_hook(["comment_created"], secret="k")
    for corrupt in ("signature", "body"):
        hub.jira.post(
            f"/_sandbox/webhooks/{signed}/deliver",
            json={"payload": {"webhookEvent": "comment_created"}, "corrupt": corrupt, "flow": "Secondary"},
        )
        body, headers = hub.receiver.received[-1]
        assert headers["x-hub-signature"] != sign("k", body)
        assert headers["x-atlassian-webhook-flow"] == "Secondary"


def test_retries_keep_the_identifier_and_count_up(hub: Hub) -> None:
    hook_id = hub.admin_hook(["comment_created"])
    hub.receiver.script[:] = [503, 200]
    sent = hub.jira.post(f"/_sandbox/webhooks/{hook_id}/deliver", json={"payload": {"webhookEvent": "x"}}).json()
    assert sent["deliveries"][0] | {"identifier": ""} == sent["deliveries"][0] | {
        "identifier": "",
        "attempts": 2,
        "status": 200,
        "delivered": True,
    }
    (_, first), (_, second) = hub.receiver.received
    assert first["x-atlassian-webhook-identifier"] == second["x-atlassian-webhook-identifier"]
    assert "x-atlassian-webhook-retry" not in first
    assert second["x-atlassian-webhook-retry"] == "1"


def test_a_400_is_final(hub: Hub) -> None:
    hook_id = hub.admin_hook(["comment_created"])
    hub.receiver.script[:] = [400]
    sent = hub.jira.post(f"/_sandbox/webhooks/{hook_id}/deliver", json={"payload": {"webhookEvent": "x"}}).json()
    assert sent["deliveries"][0]["attempts"] == 1
    assert sent["deliveries"][0]["delivered"] is False
    assert len(hub.receiver.received) == 1


def test_held_deliveries_flush_duplicated_and_shuffled(hub: Hub) -> None:
    hub.admin_hook(["jira:issue_updated"])
    assert hub.jira.put("/_sandbox/config", json={"hold_deliveries": True}).json()["hold_deliveries"] is True
    try:
        for n in range(3):
            assert hub.jira.patch("/_sandbox/issues/PROJ-3", json={"summary": f"Held {n}"}).status_code == 200
        hub.drain()
        assert hub.receiver.received == []
        flushed = hub.jira.post("/_sandbox/webhooks/flush", json={"duplicate": 2, "shuffle": True, "seed": 3})
        assert flushed.json() == {"flushed": 6, "held": 0}
    finally:
        hub.jira.put("/_sandbox/config", json={"hold_deliveries": False})
    identifiers = [h["x-atlassian-webhook-identifier"] for _, h in hub.receiver.received]
    assert len(identifiers) == 6
    assert all(identifiers.count(i) == 2 for i in identifiers)
    summaries = [e["issue"]["fields"]["summary"] for e in hub.receiver.events()]
    assert sorted(set(summaries)) == ["Held 0", "Held 1", "Held 2"]
    assert summaries != sorted(summaries), "seed 3 shuffles this batch"


def test_jql_filter_selects_issue_events(hub: Hub) -> None:
    hub.admin_hook(["jira:issue_updated"], "project in (WEB, OPS)")
    hub.jira.patch("/_sandbox/issues/PROJ-4", json={"summary": "Not for this hook"})
    hub.jira.patch("/_sandbox/issues/WEB-4", json={"summary": "For this hook"})
    hub.drain()
    assert [e["issue"]["key"] for e in hub.receiver.events()] == ["WEB-4"]


def test_a_disabled_webhook_gets_nothing(hub: Hub) -> None:
    hook_id = hub.admin_hook(["jira:issue_updated"])
    assert hub.jira.patch(f"/_sandbox/webhooks/{hook_id}", json={"enabled": False}).json()["enabled"] is False
    hub.jira.patch("/_sandbox/issues/PROJ-4", json={"summary": "Unheard"})
    hub.drain()
    assert hub.receiver.received == []
    assert hub.jira.get(f"/rest/webhooks/1.0/webhook/{hook_id}").json()["enabled"] is False


def test_deleting_an_issue_cascades_as_secondary(hub: Hub) -> None:
    site = hub.sandbox.site
    victim = next(i for i in site.issues.values() if site.comments_of(i.id) and site.links_of(i.id))
    comments, links = len(site.comments_of(victim.id)), len(site.links_of(victim.id))
    subtasks = [c for c in site.children(victim.id) if site.issue_types[c.type_id].subtask]
    sub_comments = sum(len(site.comments_of(s.id)) for s in subtasks)
    hub.admin_hook(["jira:issue_deleted", "comment_deleted", "issuelink_deleted"])
    assert hub.jira.delete(f"/_sandbox/issues/{victim.id}").status_code == 200
    hub.drain()
    flows = [
        (e["webhookEvent"], h["x-atlassian-webhook-flow"])
        for e, (_, h) in zip(hub.receiver.events(), hub.receiver.received, strict=True)
    ]
    assert flows[0] == ("jira:issue_deleted", "Primary")
    assert flows.count(("jira:issue_deleted", "Primary")) == 1 + len(subtasks)
    assert flows.count(("comment_deleted", "Secondary")) == comments + sub_comments
    assert flows.count(("issuelink_deleted", "Secondary")) >= links
    assert {f for _, f in flows if _ != "jira:issue_deleted"} == {"Secondary"}
    assert hub.jira.get(f"/rest/api/3/issue/{victim.id}").status_code == 404


# ---------------------------------------------------------------- dynamic webhooks


def test_dynamic_webhooks_are_for_apps_only(hub: Hub) -> None:
    refused = hub.jira.get("/rest/api/3/webhook")
    assert refused.status_code == 403
    assert refused.json()["errorMessages"] == ["Only Connect and OAuth 2.0 apps can use this operation."]


def test_dynamic_registration_results_keep_input_order(hub: Hub) -> None:
    body = {
        "url": hub.hook_url,
        "webhooks": [
            {"events": ["jira:issue_created", "jira:issue_updated"], "jqlFilter": "project = WEB"},
            {"events": ["jira:issue_deleted"], "jqlFilter": "watchCount = 3"},
            {"events": ["sprint_started"], "jqlFilter": "project = WEB"},
            {"events": ["jira:issue_deleted"]},
            {"events": ["comment_created"], "jqlFilter": "project NOT IN (OPS) AND status != Done"},
        ],
    }
    results = hub.app.post("/rest/api/3/webhook", json=body).json()["webhookRegistrationResult"]
    assert "createdWebhookId" in results[0]
    assert results[1] == {"errors": ["The clause watchCount is unsupported"]}
    assert "errors" in results[2]
    assert "errors" in results[3]
    assert isinstance(results[4]["createdWebhookId"], int)
    page = hub.app.get("/rest/api/3/webhook").json()
    assert page["total"] == 2
    assert page["isLast"] is True
    item = page["values"][0]
    assert set(item) == {"id", "jqlFilter", "events", "expirationDate", "url"}
    assert item["expirationDate"] == hub.sandbox.now_ms() + 30 * DAY_S * 1000
    other = hub.app.post("/rest/api/3/webhook", json=body | {"url": hub.hook_url + "/other"})
    assert other.status_code == 400
    ids = [r["createdWebhookId"] for r in results if "createdWebhookId" in r]
    assert hub.app.request("DELETE", "/rest/api/3/webhook", json={"webhookIds": ids}).status_code == 202
    assert hub.app.get("/rest/api/3/webhook").json()["values"] == []


def test_dynamic_deliveries_carry_a_jwt_and_expire_after_30_days(hub: Hub) -> None:
    body = {"url": hub.hook_url, "webhooks": [{"events": ["jira:issue_updated"], "jqlFilter": "project = WEB"}]}
    hook_id = hub.app.post("/rest/api/3/webhook", json=body).json()["webhookRegistrationResult"][0]["createdWebhookId"]
    hub.jira.patch("/_sandbox/issues/WEB-5", json={"summary": "Seen by the app"})
    hub.drain()
    ((raw, headers),) = hub.receiver.received
    assert "x-hub-signature" not in headers
    claims = verify_jwt(headers["authorization"].removeprefix("Bearer "), APP_SECRET)
    assert claims["iss"] == APP_ID
    assert claims["exp"] - claims["iat"] == 180
    assert json.loads(raw)["matchedWebhookIds"] == [hook_id]
    start = hub.clock.now
    try:
        hub.clock.now = start + 29 * DAY_S
        refreshed = hub.app.put("/rest/api/3/webhook/refresh", json={"webhookIds": [hook_id]}).json()
        assert refreshed["expirationDate"] == int((start + 59 * DAY_S) * 1000)
        hub.clock.now = start + 58 * DAY_S
        assert len(hub.app.get("/rest/api/3/webhook").json()["values"]) == 1
        hub.clock.now = start + 60 * DAY_S
        assert hub.app.get("/rest/api/3/webhook").json()["values"] == []
        hub.jira.patch("/_sandbox/issues/WEB-5", json={"summary": "Too late"})
        hub.drain()
        assert len(hub.receiver.received) == 1
    finally:
        hub.clock.now = start


def test_expiring_dynamic_webhooks_on_demand(hub: Hub) -> None:
    body = {"url": hub.hook_url, "webhooks": [{"events": ["comment_created"], "jqlFilter": "project = WEB"}]}
    hook_id = hub.app.post("/rest/api/3/webhook", json=body).json()["webhookRegistrationResult"][0]["createdWebhookId"]
    assert hub.jira.post("/_sandbox/webhooks/expire", json={"webhookIds": [hook_id]}).json() == {"expired": [hook_id]}
    assert hub.app.get("/rest/api/3/webhook").json()["values"] == []
