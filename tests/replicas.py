"""Server replicas as separate processes on one Neo4j, for tests of what several replicas share."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from integrations.v1 import integration_service_pb2_grpc as pb_grpc
from tests.support import free_port

ROOT = Path(__file__).resolve().parents[1]
SERVICE = "integrations.v1.IntegrationService"
START_SECONDS = 90.0
# Health answers while the server starts: not listening yet, or its services not registered yet.
NOT_YET = (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.NOT_FOUND)


@dataclass
class Replica:
    process: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]
    channel: grpc.aio.Channel
    stub: pb_grpc.IntegrationServiceAsyncStub
    target: str = ""  # host:port it serves gRPC on

    async def kill(self) -> None:
        """SIGKILL, as a crashed node or an OOM kill ends it: no shutdown path runs, leases stay held."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(self.process.wait, 30)
        await self.channel.close(None)
        self.log.close()

    async def stop(self) -> None:
        """SIGTERM, as an orchestrator stops a replica; killed if it has not exited in 30 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.process.wait, 30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                await asyncio.to_thread(self.process.wait, 30)
        await self.channel.close(None)
        self.log.close()

    def tail(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")[-3000:]


def start_replica(env: dict[str, str], log_path: Path, module: str = "server") -> Replica:
    """``python -m <module>`` (the server, or a test's own entry point that registers more plugins)."""
    port = free_port()
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", module],
        cwd=ROOT,
        env={**env, "INTEGRATIONS_GRPC_ADDRESS": f"127.0.0.1:{port}", "PATH": os.environ["PATH"]},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    target = f"127.0.0.1:{port}"
    channel = grpc.aio.insecure_channel(target)
    return Replica(process, log_path, log, channel, pb_grpc.IntegrationServiceStub(channel), target)


async def serving(replica: Replica, deadline: float) -> None:
    """Until the replica's gRPC health says SERVING; fails at once if the process exits."""
    health: Any = health_pb2_grpc.HealthStub(replica.channel)
    while True:
        if replica.process.poll() is not None:
            raise AssertionError(f"the server exited ({replica.process.returncode}) before serving:\n{replica.tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the server was not serving within {START_SECONDS:.0f}s:\n{replica.tail()}")
        try:
            answer = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE), timeout=1, wait_for_ready=True)
        except grpc.aio.AioRpcError as exc:
            if exc.code() not in NOT_YET:
                raise
            continue
        if answer.status == health_pb2.HealthCheckResponse.SERVING:
            return
