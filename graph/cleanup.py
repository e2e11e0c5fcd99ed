"""Removing what a source no longer has, driven by its ``GraphSchema``; every removal leaves tombstones.

- ``sweep``: after a *complete* run, nodes of the swept kinds in the imported scopes (``workspaceId``)
  that the run did not see no longer exist at the source. They become ``(:Tombstone)`` rows and
  leave the live graph (``DETACH DELETE``), in batches and scoped to the project. Kinds that are not
  swept (people, who can belong to several scopes) keep their node; the writer rebuilds their edges.
- ``delete``: one node deleted at the source, with what the schema's cascades reach from it.
- ``totals``: nodes per kind, for the import's result.

A tombstone (unique on ``projectId, source, kind, externalId``) stops late updates: the writer
skips rows older than it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import neo4j

from graph.projects import OWNER, check_owner, lock, project_lock
from graph.schema import Direction, GraphSchema, Step

BATCH = 5_000
# A listing comes back in lists of ids that Neo4j slices: read record by record, the driver's cost per
# record was most of a sweep (0.68 s for 20,000 tasks, 0.03 s in lists); the client still holds one
# list at a time besides the ids it keeps.
LISTED = 1_000
_IN_LISTS = (
    "WITH collect(n.externalId) AS ids UNWIND range(0, size(ids) - 1, $listed) AS start "
    "RETURN ids[start..start + $listed] AS ids"
)


async def sweep(
    driver: neo4j.AsyncDriver,
    database: str,
    schema: GraphSchema,
    project_id: str,
    workspace_ids: Iterable[str],
    seen: dict[str, set[str]],
    kinds: Iterable[str] | None = None,
) -> dict[str, int]:
    removed: dict[str, int] = {}
    workspaces = sorted(workspace_ids)
    chosen = schema.swept if kinds is None else tuple(k for k in schema.swept if k in set(kinds))
    if kinds is not None and len(chosen) != len(set(kinds)):
        raise ValueError(f"only swept kinds can be swept: {sorted(set(kinds) - set(chosen))}")
    for label in chosen:
        gone = await _unseen(
            driver,
            database,
            f"MATCH (n:{label} {{projectId: $project, source: $source}}) WHERE n.workspaceId IN $workspaces",
            seen.get(label, set()),
            project=project_id,
            source=schema.source,
            workspaces=workspaces,
        )
        # Under the project's write lock, as every writer and ``delete``: a write that checked for a
        # tombstone before this committed would otherwise make the swept node again as a stub.
        await _in_batches(
            driver,
            database,
            f"""
            {project_lock("project")}
            UNWIND $ids AS id
            MATCH (n:{label} {{projectId: $project, source: $source, externalId: id}})
            MERGE (t:Tombstone {{projectId: $project, source: $source, kind: '{label}', externalId: id}})
            SET t.deletedAt = datetime(), t.orgId = n.orgId, t.workspaceId = n.workspaceId, t.name = n.name
            DETACH DELETE n
            """,
            gone,
            project=project_id,
            source=schema.source,
        )
        removed[label] = len(gone)
        if label in schema.stubs_swept:
            await _sweep_stubs(driver, database, label, schema.source, project_id, workspaces, seen.get(label, set()))
    return removed


async def _unseen(driver: neo4j.AsyncDriver, database: str, match: str, seen: set[str], **params: Any) -> list[str]:
    """The external ids of the nodes ``match`` binds to ``n`` that ``seen`` lacks, read a list at a time
    (``_IN_LISTS``): a 100,000-node listing is never held whole (the server's peak memory stays with
    the ids the run saw). Read on a follower: one that lags can only leave a node out, so a run
    removes less, never more (the removal matches each id again on the leader)."""

    async def transform(result: neo4j.AsyncResult) -> list[str]:
        unseen: set[str] = set()
        async for record in result:
            unseen.update(node_id for node_id in record["ids"] if node_id not in seen)
        return sorted(unseen)

    found: list[str] = await driver.execute_query(
        f"{match} {_IN_LISTS}",
        {**params, "listed": LISTED},
        database_=database,
        routing_=neo4j.RoutingControl.READ,
        result_transformer_=transform,
    )
    return found


async def _in_batches(driver: neo4j.AsyncDriver, database: str, query: str, ids: list[str], **params: Any) -> None:
    """``query`` over ``$ids``, ``BATCH`` of them per transaction."""
    for start in range(0, len(ids), BATCH):
        await driver.execute_query(
            query,
            {**params, "ids": ids[start : start + BATCH]},
            database_=database,
            routing_=neo4j.RoutingControl.WRITE,
        )


async def _sweep_stubs(
    driver: neo4j.AsyncDriver,
    database: str,
    label: str,
    source: str,
    project_id: str,
    workspaces: list[str],
    seen: set[str],
) -> None:
    """Stubs the run did not see, referenced only from the swept containers: the reference was read
    before its target went (a subtask deleted with its parent while the import was elsewhere). No
    tombstone: a record read later that still points there (a target the token cannot see) makes the
    stub again, as a fresh import would."""
    unseen = await _unseen(
        driver,
        database,
        f"MATCH (n:{label}) WHERE n.projectId = $project AND n.source = $source AND n.externalId IS NOT NULL "
        "AND n.stub = true",
        seen,
        project=project_id,
        source=source,
    )
    await _in_batches(
        driver,
        database,
        f"""
        {project_lock("project")}
        UNWIND $ids AS id
        MATCH (n:{label} {{projectId: $project, source: $source, externalId: id}})
        WHERE n.stub = true
          AND NOT EXISTS {{ MATCH (n)--(m) WHERE m.workspaceId IS NULL OR NOT m.workspaceId IN $workspaces }}
        DETACH DELETE n
        """,
        unseen,
        project=project_id,
        source=source,
        workspaces=workspaces,
    )


def _path(steps: tuple[Step, ...]) -> str:
    """``(n)-[:CONTAINS*0..3]->(:Task)<-[:SUBTASK_OF*1..]-(x:Task)`` from the schema's steps."""
    text = "(n)"
    for index, step in enumerate(steps):
        hops = "" if (step.min_hops, step.max_hops) == (1, 1) else f"*{step.min_hops}..{step.max_hops or ''}"
        rel = f"[:{step.type}{hops}]"
        arrow = f"-{rel}->" if step.direction is Direction.OUT else f"<-{rel}-"
        name = "x" if index == len(steps) - 1 else ""
        text += f"{arrow}({name}{':' + step.label if step.label else ''})"
    return text


def delete_query(schema: GraphSchema, label: str) -> str:
    kinds = " OR ".join(f"x:{kind}" for kind in schema.deletable)
    branches = ["RETURN n AS x"] + [f"MATCH {_path(path)} WHERE {kinds} RETURN x" for path in schema.cascades]
    body = "\n                UNION\n                ".join(branches)
    return f"""
        MATCH (held:ProjectWriteLock {{projectId: $projectId}}) {lock("held")}
        WITH held
        OPTIONAL MATCH (n:{label} {{projectId: $projectId, source: $source, externalId: $id}})
        CALL (n) {{
            WITH n WHERE n IS NOT NULL
            CALL (n) {{
                {body}
            }}
            WITH DISTINCT x
            WITH x, [l IN labels(x) WHERE l IN $kinds][0] AS kind
            MERGE (t:Tombstone {{projectId: $projectId, source: $source, kind: kind, externalId: x.externalId}})
            SET t.deletedAt = datetime(), t.orgId = x.orgId, t.workspaceId = x.workspaceId, t.name = x.name,
                t.syncRunId = $run
            DETACH DELETE x
            RETURN count(*) AS removed
        }}
        // Deleted at the source before this project ever held it (an import not there yet): the
        // tombstone alone keeps a page read before the deletion from writing it, or a stub of it, later.
        MERGE (own:Tombstone {{projectId: $projectId, source: $source, kind: '{label}', externalId: $id}})
        ON CREATE SET own.deletedAt = datetime(), own.orgId = $orgId, own.syncRunId = $run
        RETURN removed
    """


async def held_by(
    driver: neo4j.AsyncDriver, database: str, schema: GraphSchema, project_id: str, label: str, ids: list[str]
) -> dict[str, set[str]]:
    """What deleting each of ``ids`` would take with it (the nodes themselves included), by kind, read
    only: a source that cannot tell "gone" from "no longer visible" keeps these out of a sweep."""
    if not ids:
        return {}
    kinds = " OR ".join(f"x:{kind}" for kind in schema.deletable)
    branches = ["RETURN n AS x"] + [f"MATCH {_path(path)} WHERE {kinds} RETURN x" for path in schema.cascades]
    body = "\n            UNION\n            ".join(branches)
    records, _, _ = await driver.execute_query(
        f"""
        UNWIND $ids AS id
        MATCH (n:{label} {{projectId: $projectId, source: $source, externalId: id}})
        CALL (n) {{
            {body}
        }}
        WITH DISTINCT x
        RETURN [l IN labels(x) WHERE l IN $kinds][0] AS kind, x.externalId AS id
        """,
        ids=ids,
        projectId=project_id,
        source=schema.source,
        kinds=list(schema.deletable),
        database_=database,
        routing_=neo4j.RoutingControl.WRITE,  # what it leaves out, a sweep removes: the leader's latest
    )
    return _by_kind(records)


async def referenced_by(
    driver: neo4j.AsyncDriver, database: str, schema: GraphSchema, project_id: str, label: str, ids: list[str]
) -> dict[str, set[str]]:
    """The nodes ``ids`` point to through the relationships their kind owns, by kind: what records
    kept out of a sweep still need (their tags, sprints, components)."""
    owned = schema.kind(label).owns_out
    if not ids or not owned:
        return {}
    records, _, _ = await driver.execute_query(
        f"""
        UNWIND $ids AS id
        MATCH (n:{label} {{projectId: $projectId, source: $source, externalId: id}})-[:{"|".join(owned)}]->(x)
        WHERE x.projectId = $projectId AND x.source = $source
        WITH DISTINCT x
        RETURN [l IN labels(x) WHERE l IN $kinds][0] AS kind, x.externalId AS id
        """,
        ids=ids,
        projectId=project_id,
        source=schema.source,
        kinds=list(schema.labels),
        database_=database,
        routing_=neo4j.RoutingControl.WRITE,  # as held_by: it keeps nodes out of a sweep
    )
    return _by_kind(records)


def _by_kind(records: list[neo4j.Record]) -> dict[str, set[str]]:
    """``kind``/``id`` rows as ids per kind (rows of no declared kind left out)."""
    found: dict[str, set[str]] = {}
    for record in records:
        if record["kind"] is not None:
            found.setdefault(record["kind"], set()).add(record["id"])
    return found


async def live_ids(
    driver: neo4j.AsyncDriver, database: str, schema: GraphSchema, project_id: str, label: str
) -> set[str]:
    """The external ids of one kind's nodes in a project (tombstones are another label)."""
    records, _, _ = await driver.execute_query(
        # The existence test lets the planner seek the kind's key index (projectId, source, externalId)
        # by its prefix; without it, every node of the label in the database was scanned.
        f"MATCH (n:{label}) WHERE n.projectId = $projectId AND n.source = $source AND n.externalId IS NOT NULL "
        "AND n.stub IS NULL RETURN n.externalId AS id",
        projectId=project_id,
        source=schema.source,
        database_=database,
        routing_=neo4j.RoutingControl.WRITE,  # where held_by starts (Jira's guard against sweeping the unseen)
    )
    return {record["id"] for record in records}


async def delete(
    driver: neo4j.AsyncDriver,
    database: str,
    schema: GraphSchema,
    org_id: str,
    project_id: str,
    label: str,
    external_id: str,
    run_id: str,
) -> int:
    """Remove a node and what the schema's cascades reach from it, leaving tombstones; returns the count."""
    if label not in schema.deletable:
        raise ValueError(f"cannot delete a {label}")
    await driver.execute_query(
        "MERGE (l:ProjectWriteLock {projectId: $projectId})",
        projectId=project_id,
        database_=database,
        routing_=neo4j.RoutingControl.WRITE,
    )
    # The owner check decides whether this org may delete: a project claimed a moment ago must show.
    claim, _, _ = await driver.execute_query(
        OWNER, projectId=project_id, database_=database, routing_=neo4j.RoutingControl.WRITE
    )
    check_owner(claim[0]["owner"] if claim else None, org_id, project_id)
    records, _, _ = await driver.execute_query(
        delete_query(schema, label),
        projectId=project_id,
        source=schema.source,
        id=external_id,
        orgId=org_id,
        run=run_id,
        kinds=list(schema.deletable),
        database_=database,
        routing_=neo4j.RoutingControl.WRITE,
    )
    return int(records[0]["removed"]) if records else 0


async def totals(driver: neo4j.AsyncDriver, database: str, schema: GraphSchema, project_id: str) -> dict[str, int]:
    """Nodes per kind (lower-case keys), one query for all kinds."""
    branches = "\n            UNION ALL\n            ".join(
        f"MATCH (n:{label}) WHERE n.projectId = $project AND n.source = $source AND n.externalId IS NOT NULL "
        f"RETURN '{label}' AS kind, count(n) AS c"  # a seek of the key index by its prefix, as in live_ids
        for label in schema.labels
    )
    records, _, _ = await driver.execute_query(
        f"CALL () {{\n            {branches}\n        }} RETURN kind, c",
        project=project_id,
        source=schema.source,
        database_=database,
        routing_=neo4j.RoutingControl.READ,
    )
    found = {r["kind"]: int(r["c"]) for r in records}
    return {label.lower(): found.get(label, 0) for label in schema.labels}
