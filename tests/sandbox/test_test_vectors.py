"""TV1-TV11 of shared/clickup-api.md against the running sandbox (uvicorn on loopback)."""

from __future__ import annotations

import copy
import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.clickup.webhooks import sign
from tests.conftest import RunningSandbox
from tests.sandbox import vectors as tv
from tests.support import UvicornThread, wait_until


@pytest.fixture
def api(clickup_sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=clickup_sandbox.api_url, headers={"Authorization": clickup_sandbox.token}) as client:
        yield client


def test_tv1_user(api: httpx.Client) -> None:
    response = api.get("/user")
    assert response.status_code == 200
    assert response.json() == tv.TV1


def test_tv2_teams_with_members_and_invitee(api: httpx.Client) -> None:
    assert api.get("/team").json() == tv.TV2


def test_tv3_list_tasks_with_subtasks_and_closed(api: httpx.Client) -> None:
    body = api.get("/list/901200000001/task", params={"page": 0, "subtasks": "true", "include_closed": "true"}).json()
    expected = copy.deepcopy(tv.TV3)
    # The vector lists no custom fields on the subtask, though it lives in the same list as its parent,
    # whose "Stage" field it shows. ClickUp returns every field of the task's location and omits `value`
    # when unset (§2.9), which is what the sandbox does: the subtask shows "Stage" without a value.
    stage_without_value = {k: v for k, v in tv.TV3["tasks"][0]["custom_fields"][0].items() if k != "value"}
    expected["tasks"][1]["custom_fields"] = [stage_without_value]
    tv.assert_matches(expected, body)
    assert "value" not in body["tasks"][1]["custom_fields"][0]
    for want, got in zip(tv.TV3["tasks"], body["tasks"], strict=True):
        assert set(got) == set(want), "task objects carry exactly the documented keys"


def test_tv3_default_filters_hide_subtasks_and_closed(api: httpx.Client) -> None:
    without_subtasks = api.get("/list/901200000001/task", params={"include_closed": "true"}).json()
    assert [t["id"] for t in without_subtasks["tasks"]] == ["86abc1xyz"]
    without_closed = api.get("/list/901200000001/task", params={"subtasks": "true"}).json()
    assert [t["id"] for t in without_closed["tasks"]] == ["86abc1xyz"]
    assert api.get(
        "/list/901200000001/task", params={"page": 1, "subtasks": "true", "include_closed": "true"}
    ).json() == {"tasks": [], "last_page": True}


def test_tv4_list_fields(api: httpx.Client) -> None:
    assert api.get("/list/901200000001/field").json() == tv.TV4


def test_tv5_task_comments(api: httpx.Client) -> None:
    assert api.get("/task/86abc1xyz/comment").json() == tv.TV5


def test_tv6_create_webhook(api: httpx.Client, clickup_sandbox: RunningSandbox) -> None:
    request = {**tv.TV6_REQUEST, "endpoint": f"https://hooks.example.com/clickup/{uuid.uuid4().hex}"}
    response = api.post("/team/90120000/webhook", json=request)
    assert response.status_code == 200
    body = response.json()
    hook = body["webhook"]
    assert body["id"] == hook["id"]
    assert uuid.UUID(hook["id"])
    assert re.fullmatch(r"[A-Z0-9]{64}", hook["secret"])
    tv.assert_matches(
        {
            "userid": 5550001,
            "team_id": 90120000,
            "endpoint": request["endpoint"],
            "events": request["events"],
            "task_id": None,
            "list_id": 901200000001,
            "folder_id": None,
            "space_id": None,
            "health": {"status": "active", "fail_count": 0},
        },
        hook,
    )
    assert isinstance(hook["client_id"], str)
    listed = api.get("/team/90120000/webhook").json()["webhooks"]
    assert any(w["id"] == hook["id"] and w["secret"] == hook["secret"] for w in listed)
    assert api.delete(f"/webhook/{hook['id']}").json() == {}


@pytest.fixture
def admin(clickup_sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=clickup_sandbox.url, timeout=30) as client:
        yield client


def test_tv7_rate_limit_429_with_headers(clickup_sandbox: RunningSandbox, admin: httpx.Client) -> None:
    token = admin.post("/_sandbox/tokens", json={"user_id": 5550001}).json()["token"]
    assert admin.put("/_sandbox/config", json={"rate_limit": 3, "rate_limit_window_seconds": 30}).status_code == 200
    try:
        with httpx.Client(base_url=clickup_sandbox.api_url, headers={"Authorization": token}) as client:
            remaining = [client.get("/user").headers["X-RateLimit-Remaining"] for _ in range(3)]
            limited = client.get("/user")
    finally:
        admin.put("/_sandbox/config", json={"rate_limit": None, "rate_limit_window_seconds": 60})
    assert remaining == ["2", "1", "0"]
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/json"
    assert limited.headers["X-RateLimit-Limit"] == "3"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    reset = int(limited.headers["X-RateLimit-Reset"])
    assert time.time() < reset <= time.time() + 31
    assert limited.json() == {"err": "Rate limit reached", "ECODE": "APP_002"}


def test_tv8_error_envelopes(clickup_sandbox: RunningSandbox) -> None:
    with httpx.Client(base_url=clickup_sandbox.api_url) as anonymous:
        missing = anonymous.get("/team")
        assert (missing.status_code, missing.json()) == (
            401,
            {"err": "Authorization header required", "ECODE": "OAUTH_017"},
        )
        bad = anonymous.get("/team", headers={"Authorization": "pk_0_NOTAREALTOKEN"})
        assert bad.status_code == 401
        assert bad.json()["ECODE"] in {"OAUTH_019", "OAUTH_021", "OAUTH_025", "OAUTH_077"}
    with httpx.Client(base_url=clickup_sandbox.api_url, headers={"Authorization": clickup_sandbox.token}) as api:
        other_team = api.get("/team/99999999/space")
        assert (other_team.status_code, other_team.json()) == (
            401,
            {"err": "Team not authorized", "ECODE": "OAUTH_027"},
        )
        unknown_task = api.get("/task/doesnotexist")
        assert (unknown_task.status_code, unknown_task.json()) == (
            401,
            {"err": "Team(s) not authorized", "ECODE": "OAUTH_023"},
        )


@pytest.mark.parametrize(
    ("secret", "body", "signature"),
    [
        (tv.TV_SECRET, tv.TV9_BODY, tv.TV9_SIGNATURE),
        (tv.TV_SECRET, tv.TV10_BODY, tv.TV10_SIGNATURE),
        (tv.TV_SECRET, tv.TV10_SPACED, tv.TV10_SPACED_SIGNATURE),
        ("secret", tv.TV11_BODY, tv.TV11_SIGNATURE),
    ],
)
def test_tv9_to_tv11_signatures(secret: str, body: bytes, signature: str) -> None:
    assert sign(secret, body) == signature


# ---------------------------------------------------------------- deliveries, end to end


@dataclass
class Receiver:
    """A webhook endpoint that records the exact bytes and headers it receives."""

    received: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    answer: int = 200

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            self.received.append((await request.body(), dict(request.headers)))
            return Response(status_code=self.answer)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    recorder = Receiver()
    with UvicornThread(recorder.app()) as server:
        yield recorder, f"{server.url}/hook"


def _register(clickup_sandbox: RunningSandbox, endpoint: str, hook_id: str, secret: str) -> None:
    response = httpx.post(
        f"{clickup_sandbox.url}/_sandbox/webhooks",
        json={"team_id": "90120000", "endpoint": endpoint, "id": hook_id, "secret": secret},
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("hook_id", "secret", "body", "signature"),
    [
        (tv.TV_WEBHOOK_ID, tv.TV_SECRET, tv.TV9_BODY, tv.TV9_SIGNATURE),
        (tv.TV_WEBHOOK_ID, tv.TV_SECRET, tv.TV10_BODY, tv.TV10_SIGNATURE),
        (tv.TV11_WEBHOOK_ID, "secret", tv.TV11_BODY, tv.TV11_SIGNATURE),
    ],
)
def test_documented_deliveries_arrive_byte_for_byte(
    clickup_sandbox: RunningSandbox,
    receiver: tuple[Receiver, str],
    api: httpx.Client,
    hook_id: str,
    secret: str,
    body: bytes,
    signature: str,
) -> None:
    recorder, endpoint = receiver
    _register(clickup_sandbox, endpoint, hook_id, secret)
    payload = json.loads(body)
    result = httpx.post(
        f"{clickup_sandbox.url}/_sandbox/webhooks/{hook_id}/deliver", json={"payload": payload}, timeout=30
    )
    assert result.status_code == 200
    assert result.json()["deliveries"][0]["delivered"] is True
    raw, headers = recorder.received[-1]
    assert raw == body
    assert headers["x-signature"] == signature
    assert headers["content-type"] == "application/json"
    assert api.delete(f"/webhook/{hook_id}").status_code == 200


def test_mutations_emit_signed_thin_events(
    clickup_sandbox: RunningSandbox, receiver: tuple[Receiver, str], admin: httpx.Client, api: httpx.Client
) -> None:
    recorder, endpoint = receiver
    hook_id, secret = str(uuid.uuid4()), "S" * 64
    _register(clickup_sandbox, endpoint, hook_id, secret)
    created = admin.post("/_sandbox/tasks", json={"list_id": "901200000001", "name": "Live task"}).json()
    admin.patch(f"/_sandbox/tasks/{created['id']}", json={"status": "in progress"})
    admin.delete(f"/_sandbox/tasks/{created['id']}")
    wait_until(lambda: len(recorder.received) >= 4, what="four deliveries")
    events = []
    for raw, headers in recorder.received:
        assert headers["x-signature"] == sign(secret, raw)
        assert raw == json.dumps(json.loads(raw), separators=(",", ":"), ensure_ascii=False).encode(), "compact JSON"
        events.append(json.loads(raw))
    assert [e["event"] for e in events] == ["taskCreated", "taskStatusUpdated", "taskStatusUpdated", "taskDeleted"]
    assert all(e["webhook_id"] == hook_id and e["task_id"] == created["id"] for e in events)
    assert [i["field"] for i in events[0]["history_items"]] == ["status", "task_creation"]
    assert "history_items" not in events[3]
    assert "name" not in events[1], "payloads are thin: never the full task"
    api.delete(f"/webhook/{hook_id}")


def test_failing_endpoint_counts_failures_and_410_suspends(
    clickup_sandbox: RunningSandbox, receiver: tuple[Receiver, str], admin: httpx.Client, api: httpx.Client
) -> None:
    recorder, endpoint = receiver
    admin.put("/_sandbox/config", json={"webhook_retry_delay_seconds": 0.01})
    hook_id = str(uuid.uuid4())
    _register(clickup_sandbox, endpoint, hook_id, "x" * 64)

    def health() -> dict[str, object]:
        hooks = api.get("/team/90120000/webhook").json()["webhooks"]
        found: dict[str, object] = next(h for h in hooks if h["id"] == hook_id)["health"]
        return found

    recorder.answer = 500
    admin.post(f"/_sandbox/webhooks/{hook_id}/deliver", json={"payload": {"event": "taskUpdated", "task_id": "a"}})
    assert len(recorder.received) == 5, "each event is tried five times"
    assert health() == {"status": "failing", "fail_count": 1}
    recorder.answer = 200
    admin.post(f"/_sandbox/webhooks/{hook_id}/deliver", json={"payload": {"event": "taskUpdated", "task_id": "b"}})
    assert health() == {"status": "active", "fail_count": 0}
    recorder.answer = 410
    admin.post(f"/_sandbox/webhooks/{hook_id}/deliver", json={"payload": {"event": "taskUpdated", "task_id": "c"}})
    assert health()["status"] == "suspended"
    before = len(recorder.received)
    admin.post(f"/_sandbox/webhooks/{hook_id}/deliver", json={"payload": {"event": "taskUpdated", "task_id": "d"}})
    assert len(recorder.received) == before, "a suspended webhook receives nothing"
    reactivated = api.put(f"/webhook/{hook_id}", json={"status": "active"}).json()
    assert reactivated["webhook"]["health"] == {"status": "active", "fail_count": 0}
    api.delete(f"/webhook/{hook_id}")
