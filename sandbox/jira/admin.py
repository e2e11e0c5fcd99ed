"""The sandbox's admin API under ``/_sandbox``: the truth an import is checked against, and steering.

``GET /_sandbox/state`` counts what the site holds (per kind, label, link type, relationship);
``PATCH /_sandbox/issues/{id}`` edits an issue and bumps ``updated``; ``POST …/{id}/move`` moves
it to another project (new key, same id); ``POST /_sandbox/tokens``
issues an API token for a user; ``PUT /_sandbox/config`` sets the burst limit, the page-token
lifetime and the search-index lag;
``POST /_sandbox/page-tokens/expire`` kills every outstanding ``nextPageToken``.
Errors are JSON ``{"error": ...}`` with a 4xx status.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections import Counter
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.jira.adf import paragraph_doc
from sandbox.jira.model import Site
from sandbox.jira.state import Sandbox


class AdminError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def _body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except json.JSONDecodeError:
        raise AdminError(400, "body is not valid JSON") from None
    if not isinstance(data, dict):
        raise AdminError(400, "body must be a JSON object")
    return data


def _sandbox(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


def truth(site: Site) -> dict[str, Any]:
    """What the site holds, and the part the main credential (the first token) may see."""
    main = next(iter(site.api_tokens.values()), None)
    seen = {i.id for i in site.issues.values() if site.can_browse(main, site.projects[i.project_id])}
    levels = Counter(site.issue_types[i.type_id].hierarchy_level for i in site.issues.values())
    return {
        "cloudId": site.cloud_id,
        "url": site.url,
        "customFields": {"storyPoints": site.story_points_field, "sprint": site.sprint_field, "rank": site.rank_field},
        "credentials": {site.users[a].email: t for t, a in site.api_tokens.items()},
        "counts": {
            "users": len(site.users),
            "usersWithHiddenEmail": sum(1 for u in site.users.values() if not u.email_visible or u.email is None),
            "projects": len(site.projects),
            "archivedProjects": sum(1 for p in site.projects.values() if p.archived),
            "restrictedProjects": sum(1 for p in site.projects.values() if p.members is not None),
            "issues": len(site.issues),
            "epics": levels[1],
            "standardIssues": levels[0],
            "subtasks": levels[-1],
            "parentEdges": sum(1 for i in site.issues.values() if i.parent_id is not None),
            "comments": len(site.comments),
            "restrictedComments": sum(1 for c in site.comments.values() if c.visibility is not None),
            "links": len(site.links),
            "components": len(site.components),
            "versions": len(site.versions),
            "boards": len(site.boards),
            "sprints": len(site.sprints),
            "sprintMemberships": sum(len(i.sprint_ids) for i in site.issues.values()),
        },
        "visibleToMainUser": {
            "projects": sum(1 for p in site.projects.values() if site.can_browse(main, p)),
            "issues": len(seen),
            "links": sum(1 for x in site.links.values() if {x.outward_from, x.inward_to} <= seen),
        },
        "issuesPerProject": dict(Counter(site.projects[i.project_id].key for i in site.issues.values())),
        "labels": dict(sorted(Counter(label for i in site.issues.values() for label in i.labels).items())),
        "linksPerType": dict(Counter(site.link_types[link.type_id].name for link in site.links.values())),
    }


async def state(request: Request) -> Response:
    return JSONResponse(truth(_sandbox(request).site))


async def update_issue(request: Request) -> Response:
    """Fields: summary, status (id), priority (id), assignee (accountId or null), labels, description (text)."""
    sandbox = _sandbox(request)
    site, body = sandbox.site, await _body(request)
    issue = site.issue_by_key_or_id(request.path_params["issue_id"])
    if issue is None:
        raise AdminError(404, f"no issue {request.path_params['issue_id']!r}")
    unknown = sorted(set(body) - {"summary", "status", "priority", "assignee", "labels", "description"})
    if unknown:
        raise AdminError(400, f"unknown field(s): {', '.join(unknown)}")
    sandbox.before_edit(issue)
    now = max(sandbox.now_ms(), issue.updated_ms + 1)
    if "summary" in body:
        if not isinstance(body["summary"], str) or not body["summary"].strip():
            raise AdminError(400, "summary must be a non-empty string")
        issue.summary = body["summary"]
    if "status" in body:
        if body["status"] not in site.statuses:
            raise AdminError(400, f"no status {body['status']!r}; known: {', '.join(site.statuses)}")
        issue.status_id = str(body["status"])
        issue.status_changed_ms = now
        issue.resolved_ms = now if site.statuses[issue.status_id].category_id == 3 else None
    if "priority" in body:
        if body["priority"] not in site.priorities:
            raise AdminError(400, f"no priority {body['priority']!r}")
        issue.priority_id = str(body["priority"])
    if "assignee" in body:
        if body["assignee"] is not None and body["assignee"] not in site.users:
            raise AdminError(400, f"no user {body['assignee']!r}")
        issue.assignee = body["assignee"]
    if "labels" in body:
        labels = body["labels"]
        if not isinstance(labels, list) or not all(isinstance(x, str) and x and " " not in x for x in labels):
            raise AdminError(400, "labels must be a list of non-empty strings without spaces")
        issue.labels = sorted(set(labels))
    if "description" in body:
        text = body["description"]
        if text is not None and not isinstance(text, str):
            raise AdminError(400, "description must be a string or null")
        issue.description = None if text is None else paragraph_doc(text)
    issue.updated_ms = now
    site.touch()
    return JSONResponse({"id": issue.id, "key": issue.key, "updatedMs": now})


async def move_issue(request: Request) -> Response:
    """Move an issue (and its subtasks) to another project: new keys, same ids, old keys still resolve."""
    sandbox = _sandbox(request)
    site, body = sandbox.site, await _body(request)
    issue = site.issue_by_key_or_id(request.path_params["issue_id"])
    if issue is None:
        raise AdminError(404, f"no issue {request.path_params['issue_id']!r}")
    target = site.project_by_key_or_id(str(body.get("project", "")))
    if target is None:
        raise AdminError(400, f"no project {body.get('project')!r}")
    if site.issue_types[issue.type_id].subtask:
        raise AdminError(400, "move the parent: subtasks move with it")
    if target.id == issue.project_id:
        raise AdminError(400, "the issue is already in that project")
    now = max(sandbox.now_ms(), issue.updated_ms + 1)
    for moving in [issue, *site.children(issue.id)]:
        sandbox.before_edit(moving)
    taken = [int(i.key.rsplit("-", 1)[1]) for i in site.issues.values() if i.project_id == target.id]
    number = max(taken, default=0)
    for moved in [issue, *site.children(issue.id)]:
        number += 1
        moved.old_keys.append(moved.key)
        moved.key, moved.project_id, moved.updated_ms = f"{target.key}-{number}", target.id, now
        moved.component_ids, moved.fix_version_ids, moved.version_ids = [], [], []
    if issue.parent_id is not None and site.issues[issue.parent_id].project_id != target.id:
        issue.parent_id = None  # company-managed epics do not follow their children across projects
    site.touch()
    return JSONResponse({"id": issue.id, "key": issue.key, "oldKeys": issue.old_keys, "updatedMs": now})


async def issue_token(request: Request) -> Response:
    """A new API token for a user (by email), with the ``Authorization`` header that carries it (V1)."""
    site, body = _sandbox(request).site, await _body(request)
    email = str(body.get("email", "")).lower()
    person = next((u for u in site.users.values() if u.email and u.email.lower() == email), None)
    if person is None:
        raise AdminError(404, f"no user with email {email!r}")
    token = "ATATT3x" + secrets.token_urlsafe(24)
    site.api_tokens[token] = person.account_id
    header = "Basic " + base64.b64encode(f"{person.email}:{token}".encode()).decode()
    return JSONResponse(
        {"email": person.email, "accountId": person.account_id, "token": token, "authorization": header}
    )


async def configure(request: Request) -> Response:
    sandbox = _sandbox(request)
    try:
        sandbox.configure(await _body(request))
    except (TypeError, ValueError) as exc:
        raise AdminError(400, str(exc)) from None
    return JSONResponse(
        {
            "rate_limit": sandbox.limiter.capacity,
            "rate_limit_refill_per_second": sandbox.limiter.refill_per_second,
            "page_token_ttl_seconds": sandbox.page_tokens.ttl_seconds,
            "search_lag_seconds": sandbox.search_lag_seconds,
        }
    )


async def expire_page_tokens(request: Request) -> Response:
    return JSONResponse({"expired": _sandbox(request).page_tokens.expire_all()})


def routes() -> list[Route]:
    def guard(handler: Any) -> Any:
        async def wrapped(request: Request) -> Response:
            try:
                response: Response = await handler(request)
            except AdminError as exc:
                return JSONResponse({"error": exc.message}, status_code=exc.status)
            return response

        return wrapped

    table = [
        ("/_sandbox/state", state, ["GET"]),
        ("/_sandbox/issues/{issue_id}", update_issue, ["PATCH"]),
        ("/_sandbox/issues/{issue_id}/move", move_issue, ["POST"]),
        ("/_sandbox/tokens", issue_token, ["POST"]),
        ("/_sandbox/config", configure, ["PUT"]),
        ("/_sandbox/page-tokens/expire", expire_page_tokens, ["POST"]),
    ]
    return [Route(path, guard(handler), methods=methods) for path, handler, methods in table]
