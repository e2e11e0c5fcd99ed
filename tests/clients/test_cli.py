"""Every CLI command against the real server: exit codes, --json shapes, one-line errors."""

from __future__ import annotations

import asyncio
import io
import json
import uuid

import pytest

from clients.cli import integration_text, main
from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.fixtures import TV_TOKEN
from sandbox.jira.generator import MAIN_EMAIL, MAIN_TOKEN, GeneratorConfig
from tests.conftest import RunningHub, Tokens
from tests.jira_sites import serving
from tests.support import free_port


async def run(args: list[str], stdin: str = "") -> tuple[int, str]:
    out = io.StringIO()
    # In a thread: the server under test runs on this test's event loop.
    code = await asyncio.to_thread(main, args, out, io.StringIO(stdin))
    return code, out.getvalue()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]) -> list[str]:
    monkeypatch.setenv("INTEGRATIONS_TOKEN", tokens.admin)
    monkeypatch.delenv("INTEGRATIONS_TOKEN_FILE", raising=False)
    return ["--server", hub.target, "--org", tenant[0], "--project", tenant[1]]


async def test_the_whole_flow_from_the_command_line(cli_env: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, text = await run([*cli_env, "list"])
    assert code == 0
    assert text.startswith("clickup")
    code, listed = await run([*cli_env, "--json", "list"])
    assert [i["name"] for i in json.loads(listed)] == ["clickup", "jira"]

    code, configured = await run([*cli_env, "--json", "configure", "clickup"], stdin=TV_TOKEN + "\n")
    assert code == 0
    assert json.loads(configured)["settings"]["api_token"] == "pk_5****0000"
    assert TV_TOKEN not in configured
    assert (await run([*cli_env, "enable", "clickup"]))[1].strip() == "ClickUp enabled"
    code, tested = await run([*cli_env, "test", "clickup"])
    assert (code, tested.split(":")[0]) == (0, "OK")
    code, got = await run([*cli_env, "--json", "get", "clickup"])
    assert json.loads(got)["enabled"] is True

    code, imported = await run([*cli_env, "--json", "import", "clickup"])
    assert code == 0
    assert json.loads(imported.strip().splitlines()[-1])["state"] == "IMPORT_JOB_STATE_SUCCEEDED"
    code, jobs = await run([*cli_env, "--json", "jobs"])
    job = json.loads(jobs)[0]
    assert job["state"] == "IMPORT_JOB_STATE_SUCCEEDED"
    code, jobs_text = await run([*cli_env, "jobs"])
    tasks = int(job["counters"]["task"])
    assert jobs_text.startswith(f"{job['id']}  clickup  SUCCEEDED started {job['start_time'][:19]}")
    assert f"calls {job['api_calls']} (rate-limit waits 0)  wrote " in jobs_text
    assert f"{tasks} task" in jobs_text
    assert " took " in jobs_text
    assert " took -" not in jobs_text
    code, shown = await run([*cli_env, "get", "clickup"])
    assert shown.splitlines()[0] == "ClickUp (clickup): enabled, CONNECTED, auth API_TOKEN, token pk_5****0000"
    assert "  live sync: off (no webhooks)" in shown.splitlines()
    assert f"  last import {job['id']} (full import 20" in shown
    assert f"{tasks} task" in shown.splitlines()[3]
    assert (await run([*cli_env, "webhooks", "clickup"]))[1].strip() == "no webhooks (auto-sync is off)"
    code, synced = await run([*cli_env, "--json", "import", "clickup", "--incremental"])
    assert code == 0
    assert json.loads(synced.strip().splitlines()[-1])["mode"] == "IMPORT_MODE_INCREMENTAL"
    code, events = await run([*cli_env, "--json", "events", "--state", "failed"])
    assert (code, json.loads(events)) == (0, [])
    code, replayed = await run([*cli_env, "--json", "replay", "--since", "2026-01-01T00:00:00"])
    assert (code, json.loads(replayed)) == (0, {})
    assert (await run([*cli_env, "disable", "clickup"]))[1].strip() == "ClickUp disabled (its data is kept)"
    code, audit = await run([*cli_env, "audit", "--name", "clickup", "--limit", "2"])
    lines = audit.splitlines()
    assert code == 0
    assert len(lines) == 2
    assert "admin      integration.disable" in lines[0]
    assert "data_policy=KEEP" in lines[0]
    assert "import.start" in lines[1]
    assert lines[1].endswith("mode=INCREMENTAL")
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (["get", "linear"], "", 3, "not_found: no integration named 'linear'"),
        (["configure", "clickup"], "", 2, "no API token given"),
        (["configure", "clickup"], "pk_0_WRONGTOKEN1234567\n", 6, "failed_precondition: new credentials were not"),
        (["replay"], "", 6, "invalid_argument: start_time"),
        (["configure", "clickup", "--option", "colour=red"], TV_TOKEN + "\n", 6, "settings.options.colour"),
        (["configure", "clickup", "--option", "colour"], TV_TOKEN + "\n", 2, "--option wants KEY=VALUE"),
        (["test", "clickup"], "", 6, "failed_precondition"),
    ],
)
async def test_failures_exit_with_their_code_and_one_line(
    cli_env: list[str], capsys: pytest.CaptureFixture[str], args: list[str], stdin: str, code: int, message: str
) -> None:
    assert (await run([*cli_env, *args], stdin))[0] == code
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert message in error


async def test_auth_configuration_and_availability_errors(
    cli_env: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INTEGRATIONS_TOKEN", "not-a-token")
    assert (await run([*cli_env, "list"]))[0] == 4
    monkeypatch.delenv("INTEGRATIONS_TOKEN")
    assert (await run([*cli_env, "list"]))[0] == 2
    assert "INTEGRATIONS_TOKEN_FILE" in capsys.readouterr().err
    monkeypatch.setenv("INTEGRATIONS_TOKEN", "anything")
    assert (await run(["--server", f"127.0.0.1:{free_port()}", "--org", "o", "--project", "p", "list"]))[0] == 5
    assert (await run(["--server", "127.0.0.1:1", "list"]))[0] == 2


async def test_events_lists_dead_letters(
    cli_env: list[str], hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]
) -> None:
    """A delivery set aside as a dead letter is visible from the command line (issue 9, item 1)."""
    hook = f"w-{uuid.uuid4().hex[:12]}"
    await hub.server.webhooks.register("clickup", hook, tenant[0], tenant[1], "90120000", "secret")
    poison = b'{"event":"taskUpdated\\ud800","task_id":"86b","webhook_id":"%s"}' % hook.encode()
    await hub.stub.DeliverWebhookEvents(
        pb.DeliverWebhookEventsRequest(
            events=[pb.DeliverWebhookEventRequest(integration="clickup", raw_body=poison, signature_verified=True)]
        ),
        metadata=(("authorization", f"Bearer {tokens.gateway}"),),
    )
    code, listed = await run([*cli_env, "--json", "events", "--state", "dead_lettered"])
    assert code == 0
    (event,) = json.loads(listed)
    assert event["state"] == "WEBHOOK_EVENT_STATE_DEAD_LETTERED"
    assert event["event"] == "taskUpdated\ufffd"
    code, text = await run([*cli_env, "events", "--state", "dead_lettered"])
    assert "DEAD_LETTERED" in text


async def test_configure_sets_the_integrations_own_options(cli_env: list[str]) -> None:
    args = [*cli_env, "--json", "configure", "clickup", "--option", "include_comments=true", "--workspace", "90120000"]
    code, configured = await run(args, stdin=TV_TOKEN + "\n")
    assert code == 0
    settings = json.loads(configured)["settings"]
    assert settings["options"] == {"workspace_ids": ["90120000"], "include_comments": True}
    assert settings["data_mapping"] == {"workspace_ids": ["90120000"], "include_comments": True}


async def test_jira_from_the_command_line_with_its_options(
    cli_env: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The second card works from the CLI too: options by --option, the token on stdin."""
    with serving(GeneratorConfig(seed=13, projects=1, issues_per_project=6)) as site:
        options = ["--option", f"site_url={site.url}", "--option", f"email={MAIN_EMAIL}"]
        code, configured = await run([*cli_env, "--json", "configure", "jira", *options], stdin=MAIN_TOKEN + "\n")
        assert code == 0, configured
        assert json.loads(configured)["settings"]["options"]["site_url"] == site.url
        assert MAIN_TOKEN not in configured
        assert (await run([*cli_env, "enable", "jira"]))[1].strip() == "Jira enabled"
        code, tested = await run([*cli_env, "test", "jira"])
        assert (code, tested.split(":")[0]) == (0, "OK"), tested
        code, imported = await run([*cli_env, "--json", "import", "jira"])
        assert code == 0
        assert json.loads(imported.strip().splitlines()[-1])["state"] == "IMPORT_JOB_STATE_SUCCEEDED"
        capsys.readouterr()
        bad = ["configure", "jira", "--option", 'project_keys=["bad key"]']
        assert (await run([*cli_env, *bad], stdin=MAIN_TOKEN + "\n"))[0] == 6
        assert "settings.options.project_keys[0]" in capsys.readouterr().err


def test_get_shows_live_sync_health_and_the_last_import_in_text() -> None:
    item = pb.Integration(name="jira", display_name="Jira", enabled=True, configured=True)
    item.connection_status = pb.CONNECTION_STATUS_CONNECTED
    item.settings.auth_method = pb.AUTH_METHOD_OAUTH
    hook = item.webhooks.add(id="hook-1", workspace_id="cloud-1", status="suspended", fail_count=3)
    hook.checked_time.FromSeconds(1_796_000_000)
    item.sync_state.last_import_job_id = "job-9"
    item.sync_state.last_full_import_time.FromSeconds(1_795_990_000)
    item.sync_state.totals.update({"issue": 88, "comment": 199})
    item.sync_state.last_error = "Jira answered 503"
    assert integration_text(item).splitlines() == [
        "Jira (jira): enabled, CONNECTED, auth OAUTH, token (none)",
        "  last tested -; last error: -",
        "  live sync: webhook hook-1 (workspace cloud-1) suspended, 3 failures, checked 2026-11-30T00:53:20+00:00",
        "  last import job-9 (full import 2026-11-29T22:06:40+00:00): 199 comment, 88 issue",
        "  last sync error: Jira answered 503",
    ]


async def test_disable_with_delete_data_asks_for_the_name_then_deletes(
    cli_env: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    await run([*cli_env, "configure", "clickup"], stdin=TV_TOKEN + "\n")
    await run([*cli_env, "enable", "clickup"])
    assert (await run([*cli_env, "import", "clickup"]))[0] == 0
    code, _ = await run([*cli_env, "disable", "clickup", "--delete-data"], stdin="clickupp\n")
    assert code == 6, "a wrong name is refused (invalid argument) and nothing is deleted"
    assert "type the integration's name ('clickup')" in capsys.readouterr().err
    code, listed = await run([*cli_env, "--json", "get", "clickup"])
    assert json.loads(listed)["enabled"] is True
    code, done = await run([*cli_env, "disable", "clickup", "--delete-data"], stdin="clickup\n")
    assert code == 0
    assert "ClickUp disabled; data deletion " in done
    assert " SUCCEEDED: " in done
    assert " Task" in done
    assert "Type 'clickup' to confirm" in capsys.readouterr().err
