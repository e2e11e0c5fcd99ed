"""What the import benchmarks share: one full import through the gRPC server, followed to its end."""

from __future__ import annotations

import time
from typing import Any

from integrations.v1 import integration_service_pb2 as pb


async def import_once(hub: Any, tenant: tuple[str, str], name: str, admin: str) -> tuple[pb.ImportJob, float]:
    """Start an import of ``name`` and watch it to its end; the final job and the wall time."""
    metadata = (("authorization", f"Bearer {admin}"),)
    started = time.perf_counter()
    job = await hub.stub.StartImport(
        pb.StartImportRequest(org_id=tenant[0], project_id=tenant[1], name=name), metadata=metadata
    )
    final = job
    async for update in hub.stub.WatchImportJob(
        pb.WatchImportJobRequest(org_id=tenant[0], project_id=tenant[1], job_id=job.id), metadata=metadata
    ):
        final = update
    if final.state != pb.IMPORT_JOB_STATE_SUCCEEDED:
        raise SystemExit(f"import failed: {final.error}")
    return final, time.perf_counter() - started
