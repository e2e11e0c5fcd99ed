"""The full Jira import of one site: get → transform → load, page by page, then cleanup (the sweep).

Fetch plan (its lower bound, reported against the calls made, comes with the next slice):
``/myself`` first (§2.1), the cloud id (``/_edge/tenant_info``), ``/field`` (which custom fields
hold sprint, rank and story points; the others become ``cf_*`` properties as the project maps
them), the projects (offset pages), per project its components and versions (offset pages) and its
issues (``/search/jql`` token pages, bounded JQL ``project = KEY ORDER BY id ASC``, explicit fields,
sent in a POST body when the site's custom fields make the list too long for a URL), the comments of
issues that have some when asked, then the Agile boards with their projects and the sprints of scrum
boards.
Issue pages are fetched ahead of the writes (``write_behind``), the ready ones written as one; each
write is checkpointed; a resumed run starts at the next project (the pages of a
project are cheap to read again, and the writer makes re-writing them free). Only a complete run
sweeps, and it leaves what projects out of view hold (``visibility.py``: a 404 is not a delete).
"""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from graph.import_jobs import INCREMENTAL, Progress
from graph.rows import Rows
from server.integrations.base import ImportContext, ImportFailure, ImportOutcome
from server.integrations.import_log import ImportLog
from server.integrations.jira import transform, visibility
from server.integrations.jira.client import JiraClient
from server.integrations.jira.errors import JiraBadRequest, JiraNotFound
from server.integrations.jira.options import JiraOptions
from server.integrations.write_behind import write_behind

WATERMARKS = "watermarks"
HIDDEN = "content_not_visible"  # checkpoint key: projects whose content answered 404 in this run
PROJECT_PAGE = 50
SEARCH_PAGE = 100
INCREMENTAL_OVERLAP = timedelta(minutes=5)  # as the gap repair's: re-read, never missed
OFFSET_PAGE = 50
ISSUE_FIELDS = (
    "summary",
    "description",
    "status",
    "issuetype",
    "priority",
    "parent",
    "project",
    "assignee",
    "creator",
    "reporter",
    "labels",
    "components",
    "fixVersions",
    "issuelinks",
    "duedate",
    "created",
    "updated",
    "resolutiondate",
    "comment",
)


def issue_fields(site_fields: transform.SiteFields) -> list[str]:
    """The fields an issue is read with, by the import, an event and a gap repair alike (so all three
    write the same record): the system fields above, then the site's custom fields by id."""
    return [*ISSUE_FIELDS, *site_fields.ids()]


class JiraImport:
    def __init__(self, client: JiraClient, context: ImportContext[JiraOptions], site_url: str) -> None:
        self._client = client
        self._ctx = context
        self._site_url = site_url
        self._log = ImportLog(context)
        raw = context.job.checkpoint.get(WATERMARKS)
        self._marks = {
            str(k): datetime.fromisoformat(str(v)) for k, v in (raw if isinstance(raw, dict) else {}).items()
        }
        self._visible: set[str] = set()  # every project the credential lists, selected or not
        hidden = context.job.checkpoint.get(HIDDEN)
        self._hidden = {str(h) for h in hidden} if isinstance(hidden, list) else set()  # listed, content 404

    async def run(self) -> ImportOutcome:
        options = self._ctx.settings.options
        await self._client.myself()
        cloud_id = self._client.cloud_id or ""  # the gateway's client knows it (OAuth)
        if not cloud_id:
            tenant = await self._client.get("/_edge/tenant_info")
            cloud_id = str(tenant.get("cloudId") or "") if isinstance(tenant, dict) else ""
        if not cloud_id:
            raise ImportFailure("Jira did not say which site this is (/_edge/tenant_info has no cloudId)")
        site_fields = transform.read_site_fields(await self._client.get("/rest/api/3/field"))
        projects = await self._projects(options)
        start = int(self._ctx.job.checkpoint.get("project", 0))
        if start == 0:
            name = self._site_url.split("//", 1)[-1].split(".", 1)[0]
            await self._commit(transform.site(cloud_id, name, self._site_url), "the site", {"project": 0})
        for index, project in enumerate(projects):
            if index >= start:
                await self._project(index, project, cloud_id, site_fields, options)
        await self._boards(cloud_id, {str(p.get("id")) for p in projects}, len(projects))
        if self._ctx.mode == INCREMENTAL:  # it saw only what changed: nothing can be swept
            return ImportOutcome([cloud_id], dict(self._marks), {}, await self._ctx.writer.totals())
        removed = await self._ctx.writer.sweep([cloud_id], await self._seen_or_not_visible())
        return ImportOutcome([cloud_id], dict(self._marks), removed, await self._ctx.writer.totals())

    def _issue_jql(self, key: str, cloud_id: str) -> str:
        """A project's issues: all of them, or in an incremental run those changed since the site's
        watermark less an overlap, in relative minutes as the gap repair asks (an absolute time would
        be read in the caller's profile time zone: unverified, §3.2)."""
        mark = self._ctx.since.get(cloud_id) if self._ctx.mode == INCREMENTAL else None
        if mark is None:
            return f'project = "{key}" ORDER BY id ASC'
        minutes = max(1, math.ceil((datetime.now(UTC) - (mark - INCREMENTAL_OVERLAP)).total_seconds() / 60) + 1)
        return f'project = "{key}" AND updated >= -{minutes}m ORDER BY id ASC'

    async def _seen_or_not_visible(self) -> dict[str, set[str]]:
        """What the sweep must leave: what this run saw, and what the graph holds of projects out of
        view (``visibility.py``)."""
        kept = await visibility.out_of_view(self._ctx.writer, self._visible, self._hidden)
        return visibility.with_kept(self._log.seen, kept)

    async def _projects(self, options: JiraOptions) -> list[dict[str, Any]]:
        params = {"status": "live,archived"} if options.include_archived else None
        found: list[dict[str, Any]] = []
        async for page in self._client.offset_pages("/rest/api/3/project/search", params, page_size=PROJECT_PAGE):
            found.extend(item for item in page.values if isinstance(item, dict))
        self._visible = {str(p.get("id")) for p in found}
        if options.project_keys:
            keys = {str(p.get("key")) for p in found}
            missing = sorted(set(options.project_keys) - keys)
            if missing:
                raise ImportFailure(f"the credentials cannot see project(s) {', '.join(missing)}")
            found = [p for p in found if str(p.get("key")) in options.project_keys]
        return sorted(found, key=lambda p: int(str(p.get("id"))) if str(p.get("id")).isdigit() else 0)

    async def _project(
        self,
        index: int,
        project: dict[str, Any],
        cloud_id: str,
        site_fields: transform.SiteFields,
        options: JiraOptions,
    ) -> None:
        key, project_id = str(project.get("key")), str(project.get("id"))
        rows = transform.project(project, cloud_id)
        try:
            await self._project_content(index, key, project_id, rows, cloud_id, site_fields, options)
        except JiraNotFound:
            # Missing *or not visible* (§7): an archived project hides its content, access can be lost
            # mid-run. The project node stays; its content is what the credential cannot see.
            rows = transform.project(project, cloud_id)
            rows.issues["project_content_not_visible"] += 1
            self._hidden.add(project_id)
            await self._commit(rows, f"project {key} (content not visible)", {"project": index})
        await self._commit(Rows(), f"project {key} done", {"project": index + 1})

    async def _project_content(
        self,
        index: int,
        key: str,
        project_id: str,
        rows: Rows,
        cloud_id: str,
        site_fields: transform.SiteFields,
        options: JiraOptions,
    ) -> None:
        async for page in self._client.offset_pages(f"/rest/api/3/project/{key}/component", page_size=OFFSET_PAGE):
            for item in page.values:
                rows.extend(transform.component(item, cloud_id, project_id))
        async for page in self._client.offset_pages(f"/rest/api/3/project/{key}/version", page_size=OFFSET_PAGE):
            for item in page.values:
                rows.extend(transform.version(item, cloud_id, project_id))
        await self._commit(rows, f"project {key}", {"project": index})
        await write_behind(self._issue_pages(key, cloud_id, site_fields, options), self._write_issues(index, cloud_id))

    async def _issue_pages(
        self, key: str, cloud_id: str, site_fields: transform.SiteFields, options: JiraOptions
    ) -> AsyncGenerator[tuple[Rows, str], None]:
        """The project's issue pages, transformed (comments read where asked), with their phase."""
        mapping = self._ctx.settings.fields
        page_number = 0
        async for found in self._client.search_pages(
            self._issue_jql(key, cloud_id), issue_fields(site_fields), page_size=SEARCH_PAGE
        ):
            rows = Rows()
            for item in found.issues:
                rows.extend(transform.issue(item, cloud_id, site_fields, mapping))
                if options.include_comments:
                    rows.extend(await self._comments(item, cloud_id))
            yield rows, f"issues of {key}, page {page_number}"
            page_number += 1

    def _write_issues(self, index: int, cloud_id: str) -> Callable[[list[tuple[Rows, str]]], Awaitable[None]]:
        """Issue pages fetched ahead (``write_behind``), the ready ones written as one; the checkpoint
        stays at the project (a resumed run reads its pages again, cheaply)."""

        async def write(pages: list[tuple[Rows, str]]) -> None:
            rows = Rows()
            for page, _ in pages:
                rows.extend(page)
            self._newest(rows, cloud_id)
            await self._commit(rows, pages[-1][1], {"project": index}, len(pages))

        return write

    async def _comments(self, item: dict[str, Any], cloud_id: str) -> Rows:
        return await fetch_comments(self._client, item, cloud_id)

    async def _boards(self, cloud_id: str, project_ids: set[str], projects: int) -> None:
        rows = Rows()
        sprints: list[Any] = []  # a sprint shows on every board whose filter has it: deduped once, below
        async for page in self._client.offset_pages("/rest/agile/1.0/board", page_size=OFFSET_PAGE):
            for board in page.values:
                if not isinstance(board, dict):
                    continue
                board_id = str(board.get("id"))
                shown: list[str] = []
                async for listed in self._client.offset_pages(f"/rest/agile/1.0/board/{board_id}/project"):
                    shown.extend(str(p.get("id")) for p in listed.values if isinstance(p, dict))
                shown = [p for p in shown if p in project_ids]
                if not shown:
                    continue  # a board of projects this import does not cover
                rows.extend(transform.board(board, cloud_id, shown))
                if board.get("type") != "scrum":
                    continue  # kanban and simple boards have no sprints (Jira answers 400 if asked)
                try:
                    async for listed in self._client.offset_pages(f"/rest/agile/1.0/board/{board_id}/sprint"):
                        sprints.extend(listed.values)
                except JiraBadRequest:  # a board whose sprints are switched off: none to read
                    continue
        rows.extend(transform.sprints(sprints, cloud_id))
        await self._commit(rows, "boards and sprints", {"project": projects})

    def _newest(self, rows: Rows, cloud_id: str) -> None:
        for node in rows.nodes:
            if node.label == "Issue" and node.source_updated_at:
                mark = self._marks.get(cloud_id)
                if mark is None or node.source_updated_at > mark:
                    self._marks[cloud_id] = node.source_updated_at

    async def _commit(self, rows: Rows, phase: str, checkpoint: dict[str, Any], pages: int = 1) -> None:
        """Write one page (or several as one), then checkpoint with the ids they saw (a crash in
        between redoes them)."""
        page_seen = await self._log.write(rows, pages)
        progress = Progress(
            counters=self._log.counts(),
            api_calls=self._ctx.job.api_calls + self._client.stats.api_calls,
            rate_limit_waits=self._ctx.job.rate_limit_waits + self._client.stats.rate_limited,
            pages=self._log.pages,
            phase=phase,
            checkpoint={
                **checkpoint,
                WATERMARKS: {k: m.isoformat() for k, m in self._marks.items()},
                HIDDEN: sorted(self._hidden),
            },
        )
        await self._ctx.report(progress, page_seen)


async def fetch_comments(client: JiraClient, item: Any, cloud_id: str) -> Rows:
    """The comments of a searched issue: the embedded list when it is whole (Jira truncates it, §4.3),
    else every page of ``/comment``."""
    rows = Rows()
    fields: Any = item.get("fields") if isinstance(item, dict) else None
    listed = fields.get("comment") if isinstance(fields, dict) else None
    if not isinstance(listed, dict) or not listed.get("total"):
        return rows
    issue_id = str(item.get("id"))
    embedded = listed.get("comments")
    total = listed.get("total")
    if isinstance(embedded, list) and isinstance(total, int) and not isinstance(total, bool) and len(embedded) >= total:
        for comment in embedded:  # the whole list came with the issue: no call needed
            rows.extend(transform.comment(comment, issue_id, cloud_id))
        return rows
    path = f"/rest/api/3/issue/{issue_id}/comment"
    async for page in client.offset_pages(path, container="comments", page_size=100):
        for comment in page.values:
            rows.extend(transform.comment(comment, issue_id, cloud_id))
    return rows
