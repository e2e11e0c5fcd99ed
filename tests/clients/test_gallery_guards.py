"""The gallery's guards against the real server: a Host allow-list (DNS rebinding), writes only from
the page's own origin, a body cap that stops reading, and the security headers on every answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest

from clients.gallery.app import create_app
from clients.gallery.config import GalleryConfig
from clients.gallery.guards import MAX_BODY_BYTES
from sandbox.clickup.fixtures import TV_TOKEN
from tests.clients.conftest import RunningGallery
from tests.conftest import RunningHub, Tokens
from tests.support import UvicornThread

PUBLIC = "https://gallery.example.com"
SECURITY = ("content-security-policy", "x-content-type-options", "referrer-policy")


def assert_secure(response: httpx.Response) -> None:
    assert "default-src 'self'" in response.headers["content-security-policy"], response.headers
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


@pytest.fixture
async def public_gallery(hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]) -> AsyncIterator[RunningGallery]:
    """A gallery published behind a proxy at PUBLIC, also answering a compose-style service name."""
    config = GalleryConfig(
        server_target=hub.target,
        token=tokens.admin,
        projects=(tenant,),
        public_origin=PUBLIC,
        extra_hosts=("gallery",),
    )
    server = UvicornThread(create_app(config))
    await asyncio.to_thread(server.__enter__)
    try:
        running = RunningGallery(server.url, *tenant)
        await configure(running)
        yield running
    finally:
        await asyncio.to_thread(server.__exit__, None, None, None)


def port_of(gallery: RunningGallery) -> int:
    port = urlsplit(gallery.url).port
    assert port is not None
    return port


async def configure(gallery: RunningGallery) -> None:
    """Stores a valid token, so enabling would succeed if a guard let the write through."""
    async with httpx.AsyncClient(timeout=30, headers={"origin": gallery.url}) as client:
        saved = await client.patch(f"{gallery.api}/integrations/clickup/settings", json={"api_token": TV_TOKEN})
        assert saved.status_code == 200, saved.text


async def enabled(gallery: RunningGallery) -> bool:
    async with httpx.AsyncClient(timeout=10) as client:
        card = await client.get(f"{gallery.api}/integrations/clickup")
        assert card.status_code == 200, card.text
        return bool(card.json()["enabled"])


# ---------------------------------------------------------------- 12: the Host allow-list


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1:{port}", True),
        ("localhost:{port}", True),
        ("LOCALHOST:{port}", True),
        ("[::1]:{port}", True),
        ("localhost", True),
        ("evil.example:{port}", False),
        ("evil.example", False),
        ("127.0.0.1.evil.example:{port}", False),
        ("localhost.evil.example", False),
        ("[::2]:{port}", False),
        ("gallery.example.com", False),  # only with GALLERY_PUBLIC_URL naming it
        ("not a host", False),
    ],
)
async def test_only_allowed_host_names_are_answered(gallery: RunningGallery, host: str, allowed: bool) -> None:
    headers = {"host": host.format(port=port_of(gallery))}
    async with httpx.AsyncClient(timeout=10, headers=headers) as client:
        for url in (f"{gallery.api}/integrations", f"{gallery.url}/healthz", gallery.page):
            response = await client.get(url)
            assert_secure(response)
            if allowed:
                assert response.status_code == 200, response.text
            else:
                assert response.status_code == 400, response.text
                assert response.json()["error"]["code"] == "invalid_host"


async def test_a_rebinding_page_cannot_change_the_graph(gallery: RunningGallery) -> None:
    """The page of evil.example, its name rebound to our address: Host and Origin agree, both foreign."""
    await configure(gallery)
    rebound = f"evil.example:{port_of(gallery)}"
    headers = {"host": rebound, "origin": f"http://{rebound}", "content-type": "application/json"}
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.put(
            f"{gallery.api}/integrations/clickup/enabled", content=b'{"enabled": true}', headers=headers
        )
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_host")
    assert_secure(response)
    assert await enabled(gallery) is False


async def test_the_public_name_and_extra_hosts_are_answered(public_gallery: RunningGallery) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for host in ("gallery.example.com", "gallery:8070", f"127.0.0.1:{port_of(public_gallery)}"):
            response = await client.get(f"{public_gallery.url}/healthz", headers={"host": host})
            assert response.status_code == 200, (host, response.text)
        response = await client.get(f"{public_gallery.url}/healthz", headers={"host": "evil.example"})
        assert response.status_code == 400


# ---------------------------------------------------------------- 13: writes only from the page


@pytest.mark.parametrize(
    ("host", "origin", "fetch_site", "status"),
    [
        # The browser behind the sign-in proxy: Origin is the public URL, whatever Host the proxy sends.
        ("gallery.example.com", PUBLIC, "same-origin", 200),
        ("gallery:8070", PUBLIC, "same-origin", 200),
        ("127.0.0.1:{port}", PUBLIC, None, 200),
        # On loopback: the request's own origin.
        ("127.0.0.1:{port}", "http://127.0.0.1:{port}", "same-origin", 200),
        ("localhost:{port}", "http://localhost:{port}", None, 200),
        ("127.0.0.1:{port}", None, "same-origin", 200),
        # Refused: another origin, even one of our own names or the public one over http.
        ("127.0.0.1:{port}", "http://localhost:{port}", "same-site", 403),
        ("127.0.0.1:{port}", "http://127.0.0.1:1", "same-site", 403),
        ("gallery.example.com", "https://evil.example", "cross-site", 403),
        ("gallery.example.com", "http://gallery.example.com:8070", "cross-site", 403),
        ("gallery.example.com", "null", "cross-site", 403),
        ("gallery.example.com", None, "cross-site", 403),
        ("gallery.example.com", None, "same-site", 403),
        ("gallery.example.com", None, "none", 403),
        ("gallery.example.com", None, None, 403),
    ],
)
async def test_writes_need_the_pages_own_origin(
    public_gallery: RunningGallery, host: str, origin: str | None, fetch_site: str | None, status: int
) -> None:
    port = port_of(public_gallery)
    headers = {"host": host.format(port=port), "content-type": "application/json"}
    if origin is not None:
        headers["origin"] = origin.format(port=port)
    if fetch_site is not None:
        headers["sec-fetch-site"] = fetch_site
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.put(
            f"{public_gallery.api}/integrations/clickup/enabled", content=b'{"enabled": true}', headers=headers
        )
    assert response.status_code == status, response.text
    assert_secure(response)
    assert await enabled(public_gallery) is (status == 200)
    if status == 403:
        assert response.json()["error"]["code"] == ("origin_required" if origin is None else "cross_origin")


# ---------------------------------------------------------------- 14: the body cap


async def test_a_large_body_is_not_read_past_the_cap() -> None:
    """In process, so the test sees exactly what the app pulled from the client: one chunk past the
    cap at most, not the 8 MiB offered."""
    config = GalleryConfig(server_target="127.0.0.1:1", token="unused", projects=(("acme", "p1"),))
    chunk = 1024
    consumed = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal consumed
        for _ in range(8 * 1024):
            consumed += chunk
            yield b" " * chunk

    transport = httpx.ASGITransport(create_app(config))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8070") as client:
        response = await client.patch(
            "/api/orgs/acme/projects/p1/integrations/clickup/settings",
            content=body(),
            headers={"content-type": "application/json", "origin": "http://127.0.0.1:8070"},
        )
    assert (response.status_code, response.json()["error"]["code"]) == (413, "payload_too_large")
    assert_secure(response)
    assert consumed <= MAX_BODY_BYTES + chunk


async def http_exchange(gallery: RunningGallery, head: bytes, body: bytes = b"") -> bytes:
    """Sends a request head and part of a body over a raw socket, then reads the whole answer: the
    gallery must answer (and close) without the rest of the body ever being sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(gallery))
    try:
        writer.write(head + body)
        await writer.drain()
        async with asyncio.timeout(20):  # a guard against hanging, not a timed assertion
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.partition(b":")[2])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            body = await reader.readexactly(length)
            closed = await reader.read() == b""  # "connection: close": the unread body is not waited for
    finally:
        writer.close()
    assert closed
    return head + body


@pytest.mark.parametrize(
    ("framing", "body"),
    [
        (b"content-length: 104857600", b""),  # declared 100 MiB: refused before any byte is read
        (b"content-length: 104857600", b" " * (MAX_BODY_BYTES + 1)),
        (b"transfer-encoding: chunked", b"4001\r\n" + b" " * 0x4001 + b"\r\n"),  # chunked, never finished
    ],
)
async def test_an_oversized_body_is_answered_413_without_waiting_for_it(
    gallery: RunningGallery, framing: bytes, body: bytes
) -> None:
    path = f"/api/orgs/{gallery.org}/projects/{gallery.project}/integrations/clickup/settings"
    head = (
        f"PATCH {path} HTTP/1.1\r\nhost: 127.0.0.1\r\norigin: http://127.0.0.1\r\n"
        "content-type: application/json\r\n".encode()
        + framing
        + b"\r\n\r\n"
    )
    answer = await http_exchange(gallery, head, body)
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 413 "), answer[:300]
    headers = rest.partition(b"\r\n\r\n")[0].lower()
    assert all(name.encode() in headers for name in SECURITY)
    assert b'"payload_too_large"' in answer


# ---------------------------------------------------------------- 15: security headers on every answer


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status"),
    [
        ("GET", "{page}", {}, b"", 200),
        ("GET", "/", {}, b"", 307),
        ("GET", "/static/gallery.js", {}, b"", 200),
        ("GET", "/static/nothing.js", {}, b"", 404),
        ("GET", "/healthz", {}, b"", 200),
        ("GET", "/no/such/page", {}, b"", 404),
        ("GET", "/healthz", {"host": "evil.example"}, b"", 400),
        ("PUT", "{api}/integrations/clickup/enabled", {"origin": "https://evil.example"}, b"{}", 403),
        ("PUT", "{api}/integrations/clickup/enabled", {}, b"{}", 403),
        ("PUT", "{api}/integrations/clickup/enabled", {"origin": "{url}", "content-type": "text/plain"}, b"{}", 415),
        ("PUT", "{api}/integrations/clickup/enabled", {"origin": "{url}"}, b" " * (MAX_BODY_BYTES + 1), 413),
        ("PUT", "{api}/integrations/clickup/enabled", {"origin": "{url}"}, b"{", 400),
        ("DELETE", "{api}/integrations/clickup/enabled", {"origin": "{url}"}, b"", 405),
    ],
)
async def test_every_answer_carries_the_security_headers(
    gallery: RunningGallery, method: str, path: str, headers: dict[str, str], body: bytes, status: int
) -> None:
    names = {"page": gallery.page.removeprefix(gallery.url), "api": gallery.api.removeprefix(gallery.url)}
    sent = {"content-type": "application/json"} | {k: v.format(url=gallery.url) for k, v in headers.items()}
    async with httpx.AsyncClient(base_url=gallery.url, timeout=10) as client:
        response = await client.request(method, path.format(**names), headers=sent, content=body)
    assert response.status_code == status, response.text
    assert_secure(response)
    if status >= 400:
        assert response.json()["error"]["code"]


async def test_an_unexpected_error_is_a_json_500_with_the_security_headers() -> None:
    """The app not started (no gRPC client yet) stands in for any bug: Starlette's outermost error
    layer answers, and the headers are added outside even that."""
    config = GalleryConfig(server_target="127.0.0.1:1", token="unused", projects=(("acme", "p1"),))
    transport = httpx.ASGITransport(create_app(config), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8070") as client:
        response = await client.get("/api/orgs/acme/projects/p1/integrations")
    assert (response.status_code, response.json()["error"]["code"]) == (500, "internal")
    assert_secure(response)
