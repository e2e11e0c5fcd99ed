"""What can go wrong talking to ClickUp.

    ClickUpError
    ├── ClickUpTransportError      network failure or timeout, after retries
    ├── ClickUpResponseError       a 2xx whose body is not the documented shape
    └── ClickUpHTTPError           non-2xx with ClickUp's {"err", "ECODE"} envelope
        ├── ClickUpAuthError       401 token family (OAUTH_017/019/021/025/077): the token is bad
        ├── ClickUpNotAuthorized   401 team family (OAUTH_023/026/027/029-045): the workspace
        │                          is not authorised, or the id does not exist (ClickUp says
        │                          401 OAUTH_023 for unknown ids) - not a bad token
        ├── ClickUpNotFound        404
        ├── ClickUpWebhookExists   400 WEBHOOK_003 / "Webhook configuration already exists": this
        │                          user already has a webhook for that endpoint in the workspace
        ├── ClickUpRateLimited     429, after waiting and retrying
        └── ClickUpServerError     5xx, after retries

Messages name the real method and path (``POST /team/1/webhook``) and never contain the token.
"""

from __future__ import annotations

_TOKEN_CODES = {"OAUTH_017", "OAUTH_019", "OAUTH_021", "OAUTH_025", "OAUTH_077"}
# "Token not found": for an OAuth token this means the grant was revoked (never OAUTH_023, which
# ClickUp also answers for an unknown id). OAUTH_017 (no header) is our bug, not a revocation.
GRANT_GONE_CODES = frozenset({"OAUTH_019", "OAUTH_021", "OAUTH_025", "OAUTH_077"})
_WEBHOOK_EXISTS_CODE = "WEBHOOK_003"


class ClickUpError(Exception):
    """Base of everything the client raises."""


class ClickUpTransportError(ClickUpError):
    """ClickUp could not be reached (connect error, timeout)."""


class ClickUpResponseError(ClickUpError):
    """ClickUp answered 2xx with a body we cannot use."""


class ClickUpHTTPError(ClickUpError):
    def __init__(self, status: int, ecode: str, err: str, method: str, path: str) -> None:
        self.status = status
        self.ecode = ecode
        self.err = err
        self.path = path
        self.method = method
        super().__init__(f"ClickUp answered {status} {ecode or '-'} ({err or 'no message'}) for {method} {path}")


class ClickUpAuthError(ClickUpHTTPError):
    """The token itself was rejected."""


class ClickUpNotAuthorized(ClickUpHTTPError):
    """Workspace not authorised for this token, or an id that does not exist."""


class ClickUpNotFound(ClickUpHTTPError):
    pass


class ClickUpWebhookExists(ClickUpHTTPError):
    """Creating a webhook was refused because the same user already has one for that endpoint."""


class ClickUpRateLimited(ClickUpHTTPError):
    pass


class ClickUpServerError(ClickUpHTTPError):
    pass


def _webhook_exists(ecode: str, err: str) -> bool:
    # ClickUp's documented text is "Webhook configuration already exists"; the code is WEBHOOK_003.
    text = err.lower()
    return ecode == _WEBHOOK_EXISTS_CODE or ("webhook" in text and "already exists" in text)


def http_error(status: int, ecode: str, err: str, method: str, path: str) -> ClickUpHTTPError:
    """The typed error for a non-2xx answer to ``method path``."""
    kind: type[ClickUpHTTPError] = ClickUpHTTPError
    if status == 401:
        kind = ClickUpAuthError if ecode in _TOKEN_CODES or not ecode else ClickUpNotAuthorized
    elif status == 404:
        kind = ClickUpNotFound
    elif status == 429:
        kind = ClickUpRateLimited
    elif status >= 500:
        kind = ClickUpServerError
    elif status == 400 and _webhook_exists(ecode, err):
        kind = ClickUpWebhookExists
    return kind(status, ecode, err, method, path)
