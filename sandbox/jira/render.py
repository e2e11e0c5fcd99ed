"""JSON shapes of the platform v3 and Agile 1.0 APIs (§4): a projection of the model, per viewer.

The viewer matters: hidden emails stay hidden from everyone but their owner (§4.7), restricted
comments from users outside their role (§4.6), links to issues the viewer cannot browse vanish.
"""

from __future__ import annotations

from typing import Any

from sandbox.jira.model import STATUS_CATEGORIES, Board, Comment, Component, Issue, Project, Site, Sprint, Version
from sandbox.jira.times import jira_time, sprint_time


def avatar_urls(seed: str) -> dict[str, str]:
    return {f"{n}x{n}": f"https://avatar.example.com/{seed}/{n}.png" for n in (16, 24, 32, 48)}


def user(site: Site, account_id: str, viewer: str | None) -> dict[str, Any]:
    person = site.users[account_id]
    body: dict[str, Any] = {
        "self": f"{site.url}/rest/api/3/user?accountId={account_id}",
        "accountId": account_id,
        "accountType": person.account_type,
    }
    if person.email is not None and (person.email_visible or viewer == account_id):
        body["emailAddress"] = person.email
    body |= {"avatarUrls": avatar_urls(account_id), "displayName": person.display_name, "active": person.active}
    if person.email_visible or viewer == account_id:
        body |= {"timeZone": person.time_zone, "locale": person.locale}
    return body


def status_category(category_id: int) -> dict[str, Any]:
    key, color, name = STATUS_CATEGORIES[category_id]
    return {
        "self": f"/rest/api/3/statuscategory/{category_id}",
        "id": category_id,
        "key": key,
        "colorName": color,
        "name": name,
    }


def status(site: Site, status_id: str) -> dict[str, Any]:
    item = site.statuses[status_id]
    return {
        "self": f"{site.url}/rest/api/3/status/{item.id}",
        "description": "",
        "iconUrl": f"{site.url}/images/icons/statuses/generic.png",
        "name": item.name,
        "id": item.id,
        "statusCategory": status_category(item.category_id),
    }


def issue_type(site: Site, type_id: str) -> dict[str, Any]:
    item = site.issue_types[type_id]
    return {
        "self": f"{site.url}/rest/api/3/issuetype/{item.id}",
        "id": item.id,
        "description": item.description,
        "iconUrl": f"{site.url}/images/icons/issuetypes/{item.name.lower()}.png",
        "name": item.name,
        "subtask": item.subtask,
        "hierarchyLevel": item.hierarchy_level,
    }


def priority(site: Site, priority_id: str) -> dict[str, Any]:
    item = site.priorities[priority_id]
    return {
        "self": f"{site.url}/rest/api/3/priority/{item.id}",
        "statusColor": item.color,
        "description": item.name,
        "iconUrl": f"{site.url}/images/icons/priorities/{item.name.lower()}.svg",
        "name": item.name,
        "id": item.id,
    }


def project(site: Site, item: Project, viewer: str | None, expand: set[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "self": f"{site.url}/rest/api/3/project/{item.id}",
        "id": item.id,
        "key": item.key,
        "name": item.name,
        "avatarUrls": avatar_urls(item.key),
        "projectTypeKey": item.type_key,
        "simplified": item.simplified,
        "style": "next-gen" if item.simplified else "classic",
        "isPrivate": item.members is not None,
        "uuid": item.uuid,
        "properties": {},
    }
    if item.category is not None:
        body["projectCategory"] = {"id": item.category[0], "name": item.category[1]}
    if expand and "description" in expand:
        body["description"] = item.description
    if expand and "lead" in expand:
        body["lead"] = user(site, item.lead, viewer)
    if item.archived and item.archived_at is not None:
        body |= {
            "archived": True,
            "archivedDate": jira_time(item.archived_at),
            "archivedBy": user(site, item.lead, viewer),
        }
    return body


def component(site: Site, item: Component, issue_count: int | None = None) -> dict[str, Any]:
    owner = site.projects[item.project_id]
    body: dict[str, Any] = {
        "self": f"{site.url}/rest/api/3/component/{item.id}",
        "id": item.id,
        "name": item.name,
        "description": item.description,
        "assigneeType": "PROJECT_DEFAULT",
        "project": owner.key,
        "projectId": int(owner.id),  # a number here, a string everywhere else (§4.2)
    }
    if issue_count is not None:
        body["issueCount"] = issue_count
    return body


def version(site: Site, item: Version) -> dict[str, Any]:
    body: dict[str, Any] = {
        "self": f"{site.url}/rest/api/3/version/{item.id}",
        "id": item.id,
        "name": item.name,
        "description": item.description,
        "archived": item.archived,
        "released": item.released,
    }
    if item.start_date:
        body["startDate"] = item.start_date
    if item.release_date:
        body["releaseDate"] = item.release_date
    body |= {"overdue": False, "projectId": int(item.project_id)}
    return body


def comment(site: Site, item: Comment, viewer: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "self": f"{site.url}/rest/api/3/issue/{item.issue_id}/comment/{item.id}",
        "id": item.id,
        "author": user(site, item.author, viewer),
        "body": item.body,
        "updateAuthor": user(site, item.update_author or item.author, viewer),
        "created": jira_time(item.created_ms),
        "updated": jira_time(item.updated_ms),
        "jsdPublic": True,
    }
    if item.visibility is not None:
        body["visibility"] = {"type": "role", "value": item.visibility, "identifier": item.visibility}
    return body


def sprint(site: Site, item: Sprint) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": item.id,
        "self": f"{site.url}/rest/agile/1.0/sprint/{item.id}",
        "state": item.state,
        "name": item.name,
    }
    if item.start_ms is not None and item.end_ms is not None:
        body |= {"startDate": sprint_time(item.start_ms), "endDate": sprint_time(item.end_ms)}
    if item.complete_ms is not None:
        body["completeDate"] = sprint_time(item.complete_ms)
    body |= {"createdDate": sprint_time(item.created_ms), "originBoardId": item.origin_board_id, "goal": item.goal}
    return body


def board(site: Site, item: Board) -> dict[str, Any]:
    home = site.projects[item.location_project_id]
    return {
        "id": item.id,
        "self": f"{site.url}/rest/agile/1.0/board/{item.id}",
        "name": item.name,
        "type": item.type,
        "location": {
            "projectId": int(home.id),
            "displayName": f"{home.name} ({home.key})",
            "projectName": home.name,
            "projectKey": home.key,
            "projectTypeKey": home.type_key,
            "avatarURI": f"/secure/projectavatar?size=small&pid={home.id}",
            "name": f"{home.name} ({home.key})",
        },
        "isPrivate": False,
    }


def issue_ref(site: Site, item: Issue) -> dict[str, Any]:
    """The short form inside ``parent``, ``subtasks`` and ``issuelinks``."""
    return {
        "id": item.id,
        "key": item.key,
        "self": f"{site.url}/rest/api/3/issue/{item.id}",
        "fields": {
            "summary": item.summary,
            "status": status(site, item.status_id),
            "priority": priority(site, item.priority_id),
            "issuetype": issue_type(site, item.type_id),
        },
    }
