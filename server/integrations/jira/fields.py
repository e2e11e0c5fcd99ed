"""Jira's custom fields: discovered for the mapping page, and re-mapped on issues already imported.

Discovery is one call, ``GET /rest/api/3/field`` (a bare array of the site's fields): every entry with
``custom: true`` except the ones the import reads as sprint, rank and story points (they have their
own properties). A re-map needs no call at all: an issue node keeps its raw custom fields
(``customFieldsJson``), and the properties they became are listed in ``customFieldProps``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from server.integrations.field_map import NODE_PROPERTIES, CustomFieldInfo, FieldMap, remap_node
from server.integrations.jira import field_values, transform

KIND = "Issue"  # the only kind that carries custom fields
# An issue's own properties and those every node gets: no custom field may be mapped onto one.
RESERVED = frozenset(transform.issue({"id": "0", "fields": {}}, "0").nodes[0].props) | NODE_PROPERTIES


def discover(listed: Any) -> tuple[transform.SiteFields, list[CustomFieldInfo]]:
    """The site's fields as the import reads them, and its mappable custom fields by name."""
    site_fields = transform.read_site_fields(listed)
    ordered = sorted(site_fields.custom, key=lambda f: (f.name, field_values.field_order(f.id)))
    return site_fields, [
        CustomFieldInfo(
            id=field.id,
            name=field.name,
            provider_type=field.provider_type,
            kind=KIND,
            default_property=field_values.default_property(field.id, field.name),
            natural_type=field_values.natural_type(field.type, field.items),
        )
        for field in ordered
    ]


def remap(label: str, props: Mapping[str, Any], mapping: FieldMap) -> dict[str, Any] | None:
    """An issue node's properties with its custom fields mapped anew; None when nothing changes."""
    return remap_node(props, mapping, field_values.custom_field_props) if label == KIND else None
