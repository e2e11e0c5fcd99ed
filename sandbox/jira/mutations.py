"""Admin mutations under ``/_sandbox`` that change the site as Jira would and emit the events it sends (§6.4).

Every mutation validates its input first (4xx ``{"error"}``, nothing half-applied), bumps the
touched issues' ``updated`` monotonically and emits v2 payloads: wiki-string descriptions and
comment bodies, ``self`` under ``/rest/api/2/``, numeric ids on issue links. An issue delete sends
``jira:issue_deleted`` per issue (subtasks too) as Primary, then ``comment_deleted`` and
``issuelink_deleted`` for what went with it as Secondary. Comments and links also update their
issues (``jira:issue_updated`` with ``issue_commented``…, or a ``Link`` changelog item).

Components and label definitions have no events in Jira (§6.4: poll them): creating, renaming and
deleting a component sends nothing, and a deleted component (like a deleted version) is dropped
from its issues without bumping their ``updated`` — Jira's silent drop, visible only by re-listing.
Children of a deleted epic lose their parent the same quiet way, but their ``updated`` moves.
"""

from __future__ import annotations

import copy
import functools
import random
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.jira import webhooks as hooks
from sandbox.jira.adf import paragraph_doc
from sandbox.jira.admin import AdminError, Handler, guard, json_body, sandbox_of
from sandbox.jira.model import Comment, Component, Issue, Link, Site, Sprint, Version
from sandbox.jira.state import Sandbox

DAY_MS = 86_400_000
EDITABLE = {"summary", "status", "priority", "assignee", "labels", "description"}


class Mutator:
    """The site's mutations, as the admin user (or ``actor``), each emitting Jira's hooks."""

    def __init__(self, sandbox: Sandbox, actor: str | None = None) -> None:
        self.sandbox = sandbox
        self.site = sandbox.site
        self.actor = actor or next((a for a in self.site.users if self.site.is_admin(a)), next(iter(self.site.users)))

    # ------------------------------------------------------------ lookups
    def issue(self, key_or_id: Any, status: int = 404) -> Issue:
        issue = self.site.issue_by_key_or_id(str(key_or_id))
        if issue is None:
            raise AdminError(status, f"no issue {key_or_id!r}")
        if self.site.projects[issue.project_id].archived:
            raise AdminError(400, f"issue {issue.key} is in an archived project")
        return issue

    def _emit(self, event: str, build: hooks.Build, issue: Issue | None = None, flow: str = "Primary") -> None:
        self.sandbox.hub.emit(self.site, event, build, issue=issue, flow=flow)

    def _stamp(self, issue: Issue) -> int:
        self.sandbox.before_edit(issue)
        now = max(self.sandbox.now_ms(), issue.updated_ms + 1)
        issue.updated_ms = now
        return now

    def _updated(self, issue: Issue, items: list[dict[str, Any]] | None, kind: str, **extra: Any) -> None:
        """Bump ``updated`` and send ``jira:issue_updated`` for a change already made."""
        now = self._stamp(issue)
        self.site.touch()
        build = hooks.issue_event(self.site, "jira:issue_updated", issue, self.actor, now, kind, items, extra)
        self._emit("jira:issue_updated", build, issue)

    def _edit(self, issue: Issue, apply: Callable[[], None]) -> list[dict[str, Any]]:
        before = copy.deepcopy(issue)
        self.sandbox.before_edit(issue)
        apply()
        items = hooks.diff(self.site, before, issue)
        if items:
            self._updated(issue, items, hooks.type_name(items))
        return items

    # ------------------------------------------------------------ issues
    def create_issue(self, body: dict[str, Any]) -> Issue:
        site = self.site
        project = site.project_by_key_or_id(str(body.get("project", "")))
        if project is None or project.archived:
            raise AdminError(400, f"no live project {body.get('project')!r}")
        wanted = str(body.get("type", ""))
        kind = site.issue_types.get(wanted) or next(
            (t for t in site.issue_types.values() if t.name.lower() == wanted.lower()), None
        )
        if kind is None:
            raise AdminError(
                400, f"no issue type {wanted!r}; known: {', '.join(t.name for t in site.issue_types.values())}"
            )
        summary = body.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            raise AdminError(400, "summary must be a non-empty string")
        parent = self._parent_for(kind.hierarchy_level, project.id, body.get("parent"))
        values = self._validated({k: body[k] for k in ("assignee", "labels", "description") if k in body})
        now = self.sandbox.now_ms()
        number = site.next_number(f"key:{project.key}", _key_numbers(site, project.key))
        issue_id = str(site.next_number("issue", (int(i) for i in site.issues)))
        status_id = next(s.id for s in site.statuses.values() if s.category_id == 2)
        issue = Issue(
            id=issue_id,
            key=f"{project.key}-{number}",
            project_id=project.id,
            type_id=kind.id,
            summary=summary,
            status_id=status_id,
            priority_id="3" if "3" in site.priorities else next(iter(site.priorities)),
            reporter=self.actor,
            creator=self.actor,
            created_ms=now,
            updated_ms=now,
            status_changed_ms=now,
            parent_id=parent.id if parent else None,
            rank=f"0|i{int(issue_id):05x}:",
        )
        self._assign(issue, values)
        site.issues[issue.id] = issue
        site.touch()
        items = hooks.created_items(site, issue)
        build = hooks.issue_event(site, "jira:issue_created", issue, self.actor, now, "issue_created", items)
        self._emit("jira:issue_created", build, issue)
        return issue

    def _parent_for(self, level: int, project_id: str, raw: Any) -> Issue | None:
        if raw is None:
            if level < 0:
                raise AdminError(400, "a subtask needs a parent")
            return None
        parent = self.issue(raw, 400)
        parent_level = self.site.issue_types[parent.type_id].hierarchy_level
        if parent_level != level + 1 or (level < 0 and parent.project_id != project_id):
            raise AdminError(400, f"{parent.key} cannot be the parent of this issue type")
        return parent

    def _validated(self, body: dict[str, Any]) -> dict[str, Any]:
        """Issue attributes to set, all validated before any is: a 400 leaves the issue untouched."""
        site, out = self.site, dict[str, Any]()
        unknown = sorted(set(body) - EDITABLE)
        if unknown:
            raise AdminError(400, f"unknown field(s): {', '.join(unknown)}")
        if "summary" in body:
            if not isinstance(body["summary"], str) or not body["summary"].strip():
                raise AdminError(400, "summary must be a non-empty string")
            out["summary"] = body["summary"]
        if "status" in body:
            if body["status"] not in site.statuses:
                raise AdminError(400, f"no status {body['status']!r}; known: {', '.join(site.statuses)}")
            out["status_id"] = str(body["status"])
        if "priority" in body:
            if body["priority"] not in site.priorities:
                raise AdminError(400, f"no priority {body['priority']!r}")
            out["priority_id"] = str(body["priority"])
        if "assignee" in body:
            if body["assignee"] is not None and body["assignee"] not in site.users:
                raise AdminError(400, f"no user {body['assignee']!r}")
            out["assignee"] = body["assignee"]
        if "labels" in body:
            labels = body["labels"]
            if not isinstance(labels, list) or not all(isinstance(x, str) and x and " " not in x for x in labels):
                raise AdminError(400, "labels must be a list of non-empty strings without spaces")
            out["labels"] = sorted(set(labels))
        if "description" in body:
            text = body["description"]
            if text is not None and not isinstance(text, str):
                raise AdminError(400, "description must be a string or null")
            out["description"] = None if text is None else paragraph_doc(text)
        return out

    def _assign(self, issue: Issue, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if name == "status_id":
                self._set_status(issue, value)
            else:
                setattr(issue, name, value)

    def _set_status(self, issue: Issue, status_id: str) -> None:
        if issue.status_id == status_id:
            return
        now = max(self.sandbox.now_ms(), issue.updated_ms + 1)
        issue.status_id, issue.status_changed_ms = status_id, now
        issue.resolved_ms = now if self.site.statuses[status_id].category_id == 3 else None

    def update_issue(self, issue: Issue, body: dict[str, Any]) -> list[dict[str, Any]]:
        values = self._validated(body)
        return self._edit(issue, lambda: self._assign(issue, values))

    def move_issue(self, issue: Issue, key_or_id: Any) -> None:
        """To another project with its subtasks: new keys, same ids, old keys still resolve (§1)."""
        site = self.site
        target = site.project_by_key_or_id(str(key_or_id or ""))
        if target is None or target.archived:
            raise AdminError(400, f"no live project {key_or_id!r}")
        if site.issue_types[issue.type_id].subtask:
            raise AdminError(400, "move the parent: subtasks move with it")
        if target.id == issue.project_id:
            raise AdminError(400, "the issue is already in that project")
        moving = [issue, *site.children(issue.id)]
        for moved in moving:
            self._edit(moved, functools.partial(self._rekey, moved, target.id, target.key))
        if issue.parent_id is not None and site.issues[issue.parent_id].project_id != target.id:
            issue.parent_id = None  # company-managed epics do not follow their children across projects
        site.touch()

    def _rekey(self, issue: Issue, project_id: str, project_key: str) -> None:
        number = self.site.next_number(f"key:{project_key}", _key_numbers(self.site, project_key))
        issue.old_keys.append(issue.key)
        issue.key, issue.project_id = f"{project_key}-{number}", project_id
        issue.component_ids, issue.fix_version_ids, issue.version_ids = [], [], []

    def delete_issue(self, issue: Issue) -> list[str]:
        """The issue and its subtasks, each with ``jira:issue_deleted``; comments and links go as Secondary."""
        site = self.site
        doomed = [issue, *(c for c in site.children(issue.id) if site.issue_types[c.type_id].subtask)]
        now = self.sandbox.now_ms()
        gone_links: set[str] = set()
        for item in doomed:
            self._emit("jira:issue_deleted", hooks.issue_deleted(site, item, self.actor, now), item)
            for note in site.comments_of(item.id):
                self._emit(
                    "comment_deleted", hooks.comment_event(site, "comment_deleted", note, now), item, hooks.SECONDARY
                )
            for link in site.links_of(item.id):
                if link.id not in gone_links:
                    gone_links.add(link.id)
                    self._emit(
                        "issuelink_deleted",
                        hooks.link_event(site, "issuelink_deleted", link, now),
                        None,
                        hooks.SECONDARY,
                    )
        ids = {i.id for i in doomed}
        for child in site.children(issue.id):
            if child.id not in ids:
                child.parent_id = None
                self._stamp(child)
        for link_id in gone_links:
            site.remove_link(link_id)
        for note in [c for c in site.comments.values() if c.issue_id in ids]:
            site.remove_comment(note.id)
        for item in doomed:
            del site.issues[item.id]
        site.touch()
        return [i.id for i in doomed]

    # ------------------------------------------------------------ comments
    def add_comment(self, issue: Issue, text: Any, visibility: Any = None) -> Comment:
        if not isinstance(text, str) or not text.strip():
            raise AdminError(400, "body must be a non-empty string")
        kind, value = self._visibility(visibility)
        now = max(self.sandbox.now_ms(), issue.updated_ms + 1)
        comment_id = str(self.site.next_number("comment", (int(c) for c in self.site.comments)))
        note = Comment(comment_id, issue.id, self.actor, paragraph_doc(text), now, now, None, value, kind)
        self.site.comments[note.id] = note
        self._comment_events("comment_created", "issue_commented", issue, note)
        return note

    @staticmethod
    def _visibility(raw: Any) -> tuple[str, str | None]:
        if raw is None:
            return "role", None
        if (
            not isinstance(raw, dict)
            or raw.get("type") not in ("role", "group")
            or not isinstance(raw.get("value"), str)
        ):
            raise AdminError(400, 'visibility must be {"type": "role"|"group", "value": name}')
        return str(raw["type"]), str(raw["value"])

    def comment(self, comment_id: str) -> Comment:
        note = self.site.comments.get(comment_id)
        if note is None:
            raise AdminError(404, f"no comment {comment_id!r}")
        return note

    def edit_comment(self, note: Comment, text: Any) -> None:
        if not isinstance(text, str) or not text.strip():
            raise AdminError(400, "body must be a non-empty string")
        issue = self.site.issues[note.issue_id]
        note.body, note.update_author = paragraph_doc(text), self.actor
        note.updated_ms = max(self.sandbox.now_ms(), note.updated_ms + 1)
        self._comment_events("comment_updated", "issue_comment_edited", issue, note)

    def delete_comment(self, note: Comment) -> None:
        issue = self.site.issues[note.issue_id]
        self._comment_events("comment_deleted", "issue_comment_deleted", issue, note)
        self.site.remove_comment(note.id)

    def _comment_events(self, event: str, kind: str, issue: Issue, note: Comment) -> None:
        now = self.sandbox.now_ms()
        self._emit(event, hooks.comment_event(self.site, event, note, now), issue)
        self._updated(issue, None, kind, comment=note)

    # ------------------------------------------------------------ links
    def add_link(self, type_name: Any, outward: Any, inward: Any) -> Link:
        site = self.site
        kind = next((t for t in site.link_types.values() if str(type_name).lower() in (t.name.lower(), t.id)), None)
        if kind is None:
            raise AdminError(
                400, f"no link type {type_name!r}; known: {', '.join(t.name for t in site.link_types.values())}"
            )
        source, target = self.issue(outward, 400), self.issue(inward, 400)
        if source.id == target.id:
            raise AdminError(400, "an issue cannot link to itself")
        if any(
            x.type_id == kind.id and x.inward_to == target.id
            for x in site.links_of(source.id)
            if x.outward_from == source.id
        ):
            raise AdminError(400, f"{source.key} already {kind.outward} {target.key}")
        link_id = str(site.next_number("link", (int(x) for x in site.links)))
        link = Link(link_id, kind.id, source.id, target.id)
        site.links[link.id] = link
        site.touch()
        self._emit("issuelink_created", hooks.link_event(site, "issuelink_created", link, self.sandbox.now_ms()))
        self._link_updates(link, removed=False)
        return link

    def link(self, link_id: str) -> Link:
        link = self.site.links.get(link_id)
        if link is None:
            raise AdminError(404, f"no link {link_id!r}")
        return link

    def delete_link(self, link: Link) -> None:
        self._emit("issuelink_deleted", hooks.link_event(self.site, "issuelink_deleted", link, self.sandbox.now_ms()))
        self.site.remove_link(link.id)
        self._link_updates(link, removed=True)

    def _link_updates(self, link: Link, *, removed: bool) -> None:
        for issue_id in (link.outward_from, link.inward_to):
            issue = self.site.issues[issue_id]
            self._updated(issue, [hooks.link_item(self.site, link, issue_id, removed=removed)], "issue_updated")

    # ------------------------------------------------------------ sprints
    def sprint(self, sprint_id: Any) -> Sprint:
        sprint = self.site.sprints.get(int(sprint_id)) if str(sprint_id).isdigit() else None
        if sprint is None:
            raise AdminError(404, f"no sprint {sprint_id!r}")
        return sprint

    def update_sprint(self, sprint: Sprint, body: dict[str, Any]) -> None:
        unknown = sorted(set(body) - {"name", "goal", "state"})
        if unknown:
            raise AdminError(400, f"unknown field(s): {', '.join(unknown)}")
        for name in ("name", "goal"):
            if (name in body and not isinstance(body[name], str)) or body.get("name") == "":
                raise AdminError(400, f"{name} must be a string (name non-empty)")
        state = body.get("state", sprint.state)
        if state != sprint.state and (sprint.state, state) not in (("future", "active"), ("active", "closed")):
            raise AdminError(400, f"a {sprint.state} sprint cannot become {state!r} (future -> active -> closed)")
        old = hooks.sprint_body(self.site, sprint)
        now = self.sandbox.now_ms()
        sprint.name, sprint.goal = body.get("name", sprint.name), body.get("goal", sprint.goal)
        if sprint.name != old["name"] or sprint.goal != old["goal"]:
            self._emit("sprint_updated", hooks.sprint_event(self.site, "sprint_updated", sprint, now, old))
        if state == "active" and sprint.state == "future":
            sprint.state, sprint.start_ms, sprint.end_ms = "active", now, now + 14 * DAY_MS
            self._emit("sprint_started", hooks.sprint_event(self.site, "sprint_started", sprint, now))
        elif state == "closed" and sprint.state == "active":
            sprint.state, sprint.complete_ms = "closed", now
            self._emit("sprint_closed", hooks.sprint_event(self.site, "sprint_closed", sprint, now))
        self.site.touch()

    def create_sprint(self, board_id: Any, name: Any) -> Sprint:
        board = self.site.boards.get(board_id) if isinstance(board_id, int) else None
        if board is None or board.type != "scrum":
            raise AdminError(400, f"no scrum board {board_id!r}")
        if not isinstance(name, str) or not name.strip():
            raise AdminError(400, "name must be a non-empty string")
        sprint_id = self.site.next_number("sprint", self.site.sprints)
        sprint = Sprint(sprint_id, name, "future", board.id, created_ms=self.sandbox.now_ms())
        self.site.sprints[sprint.id] = sprint
        self.site.touch()
        self._emit("sprint_created", hooks.sprint_event(self.site, "sprint_created", sprint, self.sandbox.now_ms()))
        return sprint

    def delete_sprint(self, sprint: Sprint) -> None:
        """Future sprints only; their issues go back to the backlog (each an issue update)."""
        if sprint.state != "future":
            raise AdminError(400, "only future sprints can be deleted here")
        for issue in [i for i in self.site.issues.values() if sprint.id in i.sprint_ids]:
            self._edit(issue, functools.partial(issue.sprint_ids.remove, sprint.id))
        minimal = {"id": sprint.id, "state": sprint.state, "name": sprint.name, "originBoardId": sprint.origin_board_id}
        del self.site.sprints[sprint.id]
        self.site.touch()
        now = self.sandbox.now_ms()
        self._emit("sprint_deleted", lambda _v: {"timestamp": now, "webhookEvent": "sprint_deleted", "sprint": minimal})

    def move_to_sprint(self, sprint: Sprint, keys: Any) -> list[str]:
        """Into an open sprint: closed sprints stay in the field, an open one is replaced (V10)."""
        if sprint.state == "closed":
            raise AdminError(400, "issues cannot be moved into a closed sprint")
        if not isinstance(keys, list) or not keys:
            raise AdminError(400, 'give {"issues": [id or key, ...]}')
        found = [self.issue(k, 400) for k in keys]
        if any(self.site.issue_types[i.type_id].subtask for i in found):
            raise AdminError(400, "subtasks follow their parent into sprints")
        for issue in found:

            def apply(i: Issue = issue) -> None:
                kept = [s for s in i.sprint_ids if self.site.sprints[s].state == "closed" and s != sprint.id]
                i.sprint_ids = [*kept, sprint.id]

            self._edit(issue, apply)
        return [i.id for i in found]

    # ------------------------------------------------------------ versions, components, boards, projects
    def version(self, version_id: str) -> Version:
        version = self.site.versions.get(version_id)
        if version is None:
            raise AdminError(404, f"no version {version_id!r}")
        return version

    def create_version(self, project_key: Any, name: Any) -> Version:
        project = self.site.project_by_key_or_id(str(project_key or ""))
        if project is None or project.archived or not isinstance(name, str) or not name.strip():
            raise AdminError(400, "give a live project and a non-empty name")
        version_id = str(self.site.next_number("version", (int(v) for v in self.site.versions)))
        version = Version(version_id, project.id, name, released=False)
        self.site.versions[version.id] = version
        self.site.touch()
        self._emit(
            "jira:version_created",
            hooks.version_event(self.site, "jira:version_created", version, self.sandbox.now_ms()),
        )
        return version

    def update_version(self, version: Version, body: dict[str, Any]) -> str:
        unknown = sorted(set(body) - {"name", "released", "archived", "releaseDate", "description"})
        if unknown:
            raise AdminError(400, f"unknown field(s): {', '.join(unknown)}")
        for name in ("released", "archived"):
            if name in body and not isinstance(body[name], bool):
                raise AdminError(400, f"{name} must be true or false")
        for name in ("name", "description"):
            if (name in body and not isinstance(body[name], str)) or body.get("name") == "":
                raise AdminError(400, f"{name} must be a string (name non-empty)")
        date = body.get("releaseDate", version.release_date)
        if date is not None and (not isinstance(date, str) or not _is_date(date)):
            raise AdminError(400, "releaseDate must be YYYY-MM-DD or null")
        was = version.released
        version.name, version.description = body.get("name", version.name), body.get("description", version.description)
        version.released, version.archived = body.get("released", was), body.get("archived", version.archived)
        version.release_date = date
        event = "jira:version_updated"
        if version.released != was:
            event = "jira:version_released" if version.released else "jira:version_unreleased"
        self.site.touch()
        self._emit(event, hooks.version_event(self.site, event, version, self.sandbox.now_ms()))
        return event

    def delete_version(self, version: Version) -> None:
        self._emit(
            "jira:version_deleted",
            hooks.version_event(self.site, "jira:version_deleted", version, self.sandbox.now_ms()),
        )
        for issue in self.site.issues.values():
            issue.fix_version_ids = [v for v in issue.fix_version_ids if v != version.id]
            issue.version_ids = [v for v in issue.version_ids if v != version.id]
        del self.site.versions[version.id]
        self.site.touch()

    def component(self, component_id: str) -> Component:
        item = self.site.components.get(component_id)
        if item is None:
            raise AdminError(404, f"no component {component_id!r}")
        return item

    def create_component(self, project_key: Any, name: Any) -> Component:
        project = self.site.project_by_key_or_id(str(project_key or ""))
        if project is None or project.archived or not isinstance(name, str) or not name.strip():
            raise AdminError(400, "give a live project and a non-empty name")
        if any(c.project_id == project.id and c.name.lower() == name.lower() for c in self.site.components.values()):
            raise AdminError(400, f"{project.key} already has a component named {name!r}")
        component_id = str(self.site.next_number("component", (int(c) for c in self.site.components)))
        item = Component(component_id, project.id, name)
        self.site.components[item.id] = item
        self.site.touch()
        return item

    def rename_component(self, item: Component, name: Any) -> None:
        if not isinstance(name, str) or not name.strip():
            raise AdminError(400, "name must be a non-empty string")
        item.name = name
        self.site.touch()

    def delete_component(self, item: Component) -> None:
        for issue in self.site.issues.values():
            if item.id in issue.component_ids:
                issue.component_ids = [c for c in issue.component_ids if c != item.id]
        del self.site.components[item.id]
        self.site.touch()

    def rename_board(self, board_id: int, name: Any) -> None:
        board = self.site.boards.get(board_id)
        if board is None:
            raise AdminError(404, f"no board {board_id}")
        if not isinstance(name, str) or not name.strip():
            raise AdminError(400, "name must be a non-empty string")
        board.name = name
        self.site.touch()
        self._emit("board_updated", hooks.board_event(self.site, board, self.sandbox.now_ms()))

    def update_project(self, key_or_id: str, body: dict[str, Any]) -> None:
        project = self.site.project_by_key_or_id(key_or_id)
        if project is None:
            raise AdminError(404, f"no project {key_or_id!r}")
        if set(body) - {"name", "description"} or not all(isinstance(v, str) and v for v in body.values()):
            raise AdminError(400, "give a non-empty name and/or description")
        project.name, project.description = body.get("name", project.name), body.get("description", project.description)
        self.site.touch()
        self._emit("project_updated", hooks.project_event(self.site, project, self.sandbox.now_ms()))


def _key_numbers(site: Site, project_key: str) -> list[int]:
    keys = [k for i in site.issues.values() for k in (i.key, *i.old_keys)]
    return [int(k.rsplit("-", 1)[1]) for k in keys if k.rsplit("-", 1)[0] == project_key]


def _is_date(text: str) -> bool:
    parts = text.split("-")
    return len(parts) == 3 and all(p.isdigit() for p in parts) and len(parts[0]) == 4


# ---------------------------------------------------------------- routes


def _mutator(request: Request) -> Mutator:
    return Mutator(sandbox_of(request))


async def create_issue(request: Request) -> Response:
    issue = _mutator(request).create_issue(await json_body(request))
    return JSONResponse({"id": issue.id, "key": issue.key}, status_code=201)


async def update_issue(request: Request) -> Response:
    """Fields: summary, status (id), priority (id), assignee (accountId or null), labels, description (text)."""
    mutator = _mutator(request)
    issue = mutator.issue(request.path_params["issue_id"])
    items = mutator.update_issue(issue, await json_body(request))
    return JSONResponse({"id": issue.id, "key": issue.key, "updatedMs": issue.updated_ms, "changed": len(items)})


async def move_issue(request: Request) -> Response:
    mutator = _mutator(request)
    issue = mutator.issue(request.path_params["issue_id"])
    mutator.move_issue(issue, (await json_body(request)).get("project"))
    return JSONResponse({"id": issue.id, "key": issue.key, "oldKeys": issue.old_keys, "updatedMs": issue.updated_ms})


async def delete_issue(request: Request) -> Response:
    mutator = _mutator(request)
    return JSONResponse({"deleted": mutator.delete_issue(mutator.issue(request.path_params["issue_id"]))})


async def add_comment(request: Request) -> Response:
    mutator, body = _mutator(request), await json_body(request)
    note = mutator.add_comment(mutator.issue(request.path_params["issue_id"]), body.get("body"), body.get("visibility"))
    return JSONResponse({"id": note.id}, status_code=201)


async def edit_comment(request: Request) -> Response:
    mutator, body = _mutator(request), await json_body(request)
    note = mutator.comment(request.path_params["comment_id"])
    mutator.edit_comment(note, body.get("body"))
    return JSONResponse({"id": note.id})


async def delete_comment(request: Request) -> Response:
    mutator = _mutator(request)
    mutator.delete_comment(mutator.comment(request.path_params["comment_id"]))
    return JSONResponse({"deleted": request.path_params["comment_id"]})


async def add_link(request: Request) -> Response:
    body = await json_body(request)
    link = _mutator(request).add_link(body.get("type"), body.get("outward"), body.get("inward"))
    return JSONResponse({"id": link.id}, status_code=201)


async def delete_link(request: Request) -> Response:
    mutator = _mutator(request)
    mutator.delete_link(mutator.link(request.path_params["link_id"]))
    return JSONResponse({"deleted": request.path_params["link_id"]})


async def create_sprint(request: Request) -> Response:
    body = await json_body(request)
    sprint = _mutator(request).create_sprint(body.get("board"), body.get("name"))
    return JSONResponse({"id": sprint.id}, status_code=201)


async def update_sprint(request: Request) -> Response:
    mutator = _mutator(request)
    sprint = mutator.sprint(request.path_params["sprint_id"])
    mutator.update_sprint(sprint, await json_body(request))
    return JSONResponse(hooks.sprint_body(mutator.site, sprint))


async def delete_sprint(request: Request) -> Response:
    mutator = _mutator(request)
    mutator.delete_sprint(mutator.sprint(request.path_params["sprint_id"]))
    return JSONResponse({"deleted": int(request.path_params["sprint_id"])})


async def sprint_issues(request: Request) -> Response:
    mutator = _mutator(request)
    sprint = mutator.sprint(request.path_params["sprint_id"])
    moved = mutator.move_to_sprint(sprint, (await json_body(request)).get("issues"))
    return JSONResponse({"sprint": sprint.id, "issues": moved})


async def create_version(request: Request) -> Response:
    body = await json_body(request)
    version = _mutator(request).create_version(body.get("project"), body.get("name"))
    return JSONResponse({"id": version.id}, status_code=201)


async def update_version(request: Request) -> Response:
    mutator = _mutator(request)
    version = mutator.version(request.path_params["version_id"])
    event = mutator.update_version(version, await json_body(request))
    return JSONResponse({"id": version.id, "event": event})


async def delete_version(request: Request) -> Response:
    mutator = _mutator(request)
    mutator.delete_version(mutator.version(request.path_params["version_id"]))
    return JSONResponse({"deleted": request.path_params["version_id"]})


async def create_component(request: Request) -> Response:
    body = await json_body(request)
    item = _mutator(request).create_component(body.get("project"), body.get("name"))
    return JSONResponse({"id": item.id}, status_code=201)


async def rename_component(request: Request) -> Response:
    mutator = _mutator(request)
    item = mutator.component(request.path_params["component_id"])
    mutator.rename_component(item, (await json_body(request)).get("name"))
    return JSONResponse({"id": item.id, "name": item.name})


async def delete_component(request: Request) -> Response:
    mutator = _mutator(request)
    mutator.delete_component(mutator.component(request.path_params["component_id"]))
    return JSONResponse({"deleted": request.path_params["component_id"]})


async def rename_board(request: Request) -> Response:
    _mutator(request).rename_board(request.path_params["board_id"], (await json_body(request)).get("name"))
    return JSONResponse({"id": request.path_params["board_id"]})


async def update_project(request: Request) -> Response:
    _mutator(request).update_project(request.path_params["project"], await json_body(request))
    return JSONResponse({"project": request.path_params["project"]})


async def mutate(request: Request) -> Response:
    """``{"count": n, "seed": s}``: n random valid mutations of every kind (see ``chaos``)."""
    body = await json_body(request)
    count, seed = body.get("count", 10), body.get("seed", 0)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 10_000:
        raise AdminError(400, "count must be an integer from 1 to 10000")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise AdminError(400, "seed must be an integer")
    mutator = _mutator(request)
    before = mutator.sandbox.hub.emitted
    done = chaos(mutator, random.Random(seed), count)
    return JSONResponse({"mutations": done, "events": mutator.sandbox.hub.emitted - before})


def chaos(mutator: Mutator, rng: random.Random, count: int) -> list[dict[str, Any]]:
    """Random valid mutations across every kind; a kind with nothing to act on is skipped."""
    operations = _operations(mutator, rng)
    kinds = list(operations)
    weights = [_WEIGHTS.get(kind, 1) for kind in kinds]
    done: list[dict[str, Any]] = []
    for _ in range(count * 20):
        if len(done) >= count:
            break
        kind = rng.choices(kinds, weights)[0]
        made = operations[kind]()
        if made is not None:
            done.append({"kind": kind, "id": made})
    return done


_WEIGHTS = {"issue_create": 3, "issue_edit": 3, "issue_status": 3, "comment_add": 3, "issue_delete": 1}


def _operations(m: Mutator, rng: random.Random) -> dict[str, Callable[[], str | None]]:
    site = m.site

    def live_issues(standard: bool = False) -> list[Issue]:
        return [
            i
            for i in site.issues.values()
            if not site.projects[i.project_id].archived
            and (not standard or site.issue_types[i.type_id].hierarchy_level == 0)
        ]

    def pick_issue(standard: bool = False) -> Issue | None:
        found = live_issues(standard)
        return rng.choice(found) if found else None

    def edit(field: str, value: Callable[[Issue], Any]) -> Callable[[], str | None]:
        def run() -> str | None:
            issue = pick_issue()
            if issue is None:
                return None
            m.update_issue(issue, {field: value(issue)})
            return issue.id

        return run

    def create() -> str | None:
        projects = [p for p in site.projects.values() if not p.archived]
        project = rng.choice(projects)
        kind = rng.choice(["Story", "Task", "Bug"])
        body: dict[str, Any] = {"project": project.key, "type": kind, "summary": f"Chaos {rng.randint(1, 10**6)}"}
        if rng.random() < 0.5:
            body["labels"] = rng.sample(["chaos", "backend", "ux", "infra"], 2)
        return m.create_issue(body).id

    def delete() -> str | None:
        issue = pick_issue()
        return None if issue is None else m.delete_issue(issue)[0]

    def comment_add() -> str | None:
        issue = pick_issue()
        return None if issue is None else m.add_comment(issue, f"Chaos note {rng.randint(1, 10**6)}").id

    def comment_pick() -> Comment | None:
        notes = [c for c in site.comments.values() if not site.projects[site.issues[c.issue_id].project_id].archived]
        return rng.choice(notes) if notes else None

    def comment_edit() -> str | None:
        note = comment_pick()
        if note is not None:
            m.edit_comment(note, f"Edited {rng.randint(1, 10**6)}")
        return None if note is None else note.id

    def comment_delete() -> str | None:
        note = comment_pick()
        if note is not None:
            m.delete_comment(note)
        return None if note is None else note.id

    def link_add() -> str | None:
        found = live_issues()
        if len(found) < 2:
            return None
        source, target = rng.sample(found, 2)
        kind = rng.choice(list(site.link_types.values()))
        if any(
            x.type_id == kind.id and {x.outward_from, x.inward_to} == {source.id, target.id}
            for x in site.links_of(source.id)
        ):
            return None
        return m.add_link(kind.name, source.id, target.id).id

    def link_delete() -> str | None:
        links = [x for x in site.links.values() if not site.projects[site.issues[x.outward_from].project_id].archived]
        if not links:
            return None
        link = rng.choice(links)
        m.delete_link(link)
        return link.id

    def sprint_move() -> str | None:
        sprints = [s for s in site.sprints.values() if s.state != "closed"]
        issue = pick_issue(standard=True)
        if (
            not sprints
            or issue is None
            or (issue.sprint_ids and issue.sprint_ids[-1] in {s.id for s in sprints} and rng.random() < 0.5)
        ):
            return None
        sprint = rng.choice(sprints)
        m.move_to_sprint(sprint, [issue.id])
        return issue.id

    def version_edit() -> str | None:
        versions = [v for v in site.versions.values() if not site.projects[v.project_id].archived]
        if not versions:
            return None
        version = rng.choice(versions)
        change: dict[str, Any] = rng.choice(
            [
                {"released": not version.released},
                {"name": f"{version.name}.{rng.randint(0, 9)}"},
                {"releaseDate": "2026-03-01"},
            ]
        )
        m.update_version(version, change)
        return version.id

    def component_change() -> str | None:
        projects = [p for p in site.projects.values() if not p.archived]
        roll = rng.random()
        components = [c for c in site.components.values() if not site.projects[c.project_id].archived]
        if roll < 0.4 or not components:
            return m.create_component(rng.choice(projects).key, f"Part {rng.randint(1, 10**6)}").id
        item = rng.choice(components)
        if roll < 0.7:
            m.rename_component(item, f"{item.name}+")
        else:
            m.delete_component(item)
        return item.id

    people = [a for a, u in site.users.items() if u.active and u.account_type == "atlassian"]
    return {
        "issue_create": create,
        "issue_edit": edit("summary", lambda i: f"{i.summary} (edited)"),
        "issue_status": edit("status", lambda i: rng.choice([s for s in site.statuses if s != i.status_id])),
        "issue_assignee": edit("assignee", lambda i: rng.choice([*people, None])),
        "issue_labels": edit("labels", lambda i: sorted({*i.labels, rng.choice(["chaos", "signal", "ops"])})),
        "issue_description": edit("description", lambda i: f"Rewritten {rng.randint(1, 10**6)}"),
        "issue_delete": delete,
        "comment_add": comment_add,
        "comment_edit": comment_edit,
        "comment_delete": comment_delete,
        "link_add": link_add,
        "link_delete": link_delete,
        "sprint_move": sprint_move,
        "version_edit": version_edit,
        "component_change": component_change,
    }


def routes() -> list[Route]:
    table: list[tuple[str, Handler, list[str]]] = [
        ("/_sandbox/issues", create_issue, ["POST"]),
        ("/_sandbox/issues/{issue_id}", update_issue, ["PATCH"]),
        ("/_sandbox/issues/{issue_id}", delete_issue, ["DELETE"]),
        ("/_sandbox/issues/{issue_id}/move", move_issue, ["POST"]),
        ("/_sandbox/issues/{issue_id}/comments", add_comment, ["POST"]),
        ("/_sandbox/comments/{comment_id}", edit_comment, ["PATCH"]),
        ("/_sandbox/comments/{comment_id}", delete_comment, ["DELETE"]),
        ("/_sandbox/links", add_link, ["POST"]),
        ("/_sandbox/links/{link_id}", delete_link, ["DELETE"]),
        ("/_sandbox/sprints", create_sprint, ["POST"]),
        ("/_sandbox/sprints/{sprint_id}", update_sprint, ["PATCH"]),
        ("/_sandbox/sprints/{sprint_id}", delete_sprint, ["DELETE"]),
        ("/_sandbox/sprints/{sprint_id}/issues", sprint_issues, ["POST"]),
        ("/_sandbox/versions", create_version, ["POST"]),
        ("/_sandbox/versions/{version_id}", update_version, ["PATCH"]),
        ("/_sandbox/versions/{version_id}", delete_version, ["DELETE"]),
        ("/_sandbox/components", create_component, ["POST"]),
        ("/_sandbox/components/{component_id}", rename_component, ["PATCH"]),
        ("/_sandbox/components/{component_id}", delete_component, ["DELETE"]),
        ("/_sandbox/boards/{board_id:int}", rename_board, ["PATCH"]),
        ("/_sandbox/projects/{project}", update_project, ["PATCH"]),
        ("/_sandbox/mutate", mutate, ["POST"]),
    ]
    return [Route(path, guard(handler), methods=methods) for path, handler, methods in table]
