"""Gallery configuration from the environment, checked at start-up."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from clients.credentials import TokenMissing, bearer_token
from envconfig import Config, ConfigError, choice

# The server's own rule for org and project ids; checked here too so a bad setting fails at start-up.
# Always with fullmatch: "$" would also match before a trailing newline.
_SCOPE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# A DNS name or IPv4 address as it appears in a Host header (lower case, no port); "*." allows subdomains.
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"(?:\*\.)?{_LABEL}(?:\.{_LABEL})*")
# Names the gallery always answers to: health probes and a browser on the same machine use them, and a
# rebinding attacker's page cannot send them (its Host header is the attacker's name).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
_DEFAULT_PORTS = {"http": 80, "https": 443}

__all__ = ["ConfigError", "GalleryConfig", "parse_allowed_hosts", "parse_projects", "parse_public_url"]


@dataclass(frozen=True)
class GalleryConfig:
    server_target: str
    token: str
    # The (org, project) pairs this gallery serves; any other is answered with 404.
    projects: tuple[tuple[str, str], ...]
    log_format: str = "text"
    # The page's origin as browsers see it ("https://gallery.example.com"), from GALLERY_PUBLIC_URL:
    # writes from it are accepted and its host is answered. None: the gallery is reached on loopback.
    public_origin: str | None = None
    # Host names answered besides loopback and the public URL's (GALLERY_ALLOWED_HOSTS).
    extra_hosts: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (
            f"GalleryConfig(server_target={self.server_target!r}, projects={self.projects!r}, "
            f"public_origin={self.public_origin!r}, allowed_hosts={self.allowed_hosts!r}, token=***)"
        )

    @property
    def allowed_hosts(self) -> tuple[str, ...]:
        """Every Host name (without port) the gallery answers; any other gets 400 (DNS rebinding)."""
        hosts = [*LOOPBACK_HOSTS]
        if self.public_origin is not None:
            hosts.append(_host_of(self.public_origin))
        hosts += self.extra_hosts
        return tuple(dict.fromkeys(hosts))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GalleryConfig:
        config = Config(env)
        return cls(
            log_format=config("LOG_FORMAT", choice("text", "json"), default="text"),
            server_target=config("INTEGRATIONS_SERVER", default="127.0.0.1:50051"),
            token=_token(config),
            projects=config("GALLERY_PROJECTS", parse_projects, default=""),
            public_origin=config("GALLERY_PUBLIC_URL", parse_public_url, default=""),
            extra_hosts=config("GALLERY_ALLOWED_HOSTS", parse_allowed_hosts, default=""),
        )


def _token(config: Config) -> str:
    try:
        return bearer_token(config)
    except TokenMissing as exc:
        raise ConfigError(f"{exc} (it needs integrations:read and integrations:write)") from None


def parse_projects(raw: str) -> tuple[tuple[str, str], ...]:
    """``GALLERY_PROJECTS="acme/p1,acme/p2"``: the projects whose gallery this app serves."""
    projects: list[tuple[str, str]] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        org, _, project = item.partition("/")
        if not (_SCOPE_ID.fullmatch(org) and _SCOPE_ID.fullmatch(project)):
            raise ConfigError(f"GALLERY_PROJECTS: {item!r} is not 'org/project'")
        if (org, project) not in projects:
            projects.append((org, project))
    if not projects:
        raise ConfigError("GALLERY_PROJECTS is not set: a comma-separated list of 'org/project' to serve")
    return tuple(projects)


def parse_public_url(raw: str) -> str | None:
    """``GALLERY_PUBLIC_URL="https://gallery.example.com"``: where users open the page (behind the
    sign-in proxy). Returns its origin, serialised as browsers send it in ``Origin``."""
    if not raw:
        return None
    shown = "a URL with credentials" if "@" in raw else repr(raw)  # never echo a password
    wrong = f"GALLERY_PUBLIC_URL: {shown} is not a URL like 'https://gallery.example.com'"
    if not raw.isascii() or not raw.isprintable() or " " in raw:
        raise ConfigError(f"{wrong} (spaces, control or non-ASCII characters; write an IDN in punycode)")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:  # a bad port or bracketed address
        raise ConfigError(f"{wrong} ({exc})") from None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ConfigError(f"{wrong} (needs http:// or https:// and a host name)")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"{wrong} (no user name or password)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"{wrong} (the gallery is served at the root: no path, query or fragment)")
    host = _check_host(parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]", "GALLERY_PUBLIC_URL")
    if host.startswith("*"):
        raise ConfigError(f"{wrong} (no wildcard)")
    shown_port = "" if port is None or port == _DEFAULT_PORTS[parts.scheme] else f":{port}"
    return f"{parts.scheme}://{host}{shown_port}"


def parse_allowed_hosts(raw: str) -> tuple[str, ...]:
    """``GALLERY_ALLOWED_HOSTS="gallery,gallery.internal"``: more Host names to answer (a compose
    service name for probes, a second public name). ``*.example.com`` allows subdomains."""
    hosts: list[str] = []
    for item in (part.strip(" ") for part in raw.split(",")):
        if item:
            hosts.append(_check_host(item.lower(), "GALLERY_ALLOWED_HOSTS"))
    return tuple(dict.fromkeys(hosts))


def _check_host(host: str, variable: str) -> str:
    if host == "*":
        raise ConfigError(f"{variable}: '*' would answer any Host and reopen DNS rebinding; list the names")
    if host.startswith("[") and host.endswith("]"):
        try:
            return f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        except ValueError:
            raise ConfigError(f"{variable}: {host!r} is not an IPv6 address") from None
    if not _HOST_NAME.fullmatch(host) or len(host) > 253:
        raise ConfigError(
            f"{variable}: {host!r} is not a host name (letters, digits, '-', '.', an optional leading '*.'; no port)"
        )
    return host


def _host_of(origin: str) -> str:
    """The Host name (IPv6 in brackets, no port) of an origin made by parse_public_url."""
    hostname = urlsplit(origin).hostname or ""
    return f"[{hostname}]" if ":" in hostname else hostname
