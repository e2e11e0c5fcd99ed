"""Platform REST v3 routes an importer reads (§2-§4): the caller, projects, reference data, issues, comments.

Anything the viewer cannot browse is a 404 with the same body as a missing thing (§7, §8).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.jira import issues, render
from sandbox.jira.endpoint import Viewer, endpoint, offset_page, unauthenticated
from sandbox.jira.model import Issue, Project
from sandbox.jira.state import Sandbox, error_collection

ISSUE_NOT_FOUND = "Issue does not exist or you do not have permission to see it."
PROJECT_STATUSES = ("live", "archived", "deleted")


def visible_project(sandbox: Sandbox, viewer: Viewer, key_or_id: str) -> Project:
    project = sandbox.site.project_by_key_or_id(key_or_id)
    if project is None or not sandbox.site.can_browse(viewer, project):
        what = "id" if key_or_id.isdigit() else "key"
        raise error_collection(404, f"No project could be found with {what} '{key_or_id}'.")
    return project


def visible_issue(sandbox: Sandbox, viewer: Viewer, key_or_id: str) -> Issue:
    issue = sandbox.site.issue_by_key_or_id(key_or_id)
    if issue is None or not sandbox.site.can_browse(viewer, sandbox.site.projects[issue.project_id]):
        raise error_collection(404, ISSUE_NOT_FOUND)
    return issue


async def tenant_info(request: Request) -> Response:
    """Unauthenticated and undocumented, but how clients learn the cloudId (§2.1)."""
    sandbox: Sandbox = request.app.state.sandbox
    return JSONResponse({"cloudId": sandbox.site.cloud_id})


@endpoint
async def myself(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    if viewer is None:
        raise unauthenticated()
    groups = sorted(sandbox.site.users[viewer].groups)
    return render.user(sandbox.site, viewer, viewer) | {
        "groups": {"size": len(groups), "items": [{"name": g} for g in groups]},
        "applicationRoles": {"size": 1, "items": [{"key": "jira-software", "name": "Jira Software"}]},
    }


@endpoint
async def project_search(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    """Live projects unless ``status=`` asks for archived ones too (§4.2); 404 when a query finds nothing."""
    site = sandbox.site
    wanted = {s.strip() for s in request.query_params.get("status", "live").split(",") if s.strip()}
    if not wanted <= set(PROJECT_STATUSES):
        raise error_collection(400, f"Invalid status: {', '.join(sorted(wanted - set(PROJECT_STATUSES)))}")
    query = request.query_params.get("query", "").lower()
    expand = {e.strip() for e in request.query_params.get("expand", "").split(",")}
    found = []
    for project in sorted(site.projects.values(), key=lambda p: p.key):
        if viewer is None or (project.members is not None and viewer not in project.members):
            continue
        if ("archived" if project.archived else "live") not in wanted:
            continue
        if query and query not in project.key.lower() and query not in project.name.lower():
            continue
        found.append(render.project(site, project, viewer, expand))
    if query and not found:
        raise error_collection(404, f"No projects found matching '{request.query_params['query']}'.")
    return offset_page(request, found, 50, 100)


@endpoint
async def project_get(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    project = visible_project(sandbox, viewer, request.path_params["key"])
    return render.project(sandbox.site, project, viewer, {"description", "lead"})


def _components(sandbox: Sandbox, request: Request, viewer: Viewer) -> list[dict[str, Any]]:
    site = sandbox.site
    project = visible_project(sandbox, viewer, request.path_params["key"])
    counts = {
        c.id: sum(1 for i in site.issues.values() if c.id in i.component_ids)
        for c in site.components.values()
        if c.project_id == project.id
    }
    return [render.component(site, site.components[cid], count) for cid, count in counts.items()]


@endpoint
async def component_page(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    return offset_page(request, _components(sandbox, request, viewer), 50, 50)


@endpoint
async def component_array(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    return [{k: v for k, v in c.items() if k != "issueCount"} for c in _components(sandbox, request, viewer)]


def _versions(sandbox: Sandbox, request: Request, viewer: Viewer) -> list[dict[str, Any]]:
    site = sandbox.site
    project = visible_project(sandbox, viewer, request.path_params["key"])
    wanted = {s.strip() for s in request.query_params.get("status", "").split(",") if s.strip()}
    out = []
    for version in site.versions.values():
        if version.project_id != project.id:
            continue
        states = {"released" if version.released else "unreleased"} | ({"archived"} if version.archived else set())
        if wanted and not wanted & states:
            continue
        out.append(render.version(site, version))
    return out


@endpoint
async def version_page(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    return offset_page(request, _versions(sandbox, request, viewer), 50, 50)


@endpoint
async def version_array(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    return _versions(sandbox, request, viewer)


@endpoint
async def issue_types(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    """Anonymous callers see the types of the projects they can browse: none."""
    site = sandbox.site
    return [] if viewer is None else [render.issue_type(site, t) for t in site.issue_types]


@endpoint
async def statuses(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    site = sandbox.site
    return [] if viewer is None else [render.status(site, s) for s in site.statuses]


@endpoint
async def status_categories(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    return [render.status_category(c) for c in (1, 2, 4, 3)]


@endpoint
async def priorities(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    return [render.priority(sandbox.site, p) for p in sandbox.site.priorities]


@endpoint
async def fields(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    return [
        {
            "id": f.id,
            "key": f.id,
            "name": f.name,
            "custom": f.custom,
            "orderable": True,
            "navigable": f.navigable,
            "searchable": True,
            "clauseNames": f.clause_names,
            "schema": f.schema,
        }
        for f in sandbox.site.fields.values()
    ]


@endpoint
async def link_types(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    site = sandbox.site
    return {
        "issueLinkTypes": [
            {
                "id": t.id,
                "name": t.name,
                "inward": t.inward,
                "outward": t.outward,
                "self": f"{site.url}/rest/api/3/issueLinkType/{t.id}",
            }
            for t in site.link_types.values()
        ]
    }


@endpoint
async def issue_get(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    issue = visible_issue(sandbox, viewer, request.path_params["key"])
    requested = request.query_params.getlist("fields") or ["*all"]
    return issues.issue_document(sandbox.site, issue, issues.select_fields(sandbox.site, requested), viewer)


@endpoint
async def labels(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    """Every label in use, as plain strings (labels have no ids and are case-sensitive, §4.1)."""
    site = sandbox.site
    used = {
        label
        for issue in site.issues.values()
        if site.can_browse(viewer, site.projects[issue.project_id])
        for label in issue.labels
    }
    return offset_page(request, sorted(used), 1000, 1000)


@endpoint
async def issue_link(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    """Both sides of one link; missing or either side invisible is 404 (§8).

    Named as on the issues: ``outwardIssue`` is the end the source ``type.outward``s (the target),
    ``inwardIssue`` the source. The facts do not fix this endpoint's naming; the issue fields do.
    """
    site = sandbox.site
    link_id = request.path_params["link_id"]
    link = site.links.get(link_id)
    ends = [] if link is None else [site.issues[link.outward_from], site.issues[link.inward_to]]
    if link is None or not all(site.can_browse(viewer, site.projects[i.project_id]) for i in ends):
        raise error_collection(404, f"No issue link with id '{link_id}' exists.")
    kind = site.link_types[link.type_id]
    return {
        "id": link.id,
        "self": f"{site.url}/rest/api/3/issueLink/{link.id}",
        "type": {"id": kind.id, "name": kind.name, "inward": kind.inward, "outward": kind.outward},
        "inwardIssue": render.issue_ref(site, ends[0]),
        "outwardIssue": render.issue_ref(site, ends[1]),
    }


@endpoint
async def comments(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    """Oldest first; ``orderBy`` takes only ``created`` with an optional sign (§3.1)."""
    issue = visible_issue(sandbox, viewer, request.path_params["key"])
    order = request.query_params.get("orderBy", "created")
    if order.lstrip("+-") != "created":
        raise error_collection(400, f"The field to order by should be one of [created]. Instead, it was: {order}.")
    items = issues.visible_comments(sandbox.site, issue, viewer)
    if order.startswith("-"):
        items.reverse()
    return offset_page(request, items, 100, 100, container="comments", links=False, is_last=False)


@endpoint
async def version_get(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    """One version (§4.2); missing or in a project the caller cannot browse is 404."""
    site, version_id = sandbox.site, request.path_params["version_id"]
    version = site.versions.get(version_id)
    if version is None or not site.can_browse(viewer, site.projects[version.project_id]):
        raise error_collection(404, f"Could not find version for id '{version_id}'")
    return render.version(site, version)


@endpoint
async def component_get(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    site, component_id = sandbox.site, request.path_params["component_id"]
    component = site.components.get(component_id)
    if component is None or not site.can_browse(viewer, site.projects[component.project_id]):
        raise error_collection(404, f"The component with id {component_id} does not exist.")
    return render.component(site, component)


@endpoint
async def comment_get(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    """One comment of a visible issue; a restricted one the caller may not read is 404, as missing."""
    issue = visible_issue(sandbox, viewer, request.path_params["key"])
    wanted = request.path_params["comment_id"]
    found = [c for c in issues.visible_comments(sandbox.site, issue, viewer) if c.get("id") == wanted]
    if not found:
        raise error_collection(404, "Can not find a comment for the id: " + wanted + ".")
    return found[0]


def routes() -> list[Route]:
    base = "/rest/api/3"
    return [
        Route("/_edge/tenant_info", tenant_info),
        Route(f"{base}/myself", myself),
        Route(f"{base}/project/search", project_search),
        Route(f"{base}/project/{{key}}", project_get),
        Route(f"{base}/project/{{key}}/component", component_page),
        Route(f"{base}/project/{{key}}/components", component_array),
        Route(f"{base}/project/{{key}}/version", version_page),
        Route(f"{base}/project/{{key}}/versions", version_array),
        Route(f"{base}/issuetype", issue_types),
        Route(f"{base}/status", statuses),
        Route(f"{base}/statuscategory", status_categories),
        Route(f"{base}/priority", priorities),
        Route(f"{base}/field", fields),
        Route(f"{base}/issueLinkType", link_types),
        Route(f"{base}/issueLink/{{link_id}}", issue_link),
        Route(f"{base}/label", labels),
        Route(f"{base}/issue/{{key}}", issue_get),
        Route(f"{base}/issue/{{key}}/comment", comments),
        Route(f"{base}/issue/{{key}}/comment/{{comment_id}}", comment_get),
        Route(f"{base}/version/{{version_id}}", version_get),
        Route(f"{base}/component/{{component_id}}", component_get),
    ]
