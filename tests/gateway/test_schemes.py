"""The signing schemes, one table each (pure functions, no servers): the headers each accepts and
refuses, the lookup key each names, and a full verification with published vectors."""

from __future__ import annotations

import json

import pytest

from tests.gateway.support import sign
from tests.sandbox import vectors as tv
from webhook_gateway.envelope import Rejected
from webhook_gateway.schemes import SCHEMES, Routed, Scheme
from webhook_gateway.schemes.defaults import DEFAULT_SCHEMES
from webhook_gateway.signature import verify

HEX = SCHEMES["hex-hmac-body-id"]
HUB = SCHEMES["hub-sha256-route"]
# Jira's default: with a hub header it must read and verify exactly as HUB (its tokens: test_jwt_scheme.py).
EITHER = SCHEMES["hub-sha256-or-jwt-route"]
DIGEST = "ab" * 32

# Jira's documented admin-webhook vector (jira-api.md 6.2, V4) and GitHub's published example.
V4_BODY = b'{"webhookEvent":"jira:issue_deleted","issue":{"id":"10001","key":"PROJ-1"}}'
V4_HEADER = "sha256=86a0710910d1f2868b284362ed6ef6c5f886535c739b975f5287963aaa691fd4"
HELLO_HEADER = "sha256=a4771c39fbe90f317c7824e83ddef3caae9cb3d976c214ace1f2937e133263c9"
# V3: a signed comment_created delivery, 534 bytes, no trailing newline (jira-api.md §9).
V3_BODY = (
    b'{"timestamp":1767225600000,"webhookEvent":"comment_created","comment":{"self":"https://example.atlassian.net'
    b'/rest/api/2/issue/10042/comment/10100","id":"10100","author":{"accountId":"5fc9e78d2730d800760becc4",'
    b'"displayName":"Jane Doe","active":true,"accountType":"atlassian"},"body":"Looks good to me","created":'
    b'"2026-01-01T00:00:00.000+0000","updated":"2026-01-01T00:00:00.000+0000","jsdPublic":true},"issue":{"id":'
    b'"10042","self":"https://example.atlassian.net/rest/api/2/issue/10042","key":"PROJ-7","fields":{"summary":'
    b'"Fix login"}}}'
)
V3_SECRET = "s3cr3t-webhook-key"
SHA1_EXAMPLE = "sha1=5613af64eb0e12575a7686fe63dfec8faeccd935"
V3_HEADER = "sha256=f6ef5f19576f8b7c0bff4335d55d5553f24b2e5aa2ad8181b5e2619c7c632946"


def refusal(call: object) -> tuple[int, str]:
    with pytest.raises(Rejected) as refused:
        call()  # type: ignore[operator]
    return refused.value.status, refused.value.reason


HEX_HEADERS: list[tuple[str, dict[str, str], str | None]] = [
    ("64 hex digits", {"x-signature": DIGEST}, DIGEST),
    ("upper case, padded", {"x-signature": " " + DIGEST.upper() + " "}, DIGEST),
    ("missing", {}, "missing_signature"),
    ("empty", {"x-signature": ""}, "missing_signature"),
    ("blank", {"x-signature": "   "}, "missing_signature"),
    ("63 digits", {"x-signature": "0" * 63}, "bad_signature"),
    ("65 digits", {"x-signature": "0" * 65}, "bad_signature"),
    ("not hex", {"x-signature": "g" * 64}, "bad_signature"),
    ("not ASCII", {"x-signature": "\xe9" * 64}, "bad_signature"),
    ("a newline inside", {"x-signature": "0" * 32 + "\n" + "0" * 31}, "bad_signature"),
    ("with the hub prefix", {"x-signature": "sha256=" + DIGEST}, "bad_signature"),
    ("only a hub header", {"x-hub-signature-256": "sha256=" + DIGEST}, "missing_signature"),
]

HUB_HEADERS: list[tuple[str, dict[str, str], str | None]] = [
    ("X-Hub-Signature-256", {"x-hub-signature-256": "sha256=" + DIGEST}, DIGEST),
    ("X-Hub-Signature", {"x-hub-signature": "sha256=" + DIGEST}, DIGEST),
    ("upper-case hex, padded", {"x-hub-signature": " sha256=" + DIGEST.upper() + " "}, DIGEST),
    (
        "both: -256 wins over GitHub's SHA-1 one",
        {"x-hub-signature": "sha1=5613af64eb0e12575a7686fe63dfec8faeccd935", "x-hub-signature-256": "sha256=" + DIGEST},
        DIGEST,
    ),
    ("missing", {}, "missing_signature"),
    ("empty", {"x-hub-signature": ""}, "missing_signature"),
    ("only X-Signature", {"x-signature": DIGEST}, "missing_signature"),
    ("sha1 only", {"x-hub-signature": "sha1=5613af64eb0e12575a7686fe63dfec8faeccd935"}, "bad_signature"),
    ("no algorithm", {"x-hub-signature": DIGEST}, "bad_signature"),
    ("algorithm in capitals", {"x-hub-signature": "SHA256=" + DIGEST}, "bad_signature"),
    ("no digest", {"x-hub-signature-256": "sha256="}, "bad_signature"),
    ("short digest", {"x-hub-signature-256": "sha256=" + "0" * 63}, "bad_signature"),
    ("not hex", {"x-hub-signature-256": "sha256=" + "z" * 64}, "bad_signature"),
    ("two digests", {"x-hub-signature-256": "sha256=" + DIGEST + ",sha256=" + DIGEST}, "bad_signature"),
    (
        "a bad -256 is not rescued by the other",
        {"x-hub-signature-256": "md5=1", "x-hub-signature": "sha256=" + DIGEST},
        "bad_signature",
    ),
]


@pytest.mark.parametrize(
    ("scheme", "case", "headers", "expected"),
    [(HEX, *row) for row in HEX_HEADERS]
    + [(HUB, *row) for row in HUB_HEADERS]
    + [(EITHER, *row) for row in HUB_HEADERS],
    ids=[f"hex: {row[0]}" for row in HEX_HEADERS]
    + [f"hub: {row[0]}" for row in HUB_HEADERS]
    + [f"hub or jwt: {row[0]}" for row in HUB_HEADERS],
)
def test_signature_headers_per_scheme(scheme: Scheme, case: str, headers: dict[str, str], expected: str) -> None:
    if len(expected) == 64:
        assert scheme.signature(headers).digest == expected, case
    else:
        assert refusal(lambda: scheme.signature(headers)) == (401, expected), case


def test_the_hub_scheme_names_the_header_it_read() -> None:
    assert HUB.signature({"x-hub-signature": "sha256=" + DIGEST}).header == "X-Hub-Signature"
    assert HUB.signature({"x-hub-signature-256": "sha256=" + DIGEST}).header == "X-Hub-Signature-256"


ROUTE_KEYS: list[tuple[str, str | None, str | None]] = [
    ("a webhook id", "72", None),
    ("punctuation", "a.b_c:d-e", None),
    ("128 characters", "k" * 128, None),
    ("none", None, "missing_webhook_id"),
    ("empty", "", "missing_webhook_id"),
    ("129 characters", "k" * 129, "bad_webhook_id"),
    ("a space", "a b", "bad_webhook_id"),
    ("a trailing newline", "72\n", "bad_webhook_id"),
    ("starting with '.'", ".72", "bad_webhook_id"),
    ("non-ASCII", "wébhook", "bad_webhook_id"),
]


@pytest.mark.parametrize(("case", "route", "reason"), ROUTE_KEYS, ids=[row[0] for row in ROUTE_KEYS])
def test_the_hub_scheme_is_keyed_by_the_route(case: str, route: str | None, reason: str | None) -> None:
    if reason is None:
        assert HUB.route(b"not parsed yet", route, 1024) == Routed(str(route)), case
    else:
        assert refusal(lambda: HUB.route(b"{}", route, 1024)) == (400, reason), case


def test_the_hex_scheme_is_keyed_by_the_body() -> None:
    routed = HEX.route(b'{"webhook_id":"w-1","event":"e"}', None, 1024)
    assert routed.key == "w-1"
    assert refusal(lambda: HEX.route(b'{"event":"e"}', None, 1024)) == (400, "missing_webhook_id")


HUB_BODIES: list[tuple[str, bytes, tuple[int, str] | None]] = [
    ("an object", V4_BODY, None),
    ("empty", b"", (400, "not_json")),
    ("a list", b"[1]", (400, "not_an_object")),
    ("65 levels", b'{"x":' + b"[" * 64 + b"]" * 64 + b"}", (400, "too_deep")),
    ("over the cap", b'{"x":"' + b"y" * 2000 + b'"}', (413, "too_large")),
]


@pytest.mark.parametrize(("case", "body", "refused"), HUB_BODIES, ids=[row[0] for row in HUB_BODIES])
def test_the_hub_scheme_checks_the_body_after_the_signature(
    case: str, body: bytes, refused: tuple[int, str] | None
) -> None:
    routed = HUB.route(body, "72", 1024)
    if refused is None:
        HUB.check(body, routed, 1024)
    else:
        assert refusal(lambda: HUB.check(body, routed, 1024)) == refused, case


VECTORS = [
    ("hex: TV9", HEX, {"x-signature": tv.TV9_SIGNATURE}, tv.TV9_BODY, tv.TV_SECRET, True),
    ("hex: TV10 re-serialised", HEX, {"x-signature": tv.TV10_SIGNATURE}, tv.TV10_SPACED, tv.TV_SECRET, False),
    ("hub: Jira V3", HUB, {"x-hub-signature": V3_HEADER}, V3_BODY, V3_SECRET, True),
    (
        "hub: Jira V3, re-serialised with indent=2",
        HUB,
        {"x-hub-signature": V3_HEADER},
        json.dumps(json.loads(V3_BODY), indent=2).encode(),
        V3_SECRET,
        False,
    ),
    ("hub: Jira V3, body + newline", HUB, {"x-hub-signature": V3_HEADER}, V3_BODY + b"\n", V3_SECRET, False),
    ("hub: Jira V4", HUB, {"x-hub-signature": V4_HEADER}, V4_BODY, "test-secret", True),
    ("hub: Jira V4, -256 header", HUB, {"x-hub-signature-256": V4_HEADER}, V4_BODY, "test-secret", True),
    ("hub: Jira V4, body + newline", HUB, {"x-hub-signature": V4_HEADER}, V4_BODY + b"\n", "test-secret", False),
    ("hub: Jira V4, wrong secret", HUB, {"x-hub-signature": V4_HEADER}, V4_BODY, "test-secret ", False),
    (
        "hub: GitHub's example",
        HUB,
        {"x-hub-signature-256": HELLO_HEADER},
        b"Hello World!",
        "It's a Secret to Everybody",
        True,
    ),
    ("hub or jwt: Jira V3", EITHER, {"x-hub-signature": V3_HEADER}, V3_BODY, V3_SECRET, True),
    ("hub or jwt: Jira V3, body + newline", EITHER, {"x-hub-signature": V3_HEADER}, V3_BODY + b"\n", V3_SECRET, False),
    ("hub or jwt: Jira V4", EITHER, {"x-hub-signature": V4_HEADER}, V4_BODY, "test-secret", True),
    ("hub or jwt: Jira V4, -256 header", EITHER, {"x-hub-signature-256": V4_HEADER}, V4_BODY, "test-secret", True),
    ("hub or jwt: Jira V4, wrong secret", EITHER, {"x-hub-signature": V4_HEADER}, V4_BODY, "test-secret ", False),
    (
        "hub or jwt: Jira V2 (GitHub's example)",
        EITHER,
        {"x-hub-signature-256": HELLO_HEADER},
        b"Hello World!",
        "It's a Secret to Everybody",
        True,
    ),
    (
        "hex: a hub digest bare",
        HEX,
        {"x-signature": HELLO_HEADER[7:]},
        b"Hello World!",
        "It's a Secret to Everybody",
        True,
    ),
]


@pytest.mark.parametrize(
    ("scheme", "headers", "body", "secret", "good"), [row[1:] for row in VECTORS], ids=[row[0] for row in VECTORS]
)
def test_published_vectors_verify_under_their_scheme(
    scheme: Scheme, headers: dict[str, str], body: bytes, secret: str, good: bool
) -> None:
    signed = scheme.signature(headers)
    if good:
        verify(secret, body, signed.digest, signed.header)
    else:
        assert refusal(lambda: verify(secret, body, signed.digest, signed.header)) == (401, "bad_signature")


@pytest.mark.parametrize(
    ("scheme", "headers", "body", "secret", "good"), [row[1:] for row in VECTORS], ids=[row[0] for row in VECTORS]
)
def test_published_vectors_verify_through_the_schemes_own_verify(
    scheme: Scheme, headers: dict[str, str], body: bytes, secret: str, good: bool
) -> None:
    """What the gateway calls: ``Scheme.verify``, the HMAC of the raw body unless a scheme says otherwise."""
    signed = scheme.signature(headers)
    if good:
        scheme.verify(secret, body, signed)
    else:
        assert refusal(lambda: scheme.verify(secret, body, signed)) == (401, "bad_signature")


def test_the_support_signer_agrees_with_the_hex_scheme() -> None:
    body = b'{"webhook_id":"w","event":"e"}'
    signed = HEX.signature({"x-signature": sign("s", body)})
    verify("s", body, signed.digest, signed.header)


def test_every_default_names_a_scheme_of_the_table() -> None:
    assert set(DEFAULT_SCHEMES.values()) <= set(SCHEMES)
    assert all(name == name.lower() for name in DEFAULT_SCHEMES)


def test_jira_v3s_negative_headers_are_refused() -> None:
    """V3's other refusals: a sha1 header, and no header when a secret is set."""
    assert len(V3_BODY) == 534
    assert (
        refusal(lambda: HUB.signature({"x-hub-signature": "sha1=5613af64eb0e12575a7686fe63dfec8faeccd935"}))[0] == 401
    )
    assert refusal(lambda: HUB.signature({}))[0] == 401
    assert refusal(lambda: EITHER.signature({"x-hub-signature": SHA1_EXAMPLE}))[0] == 401
    assert refusal(lambda: EITHER.signature({}))[0] == 401
