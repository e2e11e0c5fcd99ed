"""The main job: Neo4j, the ClickUp and Jira sandboxes, the gRPC server, the webhook gateway and the
Integration Gallery on loopback; ClickUp and Jira configured, tested and imported into Neo4j, then
kept live: auto-sync registers their webhooks with the sandboxes, and one change made in the ClickUp
sandbox is followed through the gateway into the graph.

    python -m devtools.demo            # bring everything up, configure, test, print, keep running
    python -m devtools.demo --once     # the same, then shut everything down (smoke test)

Local state (encryption key, the admin token, logs) lives in ``.run/`` (git-ignored), so a
second run reuses the same token and the data stored in Neo4j stays readable.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import httpx
import neo4j
from google.protobuf import field_mask_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from devtools.neo4j_local import Connection, LocalNeo4j, cache_root
from integrations.v1 import integration_service_pb2 as pb
from integrations.v1 import integration_service_pb2_grpc as pb_grpc
from sandbox.jira.generator import MAIN_EMAIL as JIRA_EMAIL
from sandbox.jira.generator import MAIN_TOKEN as JIRA_TOKEN
from server.auth import Scope, hash_token, new_token
from server.crypto import generate_key_spec

ROOT = Path(__file__).resolve().parent.parent
SANDBOX_TOKEN = "pk_5550001_DEMO0SANDBOX000000000000000000"
ORG, PROJECT = "demo-org", "demo-project"
GRPCURL_MODULE = "github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.3"


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def secret_file(path: Path, make: str) -> str:
    if not path.exists():
        path.write_text(make)
        path.chmod(0o600)
    return path.read_text().strip()


def wait_for(what: str, check: Callable[[], bool], timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as exc:  # not up yet; keep the reason for the error message
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.2)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:]) if log and log.exists() else ""
    raise SystemExit(f"{what} did not come up within {timeout:.0f}s (last: {last})\n{tail}")


def grpcurl_binary(install: bool) -> str | None:
    found = shutil.which("grpcurl") or next(
        (str(p) for p in (cache_root() / "bin" / "grpcurl", Path.home() / "go" / "bin" / "grpcurl") if p.exists()), None
    )
    if found or not install or shutil.which("go") is None:
        return found
    say("installing grpcurl (go install, about a minute the first time)")
    target = cache_root() / "bin"
    result = subprocess.run(
        ["go", "install", GRPCURL_MODULE],
        env={**os.environ, "GOBIN": str(target)},
        capture_output=True,
        text=True,
        check=False,
    )
    return str(target / "grpcurl") if result.returncode == 0 else None


def serving(channel: grpc.Channel) -> Callable[[], bool]:
    """Whether the server behind ``channel`` says SERVING (for ``wait_for``)."""
    health = health_pb2_grpc.HealthStub(channel)
    return lambda: bool(
        health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == health_pb2.HealthCheckResponse.SERVING
    )


def configure_and_import(
    stub: pb_grpc.IntegrationServiceStub,
    auth: tuple[tuple[str, str], ...],
    integration: pb.Integration,
    kinds: tuple[str, ...],
) -> None:
    """Save the settings (the server tests them first), test again for the report, import, follow it."""
    name, label = integration.name, integration.name
    configured = stub.UpdateIntegration(
        pb.UpdateIntegrationRequest(
            org_id=ORG,
            project_id=PROJECT,
            integration=integration,
            update_mask=field_mask_pb2.FieldMask(paths=["settings", "enabled"]),
        ),
        metadata=auth,
        timeout=60,
    )
    label = configured.display_name or name
    check = stub.TestConnection(
        pb.TestConnectionRequest(org_id=ORG, project_id=PROJECT, name=name), metadata=auth, timeout=30
    )
    say(
        f"{label} configured for {ORG}/{PROJECT}: enabled={configured.enabled}, "
        f"token shown as {configured.settings.api_token!r}"
    )
    budget = f"; rate limit {check.rate_limit.remaining}/{check.rate_limit.limit}" if check.rate_limit.limit else ""
    say(f"{label} TestConnection: {'OK' if check.ok else 'FAILED'}: {check.message}{budget}")
    if not check.ok:
        raise SystemExit(f"the {label} connection test failed")
    job = stub.StartImport(pb.StartImportRequest(org_id=ORG, project_id=PROJECT, name=name), metadata=auth, timeout=30)
    final = job
    for update in stub.WatchImportJob(
        pb.WatchImportJobRequest(org_id=ORG, project_id=PROJECT, job_id=job.id), metadata=auth, timeout=600
    ):
        final = update
        say(
            f"{label} import {update.id[:8]}: "
            f"{pb.ImportJobState.Name(update.state).removeprefix('IMPORT_JOB_STATE_')}"
            f" - {update.phase} ({update.api_calls} API calls)"
        )
    if final.state != pb.IMPORT_JOB_STATE_SUCCEEDED:
        raise SystemExit(f"the {label} import failed: {final.error}")
    counts = ", ".join(f"{final.counters.get(k, 0)} {k}s" for k in kinds)
    say(f"{label} imported into Neo4j: {counts}")
    integration.settings.sync_settings.auto_sync = True
    live = stub.UpdateIntegration(
        pb.UpdateIntegrationRequest(
            org_id=ORG,
            project_id=PROJECT,
            integration=integration,
            update_mask=field_mask_pb2.FieldMask(paths=["settings"]),
        ),
        metadata=auth,
        timeout=60,
    )
    hooks = ", ".join(f"{hook.status} (workspace {hook.workspace_id})" for hook in live.webhooks) or "none"
    say(f"{label} live sync on: webhooks {hooks}")
    if not live.webhooks:
        raise SystemExit(f"{label} auto-sync registered no webhook")


def follow_one_change(sandbox_url: str, neo: Connection) -> None:
    """Rename a task in the ClickUp sandbox and wait for the name in the graph: the sandbox signs and
    delivers the webhook, the gateway verifies and spools it, a server re-reads the task and writes it."""
    task = min(httpx.get(f"{sandbox_url}/_sandbox/export", timeout=30).json()["tasks"], key=lambda t: str(t["id"]))
    name = f"Renamed live at {time.strftime('%H:%M:%S')}"
    with neo4j.GraphDatabase.driver(neo.uri, auth=(neo.user, neo.password)) as driver:
        started = time.monotonic()
        httpx.patch(f"{sandbox_url}/_sandbox/tasks/{task['id']}", json={"name": name}, timeout=30).raise_for_status()
        say(f"live sync: task {task['id']} renamed in the ClickUp sandbox to {name!r}")

        def arrived() -> bool:
            records, _, _ = driver.execute_query(
                "MATCH (t:Task {externalId: $id, orgId: $org, projectId: $project}) RETURN t.name AS name",
                id=str(task["id"]),
                org=ORG,
                project=PROJECT,
            )
            return bool(records) and records[0]["name"] == name

        wait_for("the renamed task in the graph", arrived, 60)
        took = time.monotonic() - started
        say(f"live sync: the graph has the new name {took:.1f}s later (sandbox webhook -> gateway -> server -> Neo4j)")


def spawn(module: str, args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``python -m module args`` from the repository, its output in ``log``."""
    return subprocess.Popen(
        [sys.executable, "-m", module, *args], cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM tears down like Ctrl-C


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--once", action="store_true", help="shut down after printing the calls")
    parser.add_argument("--grpc-port", type=int, default=50051)
    parser.add_argument("--sandbox-port", type=int, default=8990)
    parser.add_argument("--jira-sandbox-port", type=int, default=8991)
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        choices=range(1, 10),
        metavar="N",
        help="server replicas (ports from --grpc-port)",
    )
    parser.add_argument("--gateway-port", type=int, default=8080)
    parser.add_argument("--gallery-port", type=int, default=8070)
    parser.add_argument("--neo4j-port", type=int, default=7687)
    parser.add_argument("--run-dir", type=Path, default=ROOT / ".run")
    parser.add_argument("--no-grpcurl", action="store_true", help="do not install or run grpcurl")
    args = parser.parse_args(argv)
    run_dir: Path = args.run_dir
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    children: list[subprocess.Popen[bytes]] = []
    started_neo4j: LocalNeo4j | None = None

    def shutdown(*_: object) -> None:
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in reversed(children):
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
        if started_neo4j is not None:
            started_neo4j.stop()

    try:
        # 1. Neo4j
        if os.environ.get("NEO4J_URI"):
            neo = Connection(
                os.environ["NEO4J_URI"], os.environ.get("NEO4J_USER", "neo4j"), os.environ.get("NEO4J_PASSWORD", "")
            )
            say(f"using Neo4j at {neo.uri} (NEO4J_URI)")
        else:
            instance = LocalNeo4j("dev", args.neo4j_port)
            began = time.monotonic()
            fresh = instance.pid() is None
            neo = instance.start()
            started_neo4j = instance if fresh else None
            say(f"Neo4j Community 5.26 ready on {neo.uri} in {time.monotonic() - began:.1f}s")

        # 2. local configuration
        keys = secret_file(run_dir / "encryption-keys", generate_key_spec("local1"))
        admin_token = secret_file(run_dir / "admin-token", new_token())
        gateway_token = secret_file(run_dir / "gateway-token", new_token())
        tokens_file = run_dir / "tokens.json"
        tokens_file.write_text(
            json.dumps(
                {
                    "tokens": [
                        {"name": "admin", "sha256": hash_token(admin_token), "scopes": [Scope.READ, Scope.WRITE]},
                        {"name": "gateway", "sha256": hash_token(gateway_token), "scopes": [Scope.DELIVER]},
                    ]
                }
            )
        )

        # 3. the ClickUp sandbox
        sandbox_url = f"http://127.0.0.1:{args.sandbox_port}"
        sandbox_log = run_dir / "logs" / "sandbox.log"
        children.append(
            spawn("sandbox.clickup", ["--port", str(args.sandbox_port), "--token", SANDBOX_TOKEN], sandbox_log)
        )
        wait_for("the ClickUp sandbox", lambda: httpx.get(f"{sandbox_url}/_sandbox/state").is_success, 30, sandbox_log)
        state = httpx.get(f"{sandbox_url}/_sandbox/state").json()
        say(f"ClickUp sandbox on {sandbox_url}/api/v2 ({state['tasks']} tasks in {state['lists']} lists)")
        jira_url = f"http://127.0.0.1:{args.jira_sandbox_port}"
        jira_log = run_dir / "logs" / "jira-sandbox.log"
        children.append(spawn("sandbox.jira", ["--port", str(args.jira_sandbox_port)], jira_log))
        wait_for("the Jira sandbox", lambda: httpx.get(f"{jira_url}/_sandbox/state").is_success, 30, jira_log)
        truth = httpx.get(f"{jira_url}/_sandbox/state").json()
        issues = sum(int(n) for n in truth["issuesPerProject"].values())
        say(f"Jira sandbox on {jira_url}/rest/api/3 ({issues} issues in {len(truth['issuesPerProject'])} projects)")

        # 4. the gRPC server
        target = f"127.0.0.1:{args.grpc_port}"
        server_log = run_dir / "logs" / "server.log"
        env = {
            **os.environ,
            "NEO4J_URI": neo.uri,
            "NEO4J_USER": neo.user,
            "NEO4J_PASSWORD": neo.password,
            "INTEGRATION_ENCRYPTION_KEYS": keys,
            "INTEGRATIONS_AUTH_TOKENS_FILE": str(tokens_file),
            "INTEGRATIONS_GRPC_ADDRESS": target,
            "CLICKUP_API_URL": f"{sandbox_url}/api/v2",
            # The sandbox's own OAuth app and consent page: "Connect with ClickUp" works in the demo.
            "CLICKUP_OAUTH_CLIENT_ID": "sandbox-client",
            "CLICKUP_OAUTH_CLIENT_SECRET": "sandbox-secret",
            "CLICKUP_OAUTH_AUTHORIZE_URL": f"{sandbox_url}/api",
            # Where the sandboxes deliver webhooks: the gateway started below.
            "WEBHOOK_PUBLIC_URL": f"http://127.0.0.1:{args.gateway_port}",
        }
        addresses = [f"127.0.0.1:{args.grpc_port + n}" for n in range(args.replicas)]
        for n, address in enumerate(addresses):  # replicas on one Neo4j: they share its leases
            log = server_log if n == 0 else run_dir / "logs" / f"server-{n + 1}.log"
            children.append(spawn("server", [], log, {**env, "INTEGRATIONS_GRPC_ADDRESS": address}))
            with grpc.insecure_channel(address) as replica:
                wait_for(f"the gRPC server on {address}", serving(replica), 60, log)
        channel = grpc.insecure_channel(target)
        # The gateway and the gallery reach every replica, round-robin (their channels spread calls).
        servers = target if args.replicas == 1 else "ipv4:" + ",".join(addresses)
        say(f"IntegrationService on {', '.join(addresses)} (health SERVING; {args.replicas} replica(s))")

        # 5. the webhook gateway (before the imports: live sync registers webhooks that point at it)
        gateway_url = f"http://127.0.0.1:{args.gateway_port}"
        gateway_log = run_dir / "logs" / "gateway.log"
        gateway_env = {
            **os.environ,
            "GATEWAY_SERVER_TARGET": servers,
            "GATEWAY_SERVER_TOKEN": gateway_token,
            "GATEWAY_SPOOL_PATH": str(run_dir / "gateway-spool.sqlite3"),
        }
        children.append(spawn("webhook_gateway", ["--port", str(args.gateway_port)], gateway_log, gateway_env))
        wait_for("the webhook gateway", lambda: httpx.get(f"{gateway_url}/readyz").is_success, 30, gateway_log)
        say(f"webhook gateway on {gateway_url}/webhooks/clickup and /webhooks/jira/<route> (ready)")

        # 6. ClickUp and Jira configured against their sandboxes, tested, imported (followed live), kept live
        stub = pb_grpc.IntegrationServiceStub(channel)
        auth = (("authorization", f"Bearer {admin_token}"),)
        clickup = pb.Integration(
            name="clickup",
            enabled=True,
            settings=pb.IntegrationSettings(auth_method=pb.AUTH_METHOD_API_TOKEN, api_token=SANDBOX_TOKEN),
        )
        configure_and_import(stub, auth, clickup, ("space", "folder", "list", "task", "person"))
        jira = pb.Integration(
            name="jira",
            enabled=True,
            settings=pb.IntegrationSettings(auth_method=pb.AUTH_METHOD_API_TOKEN, api_token=JIRA_TOKEN),
        )
        jira.settings.options.update({"site_url": jira_url, "email": JIRA_EMAIL, "include_comments": True})
        configure_and_import(stub, auth, jira, ("jiraproject", "issue", "comment", "sprint", "person"))
        follow_one_change(sandbox_url, neo)

        # 7. the Integration Gallery (acts with the admin token, so it listens on loopback only)
        gallery_url = f"http://127.0.0.1:{args.gallery_port}"
        gallery_log = run_dir / "logs" / "gallery.log"
        gallery_env = {
            **os.environ,
            "INTEGRATIONS_SERVER": servers,
            "INTEGRATIONS_TOKEN_FILE": str(run_dir / "admin-token"),
            "GALLERY_PROJECTS": f"{ORG}/{PROJECT}",
        }
        children.append(spawn("clients.gallery", ["--port", str(args.gallery_port)], gallery_log, gallery_env))
        wait_for("the Integration Gallery", lambda: httpx.get(f"{gallery_url}/readyz").is_success, 30, gallery_log)
        cards = httpx.get(f"{gallery_url}/api/orgs/{ORG}/projects/{PROJECT}/integrations").json()["integrations"]
        say(f"Integration Gallery: {gallery_url}/ ({len(cards)} integration(s); open it in a browser)")
        signs_in = [card["display_name"] for card in cards if card.get("oauth_available")]
        say(f"  sign-in (OAuth) through the sandbox's consent page: {', '.join(signs_in) or 'none'}")

        # 8. how to call it
        grpcurl = None if args.no_grpcurl else grpcurl_binary(install=True)
        show = grpcurl or "grpcurl"
        print(
            f"""
Call it (token stored in {run_dir / "admin-token"}):

  {show} -plaintext {target} list
  {show} -plaintext -H "authorization: Bearer $(cat {run_dir / "admin-token"})" \\
      -d '{{"org_id": "{ORG}", "project_id": "{PROJECT}", "name": "clickup"}}' \\
      {target} integrations.v1.IntegrationService/GetIntegration

  .venv/bin/python - <<'PY'
  import grpc
  from integrations.v1 import integration_service_pb2 as pb, integration_service_pb2_grpc as rpc
  stub = rpc.IntegrationServiceStub(grpc.insecure_channel("{target}"))
  token = open("{run_dir / "admin-token"}").read().strip()
  print(stub.ListIntegrations(pb.ListIntegrationsRequest(org_id="{ORG}", project_id="{PROJECT}"),
                              metadata=[("authorization", "Bearer " + token)]))
  PY

Integration Gallery: {gallery_url}/
Logs: {run_dir / "logs"}   Neo4j: {neo.uri} (user {neo.user}, password: python -m devtools.neo4j_local env)
""",
            flush=True,
        )
        if grpcurl:
            listed = subprocess.run(
                [grpcurl, "-plaintext", target, "list"], capture_output=True, text=True, check=False, timeout=30
            )
            say(f"grpcurl -plaintext {target} list ->\n{listed.stdout.strip()}")
            got = subprocess.run(
                [
                    grpcurl,
                    "-plaintext",
                    "-H",
                    f"authorization: Bearer {admin_token}",
                    "-d",
                    json.dumps({"org_id": ORG, "project_id": PROJECT, "name": "clickup"}),
                    target,
                    "integrations.v1.IntegrationService/GetIntegration",
                ],
                capture_output=True,
                text=True,
                check=False,
                timeout=30,
            )
            say(f"grpcurl ... GetIntegration ->\n{(got.stdout or got.stderr).strip()}")
        channel.close()
        if args.once:
            say("--once: shutting down")
            return 0
        say("running; Ctrl-C stops everything")
        signal.signal(signal.SIGTERM, _interrupt)
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        say("a component exited; see the logs")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        shutdown()


if __name__ == "__main__":
    raise SystemExit(main())
