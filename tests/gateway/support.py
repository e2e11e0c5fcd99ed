"""Helpers for the gateway's tests: the gateway served exactly as in production, signing, metrics."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from typing import Any

import httpx
import uvicorn
from prometheus_client.parser import text_string_to_metric_families

from tests.support import free_port, wait_until
from webhook_gateway.app import Gateway, create_app
from webhook_gateway.config import GatewayConfig
from webhook_gateway.serve import uvicorn_config


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def task_body(webhook_id: str, task_id: str = "86x", **extra: object) -> bytes:
    """A compact, unique taskUpdated delivery (a fresh history item id each time)."""
    return json.dumps(
        {
            "event": "taskUpdated",
            "history_items": [{"id": uuid.uuid4().hex}],
            "task_id": task_id,
            "webhook_id": webhook_id,
            **extra,
        },
        separators=(",", ":"),
    ).encode()


class GatewayServer:
    """The gateway app under uvicorn with the gateway's own settings (HTTP limits included), in a
    background thread on a free loopback port."""

    def __init__(self, config: GatewayConfig) -> None:
        self.port = free_port()
        self.app = create_app(config)
        self.server = uvicorn.Server(uvicorn_config(self.app, config, "127.0.0.1", self.port))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def gateway(self) -> Gateway:
        gateway: Gateway = self.app.state.gateway
        return gateway

    def __enter__(self) -> GatewayServer:
        self.thread.start()
        wait_until(lambda: self.server.started, what="gateway start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def metric(base_url: str, name: str, **labels: str) -> float:
    """One sample of the gateway's /metrics (synchronous: call it from a thread in async tests)."""
    text = httpx.get(f"{base_url}/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


def ready(base_url: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{base_url}/readyz").json()
    return body
