"""Admin mutations: each one's effect on the read API and the event Jira would send for it."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.jira.webhooks import ADMIN_EVENTS
from tests.sandbox_jira import test_webhooks as shared
from tests.sandbox_jira.test_webhooks import Hub

hub_env = shared.hub_env  # the module-scoped fixture: a fresh site for this module


@pytest.fixture
def live(hub_env: Hub) -> Hub:
    """Every admin event goes to the receiver."""
    hub_env.reset()
    hub_env.admin_hook(sorted(ADMIN_EVENTS))
    return hub_env


def sent(env: Hub) -> list[dict[str, Any]]:
    env.drain()
    events = env.receiver.events()
    env.receiver.received.clear()
    return events


def test_create_issue_is_readable_and_announced(live: Hub) -> None:
    body = {"project": "WEB", "type": "Task", "summary": "Brand new", "labels": ["fresh"], "description": "Hi"}
    created = live.jira.post("/_sandbox/issues", json=body)
    assert created.status_code == 201
    issue = live.jira.get(f"/rest/api/3/issue/{created.json()['key']}").json()
    assert issue["id"] == created.json()["id"]
    assert issue["fields"]["labels"] == ["fresh"]
    (event,) = sent(live)
    assert event["webhookEvent"] == "jira:issue_created"
    assert event["issue_event_type_name"] == "issue_created"
    assert event["issue"]["self"].endswith(f"/rest/api/2/issue/{issue['id']}")
    assert event["issue"]["fields"]["description"] == "Hi"
    assert {i["field"] for i in event["changelog"]["items"]} >= {"status", "summary", "reporter", "priority"}
    assert event["matchedWebhookIds"]
    assert isinstance(event["timestamp"], int)
    assert live.jira.post("/_sandbox/issues", json=body | {"type": "Subtask"}).status_code == 400


def test_edits_name_their_kind(live: Hub) -> None:
    issue = live.sandbox.site.issue_by_key_or_id("WEB-6")
    assert issue is not None
    issue.status_id, issue.assignee = "10000", None
    live.jira.patch("/_sandbox/issues/WEB-6", json={"status": "10002"})
    live.jira.patch("/_sandbox/issues/WEB-6", json={"assignee": "5fc9e78d2730d800760becc4"})
    transition, assignment = sent(live)
    assert transition["issue_event_type_name"] == "issue_generic"
    status = next(i for i in transition["changelog"]["items"] if i["field"] == "status")
    assert status["to"] == "10002"
    assert status["toString"] == "Done"
    assert assignment["issue_event_type_name"] == "issue_assigned"
    assert assignment["changelog"]["items"][0]["tmpToAccountId"] == "5fc9e78d2730d800760becc4"
    assert transition["issue"]["fields"]["updated"] < assignment["issue"]["fields"]["updated"]


def test_move_is_issue_moved(live: Hub) -> None:
    site = live.sandbox.site
    issue = next(i for i in site.issues.values() if site.projects[i.project_id].key == "OPS" and i.type_id == "10003")
    moved = live.jira.post(f"/_sandbox/issues/{issue.id}/move", json={"project": "WEB"}).json()
    assert moved["key"].startswith("WEB-")
    first = sent(live)[0]
    assert first["issue_event_type_name"] == "issue_moved"
    assert [i["field"] for i in first["changelog"]["items"]][:4] == ["project", "Key", "status", "Workflow"]


def test_comments_add_edit_delete(live: Hub) -> None:
    added = live.jira.post("/_sandbox/issues/WEB-7/comments", json={"body": "First words"})
    assert added.status_code == 201
    comment_id = added.json()["id"]
    live.jira.patch(f"/_sandbox/comments/{comment_id}", json={"body": "Second words"})
    page = live.jira.get("/rest/api/3/issue/WEB-7/comment").json()
    assert any(
        c["id"] == comment_id and c["body"]["content"][0]["content"][0]["text"] == "Second words"
        for c in page["comments"]
    )
    live.jira.delete(f"/_sandbox/comments/{comment_id}")
    assert comment_id not in [c["id"] for c in live.jira.get("/rest/api/3/issue/WEB-7/comment").json()["comments"]]
    events = sent(live)
    kinds = [(e["webhookEvent"], e.get("issue_event_type_name")) for e in events]
    assert kinds == [
        ("comment_created", None),
        ("jira:issue_updated", "issue_commented"),
        ("comment_updated", None),
        ("jira:issue_updated", "issue_comment_edited"),
        ("comment_deleted", None),
        ("jira:issue_updated", "issue_comment_deleted"),
    ]
    assert "user" not in events[0]
    assert events[0]["comment"]["body"] == "First words"
    assert events[1]["comment"]["id"] == comment_id
    assert live.jira.patch(f"/_sandbox/comments/{comment_id}", json={"body": "x"}).status_code == 404


def test_links_show_on_both_sides_until_deleted(live: Hub) -> None:
    made = live.jira.post("/_sandbox/links", json={"type": "Blocks", "outward": "WEB-8", "inward": "PROJ-8"})
    assert made.status_code == 201
    link_id = made.json()["id"]
    for key in ("WEB-8", "PROJ-8"):
        links = live.jira.get(f"/rest/api/3/issue/{key}", params={"fields": "issuelinks"}).json()["fields"][
            "issuelinks"
        ]
        assert link_id in [x["id"] for x in links]
    live.jira.delete(f"/_sandbox/links/{link_id}")
    assert live.jira.get(f"/rest/api/3/issueLink/{link_id}").status_code == 404
    events = sent(live)
    created = next(e for e in events if e["webhookEvent"] == "issuelink_created")["issueLink"]
    site = live.sandbox.site
    assert created["id"] == int(link_id)
    assert created["sourceIssueId"] == int(site.issue_by_key_or_id("WEB-8").id)  # type: ignore[union-attr]
    assert created["issueLinkType"]["outwardName"] == "blocks"
    assert [e["webhookEvent"] for e in events].count("issuelink_deleted") == 1


def test_sprint_lifecycle_and_membership(live: Hub) -> None:
    site = live.sandbox.site
    future = next(s for s in site.sprints.values() if s.state == "future")
    live.jira.patch(f"/_sandbox/sprints/{future.id}", json={"goal": "Ship it"})
    issue = next(
        i
        for i in site.issues.values()
        if i.project_id == site.boards[future.origin_board_id].location_project_id
        and i.type_id != "10000"
        and not site.issue_types[i.type_id].subtask
    )
    before = list(issue.sprint_ids)
    assert live.jira.post(f"/_sandbox/sprints/{future.id}/issues", json={"issues": [issue.key]}).status_code == 200
    sprints = live.jira.get(f"/rest/api/3/issue/{issue.id}", params={"fields": site.sprint_field}).json()["fields"][
        site.sprint_field
    ]
    assert sprints[-1]["id"] == future.id
    live.jira.patch(f"/_sandbox/sprints/{future.id}", json={"state": "active"})
    live.jira.patch(f"/_sandbox/sprints/{future.id}", json={"state": "closed"})
    assert live.jira.patch(f"/_sandbox/sprints/{future.id}", json={"state": "future"}).status_code == 400
    events = sent(live)
    assert [e["webhookEvent"] for e in events] == [
        "sprint_updated",
        "jira:issue_updated",
        "sprint_started",
        "sprint_closed",
    ]
    assert events[0]["oldValue"]["goal"] != "Ship it"
    item = events[1]["changelog"]["items"][0]
    assert item["field"] == "Sprint"
    assert item["fieldId"] == site.sprint_field
    assert [s.strip() for s in item["to"].split(",") if s.strip()][-1] == str(future.id)
    assert item["from"] == ", ".join(str(s) for s in before)


def test_versions_and_silent_components(live: Hub) -> None:
    site = live.sandbox.site
    version = next(v for v in site.versions.values() if not v.released and not site.projects[v.project_id].archived)
    answer = live.jira.patch(f"/_sandbox/versions/{version.id}", json={"released": True, "releaseDate": "2026-03-01"})
    assert answer.json()["event"] == "jira:version_released"
    component = live.jira.post("/_sandbox/components", json={"project": "WEB", "name": "Payments"}).json()["id"]
    live.jira.patch(f"/_sandbox/components/{component}", json={"name": "Billing"})
    used = next(i for i in site.issues.values() if i.component_ids)
    updated, gone = used.updated_ms, used.component_ids[0]
    live.jira.delete(f"/_sandbox/components/{gone}")
    assert gone not in used.component_ids
    assert used.updated_ms == updated, "a component delete is a silent drop"
    events = sent(live)
    assert [e["webhookEvent"] for e in events] == ["jira:version_released"]
    assert events[0]["version"]["released"] is True
    assert "/rest/api/2/version/" in events[0]["version"]["self"]


def test_random_mutations_leave_a_consistent_site(live: Hub) -> None:
    result = live.jira.post("/_sandbox/mutate", json={"count": 100, "seed": 7}).json()
    assert len(result["mutations"]) == 100
    assert len({m["kind"] for m in result["mutations"]}) >= 10
    assert result["events"] > 0
    site = live.sandbox.site
    ids: list[str] = []
    token: str | None = None
    while True:
        params: dict[str, str | int] = {"jql": "created >= -3650d", "fields": "*all", "maxResults": 100}
        if token:
            params["nextPageToken"] = token
        page = live.jira.get("/rest/api/3/search/jql", params=params).json()
        ids += [i["id"] for i in page["issues"]]
        if page["isLast"]:
            break
        token = page["nextPageToken"]
    assert len(ids) == len(set(ids)) > 0
    for issue_id in ids:
        issue = live.jira.get(f"/rest/api/3/issue/{issue_id}")
        assert issue.status_code == 200
        fields = issue.json()["fields"]
        assert all(x.get("inwardIssue", x.get("outwardIssue"))["id"] in site.issues for x in fields["issuelinks"])
        assert all(s["id"] in site.sprints for s in fields[site.sprint_field] or [])
    deleted = [m["id"] for m in result["mutations"] if m["kind"] == "issue_delete"]
    assert all(live.jira.get(f"/rest/api/3/issue/{d}").status_code == 404 for d in deleted)
    assert all(c.issue_id in site.issues for c in site.comments.values())
    assert all({x.outward_from, x.inward_to} <= set(site.issues) for x in site.links.values())
    assert live.jira.get("/_sandbox/state").status_code == 200
