"""A deterministic generated workspace: the same seed and sizes give the same world, byte for byte.

Everything an importer can get wrong is in it: folderless lists, closed and archived items,
subtasks three levels deep, tasks in several lists, tags, custom fields of several types,
checklists, dependencies and links, invitees who never joined (``username: null``).
"""

from __future__ import annotations

import itertools
import random
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass, fields

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

EPOCH_MS = 1_717_000_000_000
_FIRST = ["Ada", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances", "Edsger", "Radia"]
_LAST = ["Lovelace", "Hopper", "Torvalds", "Liskov", "Thompson", "Hamilton", "Ritchie", "Allen", "Dijkstra", "Perlman"]
_VERBS = ["Write", "Review", "Fix", "Design", "Ship", "Test", "Document", "Refactor", "Measure", "Plan"]
_NOUNS = ["importer", "parser", "login page", "billing", "search", "cache", "sync", "dashboard", "API", "report"]
_COLORS = ["#7b68ee", "#40BC86", "#f8ae00", "#4194f6", "#e50000", "#008844", "#87909e"]
_TAGS = ["backend", "frontend", "bug", "infra", "docs", "ux", "security", "perf"]


@dataclass(frozen=True)
class GeneratorConfig:
    seed: int = 1
    workspaces: int = 1
    members: int = 6
    spaces: int = 2
    folders_per_space: int = 2
    lists_per_folder: int = 2
    folderless_lists_per_space: int = 1
    tasks_per_list: int = 12
    subtask_ratio: float = 0.3  # share of tasks (at each level) that get children, to depth 3
    max_depth: int = 3
    closed_ratio: float = 0.2
    archived_ratio: float = 0.1
    archived_hierarchy: bool = True  # one archived space/folder/list per workspace
    multi_list_ratio: float = 0.05
    dependency_ratio: float = 0.05
    link_ratio: float = 0.03
    checklist_ratio: float = 0.1
    comment_ratio: float = 0.2
    custom_field_ratio: float = 0.6

    @classmethod
    def from_mapping(cls, values: dict[str, object]) -> GeneratorConfig:
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown generator setting(s): {', '.join(unknown)}")
        converted: dict[str, object] = {}
        for name, value in values.items():
            kind = known[name]
            converted[name] = _coerce(str(kind), value)
        return cls(**converted)  # type: ignore[arg-type]


def _coerce(kind: str, value: object) -> object:
    if kind == "bool":
        return value.strip().lower() in ("1", "true", "yes", "on") if isinstance(value, str) else bool(value)
    return int(str(value)) if kind == "int" else float(str(value))


def _base36(number: int) -> str:
    digits = string.digits + string.ascii_lowercase
    out = ""
    while True:
        number, rem = divmod(number, 36)
        out = digits[rem] + out
        if number == 0:
            return out


class _Ids:
    def __init__(self) -> None:
        self.n = 0

    def take(self) -> int:
        self.n += 1
        return self.n


def generate(config: GeneratorConfig) -> World:
    rng = random.Random(config.seed)
    ids = _Ids()
    world = World()
    clock = EPOCH_MS

    def tick() -> int:
        nonlocal clock
        clock += rng.randint(1_000, 600_000)
        return clock

    def uid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    for index in range(config.members):
        first, last = _FIRST[index % len(_FIRST)], _LAST[(index * 3) % len(_LAST)]
        never_joined = index > 0 and index % 5 == 4
        world.users[5550001 + index] = User(
            id=5550001 + index,
            username=None if never_joined else f"{first} {last}",
            email=f"{first.lower()}.{last.lower()}{index}@example.com",
            initials=(first[0] + last[0]) if not never_joined else first[0],
            color=None if never_joined else _COLORS[index % len(_COLORS)],
        )
    user_ids = sorted(world.users)
    owner = user_ids[0]
    world.tokens[f"pk_{owner}_{''.join(rng.choices(string.ascii_uppercase + string.digits, k=32))}"] = owner

    for w in range(config.workspaces):
        team_id = str(90120000 + w)
        members = []
        for position, user_id in enumerate(user_ids):
            joined = None if world.users[user_id].username is None else EPOCH_MS - 86_400_000 * (30 - position)
            members.append(
                Member(
                    user_id,
                    1 if position == 0 else (2 if position == 1 else 3),
                    joined,
                    EPOCH_MS - 86_400_000 * 40,
                    joined,
                    invited_by=None if position == 0 else owner,
                )
            )
        world.teams[team_id] = Team(team_id, f"Workspace {w + 1}", _COLORS[w % len(_COLORS)], members)
        team_lists: list[str] = []
        team_tasks: list[Task] = []

        n_spaces = config.spaces + (1 if config.archived_hierarchy else 0)
        for s in range(n_spaces):
            space_id = str(90100000 + ids.take())
            statuses = [
                Status(f"sc{space_id}_open", "to do", "open", 0, "#87909e"),
                Status(f"sc{space_id}_prog", "in progress", "custom", 1, "#4194f6"),
                Status(f"sc{space_id}_rev", "review", "custom", 2, "#f8ae00"),
                Status(f"sc{space_id}_done", "complete", "closed", 3, "#008844"),
            ]
            tags = [TagDef(t, "#800000", _COLORS[i % len(_COLORS)], owner) for i, t in enumerate(_TAGS[:5])]
            archived_space = config.archived_hierarchy and s == n_spaces - 1
            space = Space(
                space_id, team_id, f"Space {s + 1}", _COLORS[s % len(_COLORS)], s == 1, archived_space, statuses, tags
            )
            world.spaces[space_id] = space
            space_fields = _make_fields(world, uid, clock)

            list_homes: list[tuple[str | None, bool]] = []
            n_folders = config.folders_per_space + (1 if config.archived_hierarchy and not archived_space else 0)
            for f in range(n_folders):
                folder_id = str(90110000 + ids.take())
                archived_folder = config.archived_hierarchy and not archived_space and f == n_folders - 1
                world.folders[folder_id] = Folder(
                    folder_id, space_id, f"Folder {s + 1}.{f + 1}", f, False, archived_folder
                )
                for _ in range(config.lists_per_folder):
                    list_homes.append((folder_id, False))
            for _ in range(config.folderless_lists_per_space):
                list_homes.append((None, False))
            if config.archived_hierarchy and not archived_space:
                list_homes.append((None, True))

            for position, (home_folder, archived_list) in enumerate(list_homes):
                list_id = str(901200000000 + ids.take())
                world.lists[list_id] = TaskList(
                    list_id,
                    space_id,
                    home_folder,
                    f"List {s + 1}.{position + 1}",
                    position,
                    content="Generated by the ClickUp sandbox",
                    archived=archived_list,
                    field_ids=[f.id for f in space_fields],
                )
                team_lists.append(list_id)
                for number in range(config.tasks_per_list):
                    # The first tree of each workspace always reaches the full subtask depth.
                    chain = not team_tasks and number == 0
                    team_tasks.extend(
                        _make_task_tree(
                            world, rng, ids, tick, uid, config, list_id, None, 1, space_fields, user_ids, space, chain
                        )
                    )

        for task in team_tasks:
            if len(team_lists) > 1 and rng.random() < config.multi_list_ratio:
                other = rng.choice([x for x in team_lists if x != task.list_id])
                task.other_lists.append(other)
            if len(team_tasks) > 1 and rng.random() < config.dependency_ratio:
                target = rng.choice(team_tasks)
                if target.id != task.id and target.id not in task.depends_on:
                    task.depends_on.append(target.id)
            if len(team_tasks) > 1 and rng.random() < config.link_ratio:
                target = rng.choice(team_tasks)
                if target.id != task.id and target.id not in task.linked:
                    task.linked.append(target.id)
    world._ids = itertools.count(ids.n + 1)
    return world


def _make_fields(world: World, uid: Callable[[], str], now: int) -> list[CustomFieldDef]:
    make = uid
    definitions = [
        CustomFieldDef(
            make(),
            "Stage",
            "drop_down",
            {
                "default": 0,
                "placeholder": None,
                "new_drop_down": True,
                "options": [
                    {"id": make(), "name": n, "color": None, "orderindex": i}
                    for i, n in enumerate(["Alpha", "Beta", "GA"])
                ],
            },
            now,
        ),
        CustomFieldDef(make(), "Estimate (h)", "number", {}, now),
        CustomFieldDef(make(), "Customer", "short_text", {}, now),
        CustomFieldDef(make(), "Approved", "checkbox", {}, now),
        CustomFieldDef(make(), "Launch date", "date", {}, now),
        CustomFieldDef(make(), "Budget", "currency", {"precision": 2, "currency_type": "EUR", "default": None}, now),
        CustomFieldDef(
            make(),
            "Areas",
            "labels",
            {
                "options": [{"id": make(), "label": n, "color": None} for n in ["web", "mobile", "api"]],
            },
            now,
        ),
    ]
    for definition in definitions:
        world.fields[definition.id] = definition
    return definitions


def _field_value(rng: random.Random, definition: CustomFieldDef, now: int) -> object:
    kind = definition.type
    if kind == "drop_down":
        return rng.randrange(len(definition.type_config["options"]))
    if kind == "number":
        return rng.choice([1, 2, 3, 5, 8, 13, 2.5])
    if kind == "short_text":
        return rng.choice(["Acme", "Globex", "Initech", "Umbrella"])
    if kind == "checkbox":
        return rng.choice(["true", "false"])
    if kind == "date":
        return str(now + rng.randint(1, 90) * 86_400_000)
    if kind == "currency":
        return rng.choice([100, 2500.5, 99999])
    if kind == "labels":
        options = [o["id"] for o in definition.type_config["options"]]
        return sorted(rng.sample(options, rng.randint(1, len(options))))
    return None


def _make_task_tree(
    world: World,
    rng: random.Random,
    ids: _Ids,
    tick: Callable[[], int],
    uid: Callable[[], str],
    config: GeneratorConfig,
    list_id: str,
    parent: str | None,
    depth: int,
    space_fields: list[CustomFieldDef],
    user_ids: list[int],
    space: Space,
    force_chain: bool = False,
) -> list[Task]:
    now = tick()
    task_id = "86" + _base36(36**5 + ids.take() * 7919)
    closed = rng.random() < config.closed_ratio
    statuses = space.statuses
    status = statuses[-1] if closed else rng.choice(statuses[:-1])
    updated = now + rng.randint(0, 5_000_000)
    task = Task(
        id=task_id,
        list_id=list_id,
        name=f"{rng.choice(_VERBS)} {rng.choice(_NOUNS)} #{ids.n}",
        status=status.status,
        creator=rng.choice(user_ids),
        date_created=now,
        date_updated=updated,
        custom_id=None,
        text_content=rng.choice(["", "Details to follow.", "See the spec."]),
        orderindex=f"{ids.n * 1000}.00000000000000000000000000000000",
        date_closed=updated if closed else None,
        date_done=updated if closed else None,
        archived=rng.random() < config.archived_ratio,
        assignees=sorted(set(rng.sample(user_ids, rng.randint(0, min(2, len(user_ids)))))),
        watchers=[],
        tags=sorted(set(rng.sample([t.name for t in space.tags], rng.randint(0, 2)))),
        parent=parent,
        priority=rng.choice([None, 1, 2, 3, 4]),
        due_date=now + rng.randint(-30, 60) * 86_400_000 if rng.random() < 0.6 else None,
        start_date=now if rng.random() < 0.3 else None,
        points=rng.choice([None, 1, 2, 3, 5, 8]),
        time_estimate=rng.choice([None, 3600000, 5400000.5, 900000]),
        time_spent=rng.choice([None, 0, 1800000]),
    )
    for definition in space_fields:
        if rng.random() < config.custom_field_ratio:
            task.custom_values[definition.id] = _field_value(rng, definition, now)
    if rng.random() < config.checklist_ratio:
        task.checklists.append(
            Checklist(
                uid(),
                "Checklist",
                0,
                now,
                task.creator,
                [ChecklistItem(uid(), f"Step {i + 1}", i, rng.random() < 0.5, now) for i in range(rng.randint(1, 4))],
            )
        )
    if rng.random() < config.comment_ratio:
        world.comments[task_id] = [
            Comment(str(90120000000 + ids.take()), task_id, rng.choice(user_ids), f"Comment {i + 1}", now + i * 1000)
            for i in range(rng.randint(1, 30))
        ]
    world.tasks[task_id] = task
    created = [task]
    if depth <= config.max_depth and (force_chain or rng.random() < config.subtask_ratio * (1 if depth == 1 else 0.8)):
        for child in range(rng.randint(1, 2)):
            created.extend(
                _make_task_tree(
                    world,
                    rng,
                    ids,
                    tick,
                    uid,
                    config,
                    list_id,
                    task_id,
                    depth + 1,
                    space_fields,
                    user_ids,
                    space,
                    force_chain and child == 0,
                )
            )
    return created
