"""Issue search (§3.2): ``/search/jql`` with opaque expiring page tokens; the removed ``/search`` is 410.

The rules a client must meet: bounded JQL, ``maxResults`` 1-5000 (pages may still come shorter),
``fields`` defaulting to ``id`` only, every other parameter resent unchanged with a token, no
``total``. Anonymous callers get 200 with no issues, as for JQL naming what they cannot see.
The index is eventually consistent: with ``search_lag_seconds`` set, an edited issue is found and
shown as it was until the lag passes, unless its id is in ``reconcileIssues``.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.jira import issues, jql
from sandbox.jira.endpoint import Viewer, endpoint
from sandbox.jira.model import Issue
from sandbox.jira.pagetokens import INVALID
from sandbox.jira.state import Sandbox, error_collection, problem

REMOVED = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)
MAX_RESULTS = "The max results parameter has to be between 1 and 5,000."
INVALID_PAYLOAD = "Invalid request payload. Refer to the REST API documentation and try again."
POST_KEYS = {
    "jql",
    "nextPageToken",
    "maxResults",
    "fields",
    "expand",
    "properties",
    "fieldsByKeys",
    "failFast",
    "reconcileIssues",
}


def page_cap(field_count: int) -> int:
    """Large field sets make Jira return fewer issues than asked (§3.2)."""
    return 5000 if field_count == 0 else (1000 if field_count <= 5 else 100)


@endpoint
async def removed(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    raise error_collection(410, REMOVED)


@dataclass(frozen=True)
class SearchParams:
    jql: str
    token: str | None
    max_results: str
    fields: list[str]
    expand: str
    reconcile: frozenset[str]  # issue ids to serve as they are now, not as the lagging index holds them


def _get_params(request: Request) -> SearchParams:
    params = request.query_params
    reconcile = {i.strip() for part in params.getlist("reconcileIssues") for i in part.split(",") if i.strip()}
    return SearchParams(
        params.get("jql", ""),
        params.get("nextPageToken"),
        params.get("maxResults", "50"),
        params.getlist("fields"),
        params.get("expand", ""),
        frozenset(reconcile),
    )


async def _post_params(request: Request) -> SearchParams:
    try:
        body = json.loads(await request.body() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise error_collection(400, INVALID_PAYLOAD, errors=False) from None
    if not isinstance(body, dict) or set(body) - POST_KEYS:
        raise error_collection(400, INVALID_PAYLOAD, errors=False)
    jql_text, token, size = body.get("jql", ""), body.get("nextPageToken"), body.get("maxResults", 50)
    requested, expand, reconcile = body.get("fields", []), body.get("expand", ""), body.get("reconcileIssues", [])
    if (
        not isinstance(jql_text, str)
        or not (token is None or isinstance(token, str))
        or isinstance(size, bool)
        or not isinstance(size, int)
        or not isinstance(requested, list)
        or not all(isinstance(f, str) for f in requested)
        or not isinstance(expand, str)
        or not isinstance(reconcile, list)
        or len(reconcile) > 50
        or not all(isinstance(i, int) and not isinstance(i, bool) for i in reconcile)
    ):
        raise error_collection(400, INVALID_PAYLOAD, errors=False)
    return SearchParams(jql_text, token, str(size), requested, expand, frozenset(str(i) for i in reconcile))


async def _search(sandbox: Sandbox, request: Request, viewer: Viewer) -> dict[str, Any]:
    site = sandbox.site
    params = await _post_params(request) if request.method == "POST" else _get_params(request)
    jql_text, token, raw_size, requested, expand = (
        params.jql,
        params.token,
        params.max_results,
        params.fields,
        params.expand,
    )
    try:
        size = int(raw_size)
    except ValueError:
        raise problem(
            400, "Bad Request", f"Failed to convert 'maxResults' with value: '{raw_size}'", request.url.path
        ) from None
    if not 1 <= size <= 5000:
        raise error_collection(400, MAX_RESULTS)
    try:
        query = jql.parse(jql_text, sandbox.now_ms())
    except jql.JqlError as exc:
        raise error_collection(400, str(exc)) from None
    field_ids = issues.select_fields(site, requested)
    fingerprint = (jql_text, ",".join(requested), expand, str(size))
    cursor: tuple[tuple[int, ...], ...] | None = None
    if token is not None:
        cursor = sandbox.page_tokens.resolve(token, fingerprint)
        if cursor is None:
            raise error_collection(400, INVALID)

    def order() -> tuple[list[tuple[tuple[int, ...], ...]], list[Issue]]:
        # Searches read the index, which lags behind fresh edits unless the caller asks to reconcile them.
        views = (i if i.id in params.reconcile else sandbox.indexed(i) for i in site.issues.values())
        matching = [i for i in views if site.can_browse(viewer, site.projects[i.project_id]) and query.matches(site, i)]
        keyed = sorted(((query.sort_key(i), i) for i in matching), key=lambda pair: pair[0])
        return [k for k, _ in keyed], [i for _, i in keyed]

    # Each page of a walk would re-sort the whole site; the order holds until the site changes.
    cacheable = not query.relative and not params.reconcile and not sandbox.lagging()
    keys, ordered = site.derived(f"search:{viewer}:{jql_text}", order) if cacheable else order()
    start = 0 if cursor is None else bisect.bisect_right(keys, cursor)
    end = start + min(size, page_cap(len(field_ids)))
    body: dict[str, Any] = {"issues": [issues.issue_document(site, i, field_ids, viewer) for i in ordered[start:end]]}
    wants = {e.strip() for e in expand.split(",")}
    if "names" in wants:
        body["names"] = {f: site.fields[f].name for f in field_ids}
    if "schema" in wants:
        body["schema"] = {f: site.fields[f].schema for f in field_ids}
    if end < len(keys):
        body["nextPageToken"] = sandbox.page_tokens.issue(fingerprint, keys[end - 1])
        body["isLast"] = False
    else:
        body["isLast"] = True
    return body


@endpoint
async def search_jql(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    return await _search(sandbox, request, viewer)


@endpoint
async def approximate_count(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    if request.method != "POST":
        raise problem(
            405,
            "Method Not Allowed",
            f"Method '{request.method}' is not supported.",
            request.url.path,
            {"Allow": "POST"},
        )
    try:
        body = json.loads(await request.body() or b"{}")
    except json.JSONDecodeError:
        raise error_collection(400, INVALID_PAYLOAD, errors=False) from None
    if not isinstance(body, dict) or set(body) - {"jql"} or not isinstance(body.get("jql", ""), str):
        raise error_collection(400, INVALID_PAYLOAD, errors=False)
    try:
        query = jql.parse(body.get("jql", ""), sandbox.now_ms())
    except jql.JqlError as exc:
        raise error_collection(400, str(exc)) from None
    site = sandbox.site
    count = sum(
        1
        for i in site.issues.values()
        if site.can_browse(viewer, site.projects[i.project_id]) and query.matches(site, i)
    )
    return JSONResponse({"count": count})


def routes() -> list[Route]:
    base = "/rest/api/3"
    return [
        Route(f"{base}/search", removed, methods=["GET", "POST"]),
        Route(f"{base}/search/id", removed, methods=["GET", "POST"]),
        Route(f"{base}/search/jql", search_jql, methods=["GET", "POST"]),
        Route(f"{base}/search/approximate-count", approximate_count, methods=["GET", "POST"]),
    ]
