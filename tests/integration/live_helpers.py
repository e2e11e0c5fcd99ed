"""Small graph reads shared by the live-sync tests."""

from __future__ import annotations

import neo4j


def task_name(driver: neo4j.Driver, tenant: tuple[str, str], task_id: str) -> str | None:
    records, _, _ = driver.execute_query(
        "MATCH (t:Task {projectId: $p, externalId: $id}) RETURN t.name AS name", p=tenant[1], id=task_id
    )
    return records[0]["name"] if records else None
