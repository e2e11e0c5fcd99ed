"""What a signing scheme decides: where the signature travels, which key finds the secret, how the
secret proves the signature, and which body rules hold once it is good. The gateway runs every
scheme the same way::

    signature(headers) -> route(body, route) -> secret(integration, key) -> verify(secret, body, signed) -> check(body)

so that refusals come in one order for all (401 for a missing or garbled signature before any
lookup, 400 for a body that cannot be routed, 401 for a wrong signature, 400 for the remaining rules).
``verify`` is an HMAC-SHA256 of the raw body compared with the carried hex digest unless a scheme
signs something else (a bearer token: ``jwt_route.py``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from webhook_gateway.envelope import WEBHOOK_ID, Rejected
from webhook_gateway.signature import verify as verify_hmac


@dataclass(frozen=True)
class Signed:
    """The signature a delivery carries, checked for shape only, and the header it came in, for
    messages. ``digest`` is what the scheme's ``verify`` checks: lower-case hex for the HMAC
    schemes, the compact token for a bearer JWT (``jwt_route.SignedToken``)."""

    digest: str
    header: str


@dataclass(frozen=True)
class Routed:
    """The key the scheme names for the secret lookup, and the parsed body if routing needed it."""

    key: str
    data: dict[str, Any] | None = None


class Scheme(ABC):
    name: ClassVar[str]
    # Kept with the spooled delivery, so the server sees what the sender signed with.
    signature_headers: ClassVar[tuple[str, ...]]
    # True: the key is the last path segment (/webhooks/{integration}/{key}); False: it is in the body.
    keyed_by_route: ClassVar[bool]

    @abstractmethod
    def signature(self, headers: Mapping[str, str]) -> Signed:
        """The digest, or 401 ``missing_signature``/``bad_signature`` before anything is looked up."""

    @abstractmethod
    def route(self, body: bytes, route: str | None, max_bytes: int) -> Routed:
        """The secret's lookup key, checked before it is used."""

    def verify(self, secret: str, body: bytes, signed: Signed) -> None:
        """401 ``bad_signature`` unless ``secret`` made ``signed``: by default, the HMAC-SHA256 of the
        exact raw body against the hex digest, in constant time."""
        verify_hmac(secret, body, signed.digest, signed.header)

    @abstractmethod
    def check(self, body: bytes, routed: Routed, max_bytes: int) -> None:
        """The body rules that need no key, applied once the signature is good."""


def lookup_key(value: object, what: str) -> str:
    """A webhook id, from the body or the path: 1-128 characters of a small, log-safe alphabet."""
    if value is None or value == "":
        raise Rejected(400, "missing_webhook_id", f"{what} has no webhook id")
    if not isinstance(value, str) or not WEBHOOK_ID.fullmatch(value):
        raise Rejected(400, "bad_webhook_id", f"{what}: a webhook id is 1-128 letters, digits, '.', '_', ':' or '-'")
    return value
