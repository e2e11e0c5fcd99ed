"""The workspace behind the test vectors of ``shared/clickup-api.md`` (TV1-TV5), object for object."""

from __future__ import annotations

from sandbox.clickup.model import (
    Checklist,
    ChecklistItem,
    Comment,
    CustomFieldDef,
    Folder,
    Member,
    Space,
    Status,
    TagDef,
    Task,
    TaskList,
    Team,
    User,
    World,
)

TV_TOKEN = "pk_5550001_TV00SANDBOX0000000000000000000"
TV_STAGE_FIELD = "5dc86497-098d-4bb0-87d6-cf28e43812e7"


def test_vector_world() -> World:
    world = World()
    ada = User(5550001, "Ada Tester", "ada@example.com", "AT", "#7b68ee", "Europe/Berlin", 1)
    bob = User(5550002, None, "bob@example.com", "B", None, "Europe/Berlin", None)
    world.users = {ada.id: ada, bob.id: bob}
    world.teams["90120000"] = Team(
        "90120000",
        "Acme Workspace",
        "#40BC86",
        [
            Member(ada.id, 1, 1700000000000, 1700000000000, 1718000000000),
            Member(bob.id, 3, None, 1710000000000, None, invited_by=ada.id),
        ],
    )
    world.spaces["90100000"] = Space(
        "90100000",
        "90120000",
        "Engineering",
        "#7b68ee",
        statuses=[
            Status("sc901200000001_t0D0aa", "to do", "open", 0, "#87909e"),
            Status("sc901200000001_aB3dE5", "in progress", "custom", 1, "#4194f6"),
            Status("sc901200000001_cL0sEd", "complete", "closed", 2, "#008844"),
        ],
        tags=[TagDef("backend", "#800000", "#2ecd6f", ada.id)],
    )
    world.folders["90110000"] = Folder("90110000", "90100000", "Engineering")
    world.fields[TV_STAGE_FIELD] = CustomFieldDef(
        TV_STAGE_FIELD,
        "Stage",
        "drop_down",
        {
            "default": 0,
            "placeholder": None,
            "new_drop_down": True,
            "options": [
                {"id": "0b1c-opt-a", "name": "Alpha", "color": None, "orderindex": 0},
                {"id": "0b1c-opt-b", "name": "Beta", "color": None, "orderindex": 1},
            ],
        },
        1700000000000,
    )
    world.lists["901200000001"] = TaskList(
        "901200000001", "90100000", "90110000", "Sprint 1", field_ids=[TV_STAGE_FIELD]
    )
    world.tasks["86abc1xyz"] = Task(
        "86abc1xyz",
        "901200000001",
        "Write importer",
        "in progress",
        ada.id,
        1717990000000,
        1718000000123,
        orderindex="1000.00000000000000000000000000000000",
        assignees=[ada.id],
        tags=["backend"],
        priority=2,
        due_date=1718600000000,
        time_estimate=3600000,
        time_spent=0,
        custom_values={TV_STAGE_FIELD: 1},
    )
    world.tasks["86abc1xz0"] = Task(
        "86abc1xz0",
        "901200000001",
        "Map statuses",
        "complete",
        ada.id,
        1717995000000,
        1717999000000,
        orderindex="1001.00000000000000000000000000000000",
        date_closed=1717999000000,
        date_done=1717999000000,
        parent="86abc1xyz",
        checklists=[
            Checklist(
                "b955c4dc-0000-4000-8000-b4200788a683",
                "Checklist",
                0,
                1717995100000,
                ada.id,
                [ChecklistItem("21e08dc8-0000-4000-8000-d1dc4cedcc6f", "open/closed", 0, True, 1717995200000)],
            )
        ],
    )
    world.comments["86abc1xyz"] = [Comment("90120001234", "86abc1xyz", ada.id, "Looks good", 1718000500000)]
    world.tokens[TV_TOKEN] = ada.id
    return world
