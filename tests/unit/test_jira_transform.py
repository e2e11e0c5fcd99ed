"""Jira JSON → rows: field-level checks against the facts' shapes and vectors (V7, V9, V13)."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Any

import pytest

from graph.batch import prepare
from graph.rows import EdgeRow, NodeRow, Rows
from server.integrations.jira import transform
from server.integrations.jira.schema import SCHEMA
from server.integrations.jira.transform import SiteFields

CLOUD = "1324a887-45db-1bf4-1e99-ef0ff456d421"
FIELDS = SiteFields(story_points="customfield_10016", rank="customfield_10019", sprint="customfield_10020")
JANE: dict[str, Any] = {
    "accountId": "5fc9e78d2730d800760becc4",
    "emailAddress": "jane@example.com",
    "displayName": "Jane Doe",
    "active": True,
    "timeZone": "Europe/Berlin",
    "accountType": "atlassian",
}
HIDDEN: dict[str, Any] = {
    "accountId": "557058:8b6b268b-0000",
    "displayName": "Robin",
    "active": True,
    "accountType": "atlassian",
}

# The facts' trimmed v3 issue (§4.3), with a rank added.
ISSUE: dict[str, Any] = {
    "id": "10042",
    "key": "PROJ-7",
    "self": "https://example.atlassian.net/rest/api/3/issue/10042",
    "fields": {
        "summary": "Fix login",
        "statuscategorychangedate": "2026-01-05T09:12:44.120+0100",
        "issuetype": {"id": "10002", "name": "Task", "subtask": False, "hierarchyLevel": 0},
        "project": {"id": "10000", "key": "PROJ", "name": "Project", "projectTypeKey": "software"},
        "parent": {"id": "10040", "key": "PROJ-5", "fields": {"issuetype": {"name": "Epic", "hierarchyLevel": 1}}},
        "status": {
            "id": "3",
            "name": "In Progress",
            "statusCategory": {"id": 4, "key": "indeterminate", "colorName": "yellow", "name": "In Progress"},
        },
        "priority": {"id": "3", "name": "Medium"},
        "assignee": JANE,
        "reporter": HIDDEN,
        "creator": JANE,
        "labels": ["backend"],
        "components": [{"id": "10000", "name": "Backend"}],
        "fixVersions": [{"id": "10001", "name": "1.0", "archived": False, "released": False}],
        "versions": [],
        "description": {
            "type": "doc",
            "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Users cannot log in."}]}],
        },
        "created": "2026-01-05T09:12:44.120+0100",
        "updated": "2026-01-06T17:03:10.004+0100",
        "duedate": "2026-01-31",
        "resolution": None,
        "resolutiondate": None,
        "issuelinks": [
            {
                "id": "10200",
                "type": {"id": "10000", "name": "Blocks", "inward": "is blocked by", "outward": "blocks"},
                "outwardIssue": {"id": "10050", "key": "PROJ-12"},
            }
        ],
        "customfield_10020": [
            {
                "id": 2,
                "name": "PROJ Sprint 1",
                "state": "active",
                "boardId": 1,
                "goal": "…",
                "startDate": "2026-01-05T08:00:00.000Z",
                "endDate": "2026-01-19T08:00:00.000Z",
            },
        ],
        "customfield_10016": 3.0,
        "customfield_10019": "0|i0077b:",
    },
}


def node(rows: Rows, label: str, external_id: str) -> NodeRow:
    found = [n for n in rows.nodes if n.label == label and n.external_id == external_id and not n.reference]
    assert len(found) == 1, (label, external_id, rows.nodes)
    return found[0]


def edges(rows: Rows, edge_type: str) -> list[EdgeRow]:
    return [e for e in rows.edges if e.type == edge_type]


def test_issue_properties_follow_the_contract() -> None:
    rows = transform.issue(ISSUE, CLOUD, FIELDS)
    issue = node(rows, "Issue", "10042")
    assert issue.workspace_id == CLOUD
    assert issue.props == {
        "key": "PROJ-7",
        "name": "Fix login",
        "description": "Users cannot log in.",
        "status": "In Progress",
        "statusCategory": "indeterminate",
        "statusType": "custom",
        "issueType": "Task",
        "hierarchyLevel": 0,
        "priority": "Medium",
        "storyPoints": 3.0,
        "rank": "0|i0077b:",
        "dueDate": date(2026, 1, 31),
        "createdAt": datetime(2026, 1, 5, 8, 12, 44, 120000, tzinfo=UTC),
        "updatedAt": datetime(2026, 1, 6, 16, 3, 10, 4000, tzinfo=UTC),
        "resolvedAt": None,
        "sourceUpdatedAt": datetime(2026, 1, 6, 16, 3, 10, 4000, tzinfo=UTC),
    }
    assert issue.source_updated_at == issue.props["updatedAt"]
    assert rows.issues == {}


def test_issue_relationships() -> None:
    rows = transform.issue(ISSUE, CLOUD, FIELDS)
    got = {(e.type, e.from_label, e.from_id, e.to_label, e.to_id, e.owner_is_from) for e in rows.edges}
    assert got == {
        ("CONTAINS", "JiraProject", "10000", "Issue", "10042", False),
        ("SUBTASK_OF", "Issue", "10042", "Issue", "10040", True),
        ("ASSIGNED_TO", "Issue", "10042", "Person", JANE["accountId"], True),
        ("CREATED_BY", "Issue", "10042", "Person", JANE["accountId"], True),
        ("REPORTED_BY", "Issue", "10042", "Person", HIDDEN["accountId"], True),
        ("TAGGED", "Issue", "10042", "Tag", f"{CLOUD}:backend", True),
        ("IN_COMPONENT", "Issue", "10042", "Component", "10000", True),
        ("FIX_VERSION", "Issue", "10042", "Version", "10001", True),
        ("IN_SPRINT", "Issue", "10042", "Sprint", "2", True),
        ("DEPENDS_ON", "Issue", "10050", "Issue", "10042", False),
    }
    assert node(rows, "Tag", f"{CLOUD}:backend").props == {"name": "backend"}
    # Thin references for what the issue only mentions: they never overwrite the full record.
    refs = {(n.label, n.external_id) for n in rows.nodes if n.reference}
    assert refs == {
        ("Person", JANE["accountId"]),
        ("Person", HIDDEN["accountId"]),
        ("Component", "10000"),
        ("Version", "10001"),
        ("Sprint", "2"),
    }
    prepare(rows, SCHEMA, "run-1", datetime.now(UTC))  # every kind and edge end is declared


@pytest.mark.parametrize(
    ("category", "status_type"),
    [("new", "open"), ("indeterminate", "custom"), ("done", "closed"), ("undefined", None), (None, None)],
)
def test_status_type_is_mapped_from_the_category_key(category: str | None, status_type: str | None) -> None:
    item = copy.deepcopy(ISSUE)
    # localised names ("New") must not matter: the key decides
    item["fields"]["status"] = {"name": "Whatever", "statusCategory": {"key": category, "name": "New"}}
    props = node(transform.issue(item, CLOUD), "Issue", "10042").props
    assert (props["statusCategory"], props["statusType"]) == (category, status_type)


def test_v9_one_edge_per_link_from_both_sides() -> None:
    blocker = copy.deepcopy(ISSUE)  # PROJ-7 (10042) blocks PROJ-12 (10050)
    blocked = {
        "id": "10050",
        "key": "PROJ-12",
        "fields": {
            "updated": "2026-01-06T17:03:10.004+0100",
            "issuelinks": [
                {
                    "id": "10200",
                    "type": {"id": "10000", "name": "Blocks", "inward": "is blocked by", "outward": "blocks"},
                    "inwardIssue": {"id": "10042"},
                }
            ],
        },
    }
    rows = transform.issue(blocker, CLOUD, FIELDS)
    rows.extend(transform.issue(blocked, CLOUD, FIELDS))
    assert edges(rows, "DEPENDS_ON") == [
        EdgeRow(
            "DEPENDS_ON",
            "Issue",
            "10050",
            "Issue",
            "10042",
            owner_is_from=False,
            props=(("linkId", "10200"),),
            key="10200",
        )
    ]


def test_other_link_types_go_outward_to_inward_with_their_names() -> None:
    item = copy.deepcopy(ISSUE)
    relates = {"id": "10300", "name": "Relates", "inward": "relates to", "outward": "relates to"}
    dup = {"id": "10002", "name": "Duplicate", "inward": "is duplicated by", "outward": "duplicates"}
    item["fields"]["issuelinks"] = [
        {"id": 10301, "type": relates, "outwardIssue": {"id": 10060}},  # webhook-style numbers
        {"id": "10302", "type": dup, "inwardIssue": {"id": "10061"}},  # owned by 10061
        {"id": "10303", "type": dup, "outwardIssue": {"key": "PROJ-3"}},  # no id: counted
        "junk",
    ]
    rows = transform.issue(item, CLOUD)
    assert edges(rows, "LINKED_TO") == [
        EdgeRow(
            "LINKED_TO",
            "Issue",
            "10042",
            "Issue",
            "10060",
            props=(("linkId", "10301"), ("type", "Relates"), ("outward", "relates to"), ("inward", "relates to")),
            key="10301",
        )
    ]
    assert edges(rows, "DEPENDS_ON") == []
    assert rows.issues["malformed_link"] == 2


def test_parent_chain_subtask_issue_epic() -> None:
    epic = {"id": "10040", "fields": {"issuetype": {"name": "Epic", "hierarchyLevel": 1}, "summary": "Login epic"}}
    subtask = {
        "id": "10043",
        "fields": {"issuetype": {"name": "Sub-task", "subtask": True, "hierarchyLevel": -1}, "parent": {"id": "10042"}},
    }
    rows = Rows()
    for item in (epic, ISSUE, subtask):
        rows.extend(transform.issue(item, CLOUD, FIELDS))
    chain = {(e.from_id, e.to_id) for e in edges(rows, "SUBTASK_OF")}
    assert chain == {("10043", "10042"), ("10042", "10040")}
    assert node(rows, "Issue", "10040").props["hierarchyLevel"] == 1
    assert node(rows, "Issue", "10043").props["hierarchyLevel"] == -1


def test_hidden_email_and_people() -> None:
    visible = node(transform.person(JANE), "Person", JANE["accountId"])
    assert visible.props == {
        "name": "Jane Doe",
        "email": "jane@example.com",
        "accountType": "atlassian",
        "active": True,
    }
    assert visible.workspace_id is None
    hidden = node(transform.person({**HIDDEN, "emailAddress": None}), "Person", HIDDEN["accountId"])
    assert hidden.props["email"] is None
    assert node(transform.person({**HIDDEN, "emailAddress": ""}), "Person", HIDDEN["accountId"]).props["email"] is None
    assert transform.person({"displayName": "no id"}).issues["malformed_person"] == 1
    assert transform.person(None).nodes == []


def test_v13_and_bad_values_are_counted_not_fatal() -> None:
    item = {
        "id": 10001,
        "key": "PROJ-1",
        "fields": {
            "created": "2022-06-09T16:29:31.871-0700",
            "updated": "not a time",
            "duedate": "31/01/2026",
            "status": "Open",
            "issuetype": {"hierarchyLevel": True},
            "labels": ["a", "", 3, "a b"],
            "customfield_10016": "three",
            "customfield_10020": [
                "com.atlassian.greenhopper.service.sprint.Sprint@1f[id=197,rapidViewId=9,state=ACTIVE]"
            ],
        },
    }
    rows = transform.issue(item, CLOUD, FIELDS)
    props = node(rows, "Issue", "10001").props
    assert props["createdAt"] == datetime(2022, 6, 9, 23, 29, 31, 871000, tzinfo=UTC)
    assert props["updatedAt"] is None
    assert props["dueDate"] is None
    assert props["status"] is None
    assert props["hierarchyLevel"] is None
    assert props["storyPoints"] is None
    assert props["description"] is None
    assert {e.to_id for e in edges(rows, "TAGGED")} == {f"{CLOUD}:a", f"{CLOUD}:a b"}
    assert {e.to_id for e in edges(rows, "IN_SPRINT")} == {"197"}
    assert rows.issues["malformed_values"] == 3
    assert rows.issues["malformed_status"] == 1
    assert transform.issue({"key": "no id"}, CLOUD).issues["skipped_records"] == 1


def test_agile_issue_sprint_fields() -> None:
    item = {"id": "1", "fields": {"sprint": {"id": 5, "state": "active"}, "closedSprints": [{"id": 3}, {"id": 4}]}}
    assert [e.to_id for e in edges(transform.issue(item, CLOUD), "IN_SPRINT")] == ["5", "3", "4"]


def test_containers() -> None:
    project = transform.project(
        {"id": "10000", "key": "PROJ", "name": "Project", "projectTypeKey": "software", "archived": True}, CLOUD
    )
    assert node(project, "JiraProject", "10000").props == {
        "key": "PROJ",
        "name": "Project",
        "projectTypeKey": "software",
        "archived": True,
    }
    assert project.edges == [EdgeRow("CONTAINS", "Site", CLOUD, "JiraProject", "10000", owner_is_from=False)]
    site = transform.site(CLOUD, "your-domain", "https://your-domain.atlassian.net")
    assert node(site, "Site", CLOUD).props == {"name": "your-domain", "url": "https://your-domain.atlassian.net"}

    comp = transform.component({"id": "10000", "name": "Backend", "projectId": 10000}, CLOUD)
    assert comp.edges == [EdgeRow("CONTAINS", "JiraProject", "10000", "Component", "10000", owner_is_from=False)]
    version = transform.version(
        {
            "id": "10000",
            "name": "1.0",
            "archived": False,
            "released": True,
            "startDate": "2026-01-01",
            "releaseDate": "2026-02-01",
            "projectId": 10000,
        },
        CLOUD,
    )
    assert node(version, "Version", "10000").props["releaseDate"] == date(2026, 2, 1)
    assert node(version, "Version", "10000").props["released"] is True
    assert version.edges[0].from_id == "10000"

    board = transform.board({"id": 84, "name": "scrum board", "type": "scrum", "location": {"projectId": 10040}}, CLOUD)
    assert node(board, "Board", "84").props == {"name": "scrum board", "type": "scrum"}
    assert board.edges == [EdgeRow("SHOWS", "Board", "84", "JiraProject", "10040")]
    spanning = transform.board({"id": 9, "name": "b", "type": "kanban"}, CLOUD, ["10000", "10001", "10000"])
    assert [e.to_id for e in spanning.edges] == ["10000", "10001"]


def test_sprints_are_deduped_and_owned_by_the_origin_board() -> None:
    listed = [
        {
            "id": 37,
            "state": "closed",
            "name": "sprint 1",
            "startDate": "2015-04-11T15:22:00.000+10:00",
            "originBoardId": 5,
            "goal": "g",
        },
        {"id": 37, "state": "closed", "name": "sprint 1", "originBoardId": 5},  # seen again on board 6
        {"id": 38, "state": "future", "name": "sprint 2", "originBoardId": 6},
    ]
    rows = transform.sprints(listed, CLOUD)
    assert [n.external_id for n in rows.nodes] == ["37", "38"]
    assert node(rows, "Sprint", "37").props["startDate"] == datetime(2015, 4, 11, 5, 22, tzinfo=UTC)
    assert node(rows, "Sprint", "38").props["startDate"] is None
    assert {(e.from_id, e.to_id) for e in rows.edges} == {("5", "37"), ("6", "38")}
    assert all(e.type == "CONTAINS" and not e.owner_is_from for e in rows.edges)


def test_comment_text_and_author() -> None:
    body = {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "LGTM"}]}],
    }
    item = {
        "id": "10000",
        "author": JANE,
        "body": body,
        "created": "2021-01-17T12:34:00.000+0000",
        "updated": "2021-01-17T12:35:00.000+0000",
    }
    rows = transform.comment(item, "10042", CLOUD)
    props = node(rows, "Comment", "10000").props
    assert props["text"] == "LGTM"
    assert props["createdAt"] == datetime(2021, 1, 17, 12, 34, tzinfo=UTC)
    assert props["updatedAt"] == datetime(2021, 1, 17, 12, 35, tzinfo=UTC)
    assert {(e.type, e.to_id) for e in rows.edges} == {("ON", "10042"), ("AUTHORED_BY", JANE["accountId"])}
    wiki = transform.comment(
        {"id": "19259", "body": "i am making a comment\n\n{noformat}with code{noformat}"}, "1", CLOUD
    )
    assert node(wiki, "Comment", "19259").props["text"] == "i am making a comment\n\n{noformat}with code{noformat}"


def test_discover_fields_by_schema_custom() -> None:
    fields = [
        {"id": "customfield_10020", "name": "Sprint", "schema": {"type": "array", "custom": transform.SPRINT_TYPE}},
        {"id": "customfield_10019", "name": "Rank", "schema": {"type": "any", "custom": transform.RANK_TYPE}},
        {
            "id": "customfield_10030",
            "name": "Story Points",
            "schema": {"type": "number", "custom": transform.FLOAT_TYPE},
        },
        {
            "id": "customfield_10016",
            "name": "Story point estimate",
            "schema": {"type": "number", "custom": transform.STORY_POINTS_TYPE},
        },
        {"id": "summary", "name": "Summary", "schema": {"type": "string", "system": "summary"}},
        "junk",
    ]
    assert transform.discover_fields(fields) == SiteFields(
        "customfield_10016", "customfield_10019", "customfield_10020"
    )
    assert transform.discover_fields(fields[2:3]).story_points == "customfield_10030"
    assert transform.discover_fields(fields, "customfield_10002").story_points == "customfield_10002"
    assert transform.discover_fields(None) == SiteFields()


@pytest.mark.parametrize(
    ("item", "left", "joined"),
    [
        ({"field": "Sprint", "fieldId": "customfield_10107", "from": "", "to": "197", "toString": "TES Sprint 3"},
         [], ["197"]),
        ({"from": "196, 197", "to": "197,198,"}, ["196"], ["198"]),
        ({"from": None, "to": None}, [], []),
        ({"from": 5, "to": "5"}, [], []),
        ("junk", [], []),
    ],
)  # fmt: skip
def test_v10_sprint_changelog(item: Any, left: list[str], joined: list[str]) -> None:
    assert transform.sprint_change(item) == (left, joined)


@pytest.mark.parametrize("junk", [None, "x", 3, ["a"]])
def test_records_that_are_not_objects_are_counted(junk: Any) -> None:
    for rows in (
        transform.project(junk, CLOUD),
        transform.component(junk, CLOUD),
        transform.version(junk, CLOUD),
        transform.board(junk, CLOUD),
        transform.sprint(junk, CLOUD),
        transform.sprints([junk], CLOUD),
        transform.issue(junk, CLOUD),
        transform.comment(junk, "1", CLOUD),
    ):
        assert (rows.nodes, rows.edges, rows.issues["skipped_records"]) == ([], [], 1)
