"""The admin API: the truth an import is checked against, and deterministic generation."""

from __future__ import annotations

import httpx

from sandbox.jira.app import create_app
from sandbox.jira.generator import MAIN_EMAIL, MAIN_TOKEN, generate
from sandbox.jira.model import Site
from sandbox.jira.state import Sandbox
from tests.sandbox_jira.conftest import CONFIG, basic
from tests.support import UvicornThread


def test_generation_is_deterministic() -> None:
    first, second = generate(CONFIG), generate(CONFIG)
    assert first.cloud_id == second.cloud_id
    assert [vars(i) for i in first.issues.values()] == [vars(i) for i in second.issues.values()]


def test_state_counts_match_what_the_api_serves(jira: httpx.Client, site: Site) -> None:
    truth = jira.get("/_sandbox/state").json()
    assert truth["cloudId"] == site.cloud_id
    assert truth["customFields"]["sprint"] == site.sprint_field
    counts = truth["counts"]
    assert counts["epics"] + counts["standardIssues"] + counts["subtasks"] == counts["issues"]
    assert counts["archivedProjects"] == 1
    assert counts["restrictedProjects"] == 1
    served = jira.post("/rest/api/3/search/approximate-count", json={"jql": "created >= -3650d"}).json()["count"]
    assert served == truth["visibleToMainUser"]["issues"] < counts["issues"]
    assert truth["labels"]["backend"] != truth["labels"].get("Backend")  # labels are case-sensitive


def test_mutating_an_issue_bumps_updated_and_refuses_unknown_fields(jira: httpx.Client, site: Site) -> None:
    before = jira.get("/rest/api/3/issue/WEB-2", params={"fields": "updated,status"}).json()["fields"]
    done = jira.patch("/_sandbox/issues/WEB-2", json={"status": "10002", "labels": ["signal"]})
    assert done.status_code == 200
    after = jira.get("/rest/api/3/issue/WEB-2", params={"fields": "updated,status,labels,resolutiondate"}).json()
    assert after["fields"]["status"]["statusCategory"]["key"] == "done"
    assert after["fields"]["labels"] == ["signal"]
    assert after["fields"]["resolutiondate"] is not None
    assert after["fields"]["updated"] != before["updated"]
    assert jira.patch("/_sandbox/issues/WEB-2", json={"bogus": 1}).status_code == 400
    assert jira.patch("/_sandbox/issues/NOPE-9", json={}).status_code == 404


def test_a_moved_issue_keeps_its_id_and_answers_to_its_old_key() -> None:
    site = generate(CONFIG)  # its own site: a move changes what boards and projects show
    parent = next(
        i
        for i in site.issues.values()
        if site.projects[i.project_id].key == "WEB" and i.type_id != "10000" and site.children(i.id)
    )
    old_key = parent.key
    auth = {"Authorization": basic(MAIN_EMAIL, MAIN_TOKEN)}
    with UvicornThread(create_app(Sandbox(site))) as server, httpx.Client(base_url=server.url, headers=auth) as jira:
        moved = jira.post(f"/_sandbox/issues/{parent.id}/move", json={"project": "PROJ"}).json()
        assert moved["id"] == parent.id
        assert moved["key"].startswith("PROJ-")
        by_old = jira.get(f"/rest/api/3/issue/{old_key.lower()}", params={"fields": "project,subtasks"})
        assert by_old.status_code == 200
        assert by_old.json()["id"] == parent.id
        assert by_old.json()["key"] == moved["key"]
        assert by_old.json()["fields"]["project"]["key"] == "PROJ"
        assert all(s["key"].startswith("PROJ-") for s in by_old.json()["fields"]["subtasks"])
        found = jira.get("/rest/api/3/search/jql", params={"jql": "project = PROJ", "maxResults": 5000}).json()
        assert parent.id in [i["id"] for i in found["issues"]]
