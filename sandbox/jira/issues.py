"""Issue documents with field selection (§3.2, §4.3): what ``fields=`` asks for, nothing more.

``/search/jql`` defaults to ``id`` only; ``GET /issue/{k}`` to ``*all``. ``*navigable`` leaves out
non-navigable fields (``comment``); ``-name`` removes one; unknown names are ignored, as Jira does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sandbox.jira import custom_fields, render
from sandbox.jira.model import Issue, Site
from sandbox.jira.times import jira_time

EMBEDDED_COMMENTS = 20  # embedded comment lists are truncated: page /comment when total is larger


def select_fields(site: Site, requested: Iterable[str]) -> list[str]:
    """The field ids a request names, in the site's field order."""
    names = [n.strip() for part in requested for n in part.split(",") if n.strip()]
    chosen: set[str] = set()
    for name in names:
        if name == "*all":
            chosen |= set(site.fields)
        elif name == "*navigable":
            chosen |= {f.id for f in site.fields.values() if f.navigable}
        elif not name.startswith("-") and name in site.fields:
            chosen.add(name)
    for name in names:
        if name.startswith("-"):
            chosen.discard(name[1:])
    return [field_id for field_id in site.fields if field_id in chosen]


def visible_comments(site: Site, issue: Issue, viewer: str | None) -> list[dict[str, Any]]:
    groups = site.users[viewer].groups if viewer in site.users else frozenset()
    items = site.comments_of(issue.id)
    return [render.comment(site, c, viewer) for c in items if c.visibility is None or c.visibility in groups]


def issue_links(site: Site, issue: Issue, viewer: str | None) -> list[dict[str, Any]]:
    """Both ends list a link under the same id: ``outwardIssue`` on the source, ``inwardIssue`` on the target."""
    out: list[dict[str, Any]] = []
    for link in site.links_of(issue.id):
        other = site.issues[link.inward_to if link.outward_from == issue.id else link.outward_from]
        if not site.can_browse(viewer, site.projects[other.project_id]):
            continue
        kind = site.link_types[link.type_id]
        side = "outwardIssue" if link.outward_from == issue.id else "inwardIssue"
        out.append(
            {
                "id": link.id,
                "self": f"{site.url}/rest/api/3/issueLink/{link.id}",
                "type": {
                    "id": kind.id,
                    "name": kind.name,
                    "inward": kind.inward,
                    "outward": kind.outward,
                    "self": f"{site.url}/rest/api/3/issueLinkType/{kind.id}",
                },
                side: render.issue_ref(site, other),
            }
        )
    return out


def _sprints(site: Site, issue: Issue) -> list[dict[str, Any]] | None:
    if not issue.sprint_ids:
        return None
    out = []
    for sprint_id in issue.sprint_ids:
        sprint = site.sprints[sprint_id]
        item: dict[str, Any] = {
            "id": sprint.id,
            "name": sprint.name,
            "state": sprint.state,
            "boardId": sprint.origin_board_id,
            "goal": sprint.goal,
        }
        full = render.sprint(site, sprint)
        item |= {k: full[k] for k in ("startDate", "endDate", "completeDate") if k in full}
        out.append(item)
    return out


def _field_values(site: Site, issue: Issue, viewer: str | None) -> dict[str, Callable[[], Any]]:
    owner = site.projects[issue.project_id]

    def person(account_id: str | None) -> dict[str, Any] | None:
        return None if account_id is None else render.user(site, account_id, viewer)

    def parent() -> dict[str, Any] | None:
        return None if issue.parent_id is None else render.issue_ref(site, site.issues[issue.parent_id])

    def comment_page() -> dict[str, Any]:
        items = visible_comments(site, issue, viewer)
        return {
            "comments": items[:EMBEDDED_COMMENTS],
            "self": f"{site.url}/rest/api/3/issue/{issue.id}/comment",
            "maxResults": EMBEDDED_COMMENTS,
            "total": len(items),
            "startAt": 0,
        }

    values: dict[str, Callable[[], Any]] = {
        "summary": lambda: issue.summary,
        "status": lambda: render.status(site, issue.status_id),
        "issuetype": lambda: render.issue_type(site, issue.type_id),
        "project": lambda: {
            "self": f"{site.url}/rest/api/3/project/{owner.id}",
            "id": owner.id,
            "key": owner.key,
            "name": owner.name,
            "projectTypeKey": owner.type_key,
            "simplified": owner.simplified,
        },
        "priority": lambda: render.priority(site, issue.priority_id),
        "assignee": lambda: person(issue.assignee),
        "reporter": lambda: person(issue.reporter),
        "creator": lambda: person(issue.creator),
        "labels": lambda: list(issue.labels),
        "components": lambda: [
            {
                k: v
                for k, v in render.component(site, site.components[c]).items()
                if k in ("self", "id", "name", "description")
            }
            for c in issue.component_ids
        ],
        "fixVersions": lambda: [_version_ref(site, v) for v in issue.fix_version_ids],
        "versions": lambda: [_version_ref(site, v) for v in issue.version_ids],
        "description": lambda: issue.description,
        "created": lambda: jira_time(issue.created_ms),
        "updated": lambda: jira_time(issue.updated_ms),
        "duedate": lambda: issue.due_date,
        "resolution": lambda: None if issue.resolved_ms is None else {"id": "10000", "name": "Done"},
        "resolutiondate": lambda: None if issue.resolved_ms is None else jira_time(issue.resolved_ms),
        "statuscategorychangedate": lambda: jira_time(issue.status_changed_ms),
        "subtasks": lambda: [
            render.issue_ref(site, i) for i in site.children(issue.id) if site.issue_types[i.type_id].subtask
        ],
        "issuelinks": lambda: issue_links(site, issue, viewer),
        "timetracking": lambda: {},
        "comment": comment_page,
        site.story_points_field: lambda: issue.story_points,
        site.sprint_field: lambda: _sprints(site, issue),
        site.rank_field: lambda: issue.rank,
    }
    values["parent"] = parent
    return values | custom_fields.values_of(site, issue, viewer)


def _version_ref(site: Site, version_id: str) -> dict[str, Any]:
    full = render.version(site, site.versions[version_id])
    return {
        k: full[k] for k in ("self", "id", "name", "description", "archived", "released", "releaseDate") if k in full
    }


def issue_document(site: Site, issue: Issue, field_ids: list[str], viewer: str | None) -> dict[str, Any]:
    """``{"id"}`` when no field is asked for (the ``/search/jql`` default); otherwise the full envelope."""
    if not field_ids:
        return {"id": issue.id}
    values = _field_values(site, issue, viewer)
    fields = {name: values[name]() for name in field_ids if name in values}
    return {
        "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
        "id": issue.id,
        "self": f"{site.url}/rest/api/3/issue/{issue.id}",
        "key": issue.key,
        "fields": fields,
    }
