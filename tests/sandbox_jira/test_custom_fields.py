"""The site's other custom fields: listed by ``/field`` with per-site ids (§4.1, §4.3), served on
issues in v3's shapes (options, users, ADF textareas, ``-0700`` datetimes), null when unset, wiki
markup in webhook bodies (§6.4), and editable through the admin API with a custom changelog item."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.jira import custom_fields
from sandbox.jira.generator import GeneratorConfig, generate
from sandbox.jira.model import Field, Site
from sandbox.jira.webhooks import ADMIN_EVENTS
from tests.sandbox_jira import test_webhooks as shared
from tests.sandbox_jira.conftest import CONFIG
from tests.sandbox_jira.test_webhooks import Hub

hub_env = shared.hub_env  # the module-scoped fixture: a fresh site for this module
PREFIX = "com.atlassian.jira.plugin.system.customfieldtypes:"


def field(site: Site, name: str) -> Field:
    return next(f for f in site.fields.values() if f.name == name)


def test_field_lists_one_custom_field_of_each_kind_with_its_schema(jira: httpx.Client, site: Site) -> None:
    listed = {f["name"]: f for f in jira.get("/rest/api/3/field").json()}
    for name, kind, schema_type, items in custom_fields.DEFINITIONS:
        entry = listed[name]
        assert entry["custom"] is True
        assert entry["id"].startswith("customfield_")
        assert entry["clauseNames"] == [f"cf[{entry['id'][12:]}]", name]
        assert entry["schema"] == {"type": schema_type, "custom": PREFIX + kind, "customId": int(entry["id"][12:])} | (
            {"items": items} if items else {}
        )
    taken = {site.sprint_field, site.rank_field, site.story_points_field}
    assert not taken & {listed[name]["id"] for name, *_ in custom_fields.DEFINITIONS}


def test_ids_and_values_differ_per_seed_and_repeat_for_one() -> None:
    one, again, other = generate(CONFIG), generate(CONFIG), generate(GeneratorConfig(seed=12))
    assert [f.id for f in custom_fields.others(one)] == [f.id for f in custom_fields.others(again)]
    assert [f.id for f in custom_fields.others(one)] != [f.id for f in custom_fields.others(other)]
    assert [i.custom_values for i in one.issues.values()] == [i.custom_values for i in again.issues.values()]


def test_issues_carry_their_values_in_v3_shapes_and_null_when_unset(jira: httpx.Client, site: Site) -> None:
    fields = custom_fields.others(site)
    wanted = ",".join(f.id for f in fields)
    seen: dict[str, Any] = {}
    nulls = 0
    for issue in list(site.issues.values())[:30]:
        if site.projects[issue.project_id].archived or site.projects[issue.project_id].members is not None:
            continue
        served = jira.get(f"/rest/api/3/issue/{issue.id}", params={"fields": wanted}).json()["fields"]
        assert set(served) == {f.id for f in fields}, "requested fields are present, set or not"
        for item in fields:
            value = served[item.id]
            if issue.custom_values.get(item.id) is None:
                assert value is None
                nulls += 1
            else:
                seen[custom_fields.kind_of(item)] = value
    assert nulls > 0
    assert set(seen) == {kind for _, kind, _, _ in custom_fields.DEFINITIONS}
    assert isinstance(seen["float"], float)
    assert set(seen["select"]) == {"self", "value", "id"}
    assert seen["textarea"]["type"] == "doc"
    assert seen["datetime"].endswith("-0700")
    assert len(seen["datepicker"]) == 10
    assert all(isinstance(v, str) for v in seen["labels"])
    assert all(set(v) == {"self", "value", "id"} for v in seen["multiselect"])
    assert "accountId" in seen["userpicker"]
    assert set(seen["cascadingselect"]["child"]) == {"self", "value", "id"}
    assert "/" not in seen["cascadingselect"]["child"]["value"]


@pytest.fixture
def live(hub_env: Hub) -> Hub:
    hub_env.reset()
    hub_env.admin_hook(sorted(ADMIN_EVENTS))
    return hub_env


def test_an_admin_edit_sets_and_clears_values_and_is_announced_in_v2(live: Hub) -> None:
    site = live.sandbox.site
    issue = next(i for i in site.issues.values() if i.key == "WEB-3")
    severity, criteria = field(site, "Severity"), field(site, "Acceptance criteria")
    critical = next(o for o, v in severity.options.items() if v == "Critical")
    edit = {"customFields": {severity.id: critical, criteria.id: "Ships when *green*"}}
    assert live.jira.patch(f"/_sandbox/issues/{issue.id}", json=edit).status_code == 200
    served = live.jira.get(f"/rest/api/3/issue/{issue.id}", params={"fields": f"{severity.id},{criteria.id}"})
    assert served.json()["fields"][severity.id]["value"] == "Critical"
    assert served.json()["fields"][criteria.id]["type"] == "doc"
    live.drain()
    (event,) = live.receiver.events()
    live.receiver.received.clear()
    assert event["issue"]["fields"][criteria.id] == "Ships when *green*", "v2 bodies carry wiki markup"
    items = {i["fieldId"]: i for i in event["changelog"]["items"]}
    assert items[severity.id] | {"from": None, "fromString": None} == {
        "field": "Severity",
        "fieldtype": "custom",
        "fieldId": severity.id,
        "from": None,
        "fromString": None,
        "to": critical,
        "toString": "Critical",
    }
    cleared = live.jira.patch(f"/_sandbox/issues/{issue.id}", json={"customFields": {severity.id: None}})
    assert cleared.status_code == 200
    assert severity.id not in issue.custom_values


@pytest.mark.parametrize(
    ("name", "value"),
    [("Severity", "no-such-option"), ("Cost estimate", "many"), ("Reviewer", "nobody"), ("Target date", 3)],
)
def test_an_admin_edit_with_a_bad_value_changes_nothing(live: Hub, name: str, value: Any) -> None:
    site = live.sandbox.site
    issue = next(i for i in site.issues.values() if i.key == "WEB-4")
    before = dict(issue.custom_values)
    target = field(site, name)
    refused = live.jira.patch(f"/_sandbox/issues/{issue.id}", json={"customFields": {target.id: value}})
    assert refused.status_code == 400
    assert name in refused.json()["error"]
    assert issue.custom_values == before
    unknown = live.jira.patch(f"/_sandbox/issues/{issue.id}", json={"customFields": {"customfield_1": 1}})
    assert unknown.status_code == 400
