"""Domain views to contract messages. Secrets leave only as masked hints."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.protobuf import duration_pb2, timestamp_pb2

from graph.analytics import DayFigures
from graph.audit_log import AuditEntry
from graph.data_deletions import DataDeletionRecord
from graph.import_jobs import FULL, IMPORT, INCREMENTAL, ImportJobRecord, SyncState
from graph.webhook_inbox import InboxEvent, WebhookHealth
from integrations.v1 import integration_service_pb2 as pb
from server import settings_codec
from server.errors import InvalidArgument
from server.field_mappings import FieldListing
from server.gallery import IntegrationView
from server.integrations.base import ConnectionCheck
from server.integrations.field_map import FieldRule, FieldType

_STATUS = {
    "UNKNOWN": pb.CONNECTION_STATUS_UNKNOWN,
    "CONNECTED": pb.CONNECTION_STATUS_CONNECTED,
    "AUTH_FAILED": pb.CONNECTION_STATUS_AUTH_FAILED,
    "ERROR": pb.CONNECTION_STATUS_ERROR,
    "NEEDS_REAUTHORIZATION": pb.CONNECTION_STATUS_NEEDS_REAUTHORIZATION,
}


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts


def _set_times(message: Any, times: dict[str, datetime | None]) -> None:
    for field, value in times.items():
        ts = timestamp(value)
        if ts is not None:
            getattr(message, field).CopyFrom(ts)


def sync_state(state: SyncState) -> pb.SyncState:
    message = pb.SyncState(
        last_import_job_id=state.last_import_job_id, last_error=state.last_error, totals=state.totals
    )
    _set_times(message, {"last_full_import_time": state.last_full_import_at})
    for workspace_id, mark in state.watermarks.items():
        ts = timestamp(mark)
        if ts is not None:
            message.workspace_watermarks[workspace_id].CopyFrom(ts)
    return message


def integration(
    view: IntegrationView, sync: SyncState | None = None, webhooks: list[WebhookHealth] | None = None
) -> pb.Integration:
    plugin, record = view.plugin, view.record
    message = pb.Integration(
        name=plugin.name,
        display_name=plugin.display_name,
        description=plugin.description,
        logo_url=plugin.logo_url,
        org_id=view.key.org_id,
        project_id=view.key.project_id,
        enabled=record.enabled if record else False,
        configured=record.configured if record else False,
        connection_status=_STATUS.get(record.connection_status if record else "UNKNOWN", pb.CONNECTION_STATUS_UNKNOWN),
        last_error=record.last_error if record else "",
        supported_auth_methods=[settings_codec.wire_method(method) for method in plugin.auth_methods],
        oauth_available=plugin.oauth_provider() is not None,
    )
    message.options_schema.update(plugin.options_schema)
    if view.settings is not None:
        message.settings.CopyFrom(settings_codec.to_wire(plugin, view.settings))
    if sync is not None:
        message.sync_state.CopyFrom(sync_state(sync))
    for hook in webhooks or []:
        health = message.webhooks.add(
            id=hook.webhook_id, workspace_id=hook.workspace_id, status=hook.status, fail_count=hook.fail_count
        )
        _set_times(health, {"checked_time": hook.checked_at})
    if record is not None:
        _set_times(
            message,
            {
                "create_time": record.created_at,
                "update_time": record.updated_at,
                "last_tested_time": record.last_tested_at,
            },
        )
    return message


def import_job(job: ImportJobRecord) -> pb.ImportJob:
    message = pb.ImportJob(
        id=job.id,
        org_id=job.org_id,
        project_id=job.project_id,
        integration=job.integration,
        state=pb.ImportJobState.Value(f"IMPORT_JOB_STATE_{job.state}"),
        counters=job.counters,
        api_calls=job.api_calls,
        rate_limit_waits=job.rate_limit_waits,
        pages=job.pages,
        error=job.error,
        phase=job.phase,
    )
    message.kind = pb.ImportJobKind.Value(f"IMPORT_JOB_KIND_{job.kind}")
    if job.kind == IMPORT:
        message.mode = pb.ImportMode.Value(f"IMPORT_MODE_{job.mode}")
    _set_times(message, {"create_time": job.created_at, "start_time": job.started_at, "finish_time": job.finished_at})
    return message


def import_mode(mode: pb.ImportMode.ValueType) -> str:
    """FULL (also when unset) or INCREMENTAL."""
    if mode == pb.IMPORT_MODE_INCREMENTAL:
        return INCREMENTAL
    if mode in (pb.IMPORT_MODE_UNSPECIFIED, pb.IMPORT_MODE_FULL):
        return FULL
    raise InvalidArgument("mode", f"unknown import mode {mode}")


def _field_type(kind: FieldType) -> pb.FieldType.ValueType:
    return pb.FIELD_TYPE_UNSPECIFIED if kind is FieldType.NATURAL else pb.FieldType.Value(f"FIELD_TYPE_{kind.value}")


def field_rule(path: str, mapping: pb.FieldMapping) -> tuple[str, FieldRule]:
    """A requested mapping entry; the field id and property are checked by the service."""
    if mapping.type not in pb.FieldType.values():
        raise InvalidArgument(f"{path}.type", f"unknown field type {mapping.type}")
    name = pb.FieldType.Name(mapping.type).removeprefix("FIELD_TYPE_")
    kind = FieldType.NATURAL if name == "UNSPECIFIED" else FieldType(name)
    return mapping.field_id, FieldRule(mapping.property, kind, mapping.skip)


def custom_fields(listing: FieldListing) -> pb.ListCustomFieldsResponse:
    message = pb.ListCustomFieldsResponse(
        fields=[
            pb.CustomField(
                id=field.info.id,
                name=field.info.name,
                provider_type=field.info.provider_type,
                kind=field.info.kind,
                default_property=field.info.default_property,
                natural_type=_field_type(field.info.natural_type),
                mapping=pb.FieldMapping(
                    field_id=field.info.id,
                    property=field.rule.property,
                    type=_field_type(field.rule.type),
                    skip=field.rule.skip,
                ),
            )
            for field in listing.fields
        ],
        stale_mappings=[
            pb.FieldMapping(field_id=field_id, property=rule.property, type=_field_type(rule.type), skip=rule.skip)
            for field_id, rule in sorted(listing.stale.items())
        ],
    )
    if listing.remap_job is not None:
        message.remap_job.CopyFrom(import_job(listing.remap_job))
    return message


def webhook_event(event: InboxEvent) -> pb.WebhookEvent:
    message = pb.WebhookEvent(
        id=event.id,
        integration=event.integration,
        event=event.event,
        object_id=event.object_id,
        state=pb.WebhookEventState.Value(f"WEBHOOK_EVENT_STATE_{event.state}"),
        attempts=event.attempts,
        last_error=event.last_error,
    )
    _set_times(message, {"received_time": event.received_at, "applied_time": event.applied_at})
    return message


def connection_check(check: ConnectionCheck) -> pb.TestConnectionResponse:
    response = pb.TestConnectionResponse(
        ok=check.ok,
        status=_STATUS[check.outcome.value],
        message=check.message,
        latency=duration_pb2.Duration(seconds=int(check.latency_seconds), nanos=int((check.latency_seconds % 1) * 1e9)),
    )
    if check.account is not None:
        response.account.CopyFrom(
            pb.Account(id=check.account.id, username=check.account.username, email=check.account.email)
        )
    response.workspaces.extend(
        pb.Workspace(id=w.id, name=w.name, member_count=w.member_count) for w in check.containers
    )
    if check.rate_limit is not None:
        response.rate_limit.limit = check.rate_limit.limit
        response.rate_limit.remaining = check.rate_limit.remaining
        _set_times(response.rate_limit, {"reset_time": check.rate_limit.reset_at})
    return response


def audit_record(entry: AuditEntry) -> pb.AuditRecord:
    record = pb.AuditRecord(
        id=entry.id,
        org_id=entry.org_id,
        project_id=entry.project_id,
        integration=entry.integration,
        action=entry.action,
        actor=entry.actor,
        details=dict(entry.details),
    )
    record.create_time.FromDatetime(entry.at)
    return record


def data_deletion(deletion: DataDeletionRecord) -> pb.DataDeletion:
    message = pb.DataDeletion(
        id=deletion.id,
        org_id=deletion.org_id,
        project_id=deletion.project_id,
        integration=deletion.integration,
        state=pb.DataDeletionState.Value(f"DATA_DELETION_STATE_{deletion.state}"),
        removed=deletion.removed,
        relationships_removed=deletion.relationships,
        batches=deletion.batches,
        largest_batch=deletion.largest_batch,
        actor=deletion.actor,
        error=deletion.error,
    )
    message.create_time.FromDatetime(deletion.created_at)
    if deletion.finished_at is not None:
        message.finish_time.FromDatetime(deletion.finished_at)
    return message


def analytics_day(figures: DayFigures) -> pb.AnalyticsDay:
    day = pb.AnalyticsDay(
        imports=figures.imports,
        imports_failed=figures.imports_failed,
        objects_written=figures.objects_written,
        api_calls=figures.api_calls,
        rate_limit_waits=figures.rate_limit_waits,
        events_received=figures.events_received,
        events_applied=figures.events_applied,
        events_failed=figures.events_failed,
        event_latency_p50_seconds=figures.latency_p50_seconds,
        event_latency_p95_seconds=figures.latency_p95_seconds,
    )
    day.day.FromDatetime(datetime(figures.day.year, figures.day.month, figures.day.day, tzinfo=UTC))
    return day
