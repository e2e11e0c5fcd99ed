"""The gallery's custom-field routes (the detail page's Settings tab): bad input is a 4xx JSON error
naming the field, before any RPC, never a 500; the server's own refusals come back with its field
paths (``mappings[0].property``); a saved mapping answers with the re-map job, which the page polls
through ``/imports/{job_id}`` until it ends."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import neo4j
import pytest

from clients.gallery.app import create_app
from clients.gallery.config import GalleryConfig
from clients.gallery.guards import MAX_BODY_BYTES
from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.app import create_app as create_sandbox
from sandbox.clickup.fixtures import TV_STAGE_FIELD
from sandbox.clickup.fixtures import test_vector_world as vector_world  # not collected as a test
from sandbox.clickup.state import Sandbox
from tests.clients.conftest import RunningGallery, serving_gallery
from tests.conftest import RunningHub, RunningSandbox, Tokens, bearer, hub_with, server_env
from tests.integration.importing import enable_request, run_import
from tests.support import UvicornThread

JSON: dict[str, str | None] = {"content-type": "application/json"}
FIELDS = "/integrations/clickup/fields"
BAD = "invalid_argument"
TENANT = ("acme", "p1")
# The test vectors' user under a token of its own: the server's rate budget for a token is shared by
# every server on the database, and the suite's sandbox keeps ClickUp's 100 requests a minute.
VECTORS_TOKEN = "pk_5550001_FIELDMAPPINGVECTORS000000000000"


def mapping(**rule: Any) -> bytes:
    """A body of one rule for the test vectors' Stage field, with ``rule``'s keys."""
    return json.dumps({"mappings": [{"field_id": TV_STAGE_FIELD, **rule}]}).encode()


# ---------------------------------------------------------------- refused by the gallery, before any RPC


@pytest.fixture(scope="module")
def offline() -> Iterator[str]:
    """A gallery whose IntegrationService is unreachable: an answer that is not a 503 came from the
    gallery's own checks."""
    config = GalleryConfig(server_target="127.0.0.1:1", token="unused", projects=(TENANT,))
    with UvicornThread(create_app(config)) as server:
        yield server.url


@pytest.mark.parametrize(
    ("method", "body", "headers", "status", "code", "field"),
    [
        ("PUT", b"{not json", JSON, 400, BAD, "body"),
        ("PUT", b"[]", JSON, 400, BAD, "body"),
        ("PUT", b"{}", JSON, 400, BAD, "body"),
        ("PUT", b'{"mappings": {}}', JSON, 400, BAD, "body"),
        ("PUT", b'{"mappings": [], "extra": 1}', JSON, 400, BAD, "body"),
        ("PUT", b'{"mappings": [7]}', JSON, 400, BAD, "mappings[0]"),
        ("PUT", b'{"mappings": [{"property": "x"}]}', JSON, 400, BAD, "mappings[0]"),
        ("PUT", mapping(colour="red"), JSON, 400, BAD, "mappings[0]"),
        ("PUT", b'{"mappings": [{"field_id": ""}]}', JSON, 400, BAD, "mappings[0].field_id"),
        ("PUT", b'{"mappings": [{"field_id": 12}]}', JSON, 400, BAD, "mappings[0].field_id"),
        ("PUT", mapping(property="1st"), JSON, 400, BAD, "mappings[0].property"),
        ("PUT", mapping(property="story points"), JSON, 400, BAD, "mappings[0].property"),
        ("PUT", mapping(property="a" * 65), JSON, 400, BAD, "mappings[0].property"),
        ("PUT", mapping(property="née"), JSON, 400, BAD, "mappings[0].property"),
        ("PUT", mapping(property=5), JSON, 400, BAD, "mappings[0].property"),
        ("PUT", mapping(type="integer"), JSON, 400, BAD, "mappings[0].type"),
        ("PUT", mapping(type=None), JSON, 400, BAD, "mappings[0].type"),
        ("PUT", mapping(skip="yes"), JSON, 400, BAD, "mappings[0].skip"),
        ("PUT", mapping(skip=1), JSON, 400, BAD, "mappings[0].skip"),
        (
            "PUT",
            b'{"mappings": [' + b",".join([b'{"field_id": "f"}'] * 501) + b"]}",
            JSON,
            400,
            BAD,
            "mappings",
        ),
        ("PUT", b'{"mappings": [{"field_id": "\\ud800"}]}', JSON, 400, BAD, "body"),
        ("PUT", b"[" * 10_000, JSON, 400, BAD, "body"),
        ("PUT", b" " * (MAX_BODY_BYTES + 1), JSON, 413, "payload_too_large", None),
        # The guards every write passes: our page's origin and a JSON body.
        ("PUT", mapping(property="stage"), {**JSON, "origin": "https://evil.example"}, 403, "cross_origin", None),
        ("PUT", mapping(property="stage"), {**JSON, "origin": None}, 403, "origin_required", None),
        ("PUT", mapping(property="stage"), {"content-type": "text/plain"}, 415, "unsupported_media_type", None),
        ("POST", mapping(property="stage"), JSON, 405, "http_error", None),
        ("DELETE", b"", JSON, 405, "http_error", None),
        # Well formed: it reaches the RPC, and the unreachable server is a 503, not a 500.
        ("PUT", mapping(property="stage", type="string", skip=False), JSON, 503, "unavailable", None),
        ("PUT", b'{"mappings": []}', JSON, 503, "unavailable", None),
        ("GET", b"", {}, 503, "unavailable", None),
    ],
)
async def test_bad_input_is_a_json_error_before_any_rpc(
    offline: str,
    method: str,
    body: bytes,
    headers: dict[str, str | None],
    status: int,
    code: str,
    field: str | None,
) -> None:
    api = f"{offline}/api/orgs/{TENANT[0]}/projects/{TENANT[1]}"
    async with httpx.AsyncClient(base_url=api, timeout=30, headers={"origin": offline}) as http:
        request = http.build_request(method, FIELDS, content=body)
        for name, value in headers.items():  # None: the header is not sent at all
            if value is None:
                del request.headers[name]
            else:
                request.headers[name] = value
        response = await http.send(request)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["code"], bool(error["message"])) == (code, True)
    if field is not None:
        assert field in error["fields"], error


async def test_another_projects_fields_and_jobs_are_not_served(offline: str) -> None:
    async with httpx.AsyncClient(base_url=offline, timeout=10, headers={"origin": offline}) as http:
        other = "/api/orgs/someone-else/projects/theirs"
        for response in (
            await http.get(f"{other}{FIELDS}"),
            await http.put(f"{other}{FIELDS}", json={"mappings": []}),
            await http.get(f"{other}/imports/00000000-0000-4000-8000-000000000000"),
        ):
            assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")


# ---------------------------------------------------------------- against the real server


@pytest.fixture(scope="module")
def vectors() -> Iterator[RunningSandbox]:
    """The test vectors' workspace (one custom field: Stage) without a rate limit. Every listing of the
    fields is several ClickUp calls, and these tests list them again and again: on the suite's shared
    sandbox they would wait out its limit (and make the other tests wait)."""
    world = vector_world()
    world.tokens[VECTORS_TOKEN] = min(world.users)
    sandbox = Sandbox(world)
    sandbox.limiter.limit = None
    with UvicornThread(create_sandbox(sandbox)) as server:
        yield RunningSandbox(server.url, sandbox, VECTORS_TOKEN)


@pytest.fixture(scope="module")
async def vectors_hub(
    neo4j_connection: Connection, tokens: Tokens, vectors: RunningSandbox, encryption_keys: str
) -> AsyncIterator[RunningHub]:
    async with hub_with(server_env(neo4j_connection, tokens, vectors.api_url, encryption_keys)) as running:
        yield running


@pytest.fixture
async def gallery(vectors_hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]) -> AsyncIterator[RunningGallery]:
    async with serving_gallery(vectors_hub, tokens.admin, tenant) as running:
        yield running


@pytest.fixture
async def http(gallery: RunningGallery) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gallery.api, timeout=30, headers={"origin": gallery.url}) as client:
        yield client


async def follow(http: httpx.AsyncClient, job: dict[str, Any], seconds: float = 60) -> dict[str, Any]:
    """Polls the job as the page does, until it is done."""
    async with asyncio.timeout(seconds):
        while not job["done"]:
            await asyncio.sleep(0.2)
            response = await http.get(f"/imports/{job['id']}")
            assert response.status_code == 200, response.text
            assert response.headers["cache-control"] == "no-store"
            job = response.json()
    return job


def stage_values(driver: neo4j.Driver, tenant: tuple[str, str]) -> dict[str, dict[str, Any]]:
    """What the test vectors' tasks hold of the Stage field, by task id."""
    records, _, _ = driver.execute_query(
        "MATCH (t:Task {orgId: $org, projectId: $project, source: 'clickup'}) WHERE t.stub IS NULL "
        "RETURN t.externalId AS id, t.cf_stage AS cf_stage, t.stage AS stage",
        org=tenant[0],
        project=tenant[1],
    )
    return {r["id"]: {"cf_stage": r["cf_stage"], "stage": r["stage"]} for r in records}


async def test_list_rename_follow_the_remap_and_reset(
    http: httpx.AsyncClient,
    gallery: RunningGallery,
    vectors_hub: RunningHub,
    tokens: Tokens,
    neo4j_driver: neo4j.Driver,
) -> None:
    hub, tenant = vectors_hub, (gallery.org, gallery.project)
    unconfigured = await http.get(FIELDS)
    assert (unconfigured.status_code, unconfigured.json()["error"]["code"]) == (409, "failed_precondition")

    await hub.stub.UpdateIntegration(enable_request(tenant, VECTORS_TOKEN), metadata=bearer(tokens.admin))
    assert (await run_import(hub, tokens.admin, tenant))[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED
    assert stage_values(neo4j_driver, tenant)["86abc1xyz"] == {"cf_stage": "Beta", "stage": None}

    listed = (await http.get(FIELDS)).json()
    (stage,) = listed["fields"]
    assert stage == {
        "id": TV_STAGE_FIELD,
        "name": "Stage",
        "provider_type": "drop_down",
        "kind": "Task",
        "default_property": "cf_stage",
        "natural_type": "string",
        "mapping": {"property": "cf_stage", "type": "string", "skip": False},
        "rule": {"property": "", "type": "natural", "skip": False},
    }
    assert (listed["remap_job"], listed["stale_mappings"]) == (None, [])

    saved = await http.put(FIELDS, json={"mappings": [{"field_id": TV_STAGE_FIELD, "property": "stage"}]})
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["fields"][0]["mapping"] == {"property": "stage", "type": "string", "skip": False}
    assert body["fields"][0]["rule"] == {"property": "stage", "type": "natural", "skip": False}
    job = body["remap_job"]
    assert (job["kind"], job["integration"]) == ("field_remap", "clickup")
    final = await follow(http, job)
    assert final["state"] == "succeeded", final
    assert stage_values(neo4j_driver, tenant)["86abc1xyz"] == {"cf_stage": None, "stage": "Beta"}

    listed = (await http.get(FIELDS)).json()
    assert listed["fields"][0]["rule"]["property"] == "stage"
    assert (listed["remap_job"]["id"], listed["remap_job"]["done"]) == (job["id"], True)
    again = (await http.put(FIELDS, json={"mappings": [{"field_id": TV_STAGE_FIELD, "property": "stage"}]})).json()
    assert again["remap_job"] is None, "the same mapping again changes nothing"

    reset = (await http.put(FIELDS, json={"mappings": []})).json()
    assert reset["fields"][0]["rule"] == {"property": "", "type": "natural", "skip": False}
    assert (await follow(http, reset["remap_job"]))["state"] == "succeeded"
    assert stage_values(neo4j_driver, tenant)["86abc1xyz"] == {"cf_stage": "Beta", "stage": None}
    missing = await http.get("/imports/00000000-0000-4000-8000-000000000000")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        # Spelled right but taken: one of the Task's own properties.
        ({"mappings": [{"field_id": TV_STAGE_FIELD, "property": "name"}]}, "mappings[0].property"),
        ({"mappings": [{"field_id": TV_STAGE_FIELD, "property": "status"}]}, "mappings[0].property"),
        # A field the integration does not list.
        (
            {"mappings": [{"field_id": TV_STAGE_FIELD}, {"field_id": "no-such-field", "skip": True}]},
            "mappings[1].field_id",
        ),
    ],
)
async def test_the_servers_refusals_name_the_field_and_change_nothing(
    http: httpx.AsyncClient,
    gallery: RunningGallery,
    vectors_hub: RunningHub,
    tokens: Tokens,
    body: dict[str, Any],
    field: str,
) -> None:
    hub, tenant = vectors_hub, (gallery.org, gallery.project)
    await hub.stub.UpdateIntegration(enable_request(tenant, VECTORS_TOKEN), metadata=bearer(tokens.admin))
    before = (await http.get(FIELDS)).json()
    response = await http.put(FIELDS, json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == BAD
    assert field in error["fields"], error
    assert (await http.get(FIELDS)).json() == before


async def test_a_change_while_an_import_runs_is_refused(
    http: httpx.AsyncClient, gallery: RunningGallery, vectors_hub: RunningHub, vectors: RunningSandbox, tokens: Tokens
) -> None:
    tenant = (gallery.org, gallery.project)
    await vectors_hub.stub.UpdateIntegration(enable_request(tenant, VECTORS_TOKEN), metadata=bearer(tokens.admin))
    before = (await http.get(FIELDS)).json()
    async with httpx.AsyncClient(base_url=vectors.url, timeout=30) as sandbox:
        slow = {"path": r"/(team|list)/[^/]+/task$", "delay_seconds": 4.0, "times": 1}  # the import's first page
        assert (await sandbox.post("/_sandbox/faults", json={"faults": [slow]})).status_code == 200
        try:
            started = await http.post("/integrations/clickup/imports", json={})
            assert started.status_code == 202, started.text
            refused = await http.put(FIELDS, json={"mappings": [{"field_id": TV_STAGE_FIELD, "skip": True}]})
            assert refused.status_code == 409, refused.text
            error = refused.json()["error"]
            assert error["code"] == "failed_precondition"
            assert "is running" in error["message"]
            assert (await follow(http, started.json()))["state"] == "succeeded"
        finally:
            await sandbox.delete("/_sandbox/faults")
    after = (await http.get(FIELDS)).json()
    assert after["fields"] == before["fields"], "nothing was changed"
