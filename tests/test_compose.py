"""docker-compose.yml checked against the code, and by `docker compose config` itself (the CLI
plugin needs no engine; scripts/bootstrap.sh --for-tests builds it where the docker CLI lacks it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from webhook_gateway.schemes.defaults import DEFAULT_SCHEMES

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_every_service_is_healthchecked_and_runs_a_real_console_script() -> None:
    services = compose()["services"]
    assert {"neo4j", "server", "webhook-gateway", "gallery", "clickup-sandbox"} <= set(services)
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no health check"
        if "build" in service:
            assert service["command"][0] in scripts, f"{name} runs an unknown command"
    assert services["neo4j"]["image"] == "neo4j:5.26-community"


def test_environment_names_are_ones_the_components_read() -> None:
    services = compose()["services"]
    sources = {
        # The server's own settings, and each plugin's (ClickUpSettings.from_config reads CLICKUP_*).
        "server": [
            "server/config.py",
            *sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("server/integrations/*/plugin.py")),
        ],
        "webhook-gateway": ["webhook_gateway/config.py"],
        "gallery": ["clients/gallery/config.py", "clients/credentials.py"],
    }
    for name, paths in sources.items():
        code = "".join((ROOT / path).read_text() for path in paths)
        for variable in services[name]["environment"]:
            assert f'"{variable}"' in code, f"{name}: {variable} is not read by {', '.join(paths)}"


REQUIRED = {
    "INTEGRATION_ENCRYPTION_KEYS": "v1:example:AAAA",
    "GATEWAY_SERVER_TOKEN": "example-gateway-token",
    "GALLERY_TOKEN": "example-gallery-token",
    "GALLERY_PROJECTS": "acme/p1",
}


def docker_compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    if shutil.which("docker") is None:
        pytest.skip("no docker CLI on this machine: `docker compose config` cannot run (the checks above still do)")
    clean = {k: v for k, v in os.environ.items() if k not in REQUIRED}
    return subprocess.run(
        ["docker", "compose", *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def test_docker_compose_config_accepts_the_file() -> None:
    version = docker_compose("version", env={})
    assert version.returncode == 0, "docker CLI without the compose plugin: run scripts/bootstrap.sh --for-tests"
    result = docker_compose("--profile", "sandbox", "config", "--services", env=REQUIRED)
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == {
        "neo4j",
        "server",
        "webhook-gateway",
        "gallery",
        "clickup-sandbox",
        "jira-sandbox",
    }


def test_docker_compose_config_names_each_missing_secret() -> None:
    for name in REQUIRED:
        result = docker_compose("config", "--quiet", env={k: v for k, v in REQUIRED.items() if k != name})
        assert result.returncode != 0
        assert f"set {name}" in result.stderr or f"required variable {name}" in result.stderr


def test_the_gateways_default_schemes_are_the_codes() -> None:
    """The compose file repeats the gateway's scheme defaults; they drifted once (Jira's scheme)."""
    value = compose()["services"]["webhook-gateway"]["environment"]["GATEWAY_SCHEMES"]
    default = value.split(":-", 1)[1].rstrip("}") if value.startswith("${") else value
    assert dict(pair.split("=", 1) for pair in default.split(",")) == DEFAULT_SCHEMES


def test_two_server_replicas_reached_round_robin_by_name() -> None:
    """Issue 13, item 5: the server runs as two replicas, and its clients name the service, not one
    container (dns:/// gives one address per replica; their channels spread calls over them)."""
    services = compose()["services"]
    assert services["server"]["deploy"]["replicas"] == 2
    assert services["webhook-gateway"]["environment"]["GATEWAY_SERVER_TARGET"] == "dns:///server:50051"
    assert services["gallery"]["environment"]["INTEGRATIONS_SERVER"] == "dns:///server:50051"
