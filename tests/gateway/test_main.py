"""``python -m webhook_gateway``: settings checked at start-up, and the served edge has its limits."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import free_port, wait_until
from webhook_gateway.config import ConfigError, GatewayConfig

ROOT = Path(__file__).resolve().parents[2]
BASE = {"GATEWAY_SERVER_TOKEN": "t"}

BAD_SETTINGS = [
    ({}, "GATEWAY_SERVER_TOKEN"),
    ({"GATEWAY_READ_TIMEOUT_SECONDS": "7"}, "GATEWAY_READ_TIMEOUT_SECONDS"),
    ({"GATEWAY_READ_TIMEOUT_SECONDS": "0"}, "GATEWAY_READ_TIMEOUT_SECONDS"),
    ({"GATEWAY_READ_TIMEOUT_SECONDS": "nan"}, "GATEWAY_READ_TIMEOUT_SECONDS"),
    ({"GATEWAY_READ_TIMEOUT_SECONDS": "soon"}, "GATEWAY_READ_TIMEOUT_SECONDS"),
    ({"GATEWAY_MAX_CONNECTIONS": "0"}, "GATEWAY_MAX_CONNECTIONS"),
    ({"GATEWAY_MAX_CONNECTIONS": "2.5"}, "GATEWAY_MAX_CONNECTIONS"),
    ({"GATEWAY_FORWARD_TIMEOUT_SECONDS": "-1"}, "GATEWAY_FORWARD_TIMEOUT_SECONDS"),
    ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
    ({"GATEWAY_SCHEMES": "planner=sha1"}, "GATEWAY_SCHEMES"),
    ({"WEBHOOK_SECRET_PLANNER": "s"}, "WEBHOOK_SECRET_PLANNER"),
]


@pytest.mark.parametrize(("env", "variable"), BAD_SETTINGS, ids=[next(iter(e), "none") for e, _ in BAD_SETTINGS])
def test_a_bad_setting_names_its_variable(env: dict[str, str], variable: str) -> None:
    settings = env if variable == "GATEWAY_SERVER_TOKEN" else BASE | env
    with pytest.raises(ConfigError, match=variable):
        GatewayConfig.from_env(settings)


def test_settings_have_defaults_and_take_values() -> None:
    default = GatewayConfig.from_env(BASE)
    assert (default.read_timeout_seconds, default.max_connections) == (5.0, 200)
    chosen = GatewayConfig.from_env(BASE | {"GATEWAY_READ_TIMEOUT_SECONDS": "2.5", "GATEWAY_MAX_CONNECTIONS": "50"})
    assert (chosen.read_timeout_seconds, chosen.max_connections) == (2.5, 50)


def _run_gateway(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The real command, run to its end (these settings stop it at start-up)."""
    return subprocess.run(
        [sys.executable, "-m", "webhook_gateway", "--port", str(free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_command_refuses_to_start_with_a_bad_setting(tmp_path: Path) -> None:
    env = {**os.environ, **BASE, "GATEWAY_MAX_CONNECTIONS": "lots", "GATEWAY_SPOOL_PATH": str(tmp_path / "s.db")}
    result = _run_gateway(env)
    assert result.returncode == 2
    assert "GATEWAY_MAX_CONNECTIONS must be a whole number" in result.stderr


def test_the_command_warns_about_the_old_secret_variable(tmp_path: Path) -> None:
    """Operators see the deprecation on stderr (a FutureWarning is shown by default)."""
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"},
        **BASE,
        "CLICKUP_WEBHOOK_SECRET": "old",
        "GATEWAY_MAX_CONNECTIONS": "lots",  # stops start-up right after the settings are read
        "GATEWAY_SPOOL_PATH": str(tmp_path / "s.db"),
    }
    result = _run_gateway(env)
    assert result.returncode == 2
    assert "FutureWarning: CLICKUP_WEBHOOK_SECRET is deprecated" in result.stderr
    assert "set WEBHOOK_SECRET_CLICKUP instead" in result.stderr


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    env = {
        **os.environ,
        **BASE,
        "GATEWAY_SERVER_TARGET": "127.0.0.1:9",
        "GATEWAY_SPOOL_PATH": str(tmp_path / "s.db"),
        "LOG_FORMAT": "json",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "webhook_gateway", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/healthz").status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(up, 30, "the gateway process")
        yield url, process
    finally:
        process.terminate()
        process.wait(10)


def test_the_served_gateway_refuses_an_oversized_head_in_json_and_logs_json(
    served: tuple[str, subprocess.Popen[str]],
) -> None:
    url, process = served
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /webhooks/clickup HTTP/1.1\r\nHost: gw\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["reason"] == "headers_too_large"
    process.terminate()
    _, stderr = process.communicate(timeout=10)
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert any(line["message"].startswith("refused a request: 431") for line in lines), stderr
