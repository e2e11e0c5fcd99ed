"""A server killed (SIGKILL) mid-import: the next server resumes the job and ends with the same graph."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import neo4j
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from integrations.v1 import integration_service_pb2_grpc as pb_grpc
from sandbox.clickup.app import create_app
from sandbox.clickup.generator import GeneratorConfig, generate
from sandbox.clickup.state import Fault, Sandbox
from tests.conftest import Tokens, bearer, server_env
from tests.integration.importing import enable_request, export
from tests.support import UvicornThread, free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "pk_5550001_RESUMESANDBOX000000000000000000"


@pytest.fixture
def slow_sandbox() -> Iterator[tuple[str, Sandbox]]:
    world = generate(GeneratorConfig(seed=11, spaces=2, tasks_per_list=25))
    world.tokens[TOKEN] = min(world.users)
    sandbox = Sandbox(world)
    sandbox.limiter.limit = None
    sandbox.faults.append(Fault(path=r"/task$", delay_seconds=0.4, times=-1))  # an import that takes a while
    with UvicornThread(create_app(sandbox)) as server:
        yield f"{server.url}/api/v2", sandbox


class ServerProcess:
    def __init__(self, env: dict[str, str], port: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "server"],
            cwd=ROOT,
            env={**env, "PATH": os.environ["PATH"]},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        health = health_pb2_grpc.HealthStub(self.channel)
        health.Check(health_pb2.HealthCheckRequest(), wait_for_ready=True, timeout=60)
        self.stub = pb_grpc.IntegrationServiceStub(self.channel)

    def close(self, sig: int = signal.SIGTERM) -> None:
        self.channel.close()
        if self.process.poll() is None:
            self.process.send_signal(sig)
        self.process.wait(timeout=30)


def test_sigkill_mid_import_resumes_to_the_same_graph(
    neo4j_connection: Connection,
    tokens: Tokens,
    encryption_keys: str,
    slow_sandbox: tuple[str, Sandbox],
    neo4j_driver: neo4j.Driver,
) -> None:
    api_url, sandbox = slow_sandbox
    port = free_port()
    env = server_env(neo4j_connection, tokens, api_url, encryption_keys)
    env |= {"INTEGRATIONS_GRPC_ADDRESS": f"127.0.0.1:{port}", "IMPORT_LEASE_SECONDS": "2"}
    killed, clean = ("resume-org", "proj-killed"), ("resume-org", "proj-clean")
    auth = bearer(tokens.admin)

    def enable(stub: pb_grpc.IntegrationServiceStub, tenant: tuple[str, str]) -> None:
        stub.UpdateIntegration(enable_request(tenant, TOKEN), metadata=auth, timeout=30)

    def job(stub: pb_grpc.IntegrationServiceStub, tenant: tuple[str, str], job_id: str) -> pb.ImportJob:
        result: pb.ImportJob = stub.GetImportJob(
            pb.GetImportJobRequest(org_id=tenant[0], project_id=tenant[1], job_id=job_id), metadata=auth, timeout=10
        )
        return result

    first = ServerProcess(env, port)
    try:
        enable(first.stub, killed)
        started = first.stub.StartImport(
            pb.StartImportRequest(org_id=killed[0], project_id=killed[1], name="clickup"), metadata=auth, timeout=30
        )
        wait_until(lambda: job(first.stub, killed, started.id).pages >= 3, timeout=60, what="three committed pages")
    finally:
        first.close(signal.SIGKILL)

    second = ServerProcess(env, port)
    try:
        interrupted = job(second.stub, killed, started.id)
        assert interrupted.state == pb.IMPORT_JOB_STATE_RUNNING, "the dead server's job is still marked running"
        wait_until(
            lambda: job(second.stub, killed, started.id).state == pb.IMPORT_JOB_STATE_SUCCEEDED,
            timeout=120,
            what="the resumed job to succeed",
        )
        job_state = job(second.stub, killed, started.id)
        sandbox.faults.clear()
        enable(second.stub, clean)
        reference = second.stub.StartImport(
            pb.StartImportRequest(org_id=clean[0], project_id=clean[1], name="clickup"), metadata=auth, timeout=30
        )
        wait_until(
            lambda: job(second.stub, clean, reference.id).state == pb.IMPORT_JOB_STATE_SUCCEEDED,
            timeout=120,
            what="the clean import",
        )
    finally:
        second.close()

    assert job_state.pages > interrupted.pages >= 3
    records, _, _ = neo4j_driver.execute_query("MATCH (j:ImportJob {id: $id}) RETURN j.attempts AS a", id=started.id)
    assert records[0]["a"] == 2, "claimed by the first server, then once more by the second"
    resumed, fresh = export(neo4j_driver, killed[1]), export(neo4j_driver, clean[1])
    assert len(fresh) > 1000
    assert resumed == fresh
