"""The words the CLI and the gallery use for a custom field's graph type, and back."""

from __future__ import annotations

from integrations.v1 import integration_service_pb2 as pb

# "natural": as the integration reads the field (FIELD_TYPE_UNSPECIFIED on the wire); in the page's order.
FIELD_TYPES: dict[str, pb.FieldType.ValueType] = {
    "natural": pb.FIELD_TYPE_UNSPECIFIED,
    "string": pb.FIELD_TYPE_STRING,
    "number": pb.FIELD_TYPE_NUMBER,
    "boolean": pb.FIELD_TYPE_BOOLEAN,
    "datetime": pb.FIELD_TYPE_DATETIME,
    "string_list": pb.FIELD_TYPE_STRING_LIST,
}


def type_word(value: int) -> str:
    """The word for a wire value (one this client does not know: "natural", as the server falls back)."""
    return next((word for word, number in FIELD_TYPES.items() if number == value), "natural")
