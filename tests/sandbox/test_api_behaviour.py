"""The sandbox's API v2 behaviour on a generated workspace: paging, filters, shapes, errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.clickup.app import create_app
from sandbox.clickup.generator import GeneratorConfig, generate
from sandbox.clickup.model import World
from sandbox.clickup.state import Sandbox
from tests.support import UvicornThread

CONFIG = GeneratorConfig(
    seed=7,
    spaces=1,
    folders_per_space=1,
    lists_per_folder=1,
    folderless_lists_per_space=1,
    tasks_per_list=150,
    subtask_ratio=0.2,
    closed_ratio=0.25,
    archived_ratio=0.1,
)


@pytest.fixture(scope="module")
def world() -> World:
    return generate(CONFIG)


@pytest.fixture(scope="module")
def api(world: World) -> Iterator[httpx.Client]:
    with UvicornThread(create_app(Sandbox(world))) as server:
        token = next(iter(world.tokens))
        with httpx.Client(base_url=f"{server.url}/api/v2", headers={"Authorization": token}) as client:
            yield client


def all_pages(api: httpx.Client, path: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    tasks: list[dict[str, Any]] = []
    page = 0
    while True:
        body = api.get(path, params={**params, "page": page}).json()
        tasks.extend(body["tasks"])
        if len(body["tasks"]) < 100:
            return tasks, page + 1
        page += 1


def active_list(world: World) -> str:
    return next(x.id for x in world.lists.values() if not x.archived and x.folder_id is not None)


def test_generation_is_deterministic() -> None:
    first, second = generate(CONFIG), generate(CONFIG)
    assert list(first.tasks) == list(second.tasks)
    assert [vars(t) for t in first.tasks.values()] == [vars(t) for t in second.tasks.values()]


def test_list_tasks_default_filters_hide_closed_archived_and_subtasks(api: httpx.Client, world: World) -> None:
    list_id = active_list(world)
    tasks, _ = all_pages(api, f"/list/{list_id}/task", {})
    expected = {
        t.id
        for t in world.tasks.values()
        if t.list_id == list_id and not t.archived and t.parent is None and world.status_of(t).type != "closed"
    }
    assert {t["id"] for t in tasks} == expected
    assert len(tasks) == len(expected), "no task appears twice across pages"


def test_everything_is_reached_with_both_archived_passes(api: httpx.Client, world: World) -> None:
    list_id = active_list(world)
    flags = {"subtasks": "true", "include_closed": "true"}
    live, _ = all_pages(api, f"/list/{list_id}/task", flags)
    archived, _ = all_pages(api, f"/list/{list_id}/task", {**flags, "archived": "true"})
    assert all(t["archived"] is False for t in live)
    assert all(t["archived"] is True for t in archived)
    assert {t["id"] for t in live} | {t["id"] for t in archived} == {
        t.id for t in world.tasks.values() if t.list_id == list_id
    }


def test_pages_hold_100_tasks_and_last_page_is_reported(api: httpx.Client, world: World) -> None:
    list_id = active_list(world)
    flags = {"subtasks": "true", "include_closed": "true"}
    total = sum(1 for t in world.tasks.values() if t.list_id == list_id and not t.archived)
    assert total > 150
    first = api.get(f"/list/{list_id}/task", params={**flags, "page": 0}).json()
    assert len(first["tasks"]) == 100
    assert first["last_page"] is False
    last_number = (total - 1) // 100
    last = api.get(f"/list/{list_id}/task", params={**flags, "page": last_number}).json()
    assert len(last["tasks"]) == total - 100 * last_number
    assert last["last_page"] is True
    beyond = api.get(f"/list/{list_id}/task", params={**flags, "page": last_number + 1}).json()
    assert beyond == {"tasks": [], "last_page": True}


def test_team_tasks_page_without_last_page_and_cover_the_workspace(api: httpx.Client, world: World) -> None:
    team_id = next(iter(world.teams))
    body = api.get(f"/team/{team_id}/task", params={"page": 0}).json()
    assert set(body) == {"tasks"}
    flags = {"subtasks": "true", "include_closed": "true"}
    live, pages = all_pages(api, f"/team/{team_id}/task", flags)
    archived, _ = all_pages(api, f"/team/{team_id}/task", {**flags, "archived": "true"})
    assert pages >= 3
    ids = [t["id"] for t in live + archived]
    assert len(ids) == len(set(ids)) == len(world.tasks)


def test_include_timl_adds_tasks_homed_elsewhere(api: httpx.Client, world: World) -> None:
    guest = next(t for t in world.tasks.values() if t.other_lists)
    other = guest.other_lists[0]
    flags = {"subtasks": "true", "include_closed": "true", "archived": str(guest.archived).lower()}
    without, _ = all_pages(api, f"/list/{other}/task", flags)
    with_timl, _ = all_pages(api, f"/list/{other}/task", {**flags, "include_timl": "true"})
    assert guest.id not in {t["id"] for t in without}
    found = next(t for t in with_timl if t["id"] == guest.id)
    assert found["list"]["id"] == guest.list_id
    assert {"id": other, "name": world.lists[other].name} in found["locations"]


def test_order_by_updated_reverse_is_ascending_and_date_filter_is_strict(api: httpx.Client, world: World) -> None:
    team_id = next(iter(world.teams))
    flags = {"subtasks": "true", "include_closed": "true", "order_by": "updated", "reverse": "true"}
    tasks, _ = all_pages(api, f"/team/{team_id}/task", flags)
    stamps = [int(t["date_updated"]) for t in tasks]
    assert stamps == sorted(stamps)
    newest_first = api.get(f"/team/{team_id}/task", params={**flags, "reverse": "false"}).json()["tasks"]
    assert int(newest_first[0]["date_updated"]) == max(stamps)
    pivot = stamps[len(stamps) // 2]
    after, _ = all_pages(api, f"/team/{team_id}/task", {**flags, "date_updated_gt": pivot})
    assert all(int(t["date_updated"]) > pivot for t in after)
    assert len(after) == sum(1 for s in stamps if s > pivot)


def test_types_follow_clickup(api: httpx.Client, world: World) -> None:
    list_id = active_list(world)
    tasks, _ = all_pages(api, f"/list/{list_id}/task", {"subtasks": "true", "include_closed": "true"})
    for task in tasks:
        assert isinstance(task["id"], str)
        assert task["date_created"].isdigit()
        assert task["date_updated"].isdigit()
        assert isinstance(task["creator"]["id"], int)
        assert all(isinstance(a["id"], int) for a in task["assignees"])
        assert isinstance(task["orderindex"], str)
        assert task["priority"] is None or isinstance(task["priority"]["id"], str)
        assert all("value" in f or f.get("value") is None for f in task["custom_fields"])
        if task["parent"] is not None:
            assert task["top_level_parent"] is not None
    subtask = next(t for t in tasks if t["parent"])
    parent = api.get(f"/task/{subtask['parent']}", params={"include_subtasks": "true"}).json()
    assert subtask["id"] in {s["id"] for s in parent["subtasks"]}
    assert "subtasks" not in api.get(f"/task/{subtask['parent']}").json()


def test_hierarchy_archived_flags(api: httpx.Client, world: World) -> None:
    team_id = next(iter(world.teams))
    live = api.get(f"/team/{team_id}/space").json()["spaces"]
    archived = api.get(f"/team/{team_id}/space", params={"archived": "true"}).json()["spaces"]
    assert {s["id"] for s in live} == {s.id for s in world.spaces.values() if not s.archived}
    assert {s["id"] for s in archived} == {s.id for s in world.spaces.values() if s.archived}
    space_id = live[0]["id"]
    folders = api.get(f"/space/{space_id}/folder").json()["folders"]
    archived_folders = api.get(f"/space/{space_id}/folder", params={"archived": "true"}).json()["folders"]
    assert folders
    assert archived_folders
    assert all(isinstance(f["task_count"], str) and isinstance(f["lists"], list) for f in folders)
    folderless = api.get(f"/space/{space_id}/list").json()["lists"]
    archived_folderless = api.get(f"/space/{space_id}/list", params={"archived": "true"}).json()["lists"]
    assert all(x["folder"]["hidden"] is True for x in folderless)
    assert {x["id"] for x in folderless + archived_folderless} == {
        x.id for x in world.lists.values() if x.space_id == space_id and x.folder_id is None
    }


def test_comments_page_25_newest_first_with_start_cursor(api: httpx.Client, world: World) -> None:
    task_id, comments = max(world.comments.items(), key=lambda item: len(item[1]))
    assert len(comments) > 25
    first = api.get(f"/task/{task_id}/comment").json()["comments"]
    assert len(first) == 25
    dates = [int(c["date"]) for c in first]
    assert dates == sorted(dates, reverse=True)
    oldest = first[-1]
    rest = api.get(f"/task/{task_id}/comment", params={"start": oldest["date"], "start_id": oldest["id"]}).json()[
        "comments"
    ]
    assert {c["id"] for c in first}.isdisjoint({c["id"] for c in rest})
    assert len(first) + len(rest) == len(comments)


@pytest.mark.parametrize(
    ("path", "params", "status", "ecode"),
    [
        ("/list/{list}/task", {"page": "-1"}, 400, "INPUT_001"),
        ("/list/{list}/task", {"page": "x"}, 400, "INPUT_001"),
        ("/list/{list}/task", {"subtasks": "maybe"}, 400, "INPUT_002"),
        ("/list/{list}/task", {"date_updated_gt": "yesterday"}, 400, "INPUT_003"),
        ("/list/{list}/task", {"order_by": "name"}, 400, "INPUT_004"),
        ("/list/0/task", {}, 401, "OAUTH_023"),
        ("/task/XYZ", {"custom_task_ids": "true"}, 400, "ITEM_156"),
        ("/nope", {}, 404, "APP_001"),
    ],
)
def test_bad_requests_get_clickup_envelopes(
    api: httpx.Client, world: World, path: str, params: dict[str, str], status: int, ecode: str
) -> None:
    response = api.get(path.format(list=active_list(world)), params=params)
    assert response.status_code == status
    assert response.json()["ECODE"] == ecode
    assert isinstance(response.json()["err"], str)


def test_oauth_token_exchange_accepts_query_or_json(api: httpx.Client, world: World) -> None:
    base = str(api.base_url).rstrip("/").removesuffix("/api/v2")
    with httpx.Client(base_url=base) as plain:
        code = plain.post("/_sandbox/oauth/codes", json={"user_id": min(world.users)}).json()["code"]
        by_query = plain.post(
            "/api/v2/oauth/token",
            params={"client_id": "sandbox-client", "client_secret": "sandbox-secret", "code": code},
        )
        assert set(by_query.json()) == {"access_token"}
        token = by_query.json()["access_token"]
        assert plain.get("/api/v2/user", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        code2 = plain.post("/_sandbox/oauth/codes", json={"user_id": min(world.users)}).json()["code"]
        by_json = plain.post(
            "/api/v2/oauth/token",
            json={"client_id": "sandbox-client", "client_secret": "sandbox-secret", "code": code2},
        )
        assert set(by_json.json()) == {"access_token"}
        wrong = plain.post("/api/v2/oauth/token", json={"client_id": "x", "client_secret": "y", "code": code2})
        assert wrong.json()["ECODE"] == "OAUTH_010"


def test_webhooks_are_one_per_user_workspace_and_endpoint(api: httpx.Client, world: World) -> None:
    """As ClickUp: a second webhook for the same endpoint is refused ("Webhook configuration already
    exists", WEBHOOK_003), another endpoint (a query is enough) is not; listed with their secrets."""
    team_id = next(iter(world.teams))
    endpoint = "https://hooks.example.com/webhooks/clickup"
    first = api.post(f"/team/{team_id}/webhook", json={"endpoint": endpoint, "events": "*"})
    assert first.status_code == 200
    again = api.post(f"/team/{team_id}/webhook", json={"endpoint": endpoint, "events": ["taskCreated"]})
    assert (again.status_code, again.json()) == (
        400,
        {"err": "Webhook configuration already exists", "ECODE": "WEBHOOK_003"},
    )
    other = api.post(f"/team/{team_id}/webhook", json={"endpoint": f"{endpoint}?route=b", "events": "*"})
    assert other.status_code == 200
    listed = {h["id"]: h for h in api.get(f"/team/{team_id}/webhook").json()["webhooks"]}
    assert {h["endpoint"] for h in listed.values()} == {endpoint, f"{endpoint}?route=b"}
    assert listed[first.json()["id"]]["secret"] == first.json()["webhook"]["secret"]
    for hook in (first.json(), other.json()):
        assert api.delete(f"/webhook/{hook['id']}").json() == {}
    assert api.post(f"/team/{team_id}/webhook", json={"endpoint": endpoint, "events": "*"}).status_code == 200
