"""gRPC handlers: authenticate, authorise, validate, delegate, convert. No logic of their own."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import grpc

from integrations.v1 import integration_service_pb2 as pb
from integrations.v1 import integration_service_pb2_grpc as pb_grpc
from server import convert
from server.auth import Scope, TokenRegistry
from server.errors import ServiceError, internal_status, to_grpc_status
from server.gallery import Gallery
from server.validation import require_id

logger = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]
Req = TypeVar("Req")
Resp = TypeVar("Resp")
Handler = Callable[[Any, Req, Context], Awaitable[Resp]]
StreamHandler = Callable[[Any, Req, Context], AsyncIterator[Resp]]


class Unimplemented(ServiceError):
    code = grpc.StatusCode.UNIMPLEMENTED
    default_reason = "NOT_IMPLEMENTED"


def _guard(service: IntegrationService, request: Any, context: Context, scope: Scope, tenant: bool) -> None:
    """Auth (UNAUTHENTICATED), id validation (INVALID_ARGUMENT), scope and tenant (PERMISSION_DENIED)."""
    grant = service.tokens.authenticate(context.invocation_metadata() or ())
    org_id = project_id = None
    if tenant:
        org_id = require_id("org_id", request.org_id)
        project_id = require_id("project_id", request.project_id)
    grant.require(scope, org_id, project_id)


async def _abort(context: Context, name: str, error: Exception) -> NoReturn:
    if isinstance(error, ServiceError):
        status = to_grpc_status(error)
        logger.info("%s refused: %s %s", name, error.code.name, error.message)
    else:
        logger.error("%s failed", name, exc_info=error)
        status = internal_status()
    await context.abort(status.code, status.details, status.trailing_metadata)
    raise AssertionError("abort returns only by raising")


def rpc(scope: Scope, *, tenant: bool = True) -> Callable[[Handler[Req, Resp]], Handler[Req, Resp]]:
    def decorate(handler: Handler[Req, Resp]) -> Handler[Req, Resp]:
        @functools.wraps(handler)
        async def wrapper(self: IntegrationService, request: Req, context: Context) -> Resp:
            try:
                _guard(self, request, context, scope, tenant)
                return await handler(self, request, context)
            except Exception as exc:  # every failure becomes a status
                error = exc
            return await _abort(context, handler.__name__, error)

        return wrapper

    return decorate


def stream_rpc(scope: Scope) -> Callable[[StreamHandler[Req, Resp]], StreamHandler[Req, Resp]]:
    def decorate(handler: StreamHandler[Req, Resp]) -> StreamHandler[Req, Resp]:
        @functools.wraps(handler)
        async def wrapper(self: IntegrationService, request: Req, context: Context) -> AsyncIterator[Resp]:
            try:
                _guard(self, request, context, scope, True)
                async for item in handler(self, request, context):
                    yield item
                return
            except Exception as exc:  # every failure becomes a status
                error = exc
            await _abort(context, handler.__name__, error)

        return wrapper

    return decorate


class IntegrationService(pb_grpc.IntegrationServiceServicer):
    def __init__(self, gallery: Gallery, tokens: TokenRegistry) -> None:
        self.gallery = gallery
        self.tokens = tokens

    @rpc(Scope.READ)
    async def ListIntegrations(
        self, request: pb.ListIntegrationsRequest, context: Context
    ) -> pb.ListIntegrationsResponse:
        views = await self.gallery.list(request.org_id, request.project_id)
        return pb.ListIntegrationsResponse(integrations=[convert.integration(v) for v in views])

    @rpc(Scope.READ)
    async def GetIntegration(self, request: pb.GetIntegrationRequest, context: Context) -> pb.Integration:
        return convert.integration(await self.gallery.get(request.org_id, request.project_id, request.name))

    @rpc(Scope.WRITE)
    async def UpdateIntegration(self, request: pb.UpdateIntegrationRequest, context: Context) -> pb.Integration:
        view = await self.gallery.update(
            request.org_id, request.project_id, request.integration, request.update_mask, request.request_id
        )
        return convert.integration(view)

    @rpc(Scope.WRITE)
    async def TestConnection(self, request: pb.TestConnectionRequest, context: Context) -> pb.TestConnectionResponse:
        supplied = request.settings if request.HasField("settings") else None
        check = await self.gallery.test(request.org_id, request.project_id, request.name, supplied)
        return convert.connection_check(check)

    # Declared in the contract; implemented by the import and webhook work.
    @rpc(Scope.WRITE)
    async def StartImport(self, request: pb.StartImportRequest, context: Context) -> pb.ImportJob:
        raise Unimplemented("StartImport is not available in this server version")

    @rpc(Scope.READ)
    async def GetImportJob(self, request: pb.GetImportJobRequest, context: Context) -> pb.ImportJob:
        raise Unimplemented("GetImportJob is not available in this server version")

    @rpc(Scope.READ)
    async def ListImportJobs(self, request: pb.ListImportJobsRequest, context: Context) -> pb.ListImportJobsResponse:
        raise Unimplemented("ListImportJobs is not available in this server version")

    @stream_rpc(Scope.READ)
    async def WatchImportJob(self, request: pb.WatchImportJobRequest, context: Context) -> AsyncIterator[pb.ImportJob]:
        raise Unimplemented("WatchImportJob is not available in this server version")
        yield pb.ImportJob()  # pragma: no cover - makes this an async generator

    @rpc(Scope.WRITE)
    async def CancelImportJob(self, request: pb.CancelImportJobRequest, context: Context) -> pb.ImportJob:
        raise Unimplemented("CancelImportJob is not available in this server version")

    @rpc(Scope.DELIVER, tenant=False)
    async def DeliverWebhookEvent(
        self, request: pb.DeliverWebhookEventRequest, context: Context
    ) -> pb.DeliverWebhookEventResponse:
        raise Unimplemented("DeliverWebhookEvent is not available in this server version")

    @rpc(Scope.DELIVER, tenant=False)
    async def GetWebhookSecret(
        self, request: pb.GetWebhookSecretRequest, context: Context
    ) -> pb.GetWebhookSecretResponse:
        raise Unimplemented("GetWebhookSecret is not available in this server version")

    @rpc(Scope.READ)
    async def ListWebhookEvents(
        self, request: pb.ListWebhookEventsRequest, context: Context
    ) -> pb.ListWebhookEventsResponse:
        raise Unimplemented("ListWebhookEvents is not available in this server version")

    @rpc(Scope.WRITE)
    async def ReplayWebhookEvents(
        self, request: pb.ReplayWebhookEventsRequest, context: Context
    ) -> pb.ReplayWebhookEventsResponse:
        raise Unimplemented("ReplayWebhookEvents is not available in this server version")
