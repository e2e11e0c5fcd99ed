"""An import interrupted (server SIGKILLed, or the job failed) and resumed ends with the same graph and
the same per-workspace watermarks as an import that was never interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import neo4j
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from integrations.v1 import integration_service_pb2_grpc as pb_grpc
from sandbox.clickup.app import create_app
from sandbox.clickup.generator import GeneratorConfig, generate
from sandbox.clickup.state import Fault, Sandbox
from tests.conftest import Tokens, bearer, server_env, start_hub
from tests.integration.importing import enable_request, export, run_import
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


def newest_on_first_pages(api_url: str) -> dict[str, int]:
    """Make the first task of each workspace's first task page its newest change, so a resume that
    starts past that page must carry the watermark over; returns {workspace: date_updated ms}."""
    auth = {"Authorization": TOKEN}
    sandbox_url = api_url.removesuffix("/api/v2")
    newest: dict[str, int] = {}
    with httpx.Client(timeout=30) as client:
        for team in client.get(f"{api_url}/team", headers=auth).json()["teams"]:
            first = client.get(
                f"{api_url}/team/{team['id']}/task",
                headers=auth,
                params={
                    "page": 0,
                    "subtasks": "true",
                    "include_closed": "true",
                    "archived": "false",
                    "order_by": "created",
                    "reverse": "true",
                },
            ).json()["tasks"][0]
            client.patch(f"{sandbox_url}/_sandbox/tasks/{first['id']}", json={"name": "The newest change"})
            task = client.get(f"{api_url}/task/{first['id']}", headers=auth).json()
            newest[str(team["id"])] = int(task["date_updated"])
    return newest


def watermarks(stub: pb_grpc.IntegrationServiceStub, tenant: tuple[str, str], admin: str) -> dict[str, int]:
    found = stub.GetIntegration(
        pb.GetIntegrationRequest(org_id=tenant[0], project_id=tenant[1], name="clickup"),
        metadata=bearer(admin),
        timeout=10,
    )
    return {ws: mark.ToMilliseconds() for ws, mark in found.sync_state.workspace_watermarks.items()}


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

    newest = newest_on_first_pages(api_url)
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
        killed_marks = watermarks(second.stub, killed, tokens.admin)
        clean_marks = watermarks(second.stub, clean, tokens.admin)
    finally:
        second.close()

    assert job_state.pages > interrupted.pages >= 3
    records, _, _ = neo4j_driver.execute_query("MATCH (j:ImportJob {id: $id}) RETURN j.attempts AS a", id=started.id)
    assert records[0]["a"] == 2, "claimed by the first server, then once more by the second"
    resumed, fresh = export(neo4j_driver, killed[1]), export(neo4j_driver, clean[1])
    assert len(fresh) > 1000
    assert resumed == fresh
    assert killed_marks == newest, "the watermark reached before the kill survived the resume"
    assert killed_marks == clean_marks


async def test_a_failed_import_resumed_by_the_next_start_keeps_every_workspace_watermark(
    neo4j_connection: Connection, tokens: Tokens, encryption_keys: str, tenant: tuple[str, str]
) -> None:
    world = generate(GeneratorConfig(seed=13, workspaces=2, spaces=1, tasks_per_list=25))
    world.tokens[TOKEN] = min(world.users)
    sandbox = Sandbox(world)
    sandbox.limiter.limit = None
    first_team, second_team = sorted(world.teams)
    clean = (tenant[0], tenant[1] + "-clean")
    with UvicornThread(create_app(sandbox)) as clickup:
        newest = newest_on_first_pages(f"{clickup.url}/api/v2")
        hub = await start_hub(server_env(neo4j_connection, tokens, f"{clickup.url}/api/v2", encryption_keys))
        try:
            for project in (tenant, clean):
                await hub.stub.UpdateIntegration(enable_request(project, TOKEN), metadata=bearer(tokens.admin))
            # The second workspace's first task page is read, its second one refused: the job fails
            # with the first workspace done and the second one's first page committed.
            tasks = rf"/team/{second_team}/task$"
            sandbox.faults += [Fault(path=tasks, times=1), Fault(path=tasks, status=400, times=-1)]
            failed = (await run_import(hub, tokens.admin, tenant))[-1]
            assert failed.state == pb.IMPORT_JOB_STATE_FAILED
            sandbox.faults.clear()
            resumed = (await run_import(hub, tokens.admin, tenant))[-1]
            assert resumed.state == pb.IMPORT_JOB_STATE_SUCCEEDED
            assert (await run_import(hub, tokens.admin, clean))[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED
            marks = {}
            for project in (tenant, clean):
                found = await hub.stub.GetIntegration(
                    pb.GetIntegrationRequest(org_id=project[0], project_id=project[1], name="clickup"),
                    metadata=bearer(tokens.admin),
                )
                marks[project] = {ws: m.ToMilliseconds() for ws, m in found.sync_state.workspace_watermarks.items()}
        finally:
            await hub.channel.close(None)
            await hub.server.stop(grace=1)
    assert marks[tenant] == newest, f"{first_team} was read only by the failed job, {second_team} partly"
    assert marks[tenant] == marks[clean]
