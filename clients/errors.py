"""What callers catch. One exception per canonical status, built from the gRPC error and its details.

IntegrationsError                 (code, message, reason, field_violations)
├── InvalidArgumentError          INVALID_ARGUMENT
├── NotFoundError                 NOT_FOUND
├── AlreadyExistsError            ALREADY_EXISTS
├── FailedPreconditionError       FAILED_PRECONDITION
├── AbortedError                  ABORTED
├── UnauthenticatedError          UNAUTHENTICATED
├── PermissionDeniedError         PERMISSION_DENIED
├── UnavailableError              UNAVAILABLE (after the client's retries)
└── DeadlineExceededError         DEADLINE_EXCEEDED
"""

from __future__ import annotations

from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2


class IntegrationsError(Exception):
    def __init__(
        self, code: grpc.StatusCode, message: str, reason: str = "", field_violations: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.reason = reason
        self.field_violations = field_violations or {}


class InvalidArgumentError(IntegrationsError):
    pass


class NotFoundError(IntegrationsError):
    pass


class AlreadyExistsError(IntegrationsError):
    pass


class FailedPreconditionError(IntegrationsError):
    pass


class AbortedError(IntegrationsError):
    pass


class UnauthenticatedError(IntegrationsError):
    pass


class PermissionDeniedError(IntegrationsError):
    pass


class UnavailableError(IntegrationsError):
    pass


class DeadlineExceededError(IntegrationsError):
    pass


_BY_CODE: dict[grpc.StatusCode, type[IntegrationsError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.ABORTED: AbortedError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
}


def from_rpc_error(error: grpc.RpcError) -> IntegrationsError:
    """The typed exception for a failed call, with the server's ErrorInfo reason and BadRequest fields."""
    code: grpc.StatusCode = error.code()
    message: str = error.details() or ""
    reason, fields = "", {}
    metadata: Any = error.trailing_metadata() or ()
    for key, value in metadata:
        if key != "grpc-status-details-bin":
            continue
        for detail in status_pb2.Status.FromString(value).details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason = info.reason
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                fields = {v.field: v.description for v in bad.field_violations}
    return _BY_CODE.get(code, IntegrationsError)(code, message, reason, fields)
