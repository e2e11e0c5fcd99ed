"""Masked hints for secrets in responses: enough to recognise a token, never enough to use it."""

from __future__ import annotations

MASK = "****"
_MIN_LENGTH_FOR_HINT = 16


def mask_secret(secret: str) -> str:
    if not secret:
        return ""
    if len(secret) < _MIN_LENGTH_FOR_HINT:
        return "*" * 8
    return f"{secret[:4]}{MASK}{secret[-4:]}"


def is_mask_of(candidate: str, secret: str) -> bool:
    return bool(secret) and candidate == mask_secret(secret)
