"""Acceptance: a full import of a generated Jira site, checked against the sandbox's own truth.

Every expected value is computed here from the sandbox's in-memory site (``sandbox.jira.model.Site``)
and the Jira facts (jira-api.md), never from the graph or from our transform: the count of every
label and relationship type, then field-level spot checks (ADF text by V7, times by V13, a
subtask → issue → epic chain, both directions of a link, a sprint shown on two boards, hidden
emails). The import asks for comments and archived projects, so the archived project's node is
written while its content, which Jira hides (§7), is not.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import neo4j
import pytest

from integrations.v1 import integration_service_pb2 as pb
from sandbox.jira.adf import V7_DOCUMENT, V7_TEXT
from sandbox.jira.generator import MAIN_EMAIL, MAIN_TOKEN, GeneratorConfig
from sandbox.jira.model import Issue, Site
from sandbox.jira.times import jira_time
from tests.conftest import RunningHub, Tokens
from tests.integration.test_jira_import import configure, import_once
from tests.jira_sites import JiraSite, serving

CONFIG = GeneratorConfig(seed=3, projects=3, issues_per_project=10)
LABELS = ("Site", "JiraProject", "Issue", "Epic", "Person", "Tag", "Component", "Version", "Board", "Sprint", "Comment")


@pytest.fixture(scope="module")
def jira_site() -> Iterator[JiraSite]:
    with serving(CONFIG) as site:
        yield site


# ---------------------------------------------------------------- the truth, from the sandbox's model


@dataclass
class Truth:
    """What the import must write, derived from the site as the main credential sees it."""

    site: Site
    viewer: str
    projects: list[str]  # listed (live and archived, not the restricted one)
    browsable: set[str]  # projects whose content the credential can read (not archived)
    issues: dict[str, Issue]
    comments: list[str]
    boards: list[int]
    shows: dict[int, list[str]]  # board -> imported projects it shows
    sprints: dict[int, list[int]]  # sprint -> imported scrum boards that list it

    def level(self, issue: Issue) -> int:
        return self.site.issue_types[issue.type_id].hierarchy_level

    def link_type(self, type_id: str) -> str:
        return self.site.link_types[type_id].name

    def links(self, blocks: bool) -> list[str]:
        return [
            link.id
            for link in self.site.links.values()
            if {link.outward_from, link.inward_to} <= set(self.issues)
            and (self.link_type(link.type_id) == "Blocks") == blocks
        ]


def truth_of(site: Site) -> Truth:
    viewer = site.api_tokens[MAIN_TOKEN]
    groups = site.users[viewer].groups
    # /project/search?status=live,archived lists what the viewer is a member of; archived content is hidden
    projects = [p.id for p in site.projects.values() if p.members is None or viewer in p.members]
    browsable = {p for p in projects if site.can_browse(viewer, site.projects[p])}
    issues = {i.id: i for i in site.issues.values() if i.project_id in browsable}
    comments = [
        c.id
        for c in site.comments.values()
        if c.issue_id in issues and (c.visibility is None or c.visibility in groups)
    ]
    shows: dict[int, list[str]] = {}
    for board in site.boards.values():
        if not site.can_browse(viewer, site.projects[board.location_project_id]):
            continue
        shown = [p for p in board.project_ids if p in browsable]
        if shown:
            shows[board.id] = shown
    sprints: dict[int, list[int]] = {}
    for board_id in shows:
        board = site.boards[board_id]
        if board.type != "scrum":
            continue
        # a board lists the sprints it owns and every sprint holding an issue of a project it spans
        listed = {s.id for s in site.sprints.values() if s.origin_board_id == board_id}
        listed |= {s for i in site.issues.values() if i.project_id in board.project_ids for s in i.sprint_ids}
        for sprint_id in listed:
            sprints.setdefault(sprint_id, []).append(board_id)
    for issue in issues.values():  # sprints an imported issue is in are written too (as references)
        for sprint_id in issue.sprint_ids:
            sprints.setdefault(sprint_id, [])
    return Truth(site, viewer, projects, browsable, issues, comments, sorted(shows), shows, sprints)


def referenced_people(t: Truth) -> set[str]:
    """Assignees, reporters and creators of imported issues, and authors of the comments imported."""
    people = {a for i in t.issues.values() for a in (i.assignee, i.reporter, i.creator) if a is not None}
    return people | {t.site.comments[c].author for c in t.comments}


def expected_labels(t: Truth) -> dict[str, int]:
    site, issues, people = t.site, list(t.issues.values()), referenced_people(t)
    return {
        "Site": 1,
        "JiraProject": len(t.projects),
        "Issue": len(issues),
        "Epic": sum(1 for i in issues if t.level(i) == 1),
        "Person": len(people),
        "Tag": len({label for i in issues for label in i.labels}),
        "Component": sum(1 for c in site.components.values() if c.project_id in t.browsable),
        "Version": sum(1 for v in site.versions.values() if v.project_id in t.browsable),
        "Board": len(t.boards),
        "Sprint": len(t.sprints),
        "Comment": len(t.comments),
    }


def expected_relationships(t: Truth) -> dict[str, int]:
    site, issues, labels = t.site, list(t.issues.values()), expected_labels(t)
    owned_sprints = sum(1 for s in t.sprints if site.sprints[s].origin_board_id in t.shows)
    return {
        "CONTAINS": labels["JiraProject"] + labels["Issue"] + labels["Component"] + labels["Version"] + owned_sprints,
        "SUBTASK_OF": sum(1 for i in issues if i.parent_id in t.issues),
        "ASSIGNED_TO": sum(1 for i in issues if i.assignee is not None),
        "CREATED_BY": len(issues),
        "REPORTED_BY": len(issues),
        "TAGGED": sum(len(set(i.labels)) for i in issues),
        "IN_COMPONENT": sum(len(set(i.component_ids)) for i in issues),
        "FIX_VERSION": sum(len(set(i.fix_version_ids)) for i in issues),
        "IN_SPRINT": sum(len(set(i.sprint_ids)) for i in issues),
        "DEPENDS_ON": len(t.links(blocks=True)),
        "LINKED_TO": len(t.links(blocks=False)),
        "SHOWS": sum(len(shown) for shown in t.shows.values()),
        "ON": len(t.comments),
        "AUTHORED_BY": len(t.comments),
    }


# ---------------------------------------------------------------- the graph


def rows(driver: neo4j.Driver, query: str, **params: Any) -> list[neo4j.Record]:
    records, _, _ = driver.execute_query(query, params)
    return list(records)


def utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def native(value: Any) -> Any:
    return value.to_native() if hasattr(value, "to_native") else value


async def test_a_generated_site_is_imported_as_its_truth_says(
    hub: RunningHub, tokens: Tokens, tenant: tuple[str, str], jira_site: JiraSite, neo4j_driver: neo4j.Driver
) -> None:
    site = jira_site.sandbox.site
    t = truth_of(site)
    archived = [p for p in t.projects if site.projects[p].archived]
    assert archived, "the site has an archived project to list"
    assert len(t.browsable) == CONFIG.projects
    saved = await configure(hub, tokens.admin, tenant, jira_site, MAIN_TOKEN, include_archived=True)
    assert saved.connection_status == pb.CONNECTION_STATUS_CONNECTED
    job = await import_once(hub, tokens.admin, tenant)
    assert job.state == pb.IMPORT_JOB_STATE_SUCCEEDED, job.error
    p = tenant[1]

    def one(query: str, **params: Any) -> list[neo4j.Record]:
        return rows(neo4j_driver, query, p=p, **params)

    # ------------------------------------------------------------ counts per label and relationship type
    assert one("MATCH (n {projectId: $p, source: 'jira'}) WHERE n.stub RETURN n.externalId") == []
    found = Counter[str]()
    for record in one("MATCH (n {projectId: $p, source: 'jira'}) UNWIND labels(n) AS l RETURN l, count(*) AS n"):
        found[record["l"]] = record["n"]
    expected = expected_labels(t)
    assert {label: found[label] for label in LABELS} == expected
    assert all(expected[label] > 0 for label in LABELS)
    assert (found["Organization"], found["Project"], found["Task"]) == (1, expected["JiraProject"], expected["Issue"])
    assert found["Collection"] == expected["Component"] + expected["Version"] + expected["Sprint"]

    relationships = {
        r["type"]: r["n"]
        for r in one(
            "MATCH (a {projectId: $p, source: 'jira'})-[r]->(b {projectId: $p, source: 'jira'}) "
            "RETURN type(r) AS type, count(r) AS n"
        )
    }
    want = expected_relationships(t)
    assert relationships == want
    assert all(n > 0 for n in want.values())
    by_path = {
        r["path"]: r["n"]
        for r in one(
            "MATCH (a {projectId: $p, source: 'jira'})-[:CONTAINS]->(b {projectId: $p, source: 'jira'}) "
            "RETURN [x IN labels(a) WHERE x IN $kinds][0] + '>' + [x IN labels(b) WHERE x IN $kinds][0] AS path, "
            "count(*) AS n",
            kinds=[label for label in LABELS if label != "Epic"],
        )
    }
    assert by_path == {
        "Site>JiraProject": expected["JiraProject"],
        "JiraProject>Issue": expected["Issue"],
        "JiraProject>Component": expected["Component"],
        "JiraProject>Version": expected["Version"],
        "Board>Sprint": sum(1 for s in t.sprints if site.sprints[s].origin_board_id in t.shows),
    }

    # ------------------------------------------------------------ the archived project: listed, content hidden
    for project_id in archived:
        (record,) = one(
            "MATCH (:Site {projectId: $p, externalId: $cloud})-[:CONTAINS]->(j:JiraProject {projectId: $p, "
            "externalId: $id}) RETURN j.archived AS archived, COUNT { (j)-[:CONTAINS]->() } AS content",
            cloud=site.cloud_id,
            id=project_id,
        )
        assert (record["archived"], record["content"]) == (True, 0)

    # ------------------------------------------------------------ V7: ADF → text
    (v7_issue,) = [i for i in t.issues.values() if i.description is V7_DOCUMENT]
    assert (
        one("MATCH (i:Issue {projectId: $p, externalId: $id}) RETURN i.description AS d", id=v7_issue.id)[0]["d"]
        == V7_TEXT
    )
    v7_comments = [c for c in t.comments if site.comments[c].body is V7_DOCUMENT]
    assert v7_comments
    texts = one("MATCH (c:Comment {projectId: $p}) WHERE c.externalId IN $ids RETURN c.text AS text", ids=v7_comments)
    assert [r["text"] for r in texts] == [V7_TEXT] * len(v7_comments)

    # ------------------------------------------------------------ V13: -0700 times as UTC instants
    resolved = next(i for i in t.issues.values() if i.resolved_ms is not None)
    for issue in (v7_issue, resolved):
        assert jira_time(issue.created_ms).endswith("-0700"), "the sandbox renders the site's offset"
        (record,) = one(
            "MATCH (i:Issue {projectId: $p, externalId: $id}) "
            "RETURN i.createdAt AS created, i.updatedAt AS updated, i.resolvedAt AS resolved",
            id=issue.id,
        )
        assert native(record["created"]) == utc(issue.created_ms)
        assert native(record["updated"]) == utc(issue.updated_ms)
        assert native(record["resolved"]) == (None if issue.resolved_ms is None else utc(issue.resolved_ms))
    comment = site.comments[t.comments[0]]
    (record,) = one(
        "MATCH (c:Comment {projectId: $p, externalId: $id}) RETURN c.createdAt AS created, c.updatedAt AS updated",
        id=comment.id,
    )
    assert (native(record["created"]), native(record["updated"])) == (utc(comment.created_ms), utc(comment.updated_ms))

    # ------------------------------------------------------------ parent chains: subtask → issue → epic
    chains = [
        (i.id, i.parent_id, t.issues[i.parent_id].parent_id)
        for i in t.issues.values()
        if i.parent_id in t.issues
        and t.issues[i.parent_id].parent_id in t.issues
        and t.level(i) == -1
        and t.level(t.issues[str(t.issues[i.parent_id].parent_id)]) == 1
    ]
    assert chains
    subtask, parent, epic = chains[0]
    assert (
        one(
            "MATCH (s:Issue {projectId: $p, externalId: $s})-[:SUBTASK_OF]->(i:Issue {externalId: $i})"
            "-[:SUBTASK_OF]->(e:Issue:Epic {externalId: $e}) WHERE i.projectId = $p AND e.projectId = $p "
            "RETURN count(*) AS n",
            s=subtask,
            i=parent,
            e=epic,
        )[0]["n"]
        == 1
    )
    two_hops = one("MATCH (s:Issue {projectId: $p})-[:SUBTASK_OF*2]->(e:Epic {projectId: $p}) RETURN count(*) AS n")[0][
        "n"
    ]
    assert two_hops == len(chains)

    # ------------------------------------------------------------ links: outward → inward, one edge each (V9)
    for link_id in (*t.links(blocks=False)[:1], *t.links(blocks=True)[:1]):
        link = site.links[link_id]
        kind = site.link_types[link.type_id]
        edges = one(
            "MATCH (a:Issue {projectId: $p})-[r:LINKED_TO|DEPENDS_ON {linkId: $id}]->(b:Issue {projectId: $p}) "
            "RETURN type(r) AS type, a.externalId AS a, b.externalId AS b, properties(r) AS props",
            id=link_id,
        )
        assert len(edges) == 1
        edge = edges[0]
        if kind.name == "Blocks":  # (blocked)-[:DEPENDS_ON]->(blocker): the inward issue depends on the outward
            assert (edge["type"], edge["a"], edge["b"]) == ("DEPENDS_ON", link.inward_to, link.outward_from)
        else:
            assert (edge["type"], edge["a"], edge["b"]) == ("LINKED_TO", link.outward_from, link.inward_to)
            assert {k: edge["props"].get(k) for k in ("type", "outward", "inward")} == {
                "type": kind.name,
                "outward": kind.outward,
                "inward": kind.inward,
            }

    # ------------------------------------------------------------ a sprint on two boards: one node, its origin's
    shared = sorted(s for s, boards in t.sprints.items() if len(boards) >= 2)
    assert shared, "the generator spans a board over two projects"
    for sprint_id in shared:
        sprint = site.sprints[sprint_id]
        owners = one(
            "MATCH (s:Sprint {projectId: $p, externalId: $id}) OPTIONAL MATCH (b)-[:CONTAINS]->(s) "
            "RETURN count(DISTINCT s) AS nodes, collect(b.externalId) AS owners, collect(labels(b)) AS labels",
            id=str(sprint_id),
        )[0]
        assert (owners["nodes"], owners["owners"]) == (1, [str(sprint.origin_board_id)])
        assert owners["labels"] == [["Board"]]
    members = {
        (r["issue"], r["sprint"])
        for r in one(
            "MATCH (i:Issue {projectId: $p})-[:IN_SPRINT]->(s:Sprint {projectId: $p}) "
            "RETURN i.externalId AS issue, s.externalId AS sprint"
        )
    }
    assert members == {(i.id, str(s)) for i in t.issues.values() for s in i.sprint_ids}
    closed = {(i, s) for i, s in members if site.sprints[int(s)].state == "closed"}
    assert closed, "closed sprints count as well as the current one"
    assert len(closed) < len(members)

    # ------------------------------------------------------------ hidden emails
    people = {
        r["id"]: r["email"]
        for r in one("MATCH (u:Person {projectId: $p, source: 'jira'}) RETURN u.externalId AS id, u.email AS email")
    }
    assert set(people) == referenced_people(t)
    assert people == {
        account: (site.users[account].email if site.users[account].email_visible or account == t.viewer else None)
        for account in people
    }
    hidden = [a for a in people if not site.users[a].email_visible and site.users[a].email is not None]
    assert hidden
    assert all(people[a] is None for a in hidden)
    assert people[t.viewer] == MAIN_EMAIL
    assert any(v is not None and a != t.viewer for a, v in people.items()), "another visible email is kept"
    no_property = one(
        "MATCH (u:Person {projectId: $p, externalId: $id}) RETURN 'email' IN keys(u) AS has", id=hidden[0]
    )
    assert no_property[0]["has"] is False
