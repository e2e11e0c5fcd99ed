"""Jira's custom fields on an issue → typed properties, as the project's mapping says. Pure functions.

A site's custom fields (``GET /rest/api/3/field`` entries with ``custom: true``) carry a ``schema``
whose ``type`` (and ``items`` for arrays) says how a value reads; field ids differ per site (§4.3).
Each field with a value becomes ``cf_<slug of its name>`` in its *natural* type: number → a float,
string → text (a v3 textarea sends ADF, read as plain text by V7), date and datetime → DATETIME, an
option → its ``value``, an array of strings, options or users → a list of strings, a user → its
``accountId``, anything else → its JSON text. What a value became is recomputed from what the node
keeps (``customFieldsJson``: one ``{id, name, type, items?, custom?, value}`` per valued field), so a
changed mapping re-maps a stored issue without asking Jira. Values are kept lean: ``self`` links,
avatars and a person's private details (email, time zone) are dropped, since the graph keeps emails
only on ``Person`` nodes and only when Jira shows them.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from server.integrations import provider_values as values
from server.integrations.field_map import FieldMap, FieldType, mapped_properties
from server.integrations.jira.adf import to_text
from server.integrations.jira.times import parse_date, parse_datetime

# Atlassian's own custom field types are shown by their short name (``select``, ``float``, ...).
_ATLASSIAN_TYPES = "com.atlassian.jira.plugin.system.customfieldtypes:"
# Keys of Jira objects that are links or a person's private details, never the value itself.
_NOISE = frozenset({"self", "avatarUrls", "iconUrl", "emailAddress", "timeZone", "locale", "expand"})
# Array items read as a list of strings, and the key each item's string is in (None: the item itself).
_LIST_ITEMS: dict[str, str | None] = {"string": None, "option": "value", "user": "accountId"}
_NATURAL: dict[str, FieldType] = {
    "number": FieldType.NUMBER,
    "string": FieldType.STRING,
    "date": FieldType.DATETIME,
    "datetime": FieldType.DATETIME,
    "option": FieldType.STRING,
    "user": FieldType.STRING,
}


@dataclass(frozen=True)
class JiraField:
    """A site's custom field as ``/rest/api/3/field`` lists it: what its values are read as."""

    id: str
    name: str
    type: str  # ``schema.type``: number, string, date, datetime, option, user, array, any, ...
    items: str | None = None  # ``schema.items`` of an array
    custom: str | None = None  # ``schema.custom``: the field type's key

    @property
    def provider_type(self) -> str:
        """How the mapping page names its type: Atlassian's short name, else the key, else the type."""
        if self.custom and self.custom.startswith(_ATLASSIAN_TYPES):
            return self.custom[len(_ATLASSIAN_TYPES) :]
        return self.custom or self.type


def read_field(raw: Any) -> JiraField | None:
    """A ``/field`` entry as a custom field; None for system fields and malformed entries."""
    if not isinstance(raw, dict) or raw.get("custom") is not True or not isinstance(raw.get("id"), str):
        return None
    schema = raw.get("schema") if isinstance(raw.get("schema"), dict) else {}
    assert isinstance(schema, dict)
    field_id = raw["id"].strip()
    if not field_id:
        return None
    return JiraField(
        id=field_id,
        name=values.text(raw.get("name")) or field_id,
        type=values.text(schema.get("type")) or "any",
        items=values.text(schema.get("items")),
        custom=values.text(schema.get("custom")),
    )


def field_order(field_id: str) -> tuple[int, str]:
    """Numeric ids in number order (``customfield_9`` before ``customfield_10``), then by text."""
    digits = re.sub(r"\D", "", field_id)
    return (int(digits) if digits else -1, field_id)


def natural_type(kind: str, items: str | None = None) -> FieldType:
    """The type a field of ``schema.type`` ``kind`` is read as (what it becomes unmapped)."""
    if kind == "array":
        return FieldType.STRING_LIST if items in _LIST_ITEMS else FieldType.STRING
    return _NATURAL.get(kind, FieldType.STRING)  # anything else: its JSON text


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:60] or "field"


def default_property(field_id: str, name: str) -> str:
    """``cf_<slug of the name>`` (``Acceptance criteria`` → ``cf_acceptance_criteria``)."""
    return "cf_" + _slug(name or field_id)


def default_properties(fields: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The default property per field id of one issue's fields, in field order; two fields of one name
    on an issue: the later one adds its id's number (``cf_team_10051``)."""
    names: dict[str, str] = {}
    for field_id, name in sorted(fields, key=lambda pair: field_order(pair[0])):
        prop = default_property(field_id, name)
        if prop in names.values():
            prop = f"{prop}_{re.sub(r'[^a-z0-9]+', '_', field_id.lower()).removeprefix('customfield_')}"
        names[field_id] = prop
    return names


def lean(value: Any) -> Any:
    """A value without the links and private details Jira wraps objects in; ADF documents as they are."""
    if isinstance(value, dict):
        if value.get("type") == "doc":
            return value
        return {k: lean(v) for k, v in value.items() if k not in _NOISE}
    if isinstance(value, list):
        return [lean(v) for v in value]
    return value


def _present(value: Any) -> bool:
    """Requested-but-unset fields are ``null`` or ``[]`` (§4.3); an empty string is unset too."""
    return value is not None and value != [] and value != ""


def entries(fields: Mapping[str, Any], custom: Iterable[JiraField]) -> list[dict[str, Any]]:
    """What ``customFieldsJson`` keeps of an issue's ``fields``: each custom field with a value."""
    kept: list[dict[str, Any]] = []
    for field in custom:
        value = fields.get(field.id)
        if not _present(value):
            continue
        entry: dict[str, Any] = {"id": field.id, "name": field.name, "type": field.type, "value": lean(value)}
        if field.items is not None:
            entry["items"] = field.items
        if field.custom is not None:
            entry["custom"] = field.custom
        kept.append(entry)
    return kept


def _string(value: Any) -> str:
    """Text as it is; ADF (a v3 textarea) as plain text; anything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and value.get("type") == "doc":
        return to_text(value) or ""
    return json.dumps(value, sort_keys=True)


def _moment(value: Any, issues: Counter[str]) -> datetime | None:
    """A datetime field's time, or a date field's day (midnight UTC: Jira dates have no zone)."""
    if isinstance(value, str) and "T" not in value:
        day = parse_date(value)
        if day is not None:
            return datetime.combine(day, time(), UTC)
    parsed = parse_datetime(value)
    if parsed is None:
        issues["malformed_values"] += 1
    return parsed


def _item(value: Any, key: str | None) -> str | None:
    if key is None:
        return value if isinstance(value, str) else None
    return values.ident(value.get(key)) if isinstance(value, dict) else None


def natural_value(entry: Mapping[str, Any], issues: Counter[str]) -> Any:
    """A kept entry's value in its natural type; None (counted) when it does not read as that type."""
    kind, value = str(entry.get("type") or ""), entry.get("value")
    if kind == "number":
        return values.number(value, issues)
    if kind == "string":
        return _string(value)
    if kind in ("date", "datetime"):
        return _moment(value, issues)
    if kind in ("option", "user"):
        found = _item(value, "value" if kind == "option" else "accountId")
        if found is None:
            issues["malformed_values"] += 1
        return found
    if kind == "array":
        items = entry.get("items")
        if isinstance(items, str) and items in _LIST_ITEMS:
            read = [_item(v, _LIST_ITEMS[items]) for v in values.items(value)]
            if None in read or not isinstance(value, list):
                issues["malformed_values"] += 1
            return [v for v in read if v is not None] or None
    return _string(value)


def custom_field_props(kept: list[Any], issues: Counter[str], mapping: FieldMap) -> dict[str, Any]:
    """The issue's custom-field properties under the project's mapping, and their names in
    ``customFieldProps`` (what a later re-map removes before it writes the new ones)."""
    valued = [e for e in kept if isinstance(e, dict) and isinstance(e.get("id"), str) and _present(e.get("value"))]
    defaults = default_properties((str(e["id"]), str(e.get("name") or "")) for e in valued)
    read = [(str(e["id"]), defaults[str(e["id"])], functools.partial(natural_value, e, issues)) for e in valued]
    return mapped_properties(read, issues, mapping)


def issue_props(
    fields: Mapping[str, Any], custom: Iterable[JiraField], issues: Counter[str], mapping: FieldMap
) -> dict[str, Any]:
    """What an issue node gets of its custom fields: nothing when none has a value (so issues without
    any keep the properties, and the content hash, they had before custom fields were read)."""
    kept = entries(fields, custom)
    if not kept:
        return {}
    return {"customFieldsJson": json.dumps(kept, sort_keys=True), **custom_field_props(kept, issues, mapping)}
