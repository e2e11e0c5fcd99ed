"""What the browser sees and may send. Cards and jobs are plain JSON built field by field from the
protobuf messages, so nothing is sent that was not chosen (the stored token only as its masked hint);
settings forms are checked here before any RPC, so bad input changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf import duration_pb2, timestamp_pb2

from integrations.v1 import integration_service_pb2 as pb

MAX_TOKEN_CHARS = 512
MAX_INTERVAL_MINUTES = 7 * 24 * 60
SETTINGS_FIELDS = frozenset({"api_token", "auto_sync", "sync_interval_minutes"})


class FormError(ValueError):
    """A field of a browser form is wrong: answered with 400 and the field named."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _time(value: timestamp_pb2.Timestamp) -> str | None:
    return value.ToJsonString() if value.seconds or value.nanos else None


def _enum(enum: Any, value: int, prefix: str) -> str:
    return str(enum.Name(value)).removeprefix(prefix).lower()


def integration_card(item: pb.Integration) -> dict[str, Any]:
    sync = item.settings.sync_settings
    return {
        "name": item.name,
        "display_name": item.display_name,
        "description": item.description,
        "enabled": item.enabled,
        "configured": item.configured,
        "connection_status": _enum(pb.ConnectionStatus, item.connection_status, "CONNECTION_STATUS_"),
        # Whether "Connect with …" can work here: the server holds the integration's OAuth app.
        "oauth_available": item.oauth_available,
        "auth_method": _enum(pb.AuthMethod, item.settings.auth_method, "AUTH_METHOD_") if item.configured else "",
        "last_error": item.last_error,
        "last_tested_time": _time(item.last_tested_time),
        "settings": {
            # Only the server's masked hint ("pk_5****0000"): the token itself never leaves the server.
            "api_token_hint": item.settings.api_token if item.configured else "",
            "auto_sync": sync.auto_sync,
            "sync_interval_minutes": sync.sync_interval.seconds // 60,
        },
        "last_import_time": _time(item.sync_state.last_full_import_time),
        "last_import_job_id": item.sync_state.last_import_job_id,
        "totals": dict(sorted(item.sync_state.totals.items())),
        "webhooks": [
            {
                "id": hook.id,
                "workspace_id": hook.workspace_id,
                "status": hook.status,
                "fail_count": hook.fail_count,
                "checked_time": _time(hook.checked_time),
            }
            for hook in item.webhooks
        ],
    }


def connection_result(result: pb.TestConnectionResponse) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "status": _enum(pb.ConnectionStatus, result.status, "CONNECTION_STATUS_"),
        "message": result.message,
        "account": result.account.username,
        "workspaces": [{"id": w.id, "name": w.name} for w in result.workspaces],
        "latency_ms": round(result.latency.ToTimedelta().total_seconds() * 1000),
    }


def import_job(job: pb.ImportJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "integration": job.integration,
        "state": _enum(pb.ImportJobState, job.state, "IMPORT_JOB_STATE_"),
        "phase": job.phase,
        "counters": dict(sorted(job.counters.items())),
        "api_calls": job.api_calls,
        "rate_limit_waits": job.rate_limit_waits,
        "pages": job.pages,
        "error": job.error,
        "create_time": _time(job.create_time),
        "finish_time": _time(job.finish_time),
        "done": job.state in (pb.IMPORT_JOB_STATE_SUCCEEDED, pb.IMPORT_JOB_STATE_FAILED, pb.IMPORT_JOB_STATE_CANCELLED),
    }


@dataclass(frozen=True)
class Update:
    integration: pb.Integration
    paths: list[str]


def enabled_update(body: Any) -> Update:
    if not isinstance(body, dict) or set(body) != {"enabled"}:
        raise FormError("body", 'expected {"enabled": true|false}')
    if not isinstance(body["enabled"], bool):
        raise FormError("enabled", "must be true or false")
    return Update(pb.Integration(enabled=body["enabled"]), ["enabled"])


def settings_update(body: Any) -> Update:
    """The configuration dialog: a new token (empty keeps the stored one), auto-sync, interval."""
    if not isinstance(body, dict) or not body:
        raise FormError("body", "expected a JSON object of settings")
    unknown = sorted(set(body) - SETTINGS_FIELDS)
    if unknown:
        raise FormError(unknown[0], "is not a setting of the gallery form")
    settings = pb.IntegrationSettings()
    paths: list[str] = []
    token = body.get("api_token", "")
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise FormError("api_token", f"must be text of at most {MAX_TOKEN_CHARS} characters")
    if token.strip():
        settings.api_token = token.strip()
        settings.auth_method = pb.AUTH_METHOD_API_TOKEN
        paths += ["settings.api_token", "settings.auth_method"]
    if "auto_sync" in body:
        if not isinstance(body["auto_sync"], bool):
            raise FormError("auto_sync", "must be true or false")
        settings.sync_settings.auto_sync = body["auto_sync"]
        paths.append("settings.sync_settings.auto_sync")
    if "sync_interval_minutes" in body:
        minutes = body["sync_interval_minutes"]
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 <= minutes <= MAX_INTERVAL_MINUTES:
            raise FormError("sync_interval_minutes", f"must be a whole number from 0 to {MAX_INTERVAL_MINUTES}")
        settings.sync_settings.sync_interval.CopyFrom(duration_pb2.Duration(seconds=minutes * 60))
        paths.append("settings.sync_settings.sync_interval")
    if not paths:
        raise FormError("api_token", "nothing to save: enter an API token or change a setting")
    return Update(pb.Integration(settings=settings), paths)
