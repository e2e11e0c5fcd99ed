"""The full Tracker import: get -> transform -> load, page by page, then cleanup (the sweep).

Fetch plan: ``GET /boards`` (every page), then per selected board ``GET /boards/{id}/cards`` page by
page. Each page is written and checkpointed (``{"board": index, "page": next}`` plus the watermarks
so far), so a resumed run starts at the next page. Only a complete run sweeps.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from graph.import_jobs import Progress
from graph.rows import Rows
from server.integrations.base import ImportContext, ImportFailure, ImportOutcome
from server.integrations.import_log import ImportLog
from tests.tracker import transform
from tests.tracker.client import PER_PAGE, TrackerClient, TrackerError
from tests.tracker.options import TrackerOptions

WATERMARKS = "watermarks"


def newest(rows: Rows, marks: dict[str, datetime]) -> None:
    """Raise each board's watermark to the newest card change in ``rows``."""
    for node in rows.nodes:
        if node.label == "TrackerCard" and node.source_updated_at and node.workspace_id:
            mark = marks.get(node.workspace_id)
            if mark is None or node.source_updated_at > mark:
                marks[node.workspace_id] = node.source_updated_at


class TrackerImport:
    def __init__(self, client: TrackerClient, context: ImportContext[TrackerOptions]) -> None:
        self._client = client
        self._ctx = context
        self._log = ImportLog(context)
        raw = context.job.checkpoint.get(WATERMARKS)
        self._marks = {
            str(k): datetime.fromisoformat(str(v)) for k, v in (raw if isinstance(raw, dict) else {}).items()
        }

    async def run(self) -> ImportOutcome:
        visible = await self._client.all("/boards", "boards")
        wanted = list(self._ctx.settings.options.board_ids)
        missing = sorted(set(wanted) - {str(b.get("id")) for b in visible})
        if missing:
            raise ImportFailure(f"the token cannot see board(s) {', '.join(missing)}")
        boards = [b for b in visible if not wanted or str(b.get("id")) in wanted]
        checkpoint = self._ctx.job.checkpoint
        start, start_page = int(checkpoint.get("board", 0)), int(checkpoint.get("page", 0))
        for index, board in enumerate(boards):
            if index >= start:
                await self._board(index, board, start_page if index == start else 0)
        board_ids = [str(b.get("id")) for b in boards]
        removed = await self._ctx.writer.sweep(board_ids, self._log.seen)
        return ImportOutcome(board_ids, dict(self._marks), removed, await self._ctx.writer.totals())

    async def _board(self, index: int, board: dict[str, Any], page: int) -> None:
        board_id = str(board.get("id"))
        path = f"/boards/{board_id}/cards"
        while True:
            body = await self._client.get(path, {"page": page, "per_page": PER_PAGE})
            cards = body.get("cards")
            if not isinstance(cards, list):
                raise TrackerError(f"GET {path}: the answer has no 'cards' list")
            rows = transform.board(board) if page == 0 else Rows()
            for item in cards:
                if isinstance(item, dict):
                    rows.extend(transform.card(item))
            newest(rows, self._marks)
            following = body.get("next_page")
            if following is not None and (not isinstance(following, int) or following <= page):
                raise TrackerError(f"GET {path}: paging did not advance")
            after = {"board": index + 1, "page": 0} if following is None else {"board": index, "page": following}
            await self._commit(rows, f"cards of board {board_id}, page {page}", after)
            if following is None:
                return
            page = following

    async def _commit(self, rows: Rows, phase: str, checkpoint: dict[str, Any]) -> None:
        """Write one page, then checkpoint it with the ids it saw (a crash in between redoes the page)."""
        page_seen = await self._log.write(rows)
        progress = Progress(
            counters=self._log.counts(),
            api_calls=self._ctx.job.api_calls + self._client.api_calls,
            rate_limit_waits=self._ctx.job.rate_limit_waits,
            pages=self._log.pages,
            phase=phase,
            checkpoint={**checkpoint, WATERMARKS: {b: m.isoformat() for b, m in self._marks.items()}},
        )
        await self._ctx.report(progress, page_seen)
