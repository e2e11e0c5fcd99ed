"""The site's mutations (``Mutator``): issue_mutator's issues, comments and links, plus the rest of the site.

This module adds sprints (create, update, start, close, delete, move issues in), versions,
components, board renames and project updates, each emitting what Jira sends (§6.4). Components and
label definitions have no events in Jira (§6.4: poll them): creating, renaming and deleting a component
sends nothing, and a deleted component (like a deleted version) is dropped from its issues without
bumping their ``updated`` — Jira's silent drop, visible only by re-listing.
"""

from __future__ import annotations

import functools
from typing import Any

from sandbox.admin_requests import AdminError
from sandbox.jira import payloads
from sandbox.jira.issue_mutator import IssueMutator
from sandbox.jira.model import Component, Issue, Sprint, Version

DAY_MS = 86_400_000


class Mutator(IssueMutator):
    """The site's mutations, as the admin user (or ``actor``), each emitting Jira's hooks."""

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
        old = payloads.sprint_body(self.site, sprint)
        now = self.sandbox.now_ms()
        sprint.name, sprint.goal = body.get("name", sprint.name), body.get("goal", sprint.goal)
        if sprint.name != old["name"] or sprint.goal != old["goal"]:
            self._emit("sprint_updated", payloads.sprint_event(self.site, "sprint_updated", sprint, now, old))
        if state == "active" and sprint.state == "future":
            sprint.state, sprint.start_ms, sprint.end_ms = "active", now, now + 14 * DAY_MS
            self._emit("sprint_started", payloads.sprint_event(self.site, "sprint_started", sprint, now))
        elif state == "closed" and sprint.state == "active":
            sprint.state, sprint.complete_ms = "closed", now
            self._emit("sprint_closed", payloads.sprint_event(self.site, "sprint_closed", sprint, now))
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
        self._emit("sprint_created", payloads.sprint_event(self.site, "sprint_created", sprint, self.sandbox.now_ms()))
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
            payloads.version_event(self.site, "jira:version_created", version, self.sandbox.now_ms()),
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
        self._emit(event, payloads.version_event(self.site, event, version, self.sandbox.now_ms()))
        return event

    def delete_version(self, version: Version) -> None:
        self._emit(
            "jira:version_deleted",
            payloads.version_event(self.site, "jira:version_deleted", version, self.sandbox.now_ms()),
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
        self._emit("board_updated", payloads.board_event(self.site, board, self.sandbox.now_ms()))

    def update_project(self, key_or_id: str, body: dict[str, Any]) -> None:
        project = self.site.project_by_key_or_id(key_or_id)
        if project is None:
            raise AdminError(404, f"no project {key_or_id!r}")
        if set(body) - {"name", "description"} or not all(isinstance(v, str) and v for v in body.values()):
            raise AdminError(400, "give a non-empty name and/or description")
        project.name, project.description = body.get("name", project.name), body.get("description", project.description)
        self.site.touch()
        self._emit("project_updated", payloads.project_event(self.site, project, self.sandbox.now_ms()))


def _is_date(text: str) -> bool:
    parts = text.split("-")
    return len(parts) == 3 and all(p.isdigit() for p in parts) and len(parts[0]) == 4
