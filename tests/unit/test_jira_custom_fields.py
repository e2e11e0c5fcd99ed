"""Jira's custom fields: discovery from ``/rest/api/3/field``, natural types and values from each
field's ``schema`` (§4.1, §4.3; textareas are ADF in v3, V7), the project's mapping applied on the
way in (import, event, gap repair) and again from the node alone (the re-map), the long field lists
that leave the URL, and the mapping page's errors."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from server.errors import FailedPrecondition, Unavailable
from server.integrations.credentials import ApiToken
from server.integrations.field_map import FIELD_PROPS, FieldMap, FieldRule, FieldType
from server.integrations.jira import field_values, fields, transform
from server.integrations.jira.client import MAX_FIELDS_IN_URL, JiraClient, fields_param
from server.integrations.jira.importer import ISSUE_FIELDS, issue_fields
from server.integrations.jira.options import JiraOptions
from server.integrations.jira.plugin import JiraConfig, JiraIntegration, Settings
from server.integrations.jira.webhooks import FIELDS_MAX_AGE_SECONDS, SiteFacts, apply_event
from server.integrations.settings import IntegrationSettings
from tests.unit.test_jira_webhooks import CLOUD, SITE, FakeWriter, Site, event, issue_json

T = "com.atlassian.jira.plugin.system.customfieldtypes:"
JANE: dict[str, Any] = {
    "self": f"{SITE}/rest/api/3/user?accountId=5fc9e78d2730d800760becc4",
    "accountId": "5fc9e78d2730d800760becc4",
    "emailAddress": "jane@example.com",
    "avatarUrls": {"48x48": "https://avatar.example.com/48.png"},
    "displayName": "Jane Doe",
    "active": True,
    "timeZone": "Europe/Berlin",
    "accountType": "atlassian",
}
V7_DOC: dict[str, Any] = {
    "type": "doc",
    "version": 1,
    "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "Done when:"}]},
        {
            "type": "bulletList",
            "content": [
                {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": t}]}]}
                for t in ("login works", "search works")
            ],
        },
    ],
}


def option(option_id: str, value: str) -> dict[str, Any]:
    return {"self": f"{SITE}/rest/api/3/customFieldOption/{option_id}", "value": value, "id": option_id}


def entry(field_id: str, name: str, kind: str, custom: str, items: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": kind, "custom": T + custom if ":" not in custom else custom}
    if items:
        schema["items"] = items
    return {"id": field_id, "key": field_id, "name": name, "custom": True, "navigable": True, "schema": schema}


# The site's /field list: system fields, the three the import reads on their own, and the others.
LISTED: list[Any] = [
    {"id": "summary", "name": "Summary", "custom": False, "schema": {"type": "string", "system": "summary"}},
    {
        "id": "customfield_10020",
        "name": "Sprint",
        "custom": True,
        "schema": {"type": "array", "items": "json", "custom": transform.SPRINT_TYPE},
    },
    {
        "id": "customfield_10019",
        "name": "Rank",
        "custom": True,
        "schema": {"type": "any", "custom": transform.RANK_TYPE},
    },
    {
        "id": "customfield_10016",
        "name": "Story point estimate",
        "custom": True,
        "schema": {"type": "number", "custom": transform.STORY_POINTS_TYPE},
    },
    entry("customfield_10030", "Story Points", "number", "float"),  # not the one the boards use: a custom field
    entry("customfield_10100", "Cost estimate", "number", "float"),
    entry("customfield_10101", "Severity", "option", "select"),
    entry("customfield_10102", "Acceptance criteria", "string", "textarea"),
    entry("customfield_10103", "Target date", "date", "datepicker"),
    entry("customfield_10104", "Review at", "datetime", "datetime"),
    entry("customfield_10105", "Areas", "array", "labels", "string"),
    entry("customfield_10106", "Platforms", "array", "multiselect", "option"),
    entry("customfield_10107", "Reviewer", "user", "userpicker"),
    entry("customfield_10108", "Hosting", "option-with-child", "cascadingselect"),
    entry("customfield_9", "Team", "any", "com.example.teams:team"),
    {"id": "customfield_10200", "name": "Broken", "custom": True},  # no schema: read as its JSON
    {"id": 10300, "name": "No string id", "custom": True, "schema": {"type": "number"}},
    "junk",
]
SITE_FIELDS = transform.read_site_fields(LISTED)

VALUES: dict[str, Any] = {
    "customfield_10030": 5,
    "customfield_10100": 12.5,
    "customfield_10101": option("10500", "Critical"),
    "customfield_10102": V7_DOC,
    "customfield_10103": "2026-03-14",
    "customfield_10104": "2026-01-05T09:12:44.120-0700",
    "customfield_10105": ["north", "west"],
    "customfield_10106": [option("10510", "Web"), option("10511", "iOS")],
    "customfield_10107": JANE,
    "customfield_10108": option("10520", "Cloud") | {"child": option("10521", "EU")},
    "customfield_9": {"id": 4, "title": "Core"},
    "customfield_10200": None,  # unset
}


def issue_with(values: dict[str, Any], **extra: Any) -> dict[str, Any]:
    item = issue_json("10042", "PROJ-7")
    item["fields"] |= values | extra
    return item


def issue_node(item: dict[str, Any], mapping: FieldMap = transform.NO_MAPPING) -> tuple[dict[str, Any], Counter[str]]:
    rows = transform.issue(item, CLOUD, SITE_FIELDS, mapping)
    (node,) = [n for n in rows.nodes if n.label == "Issue"]
    return dict(node.props), rows.issues


def stored(props: dict[str, Any]) -> dict[str, Any]:
    """What Neo4j keeps of a node: nulls are not properties."""
    return {k: v for k, v in props.items() if v is not None}


# ---------------------------------------------------------------- discovery


def test_the_site_fields_hold_every_other_custom_field_in_id_order() -> None:
    assert (SITE_FIELDS.sprint, SITE_FIELDS.rank, SITE_FIELDS.story_points) == (
        "customfield_10020",
        "customfield_10019",
        "customfield_10016",
    )
    assert [f.id for f in SITE_FIELDS.custom] == [
        "customfield_9",
        "customfield_10030",
        *(f"customfield_{n}" for n in range(10100, 10109)),
        "customfield_10200",
    ]
    assert SITE_FIELDS.custom[-1] == field_values.JiraField("customfield_10200", "Broken", "any")
    assert transform.discover_fields(LISTED) == transform.SiteFields(
        "customfield_10016", "customfield_10019", "customfield_10020"
    ), "discover_fields alone still names only the three"
    assert transform.read_site_fields(None) == transform.SiteFields()


def test_the_fields_an_issue_is_read_with_are_the_systems_then_the_sites() -> None:
    assert issue_fields(SITE_FIELDS) == [
        *ISSUE_FIELDS,
        "customfield_10020",
        "customfield_10019",
        "customfield_10016",
        *(f.id for f in SITE_FIELDS.custom),
    ]


def test_discovery_lists_the_mappable_fields_by_name_with_their_defaults() -> None:
    site_fields, found = fields.discover(LISTED)
    assert site_fields == SITE_FIELDS
    assert [(f.name, f.provider_type, f.default_property, f.natural_type) for f in found] == [
        ("Acceptance criteria", "textarea", "cf_acceptance_criteria", FieldType.STRING),
        ("Areas", "labels", "cf_areas", FieldType.STRING_LIST),
        ("Broken", "any", "cf_broken", FieldType.STRING),
        ("Cost estimate", "float", "cf_cost_estimate", FieldType.NUMBER),
        ("Hosting", "cascadingselect", "cf_hosting", FieldType.STRING),
        ("Platforms", "multiselect", "cf_platforms", FieldType.STRING_LIST),
        ("Review at", "datetime", "cf_review_at", FieldType.DATETIME),
        ("Reviewer", "userpicker", "cf_reviewer", FieldType.STRING),
        ("Severity", "select", "cf_severity", FieldType.STRING),
        ("Story Points", "float", "cf_story_points", FieldType.NUMBER),
        ("Target date", "datepicker", "cf_target_date", FieldType.DATETIME),
        ("Team", "com.example.teams:team", "cf_team", FieldType.STRING),
    ]
    assert {f.kind for f in found} == {"Issue"}


@pytest.mark.parametrize(
    ("kind", "items", "natural"),
    [
        ("number", None, FieldType.NUMBER),
        ("string", None, FieldType.STRING),
        ("date", None, FieldType.DATETIME),
        ("datetime", None, FieldType.DATETIME),
        ("option", None, FieldType.STRING),
        ("user", None, FieldType.STRING),
        ("array", "string", FieldType.STRING_LIST),
        ("array", "option", FieldType.STRING_LIST),
        ("array", "user", FieldType.STRING_LIST),
        ("array", "version", FieldType.STRING),
        ("array", None, FieldType.STRING),
        ("option-with-child", None, FieldType.STRING),
        ("any", None, FieldType.STRING),
    ],
)
def test_the_natural_type_follows_the_schema(kind: str, items: str | None, natural: FieldType) -> None:
    assert field_values.natural_type(kind, items) is natural


# ---------------------------------------------------------------- values on an issue


def test_each_valued_field_becomes_a_cf_property_in_its_natural_type() -> None:
    props, issues = issue_node(issue_with(VALUES))
    got = {k: v for k, v in props.items() if k.startswith("cf_")}
    assert got == {
        "cf_story_points": 5.0,
        "cf_cost_estimate": 12.5,
        "cf_severity": "Critical",
        "cf_acceptance_criteria": "Done when:\n- login works\n- search works",
        "cf_target_date": datetime(2026, 3, 14, tzinfo=UTC),
        "cf_review_at": datetime(2026, 1, 5, 16, 12, 44, 120000, tzinfo=UTC),
        "cf_areas": ["north", "west"],
        "cf_platforms": ["Web", "iOS"],
        "cf_reviewer": "5fc9e78d2730d800760becc4",
        "cf_hosting": json.dumps(
            {"child": {"id": "10521", "value": "EU"}, "id": "10520", "value": "Cloud"}, sort_keys=True
        ),
        "cf_team": '{"id": 4, "title": "Core"}',
    }
    assert props[FIELD_PROPS] == sorted(got)
    assert issues == Counter()
    assert (props["storyPoints"], props["rank"]) == (None, None), "the three keep their own properties"


def test_the_raw_values_are_kept_lean_in_the_fields_own_terms() -> None:
    props, _ = issue_node(issue_with(VALUES))
    kept = json.loads(props["customFieldsJson"])
    assert [e["id"] for e in kept] == [f.id for f in SITE_FIELDS.custom if VALUES.get(f.id) is not None]
    by_id = {e["id"]: e for e in kept}
    assert by_id["customfield_10101"] == {
        "id": "customfield_10101",
        "name": "Severity",
        "type": "option",
        "custom": T + "select",
        "value": {"id": "10500", "value": "Critical"},
    }
    assert by_id["customfield_10105"]["items"] == "string"
    assert by_id["customfield_10107"]["value"] == {
        "accountId": "5fc9e78d2730d800760becc4",
        "displayName": "Jane Doe",
        "active": True,
        "accountType": "atlassian",
    }, "no self link, avatars, email or time zone: the graph keeps emails on Person nodes only"
    assert by_id["customfield_10102"]["value"] == V7_DOC, "ADF is kept whole: the re-map reads it again"
    assert "self" not in json.dumps(kept)


@pytest.mark.parametrize("unset", [None, [], ""])
def test_unset_fields_are_left_out_and_an_issue_without_any_keeps_its_old_shape(unset: Any) -> None:
    plain, _ = issue_node(issue_json("10042", "PROJ-7"))
    props, _ = issue_node(issue_with(dict.fromkeys(VALUES, unset)))
    assert props == plain
    assert "customFieldsJson" not in props
    assert FIELD_PROPS not in props


@pytest.mark.parametrize(
    ("field_id", "value", "expected"),
    [
        ("customfield_10100", "3.5", 3.5),
        ("customfield_10100", "lots", None),
        ("customfield_10101", {"id": "1"}, None),
        ("customfield_10102", "h1. Wiki text\r\nline", "h1. Wiki text\r\nline"),  # a v2 string: kept as sent
        ("customfield_10103", "someday", None),
        ("customfield_10104", "2026-01-05T09:12:44", None),  # no offset: not guessed
        ("customfield_10105", "north", None),
        ("customfield_10106", [option("1", "Web"), {"id": "2"}], ["Web"]),
        ("customfield_10107", "5fc9e78d2730d800760becc4", None),
    ],
)
def test_a_value_that_does_not_read_as_its_type_is_counted_and_dropped(
    field_id: str, value: Any, expected: Any
) -> None:
    props, issues = issue_node(issue_with({field_id: value}))
    prop = field_values.default_property(field_id, next(f.name for f in SITE_FIELDS.custom if f.id == field_id))
    assert props.get(prop) == expected
    assert (issues["malformed_values"] > 0) == (expected is None or expected == ["Web"])
    assert json.loads(props["customFieldsJson"])[0]["value"] == field_values.lean(value), "the raw value is kept"


def test_two_fields_of_one_name_on_an_issue_get_apart() -> None:
    listed = [
        entry("customfield_10051", "Team", "string", "textfield"),
        entry("customfield_10050", "Team", "number", "float"),
    ]
    site_fields = transform.read_site_fields(listed)
    rows = transform.issue(issue_with({"customfield_10050": 2, "customfield_10051": "Core"}), CLOUD, site_fields)
    props = rows.nodes[0].props
    assert (props["cf_team"], props["cf_team_10051"]) == (2.0, "Core")
    alone = transform.issue(issue_with({"customfield_10051": "Core"}), CLOUD, site_fields).nodes[0].props
    assert alone["cf_team"] == "Core"


# ---------------------------------------------------------------- the project's mapping, and the re-map

MAPPING = FieldMap(
    {
        "customfield_10100": FieldRule("costK"),
        "customfield_10101": FieldRule(skip=True),
        "customfield_10105": FieldRule(type=FieldType.STRING),
        "customfield_10103": FieldRule("targetOn", FieldType.STRING),
        "customfield_10107": FieldRule(type=FieldType.NUMBER),  # an account id is no number
    }
)


def test_a_mapping_renames_retypes_and_skips_on_the_way_in() -> None:
    props, issues = issue_node(issue_with(VALUES), MAPPING)
    assert props["costK"] == 12.5
    assert "cf_cost_estimate" not in props
    assert "cf_severity" not in props
    assert props["cf_areas"] == "north, west"
    assert props["targetOn"] == "2026-03-14T00:00:00+00:00"
    assert "cf_reviewer" not in props
    assert issues["uncoercible_custom_fields"] == 1
    assert "customfield_10101" in props["customFieldsJson"], "a skipped field's value is kept for a later re-map"
    assert props[FIELD_PROPS] == sorted(k for k in props if k.startswith("cf_") or k in ("costK", "targetOn"))


@pytest.mark.parametrize("mapping", [MAPPING, FieldMap({f.id: FieldRule(skip=True) for f in SITE_FIELDS.custom})])
def test_the_re_map_of_a_stored_node_equals_a_fresh_transform_with_the_new_mapping(mapping: FieldMap) -> None:
    old, _ = issue_node(issue_with(VALUES))
    fresh, _ = issue_node(issue_with(VALUES), mapping)
    remapped = fields.remap("Issue", stored(old), mapping)
    assert remapped is not None
    assert stored(remapped) == stored(fresh)
    back = fields.remap("Issue", stored(remapped), FieldMap())
    assert back is not None
    assert stored(back) == stored(old), "and back again"


def test_the_re_map_changes_nothing_it_need_not() -> None:
    old, _ = issue_node(issue_with(VALUES))
    assert fields.remap("Issue", stored(old), FieldMap()) is None
    plain, _ = issue_node(issue_json("10042", "PROJ-7"))
    assert fields.remap("Issue", stored(plain), MAPPING) is None, "an issue without custom fields"
    assert fields.remap("Comment", stored(old), MAPPING) is None
    assert fields.remap("Issue", {**stored(old), "customFieldsJson": "{not json"}, MAPPING) is None


def test_custom_fields_may_not_land_on_an_issues_own_properties() -> None:
    plain, _ = issue_node(issue_json("10042", "PROJ-7"))
    assert set(plain) <= fields.RESERVED
    assert {"name", "key", "status", "storyPoints", "customFieldsJson", FIELD_PROPS, "projectId"} <= fields.RESERVED
    plugin = JiraIntegration(JiraConfig())
    assert (plugin.supports_field_mapping, plugin.field_kinds, plugin.reserved_properties) == (
        True,
        ("Issue",),
        fields.RESERVED,
    )


# ---------------------------------------------------------------- events and long field lists


async def test_an_event_writes_the_issue_with_the_projects_mapping() -> None:
    site = Site({"/rest/api/3/issue/10042": (200, issue_with(VALUES))})
    ev = event("jira:issue_updated", "10042", {"issue": {"id": "10042", "key": "PROJ-7", "fields": {}}})
    writer = FakeWriter()
    async with site.client() as client:
        outcome = await apply_event(
            client, writer.writer, ev, "run-1", SiteFacts(CLOUD, SITE_FIELDS), JiraOptions(SITE, "j@x.io"), MAPPING
        )
    assert outcome == "written"
    asked = parse_qs(site.calls[0].url.query.decode())["fields"][0].split(",")
    assert asked == issue_fields(SITE_FIELDS)
    (issue,) = [n for n in writer.writes[0].nodes if n.label == "Issue"]
    fresh, _ = issue_node(issue_with(VALUES), MAPPING)
    assert dict(issue.props) == fresh


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_the_site_fields_are_read_again_once_they_are_old() -> None:
    site = Site({"/rest/api/3/field": (200, LISTED)})
    clock = Clock()
    facts = SiteFacts(CLOUD, clock=clock)
    async with site.client() as client:
        assert await facts.fields(client) == SITE_FIELDS
        clock.now += FIELDS_MAX_AGE_SECONDS - 1
        await facts.fields(client)
        assert site.paths == ["/rest/api/3/field"]
        clock.now += 1
        await facts.fields(client)
        assert site.paths == ["/rest/api/3/field"] * 2
        facts.remember(transform.SiteFields())
        assert await facts.fields(client) == transform.SiteFields()
        assert len(site.calls) == 2, "what the mapping page just read is used as it is"


def many_fields(count: int) -> list[str]:
    return [*ISSUE_FIELDS, *(f"customfield_{10000 + n}" for n in range(count))]


def test_one_issue_is_read_with_all_fields_when_the_list_would_not_fit_a_url() -> None:
    short = many_fields(10)
    assert fields_param(short) == ",".join(short)
    long = many_fields(400)
    assert len(",".join(long)) > MAX_FIELDS_IN_URL
    assert fields_param(long) == "*all"


async def test_a_search_with_a_long_field_list_posts_it_and_resends_it_with_each_token() -> None:
    searched: list[httpx.Request] = []
    pages = [
        {"issues": [{"id": "10001"}], "nextPageToken": "T1", "isLast": False},
        {"issues": [{"id": "10002"}], "isLast": True},
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        searched.append(request)
        return httpx.Response(200, json=pages[len(searched) - 1])

    long = many_fields(400)
    client = JiraClient.for_site(
        SITE, "j@x.io", "ATATT3xFfGF0-example-token", transport=httpx.MockTransport(answer), rng=random.Random(0)
    )
    async with client:
        found = [p async for p in client.search_pages("project = PROJ ORDER BY id ASC", long, page_size=100)]
    assert [[i["id"] for i in p.issues] for p in found] == [["10001"], ["10002"]]
    assert [(r.method, r.url.path, r.url.query) for r in searched] == [("POST", "/rest/api/3/search/jql", b"")] * 2
    bodies = [json.loads(r.content) for r in searched]
    assert bodies[0] == {"jql": "project = PROJ ORDER BY id ASC", "fields": long, "maxResults": 100}
    assert bodies[1] == bodies[0] | {"nextPageToken": "T1"}


# ---------------------------------------------------------------- the mapping page


def settings() -> Settings:
    return IntegrationSettings(ApiToken("ATATT3xFfGF0-example-token"), JiraOptions(SITE, "jane@example.com"))


def plugin_against(site: Site) -> JiraIntegration:
    class Plugin(JiraIntegration):
        async def client(self, settings: Settings) -> JiraClient:
            return site.client()

    return Plugin(JiraConfig())


async def test_the_plugin_lists_the_custom_fields_and_refreshes_what_events_use() -> None:
    site = Site({"/rest/api/3/field": (200, LISTED)})
    plugin = plugin_against(site)
    found = await plugin.custom_fields(settings())
    assert [f.name for f in found][:2] == ["Acceptance criteria", "Areas"]
    facts = plugin._sites[SITE]  # the cache events read
    async with site.client() as client:
        assert await facts.fields(client) == SITE_FIELDS
    assert site.paths == ["/rest/api/3/field"], "events use the list the mapping page read"


@pytest.mark.parametrize(
    ("status", "body", "error", "reason"),
    [
        (401, "Client must be authenticated to access this resource.", FailedPrecondition, "AUTH_FAILED"),
        (403, {"errorMessages": ["You do not have permission."], "errors": {}}, Unavailable, "PROVIDER_ERROR"),
        (200, {"not": "a list"}, None, None),
    ],
)
async def test_the_mapping_page_errors_are_mapped_like_clickups(
    status: int, body: Any, error: type[Exception] | None, reason: str | None
) -> None:
    plugin = plugin_against(Site({"/rest/api/3/field": (status, body)}))
    if error is None:
        assert await plugin.custom_fields(settings()) == [], "an unreadable list lists nothing"
        return
    with pytest.raises(error) as raised:
        await plugin.custom_fields(settings())
    assert getattr(raised.value, "reason", None) == reason
    assert "ATATT3xFfGF0" not in str(raised.value)
