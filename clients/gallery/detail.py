"""The JSON behind an integration's detail page: its import history, analytics, audit trail, the
project's webhook events with replay, and the custom-field mapping with the re-map job it starts.
Each endpoint is one RPC of the IntegrationService."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from clients.gallery.bodies import json_body
from clients.gallery.views import (
    analytics_view,
    audit_view,
    custom_fields_view,
    event_state,
    event_view,
    events_since,
    field_mappings,
    grace_minutes,
    import_job,
    json_safe_token,
    regenerated_view,
    replay_ids,
)
from integrations.v1 import integration_service_pb2 as pb

if TYPE_CHECKING:
    from clients.gallery.app import Gallery

logger = logging.getLogger(__name__)
PAGE_SIZE = 20


async def import_history(request: Request, gallery: Gallery, org: str, project: str) -> Response:
    listed = await gallery.client.list_import_jobs(org, project, name=request.path_params["name"], page_size=PAGE_SIZE)
    return JSONResponse({"jobs": [import_job(job) for job in listed.jobs]})


async def analytics(request: Request, gallery: Gallery, org: str, project: str) -> Response:
    figures = await gallery.client.get_integration_analytics(org, project, request.path_params["name"])
    return JSONResponse({"days": [analytics_view(day) for day in figures.days]})


async def audit(request: Request, gallery: Gallery, org: str, project: str) -> Response:
    listed = await gallery.client.list_audit_records(org, project, name=request.path_params["name"], page_size=10)
    return JSONResponse({"records": [audit_view(record) for record in listed.records]})


async def events(request: Request, gallery: Gallery, org: str, project: str) -> Response:
    """The integration's events, newest first (``order=oldest``: oldest first), by state, and received
    within the last hours."""
    state = event_state(request.query_params.get("state"))
    since = events_since(request.query_params.get("since_hours"), datetime.now(UTC))
    token = json_safe_token(request.query_params.get("page_token", ""))
    listed = await gallery.client.list_webhook_events(
        org,
        project,
        state,
        page_size=PAGE_SIZE,
        page_token=token,
        name=request.path_params["name"],
        since=since,
        newest_first=request.query_params.get("order") != "oldest",
    )
    return JSONResponse(
        {"events": [event_view(event) for event in listed.events], "next_page_token": listed.next_page_token}
    )


async def replay(request: Request, gallery: Gallery, org: str, project: str) -> Response:
    ids = replay_ids(await json_body(request))
    done = await gallery.client.replay_webhook_events(
        pb.ReplayWebhookEventsRequest(org_id=org, project_id=project, event_ids=ids)
    )
    return JSONResponse({"replayed": done.replayed})


async def regenerate_secret(request: Request, gallery: Gallery, org: str, project: str) -> Response:
    minutes = grace_minutes(await json_body(request))
    done = await gallery.client.regenerate_webhook_secret(org, project, request.path_params["name"], minutes * 60)
    return JSONResponse(regenerated_view(done))


async def custom_fields(request: Request, gallery: Gallery, org: str, project: str) -> Response:
    """The third party's custom fields with the property each becomes, and the newest re-map job."""
    listed = await gallery.client.list_custom_fields(org, project, request.path_params["name"])
    job = listed.remap_job if listed.HasField("remap_job") else None
    return JSONResponse(custom_fields_view(listed.fields, job, listed.stale_mappings))


async def map_fields(request: Request, gallery: Gallery, org: str, project: str) -> Response:
    """Replaces the whole mapping; the nodes already imported are re-mapped by the job it answers with
    (``remap_job``: null when nothing changed), followed through ``import_status``."""
    mappings = field_mappings(await json_body(request))
    name = request.path_params["name"]
    done = await gallery.client.update_field_mappings(org, project, name, mappings)
    job = done.remap_job if done.HasField("remap_job") else None
    logger.info(
        "gallery saved the field mapping of %s for %s/%s (%d rules): %s",
        name,
        org,
        project,
        len(mappings),
        f"re-map {job.id}" if job else "unchanged",
    )
    return JSONResponse(custom_fields_view(done.fields, job))


async def import_status(request: Request, gallery: Gallery, org: str, project: str) -> Response:
    """One job (an import or a re-map) as it is now: the Settings tab polls it until ``done``."""
    job = await gallery.client.get_import_job(org, project, request.path_params["job_id"])
    return JSONResponse(import_job(job), headers={"cache-control": "no-store"})
