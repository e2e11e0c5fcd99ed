"""``python -m server`` as operators run it: start-up checks, health, reflection, SIGTERM, logs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from integrations.v1 import integration_service_pb2 as pb
from integrations.v1 import integration_service_pb2_grpc as pb_grpc
from sandbox.clickup.fixtures import TV_TOKEN
from sandbox.clickup.state import Fault
from tests.conftest import RunningSandbox, Tokens, bearer, server_env
from tests.support import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]


def run_server(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "server"],
        cwd=ROOT,
        env={**env, "PATH": os.environ["PATH"]},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"INTEGRATION_ENCRYPTION_KEYS": None}, "INTEGRATION_ENCRYPTION_KEYS is not set"),
        ({"INTEGRATION_ENCRYPTION_KEYS": "k1:tooshort"}, "INTEGRATION_ENCRYPTION_KEYS is invalid"),
        ({"INTEGRATIONS_AUTH_TOKENS": None}, "no API tokens configured"),
    ],
)
def test_server_refuses_to_start_with_a_clear_message(
    neo4j_connection: object,
    tokens: Tokens,
    clickup_sandbox: RunningSandbox,
    encryption_keys: str,
    change: dict[str, str | None],
    message: str,
) -> None:
    env = server_env(neo4j_connection, tokens, clickup_sandbox.api_url, encryption_keys)  # type: ignore[arg-type]
    for key, value in change.items():
        if value is None:
            env.pop(key)
        else:
            env[key] = value
    process = run_server(env)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert message in stderr
    assert "Traceback" not in stderr


@pytest.fixture
def server_process(
    neo4j_connection: object, tokens: Tokens, clickup_sandbox: RunningSandbox, encryption_keys: str
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    port = free_port()
    env = server_env(neo4j_connection, tokens, clickup_sandbox.api_url, encryption_keys)  # type: ignore[arg-type]
    env |= {"INTEGRATIONS_GRPC_ADDRESS": f"127.0.0.1:{port}", "LOG_FORMAT": "json"}
    process = run_server(env)
    target = f"127.0.0.1:{port}"
    with grpc.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        status = health.Check(
            health_pb2.HealthCheckRequest(service="integrations.v1.IntegrationService"), wait_for_ready=True, timeout=60
        )
        assert status.status == health_pb2.HealthCheckResponse.SERVING
    yield process, target
    if process.poll() is None:
        process.kill()
        process.communicate(timeout=30)


def test_reflection_lists_the_service(server_process: tuple[subprocess.Popen[str], str]) -> None:
    _, target = server_process
    with grpc.insecure_channel(target) as channel:
        services = set(ProtoReflectionDescriptorDatabase(channel).get_services())
    assert {"integrations.v1.IntegrationService", "grpc.health.v1.Health"} <= services


def test_sigterm_lets_in_flight_calls_finish_and_logs_stay_clean(
    server_process: tuple[subprocess.Popen[str], str],
    clickup_sandbox: RunningSandbox,
    tokens: Tokens,
    tenant: tuple[str, str],
) -> None:
    process, target = server_process
    sandbox = clickup_sandbox.sandbox
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.IntegrationServiceStub(channel)
        sandbox.faults.append(Fault(path=r"^/api/v2/user$", delay_seconds=1.5, times=1))
        before = sandbox.requests
        settings = pb.IntegrationSettings(auth_method=pb.AUTH_METHOD_API_TOKEN, api_token=TV_TOKEN)
        in_flight = stub.TestConnection.future(
            pb.TestConnectionRequest(org_id=tenant[0], project_id=tenant[1], name="clickup", settings=settings),
            metadata=bearer(tokens.admin),
            timeout=30,
        )
        wait_until(lambda: sandbox.requests > before, what="the RPC to reach ClickUp")
        process.send_signal(signal.SIGTERM)
        result = in_flight.result()
    assert result.ok, "the call that was running when SIGTERM arrived completed"
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    messages = [line["message"] for line in lines]
    assert any("listening" in m for m in messages)
    assert any("shutdown requested" in m for m in messages)
    assert messages[-1] == "IntegrationService stopped"
    for secret in (TV_TOKEN, tokens.admin, tokens.reader, tokens.gateway):
        assert secret not in stderr
