"""What a sweep must not take: Jira answers 404 (or leaves out) what is missing *or* not visible (§7).

A project the credential no longer lists (access lost, archived while archived ones are not asked
for), or whose content answers 404 (archived), has not been deleted as far as anyone can tell: the
graph keeps it, what it holds (issues, their comments, components, versions) and what those issues
point to (tags, sprints, people). A ``project_deleted`` event, or the project coming back into view,
settles it.
"""

from __future__ import annotations

from graph.writer import GraphWriter


async def out_of_view(writer: GraphWriter, listed: set[str], content_hidden: set[str]) -> dict[str, set[str]]:
    """By kind, the ids the graph holds under projects not in ``listed`` or in ``content_hidden``."""
    unseen = (await writer.live_ids("JiraProject") - listed) | content_hidden
    held = await writer.held_by("JiraProject", sorted(unseen))
    for label, ids in (await writer.referenced_by("Issue", sorted(held.get("Issue", set())))).items():
        held.setdefault(label, set()).update(ids)
    return held


def with_kept(seen: dict[str, set[str]], kept: dict[str, set[str]]) -> dict[str, set[str]]:
    merged = {label: set(ids) for label, ids in seen.items()}
    for label, ids in kept.items():
        merged.setdefault(label, set()).update(ids)
    return merged
