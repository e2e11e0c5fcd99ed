"""The sandbox's world: ClickUp objects in memory, with the mutations the admin API offers.

Kept close to ClickUp's own model (a task has one home list plus other locations, a parent
chain, statuses from its space) so that rendering is a projection, not a reinvention.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

PRIORITIES: dict[int, tuple[str, str]] = {
    1: ("urgent", "#f50000"),
    2: ("high", "#f8ae00"),
    3: ("normal", "#6fddff"),
    4: ("low", "#d8d8d8"),
}


@dataclass
class User:
    id: int
    username: str | None
    email: str
    initials: str
    color: str | None = None
    timezone: str = "Europe/Berlin"
    week_start_day: int | None = 1


@dataclass
class Member:
    user_id: int
    role: int  # 1 owner, 2 admin, 3 member, 4 guest
    date_joined: int | None
    date_invited: int
    last_active: int | None
    invited_by: int | None = None


@dataclass
class Status:
    id: str
    status: str
    type: str  # open | custom | closed | done
    orderindex: int
    color: str


@dataclass
class Team:
    id: str
    name: str
    color: str
    members: list[Member] = field(default_factory=list)


@dataclass
class TagDef:
    name: str
    fg: str
    bg: str
    creator: int


@dataclass
class Space:
    id: str
    team_id: str
    name: str
    color: str | None = None
    private: bool = False
    archived: bool = False
    statuses: list[Status] = field(default_factory=list)
    tags: list[TagDef] = field(default_factory=list)


@dataclass
class Folder:
    id: str
    space_id: str
    name: str
    orderindex: int = 0
    hidden: bool = False
    archived: bool = False


@dataclass
class CustomFieldDef:
    id: str
    name: str
    type: str
    type_config: dict[str, Any]
    date_created: int


@dataclass
class TaskList:
    id: str
    space_id: str
    folder_id: str | None  # None: folderless (lives in the space's hidden folder)
    name: str
    orderindex: int = 0
    content: str = ""
    archived: bool = False
    due_date: int | None = None
    start_date: int | None = None
    field_ids: list[str] = field(default_factory=list)


@dataclass
class ChecklistItem:
    id: str
    name: str
    orderindex: int
    resolved: bool
    date_created: int


@dataclass
class Checklist:
    id: str
    name: str
    orderindex: int
    date_created: int
    creator: int
    items: list[ChecklistItem] = field(default_factory=list)


@dataclass
class Comment:
    id: str
    task_id: str
    user_id: int
    text: str
    date: int
    resolved: bool = False


@dataclass
class Task:
    id: str
    list_id: str
    name: str
    status: str
    creator: int
    date_created: int
    date_updated: int
    custom_id: str | None = None
    custom_item_id: int = 0
    text_content: str = ""
    orderindex: str = "0.00000000000000000000000000000000"
    date_closed: int | None = None
    date_done: int | None = None
    archived: bool = False
    assignees: list[int] = field(default_factory=list)
    watchers: list[int] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    parent: str | None = None
    priority: int | None = None
    due_date: int | None = None
    start_date: int | None = None
    points: float | None = None
    time_estimate: float | None = None
    time_spent: int | None = None  # None: no time tracked, the key is absent
    custom_values: dict[str, Any] = field(default_factory=dict)
    checklists: list[Checklist] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)  # this task waits on these
    linked: list[str] = field(default_factory=list)
    other_lists: list[str] = field(default_factory=list)  # "tasks in multiple lists"


@dataclass
class World:
    users: dict[int, User] = field(default_factory=dict)
    teams: dict[str, Team] = field(default_factory=dict)
    spaces: dict[str, Space] = field(default_factory=dict)
    folders: dict[str, Folder] = field(default_factory=dict)
    lists: dict[str, TaskList] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)
    fields: dict[str, CustomFieldDef] = field(default_factory=dict)
    comments: dict[str, list[Comment]] = field(default_factory=dict)  # by task id
    tokens: dict[str, int] = field(default_factory=dict)  # token -> user id
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # ------------------------------------------------------------ lookups
    def space_of_list(self, list_id: str) -> Space:
        return self.spaces[self.lists[list_id].space_id]

    def team_of_task(self, task: Task) -> Team:
        return self.teams[self.space_of_list(task.list_id).team_id]

    def status_of(self, task: Task) -> Status:
        for status in self.space_of_list(task.list_id).statuses:
            if status.status == task.status:
                return status
        return self.space_of_list(task.list_id).statuses[0]

    def root_of(self, task: Task) -> str | None:
        if task.parent is None:
            return None
        node = task
        while node.parent is not None and node.parent in self.tasks:
            node = self.tasks[node.parent]
        return node.id

    def children_of(self, task_id: str) -> list[Task]:
        return [t for t in self.tasks.values() if t.parent == task_id]

    def teams_of_user(self, user_id: int) -> list[Team]:
        return [t for t in self.teams.values() if any(m.user_id == user_id for m in t.members)]

    def next_id(self, prefix: str = "") -> str:
        return f"{prefix}{next(self._ids)}"

    # ------------------------------------------------------------ mutations
    def delete_task(self, task_id: str) -> list[str]:
        """Delete a task and (as ClickUp does) all its subtasks; returns the deleted ids."""
        deleted = [task_id]
        for child in self.children_of(task_id):
            deleted.extend(self.delete_task(child.id))
        self.tasks.pop(task_id, None)
        self.comments.pop(task_id, None)
        for task in self.tasks.values():
            if task_id in task.depends_on:
                task.depends_on.remove(task_id)
            if task_id in task.linked:
                task.linked.remove(task_id)
        return deleted

    def delete_list(self, list_id: str) -> list[str]:
        deleted: list[str] = []
        for task in [t for t in self.tasks.values() if t.list_id == list_id and t.parent is None]:
            if task.id in self.tasks:
                deleted.extend(self.delete_task(task.id))
        for task in self.tasks.values():
            if list_id in task.other_lists:
                task.other_lists.remove(list_id)
        self.lists.pop(list_id, None)
        return deleted

    def delete_folder(self, folder_id: str) -> None:
        for task_list in [x for x in self.lists.values() if x.folder_id == folder_id]:
            self.delete_list(task_list.id)
        self.folders.pop(folder_id, None)

    def delete_space(self, space_id: str) -> None:
        for folder in [f for f in self.folders.values() if f.space_id == space_id]:
            self.delete_folder(folder.id)
        for task_list in [x for x in self.lists.values() if x.space_id == space_id]:
            self.delete_list(task_list.id)
        self.spaces.pop(space_id, None)

    def move_task(self, task_id: str, list_id: str, now: int) -> None:
        """Move a task and its subtasks to another home list (subtasks live in their parent's list)."""
        task = self.tasks[task_id]
        task.list_id = list_id
        if list_id in task.other_lists:
            task.other_lists.remove(list_id)
        task.date_updated = now
        for child in self.children_of(task_id):
            self.move_task(child.id, list_id, now)
