"""Domain errors and the one place that turns them into gRPC statuses.

    ServiceError                      (code, message, reason)
    ├── InvalidArgument   INVALID_ARGUMENT   (+ google.rpc.BadRequest naming the field)
    ├── NotFound          NOT_FOUND
    ├── AlreadyExists     ALREADY_EXISTS
    ├── FailedPrecondition FAILED_PRECONDITION
    ├── Aborted           ABORTED
    ├── Unauthenticated   UNAUTHENTICATED
    ├── PermissionDenied  PERMISSION_DENIED
    └── Unavailable       UNAVAILABLE

Every status carries a ``google.rpc.ErrorInfo`` with a stable UPPER_SNAKE reason (AIP-193).
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

DOMAIN = "integrations.v1"


class ServiceError(Exception):
    code = grpc.StatusCode.INTERNAL
    default_reason = "INTERNAL"

    def __init__(self, message: str, *, reason: str | None = None, metadata: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata = metadata or {}

    def details(self) -> list[any_pb2.Any]:
        info = any_pb2.Any()
        info.Pack(error_details_pb2.ErrorInfo(reason=self.reason, domain=DOMAIN, metadata=self.metadata))
        return [info]


class InvalidArgument(ServiceError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    default_reason = "INVALID_ARGUMENT"

    def __init__(self, field: str, problem: str, *, reason: str | None = None):
        super().__init__(f"{field}: {problem}", reason=reason, metadata={"field": field})
        self.field = field
        self.problem = problem

    def details(self) -> list[any_pb2.Any]:
        bad = any_pb2.Any()
        bad.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=self.field, description=self.problem)
                ]
            )
        )
        return [*super().details(), bad]


class NotFound(ServiceError):
    code = grpc.StatusCode.NOT_FOUND
    default_reason = "NOT_FOUND"


class AlreadyExists(ServiceError):
    code = grpc.StatusCode.ALREADY_EXISTS
    default_reason = "ALREADY_EXISTS"


class FailedPrecondition(ServiceError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    default_reason = "FAILED_PRECONDITION"


class Aborted(ServiceError):
    code = grpc.StatusCode.ABORTED
    default_reason = "ABORTED"


class Unauthenticated(ServiceError):
    code = grpc.StatusCode.UNAUTHENTICATED
    default_reason = "UNAUTHENTICATED"


class PermissionDenied(ServiceError):
    code = grpc.StatusCode.PERMISSION_DENIED
    default_reason = "PERMISSION_DENIED"


class Unavailable(ServiceError):
    code = grpc.StatusCode.UNAVAILABLE
    default_reason = "UNAVAILABLE"


def to_grpc_status(error: ServiceError) -> grpc.Status:
    status = status_pb2.Status(code=getattr(code_pb2, error.code.name), message=error.message, details=error.details())
    return rpc_status.to_status(status)


def internal_status() -> grpc.Status:
    """What callers see for a bug: no internals, no secrets."""
    return to_grpc_status(ServiceError("internal error; see server logs", reason="INTERNAL"))
