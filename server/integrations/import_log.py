"""The bookkeeping every page-by-page import shares: what it wrote, what it saw, how many pages.

A plugin's importer writes a page through ``ImportLog.write`` and builds its ``Progress`` from
``counts()``; the log starts from the job, so a resumed run goes on counting where it stopped, and
its ``seen`` ids are what the sweep after a complete run keeps.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from graph.rows import Rows
from server.integrations.base import ImportContext


class ImportLog:
    def __init__(self, context: ImportContext[Any]) -> None:
        self._context = context
        kinds = {label.lower() for label in context.writer.schema.labels}
        self.seen: dict[str, set[str]] = {label: set(ids) for label, ids in context.seen.items()}
        # Per-kind counts are recomputed from ``seen``; the rest (written, repaired, skipped) carry on.
        self.counters: Counter[str] = Counter({k: v for k, v in context.job.counters.items() if k not in kinds})
        self.pages = context.job.pages

    async def write(self, rows: Rows, pages: int = 1) -> dict[str, list[str]]:
        """Write ``pages`` pages' rows (as this job's run) in one write and count them; returns the ids
        they saw, per kind, for the checkpoint (a crash between the write and the checkpoint redoes
        them)."""
        written = await self._context.writer.write(rows, self._context.job.id)
        self.counters.update(
            {
                "nodes_written": sum(written.changed.values()),
                "properties_set": written.properties_set,
                "relationships_created": written.relationships_created,
                "relationships_deleted": written.relationships_deleted,
            }
        )
        self.counters.update(rows.issues)
        page_seen: dict[str, set[str]] = {}
        for node in rows.nodes:
            page_seen.setdefault(node.label, set()).add(node.external_id)
            self.seen.setdefault(node.label, set()).add(node.external_id)
        self.pages += pages
        return {label: sorted(ids) for label, ids in page_seen.items()}

    def counts(self) -> dict[str, int]:
        """The job's counters: what was written so far, and the nodes seen per kind."""
        return {**self.counters, **{label.lower(): len(ids) for label, ids in self.seen.items()}}
