"""Jira webhook deliveries: reading them (V3, V4, dead letters, routing) and applying their events
against httpx.MockTransport with a writer that records its calls (V9, §7's 404-or-invisible rule)."""

from __future__ import annotations

import json
import random
from typing import Any, cast
from urllib.parse import parse_qs

import httpx
import pytest

from graph.rows import Rows
from graph.writer import GraphWriter, WriteResult
from server.errors import InvalidArgument
from server.integrations.base import Delivery, WebhookEvent
from server.integrations.credentials import ApiToken
from server.integrations.jira.client import JiraClient
from server.integrations.jira.importer import ISSUE_FIELDS
from server.integrations.jira.options import JiraOptions
from server.integrations.jira.plugin import JiraConfig, JiraIntegration, Settings
from server.integrations.jira.transform import SiteFields
from server.integrations.jira.webhooks import (
    FLOW_HEADER,
    IDENTIFIER_HEADER,
    ROUTE_KEY_HEADER,
    SiteFacts,
    apply_event,
    parse_delivery,
)

SITE = "https://example.atlassian.net"
CLOUD = "1324a887-45db-1bf4-1e99-ef0ff456d421"
ROUTE = "r0123abcd-jira"
IDENTIFIER = "a8d0c7b2-6e0f-4f2e-9c51-3d2c8f0e4a11"
FIELDS = SiteFields(story_points="customfield_10016", rank="customfield_10019", sprint="customfield_10020")
# §9 V3: the exact 534 bytes Jira signed.
V3_BODY = (
    b'{"timestamp":1767225600000,"webhookEvent":"comment_created","comment":{"self":"https://example.atlassian.net'
    b'/rest/api/2/issue/10042/comment/10100","id":"10100","author":{"accountId":"5fc9e78d2730d800760becc4",'
    b'"displayName":"Jane Doe","active":true,"accountType":"atlassian"},"body":"Looks good to me","created":'
    b'"2026-01-01T00:00:00.000+0000","updated":"2026-01-01T00:00:00.000+0000","jsdPublic":true},"issue":{"id":'
    b'"10042","self":"https://example.atlassian.net/rest/api/2/issue/10042","key":"PROJ-7","fields":{"summary":'
    b'"Fix login"}}}'
)
V3_SIGNATURE = "sha256=f6ef5f19576f8b7c0bff4335d55d5553f24b2e5aa2ad8181b5e2619c7c632946"
V4_BODY = b'{"webhookEvent":"jira:issue_deleted","issue":{"id":"10001","key":"PROJ-1"}}'


def delivery(body: bytes, headers: dict[str, str] | None = None, route: str | None = ROUTE) -> Delivery:
    sent = {"content-type": "application/json; charset=UTF-8", **(headers or {})}
    if route is not None:
        sent[ROUTE_KEY_HEADER] = route
    return Delivery(body, sent, 1_767_225_600_000)


# ---------------------------------------------------------------- parse_delivery


def test_v3_is_routed_by_the_route_key_and_deduped_by_the_identifier() -> None:
    assert len(V3_BODY) == 534
    parsed = parse_delivery(delivery(V3_BODY, {"x-hub-signature": V3_SIGNATURE, IDENTIFIER_HEADER: IDENTIFIER}))
    assert (parsed.webhook_id, parsed.event, parsed.object_id) == (ROUTE, "comment_created", "10100")
    assert parsed.dedupe_key == f"jira|{ROUTE}|primary|{IDENTIFIER}"
    assert (parsed.problem, parsed.reapply_duplicate) == ("", False)


def test_a_retry_carries_the_same_identifier_and_so_the_same_key() -> None:
    first = parse_delivery(delivery(V3_BODY, {IDENTIFIER_HEADER: IDENTIFIER}))
    retry = parse_delivery(delivery(V3_BODY, {IDENTIFIER_HEADER: IDENTIFIER, "x-atlassian-webhook-retry": "1"}))
    assert first.dedupe_key == retry.dedupe_key


def test_a_secondary_flow_delivery_is_parsed_alike_and_kept_apart_from_the_primary() -> None:
    primary = parse_delivery(delivery(V3_BODY, {IDENTIFIER_HEADER: IDENTIFIER, FLOW_HEADER: "Primary"}))
    secondary = parse_delivery(delivery(V3_BODY, {IDENTIFIER_HEADER: IDENTIFIER, FLOW_HEADER: "Secondary"}))
    assert (secondary.event, secondary.object_id, secondary.problem) == ("comment_created", "10100", "")
    assert secondary.dedupe_key == f"jira|{ROUTE}|secondary|{IDENTIFIER}"
    assert secondary.dedupe_key != primary.dedupe_key


def test_without_an_identifier_the_key_is_a_hash_of_the_body() -> None:
    parsed = parse_delivery(delivery(V4_BODY))
    assert (parsed.event, parsed.object_id) == ("jira:issue_deleted", "10001")
    assert parsed.dedupe_key.startswith(f"jira|{ROUTE}|primary|body|")
    assert parse_delivery(delivery(V4_BODY)).dedupe_key == parsed.dedupe_key
    assert parse_delivery(delivery(V4_BODY.replace(b"10001", b"10002"))).dedupe_key != parsed.dedupe_key


@pytest.mark.parametrize(
    ("body", "object_id"),
    [
        (b'{"webhookEvent":"issuelink_created","issueLink":{"id":22768,"sourceIssueId":20192}}', "22768"),
        (b'{"webhookEvent":"sprint_started","sprint":{"id":192,"originBoardId":81}}', "192"),
        (b'{"webhookEvent":"board_updated","board":{"id":9,"type":"scrum"}}', "9"),
        (b'{"webhookEvent":"board_configuration_changed","configuration":{"id":9}}', "9"),
        (b'{"webhookEvent":"project_created","project":{"id":10601,"key":"NEW"}}', "10601"),
        (b'{"webhookEvent":"jira:version_released","version":{"id":"10001"}}', "10001"),
        (b'{"webhookEvent":"jira:issue_updated","issue":{"id":"19518","key":"GOLD-208"}}', "19518"),
        (b'{"webhookEvent":"user_created","user":{"accountId":"5fc9"}}', ""),
    ],
)
def test_the_object_id_follows_the_event_family(body: bytes, object_id: str) -> None:
    parsed = parse_delivery(delivery(body))
    assert parsed.event == json.loads(body)["webhookEvent"]
    assert (parsed.object_id, parsed.problem) == (object_id, "")


@pytest.mark.parametrize(
    ("body", "reason", "event"),
    [
        (b"not json", "NOT_JSON", ""),
        (b"[1, 2]", "NOT_AN_OBJECT", ""),
        (b'{"issue":{"id":"10001"}}', "MISSING_EVENT", ""),
        (b'{"webhookEvent":"  ","issue":{"id":"10001"}}', "MISSING_EVENT", "  "),
        (b'{"webhookEvent":7}', "MISSING_EVENT", ""),
        (b'{"webhookEvent":"' + b"x" * 201 + b'"}', "BAD_EVENT", "x" * 200),
        (b'{"webhookEvent":"jira:issue_updated","issue":{"id":true}}', "BAD_OBJECT_ID", "jira:issue_updated"),
        (b'{"webhookEvent":"jira:issue_updated","issue":"10001"}', "BAD_OBJECT", "jira:issue_updated"),
        (b'{"webhookEvent":"jira:issue_updated","issue":{"id":"\\ud800"}}', "UNSTORABLE_TEXT", "jira:issue_updated"),
        (b'{"webhookEvent":"x\\udfff"}', "UNSTORABLE_TEXT", "x\ufffd"),
        (b'{"webhookEvent":"jira:issue_updated","a":' + b"[" * 70 + b"]" * 70 + b"}", "TOO_DEEP", "jira:issue_updated"),
    ],
)
def test_a_routed_body_that_cannot_be_applied_is_a_dead_letter(body: bytes, reason: str, event: str) -> None:
    parsed = parse_delivery(delivery(body, {IDENTIFIER_HEADER: IDENTIFIER}))
    assert (parsed.webhook_id, parsed.problem, parsed.event, parsed.object_id) == (ROUTE, reason, event, "")
    assert parsed.problem_message
    assert parsed.dedupe_key.startswith(f"jira|{ROUTE}|dead-letter|")
    assert parse_delivery(delivery(body)).dedupe_key == parsed.dedupe_key, "a redelivery is a duplicate"


@pytest.mark.parametrize(
    ("route", "reason"), [(None, "MISSING_WEBHOOK_ID"), ("", "MISSING_WEBHOOK_ID"), ("a b", "BAD_WEBHOOK_ID")]
)
def test_without_a_usable_route_key_a_delivery_cannot_be_routed(route: str | None, reason: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        parse_delivery(delivery(V3_BODY, route=route))
    assert raised.value.reason == reason


def test_the_plugin_reads_deliveries_under_the_hub_scheme() -> None:
    plugin = JiraIntegration(JiraConfig())
    assert plugin.webhook_scheme == "hub-sha256-or-jwt-route"
    assert plugin.parse_delivery(delivery(V3_BODY)).object_id == "10100"


# ---------------------------------------------------------------- apply_webhook


class FakeWriter:
    def __init__(self) -> None:
        self.writes: list[Rows] = []
        self.deletes: list[tuple[str, str, str]] = []

    async def write(self, rows: Rows, run_id: str) -> WriteResult:
        self.writes.append(rows)
        return WriteResult(changed={"Issue": 1})

    async def delete(self, label: str, external_id: str, run_id: str) -> int:
        self.deletes.append((label, external_id, run_id))
        return 1

    @property
    def writer(self) -> GraphWriter:
        return cast(GraphWriter, self)  # it has the two methods an event uses


class Site:
    """A Jira site answering the recorded paths, counting every call."""

    def __init__(self, answers: dict[str, tuple[int, Any]]) -> None:
        self.answers = answers
        self.calls: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        status, body = self.answers.get(request.url.path, (404, {"errorMessages": ["not found"], "errors": {}}))
        return httpx.Response(status, json=body)

    @property
    def paths(self) -> list[str]:
        return [call.url.path for call in self.calls]

    def client(self) -> JiraClient:
        return JiraClient.for_site(
            SITE,
            "jane@example.com",
            "ATATT3xFfGF0-example-token",
            transport=httpx.MockTransport(self),
            rng=random.Random(0),
        )


def issue_json(issue_id: str, key: str, links: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "id": issue_id,
        "key": key,
        "fields": {
            "summary": "Fix login",
            "status": {"name": "In Progress", "statusCategory": {"key": "indeterminate"}},
            "issuetype": {"name": "Task", "hierarchyLevel": 0},
            "project": {"id": "10000", "key": "PROJ"},
            "labels": ["backend"],
            "issuelinks": links or [],
            "created": "2026-01-05T09:12:44.120+0100",
            "updated": "2026-01-06T17:03:10.004+0100",
        },
    }


def event(name: str, object_id: str, body: dict[str, Any]) -> WebhookEvent:
    return WebhookEvent(name, object_id, CLOUD, json.dumps({"webhookEvent": name, **body}))


async def run(site: Site, ev: WebhookEvent, options: JiraOptions | None = None) -> tuple[str, FakeWriter]:
    writer = FakeWriter()
    async with site.client() as client:
        outcome = await apply_event(
            client,
            writer.writer,
            ev,
            "run-1",
            SiteFacts(CLOUD, FIELDS),
            options or JiraOptions(SITE, "jane@example.com"),
        )
    return outcome, writer


async def test_issue_updated_refetches_the_issue_once_and_writes_its_rows() -> None:
    site = Site({"/rest/api/3/issue/10042": (200, issue_json("10042", "PROJ-7"))})
    ev = event("jira:issue_updated", "10042", {"issue": {"id": "10042", "key": "PROJ-7", "fields": {}}})
    outcome, writer = await run(site, ev)
    assert outcome == "written"
    assert site.paths == ["/rest/api/3/issue/10042"]
    asked = parse_qs(site.calls[0].url.query.decode())["fields"][0].split(",")
    assert asked == [*ISSUE_FIELDS, "customfield_10020", "customfield_10019", "customfield_10016"]
    [rows] = writer.writes
    issue = next(n for n in rows.nodes if n.label == "Issue")
    assert (issue.external_id, issue.workspace_id, issue.props["key"]) == ("10042", CLOUD, "PROJ-7")
    assert issue.source_updated_at is not None
    assert issue.source_updated_at.isoformat() == "2026-01-06T16:03:10.004000+00:00"
    assert {(e.type, e.from_id, e.to_id) for e in rows.edges} >= {("CONTAINS", "10000", "10042")}
    assert writer.deletes == []


async def test_issue_deleted_with_its_project_visible_is_deleted() -> None:
    site = Site({"/rest/api/3/project/PROJ": (200, {"id": "10000", "key": "PROJ"})})
    outcome, writer = await run(site, event("jira:issue_deleted", "10001", json.loads(V4_BODY)))
    assert outcome == "deleted"
    assert writer.deletes == [("Issue", "10001", "run-1")]
    assert site.paths == ["/rest/api/3/project/PROJ"], "V4 names no project id: the key's prefix finds it"


async def test_issue_deleted_in_a_project_no_longer_visible_is_left() -> None:
    site = Site({})
    body = {"issue": {"id": "10001", "key": "PROJ-1", "fields": {"project": {"id": "10000"}}}}
    outcome, writer = await run(site, event("jira:issue_deleted", "10001", body))
    assert outcome.startswith("not visible")
    assert site.paths == ["/rest/api/3/project/10000"]
    assert writer.deletes == []
    assert writer.writes == []


async def test_a_404_refetch_whose_project_is_also_404_deletes_nothing() -> None:
    site = Site({})
    body = {"issue": {"id": "10042", "key": "PROJ-7", "fields": {"project": {"id": "10000"}}}}
    outcome, writer = await run(site, event("jira:issue_updated", "10042", body))
    assert outcome.startswith("not visible")
    assert site.paths == ["/rest/api/3/issue/10042", "/rest/api/3/project/10000"]
    assert writer.deletes == []
    assert writer.writes == []


async def test_a_404_refetch_whose_project_is_visible_deletes_the_issue() -> None:
    site = Site({"/rest/api/3/project/10000": (200, {"id": "10000", "key": "PROJ"})})
    body = {"issue": {"id": "10042", "key": "PROJ-7", "fields": {"project": {"id": "10000"}}}}
    outcome, writer = await run(site, event("jira:issue_updated", "10042", body))
    assert outcome == "deleted (gone from Jira)"
    assert writer.deletes == [("Issue", "10042", "run-1")]


async def test_issuelink_created_refetches_the_source_issue_which_owns_the_edge() -> None:
    link = {"id": "22768", "type": {"name": "Blocks", "inward": "is blocked by", "outward": "blocks"},
            "outwardIssue": {"id": "20734"}}  # fmt: skip
    site = Site({"/rest/api/3/issue/20192": (200, issue_json("20192", "PROJ-20", [link]))})
    body = {"issueLink": {"id": 22768, "sourceIssueId": 20192, "destinationIssueId": 20734,
                          "issueLinkType": {"id": 10000, "name": "Blocks"}, "systemLink": False}}  # fmt: skip
    outcome, writer = await run(site, event("issuelink_created", "22768", body))
    assert outcome == "written"
    assert site.paths == ["/rest/api/3/issue/20192"]
    [rows] = writer.writes
    depends = [e for e in rows.edges if e.type == "DEPENDS_ON"]
    assert [(e.from_id, e.to_id, dict(e.props)) for e in depends] == [("20734", "20192", {"linkId": "22768"})]


async def test_issuelink_deleted_refetches_both_issues() -> None:
    site = Site(
        {
            "/rest/api/3/issue/20192": (200, issue_json("20192", "PROJ-20")),
            "/rest/api/3/issue/20734": (200, issue_json("20734", "PROJ-21")),
        }
    )
    body = {"issueLink": {"id": 22768, "sourceIssueId": 20192, "destinationIssueId": 20734}}
    outcome, writer = await run(site, event("issuelink_deleted", "22768", body))
    assert outcome == "written; written"
    assert site.paths == ["/rest/api/3/issue/20192", "/rest/api/3/issue/20734"]
    assert len(writer.writes) == 2


async def test_comment_created_refetches_and_writes_the_comment() -> None:
    comment = {"id": "10100", "body": {"type": "doc", "version": 1, "content": []}, "author": {"accountId": "5fc9"},
               "created": "2026-01-01T00:00:00.000+0000", "updated": "2026-01-01T00:00:00.000+0000"}  # fmt: skip
    site = Site({"/rest/api/3/issue/10042/comment/10100": (200, comment)})
    options = JiraOptions(SITE, "jane@example.com", include_comments=True)
    outcome, writer = await run(site, event("comment_created", "10100", json.loads(V3_BODY)), options)
    assert outcome == "written"
    [rows] = writer.writes
    assert [(e.type, e.from_id, e.to_id) for e in rows.edges if e.type == "ON"] == [("ON", "10100", "10042")]
    deleted = await run(Site({}), event("comment_deleted", "10100", json.loads(V3_BODY)), options)
    assert deleted[0] == "deleted"
    assert deleted[1].deletes == [("Comment", "10100", "run-1")]


@pytest.mark.parametrize(
    ("name", "object_id", "label"),
    [("sprint_deleted", "193", "Sprint"), ("board_deleted", "9", "Board"), ("jira:version_deleted", "10001", "Version"),
     ("project_deleted", "10601", "JiraProject")],
)  # fmt: skip
async def test_deleted_objects_are_deleted_without_a_call(name: str, object_id: str, label: str) -> None:
    site = Site({})
    outcome, writer = await run(site, event(name, object_id, {}))
    assert outcome == "deleted"
    assert writer.deletes == [(label, object_id, "run-1")]
    assert site.paths == []


async def test_sprint_started_refetches_and_writes_the_sprint() -> None:
    sprint = {"id": 192, "state": "active", "name": "TSD Sprint 1", "originBoardId": 81}
    site = Site({"/rest/agile/1.0/sprint/192": (200, sprint)})
    outcome, writer = await run(site, event("sprint_started", "192", {"sprint": sprint}))
    assert outcome == "written"
    [rows] = writer.writes
    assert [(n.label, n.external_id) for n in rows.nodes] == [("Sprint", "192")]


@pytest.mark.parametrize("name", ["user_created", "worklog_updated", "issue_property_set", "filter_updated"])
async def test_an_event_the_graph_does_not_follow_is_ignored(name: str) -> None:
    site = Site({})
    outcome, writer = await run(site, event(name, "5fc9", {}))
    assert outcome == "ignored"
    assert site.paths == []
    assert writer.writes == []
    assert writer.deletes == []


class _Plugin(JiraIntegration):
    def __init__(self, site: Site) -> None:
        super().__init__(JiraConfig())
        self.site = site

    async def client(self, settings: Settings) -> JiraClient:
        return self.site.client()


async def test_the_plugin_reads_the_site_facts_once_per_site() -> None:
    answers: dict[str, tuple[int, Any]] = {
        "/_edge/tenant_info": (200, {"cloudId": CLOUD}),
        "/rest/api/3/field": (200, []),
        "/rest/api/3/issue/10042": (200, issue_json("10042", "PROJ-7")),
    }
    site = Site(answers)
    plugin = _Plugin(site)
    settings = Settings(ApiToken("ATATT3xFfGF0-example-token"), JiraOptions(SITE, "jane@example.com"))
    ev = event("jira:issue_updated", "10042", {"issue": {"id": "10042"}})
    writer = FakeWriter()
    assert await plugin.apply_webhook(settings, writer.writer, ev, "run-1") == "written"
    assert await plugin.apply_webhook(settings, writer.writer, ev, "run-2") == "written"
    assert site.paths.count("/_edge/tenant_info") == 1
    assert site.paths.count("/rest/api/3/field") == 1
    assert site.paths.count("/rest/api/3/issue/10042") == 2
