"""The world, rendered in ClickUp API v2 shapes: string ids and ms timestamps, int user ids."""

from __future__ import annotations

from typing import Any

from sandbox.clickup.model import (
    PRIORITIES,
    Checklist,
    Comment,
    CustomFieldDef,
    Folder,
    Space,
    Task,
    TaskList,
    Team,
    User,
    World,
)


def ms(value: int | None) -> str | None:
    return None if value is None else str(value)


def user_ref(user: User) -> dict[str, Any]:
    """The user object of webhook history items and member lists."""
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "color": user.color,
        "initials": user.initials,
        "profilePicture": None,
    }


def user_short(user: User) -> dict[str, Any]:
    """The user object inside tasks (assignees, watchers)."""
    return {
        "id": user.id,
        "username": user.username,
        "color": user.color,
        "initials": user.initials,
        "email": user.email,
        "profilePicture": None,
    }


def creator(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "color": user.color, "email": user.email, "profilePicture": None}


def user_me(user: User) -> dict[str, Any]:
    return {
        "user": {
            "id": user.id,
            "username": user.username,
            "email": user.email,
            "color": user.color,
            "profilePicture": None,
            "initials": user.initials,
            "week_start_day": user.week_start_day,
            "global_font_support": False,
            "timezone": user.timezone,
        }
    }


_ROLE_KEYS = {1: "owner", 2: "admin", 3: "member", 4: "guest"}


def team(world: World, item: Team) -> dict[str, Any]:
    members = []
    for member in item.members:
        user = world.users[member.user_id]
        entry: dict[str, Any] = {
            "user": {
                "id": user.id,
                "username": user.username,
                "email": user.email,
                "color": user.color,
                "profilePicture": None,
                "initials": user.initials,
                "role": member.role,
                "role_subtype": 0,
                "role_key": _ROLE_KEYS.get(member.role, "member"),
                "custom_role": None,
                "last_active": ms(member.last_active),
                "date_joined": ms(member.date_joined),
                "date_invited": ms(member.date_invited),
            }
        }
        if member.invited_by is not None:
            inviter = world.users[member.invited_by]
            entry["invited_by"] = {
                "id": inviter.id,
                "username": inviter.username,
                "color": inviter.color,
                "email": inviter.email,
                "initials": inviter.initials,
                "profilePicture": None,
                "banned_date": None,
                "status": "active" if member.date_joined else "invited",
            }
        members.append(entry)
    return {"id": item.id, "name": item.name, "color": item.color, "avatar": None, "members": members}


def _statuses(space: Space) -> list[dict[str, Any]]:
    return [
        {"id": s.id, "status": s.status, "type": s.type, "orderindex": s.orderindex, "color": s.color}
        for s in space.statuses
    ]


def space(item: Space) -> dict[str, Any]:
    enabled = {"enabled": True}
    return {
        "id": item.id,
        "name": item.name,
        "color": item.color,
        "private": item.private,
        "avatar": None,
        "admin_can_manage": True,
        "archived": item.archived,
        "statuses": _statuses(item),
        "multiple_assignees": True,
        "features": {
            "due_dates": {
                "enabled": True,
                "start_date": True,
                "remap_due_dates": False,
                "remap_closed_due_date": False,
            },
            "time_tracking": enabled,
            "tags": enabled,
            "time_estimates": enabled,
            "checklists": enabled,
            "custom_fields": enabled,
            "remap_dependencies": enabled,
            "dependency_warning": enabled,
            "portfolios": enabled,
        },
        "members": [],
    }


def _task_count(world: World, list_id: str) -> int:
    return sum(1 for t in world.tasks.values() if t.list_id == list_id)


def task_list(world: World, item: TaskList, *, detail: bool = False) -> dict[str, Any]:
    owner_space = world.spaces[item.space_id]
    folder = world.folders.get(item.folder_id) if item.folder_id else None
    body: dict[str, Any] = {
        "id": item.id,
        "name": item.name,
        "orderindex": item.orderindex,
        "content": item.content,
        "status": None,
        "priority": None,
        "assignee": None,
        "task_count": _task_count(world, item.id),
        "due_date": ms(item.due_date),
        "start_date": ms(item.start_date),
        "folder": {"id": folder.id, "name": folder.name, "hidden": folder.hidden, "access": True}
        if folder
        else {"id": f"{item.space_id}0", "name": "hidden", "hidden": True, "access": True},
        "space": {"id": owner_space.id, "name": owner_space.name, "access": True},
        "archived": item.archived,
        "override_statuses": False,
        "permission_level": "create",
    }
    if detail:
        body["statuses"] = [
            {"status": s.status, "orderindex": s.orderindex, "color": s.color, "type": s.type}
            for s in owner_space.statuses
        ]
        body["inbound_address"] = f"a.{item.id}.sandbox@tasks.clickup.com"
        body["due_date_time"] = False
        body["start_date_time"] = False
    return body


def folder(world: World, item: Folder) -> dict[str, Any]:
    owner_space = world.spaces[item.space_id]
    lists = [task_list(world, x) for x in world.lists.values() if x.folder_id == item.id and not x.archived]
    return {
        "id": item.id,
        "name": item.name,
        "orderindex": item.orderindex,
        "override_statuses": False,
        "hidden": item.hidden,
        "space": {"id": owner_space.id, "name": owner_space.name, "access": True},
        "task_count": str(sum(_task_count(world, x.id) for x in world.lists.values() if x.folder_id == item.id)),
        "archived": item.archived,
        "statuses": [],
        "lists": lists,
        "permission_level": "create",
    }


def field_def(item: CustomFieldDef) -> dict[str, Any]:
    return {
        "id": item.id,
        "name": item.name,
        "type": item.type,
        "type_config": item.type_config,
        "date_created": str(item.date_created),
        "hide_from_guests": False,
        "required": False,
    }


def _checklist(task_id: str, item: Checklist) -> dict[str, Any]:
    resolved = sum(1 for i in item.items if i.resolved)
    return {
        "id": item.id,
        "task_id": task_id,
        "name": item.name,
        "date_created": str(item.date_created),
        "orderindex": item.orderindex,
        "creator": item.creator,
        "resolved": resolved,
        "unresolved": len(item.items) - resolved,
        "items": [
            {
                "id": i.id,
                "name": i.name,
                "orderindex": i.orderindex,
                "assignee": None,
                "group_assignee": None,
                "resolved": i.resolved,
                "parent": None,
                "date_created": str(i.date_created),
                "children": [],
            }
            for i in item.items
        ],
    }


def task(
    world: World, item: Task, *, include_subtasks: bool = False, waiters: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    """``waiters`` (task id -> tasks waiting on it) saves a scan of the workspace per task."""
    waiting_ids = (
        waiters.get(item.id, [])
        if waiters is not None
        else [t.id for t in world.tasks.values() if item.id in t.depends_on]
    )
    home = world.lists[item.list_id]
    owner_space = world.spaces[home.space_id]
    folder_obj = world.folders.get(home.folder_id) if home.folder_id else None
    folder_ref = (
        {"id": folder_obj.id, "name": folder_obj.name, "hidden": folder_obj.hidden, "access": True}
        if folder_obj
        else {"id": f"{home.space_id}0", "name": "hidden", "hidden": True, "access": True}
    )
    status = world.status_of(item)
    team_id = owner_space.team_id
    tags_by_name = {t.name: t for t in owner_space.tags}
    fields = []
    for field_id in home.field_ids:
        definition = world.fields[field_id]
        rendered = field_def(definition)
        if field_id in item.custom_values:
            rendered["value"] = item.custom_values[field_id]
        fields.append(rendered)
    body: dict[str, Any] = {
        "id": item.id,
        "custom_id": item.custom_id,
        "custom_item_id": item.custom_item_id,
        "name": item.name,
        "text_content": item.text_content,
        "description": item.text_content,
        "status": {
            "id": status.id,
            "status": status.status,
            "color": status.color,
            "orderindex": status.orderindex,
            "type": status.type,
        },
        "orderindex": item.orderindex,
        "date_created": str(item.date_created),
        "date_updated": str(item.date_updated),
        "date_closed": ms(item.date_closed),
        "date_done": ms(item.date_done),
        "archived": item.archived,
        "creator": creator(world.users[item.creator]),
        "assignees": [user_short(world.users[u]) for u in item.assignees],
        "group_assignees": [],
        "watchers": [user_short(world.users[u]) for u in item.watchers],
        "checklists": [_checklist(item.id, c) for c in item.checklists],
        "tags": [
            {"name": n, "tag_fg": tags_by_name[n].fg, "tag_bg": tags_by_name[n].bg, "creator": tags_by_name[n].creator}
            for n in item.tags
            if n in tags_by_name
        ],
        "parent": item.parent,
        "top_level_parent": world.root_of(item),
        "priority": None
        if item.priority is None
        else {
            "id": str(item.priority),
            "priority": PRIORITIES[item.priority][0],
            "color": PRIORITIES[item.priority][1],
            "orderindex": str(item.priority),
        },
        "due_date": ms(item.due_date),
        "start_date": ms(item.start_date),
        "points": item.points,
        "time_estimate": item.time_estimate,
    }
    if item.time_spent is not None:
        body["time_spent"] = item.time_spent
    body.update(
        {
            "custom_fields": fields,
            "dependencies": [
                {
                    "task_id": item.id,
                    "depends_on": other,
                    "type": 1,
                    "date_created": str(item.date_created),
                    "userid": str(item.creator),
                    "workspace_id": team_id,
                    "chain_id": None,
                }
                for other in item.depends_on
            ]
            + [
                {
                    "task_id": waiting.id,
                    "depends_on": item.id,
                    "type": 1,
                    "date_created": str(waiting.date_created),
                    "userid": str(waiting.creator),
                    "workspace_id": team_id,
                    "chain_id": None,
                }
                for waiting in (world.tasks[i] for i in waiting_ids if i in world.tasks)
            ],
            "linked_tasks": [
                {
                    "task_id": item.id,
                    "link_id": other,
                    "date_created": str(item.date_created),
                    "userid": str(item.creator),
                    "workspace_id": team_id,
                }
                for other in item.linked
            ],
            "locations": [{"id": x, "name": world.lists[x].name} for x in item.other_lists if x in world.lists],
            "team_id": team_id,
            "url": f"https://app.clickup.com/t/{item.id}",
            "permission_level": "create",
            "list": {"id": home.id, "name": home.name, "access": True},
            "project": folder_ref,
            "folder": folder_ref,
            "space": {"id": owner_space.id},
        }
    )
    if include_subtasks:
        body["subtasks"] = [task(world, child) for child in world.children_of(item.id)]
    return body


def comment(world: World, item: Comment) -> dict[str, Any]:
    user = world.users[item.user_id]
    return {
        "id": item.id,
        "comment": [{"text": item.text}, {"text": "\n", "attributes": {}}],
        "comment_text": item.text + "\n",
        "user": {
            "id": user.id,
            "username": user.username,
            "initials": user.initials,
            "email": user.email,
            "color": user.color,
            "profilePicture": None,
        },
        "resolved": item.resolved,
        "assignee": None,
        "assigned_by": None,
        "reactions": [],
        "date": str(item.date),
        "reply_count": "0",
    }
