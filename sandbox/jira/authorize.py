"""The ``auth.atlassian.com`` side: the consent page at ``/authorize`` and the token endpoint (§2.2).

``GET /authorize?audience=api.atlassian.com&client_id=..&scope=..&redirect_uri=..&state=..
&response_type=code&prompt=consent`` answers an HTML page a headless browser can drive:

- ``<span id="app-name">`` the app's name; ``<ul id="scopes">`` one ``<li data-scope="...">`` per
  requested scope;
- ``<form id="consent" method="post" action="/authorize">`` with hidden ``client_id``,
  ``redirect_uri``, ``scope``, ``audience``, ``response_type`` and (when given) ``state``;
- ``<select id="account" name="account_id">``: who signs in, one option per active user of the site
  (value = accountId), the main generated user selected unless ``?account_id=`` names another;
- ``<select id="site" name="site">``: the site to grant, the sandbox site (selected) then the extra
  sites (value = cloudId);
- ``<button id="accept" name="decision" value="accept">`` and ``<button id="deny" name="decision"
  value="deny">``.

``POST /authorize`` (the form): accept -> 302 ``redirect_uri?code=..&state=..``; deny -> 302
``redirect_uri?error=access_denied&error_description=..&state=..``; an unknown account or site, or
no decision, shows the form again with ``<p id="error">`` and status 400.

Until the redirect URI is trusted nothing redirects: an unknown client, a missing or unregistered
``redirect_uri`` and a missing or wrong ``audience`` answer an HTML error page, status 400, with
``<p id="error" data-error="...">`` (``unauthorized_client``, ``invalid_redirect_uri``,
``invalid_audience``). After that, ``response_type`` other than ``code`` redirects with
``error=unsupported_response_type`` and a missing or unknown scope with ``error=invalid_scope``.

``POST /oauth/token`` takes JSON or form bodies; answers and errors: see ``oauth.py``.
"""

from __future__ import annotations

import json
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from sandbox.jira.gateway import unknown_scopes
from sandbox.jira.oauth import GRANT_TYPES, OAuthApp, TokenError, invalid_request, parse_scopes, signable_accounts

if TYPE_CHECKING:
    from sandbox.jira.state import Sandbox

AUDIENCE = "api.atlassian.com"
DENIED = "User did not authorize the request"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_PAGE_HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY"}
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;color:#172b4d}"
    "label{display:block;margin:.8rem 0 .2rem}.error{color:#de350b}button{margin:1rem .5rem 0 0;padding:.4rem 1rem}"
)


class _Refusal(Exception):
    """A request the page cannot act on before its redirect URI is trusted: an error page, no redirect."""

    def __init__(self, error: str, detail: str) -> None:
        super().__init__(detail)
        self.error = error
        self.detail = detail


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _document(title: str, body: str, status: int = 200) -> HTMLResponse:
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )
    return HTMLResponse(page, status_code=status, headers=_PAGE_HEADERS)


def _error_page(refusal: _Refusal) -> HTMLResponse:
    body = (
        "<h1>Something went wrong</h1>\n"
        f'<p id="error" class="error" data-error="{_e(refusal.error)}">{_e(refusal.detail)}</p>'
    )
    return _document("Authorization error", body, 400)


def _trusted(sandbox: Sandbox, params: dict[str, str]) -> OAuthApp:
    """The app, once client, redirect URI and audience are right: before that, never redirect."""
    app = sandbox.oauth.apps.get(params.get("client_id", ""))
    if app is None:
        raise _Refusal("unauthorized_client", "The app is not known: check the client_id.")
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri:
        raise _Refusal("invalid_redirect_uri", "The redirect_uri parameter is missing.")
    if not app.allows(redirect_uri):
        raise _Refusal("invalid_redirect_uri", "The redirect_uri is not a callback URL registered for the app.")
    if params.get("audience") != AUDIENCE:
        raise _Refusal("invalid_audience", f"The audience parameter must be {AUDIENCE}.")
    return app


def _redirect(redirect_uri: str, params: list[tuple[str, str]]) -> RedirectResponse:
    parts = urlsplit(redirect_uri)
    ours = {name for name, _ in params}
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ours] + params
    location = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
    return RedirectResponse(location, status_code=302, headers=_PAGE_HEADERS)


def _problem_redirect(params: dict[str, str]) -> RedirectResponse | None:
    """RFC 6749 §4.1.2.1 errors, sent to the trusted redirect URI."""
    echo = [("state", params["state"])] if "state" in params else []
    scopes = parse_scopes(params.get("scope", ""))
    unknown = unknown_scopes(scopes)
    if params.get("response_type") != "code":
        error, description = "unsupported_response_type", "response_type must be code"
    elif not scopes or unknown:
        error = "invalid_scope"
        description = f"Unknown scope(s): {' '.join(unknown)}" if unknown else "No scope requested"
    else:
        return None
    return _redirect(params["redirect_uri"], [("error", error), ("error_description", description), *echo])


def _form(sandbox: Sandbox, app: OAuthApp, params: dict[str, str], error: str | None = None) -> str:
    site = sandbox.site
    hidden = [(name, params[name]) for name in ("client_id", "redirect_uri", "scope", "audience", "response_type")]
    if "state" in params:
        hidden.append(("state", params["state"]))
    accounts = signable_accounts(sandbox)
    chosen = params.get("account_id") if params.get("account_id") in accounts else accounts[0] if accounts else ""
    choices = sandbox.oauth.sites()
    where = params.get("site") if any(s.cloud_id == params.get("site") for s in choices) else choices[0].cloud_id
    people = "\n".join(
        f'<option value="{_e(a)}"{" selected" if a == chosen else ""}>'
        f"{_e(site.users[a].display_name)}{_e(f' ({site.users[a].email})' if site.users[a].email else '')}</option>"
        for a in accounts
    )
    sites = "\n".join(
        f'<option value="{_e(s.cloud_id)}"{" selected" if s.cloud_id == where else ""}>'
        f"{_e(s.name)} ({_e(s.url)})</option>"
        for s in choices
    )
    scopes = "\n".join(f'<li data-scope="{_e(s)}">{_e(s)}</li>' for s in parse_scopes(params["scope"]))
    return "\n".join(
        [
            f'<h1><span id="app-name">{_e(app.name)}</span> is requesting access to your Atlassian account</h1>',
            *([f'<p id="error" class="error" role="alert">{_e(error)}</p>'] if error else []),
            f'<p>It will be able to:</p>\n<ul id="scopes">\n{scopes}\n</ul>',
            '<form id="consent" method="post" action="/authorize">',
            *(f'<input type="hidden" name="{_e(name)}" value="{_e(value)}">' for name, value in hidden),
            f'<label for="account">Signed in as</label>\n<select id="account" name="account_id">\n{people}\n</select>',
            f'<label for="site">Use app on</label>\n<select id="site" name="site">\n{sites}\n</select>',
            '<button type="submit" id="accept" name="decision" value="accept">Accept</button>',
            '<button type="submit" id="deny" name="decision" value="deny">Deny</button>',
            "</form>",
        ]
    )


async def consent_page(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    params = dict(request.query_params)
    try:
        app = _trusted(sandbox, params)
    except _Refusal as refusal:
        return _error_page(refusal)
    problem = _problem_redirect(params)
    if problem is not None:
        return problem
    return _document("Authorize app", _form(sandbox, app, params))


async def consent_decision(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    # Read by hand: starlette's form parser needs python-multipart, and browsers send this encoding.
    params = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
    try:
        app = _trusted(sandbox, params)
    except _Refusal as refusal:
        return _error_page(refusal)
    problem = _problem_redirect(params)
    if problem is not None:
        return problem
    echo = [("state", params["state"])] if "state" in params else []
    decision = params.get("decision")
    if decision == "deny":
        return _redirect(params["redirect_uri"], [("error", "access_denied"), ("error_description", DENIED), *echo])
    error = None
    if decision != "accept":
        error = "Choose Accept or Deny."
    elif params.get("account_id") not in signable_accounts(sandbox):
        error = "That account cannot sign in to this site."
    elif sandbox.oauth.site(params.get("site", "")) is None:
        error = "Choose a site to use the app on."
    if error is not None:
        return _document("Authorize app", _form(sandbox, app, params, error), 400)
    code = sandbox.oauth.issue_code(
        app.client_id, params["account_id"], parse_scopes(params["scope"]), params["site"], params["redirect_uri"]
    )
    return _redirect(params["redirect_uri"], [("code", code), *echo])


async def _token_fields(request: Request) -> dict[str, str]:
    """JSON or form-urlencoded; anything else, or non-string values, is unreadable (§2.2 item 3, 5)."""
    raw = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if kind == "application/x-www-form-urlencoded":
            data: Any = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw)))
        else:
            data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise invalid_request() from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise invalid_request()
    return data


async def token(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    oauth = sandbox.oauth
    try:
        fields = await _token_fields(request)
        grant_type = fields.get("grant_type")
        if grant_type not in ("authorization_code", "refresh_token", "client_credentials"):
            raise invalid_request(GRANT_TYPES)
        app = oauth.client(fields.get("client_id"), fields.get("client_secret"))
        if grant_type == "client_credentials":
            raise TokenError(403, "unauthorized_client", "Grant type 'client_credentials' is not allowed for 3LO apps")
        if grant_type == "authorization_code":
            body = oauth.redeem(app, fields.get("code"), fields.get("redirect_uri"))
        else:
            body = oauth.refresh(app, fields.get("refresh_token"))
    except TokenError as exc:
        return JSONResponse(exc.body(), status_code=exc.status, headers=_NO_STORE)
    return JSONResponse(body, headers=_NO_STORE)


def routes() -> list[Route]:
    return [
        Route("/authorize", consent_page, methods=["GET"]),
        Route("/authorize", consent_decision, methods=["POST"]),
        Route("/oauth/token", token, methods=["POST"]),
    ]
