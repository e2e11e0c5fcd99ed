"""Tenancy and request hygiene (issue 9, items 6-9): ids are full matches, a deliver token keeps its pin,
a project id belongs to one org, page tokens are opaque and bound to their request, StartImport's
request_id is honoured elsewhere (tests/integration/test_import*)."""

from __future__ import annotations

import grpc
import neo4j
import pytest

from tests.conftest import RunningHub, Tokens, bearer
from tests.integration.rpc import failure
from tests.integration.test_gallery import settings, update

Tenant = tuple[str, str]


# ---------------------------------------------------------------- item 8: full matches


@pytest.mark.parametrize("where", ["org", "project", "name"])
async def test_a_trailing_newline_is_refused_and_creates_nothing(
    hub: RunningHub, tokens: Tokens, tenant: Tenant, neo4j_driver: neo4j.Driver, where: str
) -> None:
    org, project = tenant
    name = "clickup"
    if where == "org":
        org += "\n"
    elif where == "project":
        project += "\n"
    else:
        name += "\n"
    request = update((org, project), "enabled", name=name, enabled=True)
    refused = await failure(hub.stub.UpdateIntegration(request, metadata=bearer(tokens.admin)))
    assert refused.code == grpc.StatusCode.INVALID_ARGUMENT
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (i:Integration) WHERE i.orgId STARTS WITH $org RETURN count(i) AS n", org=tenant[0]
    )
    assert records[0]["n"] == 0


async def test_a_newline_after_a_valid_token_is_refused(hub: RunningHub, tokens: Tokens, tenant: Tenant) -> None:
    request = update(tenant, "settings", new_settings=settings("pk_12345678_ABCDEFGH\n"))
    refused = await failure(hub.stub.UpdateIntegration(request, metadata=bearer(tokens.admin)))
    assert refused.code == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.fields == ["settings.api_token"]
