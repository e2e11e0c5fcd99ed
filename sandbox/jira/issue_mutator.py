"""The site's issue mutations as Jira makes them (§6.4): issues, comments and links, each emitting its events.

Every mutation validates its input first (``AdminError``: nothing half-applied), bumps the touched
issues' ``updated`` monotonically and emits v2 payloads (``payloads.py``). An issue delete sends
``jira:issue_deleted`` per issue (subtasks too) as Primary, then ``comment_deleted`` and
``issuelink_deleted`` for what went with it as Secondary; children of a deleted epic lose their
parent quietly, but their ``updated`` moves. Comments and links also update their issues
(``jira:issue_updated`` with ``issue_commented``…, or a ``Link`` changelog item).
Sprints, versions, components, boards and projects are ``mutator.py``'s.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

from sandbox.admin_requests import AdminError
from sandbox.jira import custom_fields, payloads
from sandbox.jira.adf import paragraph_doc
from sandbox.jira.delivery import SECONDARY
from sandbox.jira.model import Comment, Issue, Link, Site
from sandbox.jira.state import Sandbox

EDITABLE = {"summary", "status", "priority", "assignee", "labels", "description", "customFields"}


class IssueMutator:
    """Issue, comment and link mutations as the admin user (or ``actor``), and what every mutation shares."""

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

    def _emit(self, event: str, build: payloads.Build, issue: Issue | None = None, flow: str = "Primary") -> None:
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
        build = payloads.issue_event(self.site, "jira:issue_updated", issue, self.actor, now, kind, items, extra)
        self._emit("jira:issue_updated", build, issue)

    def _edit(self, issue: Issue, apply: Callable[[], None]) -> list[dict[str, Any]]:
        before = copy.deepcopy(issue)
        self.sandbox.before_edit(issue)
        apply()
        items = payloads.diff(self.site, before, issue)
        if items:
            self._updated(issue, items, payloads.type_name(items))
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
        items = payloads.created_items(site, issue)
        build = payloads.issue_event(site, "jira:issue_created", issue, self.actor, now, "issue_created", items)
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
        if "customFields" in body:
            try:
                out["custom_values"] = custom_fields.validated(site, body["customFields"])
            except ValueError as exc:
                raise AdminError(400, str(exc)) from None
        return out

    def _assign(self, issue: Issue, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if name == "status_id":
                self._set_status(issue, value)
            elif name == "custom_values":  # the fields named change; null clears one
                merged = {**issue.custom_values, **value}
                issue.custom_values = {k: v for k, v in merged.items() if v is not None}
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
            self._emit("jira:issue_deleted", payloads.issue_deleted(site, item, self.actor, now), item)
            for note in site.comments_of(item.id):
                self._emit(
                    "comment_deleted", payloads.comment_event(site, "comment_deleted", note, now), item, SECONDARY
                )
            for link in site.links_of(item.id):
                if link.id not in gone_links:
                    gone_links.add(link.id)
                    self._emit(
                        "issuelink_deleted",
                        payloads.link_event(site, "issuelink_deleted", link, now),
                        None,
                        SECONDARY,
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
        self._emit(event, payloads.comment_event(self.site, event, note, now), issue)
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
        self._emit("issuelink_created", payloads.link_event(site, "issuelink_created", link, self.sandbox.now_ms()))
        self._link_updates(link, removed=False)
        return link

    def link(self, link_id: str) -> Link:
        link = self.site.links.get(link_id)
        if link is None:
            raise AdminError(404, f"no link {link_id!r}")
        return link

    def delete_link(self, link: Link) -> None:
        self._emit(
            "issuelink_deleted", payloads.link_event(self.site, "issuelink_deleted", link, self.sandbox.now_ms())
        )
        self.site.remove_link(link.id)
        self._link_updates(link, removed=True)

    def _link_updates(self, link: Link, *, removed: bool) -> None:
        for issue_id in (link.outward_from, link.inward_to):
            issue = self.site.issues[issue_id]
            self._updated(issue, [payloads.link_item(self.site, link, issue_id, removed=removed)], "issue_updated")


def _key_numbers(site: Site, project_key: str) -> list[int]:
    keys = [k for i in site.issues.values() for k in (i.key, *i.old_keys)]
    return [int(k.rsplit("-", 1)[1]) for k in keys if k.rsplit("-", 1)[0] == project_key]
