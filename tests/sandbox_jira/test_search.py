"""``/search/jql`` (§3.2, V5, V12): token pages, bounded JQL, fields, and the removed ``/search``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.jira.model import Site
from sandbox.jira.state import Sandbox
from tests.sandbox_jira.conftest import FakeClock

REMOVED = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)
UNBOUNDED = "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."


def project_ids(site: Site, key: str) -> list[str]:
    project = next(p for p in site.projects.values() if p.key == key)
    return sorted((i.id for i in site.issues.values() if i.project_id == project.id), key=int)


def walk(jira: httpx.Client, params: dict[str, Any], post: bool = False) -> list[dict[str, Any]]:
    issues: list[dict[str, Any]] = []
    token: str | None = None
    for _ in range(1000):
        if post:
            body = jira.post("/rest/api/3/search/jql", json={**params, "nextPageToken": token}).json()
        else:
            extra = {"nextPageToken": token} if token else {}
            body = jira.get("/rest/api/3/search/jql", params={**params, **extra}).json()
        assert "total" not in body
        assert "startAt" not in body
        issues.extend(body["issues"])
        if body["isLast"]:
            assert "nextPageToken" not in body
            return issues
        token = body["nextPageToken"]
    raise AssertionError("the pages never ended")


def test_v5_token_pages_walk_every_issue_once_in_id_order(jira: httpx.Client, site: Site) -> None:
    params: dict[str, Any] = {"jql": "project = PROJ ORDER BY id ASC", "fields": "summary,updated", "maxResults": 2}
    first = jira.get("/rest/api/3/search/jql", params=params).json()
    assert len(first["issues"]) == 2
    assert first["isLast"] is False
    assert isinstance(first["nextPageToken"], str)
    issues = walk(jira, params)
    assert [i["id"] for i in issues] == project_ids(site, "PROJ")
    assert set(issues[0]["fields"]) == {"summary", "updated"}


def test_post_walks_the_same_pages_and_key_order_and_in_lists_work(jira: httpx.Client, site: Site) -> None:
    by_post = walk(
        jira, {"jql": "project in (PROJ, ops) ORDER BY key DESC", "fields": ["summary"], "maxResults": 7}, True
    )
    expected = sorted(
        (i for i in site.issues.values() if site.projects[i.project_id].key in ("PROJ", "OPS")),
        key=lambda i: (i.key.split("-")[0], int(i.key.split("-")[1])),
        reverse=True,
    )
    assert [i["key"] for i in by_post] == [i.key for i in expected]


def test_default_fields_are_ids_only(jira: httpx.Client) -> None:
    body = jira.get("/rest/api/3/search/jql", params={"jql": "project = PROJ", "maxResults": 3}).json()
    assert [set(issue) for issue in body["issues"]] == [{"id"}] * 3


def test_fields_lists_exclusions_and_custom_ids(jira: httpx.Client, site: Site) -> None:
    params: dict[str, Any] = {
        "jql": "project = PROJ",
        "fields": f"*navigable,-description,{site.story_points_field}",
        "maxResults": 1,
    }
    fields = jira.get("/rest/api/3/search/jql", params=params).json()["issues"][0]["fields"]
    assert "description" not in fields
    assert "comment" not in fields  # not navigable
    assert {"summary", "status", "parent", site.sprint_field, site.story_points_field} <= set(fields)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"jql": "ORDER BY id"}, UNBOUNDED),
        ({"jql": ""}, UNBOUNDED),
        ({"jql": "project = PROJ ORDER BY"}, "Error in the JQL Query: Expecting a field name at the end of the query."),
        ({"jql": "project = PROJ", "maxResults": 0}, "The max results parameter has to be between 1 and 5,000."),
        ({"jql": "project = PROJ", "maxResults": 6000}, "The max results parameter has to be between 1 and 5,000."),
        ({"jql": "project = PROJ", "nextPageToken": "garbage"}, "The provided next page token is invalid or expired."),
    ],
)
def test_refusals_are_400_error_collections(jira: httpx.Client, params: dict[str, Any], message: str) -> None:
    response = jira.get("/rest/api/3/search/jql", params=params)
    assert response.status_code == 400
    assert response.json() == {"errorMessages": [message], "errors": {}}


def test_a_token_expires_and_is_bound_to_its_query(jira: httpx.Client, jira_clock: FakeClock) -> None:
    params: dict[str, Any] = {"jql": "project = PROJ ORDER BY id", "maxResults": 2}
    token = jira.get("/rest/api/3/search/jql", params=params).json()["nextPageToken"]
    other = jira.get("/rest/api/3/search/jql", params={**params, "jql": "project = OPS", "nextPageToken": token})
    assert other.status_code == 400
    assert jira.get("/rest/api/3/search/jql", params={**params, "nextPageToken": token}).status_code == 200
    jira_clock.now += 7 * 86_400 + 1
    expired = jira.get("/rest/api/3/search/jql", params={**params, "nextPageToken": token})
    assert expired.status_code == 400
    assert expired.json()["errorMessages"] == ["The provided next page token is invalid or expired."]


def test_updated_bound_selects_recent_issues(jira: httpx.Client, site: Site, jira_sandbox: Sandbox) -> None:
    issue = site.issues[project_ids(site, "OPS")[3]]
    changed = jira.patch(f"/_sandbox/issues/{issue.id}", json={"summary": "Edited for the watermark test"}).json()
    assert changed["updatedMs"] == issue.updated_ms
    found = walk(jira, {"jql": 'project = OPS AND updated >= "-1m" ORDER BY updated ASC, id ASC', "fields": "summary"})
    assert [i["id"] for i in found] == [issue.id]
    assert found[0]["fields"]["summary"] == "Edited for the watermark test"
    assert jira_sandbox.now_ms() - issue.updated_ms < 60_000


def test_v12_removed_search_is_410_and_unknown_post_property_is_refused(jira: httpx.Client) -> None:
    for response in (
        jira.get("/rest/api/3/search", params={"jql": "project=PROJ"}),
        jira.post("/rest/api/3/search", json={"jql": "project = PROJ"}),
        jira.get("/rest/api/3/search/id"),
    ):
        assert response.status_code == 410
        assert response.json() == {"errorMessages": [REMOVED], "errors": {}}
    bogus = jira.post("/rest/api/3/search/jql", json={"jql": "project = PROJ", "bogus": 1})
    assert bogus.status_code == 400
    assert bogus.json() == {
        "errorMessages": ["Invalid request payload. Refer to the REST API documentation and try again."]
    }


def test_restricted_and_archived_projects_stay_out_of_search(jira: httpx.Client, site: Site) -> None:
    assert walk(jira, {"jql": "project = SEC"}) == []
    assert walk(jira, {"jql": "project = OLD"}) == []
    everywhere = walk(jira, {"jql": "created >= -3650d", "maxResults": 5000})
    visible = {i.id for i in site.issues.values() if site.projects[i.project_id].key not in ("SEC", "OLD")}
    assert {i["id"] for i in everywhere} == visible


def test_approximate_count_is_post_only(jira: httpx.Client, site: Site) -> None:
    assert jira.post("/rest/api/3/search/approximate-count", json={"jql": "project = PROJ"}).json() == {
        "count": len(project_ids(site, "PROJ"))
    }
    refused = jira.get("/rest/api/3/search/approximate-count")
    assert refused.status_code == 405
    assert refused.headers["Allow"] == "POST"
    assert refused.headers["content-type"].startswith("application/problem+json")


def test_the_index_lags_behind_edits_unless_reconciled(
    jira: httpx.Client, site: Site, jira_sandbox: Sandbox, jira_clock: FakeClock
) -> None:
    issue = site.issues[project_ids(site, "WEB")[5]]
    params: dict[str, Any] = {"jql": "project = WEB AND updated >= -1m", "fields": ["summary"]}
    jira_sandbox.configure({"search_lag_seconds": 30})
    try:
        before = issue.summary
        assert jira.patch(f"/_sandbox/issues/{issue.id}", json={"summary": "Fresh edit"}).status_code == 200
        assert jira.post("/rest/api/3/search/jql", json=params).json()["issues"] == []  # still the old `updated`
        stale = jira.post(
            "/rest/api/3/search/jql", json={"jql": "project = WEB", "fields": ["summary"], "maxResults": 500}
        )
        assert {i["id"]: i["fields"]["summary"] for i in stale.json()["issues"]}[issue.id] == before
        assert jira.get(f"/rest/api/3/issue/{issue.id}").json()["fields"]["summary"] == "Fresh edit"
        reconciled = jira.post("/rest/api/3/search/jql", json={**params, "reconcileIssues": [int(issue.id)]}).json()
        assert [i["fields"]["summary"] for i in reconciled["issues"]] == ["Fresh edit"]
        jira_clock.now += 31
        params["jql"] = "project = WEB AND updated >= -2m"
        assert [i["id"] for i in jira.post("/rest/api/3/search/jql", json=params).json()["issues"]] == [issue.id]
    finally:
        jira_sandbox.configure({"search_lag_seconds": 0})
