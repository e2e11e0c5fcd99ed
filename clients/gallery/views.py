"""What the browser sees and may send. Cards and jobs are plain JSON built field by field from the
protobuf messages, so nothing is sent that was not chosen (the stored token only as its masked hint);
settings forms are checked here before any RPC, so bad input changes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from google.protobuf import duration_pb2, json_format, struct_pb2, timestamp_pb2

from clients.field_types import FIELD_TYPES, type_word
from integrations.v1 import integration_service_pb2 as pb

MAX_TOKEN_CHARS = 512
MAX_INTERVAL_MINUTES = 7 * 24 * 60
SETTINGS_FIELDS = frozenset({"api_token", "auto_sync", "sync_interval_minutes", "options"})
MAX_OPTION_CHARS = 2000
MAX_OPTION_ITEMS = 1000
MAX_SAFE_INTEGER = 2**53 - 1  # options travel as a Struct, whose numbers are doubles
# The option types the dialog can render, in the order it shows them (the wire's Struct keeps no order).
OPTION_TYPES = ("string", "integer", "array", "boolean")
_SCHEMA_KEYWORDS = ("description", "pattern", "format", "maxItems", "minimum", "maximum")
_LIST_SEPARATORS = re.compile(r"[\s,]+")
_OPTION_KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")  # what the server accepts in settings.options.<key>


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


def _plain(value: Any) -> Any:
    """A Struct number that is whole as an int: the form and the schema speak of integers."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_SAFE_INTEGER:
        return int(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _struct(value: struct_pb2.Struct) -> dict[str, Any]:
    plain: dict[str, Any] = json_format.MessageToDict(value)
    return {key: _plain(v) for key, v in plain.items()}


def _form_property(raw: Any) -> dict[str, Any] | None:
    """One schema property the dialog can render (None for any other), with only the keywords it uses."""
    if not isinstance(raw, dict) or raw.get("type") not in OPTION_TYPES:
        return None
    prop: dict[str, Any] = {"type": raw["type"]}
    if raw["type"] == "array":
        items = raw.get("items")
        if not isinstance(items, dict) or items.get("type") != "string":
            return None
        prop["items"] = {
            "type": "string",
            **({"pattern": items["pattern"]} if isinstance(items.get("pattern"), str) else {}),
        }
    for keyword in _SCHEMA_KEYWORDS:
        value = _plain(raw.get(keyword))
        if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
            prop[keyword] = value
    return prop


def form_schema(item: pb.Integration) -> dict[str, Any]:
    """The part of ``options_schema`` the configure dialog renders: string, integer, array-of-string and
    boolean properties, ordered by type then name so the form looks the same on every load."""
    raw = _struct(item.options_schema).get("properties")
    props = {k: _form_property(v) for k, v in raw.items() if _OPTION_KEY.fullmatch(k)} if isinstance(raw, dict) else {}
    shown = sorted(
        ((key, p) for key, p in props.items() if p is not None),
        key=lambda kv: (OPTION_TYPES.index(kv[1]["type"]), kv[0]),
    )
    return {"properties": dict(shown)}


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
        # The integration's own options and what the dialog needs to edit them. Options never hold
        # credentials (those travel only in api_token), so they are shown as stored.
        "options_schema": form_schema(item),
        "options": _struct(item.settings.options),
        "webhook_endpoint": item.webhook_endpoint,
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
        "start_time": _time(job.start_time),
        "finish_time": _time(job.finish_time),
        "done": job.state in (pb.IMPORT_JOB_STATE_SUCCEEDED, pb.IMPORT_JOB_STATE_FAILED, pb.IMPORT_JOB_STATE_CANCELLED),
        # "import", or "field_remap": the nodes already imported re-mapped after a custom-field change.
        "kind": _enum(pb.ImportJobKind, job.kind, "IMPORT_JOB_KIND_"),
        # "full" or "incremental" for an import ("unspecified" for a re-map).
        "mode": _enum(pb.ImportMode, job.mode, "IMPORT_MODE_"),
    }


@dataclass(frozen=True)
class Update:
    integration: pb.Integration
    paths: list[str]


def deletion_view(deletion: pb.DataDeletion) -> dict[str, Any]:
    return {
        "id": deletion.id,
        "integration": deletion.integration,
        "state": _enum(pb.DataDeletionState, deletion.state, "DATA_DELETION_STATE_"),
        "removed": dict(sorted(deletion.removed.items())),
        "relationships_removed": deletion.relationships_removed,
        "batches": deletion.batches,
        "error": deletion.error,
        "done": deletion.state != pb.DATA_DELETION_STATE_RUNNING,
    }


@dataclass(frozen=True)
class DisableChoice:
    delete_data: bool
    confirm_name: str


def disable_choice(body: Any) -> DisableChoice:
    """The disable dialog: keep the data, or delete it with the integration's name typed again (the
    server checks the name; here only the shape)."""
    if not isinstance(body, dict) or not set(body) <= {"data_policy", "confirm_name"} or "data_policy" not in body:
        raise FormError("body", 'expected {"data_policy": "keep"|"delete", "confirm_name": "..."}')
    policy, confirm = body["data_policy"], body.get("confirm_name", "")
    if policy not in ("keep", "delete"):
        raise FormError("data_policy", 'must be "keep" or "delete"')
    if not isinstance(confirm, str) or len(confirm) > 200:
        raise FormError("confirm_name", "must be the integration's name")
    return DisableChoice(policy == "delete", confirm)


def enabled_update(body: Any) -> Update:
    if not isinstance(body, dict) or set(body) != {"enabled"}:
        raise FormError("body", 'expected {"enabled": true|false}')
    if not isinstance(body["enabled"], bool):
        raise FormError("enabled", "must be true or false")
    return Update(pb.Integration(enabled=body["enabled"]), ["enabled"])


def settings_update(body: Any, options_schema: Mapping[str, Any] | None = None) -> Update:
    """The configuration dialog: a new token (empty keeps the stored one), auto-sync, interval, and the
    integration's options. ``options_schema`` is ``form_schema(...)["properties"]`` of the integration
    being saved; without it no option is accepted."""
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
    if "options" in body:
        values, cleared = _options(body["options"], options_schema or {})
        if values:
            settings.options.update(values)
        paths += [f"settings.options.{key}" for key in sorted({*values, *cleared})]
    if not paths:
        raise FormError("api_token", "nothing to save: enter an API token or change a setting")
    return Update(pb.Integration(settings=settings), paths)


def _options(raw: Any, schema: Mapping[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """The options to set, and those to clear (sent in the mask but not in ``options``: back to the
    integration's default). Types are checked here; what the values mean (a URL, a key's pattern) is
    the server's to judge, and its field errors come back named ``options.<key>``."""
    if not isinstance(raw, dict):
        raise FormError("options", "must be a JSON object of option values")
    values: dict[str, Any] = {}
    cleared: set[str] = set()
    for key, value in raw.items():
        field = f"options.{key}"
        prop = schema.get(key)
        if not isinstance(prop, Mapping):
            raise FormError(field, "is not an option of this integration")
        kind = prop.get("type")
        if kind == "boolean":
            if not isinstance(value, bool):
                raise FormError(field, "must be true or false")
            values[key] = value
        elif kind == "string":
            if not isinstance(value, str) or len(value) > MAX_OPTION_CHARS:
                raise FormError(field, f"must be text of at most {MAX_OPTION_CHARS} characters")
            if value.strip():
                values[key] = value.strip()
            else:
                cleared.add(key)
        elif kind == "integer":
            if value is None or value == "":
                cleared.add(key)
                continue
            if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_SAFE_INTEGER:
                raise FormError(field, "must be a whole number")
            low, high = prop.get("minimum"), prop.get("maximum")
            if (isinstance(low, int) and value < low) or (isinstance(high, int) and value > high):
                raise FormError(
                    field, f"must be from {low if low is not None else '…'} to {high if high is not None else '…'}"
                )
            values[key] = value
        else:  # an array of strings: a list, or the text input's "A, B C"
            items = _LIST_SEPARATORS.split(value) if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
                raise FormError(field, "must be a list of text values, e.g. A, B")
            items = [item.strip() for item in items if item.strip()]
            limit = prop.get("maxItems")
            limit = min(limit, MAX_OPTION_ITEMS) if isinstance(limit, int) else MAX_OPTION_ITEMS
            if len(items) > limit:
                raise FormError(field, f"at most {limit} values")
            if any(len(item) > MAX_OPTION_CHARS for item in items):
                raise FormError(field, f"each value at most {MAX_OPTION_CHARS} characters")
            if items:
                values[key] = items
            else:
                cleared.add(key)
    return values, cleared


# ---------------------------------------------------------------- the integration's detail page


def event_view(event: pb.WebhookEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "integration": event.integration,
        "event": event.event,
        "object_id": event.object_id,
        "state": _enum(pb.WebhookEventState, event.state, "WEBHOOK_EVENT_STATE_"),
        "attempts": event.attempts,
        "last_error": event.last_error,
        "received_time": _time(event.received_time),
        "applied_time": _time(event.applied_time),
    }


def audit_view(record: pb.AuditRecord) -> dict[str, Any]:
    return {
        "action": record.action,
        "actor": record.actor,
        "time": _time(record.create_time),
        "details": dict(sorted(record.details.items())),
    }


def analytics_view(day: pb.AnalyticsDay) -> dict[str, Any]:
    return {
        "day": (_time(day.day) or "")[:10],
        "imports": day.imports,
        "imports_failed": day.imports_failed,
        "objects_written": day.objects_written,
        "api_calls": day.api_calls,
        "rate_limit_waits": day.rate_limit_waits,
        "events_received": day.events_received,
        "events_applied": day.events_applied,
        "events_failed": day.events_failed,
        "latency_p50_seconds": round(day.event_latency_p50_seconds, 3),
        "latency_p95_seconds": round(day.event_latency_p95_seconds, 3),
    }


EVENT_STATES = ("pending", "held", "applied", "failed", "dead_lettered")
MAX_REPLAY = 100


def event_state(value: str | None) -> pb.WebhookEventState.ValueType:
    """The Events tab's filter: one of ``EVENT_STATES``, or none (every state)."""
    if not value:
        return pb.WEBHOOK_EVENT_STATE_UNSPECIFIED
    if value not in EVENT_STATES:
        raise FormError("state", f"must be one of {', '.join(EVENT_STATES)}")
    return pb.WebhookEventState.Value(f"WEBHOOK_EVENT_STATE_{value.upper()}")


SINCE_HOURS = (1, 24, 168)  # the Events tab's "received in the last …": an hour, a day, a week


def events_since(value: str | None, now: datetime) -> datetime | None:
    """The Events tab's time filter: the last 1, 24 or 168 hours, or none (any time)."""
    if not value:
        return None
    if not value.isdigit() or int(value) not in SINCE_HOURS:
        raise FormError("since_hours", f"must be one of {', '.join(map(str, SINCE_HOURS))}")
    return now - timedelta(hours=int(value))


def replay_ids(body: Any) -> list[str]:
    if not isinstance(body, dict) or set(body) != {"event_ids"} or not isinstance(body["event_ids"], list):
        raise FormError("body", 'expected {"event_ids": ["...", ...]}')
    ids = body["event_ids"]
    if not ids or len(ids) > MAX_REPLAY or not all(isinstance(i, str) and 0 < len(i) <= 200 for i in ids):
        raise FormError("event_ids", f"give 1 to {MAX_REPLAY} event ids")
    return list(ids)


def json_safe_token(value: str) -> str:
    """A page token from the query string: opaque to us, but bounded and printable."""
    if len(value) > 2000 or not value.isascii() or not value.isprintable():
        raise FormError("page_token", "is not a page token this gallery gave out")
    return value


def grace_minutes(body: Any) -> int:
    """The Settings tab's regenerate form: how long the old secret stays accepted, in minutes."""
    if not isinstance(body, dict) or set(body) != {"grace_minutes"}:
        raise FormError("body", 'expected {"grace_minutes": 1..1440}')
    value = body["grace_minutes"]
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1440:
        raise FormError("grace_minutes", "must be a whole number of minutes from 1 to 1440 (24 hours)")
    return value


def import_mode(body: Any) -> pb.ImportMode.ValueType:
    """A start-import body: ``{}`` (full) or ``{"mode": "full"|"incremental"}``."""
    if not isinstance(body, dict) or not set(body) <= {"mode"}:
        raise FormError("body", 'expected {} or {"mode": "full" or "incremental"}')
    mode = body.get("mode", "full")
    if mode not in ("full", "incremental"):
        raise FormError("mode", 'must be "full" or "incremental"')
    return pb.IMPORT_MODE_INCREMENTAL if mode == "incremental" else pb.IMPORT_MODE_FULL


def regenerated_view(done: pb.RegenerateWebhookSecretResponse) -> dict[str, Any]:
    return {
        "integration": integration_card(done.integration),
        "old_secret_expire_time": _time(done.old_secret_expire_time),
    }


# ---------------------------------------------------------------- custom-field mapping (the Settings tab)

MAX_MAPPINGS = 500  # the server's own limit
MAX_FIELD_ID_CHARS = 200
_PROPERTY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")  # what the server accepts as a mapped property
_MAPPING_KEYS = frozenset({"field_id", "property", "type", "skip"})
_MAPPINGS_SHAPE = '{"mappings": [{"field_id": "...", "property": "...", "type": "natural", "skip": false}, ...]}'


def custom_field_view(field: pb.CustomField) -> dict[str, Any]:
    """A custom field with what it becomes now (``mapping``: property and type filled in) and the form's
    values for it (``rule``: the property empty when it is the default, the type "natural" when it is
    the field's own), which the page sends back unchanged for a field left alone."""
    mapping = field.mapping
    natural = type_word(field.natural_type)
    return {
        "id": field.id,
        "name": field.name,
        "provider_type": field.provider_type,
        "kind": field.kind,
        "default_property": field.default_property,
        "natural_type": natural,
        "mapping": {
            "property": mapping.property or field.default_property,
            "type": type_word(mapping.type) if mapping.type else natural,
            "skip": mapping.skip,
        },
        "rule": {
            "property": "" if mapping.property == field.default_property else mapping.property,
            "type": "natural"
            if mapping.type in (pb.FIELD_TYPE_UNSPECIFIED, field.natural_type)
            else type_word(mapping.type),
            "skip": mapping.skip,
        },
    }


def custom_fields_view(
    fields: Iterable[pb.CustomField], remap_job: pb.ImportJob | None, stale: Iterable[pb.FieldMapping] = ()
) -> dict[str, Any]:
    return {
        "fields": [custom_field_view(field) for field in fields],
        "remap_job": import_job(remap_job) if remap_job is not None else None,
        # Rules stored for fields the third party no longer lists: the page sends them back as they are.
        "stale_mappings": [
            {"field_id": item.field_id, "property": item.property, "type": type_word(item.type), "skip": item.skip}
            for item in stale
        ],
    }


def field_mappings(body: Any) -> list[pb.FieldMapping]:
    """The Settings tab's custom-field table: the whole mapping (a field not listed gets its default).
    Shapes and the property's spelling are checked here; whether a property is free (not one of the
    kind's own, not taken twice) and a field id known is the server's to say, with the same paths
    (``mappings[2].property``)."""
    if not isinstance(body, dict) or set(body) != {"mappings"} or not isinstance(body["mappings"], list):
        raise FormError("body", f"expected {_MAPPINGS_SHAPE}")
    items = body["mappings"]
    if len(items) > MAX_MAPPINGS:
        raise FormError("mappings", f"at most {MAX_MAPPINGS} fields")
    mappings: list[pb.FieldMapping] = []
    for index, item in enumerate(items):
        at = f"mappings[{index}]"
        if not isinstance(item, dict) or "field_id" not in item or not set(item) <= _MAPPING_KEYS:
            raise FormError(at, 'expected {"field_id": "...", "property": "...", "type": "...", "skip": true|false}')
        field_id, prop = item["field_id"], item.get("property", "")
        kind, skip = item.get("type", "natural"), item.get("skip", False)
        if not isinstance(field_id, str) or not 0 < len(field_id) <= MAX_FIELD_ID_CHARS:
            raise FormError(f"{at}.field_id", "must be the id of one of the integration's custom fields")
        if not isinstance(prop, str) or (prop.strip() and not _PROPERTY.fullmatch(prop.strip())):
            raise FormError(
                f"{at}.property",
                "must start with a letter and hold only letters, digits and _, at most 64 (empty: the default)",
            )
        if not isinstance(kind, str) or kind not in FIELD_TYPES:
            raise FormError(f"{at}.type", f"must be one of {', '.join(FIELD_TYPES)}")
        if not isinstance(skip, bool):
            raise FormError(f"{at}.skip", "must be true or false")
        mappings.append(pb.FieldMapping(field_id=field_id, property=prop.strip(), type=FIELD_TYPES[kind], skip=skip))
    return mappings
