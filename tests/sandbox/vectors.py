"""The test vectors of shared/clickup-api.md, verbatim."""

from __future__ import annotations

import json
from typing import Any

TV1 = json.loads(
    '{"user":{"id":5550001,"username":"Ada Tester","email":"ada@example.com","color":"#7b68ee","profilePicture":null,"initials":"AT","week_start_day":1,"global_font_support":false,"timezone":"Europe/Berlin"}}'
)

TV2 = json.loads("""{"teams":[{"id":"90120000","name":"Acme Workspace","color":"#40BC86","avatar":null,"members":[
 {"user":{"id":5550001,"username":"Ada Tester","email":"ada@example.com","color":"#7b68ee","profilePicture":null,"initials":"AT","role":1,"role_subtype":0,"role_key":"owner","custom_role":null,"last_active":"1718000000000","date_joined":"1700000000000","date_invited":"1700000000000"}},
 {"user":{"id":5550002,"username":null,"email":"bob@example.com","color":null,"profilePicture":null,"initials":"B","role":3,"role_subtype":0,"role_key":"member","custom_role":null,"last_active":null,"date_joined":null,"date_invited":"1710000000000"},
  "invited_by":{"id":5550001,"username":"Ada Tester","color":"#7b68ee","email":"ada@example.com","initials":"AT","profilePicture":null,"banned_date":null,"status":"invited"}}]}]}""")

TV3 = json.loads("""{"tasks":[
 {"id":"86abc1xyz","custom_id":null,"custom_item_id":0,"name":"Write importer","text_content":"","description":"","status":{"id":"sc901200000001_aB3dE5","status":"in progress","color":"#4194f6","orderindex":1,"type":"custom"},"orderindex":"1000.00000000000000000000000000000000","date_created":"1717990000000","date_updated":"1718000000123","date_closed":null,"date_done":null,"archived":false,"creator":{"id":5550001,"username":"Ada Tester","color":"#7b68ee","email":"ada@example.com","profilePicture":null},"assignees":[{"id":5550001,"username":"Ada Tester","color":"#7b68ee","initials":"AT","email":"ada@example.com","profilePicture":null}],"group_assignees":[],"watchers":[],"checklists":[],"tags":[{"name":"backend","tag_fg":"#800000","tag_bg":"#2ecd6f","creator":5550001}],"parent":null,"top_level_parent":null,"priority":{"id":"2","priority":"high","color":"#f8ae00","orderindex":"2"},"due_date":"1718600000000","start_date":null,"points":null,"time_estimate":3600000,"time_spent":0,"custom_fields":[{"id":"5dc86497-098d-4bb0-87d6-cf28e43812e7","name":"Stage","type":"drop_down","type_config":{"default":0,"placeholder":null,"options":[{"id":"0b1c-opt-a","name":"Alpha","color":null,"orderindex":0},{"id":"0b1c-opt-b","name":"Beta","color":null,"orderindex":1}]},"date_created":"1700000000000","hide_from_guests":false,"required":false,"value":1}],"dependencies":[],"linked_tasks":[],"locations":[],"team_id":"90120000","url":"https://app.clickup.com/t/86abc1xyz","permission_level":"create","list":{"id":"901200000001","name":"Sprint 1","access":true},"project":{"id":"90110000","name":"Engineering","hidden":false,"access":true},"folder":{"id":"90110000","name":"Engineering","hidden":false,"access":true},"space":{"id":"90100000"}},
 {"id":"86abc1xz0","custom_id":null,"custom_item_id":0,"name":"Map statuses","text_content":"","description":"","status":{"id":"sc901200000001_cL0sEd","status":"complete","color":"#008844","orderindex":2,"type":"closed"},"orderindex":"1001.00000000000000000000000000000000","date_created":"1717995000000","date_updated":"1717999000000","date_closed":"1717999000000","date_done":"1717999000000","archived":false,"creator":{"id":5550001,"username":"Ada Tester","color":"#7b68ee","email":"ada@example.com","profilePicture":null},"assignees":[],"group_assignees":[],"watchers":[],"checklists":[{"id":"b955c4dc-0000-4000-8000-b4200788a683","task_id":"86abc1xz0","name":"Checklist","date_created":"1717995100000","orderindex":0,"creator":5550001,"resolved":1,"unresolved":0,"items":[{"id":"21e08dc8-0000-4000-8000-d1dc4cedcc6f","name":"open/closed","orderindex":0,"assignee":null,"group_assignee":null,"resolved":true,"parent":null,"date_created":"1717995200000","children":[]}]}],"tags":[],"parent":"86abc1xyz","top_level_parent":"86abc1xyz","priority":null,"due_date":null,"start_date":null,"points":null,"time_estimate":null,"custom_fields":[],"dependencies":[],"linked_tasks":[],"locations":[],"team_id":"90120000","url":"https://app.clickup.com/t/86abc1xz0","permission_level":"create","list":{"id":"901200000001","name":"Sprint 1","access":true},"project":{"id":"90110000","name":"Engineering","hidden":false,"access":true},"folder":{"id":"90110000","name":"Engineering","hidden":false,"access":true},"space":{"id":"90100000"}}],
 "last_page":true}""")

TV4 = json.loads(
    '{"fields":[{"id":"5dc86497-098d-4bb0-87d6-cf28e43812e7","name":"Stage","type":"drop_down","type_config":{"default":0,"placeholder":null,"new_drop_down":true,"options":[{"id":"0b1c-opt-a","name":"Alpha","color":null,"orderindex":0},{"id":"0b1c-opt-b","name":"Beta","color":null,"orderindex":1}]},"date_created":"1700000000000","hide_from_guests":false,"required":false}]}'
)

TV5 = json.loads(
    '{"comments":[{"id":"90120001234","comment":[{"text":"Looks good"},{"text":"\\n","attributes":{}}],"comment_text":"Looks good\\n","user":{"id":5550001,"username":"Ada Tester","initials":"AT","email":"ada@example.com","color":"#7b68ee","profilePicture":null},"resolved":false,"assignee":null,"assigned_by":null,"reactions":[],"date":"1718000500000","reply_count":"0"}]}'
)

TV6_REQUEST: dict[str, Any] = {
    "endpoint": "https://hooks.example.com/clickup",
    "events": ["taskCreated", "taskUpdated", "taskDeleted", "taskStatusUpdated"],
    "list_id": 901200000001,
}

TV_SECRET = "7J3K9Q2M5X8V1B4N6C0Z7L2P9R3T5W8Y1D4F6H0J2K5M8N1Q3S6U9W2Y4A7C0E3G"
TV_WEBHOOK_ID = "1f0c2b7e-3d4a-4b5c-9e8f-0a1b2c3d4e5f"
TV9_BODY = b'{"event":"taskStatusUpdated","history_items":[{"id":"4003912345678901234","type":1,"date":"1718000000123","field":"status","parent_id":"901200000001","data":{"status_type":"custom"},"source":null,"user":{"id":5550001,"username":"Ada Tester","email":"ada@example.com","color":"#7b68ee","initials":"AT","profilePicture":null},"before":{"status":"to do","color":"#87909e","orderindex":0,"type":"open"},"after":{"status":"in progress","color":"#4194f6","orderindex":1,"type":"custom"}}],"task_id":"86abc1xyz","webhook_id":"1f0c2b7e-3d4a-4b5c-9e8f-0a1b2c3d4e5f"}'
TV9_SIGNATURE = "9bbea494eddf2336ee5ed2a537b6a8259fabb94621a14a7a6cf7784cccd3dfb7"
TV10_BODY = b'{"event":"taskDeleted","task_id":"86abc1xyz","webhook_id":"1f0c2b7e-3d4a-4b5c-9e8f-0a1b2c3d4e5f"}'
TV10_SIGNATURE = "b0fefe368c2a1aebe57e2b8288a9abfe97c470699be9654c153088afded1d253"
TV10_SPACED = b'{"event": "taskDeleted", "task_id": "86abc1xyz", "webhook_id": "1f0c2b7e-3d4a-4b5c-9e8f-0a1b2c3d4e5f"}'
TV10_SPACED_SIGNATURE = "2a9ad974339a42176d4bed24f3a8dd5c7b808869db13775d0efee425e3178391"
TV11_WEBHOOK_ID = "7689a169-a000-4985-8676-6902b96d6627"
TV11_BODY = b'{"webhook_id":"7689a169-a000-4985-8676-6902b96d6627","event":"taskCreated","task_id":"c0j"}'
TV11_SIGNATURE = "4830bf524f6e29a3e8da953936c6f21c1fea2b9669b825d3e1be293ef3416c8c"


def assert_matches(expected: Any, actual: Any, path: str = "$") -> None:
    """Every key and value of ``expected`` is in ``actual`` with the same JSON type (ids stay strings)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{path}.{key} is missing"
            assert_matches(value, actual[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{path}: expected a list, got {actual!r}"
        assert len(actual) == len(expected), f"{path}: {len(actual)} items, expected {len(expected)}"
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            assert_matches(want, got, f"{path}[{index}]")
    else:
        assert type(actual) is type(expected), f"{path}: {actual!r} is not a {type(expected).__name__}"
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"
