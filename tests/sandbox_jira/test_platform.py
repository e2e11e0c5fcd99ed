"""Projects, reference data, issues and comments (§3.1, §4, V6, V7, V9, V12, V13)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from sandbox.jira.adf import V7_DOCUMENT
from sandbox.jira.app import create_app
from sandbox.jira.generator import MAIN_EMAIL, MAIN_TOKEN, GeneratorConfig, generate
from sandbox.jira.model import RANK_TYPE, SPRINT_TYPE, STORY_POINTS_TYPE, Site
from sandbox.jira.state import Sandbox
from tests.sandbox_jira.conftest import basic
from tests.support import UvicornThread


@pytest.fixture(scope="module")
def many_projects() -> Iterator[httpx.Client]:
    site = generate(GeneratorConfig(seed=3, projects=130, issues_per_project=0, epics_per_project=0))
    with (
        UvicornThread(create_app(Sandbox(site))) as server,
        httpx.Client(base_url=server.url, headers={"Authorization": basic(MAIN_EMAIL, MAIN_TOKEN)}) as client,
    ):
        yield client


def test_v6_project_pages_cap_max_results_at_100(many_projects: httpx.Client) -> None:
    first = many_projects.get("/rest/api/3/project/search", params={"startAt": 0, "maxResults": 200}).json()
    assert (first["maxResults"], len(first["values"]), first["total"], first["isLast"]) == (100, 100, 130, False)
    assert "nextPage" in first
    second = many_projects.get("/rest/api/3/project/search", params={"startAt": 100, "maxResults": 200}).json()
    assert (len(second["values"]), second["isLast"]) == (30, True)
    assert "nextPage" not in second
    keys = [p["key"] for p in first["values"] + second["values"]]
    assert len(set(keys)) == 130


def test_archived_projects_only_on_request_and_restricted_never(jira: httpx.Client, site: Site) -> None:
    live = jira.get("/rest/api/3/project/search").json()["values"]
    assert {p["key"] for p in live} == {"PROJ", "OPS", "WEB"}
    assert all(isinstance(p["id"], str) for p in live)
    archived = jira.get("/rest/api/3/project/search", params={"status": "archived"}).json()["values"]
    assert [p["key"] for p in archived] == ["OLD"]
    assert archived[0]["archived"] is True
    both = jira.get("/rest/api/3/project/search", params={"status": "live,archived"}).json()
    assert both["total"] == 4


def test_a_query_that_finds_no_project_is_404(jira: httpx.Client) -> None:
    assert jira.get("/rest/api/3/project/search", params={"query": "zzz-none"}).status_code == 404


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/rest/api/3/issue/NOPE-1", "Issue does not exist or you do not have permission to see it."),
        ("/rest/api/3/issue/SEC-1", "Issue does not exist or you do not have permission to see it."),
        ("/rest/api/3/issue/OLD-1/comment", "Issue does not exist or you do not have permission to see it."),
        ("/rest/api/3/project/SEC/component", "No project could be found with key 'SEC'."),
        ("/rest/api/3/project/NOPEZZQ/version", "No project could be found with key 'NOPEZZQ'."),
    ],
)
def test_v12_missing_and_invisible_are_the_same_404(jira: httpx.Client, path: str, message: str) -> None:
    response = jira.get(path)
    assert response.status_code == 404
    assert response.json() == {"errorMessages": [message], "errors": {}}


def test_the_restricted_project_is_visible_to_its_member(jira_url: str) -> None:
    from sandbox.jira.generator import OTHER_EMAIL, OTHER_TOKEN

    with httpx.Client(base_url=jira_url, headers={"Authorization": basic(OTHER_EMAIL, OTHER_TOKEN)}) as jane:
        assert jane.get("/rest/api/3/issue/SEC-1").status_code == 200


def test_unknown_paths_are_problem_json(jira: httpx.Client) -> None:
    response = jira.get("/rest/api/3/issue/PUB-1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["detail"] == "No endpoint GET /rest/api/3/issue/PUB-1/no-such-thing."


def test_hidden_emails_are_absent_for_others(jira: httpx.Client, site: Site) -> None:
    issues = jira.get(
        "/rest/api/3/search/jql",
        params={"jql": "project in (PROJ, OPS, WEB)", "fields": "assignee,reporter,creator", "maxResults": 500},
    ).json()["issues"]
    people = {p["accountId"]: p for i in issues for p in i["fields"].values() if p}
    hidden = [a for a in people if not site.users[a].email_visible]
    shown = [a for a in people if site.users[a].email_visible]
    assert hidden
    assert shown
    assert all("emailAddress" not in people[a] for a in hidden)
    assert all(people[a]["emailAddress"] == site.users[a].email for a in shown)


def test_reference_data_issue_types_statuses_fields(jira: httpx.Client, site: Site) -> None:
    levels = {t["name"]: t["hierarchyLevel"] for t in jira.get("/rest/api/3/issuetype").json()}
    assert (levels["Epic"], levels["Task"], levels["Subtask"]) == (1, 0, -1)
    categories = {s["statusCategory"]["key"] for s in jira.get("/rest/api/3/status").json()}
    assert categories == {"new", "indeterminate", "done"}
    assert [p["name"] for p in jira.get("/rest/api/3/priority").json()][:2] == ["Highest", "High"]
    by_type = {f["schema"].get("custom"): f["id"] for f in jira.get("/rest/api/3/field").json() if f["custom"]}
    assert by_type[STORY_POINTS_TYPE] == site.story_points_field
    assert by_type[SPRINT_TYPE] == site.sprint_field
    assert by_type[RANK_TYPE] == site.rank_field
    other = generate(GeneratorConfig(seed=12))
    assert (other.story_points_field, other.sprint_field) != (site.story_points_field, site.sprint_field)


def issue(jira: httpx.Client, key: str) -> dict[str, Any]:
    body: dict[str, Any] = jira.get(f"/rest/api/3/issue/{key}").json()
    return body


def test_parent_chains_run_epic_issue_subtask(jira: httpx.Client, site: Site) -> None:
    subtask = next(
        i for i in site.issues.values() if i.type_id == "10004" and site.projects[i.project_id].key == "PROJ"
    )
    child = issue(jira, subtask.key)
    assert child["fields"]["issuetype"]["hierarchyLevel"] == -1
    parent = issue(jira, child["fields"]["parent"]["key"])
    assert parent["fields"]["issuetype"]["hierarchyLevel"] == 0
    assert subtask.id in [s["id"] for s in parent["fields"]["subtasks"]]
    epic = issue(jira, parent["fields"]["parent"]["key"])
    assert epic["fields"]["issuetype"]["hierarchyLevel"] == 1
    assert epic["fields"]["parent"] is None


def test_v7_descriptions_and_comments_are_adf_documents(jira: httpx.Client, site: Site) -> None:
    first = min(site.issues.values(), key=lambda i: int(i.id))
    assert issue(jira, first.id)["fields"]["description"] == V7_DOCUMENT
    comments = jira.get(f"/rest/api/3/issue/{first.key}/comment").json()["comments"]
    assert V7_DOCUMENT in [c["body"] for c in comments]
    assert all(c["body"]["type"] == "doc" for c in comments)


def test_v13_times_carry_a_colonless_offset_that_means_the_stored_instant(jira: httpx.Client, site: Site) -> None:
    first = min(site.issues.values(), key=lambda i: int(i.id))
    created = issue(jira, first.key)["fields"]["created"]
    assert created.endswith("-0700")
    parsed = datetime.strptime(created, "%Y-%m-%dT%H:%M:%S.%f%z")
    assert int(parsed.timestamp() * 1000) == first.created_ms
    v13 = datetime.strptime("2022-06-09T16:29:31.871-0700", "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC)
    assert v13.isoformat(timespec="milliseconds") == "2022-06-09T23:29:31.871+00:00"


def test_v9_both_ends_list_a_link_under_one_id(jira: httpx.Client, site: Site) -> None:
    blocks = next(
        link
        for link in site.links.values()
        if link.type_id == "10000"
        and all(
            site.can_browse(site.api_tokens[MAIN_TOKEN], site.projects[site.issues[x].project_id])
            for x in (link.outward_from, link.inward_to)
        )
    )
    source = issue(jira, blocks.outward_from)["fields"]["issuelinks"]
    target = issue(jira, blocks.inward_to)["fields"]["issuelinks"]
    out = next(x for x in source if x["id"] == blocks.id)
    back = next(x for x in target if x["id"] == blocks.id)
    assert out["type"]["name"] == "Blocks"
    assert out["outwardIssue"]["id"] == blocks.inward_to
    assert back["inwardIssue"]["id"] == blocks.outward_from
    assert "inwardIssue" not in out


def test_links_to_invisible_issues_are_left_out(jira: httpx.Client, site: Site) -> None:
    main = site.api_tokens[MAIN_TOKEN]
    hidden = {i.id for i in site.issues.values() if not site.can_browse(main, site.projects[i.project_id])}
    crossing = [x for x in site.links.values() if (x.outward_from in hidden) != (x.inward_to in hidden)]
    assert crossing, "the generator must link into the restricted project"
    for link in crossing:
        seen = link.inward_to if link.outward_from in hidden else link.outward_from
        assert link.id not in [x["id"] for x in issue(jira, seen)["fields"]["issuelinks"]]


def test_comment_pages_cap_at_100_and_hide_restricted_comments(jira: httpx.Client, site: Site) -> None:
    busy = max(site.issues.values(), key=lambda i: sum(1 for c in site.comments.values() if c.issue_id == i.id))
    first = jira.get(f"/rest/api/3/issue/{busy.key}/comment", params={"maxResults": 500}).json()
    assert set(first) == {"startAt", "maxResults", "total", "comments"}
    assert (first["maxResults"], len(first["comments"]), first["total"]) == (100, 100, 105)
    rest = jira.get(f"/rest/api/3/issue/{busy.key}/comment", params={"startAt": 100}).json()
    assert len(rest["comments"]) == 5
    newest = jira.get(f"/rest/api/3/issue/{busy.key}/comment", params={"orderBy": "-created"}).json()["comments"]
    assert newest[0]["id"] == rest["comments"][-1]["id"]
    first_issue = min(site.issues.values(), key=lambda i: int(i.id))
    shown = jira.get(f"/rest/api/3/issue/{first_issue.key}/comment").json()["comments"]
    assert [c["visibility"]["value"] for c in shown if "visibility" in c] == ["Administrators"]  # not "Developers"


def test_comment_order_and_number_errors(jira: httpx.Client) -> None:
    wrong = jira.get("/rest/api/3/issue/PROJ-1/comment", params={"orderBy": "author"})
    assert wrong.status_code == 400
    assert wrong.json()["errorMessages"] == [
        "The field to order by should be one of [created]. Instead, it was: author."
    ]
    bad = jira.get("/rest/api/3/issue/PROJ-1/comment", params={"maxResults": "x"})
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["detail"] == "Failed to convert 'maxResults' with value: 'x'"


def test_components_and_versions_pages_and_arrays(jira: httpx.Client) -> None:
    page = jira.get("/rest/api/3/project/PROJ/component").json()
    assert page["isLast"] is True
    assert {c["name"] for c in page["values"]} == {"Backend", "Frontend", "Infra"}
    assert all(isinstance(c["projectId"], int) and isinstance(c["id"], str) for c in page["values"])
    assert all("issueCount" in c for c in page["values"])
    assert isinstance(jira.get("/rest/api/3/project/PROJ/components").json(), list)
    versions = jira.get("/rest/api/3/project/PROJ/version", params={"maxResults": 2}).json()
    assert (len(versions["values"]), versions["total"], versions["isLast"]) == (2, 3, False)
    released = jira.get("/rest/api/3/project/PROJ/versions").json()
    assert {v["name"]: v["released"] for v in released} == {"0.9": True, "1.0": True, "1.1": False}


def test_a_link_reads_by_id_and_a_missing_one_is_404(jira: httpx.Client, site: Site) -> None:
    link = next(iter(site.links.values()))
    body = jira.get(f"/rest/api/3/issueLink/{link.id}").json()
    assert (body["inwardIssue"]["id"], body["outwardIssue"]["id"]) == (link.outward_from, link.inward_to)
    missing = jira.get("/rest/api/3/issueLink/99999999")
    assert missing.status_code == 404
    assert missing.json() == {"errorMessages": ["No issue link with id '99999999' exists."], "errors": {}}


def test_labels_are_case_sensitive_strings(jira: httpx.Client) -> None:
    page = jira.get("/rest/api/3/label").json()
    assert page["maxResults"] == 1000
    assert {"backend", "Backend"} <= set(page["values"])
    assert all(isinstance(label, str) for label in page["values"])


def test_account_ids_take_the_two_opaque_forms(jira: httpx.Client, site: Site) -> None:
    import re

    pattern = re.compile(r"^(557058:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{24})$")
    assert all(pattern.match(account_id) for account_id in site.users)
    forms = {account_id.startswith("557058:") for account_id in site.users}
    assert forms == {True, False}
    assert {u.account_type for u in site.users.values()} >= {"atlassian", "app"}


def test_one_version_component_and_comment_by_id_and_404_when_not_visible(
    jira: httpx.Client, anonymous: httpx.Client, site: Site
) -> None:
    version = next(iter(site.versions.values()))
    got = jira.get(f"/rest/api/3/version/{version.id}").json()
    assert (got["id"], got["name"], got["projectId"]) == (version.id, version.name, int(version.project_id))
    assert anonymous.get(f"/rest/api/3/version/{version.id}").status_code == 404
    assert jira.get("/rest/api/3/version/99999999").status_code == 404
    component = next(iter(site.components.values()))
    assert jira.get(f"/rest/api/3/component/{component.id}").json()["name"] == component.name
    assert jira.get("/rest/api/3/component/99999999").status_code == 404
    viewer = site.users[site.api_tokens[MAIN_TOKEN]]
    browsable = {i.id for i in site.issues.values() if site.can_browse(viewer.account_id, site.projects[i.project_id])}
    comments = [c for c in site.comments.values() if c.issue_id in browsable]
    open_one = next(c for c in comments if c.visibility is None)
    assert jira.get(f"/rest/api/3/issue/{open_one.issue_id}/comment/{open_one.id}").json()["id"] == open_one.id
    hidden = next((c for c in comments if c.visibility and c.visibility not in viewer.groups), None)
    if hidden is not None:
        assert jira.get(f"/rest/api/3/issue/{hidden.issue_id}/comment/{hidden.id}").status_code == 404
    assert jira.get(f"/rest/api/3/issue/{open_one.issue_id}/comment/99999999").status_code == 404
