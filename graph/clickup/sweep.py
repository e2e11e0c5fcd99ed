"""After a *complete* import: what the run did not see no longer exists in ClickUp.

Such nodes of the imported workspaces become ``(:Tombstone)`` rows and leave the live graph
(``DETACH DELETE``), in batches and scoped to the project. People are not swept (they can
belong to several workspaces); the writer rebuilds their memberships instead.
"""

from __future__ import annotations

from collections.abc import Iterable

import neo4j

from graph.clickup.mapping import SOURCE

SWEPT = ("Comment", "Task", "Tag", "List", "Folder", "Space")
BATCH = 5_000


async def sweep(
    driver: neo4j.AsyncDriver, database: str, project_id: str, workspace_ids: Iterable[str], seen: dict[str, set[str]]
) -> dict[str, int]:
    removed: dict[str, int] = {}
    workspaces = sorted(workspace_ids)
    for label in SWEPT:
        records, _, _ = await driver.execute_query(
            f"MATCH (n:{label} {{projectId: $project, source: $source}}) WHERE n.workspaceId IN $workspaces "
            "RETURN n.externalId AS id",
            project=project_id,
            source=SOURCE,
            workspaces=workspaces,
            database_=database,
        )
        gone = sorted({r["id"] for r in records} - seen.get(label, set()))
        for start in range(0, len(gone), BATCH):
            await driver.execute_query(
                f"""
                UNWIND $ids AS id
                MATCH (n:{label} {{projectId: $project, source: $source, externalId: id}})
                MERGE (t:Tombstone {{projectId: $project, source: $source, kind: '{label}', externalId: id}})
                SET t.deletedAt = datetime(), t.orgId = n.orgId, t.workspaceId = n.workspaceId, t.name = n.name
                DETACH DELETE n
                """,
                ids=gone[start : start + BATCH],
                project=project_id,
                source=SOURCE,
                database_=database,
            )
        removed[label] = len(gone)
    return removed


async def totals(driver: neo4j.AsyncDriver, database: str, project_id: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for label in ("Workspace", "Space", "Folder", "List", "Task", "Person", "Tag", "Comment"):
        records, _, _ = await driver.execute_query(
            f"MATCH (n:{label} {{projectId: $project, source: $source}}) RETURN count(n) AS c",
            project=project_id,
            source=SOURCE,
            database_=database,
        )
        counts[label.lower()] = int(records[0]["c"])
    return counts
