"""Custom-field mapping in the transform: renames, types, skips, and the re-map of a stored node."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from graph.integration_store import FieldMappingRow
from server.integrations.clickup import fields, transform
from server.integrations.field_map import (
    FIELD_PROPS,
    FieldMap,
    FieldRule,
    FieldType,
    Uncoercible,
    coerce,
    from_rows,
    to_rows,
)

RAW: list[dict[str, Any]] = [
    {"id": "f-est", "name": "Estimate (h)", "type": "number", "value": 2},
    {"id": "f-cust", "name": "Customer", "type": "short_text", "value": "Acme"},
    {"id": "f-when", "name": "Launch date", "type": "date", "value": "1717000000000"},
    {"id": "f-ok", "name": "Approved", "type": "checkbox", "value": "true"},
    {"id": "f-unset", "name": "Unset", "type": "number"},
    {
        "id": "f-areas",
        "name": "Areas",
        "type": "labels",
        "type_config": {"options": [{"id": "o1", "label": "web"}, {"id": "o2", "label": "api"}]},
        "value": ["o1", "o2"],
    },
]


def props(mapping: FieldMap) -> dict[str, Any]:
    return transform.custom_field_props(RAW, Counter(), mapping)


def test_unmapped_fields_are_cf_names_in_their_natural_types_and_listed() -> None:
    got = props(FieldMap())
    assert got == {
        "cf_estimate_h": 2,
        "cf_customer": "Acme",
        "cf_launch_date": datetime(2024, 5, 29, 16, 26, 40, tzinfo=UTC),
        "cf_approved": True,
        "cf_areas": ["web", "api"],
        FIELD_PROPS: ["cf_approved", "cf_areas", "cf_customer", "cf_estimate_h", "cf_launch_date"],
    }


def test_a_mapping_renames_retypes_and_skips() -> None:
    mapping = FieldMap(
        {
            "f-est": FieldRule("estimateHours", FieldType.STRING),
            "f-cust": FieldRule(skip=True),
            "f-areas": FieldRule(type=FieldType.STRING),
            "f-ok": FieldRule(type=FieldType.NUMBER),
        }
    )
    got = props(mapping)
    assert got["estimateHours"] == "2"
    assert "cf_customer" not in got
    assert "cf_estimate_h" not in got
    assert got["cf_areas"] == "web, api"
    assert got["cf_approved"] == 1
    assert got[FIELD_PROPS] == ["cf_approved", "cf_areas", "cf_launch_date", "estimateHours"]


def test_a_value_the_chosen_type_cannot_hold_is_left_out_and_counted() -> None:
    issues: Counter[str] = Counter()
    got = transform.custom_field_props(RAW, issues, FieldMap({"f-cust": FieldRule(type=FieldType.NUMBER)}))
    assert "cf_customer" not in got
    assert issues["uncoercible_custom_fields"] == 1


@pytest.mark.parametrize(
    ("value", "to", "expected"),
    [
        (2.0, FieldType.STRING, "2"),
        (True, FieldType.STRING, "true"),
        (["a", "b"], FieldType.STRING, "a, b"),
        ("3.5", FieldType.NUMBER, 3.5),
        (False, FieldType.NUMBER, 0),
        ("yes", FieldType.BOOLEAN, True),
        (0, FieldType.BOOLEAN, False),
        (1717000000000, FieldType.DATETIME, datetime(2024, 5, 29, 16, 26, 40, tzinfo=UTC)),
        ("2024-05-29T16:26:40", FieldType.DATETIME, datetime(2024, 5, 29, 16, 26, 40, tzinfo=UTC)),
        ("x", FieldType.STRING_LIST, ["x"]),
        (None, FieldType.NUMBER, None),
    ],
)
def test_coerce(value: Any, to: FieldType, expected: Any) -> None:
    assert coerce(value, to) == expected


@pytest.mark.parametrize(
    ("value", "to"), [("many", FieldType.NUMBER), ("maybe", FieldType.BOOLEAN), ("soon", FieldType.DATETIME)]
)
def test_coerce_refuses_what_the_type_cannot_hold(value: Any, to: FieldType) -> None:
    with pytest.raises(Uncoercible):
        coerce(value, to)


def test_a_stored_node_is_re_mapped_from_its_raw_fields_and_nothing_else_changes() -> None:
    node = {"name": "A task", "customFieldsJson": json.dumps(RAW), **props(FieldMap())}
    mapping = FieldMap({"f-est": FieldRule("estimateHours"), "f-cust": FieldRule(skip=True)})
    remapped = fields.remap("Task", node, mapping)
    assert remapped is not None
    assert remapped["name"] == "A task"
    assert remapped["estimateHours"] == 2
    assert "cf_estimate_h" not in remapped
    assert "cf_customer" not in remapped
    assert fields.remap("Task", remapped, mapping) is None, "already mapped: nothing to write"
    assert fields.remap("List", node, mapping) is None
    legacy = {k: v for k, v in node.items() if k != FIELD_PROPS}  # written before the list was kept
    assert fields.remap("Task", legacy, mapping) == remapped


def test_the_stored_rows_keep_only_rules_that_differ_from_the_default() -> None:
    mapping = FieldMap({"b": FieldRule("x", FieldType.NUMBER), "a": FieldRule(skip=True), "c": FieldRule()})
    rows = to_rows(mapping)
    assert rows == (FieldMappingRow("a", "", "NATURAL", True), FieldMappingRow("b", "x", "NUMBER", False))
    assert from_rows(rows) == FieldMap({"a": FieldRule(skip=True), "b": FieldRule("x", FieldType.NUMBER)})
    assert from_rows((FieldMappingRow("z", "", "FUTURE_TYPE", False),)).rule("z").type is FieldType.NATURAL
