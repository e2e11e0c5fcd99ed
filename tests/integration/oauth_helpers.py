"""Driving a sign-in as a browser would, against the ClickUp sandbox's consent page."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import httpx

from integrations.v1 import integration_service_pb2 as pb
from tests.conftest import RunningHub, bearer

REDIRECT_URI = "http://127.0.0.1:9/oauth/callback"  # never called: the test reads the redirect itself
_HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', re.I)
_ACTION = re.compile(r'<form[^>]*action="([^"]*)"', re.I)
_TEAM = re.compile(r'<input[^>]*type="checkbox"[^>]*name="team"[^>]*value="([^"]+)"', re.I)


async def start(
    hub: RunningHub, token: str, tenant: tuple[str, str], redirect_uri: str = REDIRECT_URI
) -> pb.StartAuthorizationResponse:
    request = pb.StartAuthorizationRequest(
        org_id=tenant[0], project_id=tenant[1], name="clickup", redirect_uri=redirect_uri
    )
    started: pb.StartAuthorizationResponse = await hub.stub.StartAuthorization(request, metadata=bearer(token))
    return started


async def consent(authorization_url: str, *, approve: bool = True, teams: list[str] | None = None) -> dict[str, str]:
    """Open the consent page, tick ``teams`` (all when None), approve or deny; the redirect's query."""
    async with httpx.AsyncClient(timeout=10) as browser:
        page = await browser.get(authorization_url)
        assert page.status_code == 200, page.text
        form = {name: html.unescape(value) for name, value in _HIDDEN.findall(page.text)}
        offered = [html.unescape(team) for team in _TEAM.findall(page.text)]
        chosen = offered if teams is None else teams
        data: dict[str, str | list[str]] = {**form, "team": chosen, "decision": "approve" if approve else "deny"}
        action = _ACTION.search(page.text)
        target = page.url.join(html.unescape(action.group(1))) if action and action.group(1) else page.url
        answer = await browser.post(str(target), data=data)
    assert answer.status_code in (302, 303), answer.text
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    return {key: values[0] for key, values in query.items()}


async def complete(
    hub: RunningHub, token: str, tenant: tuple[str, str], state: str, code: str = "", error: str = ""
) -> pb.CompleteAuthorizationResponse:
    request = pb.CompleteAuthorizationRequest(
        org_id=tenant[0], project_id=tenant[1], name="clickup", state=state, code=code, error=error
    )
    done: pb.CompleteAuthorizationResponse = await hub.stub.CompleteAuthorization(request, metadata=bearer(token))
    return done
