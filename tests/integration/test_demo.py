"""The README's main command, as a smoke test: everything comes up, ClickUp connects, it all stops."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from devtools.neo4j_local import Connection
from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_main_job_brings_everything_up_and_prints_working_calls(neo4j_connection: Connection, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "NEO4J_URI": neo4j_connection.uri,
        "NEO4J_USER": neo4j_connection.user,
        "NEO4J_PASSWORD": neo4j_connection.password,
    }
    grpc_port, sandbox_port = free_port(), free_port()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "devtools.demo",
            "--once",
            "--no-grpcurl",
            "--grpc-port",
            str(grpc_port),
            "--sandbox-port",
            str(sandbox_port),
            "--run-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "TestConnection: OK: Connected as Ada Lovelace" in result.stdout
    assert f"-plaintext 127.0.0.1:{grpc_port} list" in result.stdout
    assert "integrations.v1.IntegrationService/GetIntegration" in result.stdout
    admin_token = (tmp_path / "admin-token").read_text().strip()
    assert admin_token not in result.stdout, "the token is referenced by file, never printed"
    assert (tmp_path / "admin-token").stat().st_mode & 0o077 == 0
