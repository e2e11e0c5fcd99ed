"""The gallery's settings, one row per input: what start-up accepts, what it refuses, and that every
refusal names the variable to fix."""

from __future__ import annotations

import pytest

from clients.gallery.config import (
    ConfigError,
    GalleryConfig,
    parse_allowed_hosts,
    parse_projects,
    parse_public_url,
)

ENV = {"INTEGRATIONS_TOKEN": "t", "GALLERY_PROJECTS": "acme/p1"}


@pytest.mark.parametrize(
    ("raw", "projects"),
    [
        ("acme/p1", (("acme", "p1"),)),
        (" acme/p1 , acme/p2,acme/p1,", (("acme", "p1"), ("acme", "p2"))),
        ("acme/p1\n", (("acme", "p1"),)),  # surrounding whitespace of an item is not part of the id
        ("org.a:b/p_1-x", (("org.a:b", "p_1-x"),)),
    ],
)
def test_projects_accepted(raw: str, projects: tuple[tuple[str, str], ...]) -> None:
    assert parse_projects(raw) == projects


@pytest.mark.parametrize(
    "raw",
    [
        "org-a\n/p1",  # "$" matched before the newline: this once served project ("org-a\n", "p1")
        "acme/p1\n/x",
        "acme/p\n1",
        "acme",
        "acme/",
        "/p1",
        "acme/p1/x",
        "-acme/p1",
        "ac me/p1",
        "a" * 129 + "/p1",
        "",
        " , ",
    ],
)
def test_projects_refused(raw: str) -> None:
    with pytest.raises(ConfigError, match="GALLERY_PROJECTS"):
        parse_projects(raw)


@pytest.mark.parametrize(
    ("raw", "origin"),
    [
        ("", None),
        ("https://gallery.example.com", "https://gallery.example.com"),
        ("https://gallery.example.com/", "https://gallery.example.com"),
        ("HTTPS://Gallery.Example.COM", "https://gallery.example.com"),
        ("https://gallery.example.com:443", "https://gallery.example.com"),  # browsers omit default ports
        ("http://gallery.example.com:80", "http://gallery.example.com"),
        ("https://gallery.example.com:8443", "https://gallery.example.com:8443"),
        ("http://10.0.0.5:8070", "http://10.0.0.5:8070"),
        ("http://[::1]:8070", "http://[::1]:8070"),
    ],
)
def test_public_url_accepted(raw: str, origin: str | None) -> None:
    assert parse_public_url(raw) == origin


@pytest.mark.parametrize(
    "raw",
    [
        "https://gallery.example.com\n",
        "https://gallery.example.com ",
        "https://gal lery.example.com",
        "https://gallery.exämple.com",
        "gallery.example.com",
        "ftp://gallery.example.com",
        "https://",
        "https://gallery.example.com/gallery",
        "https://gallery.example.com/?x=1",
        "https://gallery.example.com/#top",
        "https://user:pw@gallery.example.com",
        "https://gallery.example.com:99999",
        "https://gallery.example.com:port",
        "https://*.example.com",
        "https://gallery_.example.com.-",
        "http://[::zz]:8070",
    ],
)
def test_public_url_refused(raw: str) -> None:
    with pytest.raises(ConfigError, match="GALLERY_PUBLIC_URL") as refused:
        parse_public_url(raw)
    assert "pw" not in str(refused.value)


@pytest.mark.parametrize(
    ("raw", "hosts"),
    [
        ("", ()),
        ("gallery", ("gallery",)),
        ("gallery, Gallery.Internal ,gallery", ("gallery", "gallery.internal")),
        ("*.example.com", ("*.example.com",)),
        ("10.0.0.5,[::1],[0:0::2]", ("10.0.0.5", "[::1]", "[::2]")),
        ("webhook_gateway", ("webhook_gateway",)),  # compose service names may hold "_"
    ],
)
def test_allowed_hosts_accepted(raw: str, hosts: tuple[str, ...]) -> None:
    assert parse_allowed_hosts(raw) == hosts


@pytest.mark.parametrize(
    "raw",
    [
        "*",  # would answer any Host: DNS rebinding again
        "gallery:8070",  # a Host name, not an address
        "gallery\n",
        "gallery\n,other",
        "gal lery",
        "evil.*.example",
        "*example.com",
        "https://gallery",
        "[::zz]",
        "-gallery",
        "a" * 64,
    ],
)
def test_allowed_hosts_refused(raw: str) -> None:
    with pytest.raises(ConfigError, match="GALLERY_ALLOWED_HOSTS"):
        parse_allowed_hosts(raw)


def test_loopback_is_always_answered_and_the_public_name_added() -> None:
    assert GalleryConfig.from_env(ENV).allowed_hosts == ("127.0.0.1", "localhost", "[::1]")
    config = GalleryConfig.from_env(
        {**ENV, "GALLERY_PUBLIC_URL": "https://gallery.example.com", "GALLERY_ALLOWED_HOSTS": "gallery,localhost"}
    )
    assert config.public_origin == "https://gallery.example.com"
    assert config.allowed_hosts == ("127.0.0.1", "localhost", "[::1]", "gallery.example.com", "gallery")
    assert "token=***" in repr(config)
    assert "'t'" not in repr(config)


def test_a_token_with_a_newline_is_refused_without_being_shown() -> None:
    with pytest.raises(ConfigError, match="INTEGRATIONS_TOKEN must be printable text") as refused:
        GalleryConfig.from_env({**ENV, "INTEGRATIONS_TOKEN": "s3cr3t-token\n"})
    assert "s3cr3t" not in str(refused.value)


def test_blank_settings_mean_their_defaults() -> None:
    config = GalleryConfig.from_env({**ENV, "LOG_FORMAT": " ", "GALLERY_PUBLIC_URL": "", "INTEGRATIONS_SERVER": ""})
    assert (config.log_format, config.public_origin, config.server_target) == ("text", None, "127.0.0.1:50051")
