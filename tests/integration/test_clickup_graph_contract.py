"""The graph a ClickUp import writes is a contract with the people who query it: this test pins it.

The sandbox's default workspace (``python -m sandbox.clickup`` with no options, comments included)
is imported and exported in a sorted, project-independent form, and compared line by line with
``tests/data/clickup/default_workspace.export.gz``, produced by the importer before the generic-core
rework (issue 10). A change that alters what users query fails here. For a deliberate change of the
graph contract, regenerate the file with ``UPDATE_GRAPH_CONTRACT=1`` and say so in the README.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import neo4j

from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.app import create_app
from sandbox.clickup.generator import GeneratorConfig, generate
from sandbox.clickup.state import Sandbox
from tests.conftest import Tokens, bearer, server_env, start_hub
from tests.integration.importing import enable_request, export, run_import
from tests.support import UvicornThread

FIXTURE = Path(__file__).resolve().parent.parent / "data" / "clickup" / "default_workspace.export.gz"
TOKEN = "pk_5550001_GRAPHCONTRACT00000000000000000"


async def test_an_import_of_the_default_workspace_writes_the_pinned_graph(
    neo4j_connection: Connection,
    tokens: Tokens,
    encryption_keys: str,
    neo4j_driver: neo4j.Driver,
    tenant: tuple[str, str],
) -> None:
    world = generate(GeneratorConfig())
    world.tokens[TOKEN] = min(world.users)
    sandbox = Sandbox(world)
    sandbox.limiter.limit = None
    with UvicornThread(create_app(sandbox)) as clickup:
        hub = await start_hub(server_env(neo4j_connection, tokens, f"{clickup.url}/api/v2", encryption_keys))
        try:
            await hub.stub.UpdateIntegration(
                enable_request(tenant, TOKEN, include_comments=True), metadata=bearer(tokens.admin)
            )
            assert (await run_import(hub, tokens.admin, tenant))[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED
        finally:
            await hub.channel.close(None)
            await hub.server.stop(grace=1)
    lines = export(neo4j_driver, tenant[1])
    if os.environ.get("UPDATE_GRAPH_CONTRACT") == "1":
        FIXTURE.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))
    pinned = gzip.decompress(FIXTURE.read_bytes()).decode().splitlines()
    missing = sorted(set(pinned) - set(lines))[:3]
    extra = sorted(set(lines) - set(pinned))[:3]
    assert lines == pinned, f"{len(lines)} lines against {len(pinned)} pinned\nmissing {missing}\nextra {extra}"
