"""The audit trail as the handlers use it: one call per change, made after the change took effect.

A record that cannot be written does not undo the change it describes (the caller would retry a
change that is already made); it is logged as an ERROR with who did what, so it is not lost unseen.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from graph.audit_log import AuditEntry, AuditLog

logger = logging.getLogger(__name__)


class AuditTrail:
    def __init__(self, log: AuditLog) -> None:
        self._log = log

    async def record(
        self, actor: str, org_id: str, project_id: str, integration: str, action: str, details: Mapping[str, str]
    ) -> None:
        try:
            await self._log.record(org_id, project_id, integration, action, actor, details)
        except Exception:
            logger.exception(
                "audit record not written: %s by %s on %s/%s/%s %s",
                action,
                actor,
                org_id,
                project_id,
                integration or "-",
                dict(details),
            )

    async def records(
        self, org_id: str, project_id: str, integration: str | None, offset: int, limit: int
    ) -> list[AuditEntry]:
        return await self._log.list_records(org_id, project_id, integration, offset, limit)
