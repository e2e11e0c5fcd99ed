"""Agile 1.0 routes (§4.8): boards, the projects a board spans, its sprints. Ids here are integers.

A board shows the sprints it owns (``originBoardId``) and every sprint holding an issue of a
project it spans, so one sprint can show on two boards: clients dedupe by id. Kanban boards
have no sprints and answer 400.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from sandbox.jira import render
from sandbox.jira.endpoint import Viewer, endpoint, offset_page
from sandbox.jira.model import Board
from sandbox.jira.state import Sandbox, error_collection

SPRINT_ORDER = {"closed": 0, "active": 1, "future": 2}


def _visible(sandbox: Sandbox, viewer: Viewer, board: Board) -> bool:
    site = sandbox.site
    return site.can_browse(viewer, site.projects[board.location_project_id])


def _board(sandbox: Sandbox, request: Request, viewer: Viewer) -> Board:
    board = sandbox.site.boards.get(int(request.path_params["board_id"]))
    if board is None or not _visible(sandbox, viewer, board):
        raise error_collection(404, "Board does not exist or you do not have permission to see it.")
    return board


@endpoint
async def boards(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    site = sandbox.site
    types = {t.strip() for t in request.query_params.get("type", "").split(",") if t.strip()}
    project = request.query_params.get("projectKeyOrId", "").upper()
    name = request.query_params.get("name", "").lower()
    found = []
    for board in site.boards.values():
        keys = {p for pid in board.project_ids for p in (pid, site.projects[pid].key)}
        if not _visible(sandbox, viewer, board) or (types and board.type not in types):
            continue
        if (project and project not in keys) or (name and name not in board.name.lower()):
            continue
        found.append(render.board(site, board))
    return offset_page(request, found, 50, 50, links=False)


@endpoint
async def board_get(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    return render.board(sandbox.site, _board(sandbox, request, viewer))


@endpoint
async def board_projects(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    site = sandbox.site
    board = _board(sandbox, request, viewer)
    values = [
        {
            k: v
            for k, v in render.project(site, site.projects[pid], viewer).items()
            if k in ("self", "id", "key", "name", "avatarUrls", "projectTypeKey", "simplified", "style")
        }
        for pid in board.project_ids
        if site.can_browse(viewer, site.projects[pid])
    ]
    return offset_page(request, values, 50, 50, links=False)


@endpoint
async def board_sprints(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    site = sandbox.site
    board = _board(sandbox, request, viewer)
    if board.type != "scrum":
        raise error_collection(400, "The board does not support sprints")
    shown = {s.id for s in site.sprints.values() if s.origin_board_id == board.id}
    shown |= {sid for i in site.issues.values() if i.project_id in board.project_ids for sid in i.sprint_ids}
    states = {s.strip() for s in request.query_params.get("state", "").split(",") if s.strip()}
    ordered = sorted((site.sprints[s] for s in shown), key=lambda s: (SPRINT_ORDER[s.state], s.id))
    values = [render.sprint(site, s) for s in ordered if not states or s.state in states]
    return offset_page(request, values, 50, 50, links=False)


@endpoint
async def sprint_get(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    site = sandbox.site
    sprint = site.sprints.get(int(request.path_params["sprint_id"]))
    if sprint is None or not _visible(sandbox, viewer, site.boards[sprint.origin_board_id]):
        raise error_collection(404, "Sprint does not exist or you do not have permission to see it.")
    return render.sprint(site, sprint)


def routes() -> list[Route]:
    base = "/rest/agile/1.0"
    return [
        Route(f"{base}/board", boards),
        Route(f"{base}/board/{{board_id:int}}", board_get),
        Route(f"{base}/board/{{board_id:int}}/project", board_projects),
        Route(f"{base}/board/{{board_id:int}}/sprint", board_sprints),
        Route(f"{base}/sprint/{{sprint_id:int}}", sprint_get),
    ]
