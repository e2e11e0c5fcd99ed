"""ClickUp API v2 routes (read side, webhooks and the OAuth token exchange).

Auth: ``Authorization: <token>`` or ``Authorization: Bearer <token>``, for personal (``pk_``) and
OAuth tokens alike. A personal token reaches every workspace of its user; an OAuth token only the
workspaces chosen at consent (see ``oauth.py``): any other, reached through its team, space, folder,
list, task or webhook, answers 401 OAUTH_027 "Team not authorized".
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import json
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.clickup import query, render
from sandbox.clickup.model import Folder, Space, Task, TaskList, Team
from sandbox.clickup.oauth import Caller, OAuthError
from sandbox.clickup.state import ApiError, Fault, Sandbox
from sandbox.clickup.webhooks import ALL_EVENTS

Endpoint = Callable[[Sandbox, Request, Caller], Awaitable[Any]]


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse({"err": error.err, "ECODE": error.ecode}, status_code=error.status, headers=error.headers)


def _malformed(body: Any, kind: str) -> Any:
    """Corrupt task records the way real payloads sometimes are."""
    tasks = body.get("tasks") if isinstance(body, dict) else None
    targets = tasks if isinstance(tasks, list) else ([body] if isinstance(body, dict) and "id" in body else [])
    for task in targets[:3]:
        if kind == "missing_date_updated":
            task.pop("date_updated", None)
        elif kind == "null_objects":
            task["status"] = None
            task["creator"] = None
            task["priority"] = None
        elif kind == "type_swap":
            task["date_created"] = int(task["date_created"])
            task["orderindex"] = float(task["orderindex"])
            task["time_estimate"] = None if task.get("time_estimate") is None else str(task["time_estimate"])
    return body


def endpoint(handler: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    """Auth, per-token rate limit, injected faults and ClickUp's error envelope for one route."""

    @functools.wraps(handler)
    async def wrapper(request: Request) -> Response:
        sandbox: Sandbox = request.app.state.sandbox
        sandbox.requests += 1
        header = request.headers.get("authorization", "").strip()
        if not header:
            return error_response(ApiError(401, "Authorization header required", "OAUTH_017"))
        token = header[7:].strip() if header.lower().startswith("bearer ") else header
        try:
            caller = sandbox.caller(token)
        except ApiError as exc:
            return error_response(exc)
        allowed, headers = sandbox.limiter.hit(token)
        if not allowed:
            return error_response(ApiError(429, "Rate limit reached", "APP_002", headers))
        fault: Fault | None = sandbox.fault_for(request.url.path)
        if fault is not None and fault.delay_seconds:
            await asyncio.sleep(fault.delay_seconds)
        if fault is not None and fault.status is not None:
            err = {429: ("Rate limit reached", "APP_002")}.get(fault.status, ("Internal server error", "SHARD_001"))
            if fault.status == 429:  # an injected storm: spent now, reset in a second
                headers = {
                    **headers,
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(math.ceil(time.time() + 1)),
                }
            return error_response(ApiError(fault.status, err[0], err[1], headers))
        try:
            body = await handler(sandbox, request, caller)
        except ApiError as exc:
            exc.headers = {**headers, **exc.headers}
            return error_response(exc)
        if fault is not None and fault.malformed:
            body = _malformed(body, fault.malformed)
        sandbox.answered(request.method, request.url.path)
        return JSONResponse(body, headers=headers)

    return wrapper


# ---------------------------------------------------------------- access


def _team(sandbox: Sandbox, caller: Caller, team_id: str) -> Team:
    """Every path into a workspace comes here: the user must be a member and the token reach it."""
    team = sandbox.world.teams.get(team_id)
    if team is None or all(m.user_id != caller.user_id for m in team.members) or not caller.reaches(team.id):
        raise ApiError(401, "Team not authorized", "OAUTH_027")
    return team


def _space(sandbox: Sandbox, caller: Caller, space_id: str) -> Space:
    space = sandbox.world.spaces.get(space_id)
    if space is None:
        raise sandbox.unknown("Space")
    _team(sandbox, caller, space.team_id)
    return space


def _folder(sandbox: Sandbox, caller: Caller, folder_id: str) -> Folder:
    folder = sandbox.world.folders.get(folder_id)
    if folder is None:
        raise sandbox.unknown("Folder")
    _space(sandbox, caller, folder.space_id)
    return folder


def _list(sandbox: Sandbox, caller: Caller, list_id: str) -> TaskList:
    task_list = sandbox.world.lists.get(list_id)
    if task_list is None:
        raise sandbox.unknown("List")
    _space(sandbox, caller, task_list.space_id)
    return task_list


def _task(sandbox: Sandbox, request: Request, caller: Caller, task_id: str) -> Task:
    world = sandbox.world
    if query.flag(request.query_params, "custom_task_ids"):
        team_id = request.query_params.get("team_id")
        if not team_id:
            raise ApiError(400, "team_id is required when custom_task_ids=true", "ITEM_156")
        _team(sandbox, caller, team_id)
        found = next(
            (t for t in world.tasks.values() if t.custom_id == task_id and world.team_of_task(t).id == team_id), None
        )
    else:
        found = world.tasks.get(task_id)
    if found is None:
        raise sandbox.unknown("Task")
    _space(sandbox, caller, world.lists[found.list_id].space_id)
    return found


def _archived_match(sandbox: Sandbox, request: Request, archived: bool) -> bool:
    wanted = query.flag(request.query_params, "archived")
    if sandbox.archived_mode == "include":
        return wanted or not archived
    return archived == wanted


# ---------------------------------------------------------------- hierarchy


async def get_user(sandbox: Sandbox, request: Request, caller: Caller) -> Any:
    return render.user_me(sandbox.world.users[caller.user_id])


async def get_teams(sandbox: Sandbox, request: Request, caller: Caller) -> Any:
    teams = [t for t in sandbox.world.teams_of_user(caller.user_id) if caller.reaches(t.id)]
    return {"teams": [render.team(sandbox.world, t) for t in teams]}


async def get_spaces(sandbox: Sandbox, request: Request, caller: Caller) -> Any:
    team = _team(sandbox, caller, request.path_params["team_id"])
    return {
        "spaces": [
            render.space(s)
            for s in sandbox.world.spaces.values()
            if s.team_id == team.id and _archived_match(sandbox, request, s.archived)
        ]
    }


async def get_space(sandbox: Sandbox, request: Request, caller: Caller) -> Any:
    return render.space(_space(sandbox, caller, request.path_params["space_id"]))


async def get_folders(sandbox: Sandbox, request: Request, caller: Caller) -> Any:
    space = _space(sandbox, caller, request.path_params["space_id"])
    return {
        "folders": [
            render.folder(sandbox.world, f)
            for f in sandbox.world.folders.values()
            if f.space_id == space.id and _archived_match(sandbox, request, f.archived)
        ]
    }


async def get_folder(sandbox: Sandbox, request: Request, caller: Caller) -> Any:
    return render.folder(sandbox.world, _folder(sandbox, caller, request.path_params["folder_id"]))


async def get_folder_lists(sandbox: Sandbox, request: Request, caller: Caller) -> Any:
    folder = _folder(sandbox, caller, request.path_params["folder_id"])
    return {
        "lists": [
            render.task_list(sandbox.world, x)
            for x in sandbox.world.lists.values()
            if x.folder_id == folder.id and _archived_match(sandbox, request, x.archived)
        ]
    }


async def get_folderless_lists(sandbox: Sandbox, request: Request, caller: Caller) -> Any:
    space = _space(sandbox, caller, request.path_params["space_id"])
    return {
        "lists": [
            render.task_list(sandbox.world, x)
            for x in sandbox.world.lists.values()
            if x.space_id == space.id and x.folder_id is None and _archived_match(sandbox, request, x.archived)
        ]
    }


async def get_list(sandbox: Sandbox, request: Request, caller: Caller) -> Any:
    return render.task_list(sandbox.world, _list(sandbox, caller, request.path_params["list_id"]), detail=True)


# ---------------------------------------------------------------- tasks


def _query_key(params: Any) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in params.multi_items() if k != "page"))


async def get_list_tasks(sandbox: Sandbox, request: Request, caller: Caller) -> Any:
    task_list = _list(sandbox, caller, request.path_params["list_id"])
    params = request.query_params
    number = query.page_number(params)
    timl = query.flag(params, "include_timl")

    def select() -> list[Task]:
        candidates = [
            t
            for t in sandbox.world.tasks.values()
            if t.list_id == task_list.id or (timl and task_list.id in t.other_lists)
        ]
        return query.select(sandbox.world, candidates, params, archived_mode=sandbox.archived_mode)

    chosen: list[Task] = sandbox.memo(("list-tasks", task_list.id, _query_key(params)), select)
    chunk, last = query.page(chosen, number)
    waiters = sandbox.waiters()
    return {"tasks": [render.task(sandbox.world, t, waiters=waiters) for t in chunk], "last_page": last}


async def get_team_tasks(sandbox: Sandbox, request: Request, caller: Caller) -> Any:
    team = _team(sandbox, caller, request.path_params["team_id"])
    world, params = sandbox.world, request.query_params
    number = query.page_number(params)
    spaces, folders, lists = (set(query.many(params, n)) for n in ("space_ids", "project_ids", "list_ids"))
    parent = params.get("parent")

    def located(task: Task) -> bool:
        home = world.lists[task.list_id]
        if world.spaces[home.space_id].team_id != team.id:
            return False
        if spaces and home.space_id not in spaces:
            return False
        if folders and home.folder_id not in folders:
            return False
        if lists and not ({home.id, *task.other_lists} & lists):
            return False
        return parent is None or task.parent == parent

    # Oldest first from a date_created cursor (how an importer pages): the selection without the cursor
    # is cached once and the cursor found by bisection; a cache key holding the moving cursor made
    # every page filter and sort the whole workspace again (190 ms a page at 100,000 tasks).
    after = params.get("date_created_gt")
    by_cursor = params.get("order_by") == "created" and query.flag(params, "reverse") and bool(after)
    selection = (
        QueryParams([(k, v) for k, v in params.multi_items() if k != "date_created_gt"]) if by_cursor else params
    )
    chosen: list[Task] = sandbox.memo(
        ("team-tasks", team.id, _query_key(selection)),
        lambda: query.select(
            world, [t for t in world.tasks.values() if located(t)], selection, archived_mode=sandbox.archived_mode
        ),
    )
    if by_cursor:
        bound = query.ms_filter(params, "date_created_gt")
        chosen = chosen[bisect.bisect_right(chosen, bound, key=lambda t: t.date_created) :]
    chunk, _ = query.page(chosen, number)
    waiters = sandbox.waiters()
    return {"tasks": [render.task(world, t, waiters=waiters) for t in chunk]}


async def get_task(sandbox: Sandbox, request: Request, caller: Caller) -> Any:
    task = _task(sandbox, request, caller, request.path_params["task_id"])
    return render.task(sandbox.world, task, include_subtasks=query.flag(request.query_params, "include_subtasks"))


async def get_task_comments(sandbox: Sandbox, request: Request, caller: Caller) -> Any:
    task = _task(sandbox, request, caller, request.path_params["task_id"])
    comments = sorted(sandbox.world.comments.get(task.id, []), key=lambda c: (c.date, c.id), reverse=True)
    start, start_id = request.query_params.get("start"), request.query_params.get("start_id")
    if start is not None and start_id is not None:
        if not start.isdigit():
            raise ApiError(400, "start must be a Unix time in milliseconds", "INPUT_003")
        cursor = (int(start), start_id)
        comments = [c for c in comments if (c.date, c.id) < cursor]
    return {"comments": [render.comment(sandbox.world, c) for c in comments[:25]]}


# ---------------------------------------------------------------- fields, members, tags


async def get_list_fields(sandbox: Sandbox, request: Request, caller: Caller) -> Any:
    task_list = _list(sandbox, caller, request.path_params["list_id"])
    return {"fields": [render.field_def(sandbox.world.fields[f]) for f in task_list.field_ids]}


async def get_list_members(sandbox: Sandbox, request: Request, caller: Caller) -> Any:
    task_list = _list(sandbox, caller, request.path_params["list_id"])
    team = sandbox.world.teams[sandbox.world.spaces[task_list.space_id].team_id]
    return {"members": [render.user_ref(sandbox.world.users[m.user_id]) for m in team.members]}


async def get_space_tags(sandbox: Sandbox, request: Request, caller: Caller) -> Any:
    space = _space(sandbox, caller, request.path_params["space_id"])
    return {"tags": [{"name": t.name, "tag_fg": t.fg, "tag_bg": t.bg, "creator": t.creator} for t in space.tags]}


# ---------------------------------------------------------------- webhooks


def _webhook_body(raw: Any) -> tuple[str, list[str], dict[str, Any]]:
    if not isinstance(raw, dict):
        raise ApiError(400, "Body must be a JSON object", "INPUT_005")
    endpoint_url = raw.get("endpoint")
    if not isinstance(endpoint_url, str) or not endpoint_url.startswith(("http://", "https://")):
        raise ApiError(400, "endpoint must be an http(s) URL", "WEBHOOK_001")
    events = raw.get("events")
    if events == "*":
        events = ["*"]
    if not isinstance(events, list) or not events or any(e != "*" and e not in ALL_EVENTS for e in events):
        raise ApiError(400, "events must be '*' or a list of known event names", "WEBHOOK_002")
    location = {k: raw[k] for k in ("space_id", "folder_id", "list_id", "task_id") if raw.get(k) is not None}
    return endpoint_url, events, location


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"{}")
    except json.JSONDecodeError:
        raise ApiError(400, "Body is not valid JSON", "INPUT_005") from None


async def create_webhook(sandbox: Sandbox, request: Request, caller: Caller) -> Any:
    team = _team(sandbox, caller, request.path_params["team_id"])
    endpoint_url, events, location = _webhook_body(await _json(request))
    for existing in sandbox.hub.webhooks.values():
        if existing.team_id == int(team.id) and existing.endpoint == endpoint_url and existing.userid == caller.user_id:
            raise ApiError(400, "Webhook configuration already exists", "WEBHOOK_003")
    hook = sandbox.hub.create(
        caller.user_id, int(team.id), endpoint_url, events, client_id=caller.client_id, **location
    )
    return {"id": hook.id, "webhook": hook.render()}


async def list_webhooks(sandbox: Sandbox, request: Request, caller: Caller) -> Any:
    team = _team(sandbox, caller, request.path_params["team_id"])
    mine = [h for h in sandbox.hub.webhooks.values() if h.team_id == int(team.id) and h.userid == caller.user_id]
    return {"webhooks": [h.render() for h in mine]}


async def update_webhook(sandbox: Sandbox, request: Request, caller: Caller) -> Any:
    hook = sandbox.hub.webhooks.get(request.path_params["webhook_id"])
    if hook is None or hook.userid != caller.user_id:
        raise sandbox.unknown("Webhook")
    _team(sandbox, caller, str(hook.team_id))
    raw = await _json(request)
    if not isinstance(raw, dict):
        raise ApiError(400, "Body must be a JSON object", "INPUT_005")
    if "endpoint" in raw or "events" in raw:
        endpoint_url, events, _ = _webhook_body(
            {"endpoint": raw.get("endpoint", hook.endpoint), "events": raw.get("events", hook.events)}
        )
        hook.endpoint, hook.events = endpoint_url, events
    if raw.get("status") == "active":
        hook.status, hook.fail_count = "active", 0
    return {"id": hook.id, "webhook": hook.render()}


async def delete_webhook(sandbox: Sandbox, request: Request, caller: Caller) -> Any:
    hook = sandbox.hub.webhooks.get(request.path_params["webhook_id"])
    if hook is None or hook.userid != caller.user_id:
        raise sandbox.unknown("Webhook")
    _team(sandbox, caller, str(hook.team_id))
    del sandbox.hub.webhooks[hook.id]
    return {}


# ---------------------------------------------------------------- oauth


_TOKEN_PARAMS = ("client_id", "client_secret", "code")


async def _token_params(request: Request) -> dict[str, str]:
    """The spec's query parameters, else a JSON or form-encoded body (both are sent in the wild)."""
    params: dict[str, str] = {}
    raw = await request.body()
    if raw:
        try:
            data: Any = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            data = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        if isinstance(data, dict):
            params.update({k: str(v) for k, v in data.items() if k in _TOKEN_PARAMS and v is not None})
    params.update({k: v for k, v in request.query_params.items() if k in _TOKEN_PARAMS})
    return params


async def oauth_token(request: Request) -> Response:
    """``POST /oauth/token``: 200 ``{"access_token": ...}`` and nothing else, or 400 OAUTH_010/OAUTH_015."""
    sandbox: Sandbox = request.app.state.sandbox
    params = await _token_params(request)
    try:
        token = sandbox.exchange_code(*(params.get(k, "") for k in _TOKEN_PARAMS))
    except OAuthError as exc:
        return error_response(ApiError(exc.status, exc.err, exc.ecode))
    return JSONResponse({"access_token": token})


def routes() -> list[Route]:
    v2 = "/api/v2"
    table: list[tuple[str, Endpoint, list[str]]] = [
        ("/user", get_user, ["GET"]),
        ("/team", get_teams, ["GET"]),
        ("/team/{team_id}/space", get_spaces, ["GET"]),
        ("/team/{team_id}/task", get_team_tasks, ["GET"]),
        ("/team/{team_id}/webhook", create_webhook, ["POST"]),
        ("/team/{team_id}/webhook", list_webhooks, ["GET"]),
        ("/space/{space_id}", get_space, ["GET"]),
        ("/space/{space_id}/folder", get_folders, ["GET"]),
        ("/space/{space_id}/list", get_folderless_lists, ["GET"]),
        ("/space/{space_id}/tag", get_space_tags, ["GET"]),
        ("/folder/{folder_id}", get_folder, ["GET"]),
        ("/folder/{folder_id}/list", get_folder_lists, ["GET"]),
        ("/list/{list_id}", get_list, ["GET"]),
        ("/list/{list_id}/task", get_list_tasks, ["GET"]),
        ("/list/{list_id}/field", get_list_fields, ["GET"]),
        ("/list/{list_id}/member", get_list_members, ["GET"]),
        ("/task/{task_id}", get_task, ["GET"]),
        ("/task/{task_id}/comment", get_task_comments, ["GET"]),
        ("/webhook/{webhook_id}", update_webhook, ["PUT"]),
        ("/webhook/{webhook_id}", delete_webhook, ["DELETE"]),
    ]
    built = [Route(v2 + path, endpoint(handler), methods=methods) for path, handler, methods in table]
    built.append(Route(v2 + "/oauth/token", oauth_token, methods=["POST"]))
    return built
