"""How a project maps a third party's custom fields to graph properties, in the plugins' own terms.

Unmapped, a custom field becomes ``cf_<name>`` in the type the plugin reads it as (its *natural*
type). A project may rename the property, coerce the values to another type, or leave the field
out. The plugin applies the map when it transforms a record, and again, from what a node keeps of
the raw fields, when a changed map re-maps the nodes already in the graph.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from graph.integration_store import FieldMappingRow

# What a mapped property may be called: a plain Cypher identifier, so a query never needs quoting.
PROPERTY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
# The property every node written from custom fields lists them in, so a re-map knows what to drop.
FIELD_PROPS = "customFieldProps"
# What every node of a kind with custom fields holds besides its own: none may be a field's property.
NODE_PROPERTIES = frozenset(
    {
        "projectId",
        "orgId",
        "source",
        "syncedAt",
        "syncRunId",
        "externalId",
        "workspaceId",
        "contentHash",
        "stub",
        "customFieldsJson",
        FIELD_PROPS,
    }
)


class FieldType(Enum):
    NATURAL = "NATURAL"  # as the plugin reads it
    STRING = "STRING"
    NUMBER = "NUMBER"
    BOOLEAN = "BOOLEAN"
    DATETIME = "DATETIME"
    STRING_LIST = "STRING_LIST"


@dataclass(frozen=True)
class FieldRule:
    """One field's mapping; the default (empty property, natural type, kept) is no rule at all."""

    property: str = ""
    type: FieldType = FieldType.NATURAL
    skip: bool = False

    def is_default(self) -> bool:
        return self == FieldRule()


@dataclass(frozen=True)
class FieldMap:
    """The project's rules by field id (fields without one are mapped by default)."""

    rules: dict[str, FieldRule] = field(default_factory=dict)

    def rule(self, field_id: str) -> FieldRule:
        return self.rules.get(field_id, FieldRule())


def from_rows(rows: tuple[FieldMappingRow, ...]) -> FieldMap:
    """The stored rows as a map (a type this server no longer knows reads as the natural one)."""
    known = {t.value for t in FieldType}
    return FieldMap(
        {
            row.field_id: FieldRule(
                row.property, FieldType(row.type) if row.type in known else FieldType.NATURAL, row.skip
            )
            for row in rows
        }
    )


def to_rows(mapping: FieldMap) -> tuple[FieldMappingRow, ...]:
    """What is stored: only the rules that differ from the default, by field id."""
    return tuple(
        FieldMappingRow(field_id, rule.property, rule.type.value, rule.skip)
        for field_id, rule in sorted(mapping.rules.items())
        if not rule.is_default()
    )


@dataclass(frozen=True)
class CustomFieldInfo:
    """A custom field as the third party lists it, and what it becomes unmapped."""

    id: str
    name: str
    provider_type: str
    kind: str  # the node label its values land on
    default_property: str
    natural_type: FieldType


class Uncoercible(ValueError):
    """A value that the chosen type cannot hold (the property is then left out for that record)."""


def coerce(value: Any, to: FieldType) -> Any:
    """``value`` (of a natural type: str, int/float, bool, datetime, list of str) as ``to``."""
    if to is FieldType.NATURAL or value is None:
        return value
    if to is FieldType.STRING:
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)
    if to is FieldType.STRING_LIST:
        return [str(v) for v in value] if isinstance(value, list) else [coerce(value, FieldType.STRING)]
    if to is FieldType.NUMBER:
        if isinstance(value, bool):
            return 1 if value else 0
        if isinstance(value, int | float):
            return value
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                raise Uncoercible(f"{value!r} is not a number") from None
        raise Uncoercible(f"a {type(value).__name__} is not a number")
    if to is FieldType.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return value != 0
        if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "false", "no", "0", ""):
            return value.strip().lower() in ("true", "yes", "1")
        raise Uncoercible(f"{value!r} is not a yes or no")
    # DATETIME
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)  # third parties send epoch milliseconds
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000, UTC)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise Uncoercible(f"{value!r} is not a date") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise Uncoercible(f"a {type(value).__name__} is not a date")


def mapped_properties(
    fields: Iterable[tuple[str, str, Callable[[], Any]]], issues: Counter[str], mapping: FieldMap
) -> dict[str, Any]:
    """A record's custom-field properties: each (field id, default property, its natural value, read
    only for a field that is kept) as the mapping says, and their names in ``customFieldProps``."""
    props: dict[str, Any] = {}
    for field_id, default, natural in fields:
        rule = mapping.rule(field_id)
        if rule.skip:
            continue
        try:
            typed = coerce(natural(), rule.type)
        except Uncoercible:
            issues["uncoercible_custom_fields"] += 1
            continue
        if typed is not None:
            props[rule.property or default] = typed
    return {**props, FIELD_PROPS: sorted(props) or None}


# How a plugin turns a record's raw custom fields into properties under a mapping (its transform's).
FieldReader = Callable[[list[Any], Counter[str], FieldMap], dict[str, Any]]


def remap_node(props: Mapping[str, Any], mapping: FieldMap, read: FieldReader) -> dict[str, Any] | None:
    """A node's whole property map with its custom fields mapped anew from what it keeps of them
    (``customFieldsJson``; the properties they became are listed in ``customFieldProps``); None when
    nothing changes or the kept fields cannot be read."""
    raw = props.get("customFieldsJson")
    try:
        fields = json.loads(raw) if isinstance(raw, str) else []
    except ValueError:
        return None
    listed = props.get(FIELD_PROPS)
    # Nodes written before the list was kept: their custom-field properties are the cf_ ones.
    old = set(listed) if isinstance(listed, list) else {k for k in props if k.startswith("cf_")}
    kept = {k: v for k, v in props.items() if k not in old and k != FIELD_PROPS}
    mapped = read(fields if isinstance(fields, list) else [], Counter(), mapping)
    new = kept | {k: v for k, v in mapped.items() if v is not None}
    return None if new == dict(props) else new
