"""The README's main command, as a smoke test: everything comes up, ClickUp and Jira connect and import,
it all stops."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import neo4j
import pytest

from devtools.demo import ORG
from devtools.neo4j_local import Connection
from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo_rows_removed(neo4j_driver: neo4j.Driver) -> Iterator[None]:
    """The demo seals its rows under its own key: remove them so later suite-wide checks stay exact."""
    yield
    neo4j_driver.execute_query("MATCH (n {orgId: $org}) DETACH DELETE n", org=ORG)


@pytest.mark.usefixtures("demo_rows_removed")
def test_main_job_brings_everything_up_and_prints_working_calls(neo4j_connection: Connection, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "NEO4J_URI": neo4j_connection.uri,
        "NEO4J_USER": neo4j_connection.user,
        "NEO4J_PASSWORD": neo4j_connection.password,
    }
    grpc_port, sandbox_port, gateway_port, gallery_port = two_free_ports(), free_port(), free_port(), free_port()
    jira_port = free_port()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "devtools.demo",
            "--once",
            "--no-grpcurl",
            "--grpc-port",
            str(grpc_port),
            "--replicas",
            "2",
            "--sandbox-port",
            str(sandbox_port),
            "--jira-sandbox-port",
            str(jira_port),
            "--gateway-port",
            str(gateway_port),
            "--gallery-port",
            str(gallery_port),
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
    assert "SUCCEEDED" in result.stdout
    assert "imported into Neo4j: 3 spaces, 8 folders, 21 lists, 448 tasks" in result.stdout
    assert f"webhook gateway on http://127.0.0.1:{gateway_port}/webhooks/clickup and /webhooks/jira/" in result.stdout
    assert "Jira TestConnection: OK: Connected to http://127.0.0.1:" in result.stdout
    assert "Jira imported into Neo4j: 3 jiraprojects, 88 issues, 199 comments, 12 sprints" in result.stdout
    assert "ClickUp live sync on: webhooks active (workspace " in result.stdout
    assert "Jira live sync on: webhooks active (workspace " in result.stdout
    assert "renamed in the ClickUp sandbox to 'Renamed live at " in result.stdout
    assert "live sync: the graph has the new name " in result.stdout
    assert f"Integration Gallery: http://127.0.0.1:{gallery_port}/ (2 integration(s)" in result.stdout
    assert "sign-in (OAuth) through the sandbox's consent page: ClickUp" in result.stdout
    assert f"-plaintext 127.0.0.1:{grpc_port} list" in result.stdout
    replicas = f"IntegrationService on 127.0.0.1:{grpc_port}, 127.0.0.1:{grpc_port + 1} (health SERVING; 2 replica(s))"
    assert replicas in result.stdout
    assert "integrations.v1.IntegrationService/GetIntegration" in result.stdout
    admin_token = (tmp_path / "admin-token").read_text().strip()
    assert admin_token not in result.stdout, "the token is referenced by file, never printed"
    assert (tmp_path / "admin-token").stat().st_mode & 0o077 == 0


def two_free_ports() -> int:
    """A free port whose next one is free too (the demo's second replica listens there)."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise AssertionError("no two consecutive free ports on this machine")
