"""Applying one ClickUp webhook event to the graph.

Payloads are thin, so every event re-fetches the object's current state by id and writes it
through the import's writer: duplicates and out-of-order arrivals then converge (the monotonic
guard drops anything older than what is stored). A fetch answering 404 or 401 ``OAUTH_023``
means the object is gone: it is deleted like a ``*Deleted`` event, with its subtree.
"""

from __future__ import annotations

import contextlib
import secrets
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from graph.rows import Rows
from graph.writer import GraphWriter
from server.integrations.clickup import transform
from server.integrations.clickup.client import ClickUpClient
from server.integrations.clickup.errors import (
    ClickUpError,
    ClickUpNotAuthorized,
    ClickUpNotFound,
    ClickUpResponseError,
    ClickUpWebhookExists,
)
from server.integrations.clickup.importer import fetch_comments
from server.integrations.field_map import FieldMap

KINDS = {"task": "Task", "list": "List", "folder": "Folder", "space": "Space"}
MAX_SUBTASK_DEPTH = 7  # ClickUp nests subtasks at most this deep


def kind_of(event: str) -> tuple[str, str] | None:
    """``taskStatusUpdated`` -> ("Task", "Updated"); None for events the graph does not model."""
    for prefix, label in KINDS.items():
        if event.startswith(prefix) and event[len(prefix) : len(prefix) + 1].isupper():
            return label, "Deleted" if event.endswith("Deleted") else "Changed"
    return None


async def apply_event(
    client: ClickUpClient,
    writer: GraphWriter,
    event: str,
    object_id: str,
    workspace_id: str,
    include_comments: bool,
    run_id: str,
    mapping: FieldMap = transform.NO_MAPPING,
) -> str:
    kind = kind_of(event)
    if kind is None or not object_id:
        return "ignored"
    label, change = kind
    if change == "Deleted":
        await writer.delete(label, object_id, run_id)
        return "deleted"
    path = {
        "Task": f"/task/{object_id}",
        "List": f"/list/{object_id}",
        "Folder": f"/folder/{object_id}",
        "Space": f"/space/{object_id}",
    }[label]
    try:
        body: Any = await client.get(path, {"include_subtasks": True} if label == "Task" else None)
    except (ClickUpNotFound, ClickUpNotAuthorized):
        await writer.delete(label, object_id, run_id)
        return "deleted (gone from ClickUp)"
    if not isinstance(body, dict):
        body = {}
    rows = Rows()
    if label == "Task":
        rows.extend(transform.task(body, workspace_id, mapping))
        children = [sub for sub in body.get("subtasks") or [] if isinstance(sub, dict)]
        for sub in children:
            rows.extend(transform.task(sub, workspace_id, mapping))
        if event == "taskMoved":
            rows.extend(await _deeper_subtasks(client, children, workspace_id, mapping))
        if include_comments:
            rows.extend(await fetch_comments(client, object_id, workspace_id))
    elif label == "List":
        folder = body.get("folder") if isinstance(body.get("folder"), dict) else {}
        space = body.get("space") if isinstance(body.get("space"), dict) else {}
        folder_id = None if folder.get("hidden") else str(folder.get("id") or "") or None
        rows.extend(transform.task_list(body, workspace_id, str(space.get("id") or ""), folder_id))
    elif label == "Folder":
        space = body.get("space") if isinstance(body.get("space"), dict) else {}
        rows.extend(transform.folder(body, workspace_id, str(space.get("id") or "")))
        for item in body.get("lists") or []:
            if isinstance(item, dict):
                rows.extend(transform.task_list(item, workspace_id, str(space.get("id") or ""), str(body.get("id"))))
    else:
        rows.extend(transform.space(body, workspace_id))
    await writer.write(rows, run_id)
    return "written"


async def _deeper_subtasks(
    client: ClickUpClient, children: list[dict[str, Any]], workspace_id: str, mapping: FieldMap
) -> Rows:
    """The subtasks below the direct ones, level by level. A moved task takes its whole subtree to the
    new list, but ClickUp sends ``taskMoved`` for that task alone and its answer lists only its direct
    subtasks: without this, the deeper ones would stay in the old list until the next full import."""
    rows = Rows()
    level = [str(child["id"]) for child in children if child.get("id")]
    for _ in range(MAX_SUBTASK_DEPTH):
        below: list[str] = []
        for task_id in level:
            try:
                body: Any = await client.get(f"/task/{task_id}", {"include_subtasks": True})
            except (ClickUpNotFound, ClickUpNotAuthorized):
                continue  # deleted meanwhile: its own event removes it
            for sub in (body.get("subtasks") if isinstance(body, dict) else None) or []:
                if isinstance(sub, dict) and sub.get("id"):
                    rows.extend(transform.task(sub, workspace_id, mapping))
                    below.append(str(sub["id"]))
        if not below:
            break
        level = below
    return rows


# ---------------------------------------------------------------- webhook lifecycle and gap repair

WEBHOOK_EVENTS = "*"


async def register_webhooks(client: ClickUpClient, workspace_ids: list[str], endpoint: str) -> list[dict[str, str]]:
    """One webhook per workspace, all events, pointing at ``endpoint``; returns id, workspace, secret.

    ClickUp keeps one webhook per (user, workspace, endpoint) and refuses a second with 400
    WEBHOOK_003 "Webhook configuration already exists": that one is adopted (found by its
    endpoint, which is this project's own), as left by an earlier attempt. If a workspace fails,
    the webhooks this call created are deleted again: nothing stays behind unregistered.
    """
    teams = await client.get_teams()
    chosen = [t.id for t in teams if not workspace_ids or t.id in workspace_ids]
    hooks: list[dict[str, str]] = []
    created: list[str] = []
    try:
        for team_id in chosen:
            try:
                hook = _registration(await _create(client, team_id, endpoint), team_id)
                created.append(hook["id"])
            except ClickUpWebhookExists:
                hook, replaced = await _adopt(client, team_id, endpoint)
                if replaced:
                    created.append(hook["id"])
            hooks.append(hook)
    except BaseException:
        for webhook_id in created:
            with contextlib.suppress(ClickUpError):
                await delete_webhook(client, webhook_id)
        raise
    return hooks


async def _create(client: ClickUpClient, team_id: str, endpoint: str, events: str | list[str] = WEBHOOK_EVENTS) -> Any:
    body = await client.request("POST", f"/team/{team_id}/webhook", body={"endpoint": endpoint, "events": events})
    return body.get("webhook") if isinstance(body, dict) else None


# ClickUp's PUT /webhook/{id} changes a webhook's endpoint, events and status, never its secret: a new
# secret comes only with a new webhook. That one is created listening to a single event the graph
# ignores (goals are not modelled) so that nothing is delivered before the server has registered its
# secret; re-activating it turns every event on. ClickUp keeps one webhook per user, workspace and
# endpoint, so it gets the project's endpoint with a fresh ``rotation`` value (the gateway routes by
# the body's webhook_id and ignores the query).
QUIET_EVENTS = ["keyResultDeleted"]
ROTATION_PARAM = "rotation"


def rotated_endpoint(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != ROTATION_PARAM]
    return urlunsplit(parts._replace(query=urlencode([*query, (ROTATION_PARAM, secrets.token_hex(6))])))


async def create_replacement(client: ClickUpClient, team_id: str, endpoint: str) -> dict[str, str]:
    """A quiet new webhook for the workspace (see QUIET_EVENTS); returns id, workspace and secret."""
    return _registration(await _create(client, team_id, rotated_endpoint(endpoint), QUIET_EVENTS), team_id)


def _registration(hook: Any, team_id: str) -> dict[str, str]:
    if not isinstance(hook, dict) or not hook.get("id") or not hook.get("secret"):
        raise ClickUpResponseError(f"ClickUp's answer about the webhook of workspace {team_id} is incomplete")
    return {"id": str(hook["id"]), "workspace_id": team_id, "secret": str(hook["secret"])}


async def _adopt(client: ClickUpClient, team_id: str, endpoint: str) -> tuple[dict[str, str], bool]:
    """The workspace's existing webhook for ``endpoint``, sending every event again; (hook, replaced)."""
    body = await client.get(f"/team/{team_id}/webhook")
    found = [
        hook
        for hook in (body.get("webhooks") if isinstance(body, dict) else None) or []
        if isinstance(hook, dict) and hook.get("endpoint") == endpoint and hook.get("id")
    ]
    if not found:
        raise ClickUpResponseError(
            f"ClickUp refused a second webhook for this endpoint in workspace {team_id} but lists none for this "
            "token; delete the old webhook in ClickUp and retry"
        )
    hook: dict[str, Any] = found[0]
    webhook_id = str(hook["id"])
    health = hook.get("health") if isinstance(hook.get("health"), dict) else {}
    if hook.get("events") not in ("*", ["*"]) or (health or {}).get("status") != "active":
        answer = await client.request(
            "PUT", f"/webhook/{webhook_id}", body={"events": WEBHOOK_EVENTS, "status": "active"}
        )
        if isinstance(answer, dict) and isinstance(answer.get("webhook"), dict):
            hook = {**hook, **answer["webhook"]}
    if hook.get("secret"):
        return _registration(hook, team_id), False
    # Listed without its secret, it could never be verified: replace it by one whose secret we get.
    await delete_webhook(client, webhook_id)
    return _registration(await _create(client, team_id, endpoint), team_id), True


async def webhook_status(client: ClickUpClient, workspace_id: str, webhook_id: str) -> tuple[str, int] | None:
    body = await client.get(f"/team/{workspace_id}/webhook")
    for hook in (body.get("webhooks") if isinstance(body, dict) else None) or []:
        if isinstance(hook, dict) and str(hook.get("id")) == webhook_id:
            health: dict[str, Any] = hook["health"] if isinstance(hook.get("health"), dict) else {}
            return str(health.get("status") or "active"), int(health.get("fail_count") or 0)
    return None


async def reactivate_webhook(client: ClickUpClient, webhook_id: str, events: str | None = None) -> str | None:
    """``status: active`` (and ``events``, when given); the answer is the create envelope, secret included:
    returned when present, so a secret ClickUp changed on the update is the one deliveries are checked with."""
    change = {"status": "active"} if events is None else {"events": events, "status": "active"}
    body = await client.request("PUT", f"/webhook/{webhook_id}", body=change)
    hook = body.get("webhook") if isinstance(body, dict) else None
    secret = hook.get("secret") if isinstance(hook, dict) else None
    return secret if isinstance(secret, str) and secret else None


async def delete_webhook(client: ClickUpClient, webhook_id: str) -> None:
    try:
        await client.request("DELETE", f"/webhook/{webhook_id}")
    except (ClickUpNotFound, ClickUpNotAuthorized):
        return  # already gone


async def repair_gap(
    client: ClickUpClient,
    writer: GraphWriter,
    workspace_id: str,
    since_ms: int,
    run_id: str,
    mapping: FieldMap = transform.NO_MAPPING,
) -> tuple[int, int | None]:
    """Re-read every task changed after ``since_ms`` (callers subtract an overlap) through the writer."""
    seen = 0
    newest: int | None = None
    for archived in (False, True):
        page = 0
        while True:
            body = await client.get(
                f"/team/{workspace_id}/task",
                {
                    "page": page,
                    "date_updated_gt": since_ms,
                    "include_closed": True,
                    "subtasks": True,
                    "archived": archived,
                    "order_by": "updated",
                    "reverse": True,
                },
            )
            tasks = [t for t in (body.get("tasks") if isinstance(body, dict) else None) or [] if isinstance(t, dict)]
            rows = Rows()
            for item in tasks:
                rows.extend(transform.task(item, workspace_id, mapping))
                updated = item.get("date_updated")
                if isinstance(updated, str | int) and str(updated).isdigit():
                    newest = max(newest or 0, int(updated))
            await writer.write(rows, run_id)
            seen += len(tasks)
            if len(tasks) < 100:
                break
            page += 1
    return seen, newest
