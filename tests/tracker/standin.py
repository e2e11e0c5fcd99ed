"""A tiny stand-in of the "Tracker" SaaS the test plugin talks to: boards -> cards -> checklist items.

The public API (``/api/...``) wants ``Authorization: Bearer <token>`` (an API token, or an access
token of an OAuth grant: ``standin_oauth.py`` is the authorization server), pages its lists
(``?page=&per_page=`` answering ``next_page``), answers 404 for what is gone, and sends webhooks: on
every mutation it POSTs ``{"event", "card_id", "board_id", "change_id"}`` to each active webhook of
the card's board, signed ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>``, and
waits for the answer (kept in ``deliveries``), so a test knows the edge has taken it.

The test drives it through ``/_test/...``: create, update and delete cards, emit an event as is,
and ``stale_reads`` (a lagging read replica: a deleted card is still served as it last was).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.tracker.standin_oauth import OAuthServer

MAX_PER_PAGE = 100


@dataclass
class Item:
    id: str
    text: str
    done: bool = False


@dataclass
class Card:
    id: str
    board_id: str
    title: str
    updated_at: datetime
    status: str = "open"
    checklist: list[Item] = field(default_factory=list)


@dataclass
class Hook:
    id: str
    url: str
    secret: str
    board_id: str
    active: bool = True


@dataclass
class Delivery:
    hook_id: str
    body: dict[str, Any]
    status: int  # the receiver's answer; 0 when it could not be reached


@dataclass
class Tracker:
    """The stand-in's whole state; ``/_test`` routes change it, ``/api`` routes read it."""

    tokens: set[str]
    boards: dict[str, str] = field(default_factory=dict)  # id -> name
    cards: dict[str, Card] = field(default_factory=dict)
    gone: dict[str, Card] = field(default_factory=dict)  # deleted cards as they last were
    hooks: dict[str, Hook] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    stale_reads: bool = False
    oauth: OAuthServer = field(default_factory=OAuthServer)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _clock: datetime = field(default_factory=lambda: datetime.now(UTC))

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    def now(self) -> datetime:
        """Strictly increasing, so every change has a newer ``updated_at`` than the one before."""
        self._clock = max(datetime.now(UTC), self._clock + timedelta(microseconds=1))
        return self._clock

    def add_card(self, board_id: str, title: str, checklist: list[str]) -> Card:
        card = Card(self.next_id("c"), board_id, title, self.now())
        card.checklist = [Item(self.next_id("i"), text) for text in checklist]
        self.cards[card.id] = card
        return card


def card_json(card: Card) -> dict[str, Any]:
    return {
        "id": card.id,
        "board_id": card.board_id,
        "title": card.title,
        "status": card.status,
        "updated_at": card.updated_at.isoformat(),
        "checklist": [{"id": i.id, "text": i.text, "done": i.done} for i in card.checklist],
    }


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _page(request: Request, items: list[dict[str, Any]], key: str) -> Response:
    try:
        page = int(request.query_params.get("page", "0"))
        per_page = min(int(request.query_params.get("per_page", "2")), MAX_PER_PAGE)
    except ValueError:
        return JSONResponse({"error": "page and per_page are numbers"}, 400)
    chunk = items[page * per_page : (page + 1) * per_page]
    following = page + 1 if (page + 1) * per_page < len(items) else None
    return JSONResponse({key: chunk, "next_page": following})


def create_app(tracker: Tracker) -> Starlette:
    def authorized(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ")
        return header.startswith("Bearer ") and (token in tracker.tokens or tracker.oauth.valid_access(token))

    def api(handler: Any) -> Any:
        async def guarded(request: Request) -> Response:
            if not authorized(request):
                await tracker.oauth.refused()
                return JSONResponse({"error": "unauthorized"}, 401)
            response: Response = await handler(request)
            return response

        return guarded

    async def emit(event: str, card: Card) -> None:
        body = {"event": event, "card_id": card.id, "board_id": card.board_id, "change_id": tracker.next_id("ch")}
        raw = json.dumps(body).encode()
        async with httpx.AsyncClient(timeout=10) as client:
            for hook in [h for h in tracker.hooks.values() if h.board_id == card.board_id and h.active]:
                headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(hook.secret, raw)}
                try:
                    status = (await client.post(hook.url, content=raw, headers=headers)).status_code
                except httpx.HTTPError:
                    status = 0
                tracker.deliveries.append(Delivery(hook.id, body, status))

    # -- the public API

    async def me(request: Request) -> Response:
        return JSONResponse({"id": "u1", "name": "Test User", "email": "test@tracker.invalid"})

    async def boards(request: Request) -> Response:
        items = [{"id": board_id, "name": name} for board_id, name in sorted(tracker.boards.items())]
        return _page(request, items, "boards")

    async def board(request: Request) -> Response:
        board_id = request.path_params["board_id"]
        if board_id not in tracker.boards:
            return JSONResponse({"error": "no such board"}, 404)
        return JSONResponse({"id": board_id, "name": tracker.boards[board_id]})

    async def cards(request: Request) -> Response:
        board_id = request.path_params["board_id"]
        if board_id not in tracker.boards:
            return JSONResponse({"error": "no such board"}, 404)
        since = request.query_params.get("updated_since")
        chosen = [c for c in tracker.cards.values() if c.board_id == board_id]
        if since:
            chosen = [c for c in chosen if c.updated_at > datetime.fromisoformat(since)]
        return _page(request, [card_json(c) for c in sorted(chosen, key=lambda c: c.id)], "cards")

    async def card(request: Request) -> Response:
        card_id = request.path_params["card_id"]
        found = tracker.cards.get(card_id) or (tracker.gone.get(card_id) if tracker.stale_reads else None)
        if found is None:
            return JSONResponse({"error": "no such card"}, 404)
        return JSONResponse(card_json(found))

    async def create_hook(request: Request) -> Response:
        body = await request.json()
        if body.get("board_id") not in tracker.boards or not body.get("url") or not body.get("secret"):
            return JSONResponse({"error": "url, secret and a known board_id are required"}, 400)
        hook = Hook(tracker.next_id("wh"), str(body["url"]), str(body["secret"]), str(body["board_id"]))
        tracker.hooks[hook.id] = hook
        return JSONResponse({"id": hook.id}, 201)

    def hook_json(hook: Hook) -> dict[str, Any]:
        return {"id": hook.id, "url": hook.url, "board_id": hook.board_id, "active": hook.active}

    async def list_hooks(request: Request) -> Response:
        board_id = request.query_params.get("board_id")
        found = [hook_json(h) for h in tracker.hooks.values() if board_id in (None, h.board_id)]
        return _page(request, found, "webhooks")

    async def one_hook(request: Request) -> Response:
        hook = tracker.hooks.get(request.path_params["hook_id"])
        if hook is None:
            return JSONResponse({"error": "no such webhook"}, 404)
        if request.method == "DELETE":
            del tracker.hooks[hook.id]
            return Response(status_code=204)
        return JSONResponse(hook_json(hook))

    # -- the test's controls

    async def test_create(request: Request) -> Response:
        body = await request.json()
        created = tracker.add_card(str(body["board_id"]), str(body["title"]), list(body.get("checklist", [])))
        await emit("card.created", created)
        return JSONResponse(card_json(created), 201)

    async def test_change(request: Request) -> Response:
        card_id = request.path_params["card_id"]
        found = tracker.cards.get(card_id)
        if found is None:
            return JSONResponse({"error": "no such card"}, 404)
        if request.method == "DELETE":
            tracker.gone[card_id] = tracker.cards.pop(card_id)
            await emit("card.deleted", found)
            return Response(status_code=204)
        body = await request.json()
        found.title = str(body.get("title", found.title))
        found.status = str(body.get("status", found.status))
        if "checklist" in body:
            found.checklist = [Item(tracker.next_id("i"), str(text)) for text in body["checklist"]]
        found.updated_at = tracker.now()
        await emit("card.updated", found)
        return JSONResponse(card_json(found))

    async def test_emit(request: Request) -> Response:
        body = await request.json()
        found = tracker.cards.get(body["card_id"]) or tracker.gone[body["card_id"]]
        await emit(str(body["event"]), found)
        return JSONResponse({"sent": True})

    async def test_config(request: Request) -> Response:
        tracker.stale_reads = bool((await request.json()).get("stale_reads", tracker.stale_reads))
        return JSONResponse({"stale_reads": tracker.stale_reads})

    return Starlette(
        routes=[
            Route("/api/me", api(me)),
            Route("/api/boards", api(boards)),
            Route("/api/boards/{board_id}", api(board)),
            Route("/api/boards/{board_id}/cards", api(cards)),
            Route("/api/cards/{card_id}", api(card)),
            Route("/api/webhooks", api(create_hook), methods=["POST"]),
            Route("/api/webhooks", api(list_hooks), methods=["GET"]),
            Route("/api/webhooks/{hook_id}", api(one_hook), methods=["GET", "DELETE"]),
            Route("/_test/cards", test_create, methods=["POST"]),
            Route("/_test/cards/{card_id}", test_change, methods=["PATCH", "DELETE"]),
            Route("/_test/events", test_emit, methods=["POST"]),
            Route("/_test/config", test_config, methods=["PUT"]),
            *tracker.oauth.routes(),
        ]
    )
