"""The sandbox's site: Jira Cloud objects in memory, as the REST API describes them.

Times are epoch milliseconds here and rendered in Jira's shapes by ``render.py``. Ids follow the
facts (§1): platform ids are numeric strings, Agile board and sprint ids are integers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

# Status categories are fixed across sites (§4.1): id -> (key, colorName, name).
STATUS_CATEGORIES: dict[int, tuple[str, str, str]] = {
    1: ("undefined", "medium-gray", "No Category"),
    2: ("new", "blue-gray", "To Do"),
    4: ("indeterminate", "yellow", "In Progress"),
    3: ("done", "green", "Done"),
}

# Custom field type keys by which an importer must discover per-site ids (§4.3).
SPRINT_TYPE = "com.pyxis.greenhopper.jira:gh-sprint"
STORY_POINTS_TYPE = "com.pyxis.greenhopper.jira:jsw-story-points"
RANK_TYPE = "com.pyxis.greenhopper.jira:gh-lexo-rank"

# Members of this group are the site's Jira administrators (the generated main user is one): they alone
# may manage admin webhooks (§6.1).
ADMIN_GROUP = "Administrators"


@dataclass
class User:
    account_id: str
    display_name: str
    email: str | None
    email_visible: bool = True  # §4.7: privacy settings hide the address from everyone else
    account_type: str = "atlassian"  # atlassian | app | customer | unknown
    active: bool = True
    time_zone: str = "America/Phoenix"  # always -0700, the offset every time is rendered in
    locale: str = "en_US"
    groups: frozenset[str] = frozenset()  # role/group names that may read restricted comments


@dataclass
class IssueType:
    id: str
    name: str
    hierarchy_level: int  # 1 epic, 0 standard, -1 subtask
    description: str = ""

    @property
    def subtask(self) -> bool:
        return self.hierarchy_level < 0


@dataclass
class Status:
    id: str
    name: str
    category_id: int


@dataclass
class Priority:
    id: str
    name: str
    color: str


@dataclass
class Field:
    id: str
    name: str
    custom: bool
    schema: dict[str, Any]
    navigable: bool = True
    clause_names: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)  # select options: id -> value ("Parent/Child")


@dataclass
class Project:
    id: str
    key: str
    name: str
    lead: str  # accountId
    type_key: str = "software"
    simplified: bool = False  # True: team-managed ("next-gen")
    archived: bool = False
    archived_at: int | None = None
    members: frozenset[str] | None = None  # None: every licensed user may browse it
    category: tuple[str, str] | None = None
    description: str = ""
    uuid: str = ""


@dataclass
class Component:
    id: str
    project_id: str
    name: str
    description: str = ""
    lead: str | None = None


@dataclass
class Version:
    id: str
    project_id: str
    name: str
    released: bool
    archived: bool = False
    start_date: str | None = None  # "2026-01-01"
    release_date: str | None = None
    description: str = ""


@dataclass
class Sprint:
    id: int
    name: str
    state: str  # future | active | closed
    origin_board_id: int
    start_ms: int | None = None
    end_ms: int | None = None
    complete_ms: int | None = None
    created_ms: int = 0
    goal: str = ""


@dataclass
class Board:
    id: int
    name: str
    type: str  # scrum | kanban | simple
    location_project_id: str
    project_ids: list[str]  # every project its filter spans, the location first


@dataclass
class LinkType:
    id: str
    name: str
    inward: str
    outward: str


@dataclass
class Link:
    id: str
    type_id: str
    outward_from: str  # the issue that `type.outward`s the other (V9's source)
    inward_to: str


@dataclass
class Comment:
    id: str
    issue_id: str
    author: str
    body: dict[str, Any]  # ADF
    created_ms: int
    updated_ms: int
    update_author: str | None = None
    visibility: str | None = None  # a role name: hidden from users outside it
    visibility_type: str = "role"  # role | group: how ``visibility`` names its audience


@dataclass
class Issue:
    id: str
    key: str
    project_id: str
    type_id: str
    summary: str
    status_id: str
    priority_id: str
    reporter: str
    creator: str
    created_ms: int
    updated_ms: int
    status_changed_ms: int
    assignee: str | None = None
    parent_id: str | None = None
    description: dict[str, Any] | None = None  # ADF; None: no description
    labels: list[str] = field(default_factory=list)
    component_ids: list[str] = field(default_factory=list)
    fix_version_ids: list[str] = field(default_factory=list)
    version_ids: list[str] = field(default_factory=list)
    due_date: str | None = None
    resolved_ms: int | None = None
    story_points: float | None = None
    sprint_ids: list[int] = field(default_factory=list)  # every sprint it has been in, current last
    rank: str = ""
    old_keys: list[str] = field(default_factory=list)  # keys it had before moving project (§1)
    # Other custom fields by id, in plain form (an option id, an account id, epoch ms): custom_fields.py
    custom_values: dict[str, Any] = field(default_factory=dict)


@dataclass
class Site:
    cloud_id: str
    name: str
    url: str
    users: dict[str, User] = field(default_factory=dict)
    issue_types: dict[str, IssueType] = field(default_factory=dict)
    statuses: dict[str, Status] = field(default_factory=dict)
    priorities: dict[str, Priority] = field(default_factory=dict)
    fields: dict[str, Field] = field(default_factory=dict)
    link_types: dict[str, LinkType] = field(default_factory=dict)
    projects: dict[str, Project] = field(default_factory=dict)
    components: dict[str, Component] = field(default_factory=dict)
    versions: dict[str, Version] = field(default_factory=dict)
    issues: dict[str, Issue] = field(default_factory=dict)
    comments: dict[str, Comment] = field(default_factory=dict)
    links: dict[str, Link] = field(default_factory=dict)
    boards: dict[int, Board] = field(default_factory=dict)
    sprints: dict[int, Sprint] = field(default_factory=dict)
    api_tokens: dict[str, str] = field(default_factory=dict)  # token -> accountId
    story_points_field: str = ""
    sprint_field: str = ""
    rank_field: str = ""
    version: int = 0  # bumped by every mutation: derived indexes are then stale
    _derived: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _derived_at: int = -1
    _high_water: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def touch(self) -> None:
        self.version += 1

    def next_number(self, kind: str, taken: Iterable[int]) -> int:
        """A fresh id or key number: Jira never reuses one, not even after the highest was deleted."""
        number = max(self._high_water.get(kind, 0), max(taken, default=0)) + 1
        self._high_water[kind] = number
        return number

    def is_admin(self, account_id: str | None) -> bool:
        person = self.users.get(account_id or "")
        return person is not None and person.active and ADMIN_GROUP in person.groups

    def remove_comment(self, comment_id: str) -> Comment:
        item = self.comments.pop(comment_id)
        self.touch()
        return item

    def remove_link(self, link_id: str) -> Link:
        item = self.links.pop(link_id)
        self.touch()
        return item

    def derived(self, key: str, compute: Callable[[], T]) -> T:
        """An index over the site (children, links, comments per issue, search orders) until it changes.

        A site of 50,000 issues is served page by page; rebuilding these per issue or page is quadratic.
        """
        if self._derived_at != self.version:
            self._derived.clear()
            self._derived_at = self.version
        if key not in self._derived:
            self._derived[key] = compute()
        value: T = self._derived[key]
        return value

    def children(self, issue_id: str) -> list[Issue]:
        def build() -> dict[str, list[Issue]]:
            index: dict[str, list[Issue]] = {}
            for issue in self.issues.values():
                if issue.parent_id is not None:
                    index.setdefault(issue.parent_id, []).append(issue)
            return index

        return self.derived("children", build).get(issue_id, [])

    def links_of(self, issue_id: str) -> list[Link]:
        def build() -> dict[str, list[Link]]:
            index: dict[str, list[Link]] = {}
            for link in self.links.values():
                index.setdefault(link.outward_from, []).append(link)
                index.setdefault(link.inward_to, []).append(link)
            return index

        return self.derived("links", build).get(issue_id, [])

    def comments_of(self, issue_id: str) -> list[Comment]:
        """Oldest first."""

        def build() -> dict[str, list[Comment]]:
            index: dict[str, list[Comment]] = {}
            for item in sorted(self.comments.values(), key=lambda c: (c.created_ms, int(c.id))):
                index.setdefault(item.issue_id, []).append(item)
            return index

        return self.derived("comments", build).get(issue_id, [])

    def can_browse(self, account_id: str | None, project: Project) -> bool:
        """Anonymous callers browse nothing; archived projects hide their content from everyone (§7)."""
        if account_id is None or project.archived:
            return False
        return project.members is None or account_id in project.members

    def issue_by_key_or_id(self, key_or_id: str) -> Issue | None:
        if key_or_id in self.issues:
            return self.issues[key_or_id]
        wanted = key_or_id.upper()

        def build() -> dict[str, Issue]:
            index = {old: issue for issue in self.issues.values() for old in issue.old_keys}
            return index | {issue.key: issue for issue in self.issues.values()}

        return self.derived("keys", build).get(wanted)

    def project_by_key_or_id(self, key_or_id: str) -> Project | None:
        if key_or_id in self.projects:
            return self.projects[key_or_id]
        wanted = key_or_id.upper()
        return next((p for p in self.projects.values() if p.key == wanted), None)
