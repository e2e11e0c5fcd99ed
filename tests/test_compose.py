"""docker-compose.yml checked against the code (no Docker engine here to run `docker compose config`)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_every_service_is_healthchecked_and_runs_a_real_console_script() -> None:
    services = compose()["services"]
    assert {"neo4j", "server", "webhook-gateway", "clickup-sandbox"} <= set(services)
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no health check"
        if "build" in service:
            assert service["command"][0] in scripts, f"{name} runs an unknown command"
    assert services["neo4j"]["image"] == "neo4j:5.26-community"


def test_environment_names_are_ones_the_components_read() -> None:
    services = compose()["services"]
    sources = {"server": "server/config.py", "webhook-gateway": "webhook_gateway/config.py"}
    for name, path in sources.items():
        code = (ROOT / path).read_text()
        for variable in services[name]["environment"]:
            assert f'"{variable}"' in code, f"{name}: {variable} is not read by {path}"
