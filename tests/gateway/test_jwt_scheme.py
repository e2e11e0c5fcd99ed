"""Scheme ``hub-sha256-or-jwt-route`` (Jira's default): admin webhooks sign the body with
``X-Hub-Signature``, an OAuth app's dynamic webhooks send ``Authorization: Bearer <JWT>`` (HS256,
the app's client secret). One table for the token's shape (refused before any lookup), one for its
verification and lifetime (after), then both through the gateway served as in production in front
of a real gRPC server whose secret answers the test scripts (``scripted_server``)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.gateway import scripted_server as scripted
from tests.gateway.support import GatewayServer, metric, sign
from tests.gateway.test_schemes import V3_BODY, V3_HEADER, V3_SECRET, V4_BODY, V4_HEADER, refusal
from tests.support import wait_until
from webhook_gateway.config import GatewayConfig
from webhook_gateway.schemes import SCHEMES, Routed, Signed
from webhook_gateway.schemes.defaults import DEFAULT_SCHEMES
from webhook_gateway.schemes.hub_or_jwt_route import HubSha256OrJwtRoute
from webhook_gateway.schemes.jwt_route import MAX_TOKEN_CHARS, JwtHs256Route, SignedToken

NOW = 1_767_225_600.0
# Shorter than SHA-256's 32 bytes on purpose: warnings are errors here, so this also proves that a
# sender's short secret costs no key-length warning per delivery.
SECRET = "jira-oauth-client-secret"
DIGEST = "ab" * 32
SHA1_HEADER = "sha1=5613af64eb0e12575a7686fe63dfec8faeccd935"
EITHER = SCHEMES["hub-sha256-or-jwt-route"]
AT_NOW = HubSha256OrJwtRoute(token=JwtHs256Route(clock=lambda: NOW))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: object) -> str:
    return b64(json.dumps(value).encode())


def claims_at(now: float, **changes: object) -> dict[str, object]:
    return {"iss": "jira-app", "iat": int(now), "exp": int(now) + 300, **changes}


def token(
    claims: dict[str, object] | None = None,
    secret: str = SECRET,
    header: object = None,
    *,
    payload: str | None = None,
    digest: Callable[..., Any] = hashlib.sha256,
) -> str:
    """A compact JWT made by hand, so that malformed ones can be made too."""
    head = segment({"alg": "HS256", "typ": "JWT"} if header is None else header)
    body = payload if payload is not None else segment(claims_at(NOW) if claims is None else claims)
    signing_input = f"{head}.{body}"
    return f"{signing_input}.{b64(hmac.new(secret.encode(), signing_input.encode(), digest).digest())}"


def bearer(value: str) -> dict[str, str]:
    return {"authorization": f"Bearer {value}"}


def rs256_token(claims: dict[str, object]) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims, key, algorithm="RS256")


def exact_length(length: int) -> str:
    """A valid token of exactly ``length`` characters."""
    for pad in range(length):
        for extra in ("", "y", "yy"):
            made = token(claims_at(NOW, pad="x" * pad, q=extra))
            if len(made) == length:
                return made
    raise AssertionError(f"no token of {length} characters")


GOOD = token()
PARTS = GOOD.split(".")

# (case, headers, outcome): "token" = a bearer token to verify, "hub" = the hub digest, else the
# 401 reason given before any lookup.
SHAPES: list[tuple[str, dict[str, str], str]] = [
    ("a token", bearer(GOOD), "token"),
    ("'bearer' in lower case, padded", {"authorization": f"  bearer  {GOOD} "}, "token"),
    ("made by PyJWT", bearer(jwt.encode(claims_at(NOW), "k" * 32, algorithm="HS256")), "token"),
    (f"exactly {MAX_TOKEN_CHARS} characters", bearer(exact_length(MAX_TOKEN_CHARS)), "token"),
    ("X-Hub-Signature-256 only", {"x-hub-signature-256": "sha256=" + DIGEST}, "hub"),
    ("a hub header wins over a token", {"x-hub-signature": "sha256=" + DIGEST, **bearer(GOOD)}, "hub"),
    ("neither header", {}, "missing_signature"),
    ("only X-Signature", {"x-signature": DIGEST}, "missing_signature"),
    ("an empty Authorization", {"authorization": ""}, "missing_signature"),
    ("a blank Authorization", {"authorization": "   "}, "missing_signature"),
    ("an empty hub header is not rescued by a token", {"x-hub-signature": "", **bearer(GOOD)}, "missing_signature"),
    ("a SHA-1 hub header is not rescued by a token", {"x-hub-signature": SHA1_HEADER, **bearer(GOOD)}, "bad_signature"),
    ("Basic credentials", {"authorization": "Basic amFuZTpwdw=="}, "bad_signature"),
    ("Bearer and nothing", {"authorization": "Bearer"}, "bad_signature"),
    ("a bare token", {"authorization": GOOD}, "bad_signature"),
    ("garbage", bearer("not-a-jwt"), "bad_signature"),
    ("two segments", bearer(".".join(PARTS[:2])), "bad_signature"),
    ("four segments", bearer(GOOD + "." + PARTS[2]), "bad_signature"),
    ("an empty signature", bearer(f"{PARTS[0]}.{PARTS[1]}."), "bad_signature"),
    ("padded base64", bearer(f"{PARTS[0]}==.{PARTS[1]}.{PARTS[2]}"), "bad_signature"),
    ("the standard base64 alphabet", bearer(f"{PARTS[0]}.{PARTS[1]}.{PARTS[2][:-1]}+"), "bad_signature"),
    ("a space inside", bearer(f"{PARTS[0]}. {PARTS[1]}.{PARTS[2]}"), "bad_signature"),
    ("non-ASCII", bearer(f"{PARTS[0]}.{PARTS[1]}é.{PARTS[2]}"), "bad_signature"),
    ("a header of impossible length", bearer(f"A.{PARTS[1]}.{PARTS[2]}"), "bad_signature"),
    ("a header that is not JSON", bearer(f"{b64(b'not json')}.{PARTS[1]}.{PARTS[2]}"), "bad_signature"),
    ("a header that is a list", bearer(token(header=["HS256"])), "bad_signature"),
    ("a header that is not UTF-8", bearer(f"{b64(bytes([0xFF, 0xFE]))}.{PARTS[1]}.{PARTS[2]}"), "bad_signature"),
    ("alg none", bearer(token(header={"alg": "none", "typ": "JWT"})), "bad_signature"),
    ("alg none, no signature", bearer(f"{segment({'alg': 'none'})}.{PARTS[1]}."), "bad_signature"),
    ("no alg", bearer(token(header={"typ": "JWT"})), "bad_signature"),
    ("alg null", bearer(token(header={"alg": None})), "bad_signature"),
    ("alg in lower case", bearer(token(header={"alg": "hs256"})), "bad_signature"),
    ("alg HS512", bearer(token(header={"alg": "HS512"}, digest=hashlib.sha512)), "bad_signature"),
    ("alg RS256", bearer(rs256_token(claims_at(NOW))), "bad_signature"),
    ("a payload that is a list", bearer(token(payload=segment([1]))), "bad_signature"),
    ("a payload that is not JSON", bearer(token(payload=b64(b"{"))), "bad_signature"),
    ("no exp", bearer(token({"iat": int(NOW)})), "bad_signature"),
    ("exp a string", bearer(token(claims_at(NOW, exp="1767225900"))), "bad_signature"),
    ("exp true", bearer(token(claims_at(NOW, exp=True))), "bad_signature"),
    ("exp null", bearer(token(claims_at(NOW, exp=None))), "bad_signature"),
    ("exp Infinity", bearer(token(payload=b64(b'{"exp":Infinity}'))), "bad_signature"),
    ("exp NaN", bearer(token(payload=b64(b'{"exp":NaN}'))), "bad_signature"),
    ("exp of 400 digits", bearer(token(payload=b64(b'{"exp":1' + b"0" * 400 + b"}"))), "bad_signature"),
    ("iat a string", bearer(token(claims_at(NOW, iat="now"))), "bad_signature"),
    (f"{MAX_TOKEN_CHARS + 1} characters", bearer(exact_length(MAX_TOKEN_CHARS + 1)), "bad_signature"),
    ("oversize", bearer(token(claims_at(NOW, pad="x" * 10_000))), "bad_signature"),
]


@pytest.mark.parametrize(("case", "headers", "outcome"), SHAPES, ids=[row[0] for row in SHAPES])
def test_the_signature_headers_shape_is_checked_before_any_lookup(
    case: str, headers: dict[str, str], outcome: str
) -> None:
    if outcome == "token":
        signed = EITHER.signature(headers)
        assert isinstance(signed, SignedToken), case
        assert signed.header == "Authorization"
    elif outcome == "hub":
        signed = EITHER.signature(headers)
        assert not isinstance(signed, SignedToken), case
        assert signed.digest == DIGEST
    else:
        assert refusal(lambda: EITHER.signature(headers)) == (401, outcome), case


def test_with_a_hub_header_the_scheme_reads_exactly_like_hub_sha256_route() -> None:
    hub = SCHEMES["hub-sha256-route"]
    for headers in ({"x-hub-signature": "sha256=" + DIGEST}, {"x-hub-signature-256": "sha256=" + DIGEST.upper()}):
        assert EITHER.signature(headers) == hub.signature(headers)
    assert EITHER.signature_headers == hub.signature_headers, "the bearer token is never kept with the delivery"
    assert EITHER.keyed_by_route
    assert EITHER.route(b"{}", "72", 1024) == Routed("72")
    assert refusal(lambda: EITHER.route(b"{}", None, 1024)) == (400, "missing_webhook_id")


# (case, token, secret, outcome): None = verified, else the 401 reason after the lookup; the clock
# reads NOW.
VERIFICATIONS: list[tuple[str, str, str, str | None]] = [
    ("good", GOOD, SECRET, None),
    ("no iat", token({"exp": NOW + 300}), SECRET, None),
    ("a fractional exp", token({"exp": NOW + 0.5}), SECRET, None),
    ("a Connect-style qsh is neither needed nor checked", token(claims_at(NOW, qsh="abc")), SECRET, None),
    ("an aud is not checked (the claim set is unverified)", token(claims_at(NOW, aud="x")), SECRET, None),
    ("expired 59 s ago: within the skew", token(claims_at(NOW, exp=NOW - 59)), SECRET, None),
    ("expired 60 s ago", token(claims_at(NOW, exp=NOW - 60)), SECRET, "expired_signature"),
    ("expired a day ago", token(claims_at(NOW - 86_400)), SECRET, "expired_signature"),
    ("issued 59 s ahead: within the skew", token(claims_at(NOW, iat=NOW + 59)), SECRET, None),
    ("issued 61 s ahead", token(claims_at(NOW, iat=NOW + 61)), SECRET, "immature_signature"),
    ("not before 2 min ahead", token(claims_at(NOW, nbf=NOW + 120)), SECRET, "immature_signature"),
    ("not before 59 s ahead", token(claims_at(NOW, nbf=NOW + 59)), SECRET, None),
    ("another secret", GOOD, "another-secret", "bad_signature"),
    ("the secret and a space", GOOD, SECRET + " ", "bad_signature"),
    ("an expired token with another secret", token(claims_at(NOW - 86_400)), "x", "bad_signature"),
    (
        "a tampered payload",
        f"{PARTS[0]}.{segment(claims_at(NOW, iss='someone-else'))}.{PARTS[2]}",
        SECRET,
        "bad_signature",
    ),
    (
        "a tampered header",
        f"{segment({'alg': 'HS256', 'kid': 'k2'})}.{PARTS[1]}.{PARTS[2]}",
        SECRET,
        "bad_signature",
    ),
    (
        "another token's signature",
        f"{PARTS[0]}.{PARTS[1]}.{token(claims_at(NOW + 1)).split('.')[2]}",
        SECRET,
        "bad_signature",
    ),
    ("a signature one character short", GOOD[:-1], SECRET, "bad_signature"),
    ("an unknown critical header", token(header={"alg": "HS256", "crit": ["exp"]}), SECRET, "bad_signature"),
]


@pytest.mark.parametrize(("case", "value", "secret", "reason"), VERIFICATIONS, ids=[row[0] for row in VERIFICATIONS])
def test_a_token_is_verified_with_the_looked_up_secret_then_its_lifetime(
    case: str, value: str, secret: str, reason: str | None
) -> None:
    signed = AT_NOW.signature(bearer(value))
    if reason is None:
        AT_NOW.verify(secret, b"{}", signed)
    else:
        assert refusal(lambda: AT_NOW.verify(secret, b"{}", signed)) == (401, reason), case


def test_a_token_does_not_cover_the_body() -> None:
    """What the scheme cannot prove (see its docstring): any body verifies under a good token."""
    signed = AT_NOW.signature(bearer(GOOD))
    AT_NOW.verify(SECRET, b'{"webhookEvent":"jira:issue_created"}', signed)
    AT_NOW.verify(SECRET, b'{"webhookEvent":"jira:issue_deleted"}', signed)


def test_a_hub_signature_is_still_an_hmac_of_the_body() -> None:
    signed = AT_NOW.signature({"x-hub-signature": V3_HEADER})
    AT_NOW.verify(V3_SECRET, V3_BODY, signed)
    assert refusal(lambda: AT_NOW.verify(V3_SECRET, V3_BODY + b"\n", signed)) == (401, "bad_signature")
    forged = Signed(SignedToken(GOOD, "Authorization").digest, "X-Hub-Signature")
    assert refusal(lambda: AT_NOW.verify(SECRET, b"{}", forged)) == (401, "bad_signature"), "no token check for hub"


def test_jira_uses_the_scheme_by_default() -> None:
    assert DEFAULT_SCHEMES["jira"] == "hub-sha256-or-jwt-route"
    assert SCHEMES["jwt-hs256-route"].signature_headers == ()


def test_the_token_only_scheme_takes_no_hub_header() -> None:
    only = JwtHs256Route(clock=lambda: NOW)
    assert refusal(lambda: only.signature({"x-hub-signature": "sha256=" + DIGEST})) == (401, "missing_signature")
    only.verify(SECRET, b"{}", only.signature(bearer(GOOD)))


# -- through the gateway ----------------------------------------------------------------------

ROUTE_KEY = "jira-dyn-1"
V3_KEY = "jira-admin-v3"
V4_KEY = "jira-admin-v4"


@dataclass
class Recording(scripted.ScriptedService):
    """The scripted server, also keeping the headers each forwarded delivery came with."""

    headers: list[dict[str, str]] = field(default_factory=list)

    async def DeliverWebhookEvents(
        self, request: scripted.pb.DeliverWebhookEventsRequest, context: Any
    ) -> scripted.pb.DeliverWebhookEventsResponse:
        self.headers.extend(dict(event.headers) for event in request.events)
        return await super().DeliverWebhookEvents(request, context)


@dataclass
class Rig:
    service: Recording
    client: httpx.AsyncClient
    url: str

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        # In a thread: the scripted server runs on this test's event loop and must keep answering.
        await asyncio.to_thread(wait_until, condition, 30, what)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    service = Recording(secrets={ROUTE_KEY: SECRET, V3_KEY: V3_SECRET, V4_KEY: "test-secret"})
    server, target = await scripted.start(service)
    config = GatewayConfig(server_target=target, server_token="t", spool_path=tmp_path / "spool.db")
    assert config.schemes["jira"] == "hub-sha256-or-jwt-route", "the defaults, as shipped"
    try:
        with GatewayServer(config) as gateway:
            async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
                yield Rig(service, client, gateway.url)
    finally:
        await server.stop(None)


def issue_event() -> bytes:
    return json.dumps(
        {"webhookEvent": "jira:issue_updated", "matchedWebhookIds": [1000], "id": uuid.uuid4().hex}
    ).encode()


def live_token(secret: str = SECRET, **changes: object) -> str:
    return token(claims_at(time.time(), **changes), secret)


def tampered(value: str) -> str:
    """The token with other claims in its payload, under its own signature."""
    head, _, signature = value.split(".")
    return f"{head}.{segment(claims_at(time.time(), iss='mallory'))}.{signature}"


def json_with(headers: dict[str, str]) -> dict[str, str]:
    return {"Content-Type": "application/json; charset=UTF-8", **headers}


async def test_a_dynamic_webhook_delivery_is_verified_spooled_and_forwarded(rig: Rig) -> None:
    body = issue_event()
    response = await rig.client.post(
        f"/webhooks/jira/{ROUTE_KEY}", content=body, headers=json_with(bearer(live_token()))
    )
    assert response.status_code == 200, response.text
    await rig.until(lambda: body in rig.service.kept, "the delivery to reach the server")
    forwarded = rig.service.headers[rig.service.kept.index(body)]
    assert forwarded["x-gateway-route-key"] == ROUTE_KEY, "the server is told which registration verified it"
    assert "authorization" not in forwarded, "a bearer token is not kept"
    assert rig.service.secret_calls == [ROUTE_KEY]


ADMIN_VECTORS = [
    ("V3, X-Hub-Signature", V3_KEY, {"x-hub-signature": V3_HEADER}, V3_BODY),
    ("V3, X-Hub-Signature-256", V3_KEY, {"x-hub-signature-256": V3_HEADER}, V3_BODY),
    ("V4, X-Hub-Signature", V4_KEY, {"x-hub-signature": V4_HEADER}, V4_BODY),
    ("V4, with a bearer token beside it", V4_KEY, {"x-hub-signature": V4_HEADER, **bearer("garbage")}, V4_BODY),
]


@pytest.mark.parametrize(("case", "key", "headers", "body"), ADMIN_VECTORS, ids=[row[0] for row in ADMIN_VECTORS])
async def test_admin_webhook_vectors_still_verify_for_jira(
    rig: Rig, case: str, key: str, headers: dict[str, str], body: bytes
) -> None:
    response = await rig.client.post(f"/webhooks/jira/{key}", content=body, headers=json_with(headers))
    assert response.status_code == 200, (case, response.text)
    await rig.until(lambda: body in rig.service.kept, "the delivery to reach the server")
    forwarded = rig.service.headers[rig.service.kept.index(body)]
    assert forwarded["x-gateway-route-key"] == key
    hub_headers = {k: v for k, v in headers.items() if k.startswith("x-hub-")}
    assert {k: v for k, v in forwarded.items() if k.startswith("x-hub-")} == hub_headers
    assert "authorization" not in forwarded


async def test_v2s_signature_verifies_and_then_the_body_rules_refuse_it(rig: Rig) -> None:
    """GitHub's published vector (Jira's V2): the signature is good, but ``Hello World!`` is no JSON object."""
    rig.service.secrets["github-example"] = "It's a Secret to Everybody"
    header = {"x-hub-signature-256": "sha256=a4771c39fbe90f317c7824e83ddef3caae9cb3d976c214ace1f2937e133263c9"}
    response = await rig.client.post(
        "/webhooks/jira/github-example", content=b"Hello World!", headers=json_with(header)
    )
    assert (response.status_code, response.json()["reason"]) == (400, "not_json")
    forged = {"x-hub-signature-256": "sha256=" + sign("nope", b"Hello World!")}
    response = await rig.client.post(
        "/webhooks/jira/github-example", content=b"Hello World!", headers=json_with(forged)
    )
    assert (response.status_code, response.json()["reason"]) == (401, "bad_signature")


Headers = Callable[[bytes], dict[str, str]]

# (case, headers for the body, route key, status, reason, whether the secret was looked up)
GATEWAY_REFUSALS: list[tuple[str, Headers, str, int, str, bool]] = [
    ("neither header", lambda body: {}, ROUTE_KEY, 401, "missing_signature", False),
    ("garbage token", lambda body: bearer("not-a-jwt"), ROUTE_KEY, 401, "bad_signature", False),
    ("Basic credentials", lambda body: {"authorization": "Basic amFuZTpwdw=="}, ROUTE_KEY, 401, "bad_signature", False),
    (
        "alg none",
        lambda body: bearer(token(claims_at(time.time()), header={"alg": "none"})),
        ROUTE_KEY,
        401,
        "bad_signature",
        False,
    ),
    (
        "alg RS256",
        lambda body: bearer(rs256_token(claims_at(time.time()))),
        ROUTE_KEY,
        401,
        "bad_signature",
        False,
    ),
    (
        "alg HS512",
        lambda body: bearer(token(claims_at(time.time()), header={"alg": "HS512"}, digest=hashlib.sha512)),
        ROUTE_KEY,
        401,
        "bad_signature",
        False,
    ),
    (
        "oversize token",
        lambda body: bearer(token(claims_at(time.time(), pad="x" * 6000))),
        ROUTE_KEY,
        401,
        "bad_signature",
        False,
    ),
    ("no exp", lambda body: bearer(token({"iat": int(time.time())})), ROUTE_KEY, 401, "bad_signature", False),
    (
        "a bad route key",
        lambda body: bearer(live_token()),
        "a%20b",
        400,
        "bad_webhook_id",
        False,
    ),
    ("wrong secret", lambda body: bearer(live_token("another-secret")), ROUTE_KEY, 401, "bad_signature", True),
    (
        "tampered payload",
        lambda body: bearer(tampered(live_token())),
        ROUTE_KEY,
        401,
        "bad_signature",
        True,
    ),
    (
        "expired",
        lambda body: bearer(token(claims_at(time.time() - 3600))),
        ROUTE_KEY,
        401,
        "expired_signature",
        True,
    ),
    (
        "issued in the future",
        lambda body: bearer(live_token(iat=int(time.time()) + 600)),
        ROUTE_KEY,
        401,
        "immature_signature",
        True,
    ),
    ("an unknown route key", lambda body: bearer(live_token()), "stranger", 401, "unknown_webhook", True),
    (
        "a wrong hub digest is not rescued by a good token",
        lambda body: {"x-hub-signature-256": "sha256=" + sign("nope", body), **bearer(live_token())},
        ROUTE_KEY,
        401,
        "bad_signature",
        True,
    ),
]


@pytest.mark.parametrize(
    ("case", "headers", "key", "status", "reason", "looked_up"),
    GATEWAY_REFUSALS,
    ids=[row[0] for row in GATEWAY_REFUSALS],
)
async def test_refusals_come_in_the_schemes_order_and_store_nothing(
    rig: Rig, case: str, headers: Headers, key: str, status: int, reason: str, looked_up: bool
) -> None:
    body = issue_event()
    response = await rig.client.post(f"/webhooks/jira/{key}", content=body, headers=json_with(headers(body)))
    assert (response.status_code, response.json()["reason"]) == (status, reason), case
    assert bool(rig.service.secret_calls) == looked_up, f"{case}: looked up {rig.service.secret_calls}"
    assert await asyncio.to_thread(metric, rig.url, "gateway_deliveries_spooled_total") == 0


BODY_RULES = [
    ("a list", b"[1]", "not_an_object"),
    ("not JSON", b"{", "not_json"),
    ("65 levels", b'{"x":' + b"[" * 64 + b"]" * 64 + b"}", "too_deep"),
]


@pytest.mark.parametrize(("case", "body", "reason"), BODY_RULES, ids=[row[0] for row in BODY_RULES])
async def test_a_good_token_then_meets_the_body_rules(rig: Rig, case: str, body: bytes, reason: str) -> None:
    response = await rig.client.post(
        f"/webhooks/jira/{ROUTE_KEY}", content=body, headers=json_with(bearer(live_token()))
    )
    assert (response.status_code, response.json()["reason"]) == (400, reason), case
    assert rig.service.secret_calls == [ROUTE_KEY], "the rules run after the signature"
    assert await asyncio.to_thread(metric, rig.url, "gateway_deliveries_spooled_total") == 0
