"""Scheme ``jwt-hs256-route``: ``Authorization: Bearer <JWT>`` signed HS256 with the webhook's secret
(Jira's dynamic webhooks, registered by an OAuth 2.0 app: the server keeps the app's client secret
as that registration's secret), the secret found by the route key in the path, as for
``hub-sha256-route``.

What a good token proves: whoever holds the secret issued it, recently (``exp`` in the future;
``iat``/``nbf``, when present, not in the future; 60 s of clock skew either way). What it does not:
the token covers no byte of the body. Atlassian documents no body-hash claim (a Connect ``qsh``
is neither required nor checked) and calls the claim set unverified, so only the signature and the
times are checked: anyone who sees one delivery can replay its token with another body to the same
route until it expires. TLS is what keeps tokens unseen; and the token is not kept with the
delivery (``signature_headers`` is empty), so a spool or inbox reader cannot replay it either.

Before any lookup the token must be well-formed: ``Bearer``, at most ``MAX_TOKEN_CHARS``, three
unpadded base64url segments, a header and a payload that are JSON objects, ``alg`` exactly
``HS256`` (never ``none``, ``RS256``, ``HS512`` or missing) and ``exp`` a number. PyJWT then checks
the signature (constant time, HS256 only); the times are compared here, on the verified claims.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from jwt import PyJWS, PyJWTError
from jwt.algorithms import HMACAlgorithm

from webhook_gateway.envelope import MAX_BODY_BYTES, Rejected, SignatureMismatch, load_object
from webhook_gateway.schemes.base import Routed, Scheme, Signed, lookup_key

HEADER = "Authorization"
ALGORITHM = "HS256"
# Atlassian's tokens are a few hundred characters; the cap bounds the work before any lookup.
MAX_TOKEN_CHARS = 4096
LEEWAY_SECONDS = 60.0
TIME_CLAIMS = ("exp", "iat", "nbf")

_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")  # unpadded base64url (RFC 7515 §2)


class _AnyLengthHs256(HMACAlgorithm):
    """HS256 without PyJWT's short-key warning: the sender (the OAuth app) chooses the secret, not
    us, so a warning per delivery would say nothing an operator could act on."""

    def __init__(self) -> None:
        super().__init__(HMACAlgorithm.SHA256)

    def check_key_length(self, key: bytes) -> str | None:
        return None


def _jws() -> PyJWS:
    jws = PyJWS(algorithms=[ALGORITHM])
    jws.unregister_algorithm(ALGORITHM)
    jws.register_algorithm(ALGORITHM, _AnyLengthHs256())
    return jws


_JWS = _jws()


@dataclass(frozen=True)
class SignedToken(Signed):
    """A bearer JWT (compact form in ``digest``), well-formed and HS256, not yet verified."""


def _garbled(why: str) -> Rejected:
    return Rejected(401, "bad_signature", f"{HEADER} must be 'Bearer <JWT>' signed {ALGORITHM}: {why}")


def _json_object(segment: str, what: str) -> dict[str, Any]:
    try:
        data: Any = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError, RecursionError):  # bad base64, UTF-8 or JSON
        raise _garbled(f"the {what} is not base64url JSON") from None
    if not isinstance(data, dict):
        raise _garbled(f"the {what} is not a JSON object")
    return data


def _claims(payload: dict[str, Any]) -> dict[str, float]:
    """The time claims, numbers (JSON booleans are not); ``exp`` is required."""
    if "exp" not in payload:
        raise _garbled("the token has no 'exp'")
    return {claim: _seconds(claim, payload[claim]) for claim in TIME_CLAIMS if claim in payload}


def _seconds(claim: str, value: object) -> float:
    """A JSON number, finite (Python's JSON reads NaN and Infinity) and within a float's range."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:  # an integer of hundreds of digits
            seconds = math.inf
        if math.isfinite(seconds):
            return seconds
    raise _garbled(f"'{claim}' must be a number of seconds")


def parse_bearer(value: str | None) -> SignedToken:
    """The token, checked for shape only; refused before any lookup (401)."""
    provided = (value or "").strip()
    if not provided:
        raise Rejected(401, "missing_signature", f"{HEADER} header is required")
    kind, _, token = provided.partition(" ")
    token = token.strip()
    if kind.lower() != "bearer" or not token:
        raise _garbled("not a bearer token")
    if len(token) > MAX_TOKEN_CHARS:
        raise _garbled(f"the token is longer than {MAX_TOKEN_CHARS} characters")
    segments = token.split(".")
    if len(segments) != 3 or not all(_SEGMENT.fullmatch(segment) for segment in segments):
        raise _garbled("not three base64url segments")
    header = _json_object(segments[0], "header")
    if header.get("alg") != ALGORITHM:
        raise _garbled(f"'alg' must be {ALGORITHM}")
    _claims(_json_object(segments[1], "payload"))
    return SignedToken(token, HEADER)


def verify_token(secret: str, signed: Signed, now: float) -> None:
    """401 ``bad_signature`` unless ``secret`` signed the token, then 401 ``expired_signature`` or
    ``immature_signature`` unless ``now`` (give or take the leeway) lies in its lifetime."""
    try:
        verified = _JWS.decode_complete(signed.digest, key=secret.encode(), algorithms=[ALGORITHM])
    except PyJWTError:  # a wrong signature, or a header PyJWT refuses (an unknown "crit", ...)
        raise SignatureMismatch(f"{HEADER}'s token is not signed with this webhook's secret") from None
    times = _claims(json.loads(verified["payload"]))
    if times["exp"] <= now - LEEWAY_SECONDS:
        raise Rejected(401, "expired_signature", f"{HEADER}'s token has expired")
    for claim in ("iat", "nbf"):
        if times.get(claim, now) > now + LEEWAY_SECONDS:
            raise Rejected(401, "immature_signature", f"{HEADER}'s token is not valid yet ('{claim}')")


class JwtHs256Route(Scheme):
    name: ClassVar[str] = "jwt-hs256-route"
    # Empty on purpose: the token is a bearer credential until it expires (see above).
    signature_headers: ClassVar[tuple[str, ...]] = ()
    keyed_by_route: ClassVar[bool] = True

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def signature(self, headers: Mapping[str, str]) -> Signed:
        return parse_bearer(headers.get(HEADER.lower()))

    def route(self, body: bytes, route: str | None, max_bytes: int = MAX_BODY_BYTES) -> Routed:
        return Routed(lookup_key(route, "the path"))

    def verify(self, secret: str, body: bytes, signed: Signed) -> None:
        verify_token(secret, signed, self._clock())

    def check(self, body: bytes, routed: Routed, max_bytes: int = MAX_BODY_BYTES) -> None:
        load_object(body, max_bytes)
