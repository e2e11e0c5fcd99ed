"""Random valid mutations for ``POST /_sandbox/mutate``: every kind, weighted, reproducible from a seed."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from sandbox.jira import custom_fields
from sandbox.jira.model import Comment, Issue
from sandbox.jira.mutator import Mutator


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

    def custom_field() -> str | None:
        issue, fields = pick_issue(), custom_fields.others(site)
        if issue is None or not fields:
            return None
        field = rng.choice(fields)
        value = None if rng.random() < 0.25 else custom_fields.random_value(field, rng, people)
        m.update_issue(issue, {"customFields": {field.id: value}})
        return issue.id

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
        "issue_custom_field": custom_field,
    }
