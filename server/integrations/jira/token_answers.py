"""Reading Atlassian's OAuth answers (the token endpoint, accessible-resources) into checked values.

Every provider value is checked before it is used; a failed check names the value, never shows it,
and an error answer is reduced to its error code and a scrubbed description, safe to show.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from server.integrations.jira.client import CLOUD_ID

MAX_VALUE = 4096
MAX_EXPIRES_IN = 366 * 24 * 3600  # a year: anything longer is not a token lifetime we believe
MAX_SITES = 1000
ERROR_CODE = re.compile(r"[a-z_]{1,64}")


@dataclass(frozen=True)
class JiraSite:
    """One site a grant covers: ``id`` is its cloud id, ``url`` has no trailing slash."""

    id: str
    name: str
    url: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class TokenAnswer:
    access_token: str
    refresh_token: str  # "" when the answer has none
    expires_in: int
    scopes: tuple[str, ...] | None  # None when the answer does not say (RFC 6749: as requested)


@dataclass(frozen=True)
class Refusal:
    """What a non-2xx OAuth answer said, safe to show: an error code and a scrubbed description."""

    status: int
    error: str
    description: str

    def said(self) -> str:
        words = ": ".join(part for part in (self.error, self.description) if part)
        return f"{self.status} {words}" if words else str(self.status)


class BadAnswer(Exception):
    """A provider value failed its check; the message names the value, never shows it."""


def read_json(response: httpx.Response) -> object:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def scrub(text: str, hidden: Sequence[str]) -> str:
    for value in hidden:
        if value:
            text = text.replace(value, "***")
    return text


def refusal(response: httpx.Response, hidden: Sequence[str]) -> Refusal:
    """The error code and description of an OAuth error answer, safe to show: the code only when it
    looks like one, the description printable, short, and without any of ``hidden``."""
    body = read_json(response)
    error = description = ""
    if isinstance(body, dict):
        raw_error = body.get("error")
        if isinstance(raw_error, str) and ERROR_CODE.fullmatch(raw_error):
            error = raw_error
        raw = body.get("error_description", body.get("message"))
        if isinstance(raw, str):
            description = "".join(c for c in scrub(raw, hidden) if c.isprintable())[:200]
    return Refusal(response.status_code, error, description)


def text_value(body: dict[str, Any], key: str, *, spaces: bool) -> str | None:
    """``body[key]`` when it is 1-4096 printable characters (no whitespace unless ``spaces``)."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_VALUE or not value.isprintable():
        raise BadAnswer(f"with a {key} value that is not 1-{MAX_VALUE} printable characters")
    if not spaces and any(c.isspace() for c in value):
        raise BadAnswer(f"with a {key} value that has spaces in it")
    return value


def token_answer(response: httpx.Response) -> TokenAnswer:
    body = read_json(response)
    if not isinstance(body, dict):
        raise BadAnswer("with a body that is not a JSON object")
    access = text_value(body, "access_token", spaces=False)
    if access is None:
        raise BadAnswer("without an access_token")
    refresh = text_value(body, "refresh_token", spaces=False) or ""
    token_type = body.get("token_type")
    if token_type is not None and (not isinstance(token_type, str) or token_type.lower() != "bearer"):
        raise BadAnswer("with a token_type other than Bearer")
    expires_in = body.get("expires_in")
    if not isinstance(expires_in, int) or isinstance(expires_in, bool) or not 0 < expires_in <= MAX_EXPIRES_IN:
        raise BadAnswer(f"without an expires_in of 1-{MAX_EXPIRES_IN} seconds")
    scope = body.get("scope")
    if scope == "":
        scopes: tuple[str, ...] | None = ()
    else:
        text = text_value(body, "scope", spaces=True)
        scopes = tuple(text.split()) if text is not None else None
    return TokenAnswer(access, refresh, expires_in, scopes)


def site_list(body: object) -> list[JiraSite]:
    if not isinstance(body, list):
        raise BadAnswer("not a JSON list")
    if len(body) > MAX_SITES:
        raise BadAnswer(f"more than {MAX_SITES} sites")
    return [site(index, item) for index, item in enumerate(body)]


def site(index: int, item: object) -> JiraSite:
    where = f"site {index}"
    if not isinstance(item, dict):
        raise BadAnswer(f"{where} is not an object")
    cloud_id = item.get("id")
    if not isinstance(cloud_id, str) or not CLOUD_ID.fullmatch(cloud_id):
        raise BadAnswer(f"{where} has no id of 1-128 letters, digits or '-'")
    url = item.get("url")
    if not isinstance(url, str) or not 0 < len(url) <= MAX_VALUE or not url.isprintable():
        raise BadAnswer(f"{where} has no url string")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
        raise BadAnswer(f"{where} has a url that is not an http(s) site address")
    name = item.get("name", "")
    if not isinstance(name, str) or len(name) > MAX_VALUE or not name.isprintable():
        raise BadAnswer(f"{where} has a name that is not printable text")
    scopes = item.get("scopes", [])
    if not isinstance(scopes, list) or not all(
        isinstance(s, str) and 0 < len(s) <= MAX_VALUE and s.isprintable() for s in scopes
    ):
        raise BadAnswer(f"{where} has scopes that are not a list of strings")
    return JiraSite(cloud_id, name, url.strip().rstrip("/"), tuple(scopes))
