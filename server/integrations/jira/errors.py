"""What can go wrong talking to Jira Cloud.

    JiraError
    ├── JiraTransportError      network failure or timeout, after retries
    ├── JiraResponseError       a 2xx whose body is not the documented shape
    │   └── JiraAnonymous       /myself answered without an accountId: the credentials never
    │                           arrived (a proxy dropped them, wrong host), so reads would be empty
    └── JiraHTTPError           non-2xx; ``messages`` from an ErrorCollection, problem+json, the
        │                       gateway's {"message"} or a plain-text body
        ├── JiraBadRequest      400: bad JQL or parameters (never "no data")
        ├── JiraAuthError       401: bad or expired credentials ("Client must be authenticated…"),
        │   └── JiraScopeError  or, at the gateway, a missing scope (also a path that does not exist)
        ├── JiraForbidden       403: authenticated, but no global permission or product licence
        ├── JiraNotFound        404: missing *or not visible* to this credential (§7)
        ├── JiraGone            410: a removed API (``/rest/api/3/search``)
        ├── JiraRateLimited     429, after waiting and retrying
        └── JiraServerError     5xx, after retries

Messages name the real method and path (``GET /rest/api/3/myself``), never the query string, a
header or a credential.
"""

from __future__ import annotations

_SCOPE_MESSAGE = "scope does not match"


class JiraError(Exception):
    """Base of everything the client raises."""


class JiraTransportError(JiraError):
    """Jira could not be reached (connect error, timeout)."""


class JiraResponseError(JiraError):
    """Jira answered 2xx with a body we cannot use."""


class JiraAnonymous(JiraResponseError):
    """The call was served as anonymous: the credentials did not arrive."""


class JiraHTTPError(JiraError):
    def __init__(self, status: int, messages: tuple[str, ...], method: str, path: str) -> None:
        self.status = status
        self.messages = messages
        self.method = method
        self.path = path
        said = "; ".join(messages) or "no message"
        super().__init__(f"Jira answered {status} ({said}) for {method} {path}")


class JiraBadRequest(JiraHTTPError):
    pass


class JiraAuthError(JiraHTTPError):
    """The credentials were rejected (or, for OAuth, the token could not be refreshed)."""


class JiraScopeError(JiraAuthError):
    """The gateway's ``Unauthorized; scope does not match``: the grant lacks a scope for this call."""


class JiraForbidden(JiraHTTPError):
    pass


class JiraNotFound(JiraHTTPError):
    """Missing, or not visible to this credential: Jira does not tell the two apart."""


class JiraGone(JiraHTTPError):
    pass


class JiraRateLimited(JiraHTTPError):
    pass


class JiraServerError(JiraHTTPError):
    pass


def http_error(status: int, messages: tuple[str, ...], method: str, path: str) -> JiraHTTPError:
    """The typed error for a non-2xx answer to ``method path``."""
    kind: type[JiraHTTPError] = JiraHTTPError
    if status == 400:
        kind = JiraBadRequest
    elif status == 401:
        kind = JiraScopeError if any(_SCOPE_MESSAGE in m.lower() for m in messages) else JiraAuthError
    elif status == 403:
        kind = JiraForbidden
    elif status == 404:
        kind = JiraNotFound
    elif status == 410:
        kind = JiraGone
    elif status == 429:
        kind = JiraRateLimited
    elif status >= 500:
        kind = JiraServerError
    return kind(status, messages, method, path)
