"""``integrations fields`` and ``integrations map-field`` (custom-field mapping): the table, one field
changed with the rest of the mapping kept, the re-map followed with --wait, and one-line errors."""

from __future__ import annotations

import json

import neo4j
import pytest

from clients.cli import fields_text, job_text
from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.fixtures import TV_STAGE_FIELD
from tests.clients import test_gallery_field_mapping as gallery_tests
from tests.clients.test_cli import run
from tests.conftest import RunningHub, Tokens
from tests.integration.importing import watch

# The test vectors' workspace on a sandbox and a server of this module (no rate limit to wait out).
vectors, vectors_hub, TOKEN = gallery_tests.vectors, gallery_tests.vectors_hub, gallery_tests.VECTORS_TOKEN


@pytest.fixture
def cli_env(
    monkeypatch: pytest.MonkeyPatch, vectors_hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]
) -> list[str]:
    monkeypatch.setenv("INTEGRATIONS_TOKEN", tokens.admin)
    monkeypatch.delenv("INTEGRATIONS_TOKEN_FILE", raising=False)
    return ["--server", vectors_hub.target, "--org", tenant[0], "--project", tenant[1]]


def listed() -> pb.ListCustomFieldsResponse:
    response = pb.ListCustomFieldsResponse()
    stage = response.fields.add(
        id="f-1", name="Stage", provider_type="drop_down", kind="Task", default_property="cf_stage"
    )
    stage.natural_type = pb.FIELD_TYPE_STRING
    stage.mapping.CopyFrom(pb.FieldMapping(field_id="f-1", property="phase", type=pb.FIELD_TYPE_STRING))
    points = response.fields.add(
        id="f-22", name="Story points", provider_type="number", kind="Task", default_property="cf_story_points"
    )
    points.natural_type = pb.FIELD_TYPE_NUMBER
    points.mapping.CopyFrom(pb.FieldMapping(field_id="f-22", property="cf_story_points", skip=True))
    response.remap_job.CopyFrom(
        pb.ImportJob(
            id="job-7", integration="clickup", state=pb.IMPORT_JOB_STATE_RUNNING, kind=pb.IMPORT_JOB_KIND_FIELD_REMAP
        )
    )
    response.stale_mappings.add(field_id="f-gone", property="old")
    return response


def test_fields_text_is_a_table_then_the_remap() -> None:
    assert fields_text(listed()).splitlines() == [
        "NAME          ID    PROVIDER TYPE  PROPERTY         TYPE    SKIPPED",
        "Stage         f-1   drop_down      phase            string  no",
        "Story points  f-22  number         cf_story_points  number  yes",
        "re-map: " + job_text(listed().remap_job),
        "stale mapping of field f-gone: no longer listed by the integration (kept)",
    ]
    assert job_text(listed().remap_job).endswith("  (field re-map)")
    assert fields_text(pb.ListCustomFieldsResponse()).splitlines() == ["no custom fields", "re-map: none yet"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["map-field", "clickup", "f-1"], "nothing to change"),
        (["map-field", "clickup", "f-1", "--reset", "--skip"], "--reset goes alone"),
        (["map-field", "clickup", "f-1", "--reset", "--property", "x"], "--reset goes alone"),
    ],
)
async def test_map_field_usage_errors_need_no_server(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    monkeypatch.setenv("INTEGRATIONS_TOKEN", "anything")
    assert (await run(["--server", "127.0.0.1:1", "--org", "o", "--project", "p", *args]))[0] == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert message in error


def graph_stage(driver: neo4j.Driver, tenant: tuple[str, str]) -> tuple[object, object]:
    """The test vectors' task 86abc1xyz (Stage "Beta"): its default and its renamed property."""
    records, _, _ = driver.execute_query(
        "MATCH (t:Task {orgId: $org, projectId: $project, source: 'clickup', externalId: '86abc1xyz'}) "
        "RETURN t.cf_stage AS cf_stage, t.phase AS phase",
        org=tenant[0],
        project=tenant[1],
    )
    return records[0]["cf_stage"], records[0]["phase"]


async def test_fields_and_map_field_from_the_command_line(
    cli_env: list[str],
    capsys: pytest.CaptureFixture[str],
    vectors_hub: RunningHub,
    tokens: Tokens,
    tenant: tuple[str, str],
    neo4j_driver: neo4j.Driver,
) -> None:
    assert (await run([*cli_env, "fields", "clickup"]))[0] == 6, "not configured: a failed precondition"
    assert "failed_precondition" in capsys.readouterr().err
    await run([*cli_env, "configure", "clickup"], stdin=TOKEN + "\n")
    await run([*cli_env, "enable", "clickup"])
    assert (await run([*cli_env, "import", "clickup"]))[0] == 0
    assert graph_stage(neo4j_driver, tenant) == ("Beta", None)

    code, text = await run([*cli_env, "fields", "clickup"])
    assert code == 0
    lines = text.splitlines()
    assert lines[0].split() == ["NAME", "ID", "PROVIDER", "TYPE", "PROPERTY", "TYPE", "SKIPPED"]
    assert lines[1].split() == ["Stage", TV_STAGE_FIELD, "drop_down", "cf_stage", "string", "no"]
    assert lines[2] == "re-map: none yet"

    stage = [*cli_env, "map-field", "clickup", TV_STAGE_FIELD]
    code, text = await run([*stage, "--property", "phase", "--wait"])
    assert code == 0, text
    assert text.splitlines()[0].startswith(f"Stage ({TV_STAGE_FIELD}): phase, string; re-map job ")
    assert text.splitlines()[-1].startswith("re-map ")
    assert text.splitlines()[-1].endswith(" SUCCEEDED")
    assert graph_stage(neo4j_driver, tenant) == (None, "Beta")

    code, shown = await run([*cli_env, "--json", "fields", "clickup"])
    listed = json.loads(shown)
    assert listed["fields"][0]["mapping"]["property"] == "phase"
    assert listed["remap_job"]["state"] == "IMPORT_JOB_STATE_SUCCEEDED"
    assert listed["remap_job"]["kind"] == "IMPORT_JOB_KIND_FIELD_REMAP"
    code, text = await run([*stage, "--property", "phase"])
    assert (code, text.strip()) == (0, f"Stage ({TV_STAGE_FIELD}): phase, string; unchanged, nothing to re-map")

    # Skipping keeps the rename (the rest of the mapping is sent as it was); --no-wait prints the job.
    code, text = await run([*cli_env, "--json", "map-field", "clickup", TV_STAGE_FIELD, "--skip"])
    saved = json.loads(text)
    assert (saved["fields"][0]["mapping"]["property"], saved["fields"][0]["mapping"]["skip"]) == ("phase", True)
    final = (await watch(vectors_hub, tokens.admin, tenant, saved["remap_job"]["id"]))[-1]
    assert final.state == pb.IMPORT_JOB_STATE_SUCCEEDED
    assert graph_stage(neo4j_driver, tenant) == (None, None)

    code, text = await run([*stage, "--reset", "--wait"])
    assert code == 0, text
    assert graph_stage(neo4j_driver, tenant) == ("Beta", None)
    capsys.readouterr()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--property", "name"], 6, "mappings[0].property"),  # one of the Task's own properties
        (["--property", "2nd"], 6, "mappings[0].property"),
        (["--type", "number", "--property", "status"], 6, "invalid_argument"),
    ],
)
async def test_map_field_refusals_exit_with_their_code_and_one_line(
    cli_env: list[str], capsys: pytest.CaptureFixture[str], args: list[str], code: int, message: str
) -> None:
    await run([*cli_env, "configure", "clickup"], stdin=TOKEN + "\n")
    capsys.readouterr()
    assert (await run([*cli_env, "map-field", "clickup", TV_STAGE_FIELD, *args]))[0] == code
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert message in error


async def test_map_field_of_a_field_not_listed_is_a_usage_error(
    cli_env: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    await run([*cli_env, "configure", "clickup"], stdin=TOKEN + "\n")
    capsys.readouterr()
    assert (await run([*cli_env, "map-field", "clickup", "no-such-field", "--skip"]))[0] == 2
    assert "clickup lists no custom field 'no-such-field'; see: integrations fields clickup" in capsys.readouterr().err
