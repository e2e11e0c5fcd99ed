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
        ├── ClickUpRateLimited     429, after waiting and retrying
        └── ClickUpServerError     5xx, after retries

Messages never contain the token.
"""

from __future__ import annotations

_TOKEN_CODES = {"OAUTH_017", "OAUTH_019", "OAUTH_021", "OAUTH_025", "OAUTH_077"}


class ClickUpError(Exception):
    """Base of everything the client raises."""


class ClickUpTransportError(ClickUpError):
    """ClickUp could not be reached (connect error, timeout)."""


class ClickUpResponseError(ClickUpError):
    """ClickUp answered 2xx with a body we cannot use."""


class ClickUpHTTPError(ClickUpError):
    def __init__(self, status: int, ecode: str, err: str, path: str) -> None:
        self.status = status
        self.ecode = ecode
        self.err = err
        self.path = path
        super().__init__(f"ClickUp answered {status} {ecode or '-'} ({err or 'no message'}) for GET {path}")


class ClickUpAuthError(ClickUpHTTPError):
    """The token itself was rejected."""


class ClickUpNotAuthorized(ClickUpHTTPError):
    """Workspace not authorised for this token, or an id that does not exist."""


class ClickUpNotFound(ClickUpHTTPError):
    pass


class ClickUpRateLimited(ClickUpHTTPError):
    pass


class ClickUpServerError(ClickUpHTTPError):
    pass


def http_error(status: int, ecode: str, err: str, path: str) -> ClickUpHTTPError:
    if status == 401:
        if ecode in _TOKEN_CODES or not ecode:
            return ClickUpAuthError(status, ecode, err, path)
        return ClickUpNotAuthorized(status, ecode, err, path)
    if status == 404:
        return ClickUpNotFound(status, ecode, err, path)
    if status == 429:
        return ClickUpRateLimited(status, ecode, err, path)
    if status >= 500:
        return ClickUpServerError(status, ecode, err, path)
    return ClickUpHTTPError(status, ecode, err, path)
