"""Prometheus metrics of the server, scraped over HTTP after real RPCs; ids on log lines."""

from __future__ import annotations

import json
import logging

import httpx

from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from server.logs import JsonFormatter
from server.metrics import ContextIds, request_id
from tests.conftest import RunningSandbox, Tokens, bearer, server_env, start_hub
from tests.integration.rpc import failure
from tests.support import free_port


async def test_rpcs_are_counted_by_method_and_code_and_timed(
    neo4j_connection: Connection,
    tokens: Tokens,
    clickup_sandbox: RunningSandbox,
    encryption_keys: str,
    tenant: tuple[str, str],
) -> None:
    address = f"127.0.0.1:{free_port()}"
    env = server_env(neo4j_connection, tokens, clickup_sandbox.api_url, encryption_keys) | {"METRICS_ADDRESS": address}
    hub = await start_hub(env)
    try:
        for _ in range(3):
            await hub.stub.ListIntegrations(
                pb.ListIntegrationsRequest(org_id=tenant[0], project_id=tenant[1]), metadata=bearer(tokens.admin)
            )
        await failure(
            hub.stub.GetIntegration(
                pb.GetIntegrationRequest(org_id=tenant[0], project_id=tenant[1], name="linear"),
                metadata=bearer(tokens.admin),
            )
        )
        async with httpx.AsyncClient() as client:
            text = (await client.get(f"http://{address}/metrics")).text
    finally:
        await hub.channel.close(None)
        await hub.server.stop(grace=1)
    assert 'integrations_rpc_total{code="OK",method="ListIntegrations"} 3.0' in text
    assert 'integrations_rpc_total{code="NOT_FOUND",method="GetIntegration"} 1.0' in text
    assert 'integrations_rpc_seconds_count{method="ListIntegrations"} 3.0' in text


def test_json_log_lines_carry_the_request_id() -> None:
    record = logging.LogRecord("server", logging.INFO, __file__, 1, "handled %s", ("it",), None)
    token = request_id.set("req-123")
    try:
        ContextIds().filter(record)
    finally:
        request_id.reset(token)
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req-123"
    assert line["message"] == "handled it"
    assert "job_id" not in line
