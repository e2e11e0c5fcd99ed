"""Domain views to contract messages. Secrets leave only as masked hints."""

from __future__ import annotations

from datetime import datetime

from google.protobuf import duration_pb2, timestamp_pb2

from integrations.v1 import integration_service_pb2 as pb
from server.gallery import IntegrationView
from server.integrations.base import ConnectionCheck
from server.secrets_mask import mask_secret

_STATUS = {
    "UNKNOWN": pb.CONNECTION_STATUS_UNKNOWN,
    "CONNECTED": pb.CONNECTION_STATUS_CONNECTED,
    "AUTH_FAILED": pb.CONNECTION_STATUS_AUTH_FAILED,
    "ERROR": pb.CONNECTION_STATUS_ERROR,
}


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts


def integration(view: IntegrationView) -> pb.Integration:
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
        supported_auth_methods=list(plugin.auth_methods),  # type: ignore[arg-type]
    )
    if view.settings is not None:
        message.settings.CopyFrom(view.settings)
        message.settings.api_token = mask_secret(view.settings.api_token)
    if record is not None:
        for field, value in (
            ("create_time", record.created_at),
            ("update_time", record.updated_at),
            ("last_tested_time", record.last_tested_at),
        ):
            ts = timestamp(value)
            if ts is not None:
                getattr(message, field).CopyFrom(ts)
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
        pb.Workspace(id=w.id, name=w.name, member_count=w.member_count) for w in check.workspaces
    )
    if check.rate_limit is not None:
        response.rate_limit.limit = check.rate_limit.limit
        response.rate_limit.remaining = check.rate_limit.remaining
        reset = timestamp(check.rate_limit.reset_at)
        assert reset is not None
        response.rate_limit.reset_time.CopyFrom(reset)
    return response
