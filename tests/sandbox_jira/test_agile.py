"""Agile 1.0 (§4.8): integer ids, boards spanning projects, sprints shown on two boards."""

from __future__ import annotations

from typing import Any

import httpx

from sandbox.jira.model import Site


def values(jira: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        body = jira.get(path, params={**params, "startAt": len(out)}).json()
        assert set(body) == {"maxResults", "startAt", "total", "isLast", "values"}
        out.extend(body["values"])
        if body["isLast"] or not body["values"]:
            return out


def test_boards_have_integer_ids_and_hide_invisible_projects(jira: httpx.Client, site: Site) -> None:
    boards = values(jira, "/rest/agile/1.0/board")
    assert all(isinstance(b["id"], int) and isinstance(b["location"]["projectId"], int) for b in boards)
    assert {b["type"] for b in boards} == {"scrum", "kanban"}
    assert "SEC" not in {b["location"]["projectKey"] for b in boards}
    assert len(boards) == 4


def test_a_board_spans_two_projects_and_shows_a_sprint_another_board_owns(jira: httpx.Client) -> None:
    assert [p["key"] for p in values(jira, "/rest/agile/1.0/board/1/project")] == ["PROJ", "OPS"]
    first = values(jira, "/rest/agile/1.0/board/1/sprint")
    second = values(jira, "/rest/agile/1.0/board/2/sprint")
    shared = {s["id"] for s in first} & {s["id"] for s in second}
    assert shared
    assert {s["originBoardId"] for s in first if s["id"] in shared} == {2}
    assert [s["state"] for s in first] == sorted((s["state"] for s in first), key=["closed", "active", "future"].index)
    future = next(s for s in first if s["state"] == "future")
    assert "startDate" not in future
    closed = next(s for s in first if s["state"] == "closed")
    assert closed["completeDate"].endswith("Z")
    assert [s["state"] for s in values(jira, "/rest/agile/1.0/board/1/sprint", state="active")] == ["active", "active"]


def test_issues_carry_their_sprints_in_the_sites_sprint_field(jira: httpx.Client, site: Site) -> None:
    member = next(i for i in site.issues.values() if len(i.sprint_ids) == 3)
    sprints = jira.get(f"/rest/api/3/issue/{member.key}").json()["fields"][site.sprint_field]
    assert [s["id"] for s in sprints] == member.sprint_ids
    assert all(isinstance(s["boardId"], int) for s in sprints)


def test_kanban_boards_have_no_sprints_and_unknown_boards_are_404(jira: httpx.Client, site: Site) -> None:
    kanban = next(b.id for b in site.boards.values() if b.type == "kanban")
    assert jira.get(f"/rest/agile/1.0/board/{kanban}/sprint").status_code == 400
    missing = jira.get("/rest/agile/1.0/board/999")
    assert missing.status_code == 404
    assert missing.json()["errorMessages"] == ["Board does not exist or you do not have permission to see it."]
