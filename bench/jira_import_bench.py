"""Jira import benchmark: prints figures side by side with bounds and baselines from the same run.

    .venv/bin/python bench/jira_import_bench.py [--issues 50000] [--projects 10]

1. API calls of a full import (comments included) vs the fetch plan's lower bound for that site,
   per kind of call: /myself, /_edge/tenant_info, /field, project pages, component and version
   pages, search pages (at the importer's page size and at the API's 5,000), comment pages,
   board/sprint pages.
2. End-to-end import (sandbox over HTTP -> importer -> writer -> Neo4j, through the gRPC server),
   no rate limit: wall time, issues/s, nodes and relationships written.
3. Re-import of the unchanged site: wall time, properties written and relationships created.
4. Webhook -> graph latency for Jira deliveries: ``bench/jira_webhook_bench.py``.

Uses its own Neo4j instance ("jirabench", port 7796) and loopback servers only. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from google.protobuf import field_mask_pb2
from starlette.types import ASGIApp, Receive, Scope, Send

from bench.jobs import import_once
from devtools.neo4j_local import LocalNeo4j
from integrations.v1 import integration_service_pb2 as pb
from sandbox.jira.app import create_app
from sandbox.jira.generator import MAIN_EMAIL, MAIN_TOKEN, GeneratorConfig, generate
from sandbox.jira.issues import EMBEDDED_COMMENTS, select_fields
from sandbox.jira.model import Site
from sandbox.jira.search import page_cap
from sandbox.jira.state import Sandbox
from server.auth import hash_token
from server.crypto import generate_key_spec
from server.integrations.jira.client import SEARCH_MAX_RESULTS
from server.integrations.jira.importer import ISSUE_FIELDS, PROJECT_PAGE, SEARCH_PAGE
from tests.conftest import RunningHub, start_hub
from tests.support import UvicornThread

ADMIN = "jira-bench-admin-token"
METADATA = (("authorization", f"Bearer {ADMIN}"),)
# Caps of the API (jira-api.md §3.1): project search 100, components/versions/agile lists 50, comments 100.
PROJECT_CAP, LIST_CAP, COMMENT_CAP = 100, 50, 100
KINDS = ["myself", "tenant_info", "field", "projects", "components+versions", "search", "comments", "boards+sprints"]


def site_of(issues: int, projects: int, seed: int = 11) -> Site:
    """Sized from a small probe so the ``projects`` imported projects hold about ``issues`` issues.

    Epics and subtasks come on top of ``issues_per_project``; the generator adds an archived and a
    restricted project (same size), which the main credential does not import. Comments: about half
    the issues get 1-3, one issue gets 105 (more than a page), and a few are restricted."""
    config = GeneratorConfig(seed=seed, projects=1, issues_per_project=200, comment_ratio=0.5)
    probe = generate(config)
    per_unit = sum(1 for i in probe.issues.values() if probe.projects[i.project_id].key == "PROJ") / 200
    per_project = max(1, round(issues / projects / per_unit))
    return generate(replace(config, projects=projects, issues_per_project=per_project))


class CountingApp:
    """ASGI wrapper counting the sandbox's API requests by kind of call (the fetch plan's rows)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.calls: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.calls[kind_of(scope["path"])] += 1
        await self.app(scope, receive, send)


def kind_of(path: str) -> str:
    if path.endswith("/myself"):
        return "myself"
    if path == "/_edge/tenant_info":
        return "tenant_info"
    if path.endswith("/rest/api/3/field"):
        return "field"
    if path.endswith("/project/search"):
        return "projects"
    if path.endswith(("/component", "/version")) and "/project/" in path:
        return "components+versions"
    if path.endswith("/search/jql"):
        return "search"
    if path.endswith("/comment") and "/issue/" in path:
        return "comments"
    if "/rest/agile/1.0/" in path:
        return "boards+sprints"
    return "other"


def visible_comments(site: Site) -> int:
    """Comments of issues the main credential browses, restricted ones only where its groups may read."""
    viewer = site.api_tokens[MAIN_TOKEN]
    groups = site.users[viewer].groups
    return sum(
        1
        for c in site.comments.values()
        if site.can_browse(viewer, site.projects[site.issues[c.issue_id].project_id])
        and (c.visibility is None or c.visibility in groups)
    )


def pages(items: int, size: int) -> int:
    """Calls to walk a list of ``items`` in pages of ``size``: an empty list still costs one call."""
    return max(1, math.ceil(items / size))


@dataclass(frozen=True)
class Bound:
    plan: dict[str, int]  # at the importer's page sizes (what this request shape can reach)
    absolute: dict[str, int]  # at the API's caps, and only what the embedded data cannot give

    @property
    def plan_total(self) -> int:
        return sum(self.plan.values())

    @property
    def absolute_total(self) -> int:
        return sum(self.absolute.values())


def lower_bound(site: Site, truth: dict[str, Any]) -> Bound:
    """The fetch plan's lower bound from the sandbox's truth (``/_sandbox/state``) and the page caps.

    Search: the importer asks for SEARCH_PAGE (100) issues with ~22 explicit fields; Jira (and the
    sandbox) cap such pages at 100 anyway (§3.2: "pages may be shorter than asked (large field sets)"),
    so 100 is also the best this request shape can do. The absolute bound pages by 5,000 (the API's
    maxResults), which only an ids-only search gets, and that would need ~1 bulk fetch per 100 issues
    after it: a floor no plan reaches. Comments: the search answer embeds up to 20 per issue, so the
    plan pages /comment (1 call per 100) only for issues with more; the absolute bound would start
    those pages past the 20 already seen."""
    viewer = site.api_tokens[MAIN_TOKEN]
    live = [p for p in site.projects.values() if site.can_browse(viewer, p)]
    live_ids = {p.id for p in live}
    per_project = {p.key: int(truth["issuesPerProject"].get(p.key, 0)) for p in live}
    components = Counter(c.project_id for c in site.components.values())
    versions = Counter(v.project_id for v in site.versions.values())
    lists = sum(pages(components[p.id], LIST_CAP) + pages(versions[p.id], LIST_CAP) for p in live)
    groups = site.users[viewer].groups
    visible = Counter(
        c.issue_id
        for c in site.comments.values()
        if site.issues[c.issue_id].project_id in live_ids and (c.visibility is None or c.visibility in groups)
    )
    boards = [b for b in site.boards.values() if site.can_browse(viewer, site.projects[b.location_project_id])]
    agile = pages(len(boards), LIST_CAP)
    for board in boards:
        agile += pages(len(board.project_ids), LIST_CAP)  # the projects it spans
        if board.type == "scrum" and set(board.project_ids) & live_ids:
            shown = {s.id for s in site.sprints.values() if s.origin_board_id == board.id}
            shown |= {s for i in site.issues.values() if i.project_id in board.project_ids for s in i.sprint_ids}
            agile += pages(len(shown), LIST_CAP)
    fields = select_fields(site, [*ISSUE_FIELDS, site.sprint_field, site.rank_field, site.story_points_field])
    search_page = min(SEARCH_PAGE, page_cap(len(fields)))
    common = {"myself": 1, "tenant_info": 1, "field": 1, "components+versions": lists, "boards+sprints": agile}
    plan = common | {
        "projects": pages(len(live), PROJECT_PAGE),
        "search": sum(pages(n, search_page) for n in per_project.values()),
        "comments": sum(pages(n, COMMENT_CAP) for n in visible.values() if n > EMBEDDED_COMMENTS),
    }
    absolute = common | {
        "projects": pages(len(live), PROJECT_CAP),
        "search": sum(pages(n, SEARCH_MAX_RESULTS) for n in per_project.values()),
        "comments": sum(
            math.ceil((n - EMBEDDED_COMMENTS) / COMMENT_CAP) for n in visible.values() if n > EMBEDDED_COMMENTS
        ),
    }
    return Bound(plan, absolute)


async def configure(hub: RunningHub, tenant: tuple[str, str], site_url: str) -> None:
    settings = pb.IntegrationSettings(auth_method=pb.AUTH_METHOD_API_TOKEN, api_token=MAIN_TOKEN)
    settings.options.update({"site_url": site_url, "email": MAIN_EMAIL, "include_comments": True})
    saved = await hub.stub.UpdateIntegration(
        pb.UpdateIntegrationRequest(
            org_id=tenant[0],
            project_id=tenant[1],
            integration=pb.Integration(name="jira", enabled=True, settings=settings),
            update_mask=field_mask_pb2.FieldMask(paths=["settings", "enabled"]),
        ),
        metadata=METADATA,
    )
    if saved.connection_status != pb.CONNECTION_STATUS_CONNECTED:
        raise SystemExit(f"Jira connection test failed: {saved}")


def row(name: str, value: str, baseline: str = "") -> None:
    print(f"  {name:<46} {value:>16}  {baseline}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--issues", type=int, default=50_000, help="issues in the imported projects (about)")
    parser.add_argument("--projects", type=int, default=10, help="imported (live, visible) projects")
    args = parser.parse_args()

    instance = LocalNeo4j("jirabench", 7796, heap="2g")
    connection = instance.start_empty()  # nothing an earlier run left
    env = {
        "INTEGRATIONS_GRPC_ADDRESS": "127.0.0.1:0",
        "NEO4J_URI": connection.uri,
        "NEO4J_USER": connection.user,
        "NEO4J_PASSWORD": connection.password,
        "INTEGRATION_ENCRYPTION_KEYS": generate_key_spec("jirabench"),
        "INTEGRATIONS_AUTH_TOKENS": json.dumps(
            {
                "tokens": [
                    {
                        "name": "jirabench",
                        "sha256": hash_token(ADMIN),
                        "scopes": ["integrations:read", "integrations:write"],
                    }
                ]
            }
        ),
        "WEBHOOK_WORKER": "off",
        "LIVE_SYNC_CHECK_SECONDS": "3600",
    }
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores (shared), Python "
        f"{platform.python_version()}, Neo4j Community 5.26 (heap 2g); sandbox on uvicorn in a thread "
        "of this process, beside the gRPC server"
    )
    build = time.perf_counter()
    site = site_of(args.issues, args.projects)
    seconds = time.perf_counter() - build
    try:
        await end_to_end(site, env, seconds)
    finally:
        instance.stop()


async def end_to_end(site: Site, env: dict[str, str], generated_in: float) -> None:
    """Parts 1-4: a full import through the gRPC server, then an unchanged re-import."""
    sandbox = Sandbox(site)
    sandbox.limiter.capacity = None  # no burst limit: this measures the plan and the pipeline
    app = CountingApp(create_app(sandbox))
    with UvicornThread(app) as server:
        async with httpx.AsyncClient(base_url=server.url) as admin_api:
            truth = (await admin_api.get("/_sandbox/state")).json()
        counts, visible = truth["counts"], truth["visibleToMainUser"]
        print(
            f"site: {counts['issues']:,} issues in {counts['projects']} projects (generated in {generated_in:.1f}s); "
            f"{counts['comments']:,} comments, {counts['links']:,} links, {counts['boards']} boards, "
            f"{counts['sprints']} sprints; imported (what the credential sees): {visible['issues']:,} issues in "
            f"{visible['projects']} projects (an archived and a restricted project are not), "
            f"{visible_comments(site):,} comments, {visible['links']:,} links\n"
        )
        bound = lower_bound(site, truth)
        hub = await start_hub(env)
        try:
            tenant = ("jirabench", f"jirabench-{uuid.uuid4().hex[:8]}")
            await configure(hub, tenant, server.url)
            app.calls.clear()  # the connection test's /myself is not part of the import
            first, first_seconds = await import_once(hub, tenant, "jira", ADMIN)
            made = Counter(app.calls)
            app.calls.clear()
            again, again_seconds = await import_once(hub, tenant, "jira", ADMIN)
            made_again = Counter(app.calls)
        finally:
            await hub.channel.close(None)
            await hub.server.stop(grace=1)

    imported = int(visible["issues"])
    print("1. API calls (full import, comments included)")
    print(f"  {'kind':<46} {'made':>16}  plan bound (page sizes of the importer) / absolute bound (API caps)")
    for kind in KINDS:
        row(kind, f"{made[kind]:,}", f"{bound.plan[kind]:,} / {bound.absolute[kind]:,}")
    if made["other"]:
        row("other", f"{made['other']:,}", "not in the plan")
    row(
        "total (job.api_calls)",
        f"{first.api_calls:,}",
        f"{bound.plan_total:,} / {bound.absolute_total:,}  (HTTP requests seen: {sum(made.values()):,})",
    )
    row(
        "ratio made / bound",
        f"{first.api_calls / bound.plan_total:.3f}",
        f"vs absolute {first.api_calls / bound.absolute_total:.2f}",
    )
    print(
        "  plan bound: search pages of 100 (the importer's SEARCH_PAGE; the API also caps pages of ~22 explicit\n"
        "  fields at 100), /comment paged (100 a page) only for issues with more than the 20 comments the\n"
        "  search answer embeds.\n"
        "  absolute bound: search pages of 5,000 (API max, reachable only with ids-only searches, which then\n"
        "  need bulk fetches of 100), /comment pages starting past the 20 comments embedded in the search."
    )
    print("2. End-to-end import, no rate limit")
    row("wall time", f"{first_seconds:.1f} s")
    row("issues/s", f"{imported / first_seconds:,.0f}", f"({imported:,} issues)")
    row("API calls/s", f"{first.api_calls / first_seconds:,.0f}")
    written = ("nodes_written", "relationships_created", "properties_set")
    for name in written:
        row(name, f"{first.counters[name]:,}")
    seen = {k: v for k, v in first.counters.items() if k not in written}
    print("  counters: " + ", ".join(f"{k} {v:,}" for k, v in sorted(seen.items())))
    print("3. Re-import of the unchanged site")
    row("wall time", f"{again_seconds:.1f} s", f"first import {first_seconds:.1f} s")
    row("properties_set", f"{again.counters['properties_set']:,}", f"first import {first.counters['properties_set']:,}")
    row(
        "relationships_created",
        f"{again.counters['relationships_created']:,}",
        f"first import {first.counters['relationships_created']:,}",
    )
    row("nodes_written", f"{again.counters['nodes_written']:,}", f"first import {first.counters['nodes_written']:,}")
    row("API calls", f"{again.api_calls:,}", f"HTTP requests seen: {sum(made_again.values()):,}")

    print("\nSummary")
    unchanged = again.counters["properties_set"] == 0 and again.counters["relationships_created"] == 0
    summary = [
        ("issues imported", f"{imported:,}"),
        (
            "API calls / plan bound",
            f"{first.api_calls:,} / {bound.plan_total:,} = {first.api_calls / bound.plan_total:.3f}",
        ),
        ("API calls / absolute bound", f"{first.api_calls:,} / {bound.absolute_total:,}"),
        ("full import", f"{first_seconds:.1f} s, {imported / first_seconds:,.0f} issues/s"),
        (
            "nodes / relationships written",
            f"{first.counters['nodes_written']:,} / {first.counters['relationships_created']:,}",
        ),
        (
            "unchanged re-import",
            f"{again_seconds:.1f} s, properties_set {again.counters['properties_set']:,}, "
            f"relationships_created {again.counters['relationships_created']:,} ({'ok' if unchanged else 'NOT 0'})",
        ),
    ]
    for name, value in summary:
        print(f"  {name:<30} {value}")


if __name__ == "__main__":
    asyncio.run(main())
