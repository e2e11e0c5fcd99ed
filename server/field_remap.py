"""Re-mapping the custom fields of nodes already in the graph, after a project changed its mapping.

It runs as an import job of kind FIELD_REMAP (so it is leased, checkpointed, watched, cancelled and
resumed like an import, and never runs beside one), reading no third party: get (a page of nodes in
external-id order) -> transform (the plugin maps each node's kept raw fields anew) -> load (the
changed ones rewritten, each only if no writer changed it since it was read). A node that a webhook
or an import rewrote meanwhile already has the new mapping: those writers read it when they start.
"""

from __future__ import annotations

from typing import Any

from graph.import_jobs import ImportJobRecord, Progress
from graph.writer import GraphWriter, NodeProps
from server.integrations.base import AnyIntegration, ProgressSink
from server.integrations.settings import IntegrationSettings

PAGE_NODES = 500  # per read and per rewrite transaction


async def remap_fields(
    plugin: AnyIntegration,
    settings: IntegrationSettings[Any],
    writer: GraphWriter,
    job: ImportJobRecord,
    report: ProgressSink,
) -> dict[str, int]:
    """Re-map every node of the plugin's field kinds, from the job's checkpoint on; the counters."""
    kinds = list(plugin.field_kinds)
    start = int(job.checkpoint.get("kind", 0))
    after = str(job.checkpoint.get("after", ""))
    counters = {"nodes_read": 0, "nodes_remapped": 0, "nodes_changed_meanwhile": 0, **job.counters}
    pages = job.pages
    for index in range(start, len(kinds)):
        label = kinds[index]
        if index != start:
            after = ""
        while True:
            page = await writer.node_page(label, after, PAGE_NODES)
            if not page:
                break
            changed = []
            for node in page:
                props = plugin.remap_node(label, node.props, settings.fields)
                if props is not None:
                    changed.append(NodeProps(node.id, props))
            rewritten = await writer.rewrite_properties(label, changed)
            counters["nodes_read"] += len(page)
            counters["nodes_remapped"] += rewritten
            counters["nodes_changed_meanwhile"] += len(changed) - rewritten
            pages += 1
            after = page[-1].id
            checkpoint = {"kind": index, "after": after}
            await report(Progress(counters, 0, 0, pages, f"re-mapping {label} nodes", checkpoint), None)
    return counters
