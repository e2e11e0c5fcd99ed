"""A deterministic generated Jira site: the same seed and sizes give the same site.

It holds what an importer can get wrong: custom field ids that differ per seed (sprint, rank, story
points, and one field of each common kind with values, ``custom_fields.py``), users whose email is
hidden, an app and a former user, an archived project and one the main credential cannot see,
epic -> issue -> subtask chains, labels that differ only in case, links of several types across
projects, restricted comments, an issue with more comments than one page, boards that span two
projects (so one sprint shows on two boards) and a kanban board without sprints.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.jira import custom_fields
from sandbox.jira.adf import V7_DOCUMENT, paragraph_doc
from sandbox.jira.model import (
    RANK_TYPE,
    SPRINT_TYPE,
    STORY_POINTS_TYPE,
    Board,
    Comment,
    Component,
    Field,
    Issue,
    IssueType,
    Link,
    LinkType,
    Priority,
    Project,
    Site,
    Sprint,
    Status,
    User,
    Version,
)

EPOCH_MS = 1_767_600_000_000  # 2026-01-05
DAY_MS = 86_400_000
MAIN_EMAIL = "mia@example.com"
MAIN_TOKEN = "ATATT3xFfGF0-sandbox-main-token"
OTHER_EMAIL = "jane@example.com"
OTHER_TOKEN = "ATATT3xFfGF0-sandbox-jane-token"
_LABELS = ["backend", "Backend", "frontend", "bug", "infra", "docs", "ux", "security"]
_VERBS = ["Fix", "Write", "Review", "Design", "Ship", "Test", "Document", "Refactor"]
_NOUNS = ["login", "importer", "billing", "search", "cache", "sync", "dashboard", "report"]
_KEYS = ["PROJ", "OPS", "WEB", "APP", "DATA", "MOB"]

SYSTEM_FIELDS: list[tuple[str, str, str, bool]] = [
    ("summary", "Summary", "string", True),
    ("status", "Status", "status", True),
    ("issuetype", "Issue Type", "issuetype", True),
    ("project", "Project", "project", True),
    ("parent", "Parent", "issuelink", True),
    ("priority", "Priority", "priority", True),
    ("assignee", "Assignee", "user", True),
    ("reporter", "Reporter", "user", True),
    ("creator", "Creator", "user", True),
    ("labels", "Labels", "array", True),
    ("components", "Components", "array", True),
    ("fixVersions", "Fix versions", "array", True),
    ("versions", "Affects versions", "array", True),
    ("description", "Description", "string", True),
    ("created", "Created", "datetime", True),
    ("updated", "Updated", "datetime", True),
    ("duedate", "Due date", "date", True),
    ("resolution", "Resolution", "resolution", True),
    ("resolutiondate", "Resolved", "datetime", True),
    ("statuscategorychangedate", "Status Category Changed", "datetime", True),
    ("subtasks", "Sub-tasks", "array", True),
    ("issuelinks", "Linked Issues", "array", True),
    ("timetracking", "Time tracking", "timetracking", True),
    ("comment", "Comment", "comments-page", False),
]


@dataclass(frozen=True)
class GeneratorConfig:
    seed: int = 1
    projects: int = 3  # live projects the main user can browse (besides the archived and the restricted one)
    issues_per_project: int = 20  # standard issues; epics and subtasks come on top
    epics_per_project: int = 2
    subtask_ratio: float = 0.3
    link_ratio: float = 0.2
    comment_ratio: float = 0.5
    busy_issue_comments: int = 105  # one issue with more comments than a page holds


def generate(config: GeneratorConfig) -> Site:
    rng = random.Random(config.seed)

    def uid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    site = Site(cloud_id=uid(), name=f"sandbox-{config.seed}", url=f"https://sandbox-{config.seed}.atlassian.net")
    _reference_data(site, rng)
    users = _users(site, uid)
    clock = EPOCH_MS - 60 * DAY_MS

    def tick() -> int:
        nonlocal clock
        clock += rng.randint(60_000, 3_600_000)
        return clock

    keys = [*_KEYS[: config.projects]] + [f"P{n}" for n in range(len(_KEYS), config.projects)]
    specs: list[tuple[str, bool, frozenset[str] | None]] = [(key, False, None) for key in keys]
    specs += [("OLD", True, None), ("SEC", False, frozenset({users[1]}))]
    for position, (key, archived, members) in enumerate(specs):
        project_id = str(10000 + position)
        site.projects[project_id] = Project(
            id=project_id,
            key=key,
            name=f"{key.title()} project",
            lead=users[position % 3],
            simplified=position == 2,
            archived=archived,
            archived_at=EPOCH_MS - 5 * DAY_MS if archived else None,
            members=members,
            category=("10001", "Development") if position % 2 == 0 else None,
            description=f"Generated project {key}",
            uuid=uid(),
        )
        _components_and_versions(site, project_id)
    for project in list(site.projects.values()):
        _issues(site, rng, config, project, users, tick)
    _links(site, rng, config)
    _comments(site, rng, config, users, tick)
    _boards_and_sprints(site, rng, keys)
    # Their own stream, so the rest of a seed's site is what it was before these fields existed.
    extra = random.Random(f"custom-fields-{config.seed}")
    custom_fields.define(site, extra)
    custom_fields.fill(site, extra, users[:4])
    return site


def _reference_data(site: Site, rng: random.Random) -> None:
    for type_id, name, level in [
        ("10000", "Epic", 1),
        ("10001", "Story", 0),
        ("10002", "Task", 0),
        ("10003", "Bug", 0),
        ("10004", "Subtask", -1),
    ]:
        site.issue_types[type_id] = IssueType(type_id, name, level, f"A {name.lower()}")
    for status_id, name, category in [("10000", "To Do", 2), ("3", "In Progress", 4), ("10001", "In Review", 4)]:
        site.statuses[status_id] = Status(status_id, name, category)
    site.statuses["10002"] = Status("10002", "Done", 3)
    for priority_id, name, color in [
        ("1", "Highest", "#d04437"),
        ("2", "High", "#f15c75"),
        ("3", "Medium", "#f79232"),
        ("4", "Low", "#707070"),
        ("5", "Lowest", "#999999"),
    ]:
        site.priorities[priority_id] = Priority(priority_id, name, color)
    for field_id, name, kind, navigable in SYSTEM_FIELDS:
        site.fields[field_id] = Field(field_id, name, False, {"type": kind, "system": field_id}, navigable, [field_id])
    # Custom field ids differ per site (§4.3): an importer must find them by schema.custom.
    points = 10000 + rng.randint(10, 90)
    sprint, rank = points + rng.randint(1, 4), points + rng.randint(5, 9)
    site.story_points_field, site.sprint_field, site.rank_field = (f"customfield_{n}" for n in (points, sprint, rank))
    for number, name, schema in [
        (points, "Story point estimate", {"type": "number", "custom": STORY_POINTS_TYPE}),
        (sprint, "Sprint", {"type": "array", "items": "json", "custom": SPRINT_TYPE}),
        (rank, "Rank", {"type": "any", "custom": RANK_TYPE}),
    ]:
        field_id = f"customfield_{number}"
        site.fields[field_id] = Field(
            field_id, name, True, {**schema, "customId": number}, True, [f"cf[{number}]", name]
        )
    for link_id, name, inward, outward in [
        ("10000", "Blocks", "is blocked by", "blocks"),
        ("10001", "Cloners", "is cloned by", "clones"),
        ("10002", "Duplicate", "is duplicated by", "duplicates"),
        ("10003", "Relates", "relates to", "relates to"),
    ]:
        site.link_types[link_id] = LinkType(link_id, name, inward, outward)


def _users(site: Site, uid: Callable[[], str]) -> list[str]:
    """Main (admin, visible email), Jane (hidden email), two more, an app and a former user."""
    people = [
        User("5b10a2844c20165700ede21f", "Mia Krystof", MAIN_EMAIL, groups=frozenset({"Administrators"})),
        User("5fc9e78d2730d800760becc4", "Jane Doe", OTHER_EMAIL, email_visible=False),
        User(f"557058:{uid()}", "Robin Fischer", "robin@example.com"),
        User("6a1f0c2d3e4b5a6978c8d9e0", "Kim Ode", "kim@example.com", email_visible=False),
        User(f"557058:{uid()}", "Automation for Jira", None, account_type="app"),
        User("5d8e7f6a5b4c3d2e1f0a9b8c", "Former user", None, email_visible=False, active=False),
    ]
    for user in people:
        site.users[user.account_id] = user
    site.api_tokens[MAIN_TOKEN] = people[0].account_id
    site.api_tokens[OTHER_TOKEN] = people[1].account_id
    return [user.account_id for user in people]


def _components_and_versions(site: Site, project_id: str) -> None:
    base = int(project_id) * 10
    for offset, name in enumerate(["Backend", "Frontend", "Infra"]):
        component_id = str(base + offset)
        site.components[component_id] = Component(component_id, project_id, name, f"{name} work")
    for offset, (name, released, archived, start, release) in enumerate(
        [
            ("0.9", True, True, "2025-10-01", "2025-11-01"),
            ("1.0", True, False, "2026-01-01", "2026-02-01"),
            ("1.1", False, False, "2026-02-01", None),
        ]
    ):
        version_id = str(base + 5 + offset)
        site.versions[version_id] = Version(version_id, project_id, name, released, archived, start, release)


def _issues(
    site: Site, rng: random.Random, config: GeneratorConfig, project: Project, users: list[str], tick: Callable[[], int]
) -> None:
    people = users[:4]
    components = [c.id for c in site.components.values() if c.project_id == project.id]
    versions = [v.id for v in site.versions.values() if v.project_id == project.id]
    counter = 0

    def make(type_id: str, parent: str | None) -> Issue:
        nonlocal counter
        counter += 1
        issue_id = str(10001 + len(site.issues))
        created = tick()
        status_id = rng.choice(list(site.statuses))
        done = site.statuses[status_id].category_id == 3
        updated = created + rng.randint(1_000, 5 * DAY_MS)
        first = not site.issues
        issue = Issue(
            id=issue_id,
            key=f"{project.key}-{counter}",
            project_id=project.id,
            type_id=type_id,
            summary=f"{rng.choice(_VERBS)} the {rng.choice(_NOUNS)}",
            status_id=status_id,
            priority_id=rng.choice(list(site.priorities)),
            reporter=rng.choice(people),
            creator=rng.choice(people),
            created_ms=created,
            updated_ms=updated,
            status_changed_ms=updated,
            assignee=rng.choice([*people, None]),
            parent_id=parent,
            description=V7_DOCUMENT if first else (None if rng.random() < 0.2 else paragraph_doc(f"Issue {counter}")),
            labels=sorted(rng.sample(_LABELS, rng.randint(0, 2))),
            component_ids=sorted(rng.sample(components, rng.randint(0, 2))),
            fix_version_ids=sorted(rng.sample(versions, rng.randint(0, 1))),
            due_date=f"2026-02-{rng.randint(10, 28)}" if rng.random() < 0.3 else None,
            resolved_ms=updated if done else None,
            story_points=float(rng.choice([1, 2, 3, 5, 8])) if type_id != "10004" and rng.random() < 0.7 else None,
            rank=f"0|i{len(site.issues):05x}:",
        )
        site.issues[issue_id] = issue
        return issue

    epics = [make("10000", None) for _ in range(config.epics_per_project)]
    for number in range(config.issues_per_project):
        # The first issue of each project always completes the chain epic -> issue -> subtask.
        parent = (
            epics[0].id if number == 0 and epics else (rng.choice(epics).id if epics and rng.random() < 0.6 else None)
        )
        issue = make(rng.choice(["10001", "10002", "10003"]), parent)
        if number == 0 or rng.random() < config.subtask_ratio:
            make("10004", issue.id)


def _links(site: Site, rng: random.Random, config: GeneratorConfig) -> None:
    ids = [i.id for i in site.issues.values() if not site.projects[i.project_id].archived]
    if len(ids) < 2:
        return
    pairs = {(ids[0], ids[1], "10000")}  # V9: at least one "Blocks"
    while len(pairs) < max(2, int(len(ids) * config.link_ratio)):
        source, target = rng.sample(ids, 2)
        pairs.add((source, target, rng.choice(list(site.link_types))))
    for position, (source, target, type_id) in enumerate(sorted(pairs)):
        link_id = str(10200 + position)
        site.links[link_id] = Link(link_id, type_id, source, target)


def _comments(
    site: Site, rng: random.Random, config: GeneratorConfig, users: list[str], tick: Callable[[], int]
) -> None:
    authors = users[:5]
    issues = list(site.issues.values())
    if not issues:
        return
    busy = issues[1] if len(issues) > 1 else None

    def add(issue: Issue, author: str, body: dict[str, Any], created: int, visibility: str | None = None) -> None:
        comment_id = str(20000 + len(site.comments))
        updated = created + rng.choice([0, 0, 60_000])
        site.comments[comment_id] = Comment(comment_id, issue.id, author, body, created, updated, None, visibility)

    for issue in issues:
        roll = rng.random() < config.comment_ratio
        count = config.busy_issue_comments if issue is busy else (rng.randint(1, 3) if roll else 0)
        for number in range(count):
            created = max(issue.created_ms, tick() - 30 * DAY_MS) + number
            add(issue, rng.choice(authors), paragraph_doc(f"Comment {number + 1} on {issue.key}"), created)
    # The first issue: the V7 document, and comments restricted to a role the main user has and one it lacks.
    first = issues[0]
    add(first, users[1], V7_DOCUMENT, first.created_ms + 1)
    add(first, users[0], paragraph_doc("For administrators"), first.created_ms + 2, "Administrators")
    add(first, users[1], paragraph_doc("For developers"), first.created_ms + 3, "Developers")


def _boards_and_sprints(site: Site, rng: random.Random, keys: list[str]) -> None:
    """A scrum board per live project; the first spans the second project too; one kanban board."""
    live = [p for p in site.projects.values() if p.key in keys]
    for position, project in enumerate(live):
        board_id = position + 1
        spans = [project.id] + ([live[1].id] if position == 0 and len(live) > 1 else [])
        site.boards[board_id] = Board(board_id, f"{project.key} board", "scrum", project.id, spans)
        for number, state in enumerate(["closed", "closed", "active", "future"]):
            sprint_id = len(site.sprints) + 1
            start = EPOCH_MS + (number - 2) * 14 * DAY_MS
            site.sprints[sprint_id] = Sprint(
                id=sprint_id,
                name=f"{project.key} Sprint {number + 1}",
                state=state,
                origin_board_id=board_id,
                start_ms=None if state == "future" else start,
                end_ms=None if state == "future" else start + 14 * DAY_MS,
                complete_ms=start + 14 * DAY_MS if state == "closed" else None,
                created_ms=start - DAY_MS,
                goal=f"Goal {number + 1}" if number % 2 == 0 else "",
            )
        own = [s.id for s in site.sprints.values() if s.origin_board_id == board_id]
        for issue in site.issues.values():
            if issue.project_id == project.id and site.issue_types[issue.type_id].hierarchy_level == 0:
                roll = rng.random()
                issue.sprint_ids = (
                    own[:3] if roll < 0.3 else (own[2:3] if roll < 0.6 else own[3:] if roll < 0.7 else [])
                )
    if live:
        board_id = len(site.boards) + 1
        site.boards[board_id] = Board(board_id, "Support kanban", "kanban", live[-1].id, [live[-1].id])
