"""The sandbox's admin API under ``/_sandbox``: mutate the workspace, steer webhook deliveries.

Every mutation bumps ``date_updated`` and emits the webhook events ClickUp would send for it.
Errors are JSON ``{"error": ...}`` with a 4xx status.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.admin_requests import AdminError, json_body
from sandbox.clickup import events, render
from sandbox.clickup.generator import GeneratorConfig, generate
from sandbox.clickup.model import PRIORITIES, Folder, Space, Task, TaskList, World
from sandbox.clickup.oauth import CODE_TTL_SECONDS, DEFAULT_CLIENT_ID, Grant, OAuthClient, valid_redirect_uri
from sandbox.clickup.state import Fault, Sandbox


def _sandbox(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


def _get(mapping: dict[str, Any], key: str, what: str) -> Any:
    if key not in mapping:
        raise AdminError(404, f"no {what} {key!r}")
    return mapping[key]


def _actor(world: World, team_id: str) -> Any:
    return world.users[world.teams[team_id].members[0].user_id]


def _team_of_list(world: World, list_id: str) -> str:
    return world.spaces[world.lists[list_id].space_id].team_id


# ---------------------------------------------------------------- tasks


async def create_task(request: Request) -> Response:
    sandbox = _sandbox(request)
    world, body = sandbox.world, await json_body(request)
    list_id = str(body.get("list_id", ""))
    home: TaskList = _get(world.lists, list_id, "list")
    parent = body.get("parent")
    if parent is not None:
        parent_task: Task = _get(world.tasks, str(parent), "task")
        if parent_task.list_id != list_id:
            raise AdminError(400, "Parent not child of list (ClickUp ITEM_137)")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise AdminError(400, "name must be a non-empty string")
    now = sandbox.now_ms()
    space = world.spaces[home.space_id]
    status = str(body.get("status") or space.statuses[0].status)
    if status not in {s.status for s in space.statuses}:
        raise AdminError(400, f"unknown status {status!r}")
    task = Task(
        id=f"86sb{world.next_id()}",
        list_id=list_id,
        name=name,
        status=status,
        creator=_actor(world, space.team_id).id,
        date_created=now,
        date_updated=now,
        parent=str(parent) if parent is not None else None,
    )
    world.tasks[task.id] = task
    actor = _actor(world, space.team_id)
    created = events.history_item(
        "status",
        list_id,
        actor,
        now,
        events.status_ref(None),
        events.status_ref(world.status_of(task)),
        {"status_type": "open"},
    )
    creation = events.history_item("task_creation", list_id, actor, now, None, None)
    sandbox.hub.emit(space.team_id, events.task_event("taskCreated", task.id, [created, creation]))
    sandbox.hub.emit(space.team_id, events.task_event("taskStatusUpdated", task.id, [created]))
    return JSONResponse(render.task(world, task), status_code=201)


async def update_task(request: Request) -> Response:
    sandbox = _sandbox(request)
    world, body = sandbox.world, await json_body(request)
    task: Task = _get(world.tasks, request.path_params["task_id"], "task")
    team_id = world.team_of_task(task).id
    actor = _actor(world, team_id)
    now = sandbox.now_ms()
    emitted: list[tuple[str, dict[str, Any]]] = []
    if "name" in body:
        if not isinstance(body["name"], str) or not body["name"].strip():
            raise AdminError(400, "name must be a non-empty string")
        emitted.append(("taskUpdated", events.history_item("name", task.list_id, actor, now, task.name, body["name"])))
        task.name = body["name"]
    if "status" in body:
        before = world.status_of(task)
        statuses = {s.status: s for s in world.space_of_list(task.list_id).statuses}
        if body["status"] not in statuses:
            raise AdminError(400, f"unknown status {body['status']!r}")
        task.status = body["status"]
        after = statuses[task.status]
        closed = after.type == "closed"
        task.date_closed = now if closed else None
        task.date_done = now if closed else None
        emitted.append(
            (
                "taskStatusUpdated",
                events.history_item(
                    "status",
                    task.list_id,
                    actor,
                    now,
                    events.status_ref(before),
                    events.status_ref(after),
                    {"status_type": after.type},
                ),
            )
        )
    if "priority" in body:
        value = body["priority"]
        if value is not None and value not in PRIORITIES:
            raise AdminError(400, "priority must be 1-4 or null")
        task.priority = value
        after_priority = (
            None
            if value is None
            else {
                "id": str(value),
                "priority": PRIORITIES[value][0],
                "color": PRIORITIES[value][1],
                "orderindex": str(value),
            }
        )
        emitted.append(
            ("taskPriorityUpdated", events.history_item("priority", task.list_id, actor, now, None, after_priority))
        )
    if "due_date" in body:
        value = body["due_date"]
        before_due = None if task.due_date is None else str(task.due_date)
        task.due_date = None if value is None else int(value)
        emitted.append(
            (
                "taskDueDateUpdated",
                events.history_item(
                    "due_date", task.list_id, actor, now, before_due, None if value is None else str(value)
                ),
            )
        )
    if "assignees" in body:
        wanted = [int(u) for u in body["assignees"]]
        for user_id in wanted:
            _get(world.users, user_id, "user")  # type: ignore[arg-type]
        for user_id in sorted(set(wanted) - set(task.assignees)):
            emitted.append(
                (
                    "taskAssigneeUpdated",
                    events.history_item(
                        "assignee_add", task.list_id, actor, now, None, render.user_short(world.users[user_id])
                    ),
                )
            )
        for user_id in sorted(set(task.assignees) - set(wanted)):
            emitted.append(
                (
                    "taskAssigneeUpdated",
                    events.history_item(
                        "assignee_rem", task.list_id, actor, now, render.user_short(world.users[user_id]), None
                    ),
                )
            )
        task.assignees = wanted
    if "tags" in body:
        task.tags = [str(t) for t in body["tags"]]
        emitted.append(
            (
                "taskTagUpdated",
                events.history_item(
                    "tag",
                    task.list_id,
                    actor,
                    now,
                    None,
                    [{"name": t, "tag_fg": "#800000", "tag_bg": "#2ecd6f", "creator": actor.id} for t in task.tags],
                ),
            )
        )
    if "archived" in body:
        task.archived = bool(body["archived"])
        emitted.append(("taskUpdated", events.history_item("archived", task.list_id, actor, now, None, task.archived)))
    if "time_estimate" in body:
        task.time_estimate = body["time_estimate"]
        emitted.append(
            (
                "taskTimeEstimateUpdated",
                events.history_item(
                    "time_estimate",
                    task.list_id,
                    actor,
                    now,
                    None,
                    None if task.time_estimate is None else str(task.time_estimate),
                ),
            )
        )
    known = {"name", "status", "priority", "due_date", "assignees", "tags", "archived", "time_estimate"}
    if not known & set(body):
        raise AdminError(400, f"nothing to change: give any of {', '.join(sorted(known))}")
    if not emitted:  # the same values again: ClickUp accepts it and nothing happens
        return JSONResponse(render.task(world, task))
    task.date_updated = now
    for event, item in emitted:
        sandbox.hub.emit(team_id, events.task_event(event, task.id, [item]))
    return JSONResponse(render.task(world, task))


async def move_task(request: Request) -> Response:
    sandbox = _sandbox(request)
    world, body = sandbox.world, await json_body(request)
    task: Task = _get(world.tasks, request.path_params["task_id"], "task")
    target = str(body.get("list_id", ""))
    _get(world.lists, target, "list")
    if task.parent is not None:
        raise AdminError(400, "subtasks move with their parent")
    before = events.list_ref(world, task.list_id)
    now = sandbox.now_ms()
    world.move_task(task.id, target, now)
    actor = _actor(world, world.team_of_task(task).id)
    item = events.history_item("section_moved", target, actor, now, before, events.list_ref(world, target))
    sandbox.hub.emit(world.team_of_task(task).id, events.task_event("taskMoved", task.id, [item]))
    return JSONResponse(render.task(world, task))


async def delete_task(request: Request) -> Response:
    sandbox = _sandbox(request)
    world = sandbox.world
    task: Task = _get(world.tasks, request.path_params["task_id"], "task")
    team_id = world.team_of_task(task).id
    deleted = world.delete_task(task.id)
    sandbox.hub.emit(team_id, events.task_event("taskDeleted", task.id))
    return JSONResponse({"deleted": deleted})


# ---------------------------------------------------------------- hierarchy


async def create_list(request: Request) -> Response:
    sandbox = _sandbox(request)
    world, body = sandbox.world, await json_body(request)
    space: Space = _get(world.spaces, str(body.get("space_id", "")), "space")
    folder_id = body.get("folder_id")
    if folder_id is not None:
        folder: Folder = _get(world.folders, str(folder_id), "folder")
        if folder.space_id != space.id:
            raise AdminError(400, "folder is in another space")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise AdminError(400, "name must be a non-empty string")
    list_id = str(901300000000 + int(world.next_id()))
    fields = next((x.field_ids for x in world.lists.values() if x.space_id == space.id), [])
    world.lists[list_id] = TaskList(
        list_id, space.id, None if folder_id is None else str(folder_id), name, field_ids=list(fields)
    )
    sandbox.hub.emit(space.team_id, events.object_event("listCreated", "list_id", list_id))
    sandbox.hub.emit(space.team_id, events.object_event("spaceUpdated", "space_id", space.id))
    return JSONResponse(render.task_list(world, world.lists[list_id]), status_code=201)


_KINDS = {"lists": ("list", "list_id"), "folders": ("folder", "folder_id"), "spaces": ("space", "space_id")}


async def update_container(request: Request) -> Response:
    sandbox = _sandbox(request)
    world, body = sandbox.world, await json_body(request)
    kind = request.path_params["kind"]
    if kind not in _KINDS:
        raise AdminError(404, f"unknown kind {kind!r}")
    store: dict[str, Any] = getattr(world, kind)
    item = _get(store, request.path_params["item_id"], _KINDS[kind][0])
    if not body or set(body) - {"name", "archived"}:
        raise AdminError(400, "give name and/or archived")
    before = item.name
    if "name" in body:
        if not isinstance(body["name"], str) or not body["name"].strip():
            raise AdminError(400, "name must be a non-empty string")
        item.name = body["name"]
    if "archived" in body:
        item.archived = bool(body["archived"])
    team_id = item.team_id if isinstance(item, Space) else world.spaces[item.space_id].team_id
    payload = events.object_event(f"{_KINDS[kind][0]}Updated", _KINDS[kind][1], item.id)
    if kind == "lists":  # listUpdated carries history (a UUID id, type 6); folder/space updates carry only ids
        actor = _actor(world, team_id)
        payload["history_items"] = [
            {
                **events.history_item("name", item.id, actor, sandbox.now_ms(), before, item.name),
                "id": str(uuid.uuid4()),
                "type": 6,
            }
        ]
    sandbox.hub.emit(team_id, payload)
    return JSONResponse({"id": item.id, "name": item.name, "archived": item.archived})


async def delete_container(request: Request) -> Response:
    sandbox = _sandbox(request)
    world = sandbox.world
    kind = request.path_params["kind"]
    if kind not in _KINDS:
        raise AdminError(404, f"unknown kind {kind!r}")
    item = _get(getattr(world, kind), request.path_params["item_id"], _KINDS[kind][0])
    team_id = item.team_id if isinstance(item, Space) else world.spaces[item.space_id].team_id
    {"lists": world.delete_list, "folders": world.delete_folder, "spaces": world.delete_space}[kind](item.id)
    sandbox.hub.emit(team_id, events.object_event(f"{_KINDS[kind][0]}Deleted", _KINDS[kind][1], item.id))
    return JSONResponse({"deleted": item.id})


# ---------------------------------------------------------------- control


async def reset(request: Request) -> Response:
    from sandbox.clickup.fixtures import test_vector_world

    sandbox, body = _sandbox(request), await json_body(request)
    try:
        world = (
            test_vector_world()
            if body.get("fixture") == "test-vectors"
            else generate(GeneratorConfig.from_mapping(body.get("generator", {})))
        )
    except (ValueError, TypeError) as exc:
        raise AdminError(400, str(exc)) from None
    sandbox.world = world
    sandbox.faults.clear()
    sandbox.oauth.forget_grants()
    return JSONResponse(summary(world))


async def configure(request: Request) -> Response:
    sandbox, body = _sandbox(request), await json_body(request)
    try:
        sandbox.configure(body)
    except (ValueError, TypeError) as exc:
        raise AdminError(400, str(exc)) from None
    return JSONResponse({"ok": True})


async def add_faults(request: Request) -> Response:
    sandbox, body = _sandbox(request), await json_body(request)
    rules = body.get("faults")
    if not isinstance(rules, list):
        raise AdminError(400, 'give {"faults": [{"path": regex, "status"?, "delay_seconds"?, "malformed"?, "times"?}]}')
    try:
        added = [Fault(**rule) for rule in rules]
    except TypeError as exc:
        raise AdminError(400, f"bad fault rule: {exc}") from None
    sandbox.faults.extend(added)
    return JSONResponse({"faults": len(sandbox.faults)})


async def clear_faults(request: Request) -> Response:
    _sandbox(request).faults.clear()
    return JSONResponse({"faults": 0})


async def issue_token(request: Request) -> Response:
    sandbox, body = _sandbox(request), await json_body(request)
    user_id = body.get("user_id")
    if user_id not in sandbox.world.users:
        raise AdminError(404, f"no user {user_id!r}")
    token = f"pk_{user_id}_{secrets.token_hex(16).upper()}"
    sandbox.world.tokens[token] = int(user_id)
    return JSONResponse({"token": token}, status_code=201)


async def issue_oauth_code(request: Request) -> Response:
    """A code as if the user had approved the consent page: ``{"user_id", "team_ids"?: all of the
    user's, "client_id"?: "sandbox-client", "redirect_uri"?}`` -> 200 ``{"code", "client_id",
    "client_secret", "team_ids", "redirect_uri", "expires_in"}``."""
    sandbox, body = _sandbox(request), await json_body(request)
    world = sandbox.world
    user_id = body.get("user_id")
    if isinstance(user_id, bool) or user_id not in world.users:
        raise AdminError(404, f"no user {user_id!r}")
    client_id = body.get("client_id", DEFAULT_CLIENT_ID)
    client: OAuthClient = _get(sandbox.oauth.clients, str(client_id), "OAuth client")
    mine = [t.id for t in world.teams_of_user(int(user_id))]
    wanted = body.get("team_ids")
    if wanted is None:
        team_ids = mine
    elif isinstance(wanted, list) and all(isinstance(t, str | int) and not isinstance(t, bool) for t in wanted):
        team_ids = list(dict.fromkeys(str(t) for t in wanted))
    else:
        raise AdminError(400, "team_ids must be a list of workspace ids")
    strangers = [t for t in team_ids if t not in mine]
    if strangers:
        raise AdminError(400, f"user {user_id} is not a member of workspace(s) {', '.join(strangers)}")
    if not team_ids:
        raise AdminError(400, f"no workspace to grant: user {user_id} belongs to none, or team_ids is empty")
    redirect_uri = body.get("redirect_uri")
    if redirect_uri is not None and (not isinstance(redirect_uri, str) or not client.allows(redirect_uri)):
        raise AdminError(400, f"redirect_uri is not registered for client {client.client_id!r} (ClickUp OAUTH_007)")
    code = sandbox.oauth.issue_code(client.client_id, int(user_id), team_ids, redirect_uri)
    return JSONResponse(
        {
            "code": code,
            "client_id": client.client_id,
            "client_secret": client.secret,
            "team_ids": team_ids,
            "redirect_uri": redirect_uri,
            "expires_in": int(CODE_TTL_SECONDS),
        }
    )


async def register_oauth_client(request: Request) -> Response:
    """An OAuth app: ``{"client_id", "client_secret", "redirect_uris": [...], "name"?}`` -> 201; replaces
    an app with the same id."""
    sandbox, body = _sandbox(request), await json_body(request)
    client_id, secret, uris = body.get("client_id"), body.get("client_secret"), body.get("redirect_uris")
    if not isinstance(client_id, str) or not client_id:
        raise AdminError(400, "client_id must be a non-empty string")
    if not isinstance(secret, str) or not secret:
        raise AdminError(400, "client_secret must be a non-empty string")
    if not isinstance(uris, list) or not all(isinstance(u, str) and valid_redirect_uri(u) for u in uris):
        raise AdminError(400, "redirect_uris must be a list of absolute http(s) URLs without fragments")
    name = body.get("name", client_id)
    if not isinstance(name, str) or not name.strip():
        raise AdminError(400, "name must be a non-empty string")
    sandbox.oauth.register(OAuthClient(client_id, secret, tuple(uris), name))
    return JSONResponse({"client_id": client_id, "name": name, "redirect_uris": uris}, status_code=201)


def _grant(grant: Grant) -> dict[str, Any]:
    return {"client_id": grant.client_id, "user_id": grant.user_id, "team_ids": sorted(grant.team_ids)}


async def revoke_oauth_token(request: Request) -> Response:
    """The user removes the app's access: ``{"token"}`` -> 200 ``{"revoked": true, "client_id", "user_id",
    "team_ids"}`` (again for a revoked token); 404 for a token that is not an OAuth access token."""
    sandbox, body = _sandbox(request), await json_body(request)
    token = body.get("token")
    if not isinstance(token, str) or not token:
        raise AdminError(400, 'give {"token": "<an OAuth access token>"}')
    grant = sandbox.revoke_token(token)
    if grant is None:
        raise AdminError(404, "no OAuth access token like that (personal tokens cannot be revoked here)")
    return JSONResponse({"revoked": True, **_grant(grant)})


async def register_webhook(request: Request) -> Response:
    """Register a webhook with a chosen id and secret (to replay documented deliveries byte for byte)."""
    sandbox, body = _sandbox(request), await json_body(request)
    team: Any = _get(sandbox.world.teams, str(body.get("team_id", "")), "team")
    endpoint_url, secret = body.get("endpoint"), body.get("secret")
    if not isinstance(endpoint_url, str) or not endpoint_url.startswith(("http://", "https://")):
        raise AdminError(400, "endpoint must be an http(s) URL")
    if secret is not None and (not isinstance(secret, str) or not secret):
        raise AdminError(400, "secret must be a non-empty string")
    hook = sandbox.hub.create(team.members[0].user_id, int(team.id), endpoint_url, list(body.get("events", ["*"])))
    if body.get("id"):
        del sandbox.hub.webhooks[hook.id]
        hook.id = str(body["id"])
        sandbox.hub.webhooks[hook.id] = hook
    if secret:
        hook.secret = secret
    return JSONResponse({"id": hook.id, "webhook": hook.render()}, status_code=201)


async def deliver(request: Request) -> Response:
    """Send one signed delivery now: ``{"payload": {...}, "corrupt"?: "signature"|"body", "duplicate"?: n}``."""
    sandbox, body = _sandbox(request), await json_body(request)
    hook = _get(sandbox.hub.webhooks, request.path_params["webhook_id"], "webhook")
    payload = body.get("payload")
    if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
        raise AdminError(400, 'give {"payload": {"event": ..., ...}}')
    corrupt = body.get("corrupt")
    if corrupt not in (None, "signature", "body"):
        raise AdminError(400, "corrupt must be 'signature' or 'body'")
    for _ in range(int(body.get("duplicate", 1))):
        sandbox.hub.enqueue(hook, payload, corrupt=corrupt)
    async with asyncio.timeout(60):
        await sandbox.hub.idle()
    return JSONResponse({"deliveries": _deliveries(sandbox, hook.id)[-int(body.get("duplicate", 1)) :]})


async def flush(request: Request) -> Response:
    sandbox, body = _sandbox(request), await json_body(request)
    count = sandbox.hub.flush(
        duplicate=int(body.get("duplicate", 1)), shuffle=bool(body.get("shuffle", False)), seed=body.get("seed")
    )
    if body.get("wait", True):
        async with asyncio.timeout(float(body.get("timeout", 60))):
            await sandbox.hub.idle()
    return JSONResponse({"flushed": count, "held": len(sandbox.hub.held)})


def _deliveries(sandbox: Sandbox, webhook_id: str | None = None) -> list[dict[str, Any]]:
    return [
        {
            "webhook_id": d.webhook_id,
            "event": d.event,
            "body": d.body.decode(),
            "signature": d.signature,
            "attempts": d.attempts,
            "status": d.status,
            "delivered": d.delivered,
        }
        for d in sandbox.hub.log
        if webhook_id is None or d.webhook_id == webhook_id
    ]


async def deliveries(request: Request) -> Response:
    return JSONResponse({"deliveries": _deliveries(_sandbox(request))})


def summary(world: World) -> dict[str, Any]:
    return {
        "teams": len(world.teams),
        "spaces": len(world.spaces),
        "folders": len(world.folders),
        "lists": len(world.lists),
        "tasks": len(world.tasks),
        "users": len(world.users),
        "tokens": sorted(world.tokens),
    }


async def state(request: Request) -> Response:
    sandbox = _sandbox(request)
    return JSONResponse(
        {
            **summary(sandbox.world),
            "requests": sandbox.requests,
            "rate_limited": sandbox.limiter.rejected,
            "calls": dict(sorted(sandbox.calls.items())),  # answered (2xx) API requests per "METHOD path"
            "rate_windows": [vars(window) for window in sandbox.limiter.windows()],
        }
    )


async def export(request: Request) -> Response:
    """The whole world in plain form, for tests that compute expectations independently."""
    world = _sandbox(request).world
    return JSONResponse(
        {
            "users": [vars(u) for u in world.users.values()],
            "teams": [
                {"id": t.id, "name": t.name, "members": [vars(m) for m in t.members]} for t in world.teams.values()
            ],
            "spaces": [
                {k: v for k, v in vars(s).items() if k not in ("statuses", "tags")}
                | {"statuses": [vars(x) for x in s.statuses], "tags": [vars(x) for x in s.tags]}
                for s in world.spaces.values()
            ],
            "folders": [vars(f) for f in world.folders.values()],
            "lists": [vars(x) for x in world.lists.values()],
            "fields": [vars(f) for f in world.fields.values()],
            "tasks": [
                {k: v for k, v in vars(t).items() if k != "checklists"}
                | {
                    "checklists": [
                        {**{k: v for k, v in vars(c).items() if k != "items"}, "items": [vars(i) for i in c.items]}
                        for c in t.checklists
                    ]
                }
                for t in world.tasks.values()
            ],
            "comments": {task_id: [vars(c) for c in items] for task_id, items in world.comments.items()},
        }
    )


def routes() -> list[Route]:
    def guard(handler: Any) -> Any:
        async def wrapped(request: Request) -> Response:
            try:
                response: Response = await handler(request)
            except AdminError as exc:
                return JSONResponse({"error": exc.message}, status_code=exc.status)
            finally:
                if request.method != "GET":
                    _sandbox(request).touch()  # the world may have changed: drop cached views
            return response

        return wrapped

    table = [
        ("/_sandbox/state", state, ["GET"]),
        ("/_sandbox/export", export, ["GET"]),
        ("/_sandbox/reset", reset, ["POST"]),
        ("/_sandbox/config", configure, ["PUT"]),
        ("/_sandbox/faults", add_faults, ["POST"]),
        ("/_sandbox/faults", clear_faults, ["DELETE"]),
        ("/_sandbox/tokens", issue_token, ["POST"]),
        ("/_sandbox/oauth/codes", issue_oauth_code, ["POST"]),
        ("/_sandbox/oauth/clients", register_oauth_client, ["POST"]),
        ("/_sandbox/oauth/revoke", revoke_oauth_token, ["POST"]),
        ("/_sandbox/tasks", create_task, ["POST"]),
        ("/_sandbox/tasks/{task_id}", update_task, ["PATCH"]),
        ("/_sandbox/tasks/{task_id}", delete_task, ["DELETE"]),
        ("/_sandbox/tasks/{task_id}/move", move_task, ["POST"]),
        ("/_sandbox/lists", create_list, ["POST"]),
        ("/_sandbox/{kind}/{item_id}", update_container, ["PATCH"]),
        ("/_sandbox/{kind}/{item_id}", delete_container, ["DELETE"]),
        ("/_sandbox/webhooks", register_webhook, ["POST"]),
        ("/_sandbox/webhooks/{webhook_id}/deliver", deliver, ["POST"]),
        ("/_sandbox/webhooks/flush", flush, ["POST"]),
        ("/_sandbox/deliveries", deliveries, ["GET"]),
    ]
    return [Route(path, guard(handler), methods=methods) for path, handler, methods in table]
