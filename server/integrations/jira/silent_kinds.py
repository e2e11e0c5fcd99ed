"""Components and labels: kinds Jira sends no webhook for when they go (§6), so a deletion there
reaches the graph only when something lists them again and sweeps what is no longer listed.

A full import's sweep covers them with everything else. An incremental import (the scheduled sync)
sweeps nothing it read only in part, but it reads every project's components in full, so it sweeps
these two kinds here, as the gap repair does after re-reading them (``live_sync.py``).
"""

from __future__ import annotations

from graph.writer import GraphWriter
from server.integrations.jira import transform, visibility
from server.integrations.jira.client import JiraClient

KINDS = ("Component", "Tag")


async def site_labels(client: JiraClient) -> set[str]:
    """Every label of the site (``/rest/api/3/label``, 1,000 a page)."""
    labels: set[str] = set()
    async for page in client.offset_pages("/rest/api/3/label", page_size=1000):
        labels.update(value for value in page.values if isinstance(value, str))
    return labels


async def sweep(
    client: JiraClient,
    writer: GraphWriter,
    cloud_id: str,
    components: set[str],
    listed: set[str],
    hidden: set[str],
) -> dict[str, int]:
    """Remove the components not in ``components`` (every one read from the projects) and the tags
    of labels the site no longer has, keeping what projects out of view hold (``listed``: the
    projects the credential lists; ``hidden``: those whose content answered 404)."""
    tags = {transform.tag_key(cloud_id, label) for label in await site_labels(client)}
    kept = await visibility.out_of_view(writer, listed, hidden)
    return await writer.sweep(
        [cloud_id], visibility.with_kept({"Component": components, "Tag": tags}, kept), kinds=KINDS
    )
