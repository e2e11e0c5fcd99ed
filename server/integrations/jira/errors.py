"""What can go wrong talking to Jira Cloud.

    JiraError
    ├── JiraTransportError      network failure or timeout, after retries
    │   └── JiraOAuthUnavailable  Atlassian's OAuth endpoints failed (5xx, 429) or were unreachable
    │                           during a token refresh: retryable (the old refresh token stays
    │                           usable for 10 minutes even if Atlassian rotated it, V8)
    ├── JiraOAuthAppRejected    the token endpoint refused this server's OAuth app (a 4xx other
    │                           than invalid_grant): an operator must fix JIRA_OAUTH_CLIENT_*
    ├── JiraSiteNotGranted      the OAuth grant covers no site with the configured URL (or several
    │                           and none was named); the message lists the granted site URLs
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
        │   └── JiraSiteUnreachable  the gateway's own 404: its cloud id is not in this grant
        ├── JiraGone            410: a removed API (``/rest/api/3/search``)
        ├── JiraRateLimited     429, after waiting and retrying
        └── JiraServerError     5xx, after retries

A dead refresh token is not a ``JiraError``: it is the generic ``GrantRevoked`` (only a new sign-in
helps, and the server pauses the integration on it whatever the plugin).

Messages name the real method and path (``GET /rest/api/3/myself``), never the query string, a
header or a credential.
"""

from __future__ import annotations

_SCOPE_MESSAGE = "scope does not match"


class JiraError(Exception):
    """Base of everything the client raises."""


class JiraTransportError(JiraError):
    """Jira could not be reached (connect error, timeout)."""


class JiraOAuthUnavailable(JiraTransportError):
    """Atlassian's token or resources endpoint failed or could not be reached: retry later."""


class JiraOAuthAppRejected(JiraError):
    """Atlassian refused this server's OAuth app (client id, secret, or a malformed request):
    not the project's fault, and a new sign-in would not help."""


class JiraSiteNotGranted(JiraError):
    """The grant does not cover the site the settings name: a new sign-in (picking it) or another
    ``site_url`` helps. The message lists the URLs it does cover (not secret)."""


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
        super().__init__(self._describe())

    def _describe(self) -> str:
        said = "; ".join(self.messages) or "no message"
        return f"Jira answered {self.status} ({said}) for {self.method} {self.path}"


class JiraBadRequest(JiraHTTPError):
    pass


class JiraAuthError(JiraHTTPError):
    """The credentials were rejected (or, for OAuth, the token could not be refreshed)."""


class JiraScopeError(JiraAuthError):
    """The gateway's ``Unauthorized; scope does not match``: the grant lacks a scope for this call.

    Said as a missing scope, not as bad credentials: refreshing or re-entering a token would not
    help, a sign-in that consents to the scope does."""

    def _describe(self) -> str:
        return (
            f"the Jira grant is missing a scope that {self.method} {self.path} needs (the gateway answered 401 "
            "'scope does not match'; it says the same for a path that does not exist): sign in again and "
            "consent to every requested scope"
        )


class JiraForbidden(JiraHTTPError):
    pass


class JiraNotFound(JiraHTTPError):
    """Missing, or not visible to this credential: Jira does not tell the two apart."""


class JiraSiteUnreachable(JiraNotFound):
    """The gateway does not know the cloud id for this token: the site left the grant (or was deleted)."""

    def _describe(self) -> str:
        return (
            f"the Jira site is not reachable with this grant (the gateway answered 404 for {self.method} "
            f"{self.path}: unknown cloud id): sign in again and pick the site on the consent page"
        )


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
