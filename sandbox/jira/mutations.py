"""Admin mutation routes under ``/_sandbox``: thin handlers over ``Mutator``, and ``/_sandbox/mutate``.

Each route reads its JSON body, runs one ``Mutator`` operation (which validates and emits the events
Jira would send) and answers what changed; errors are 4xx ``{"error"}``. ``POST /_sandbox/mutate``
runs ``{"count": n, "seed": s}`` random mutations (``chaos.py``).
"""

from __future__ import annotations

import random

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.admin_requests import AdminError, json_body
from sandbox.jira import payloads
from sandbox.jira.admin import Handler, guard, sandbox_of
from sandbox.jira.chaos import chaos
from sandbox.jira.mutator import Mutator

# ---------------------------------------------------------------- routes


def _mutator(request: Request) -> Mutator:
    return Mutator(sandbox_of(request))


async def create_issue(request: Request) -> Response:
    issue = _mutator(request).create_issue(await json_body(request))
    return JSONResponse({"id": issue.id, "key": issue.key}, status_code=201)


async def update_issue(request: Request) -> Response:
    """Fields: summary, status (id), priority (id), assignee (accountId or null), labels, description (text),
    customFields ({field id: value or null}; values as ``custom_fields.validated`` reads them)."""
    mutator = _mutator(request)
    issue = mutator.issue(request.path_params["issue_id"])
    items = mutator.update_issue(issue, await json_body(request))
    return JSONResponse({"id": issue.id, "key": issue.key, "updatedMs": issue.updated_ms, "changed": len(items)})


async def move_issue(request: Request) -> Response:
    mutator = _mutator(request)
    issue = mutator.issue(request.path_params["issue_id"])
    mutator.move_issue(issue, (await json_body(request)).get("project"))
    return JSONResponse({"id": issue.id, "key": issue.key, "oldKeys": issue.old_keys, "updatedMs": issue.updated_ms})


async def delete_issue(request: Request) -> Response:
    mutator = _mutator(request)
    return JSONResponse({"deleted": mutator.delete_issue(mutator.issue(request.path_params["issue_id"]))})


async def add_comment(request: Request) -> Response:
    mutator, body = _mutator(request), await json_body(request)
    note = mutator.add_comment(mutator.issue(request.path_params["issue_id"]), body.get("body"), body.get("visibility"))
    return JSONResponse({"id": note.id}, status_code=201)


async def edit_comment(request: Request) -> Response:
    mutator, body = _mutator(request), await json_body(request)
    note = mutator.comment(request.path_params["comment_id"])
    mutator.edit_comment(note, body.get("body"))
    return JSONResponse({"id": note.id})


async def delete_comment(request: Request) -> Response:
    mutator = _mutator(request)
    mutator.delete_comment(mutator.comment(request.path_params["comment_id"]))
    return JSONResponse({"deleted": request.path_params["comment_id"]})


async def add_link(request: Request) -> Response:
    body = await json_body(request)
    link = _mutator(request).add_link(body.get("type"), body.get("outward"), body.get("inward"))
    return JSONResponse({"id": link.id}, status_code=201)


async def delete_link(request: Request) -> Response:
    mutator = _mutator(request)
    mutator.delete_link(mutator.link(request.path_params["link_id"]))
    return JSONResponse({"deleted": request.path_params["link_id"]})


async def create_sprint(request: Request) -> Response:
    body = await json_body(request)
    sprint = _mutator(request).create_sprint(body.get("board"), body.get("name"))
    return JSONResponse({"id": sprint.id}, status_code=201)


async def update_sprint(request: Request) -> Response:
    mutator = _mutator(request)
    sprint = mutator.sprint(request.path_params["sprint_id"])
    mutator.update_sprint(sprint, await json_body(request))
    return JSONResponse(payloads.sprint_body(mutator.site, sprint))


async def delete_sprint(request: Request) -> Response:
    mutator = _mutator(request)
    mutator.delete_sprint(mutator.sprint(request.path_params["sprint_id"]))
    return JSONResponse({"deleted": int(request.path_params["sprint_id"])})


async def sprint_issues(request: Request) -> Response:
    mutator = _mutator(request)
    sprint = mutator.sprint(request.path_params["sprint_id"])
    moved = mutator.move_to_sprint(sprint, (await json_body(request)).get("issues"))
    return JSONResponse({"sprint": sprint.id, "issues": moved})


async def create_version(request: Request) -> Response:
    body = await json_body(request)
    version = _mutator(request).create_version(body.get("project"), body.get("name"))
    return JSONResponse({"id": version.id}, status_code=201)


async def update_version(request: Request) -> Response:
    mutator = _mutator(request)
    version = mutator.version(request.path_params["version_id"])
    event = mutator.update_version(version, await json_body(request))
    return JSONResponse({"id": version.id, "event": event})


async def delete_version(request: Request) -> Response:
    mutator = _mutator(request)
    mutator.delete_version(mutator.version(request.path_params["version_id"]))
    return JSONResponse({"deleted": request.path_params["version_id"]})


async def create_component(request: Request) -> Response:
    body = await json_body(request)
    item = _mutator(request).create_component(body.get("project"), body.get("name"))
    return JSONResponse({"id": item.id}, status_code=201)


async def rename_component(request: Request) -> Response:
    mutator = _mutator(request)
    item = mutator.component(request.path_params["component_id"])
    mutator.rename_component(item, (await json_body(request)).get("name"))
    return JSONResponse({"id": item.id, "name": item.name})


async def delete_component(request: Request) -> Response:
    mutator = _mutator(request)
    mutator.delete_component(mutator.component(request.path_params["component_id"]))
    return JSONResponse({"deleted": request.path_params["component_id"]})


async def rename_board(request: Request) -> Response:
    _mutator(request).rename_board(request.path_params["board_id"], (await json_body(request)).get("name"))
    return JSONResponse({"id": request.path_params["board_id"]})


async def update_project(request: Request) -> Response:
    _mutator(request).update_project(request.path_params["project"], await json_body(request))
    return JSONResponse({"project": request.path_params["project"]})


async def mutate(request: Request) -> Response:
    """``{"count": n, "seed": s}``: n random valid mutations of every kind (see ``chaos``)."""
    body = await json_body(request)
    count, seed = body.get("count", 10), body.get("seed", 0)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 10_000:
        raise AdminError(400, "count must be an integer from 1 to 10000")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise AdminError(400, "seed must be an integer")
    mutator = _mutator(request)
    before = mutator.sandbox.hub.emitted
    done = chaos(mutator, random.Random(seed), count)
    return JSONResponse({"mutations": done, "events": mutator.sandbox.hub.emitted - before})


def routes() -> list[Route]:
    table: list[tuple[str, Handler, list[str]]] = [
        ("/_sandbox/issues", create_issue, ["POST"]),
        ("/_sandbox/issues/{issue_id}", update_issue, ["PATCH"]),
        ("/_sandbox/issues/{issue_id}", delete_issue, ["DELETE"]),
        ("/_sandbox/issues/{issue_id}/move", move_issue, ["POST"]),
        ("/_sandbox/issues/{issue_id}/comments", add_comment, ["POST"]),
        ("/_sandbox/comments/{comment_id}", edit_comment, ["PATCH"]),
        ("/_sandbox/comments/{comment_id}", delete_comment, ["DELETE"]),
        ("/_sandbox/links", add_link, ["POST"]),
        ("/_sandbox/links/{link_id}", delete_link, ["DELETE"]),
        ("/_sandbox/sprints", create_sprint, ["POST"]),
        ("/_sandbox/sprints/{sprint_id}", update_sprint, ["PATCH"]),
        ("/_sandbox/sprints/{sprint_id}", delete_sprint, ["DELETE"]),
        ("/_sandbox/sprints/{sprint_id}/issues", sprint_issues, ["POST"]),
        ("/_sandbox/versions", create_version, ["POST"]),
        ("/_sandbox/versions/{version_id}", update_version, ["PATCH"]),
        ("/_sandbox/versions/{version_id}", delete_version, ["DELETE"]),
        ("/_sandbox/components", create_component, ["POST"]),
        ("/_sandbox/components/{component_id}", rename_component, ["PATCH"]),
        ("/_sandbox/components/{component_id}", delete_component, ["DELETE"]),
        ("/_sandbox/boards/{board_id:int}", rename_board, ["PATCH"]),
        ("/_sandbox/projects/{project}", update_project, ["PATCH"]),
        ("/_sandbox/mutate", mutate, ["POST"]),
    ]
    return [Route(path, guard(handler), methods=methods) for path, handler, methods in table]
