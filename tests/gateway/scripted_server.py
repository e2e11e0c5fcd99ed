"""A real gRPC server speaking the integrations contract whose answers a test scripts.

For the gateway's reactions to answers the real server gives only in trouble (a batch failing
with INTERNAL, a lookup refused with INVALID_ARGUMENT, an outage): the wire, the status codes and
the ErrorInfo details are the real ones; only the decisions are the test's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from integrations.v1 import integration_service_pb2 as pb

__all__ = ["OK", "Failure", "ScriptedService", "pb", "refused", "start", "stored"]

OK = grpc.StatusCode.OK.value[0]
Failure = tuple[grpc.StatusCode, str]  # a code and its ErrorInfo reason
Answer = Callable[[list[bytes]], "list[pb.DeliveryResult] | Failure"]


def stored() -> pb.DeliveryResult:
    return pb.DeliveryResult(code=OK)


def refused(code: grpc.StatusCode, reason: str) -> pb.DeliveryResult:
    return pb.DeliveryResult(code=code.value[0], reason=reason, message=f"scripted {code.name}")


async def abort(context: Any, code: grpc.StatusCode, reason: str) -> None:
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason=reason, domain="test"))
    status = status_pb2.Status(code=code.value[0], message=f"scripted {code.name}", details=[info])
    await context.abort_with_status(rpc_status.to_status(status))


@dataclass
class ScriptedService:
    """The two calls the gateway makes; every other method is UNIMPLEMENTED, as gRPC answers."""

    secrets: dict[str, str] = field(default_factory=dict)
    secret_ttl_seconds: int = 300
    secret_failure: Failure | None = None  # when set, every lookup fails this way
    secret_calls: list[str] = field(default_factory=list)
    batches: list[list[bytes]] = field(default_factory=list)  # the bodies of every DeliverWebhookEvents call
    kept: list[bytes] = field(default_factory=list)  # bodies answered OK for the first time, in order
    answer: Answer = field(default=lambda bodies: [stored() for _ in bodies])

    async def GetWebhookSecret(self, request: pb.GetWebhookSecretRequest, context: Any) -> pb.GetWebhookSecretResponse:
        self.secret_calls.append(request.webhook_id)
        if self.secret_failure is not None:
            await abort(context, *self.secret_failure)
        secret = self.secrets.get(request.webhook_id)
        if secret is None:
            await abort(context, grpc.StatusCode.NOT_FOUND, "UNKNOWN_WEBHOOK")
            raise AssertionError("unreachable")
        return pb.GetWebhookSecretResponse(secret=secret, ttl=duration_pb2.Duration(seconds=self.secret_ttl_seconds))

    async def DeliverWebhookEvents(
        self, request: pb.DeliverWebhookEventsRequest, context: Any
    ) -> pb.DeliverWebhookEventsResponse:
        bodies = [event.raw_body for event in request.events]
        self.batches.append(bodies)
        outcome = self.answer(bodies)
        if isinstance(outcome, tuple):
            await abort(context, *outcome)
            raise AssertionError("unreachable")
        for body, result in zip(bodies, outcome, strict=True):
            if result.code == OK:
                if body in self.kept:
                    result.duplicate = True
                else:
                    self.kept.append(body)
        return pb.DeliverWebhookEventsResponse(results=outcome)


def _handler(method: Any, request_type: Any, response_type: Any) -> grpc.RpcMethodHandler[Any, Any]:
    return grpc.unary_unary_rpc_method_handler(
        method, request_deserializer=request_type.FromString, response_serializer=response_type.SerializeToString
    )


async def start(service: ScriptedService) -> tuple[grpc.aio.Server, str]:
    server = grpc.aio.server()
    handlers = {
        "GetWebhookSecret": _handler(service.GetWebhookSecret, pb.GetWebhookSecretRequest, pb.GetWebhookSecretResponse),
        "DeliverWebhookEvents": _handler(
            service.DeliverWebhookEvents, pb.DeliverWebhookEventsRequest, pb.DeliverWebhookEventsResponse
        ),
    }
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("integrations.v1.IntegrationService", handlers),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"
