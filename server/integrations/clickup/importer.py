"""The full ClickUp import: the fetch plan, page by page, through the shared graph writer.

Fetch plan (every call is needed):
  GET /team                                   workspaces and members
  per workspace: GET /team/{id}/space         archived=false and archived=true
  per space:     GET /space/{id}/folder       both archived values (lists come inline)
                 GET /space/{id}/list         both values (folderless lists)
  per folder:    GET /folder/{id}/list        archived=true (archived lists of a live folder)
  per workspace: GET /team/{id}/task          subtasks=true, include_closed=true, both archived
                                              values, oldest first, pages until a short page,
                                              each from the newest date_created of the last

Workspace-wide task paging beats per-list paging: it needs about tasks/99 calls instead of at
least one per list (21 lists of the default sandbox workspace, most with under 100 tasks).
Each page is written, then checkpointed with the ids it saw and the watermarks reached so far (the
newest ``date_updated`` per workspace); a resumed run starts at the next page with those watermarks,
since the tasks of earlier pages are not read again. A task seen twice (the last of a page, read
again first on the next; servers whose archived=true also returns live tasks) is written once.
With ``include_comments`` each task also costs ceil((comments + 1) / 25) calls to
``GET /task/{id}/comment``, written in the same commit as the task's page.

An INCREMENTAL run reads the same hierarchy, then the task pages with ``date_updated_gt`` at each
workspace's watermark (less an overlap): hierarchy calls + ceil(changed / 99) calls. It sweeps
nothing; deletions reach the graph through webhooks and the next full import.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from graph.import_jobs import INCREMENTAL, Progress
from graph.rows import Rows
from server.integrations.base import ImportContext, ImportOutcome
from server.integrations.clickup import transform
from server.integrations.clickup.client import ClickUpClient, items_of
from server.integrations.clickup.errors import ClickUpResponseError
from server.integrations.clickup.options import ClickUpOptions
from server.integrations.import_log import ImportLog
from server.integrations.write_behind import write_behind

PAGE_SIZE = 100
COMMENT_PAGE_SIZE = 25


WATERMARKS = "watermarks"  # checkpoint key: {workspace id: ISO time}
CREATED_AFTER = "created_after"  # checkpoint key: the task pages' cursor (ms), see ``_next_page``


INCREMENTAL_OVERLAP = timedelta(minutes=5)  # as the gap repair's: re-read, never missed


@dataclass(frozen=True)
class _Page:
    """One task page, transformed: its rows, what its checkpoint says, and its newest change."""

    rows: Rows
    phase: str
    following: dict[str, Any]
    newest: datetime | None
    task_ids: tuple[str, ...]


class ImportFailed(RuntimeError):
    """The import cannot go on (e.g. a selected workspace is not visible); the job fails with this."""


def _created_after(checkpoint: dict[str, Any]) -> int | None:
    """The task cursor a checkpoint carries (none in checkpoints written before it did)."""
    value = checkpoint.get(CREATED_AFTER)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _next_page(page: int, after: int | None, tasks: list[dict[str, Any]]) -> tuple[int, int | None]:
    """Where the next page starts: just before the newest ``date_created`` read, so tasks created in
    that same millisecond are read again (and skipped as seen) rather than missed; by page number
    within one cursor only while a whole page shares one millisecond (or carries no dates)."""
    created = [int(str(t.get("date_created"))) for t in tasks if str(t.get("date_created")).isdigit()]
    if len(created) > 1 and created[0] > created[-1]:
        # Newest first: ``reverse=true`` meaning oldest first is an inference of the facts (§ task
        # listing), not a documented promise. A cursor would then skip everything older than the first
        # page, so such a server is paged by page number, as before the cursor.
        return page + 1, after
    cursor = max(created) - 1 if created else None
    if cursor is not None and (after is None or cursor > after):
        return 0, cursor
    return page + 1, after


def task_page_params(page: int, after: int | None, archived: bool, changed_since: int | None) -> dict[str, Any]:
    """A task page's query: every task (subtasks, closed ones), oldest first from the ``after``
    cursor (``_next_page``), and in an incremental run only those updated after ``changed_since``."""
    params: dict[str, Any] = {
        "page": page,
        "subtasks": True,
        "include_closed": True,
        "archived": archived,
        "order_by": "created",
        "reverse": True,
    }
    if after is not None:
        params["date_created_gt"] = after
    if changed_since is not None:
        params["date_updated_gt"] = changed_since
    return params


def _read_watermarks(checkpoint: dict[str, Any]) -> dict[str, datetime]:
    """The watermarks a checkpoint carries (none in checkpoints written before they did)."""
    raw = checkpoint.get(WATERMARKS)
    marks: dict[str, datetime] = {}
    for workspace_id, value in (raw if isinstance(raw, dict) else {}).items():
        try:
            marks[str(workspace_id)] = datetime.fromisoformat(str(value))
        except ValueError:
            continue  # unreadable: the workspace keeps whatever is stored
    return marks


async def fetch_comments(client: ClickUpClient, task_id: str, team_id: str) -> Rows:
    """All comments of a task: 25 newest per call, then older ones by the (start, start_id) cursor."""
    rows = Rows()
    path = f"/task/{task_id}/comment"
    params: dict[str, Any] = {}
    while True:
        comments = items_of(await client.get(path, params), "comments", path)
        for item in comments:
            rows.extend(transform.comment(item, task_id, team_id))
        if len(comments) < COMMENT_PAGE_SIZE:
            return rows
        oldest = comments[-1]
        following = {"start": oldest.get("date"), "start_id": oldest.get("id")}
        if following == params or None in following.values():
            raise ClickUpResponseError(f"ClickUp's comment paging for task {task_id} did not advance")
        params = following


class ClickUpImport:
    def __init__(self, client: ClickUpClient, context: ImportContext[ClickUpOptions]) -> None:
        self._client = client
        self._ctx = context
        self._log = ImportLog(context)
        self._calls_before = client.stats.api_calls
        self._waits_before = client.limiter.stats.waits
        self._watermarks = _read_watermarks(context.job.checkpoint)
        # Task ids fetched ahead but not committed yet (the queue's, the batch being written, the page
        # being read): with the log's seen ids, what a page read again at the cursor must skip,
        # without a second copy of every id the run has seen.
        self._in_flight: set[str] = set()

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return await self._client.get(path, params)

    def _progress(self, phase: str, checkpoint: dict[str, Any]) -> Progress:
        checkpoint = {**checkpoint, WATERMARKS: {ws: mark.isoformat() for ws, mark in self._watermarks.items()}}
        return Progress(
            counters=self._log.counts(),
            api_calls=self._ctx.job.api_calls + self._client.stats.api_calls - self._calls_before,
            rate_limit_waits=self._ctx.job.rate_limit_waits + self._client.limiter.stats.waits - self._waits_before,
            pages=self._log.pages,
            phase=phase,
            checkpoint=checkpoint,
        )

    async def _commit(self, rows: Rows, phase: str, checkpoint: dict[str, Any], pages: int = 1) -> None:
        """Write one page (or several as one), then checkpoint with the ids they saw (crash in
        between: redo them)."""
        page_seen = await self._log.write(rows, pages)
        await self._ctx.report(self._progress(phase, checkpoint), page_seen)

    async def run(self) -> ImportOutcome:
        checkpoint = self._ctx.job.checkpoint
        teams = items_of(await self._get("/team"), "teams", "/team")
        wanted = list(self._ctx.settings.options.workspace_ids)
        visible = {str(t.get("id")) for t in teams}
        missing = [w for w in wanted if w not in visible]
        if missing:
            raise ImportFailed(f"the token cannot see workspace(s) {', '.join(missing)}")
        selected = [t for t in teams if not wanted or str(t.get("id")) in wanted]
        start_team = int(checkpoint.get("team", 0))
        for index, team in enumerate(selected):
            if index < start_team:
                continue
            team_id = str(team.get("id"))
            resuming_tasks = index == start_team and checkpoint.get("stage") == "tasks"
            if not resuming_tasks:
                await self._hierarchy(team, index)
            await self._tasks(team_id, index, checkpoint if resuming_tasks else {})
        workspace_ids = [str(t.get("id")) for t in selected]
        if self._ctx.mode == INCREMENTAL:  # it saw only what changed: nothing can be swept
            return ImportOutcome(workspace_ids, self._watermarks, {}, await self._ctx.writer.totals())
        # Only a complete run gets here: what it did not see is gone from ClickUp.
        removed = await self._ctx.writer.sweep(workspace_ids, self._log.seen)
        return ImportOutcome(workspace_ids, self._watermarks, removed, await self._ctx.writer.totals())

    async def _hierarchy(self, team: dict[str, Any], index: int) -> None:
        team_id = str(team["id"])
        rows = transform.workspace(team)
        for archived in (False, True):
            path = f"/team/{team_id}/space"
            for space in items_of(await self._get(path, {"archived": archived}), "spaces", path):
                space_id = str(space.get("id"))
                rows.extend(transform.space(space, team_id))
                for folder_archived in (False, True):
                    folder_path = f"/space/{space_id}/folder"
                    body = await self._get(folder_path, {"archived": folder_archived})
                    for folder in items_of(body, "folders", folder_path):
                        folder_id = str(folder.get("id"))
                        rows.extend(transform.folder(folder, team_id, space_id))
                        for item in folder.get("lists") or []:
                            if isinstance(item, dict):
                                rows.extend(transform.task_list(item, team_id, space_id, folder_id))
                        archived_lists = f"/folder/{folder_id}/list"
                        for item in items_of(
                            await self._get(archived_lists, {"archived": True}), "lists", archived_lists
                        ):
                            rows.extend(transform.task_list(item, team_id, space_id, folder_id))
                    list_path = f"/space/{space_id}/list"
                    for item in items_of(await self._get(list_path, {"archived": folder_archived}), "lists", list_path):
                        rows.extend(transform.task_list(item, team_id, space_id, None))
        await self._commit(
            rows, f"hierarchy of workspace {team_id}", {"team": index, "stage": "tasks", "archived": False, "page": 0}
        )

    async def _tasks(self, team_id: str, index: int, checkpoint: dict[str, Any]) -> None:
        """Task pages, fetched and transformed ahead of the write (``write_behind``): the pages ready
        are written as one and checkpointed at the last of them, so a checkpoint still names only
        committed pages, and a cancel (raised by the checkpoint) stops the fetching too."""

        async def write(pages: list[_Page]) -> None:
            rows = Rows()
            for page in pages:
                rows.extend(page.rows)
                mark = self._watermarks.get(team_id)
                if page.newest is not None and (mark is None or page.newest > mark):
                    self._watermarks[team_id] = page.newest
            await self._commit(rows, pages[-1].phase, pages[-1].following, len(pages))
            for page in pages:
                self._in_flight.difference_update(page.task_ids)  # in the log's seen ids now

        await write_behind(self._task_pages(team_id, index, checkpoint), write)

    def _changed_since(self, team_id: str) -> int | None:
        """An incremental run's bound (ms) for a workspace: its watermark less an overlap (a change
        committed at ClickUp in the same moment may be listed late); None: every task."""
        mark = self._ctx.since.get(team_id) if self._ctx.mode == INCREMENTAL else None
        return None if mark is None else int((mark - INCREMENTAL_OVERLAP).timestamp() * 1000)

    async def _task_pages(self, team_id: str, index: int, checkpoint: dict[str, Any]) -> AsyncGenerator[_Page, None]:
        path = f"/team/{team_id}/task"
        start_archived = bool(checkpoint.get("archived", False))
        committed = self._log.seen.setdefault("Task", set())
        changed_since = self._changed_since(team_id)
        for archived in (False, True):
            if archived < start_archived:
                continue
            page = int(checkpoint.get("page", 0)) if archived == start_archived else 0
            # Each page starts where the last one ended (``date_created_gt``), not at a page number
            # from the start: a task deleted from a page already read would shift the rest, and the
            # task then moved onto that page would never be imported. None: from the start (or a
            # checkpoint written before the cursor, resumed by its page number).
            after = _created_after(checkpoint) if archived == start_archived else None
            read = 0
            while True:
                body = await self._get(path, task_page_params(page, after, archived, changed_since))
                tasks = items_of(body, "tasks", path)
                rows = Rows()
                newest: datetime | None = None
                page_ids: list[str] = []
                for item in tasks:
                    task_id = str(item.get("id"))
                    if task_id in committed or task_id in self._in_flight:
                        rows.issues["duplicates_skipped"] += 1
                        continue
                    self._in_flight.add(task_id)
                    page_ids.append(task_id)
                    task_rows = transform.task(item, team_id, self._ctx.settings.fields)
                    rows.extend(task_rows)
                    for node in task_rows.nodes:
                        updated = node.source_updated_at
                        if node.label == "Task" and updated is not None and (newest is None or updated > newest):
                            newest = updated
                if self._ctx.settings.options.include_comments:
                    for node in [n for n in rows.nodes if n.label == "Task"]:
                        rows.extend(await fetch_comments(self._client, node.external_id, team_id))
                last = len(tasks) < PAGE_SIZE
                page, after = _next_page(page, after, tasks)
                following = (
                    {"team": index, "stage": "tasks", "archived": archived, "page": page, CREATED_AFTER: after}
                    if not last
                    else {"team": index, "stage": "tasks", "archived": True, "page": 0}
                    if not archived
                    else {"team": index + 1, "stage": "hierarchy"}
                )
                label = "archived tasks" if archived else "tasks"
                yield _Page(rows, f"{label} of workspace {team_id}, page {read}", following, newest, tuple(page_ids))
                read += 1
                if last:
                    break
