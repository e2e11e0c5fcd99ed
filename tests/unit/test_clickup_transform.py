"""ClickUp records to graph rows: typing, custom fields, unknown keys, damaged values."""

from __future__ import annotations

from datetime import UTC, datetime

from server.integrations.clickup import transform
from tests.sandbox import vectors as tv


def test_tv3_task_maps_to_typed_properties_and_owned_edges() -> None:
    rows = transform.task(tv.TV3["tasks"][0], "90120000")
    task = next(n for n in rows.nodes if n.label == "Task")
    assert task.external_id == "86abc1xyz"
    assert task.props["status"] == "in progress"
    assert task.props["priority"] == "high"
    assert task.props["dueAt"] == datetime(2024, 6, 17, 4, 53, 20, tzinfo=UTC)
    assert task.props["timeEstimateMs"] == 3600000.0
    assert task.props["cf_stage"] == "Beta", "drop-down value is an orderindex; the graph keeps the option name"
    assert task.source_updated_at == datetime.fromtimestamp(1718000000.123, UTC)
    edges = {(e.type, e.to_id if e.owner_is_from else e.from_id) for e in rows.edges}
    assert edges == {
        ("CONTAINS", "901200000001"),
        ("CREATED_BY", "5550001"),
        ("ASSIGNED_TO", "5550001"),
        ("TAGGED", "90100000:backend"),
    }
    subtask = transform.task(tv.TV3["tasks"][1], "90120000")
    props = next(n for n in subtask.nodes if n.label == "Task").props
    assert (props["checklistTotal"], props["checklistResolved"], props["checklistItems"]) == (1, 1, ["open/closed"])
    assert ("SUBTASK_OF", "Task", "86abc1xyz") in {(e.type, e.to_label, e.to_id) for e in subtask.edges}


def test_unknown_keys_are_kept_and_counted_never_fatal() -> None:
    record = {**tv.TV3["tasks"][0], "sprint_points_v2": {"x": 1}, "ai_summary": "new"}
    rows = transform.task(record, "90120000")
    task = next(n for n in rows.nodes if n.label == "Task")
    assert task.props["extraJson"] == '{"ai_summary": "new", "sprint_points_v2": {"x": 1}}'
    assert rows.issues["unknown_fields"] == 2


def test_damaged_values_are_dropped_and_counted() -> None:
    record = {
        **tv.TV3["tasks"][0],
        "due_date": "next week",
        "points": True,
        "status": None,
        "creator": None,
        "date_updated": None,
    }
    rows = transform.task(record, "90120000")
    task = next(n for n in rows.nodes if n.label == "Task")
    assert task.props["dueAt"] is None
    assert task.props["points"] is None
    assert task.source_updated_at is None
    assert rows.issues["malformed_values"] == 2
    assert rows.issues["missing_status"] == rows.issues["missing_creator"] == rows.issues["missing_date_updated"] == 1
    assert not any(e.type == "CREATED_BY" for e in rows.edges)


def test_numbers_as_strings_and_strings_as_numbers_are_accepted() -> None:
    record = {**tv.TV3["tasks"][0], "date_created": 1717990000000, "time_estimate": "5400000.5"}
    task = next(n for n in transform.task(record, "90120000").nodes if n.label == "Task")
    assert task.props["createdAt"] == datetime.fromtimestamp(1717990000, UTC)
    assert task.props["timeEstimateMs"] == 5400000.5


def test_a_record_without_an_id_is_skipped_and_counted() -> None:
    rows = transform.task({"name": "no id"}, "90120000")
    assert rows.nodes == []
    assert rows.issues["skipped_records"] == 1
