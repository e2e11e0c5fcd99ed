"""Validation of identifiers and other request fields; every failure names the field."""

from __future__ import annotations

import re

from server.errors import InvalidArgument

# Always used with fullmatch: "$" would also match before a final "\n", letting "org-a\n" through.
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def require_id(field: str, value: str) -> str:
    if not value:
        raise InvalidArgument(field, "must not be empty", reason="EMPTY_FIELD")
    if not ID_PATTERN.fullmatch(value):
        raise InvalidArgument(
            field, "must be 1-128 characters of letters, digits, '.', '_', ':' or '-' and start alphanumeric"
        )
    return value


def require_name(field: str, value: str) -> str:
    if not value:
        raise InvalidArgument(field, "must not be empty", reason="EMPTY_FIELD")
    if not _NAME.fullmatch(value):
        raise InvalidArgument(field, "must be a registered integration's name: lower-case letters, digits, '-' or '_'")
    return value


def optional_request_id(field: str, value: str) -> str:
    if value and not _REQUEST_ID.fullmatch(value):
        raise InvalidArgument(field, "must be 1-128 characters of letters, digits, '.', '_', ':' or '-'")
    return value
