"""Webhook bodies (§6.4), in the v2 form Jira sends whatever REST version the site serves.

Descriptions and comment bodies are wiki markup (``wiki``), ``self`` links sit under
``/rest/api/2/`` (``v2``), issue links carry numeric ids. Each ``*_event`` returns a ``Build``: the
payload as one webhook owner (accountId) may see it, rendered by the delivery hub per owner.
Changelog items (``change``, ``diff``, ``created_items``, ``link_item``) name fields as Jira does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox.jira import custom_fields, issues, render
from sandbox.jira.model import Board, Comment, Issue, Link, Project, Site, Sprint, Version

Build = Callable[[str], dict[str, Any]]  # the payload as one owner (accountId) may see it


def wiki(doc: dict[str, Any] | None) -> str | None:
    """ADF as Jira's wiki markup, which webhook (v2) bodies carry instead of documents."""
    if doc is None:
        return None
    return "\n\n".join(text for text in (_wiki_block(node) for node in doc.get("content", [])) if text)


def _wiki_block(node: dict[str, Any]) -> str:
    kind, children = node.get("type"), node.get("content", [])
    if kind == "heading":
        return f"h{node.get('attrs', {}).get('level', 1)}. {_wiki_inline(children)}"
    if kind in ("bulletList", "orderedList"):
        bullet = "*" if kind == "bulletList" else "#"
        return "\n".join(f"{bullet} " + " ".join(_wiki_block(c) for c in item.get("content", [])) for item in children)
    if kind == "codeBlock":
        language = node.get("attrs", {}).get("language")
        opening = f"{{code:{language}}}" if language else "{code}"
        return f"{opening}{_wiki_inline(children)}{{code}}"
    if kind == "rule":
        return "----"
    if kind == "paragraph":
        return _wiki_inline(children)
    return "\n".join(_wiki_block(c) for c in children)


def _wiki_inline(nodes: list[dict[str, Any]]) -> str:
    out: list[str] = []
    for node in nodes:
        kind, attrs = node.get("type"), node.get("attrs", {})
        if kind == "text":
            text = str(node.get("text", ""))
            for mark in node.get("marks", []):
                wrap = {"strong": "*", "em": "_", "strike": "-"}.get(mark.get("type"), "")
                text = f"{wrap}{text}{wrap}"
                if mark.get("type") == "code":
                    text = "{{" + text + "}}"
                if mark.get("type") == "link":
                    text = f"[{text}|{mark.get('attrs', {}).get('href', '')}]"
            out.append(text)
        elif kind == "mention":
            out.append(f"[~accountid:{attrs.get('id', '')}]")
        elif kind == "hardBreak":
            out.append("\n")
        elif kind == "emoji":
            out.append(str(attrs.get("shortName", attrs.get("text", ""))))
        elif kind in ("inlineCard", "blockCard"):
            out.append(f"[{attrs.get('url', '')}|{attrs.get('url', '')}|smart-link]")
    return "".join(out)


def v2(value: Any) -> Any:
    """``self`` links of the v2 API: payloads are v2 whatever the REST version the site serves."""
    if isinstance(value, str):
        return value.replace("/rest/api/3/", "/rest/api/2/", 1) if "/rest/api/3/" in value else value
    if isinstance(value, dict):
        return {k: v2(v) for k, v in value.items()}
    if isinstance(value, list):
        return [v2(v) for v in value]
    return value


def issue_v2(site: Site, issue: Issue, viewer: str) -> dict[str, Any]:
    document = issues.issue_document(site, issue, issues.select_fields(site, ["*navigable"]), viewer)
    document.pop("expand", None)
    document["fields"]["description"] = wiki(issue.description)
    for field in custom_fields.others(site):  # textarea custom fields are rich text too: wiki in v2
        if custom_fields.is_textarea(field) and field.id in document["fields"]:
            document["fields"][field.id] = wiki(issue.custom_values.get(field.id))
    body: dict[str, Any] = v2(document)
    return body


def issue_brief(site: Site, issue: Issue, viewer: str) -> dict[str, Any]:
    """The short issue of comment events: summary, type, project, assignee, priority, status."""
    document = issue_v2(site, issue, viewer)
    wanted = ("summary", "issuetype", "project", "assignee", "priority", "status")
    return {**document, "fields": {k: document["fields"].get(k) for k in wanted}}


def comment_v2(site: Site, note: Comment, viewer: str) -> dict[str, Any]:
    body: dict[str, Any] = v2(render.comment(site, note, viewer))
    body["body"] = wiki(note.body) or ""
    if note.visibility is not None:
        body["visibility"] = {"type": note.visibility_type, "value": note.visibility, "identifier": note.visibility}
    return body


def change(
    name: str, old: Any, old_text: Any, new: Any, new_text: Any, *, field_id: str | None = "", custom: bool = False
) -> dict[str, Any]:
    """A changelog item (§4.5); pseudo-fields (``Key``, ``Workflow``, ``Link``) have no ``fieldId``."""
    item: dict[str, Any] = {"field": name, "fieldtype": "custom" if custom else "jira"}
    if field_id is not None:
        item["fieldId"] = field_id or name
    return item | {"from": old, "fromString": old_text, "to": new, "toString": new_text}


def _person(site: Site, name: str, old: str | None, new: str | None) -> dict[str, Any]:
    def shown(account: str | None) -> str | None:
        return None if account is None else site.users[account].display_name

    return change(name, old, shown(old), new, shown(new)) | {"tmpFromAccountId": old, "tmpToAccountId": new}


def _sprints(site: Site, ids: list[int]) -> tuple[str, str]:
    return ", ".join(str(i) for i in ids), ", ".join(site.sprints[i].name for i in ids if i in site.sprints)


def diff(site: Site, old: Issue, new: Issue) -> list[dict[str, Any]]:
    """Changelog items between two states of an issue, as Jira names them."""
    items: list[dict[str, Any]] = []
    status = change(
        "status", old.status_id, site.statuses[old.status_id].name, new.status_id, site.statuses[new.status_id].name
    )
    if old.project_id != new.project_id:
        before, after = site.projects[old.project_id], site.projects[new.project_id]
        items += [
            change("project", before.id, before.name, after.id, after.name),
            change("Key", None, old.key, None, new.key, field_id=None),
            status,
            change(
                "Workflow",
                f"1{before.id}",
                f"{before.key} workflow",
                f"1{after.id}",
                f"{after.key} workflow",
                field_id=None,
            ),
        ]
    elif old.status_id != new.status_id:
        items.append(status)
    if (old.resolved_ms is None) != (new.resolved_ms is None):
        done = ("10000", "Done")
        items.append(
            change(
                "resolution", *(done if old.resolved_ms else (None, None)), *(done if new.resolved_ms else (None, None))
            )
        )
    if old.summary != new.summary:
        items.append(change("summary", None, old.summary, None, new.summary))
    if old.priority_id != new.priority_id:
        names = site.priorities
        items.append(
            change(
                "priority", old.priority_id, names[old.priority_id].name, new.priority_id, names[new.priority_id].name
            )
        )
    if old.assignee != new.assignee:
        items.append(_person(site, "assignee", old.assignee, new.assignee))
    if old.labels != new.labels:
        items.append(change("labels", None, " ".join(old.labels), None, " ".join(new.labels)))
    if old.description != new.description:
        items.append(change("description", None, wiki(old.description), None, wiki(new.description)))
    for field in custom_fields.others(site):
        was, is_now = old.custom_values.get(field.id), new.custom_values.get(field.id)
        if was != is_now:
            changed = (*custom_fields.shown(site, field, was), *custom_fields.shown(site, field, is_now))
            items.append(change(field.name, *changed, field_id=field.id, custom=True))
    if old.sprint_ids != new.sprint_ids:
        items.append(
            change(
                "Sprint",
                *_sprints(site, old.sprint_ids),
                *_sprints(site, new.sprint_ids),
                field_id=site.sprint_field,
                custom=True,
            )
        )
    return items


def created_items(site: Site, issue: Issue) -> list[dict[str, Any]]:
    """``jira:issue_created``'s changelog: the initial values (§6.4)."""
    items = [
        _person(site, "assignee", None, issue.assignee),
        change("description", None, None, None, wiki(issue.description)),
        change("priority", None, None, issue.priority_id, site.priorities[issue.priority_id].name),
        _person(site, "reporter", None, issue.reporter),
        change("status", None, None, issue.status_id, site.statuses[issue.status_id].name),
        change("summary", None, None, None, issue.summary),
    ]
    if issue.labels:
        items.append(change("labels", None, "", None, " ".join(issue.labels)))
    return items


def type_name(items: list[dict[str, Any]]) -> str:
    """``issue_event_type_name`` for an update: a move, a transition, an assignment or a plain edit."""
    fields = {item["field"] for item in items}
    if "project" in fields:
        return "issue_moved"
    if "status" in fields:
        return "issue_generic"
    return "issue_assigned" if fields == {"assignee"} else "issue_updated"


def link_item(site: Site, link: Link, issue_id: str, *, removed: bool) -> dict[str, Any]:
    """The ``Link`` item each end's changelog gets, worded from that end."""
    kind = site.link_types[link.type_id]
    outward = link.outward_from == issue_id
    other = site.issues[link.inward_to if outward else link.outward_from]
    text = f"This issue {kind.outward if outward else kind.inward} {other.key}"
    return (
        change("Link", other.key, text, None, None, field_id=None)
        if removed
        else change("Link", None, None, other.key, text, field_id=None)
    )


def issue_event(
    site: Site,
    event: str,
    issue: Issue,
    actor: str,
    timestamp: int,
    kind: str,
    items: list[dict[str, Any]] | None,
    extra: dict[str, Any] | None = None,
) -> Build:
    changelog_id = str(site.next_number("changelog", [100_000]))
    note = (extra or {}).get("comment")

    def build(viewer: str) -> dict[str, Any]:
        body: dict[str, Any] = {"timestamp": timestamp, "webhookEvent": event, "issue_event_type_name": kind}
        body |= {"user": v2(render.user(site, actor, viewer)), "issue": issue_v2(site, issue, viewer)}
        if items is not None:
            body["changelog"] = {"id": changelog_id, "items": items}
        if isinstance(note, Comment):
            body["comment"] = comment_v2(site, note, viewer)
        return body

    return build


def issue_deleted(site: Site, issue: Issue, actor: str, timestamp: int) -> Build:
    """The issue's last state; no ``issue_event_type_name`` or ``changelog`` (§6.4 says they may lack)."""
    return lambda viewer: {
        "timestamp": timestamp,
        "webhookEvent": "jira:issue_deleted",
        "user": v2(render.user(site, actor, viewer)),
        "issue": issue_v2(site, issue, viewer),
    }


def comment_event(site: Site, event: str, note: Comment, timestamp: int) -> Build:
    """No top-level ``user`` on comment events (§6.4)."""
    issue = site.issues[note.issue_id]
    return lambda viewer: {
        "timestamp": timestamp,
        "webhookEvent": event,
        "comment": comment_v2(site, note, viewer),
        "issue": issue_brief(site, issue, viewer),
    }


def link_event(site: Site, event: str, link: Link, timestamp: int) -> Build:
    """Numeric ids; ``sourceIssueId`` is the outward side (V9)."""
    kind = site.link_types[link.type_id]
    body = {
        "timestamp": timestamp,
        "webhookEvent": event,
        "issueLink": {
            "id": int(link.id),
            "sourceIssueId": int(link.outward_from),
            "destinationIssueId": int(link.inward_to),
            "issueLinkType": {
                "id": int(kind.id),
                "name": kind.name,
                "outwardName": kind.outward,
                "inwardName": kind.inward,
                "isSubTaskLinkType": False,
                "isSystemLinkType": False,
            },
            "systemLink": False,
        },
    }
    return lambda viewer: body


def sprint_body(site: Site, sprint: Sprint) -> dict[str, Any]:
    return render.sprint(site, sprint)


def sprint_event(site: Site, event: str, sprint: Sprint, timestamp: int, old: dict[str, Any] | None = None) -> Build:
    body: dict[str, Any] = {"timestamp": timestamp, "webhookEvent": event, "sprint": sprint_body(site, sprint)}
    if old is not None:
        body["oldValue"] = old
    return lambda viewer: body


def version_event(site: Site, event: str, version: Version, timestamp: int) -> Build:
    body = {"timestamp": timestamp, "webhookEvent": event, "version": v2(render.version(site, version))}
    return lambda viewer: body


def board_event(site: Site, board: Board, timestamp: int) -> Build:
    shown = {k: v for k, v in render.board(site, board).items() if k in ("id", "self", "name", "type")}
    body = {"timestamp": timestamp, "webhookEvent": "board_updated", "board": shown}
    return lambda viewer: body


def project_event(site: Site, project: Project, timestamp: int) -> Build:
    def build(viewer: str) -> dict[str, Any]:
        shown = {
            "self": f"{site.url}/rest/api/2/project/{project.id}",
            "id": int(project.id),
            "key": project.key,
            "name": project.name,
            "avatarUrls": render.avatar_urls(project.key),
            "projectLead": v2(render.user(site, project.lead, viewer)),
            "assigneeType": "admin.assignee.type.unassigned",
        }
        return {"timestamp": timestamp, "webhookEvent": "project_updated", "project": shown}

    return build
