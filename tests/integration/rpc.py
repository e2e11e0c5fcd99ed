"""Reading gRPC errors the way a client would: through the typed client's own error parsing."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import grpc

from clients.errors import from_rpc_error


@dataclass
class RpcFailure:
    code: grpc.StatusCode
    message: str
    reason: str
    fields: list[str]


async def failure(call: Awaitable[Any]) -> RpcFailure:
    try:
        await call
    except grpc.aio.AioRpcError as error:
        typed = from_rpc_error(error)
        return RpcFailure(typed.code, typed.message, typed.reason, list(typed.field_violations))
    raise AssertionError("the call succeeded but was expected to fail")
