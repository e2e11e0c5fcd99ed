"""JSON log lines that carry the request id, in the gateway and the gallery."""

from __future__ import annotations

import json
import logging
import logging.config
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from asgi_correlation_id import correlation_id

from clients.gallery.__main__ import log_config
from tests.support import UvicornThread
from webhook_gateway import logs
from webhook_gateway.app import create_app
from webhook_gateway.config import GatewayConfig


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


@pytest.mark.usefixtures("restore_logging")
def test_gateway_lines_are_json_with_the_request_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("json")
    config = GatewayConfig(server_target="127.0.0.1:9", server_token="t", spool_path=tmp_path / "spool.db")
    request_id = str(uuid.uuid4())
    with UvicornThread(create_app(config)) as server:
        response = httpx.post(
            f"{server.url}/webhooks/clickup",
            content=b"{}",
            headers={"content-type": "application/json", "x-request-id": request_id},
        )
    assert response.status_code == 401
    assert response.headers["x-request-id"] == request_id
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    refused = [line for line in lines if line["message"].startswith("refused a delivery")]
    assert refused
    assert refused[0]["request_id"] == request_id
    assert {"time", "level", "logger"} <= set(refused[0])


@pytest.mark.usefixtures("restore_logging")
def test_gallery_lines_are_json_with_the_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    logging.config.dictConfig(log_config("json"))
    token = correlation_id.set("a-request")
    try:
        logging.getLogger("clients.gallery.app").info("gallery updated %s", "clickup")
    finally:
        correlation_id.reset(token)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert (line["message"], line["request_id"], line["level"]) == ("gallery updated clickup", "a-request", "INFO")
