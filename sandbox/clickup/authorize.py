"""ClickUp's consent page (``https://app.clickup.com/api``), served by the sandbox at ``/api``.

``GET /api?client_id=..&redirect_uri=..[&state=..][&user_id=..]`` answers an HTML page with one
``<form method="post" action="/api">``: the app's name and client id, the signed-in user, one
checkbox per workspace of that user (``<input type="checkbox" id="team-{id}" name="team"
value="{id}">`` with a ``<label for="team-{id}">`` holding its name, none ticked), hidden
``client_id``, ``redirect_uri``, ``user_id`` and (when given) ``state``, and two buttons
``<button id="approve" name="decision" value="approve">`` and ``<button id="deny" name="decision"
value="deny">``.

``POST /api`` (the form, ``application/x-www-form-urlencoded``):

- approve with at least one of the user's workspaces ticked: 302 to
  ``redirect_uri?code={code}[&state={state}]`` (a query already in the redirect URI is kept);
- approve with none ticked (or one not the user's): the form again, with an error, status 400;
- deny: 302 to ``redirect_uri?error=access_denied[&state={state}]``.

Before the redirect URI is trusted nothing redirects: an unknown client (OAUTH_010), a missing
redirect URI (OAUTH_017) or one not registered for the app (OAUTH_007) answers an HTML error page
with status 400 and the ECODE in its text (``<p id="error" data-ecode="...">``); so does an
unknown ``user_id``. Redirect URI matching: see ``oauth.py``.

Who is signed in: ClickUp's page relies on the browser's ClickUp session; the sandbox has none, so
the user is the one ``user_id`` names, else the world's first user (the smallest id), who owns
every generated workspace and the generated personal token (``--token`` on the command line) and
is Ada Tester in the test-vector world.
"""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from sandbox.clickup.model import Team, User, World
from sandbox.clickup.oauth import OAuthClient, OAuthError
from sandbox.clickup.state import Sandbox

_HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY"}
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;color:#292d34}"
    "ul{list-style:none;padding:0}li{margin:.4rem 0}.error{color:#c62a2f}"
    "button{margin-right:.5rem;padding:.4rem 1rem}"
)


class _Refusal(Exception):
    """A request the page cannot act on: shown as an error page, never redirected."""

    def __init__(self, title: str, detail: str, ecode: str | None = None) -> None:
        super().__init__(title)
        self.title, self.detail, self.ecode = title, detail, ecode


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _document(title: str, body: str, status: int = 200) -> HTMLResponse:
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )
    return HTMLResponse(page, status_code=status, headers=_HEADERS)


def _error_page(refusal: _Refusal) -> HTMLResponse:
    code = f" ({_e(refusal.ecode)})" if refusal.ecode else ""
    body = (
        f"<h1>{_e(refusal.title)}</h1>\n"
        f'<p id="error" class="error" data-ecode="{_e(refusal.ecode or "")}">{_e(refusal.detail)}{code}</p>'
    )
    return _document(refusal.title, body, 400)


def _signed_in(world: World, user_id: str | None) -> User:
    if user_id is None or user_id == "":
        if not world.users:
            raise _Refusal("No user", "The sandbox's world has no users to sign in as.")
        return world.users[min(world.users)]
    user = world.users.get(int(user_id)) if user_id.isdigit() else None
    if user is None:
        raise _Refusal("Unknown user", f"No user {user_id} in the sandbox to sign in as.")
    return user


def _client(sandbox: Sandbox, client_id: str | None, redirect_uri: str | None) -> OAuthClient:
    try:
        return sandbox.oauth.authorizing(client_id, redirect_uri)
    except OAuthError as exc:
        raise _Refusal(exc.err, f"ClickUp cannot start this authorization: {exc.err}.", exc.ecode) from None


def _form(
    client: OAuthClient,
    user: User,
    teams: list[Team],
    redirect_uri: str,
    state: str | None,
    *,
    checked: frozenset[str] = frozenset(),
    error: str | None = None,
) -> str:
    hidden = [("client_id", client.client_id), ("redirect_uri", redirect_uri), ("user_id", str(user.id))]
    if state is not None:
        hidden.append(("state", state))
    who = user.username or user.email
    rows = "\n".join(
        f'<li><input type="checkbox" id="team-{_e(t.id)}" name="team" value="{_e(t.id)}"'
        f'{" checked" if t.id in checked else ""}> <label for="team-{_e(t.id)}">{_e(t.name)}</label></li>'
        for t in teams
    )
    return "\n".join(
        [
            f'<h1>Connect <span id="app-name">{_e(client.name)}</span> to ClickUp</h1>',
            f'<p>App client id: <code id="client-id">{_e(client.client_id)}</code></p>',
            f'<p>Signed in as <span id="user">{_e(who)}</span> ({_e(user.email)}).</p>',
            *([f'<p id="error" class="error" role="alert">{_e(error)}</p>'] if error else []),
            '<form method="post" action="/api">',
            *(f'<input type="hidden" name="{_e(name)}" value="{_e(value)}">' for name, value in hidden),
            "<fieldset><legend>Workspaces this app may access</legend>",
            f'<ul id="teams">\n{rows}\n</ul>' if teams else '<p id="no-teams">You belong to no Workspace.</p>',
            "</fieldset>",
            '<button type="submit" id="approve" name="decision" value="approve">Approve</button>',
            '<button type="submit" id="deny" name="decision" value="deny">Deny</button>',
            "</form>",
        ]
    )


def _redirect(redirect_uri: str, params: list[tuple[str, str]]) -> RedirectResponse:
    parts = urlsplit(redirect_uri)
    ours = {name for name, _ in params}
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ours] + params
    location = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
    return RedirectResponse(location, status_code=302, headers=_HEADERS)


async def consent_page(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    params = request.query_params
    try:
        client = _client(sandbox, params.get("client_id"), params.get("redirect_uri"))
        user = _signed_in(sandbox.world, params.get("user_id"))
    except _Refusal as refusal:
        return _error_page(refusal)
    teams = sandbox.world.teams_of_user(user.id)
    return _document("Authorize app", _form(client, user, teams, params.get("redirect_uri", ""), params.get("state")))


async def consent_decision(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    # Read by hand: starlette's form parser would need python-multipart, and browsers send this encoding.
    fields = parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    form = dict(fields)  # single-valued fields: the last one wins
    redirect_uri, state = form.get("redirect_uri"), form.get("state")
    try:
        client = _client(sandbox, form.get("client_id"), redirect_uri)
        user = _signed_in(sandbox.world, form.get("user_id"))
    except _Refusal as refusal:
        return _error_page(refusal)
    assert redirect_uri is not None  # checked by _client
    echo = [] if state is None else [("state", state)]
    decision = form.get("decision")
    if decision == "deny":
        return _redirect(redirect_uri, [("error", "access_denied"), *echo])
    teams = sandbox.world.teams_of_user(user.id)
    mine = {t.id for t in teams}
    chosen = list(dict.fromkeys(value for name, value in fields if name == "team"))
    error = None
    if decision != "approve":
        error = "Choose Approve or Deny."
    elif not chosen:
        error = "Select at least one Workspace to connect."
    elif any(team_id not in mine for team_id in chosen):
        error = "You can only connect Workspaces you belong to."
    if error is not None:
        checked = frozenset(chosen) & mine
        return _document(
            "Authorize app", _form(client, user, teams, redirect_uri, state, checked=checked, error=error), 400
        )
    code = sandbox.oauth.issue_code(client.client_id, user.id, chosen, redirect_uri)
    return _redirect(redirect_uri, [("code", code), *echo])


def routes() -> list[Route]:
    return [
        Route("/api", consent_page, methods=["GET"]),
        Route("/api", consent_decision, methods=["POST"]),
    ]
