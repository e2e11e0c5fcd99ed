"""Reading gRPC errors the way a client would: code, message and google.rpc details."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2


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
        reason, fields = "", []
        metadata: Any = error.trailing_metadata() or ()
        for key, value in metadata:
            if key == "grpc-status-details-bin":
                status = status_pb2.Status.FromString(value)
                for detail in status.details:
                    if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                        info = error_details_pb2.ErrorInfo()
                        detail.Unpack(info)
                        reason = info.reason
                    if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                        bad = error_details_pb2.BadRequest()
                        detail.Unpack(bad)
                        fields = [v.field for v in bad.field_violations]
        return RpcFailure(error.code(), error.details() or "", reason, fields)
    raise AssertionError("the call succeeded but was expected to fail")
