"""Disabling an integration, keeping or deleting what it imported; running the deletions.

Disable first (so no import starts and no event is applied), drop its webhooks, cancel an import in
flight, and only then remove the data: batch by batch (``graph/erase.py``), each batch counted on
the deletion's record, a cancel honoured between two batches. Like imports, a deletion holds a lease
that a heartbeat renews, and one whose server died is resumed by any replica. Re-enabling waits for a
running deletion to end: an import must not write into a graph being emptied.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

from google.protobuf import field_mask_pb2

from graph.data_deletions import DataDeletionRecord, DataDeletionStore, DeletionLeaseLost
from graph.erase import GraphEraser
from graph.integration_store import IntegrationKey
from integrations.v1 import integration_service_pb2 as pb
from server.errors import FailedPrecondition
from server.gallery import Gallery, IntegrationView
from server.imports import ImportRunner
from server.leased_runs import LeasedRuns
from server.live_sync import LiveSync

logger = logging.getLogger(__name__)

BATCH_NODES = 1000  # per transaction, with their relationships (a task has a handful): DELETE_BATCH_NODES
IMPORT_STOP_SECONDS = 120.0  # how long a deletion waits for a cancelled import to stop


@dataclass(frozen=True)
class Disabled:
    view: IntegrationView
    deletion: DataDeletionRecord | None  # None: the data is kept


class DataDeletions(LeasedRuns):
    what = "data deletion"

    def __init__(
        self,
        store: DataDeletionStore,
        eraser: GraphEraser,
        gallery: Gallery,
        live_sync: LiveSync,
        imports: ImportRunner,
        *,
        batch: int = BATCH_NODES,
        owner: str | None = None,
    ) -> None:
        super().__init__(store.lease_seconds)
        self.store = store
        self._eraser = eraser
        self._gallery = gallery
        self._live_sync = live_sync
        self._imports = imports
        self._batch = batch
        self.owner = owner or f"eraser-{uuid.uuid4().hex[:12]}"

    # ------------------------------------------------------------ API used by the handlers

    async def disable(self, org_id: str, project_id: str, name: str, delete: bool, actor: str) -> Disabled:
        view = await self._gallery.update(
            org_id,
            project_id,
            pb.Integration(name=name, enabled=False),
            field_mask_pb2.FieldMask(paths=["enabled"]),
            "",
        )
        await self._live_sync.reconcile(view)  # its webhooks go with it
        if not delete:
            return Disabled(view, None)
        active = await self._imports.active(org_id, project_id, view.key.name)
        if active is not None:
            await self._imports.cancel(active.id)
        deletion = await self.store.create(org_id, project_id, view.key.name, actor)
        self._launch(deletion.id)
        return Disabled(view, deletion)

    async def require_none_running(self, key: IntegrationKey) -> None:
        """Refuse to turn an integration back on while its data is being deleted."""
        running = await self.store.running(key.org_id, key.project_id, key.name)
        if running is not None:
            raise FailedPrecondition(
                f"the data of {key.name} is being deleted ({running.id}); wait for it to end or cancel it",
                reason="DELETION_RUNNING",
            )

    async def get(self, deletion_id: str) -> DataDeletionRecord | None:
        return await self.store.get(deletion_id)

    async def cancel(self, deletion_id: str) -> DataDeletionRecord | None:
        cancelled = await self.store.cancel(deletion_id)
        self._notify(deletion_id)
        return cancelled

    async def _orphans(self) -> list[str]:
        return await self.store.orphans()

    # ------------------------------------------------------------ running one deletion

    async def _execute(self, deletion_id: str) -> None:
        deletion = await self.store.claim(deletion_id, self.owner)
        if deletion is None:
            return  # another runner has it, or it ended
        heartbeat = asyncio.get_running_loop().create_task(
            self._heartbeat(
                deletion_id,
                lambda: self.store.heartbeat(deletion_id, self.owner),
                DeletionLeaseLost,
                asyncio.current_task(),
            )
        )
        try:
            await self._run(deletion)
        except DeletionLeaseLost:
            logger.warning("data deletion %s: lease lost to another runner; stopping here", deletion_id)
        except Exception as exc:
            logger.exception("data deletion %s failed", deletion_id)
            await self.store.finish(deletion_id, self.owner, "FAILED", f"internal error ({type(exc).__name__})")
        finally:
            heartbeat.cancel()
            self._notify(deletion_id)

    async def _run(self, deletion: DataDeletionRecord) -> None:
        org_id, project_id, name = deletion.org_id, deletion.project_id, deletion.integration
        schema = (await self._gallery.get(org_id, project_id, name)).plugin.graph_schema
        if not await self._import_stopped(deletion):
            await self.store.finish(deletion.id, self.owner, "FAILED", "an import of it would not stop; try again")
            return
        removed = dict(deletion.removed)
        while True:
            batch = await self._eraser.erase_batch(org_id, project_id, schema, self._batch)
            if batch.done:
                break
            removed[batch.label] = removed.get(batch.label, 0) + batch.nodes
            cancel = await self.store.progress(
                deletion.id, self.owner, removed, batch.relationships, batch.nodes + batch.relationships
            )
            self._notify(deletion.id)
            if cancel:
                await self.store.finish(deletion.id, self.owner, "CANCELLED", "cancelled by request")
                logger.info("data deletion %s cancelled after removing %s", deletion.id, removed)
                return
        await self._eraser.forget_sync_state(org_id, project_id, name)
        await self.store.finish(deletion.id, self.owner, "SUCCEEDED")
        logger.info("data deletion %s of %s/%s/%s removed %s", deletion.id, org_id, project_id, name, removed)

    async def _import_stopped(self, deletion: DataDeletionRecord) -> bool:
        """An import cancelled by the disable stops at its next page; wait for it (bounded)."""
        deadline = asyncio.get_running_loop().time() + IMPORT_STOP_SECONDS
        while await self._imports.active(deletion.org_id, deletion.project_id, deletion.integration):
            if asyncio.get_running_loop().time() > deadline:
                return False
            await self.store.heartbeat(deletion.id, self.owner)
            await asyncio.sleep(0.5)
        return True
