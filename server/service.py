"""gRPC handlers: authenticate, authorise, validate, delegate, convert. No logic of their own."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn, TypeVar

import grpc
from google.protobuf import duration_pb2

from graph.data_deletions import DataDeletionRecord
from graph.import_jobs import ImportJobRecord, SyncState
from graph.integration_store import IntegrationKey
from graph.webhook_inbox import EventFilter
from integrations.v1 import integration_service_pb2 as pb
from integrations.v1 import integration_service_pb2_grpc as pb_grpc
from server import convert
from server.analytics import Analytics
from server.audit import AuditTrail
from server.auth import Grant, Scope, TokenRegistry
from server.authorization import Authorizations
from server.data_deletions import DataDeletions
from server.errors import FailedPrecondition, InvalidArgument, NotFound, ServiceError, internal_status, to_grpc_status
from server.field_mappings import FieldMappings
from server.gallery import Gallery, IntegrationView
from server.imports import ImportRunner
from server.live_sync import LiveSync
from server.page_tokens import PageTokens
from server.secret_rotation import DEFAULT_GRACE, MAX_GRACE, SecretRotation
from server.validation import optional_request_id, require_id, require_name
from server.webhooks import SCHEMES_TTL_SECONDS, Incoming, Stored, WebhookDesk

logger = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]
Req = TypeVar("Req")
Resp = TypeVar("Resp")
Handler = Callable[[Any, Req, Context], Awaitable[Resp]]
StreamHandler = Callable[[Any, Req, Context], AsyncIterator[Resp]]


MAX_DELIVERY_BATCH = 500
MAX_REPLAY_IDS = 1000
WATCH_POLL_SECONDS = 1.0


# The grant of the call being handled, for handlers whose request names no tenant (webhook delivery):
# they check the pin against the project each delivery is routed to.
_caller: ContextVar[Grant] = ContextVar("caller")


def _guard(service: IntegrationService, request: Any, context: Context, scope: Scope, tenant: bool) -> None:
    """Auth (UNAUTHENTICATED), id validation (INVALID_ARGUMENT), scope and tenant (PERMISSION_DENIED)."""
    grant = service.tokens.authenticate(context.invocation_metadata() or ())
    org_id = project_id = None
    if tenant:
        org_id = require_id("org_id", request.org_id)
        project_id = require_id("project_id", request.project_id)
    grant.require(scope, org_id, project_id)
    _caller.set(grant)


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
    def __init__(
        self,
        gallery: Gallery,
        tokens: TokenRegistry,
        imports: ImportRunner,
        webhooks: WebhookDesk,
        live_sync: LiveSync,
        pages: PageTokens,
        authorizations: Authorizations,
        audit: AuditTrail,
        deletions: DataDeletions,
        analytics: Analytics,
        rotation: SecretRotation,
        field_mappings: FieldMappings,
    ) -> None:
        self.field_mappings = field_mappings
        self.rotation = rotation
        self.analytics = analytics
        self.gallery = gallery
        self.audit = audit
        self.deletions = deletions
        self.authorizations = authorizations
        self.tokens = tokens
        self.imports = imports
        self.webhooks = webhooks
        self.live_sync = live_sync
        self.pages = pages

    async def _view(self, view: IntegrationView) -> pb.Integration:
        key = view.key
        integration = convert.integration(
            view,
            await self._sync(key.org_id, key.project_id, key.name),
            await self.live_sync.health(key.org_id, key.project_id, key.name),
        )
        integration.webhook_endpoint = self.live_sync.endpoint(key)
        return integration

    async def _sync(self, org_id: str, project_id: str, name: str) -> SyncState | None:
        return await self.imports.sync_state(org_id, project_id, name)

    @rpc(Scope.READ)
    async def ListIntegrations(
        self, request: pb.ListIntegrationsRequest, context: Context
    ) -> pb.ListIntegrationsResponse:
        views = await self.gallery.list(request.org_id, request.project_id)
        return pb.ListIntegrationsResponse(integrations=[await self._view(v) for v in views])

    @rpc(Scope.READ)
    async def GetIntegration(self, request: pb.GetIntegrationRequest, context: Context) -> pb.Integration:
        return await self._view(await self.gallery.get(request.org_id, request.project_id, request.name))

    @rpc(Scope.WRITE)
    async def UpdateIntegration(self, request: pb.UpdateIntegrationRequest, context: Context) -> pb.Integration:
        if "enabled" in request.update_mask.paths and request.integration.enabled:
            key = IntegrationKey(request.org_id, request.project_id, require_name("name", request.integration.name))
            await self.deletions.require_none_running(key)
        view = await self.gallery.update(
            request.org_id, request.project_id, request.integration, request.update_mask, request.request_id
        )
        await self.live_sync.reconcile(view)  # webhooks exist exactly while enabled with auto-sync
        saved = await self._view(view)
        await self._audit(request, request.integration.name, "integration.update", _update_details(request, saved))
        return saved

    async def _audit(self, request: Any, integration: str, action: str, details: dict[str, str]) -> None:
        await self.audit.record(_caller.get().name, request.org_id, request.project_id, integration, action, details)

    @rpc(Scope.WRITE)
    async def DisableIntegration(
        self, request: pb.DisableIntegrationRequest, context: Context
    ) -> pb.DisableIntegrationResponse:
        name = require_name("name", request.name)
        if request.data_policy not in (pb.DATA_POLICY_KEEP, pb.DATA_POLICY_DELETE):
            raise InvalidArgument("data_policy", "say whether to keep the imported data (KEEP) or delete it (DELETE)")
        delete = request.data_policy == pb.DATA_POLICY_DELETE
        if delete and request.confirm_name != name:
            raise InvalidArgument("confirm_name", f"type the integration's name ({name!r}) to delete its data")
        disabled = await self.deletions.disable(request.org_id, request.project_id, name, delete, _caller.get().name)
        deletion = convert.data_deletion(disabled.deletion) if disabled.deletion is not None else None
        details = {"data_policy": "DELETE" if delete else "KEEP"} | ({"deletion_id": deletion.id} if deletion else {})
        await self._audit(request, disabled.view.key.name, "integration.disable", details)
        return pb.DisableIntegrationResponse(integration=await self._view(disabled.view), deletion=deletion)

    async def _deletion(self, request: Any) -> DataDeletionRecord:
        deletion_id = require_id("deletion_id", request.deletion_id)
        deletion = await self.deletions.get(deletion_id)
        if deletion is None or (deletion.org_id, deletion.project_id) != (request.org_id, request.project_id):
            raise NotFound(f"no data deletion {deletion_id!r} in this project", reason="UNKNOWN_DELETION")
        return deletion

    @rpc(Scope.READ)
    async def GetDataDeletion(self, request: pb.GetDataDeletionRequest, context: Context) -> pb.DataDeletion:
        return convert.data_deletion(await self._deletion(request))

    @stream_rpc(Scope.READ)
    async def WatchDataDeletion(
        self, request: pb.WatchDataDeletionRequest, context: Context
    ) -> AsyncIterator[pb.DataDeletion]:
        deletion = await self._deletion(request)
        last: pb.DataDeletion | None = None
        while True:
            current = convert.data_deletion(deletion)
            if current != last:
                yield current
                last = current
            if deletion.terminal:
                return
            with contextlib.suppress(TimeoutError):  # deletions run by other replicas are polled
                async with asyncio.timeout(WATCH_POLL_SECONDS):
                    await self.deletions.changed(deletion.id)
            deletion = await self._deletion(request)

    @rpc(Scope.WRITE)
    async def CancelDataDeletion(self, request: pb.CancelDataDeletionRequest, context: Context) -> pb.DataDeletion:
        deletion = await self._deletion(request)
        if deletion.terminal:
            raise FailedPrecondition(f"data deletion {deletion.id} already ended ({deletion.state})", reason="ENDED")
        cancelled = await self.deletions.cancel(deletion.id)
        await self._audit(request, deletion.integration, "data_deletion.cancel", {"deletion_id": deletion.id})
        return convert.data_deletion(cancelled or deletion)

    @rpc(Scope.WRITE)
    async def TestConnection(self, request: pb.TestConnectionRequest, context: Context) -> pb.TestConnectionResponse:
        supplied = request.settings if request.HasField("settings") else None
        check = await self.gallery.test(request.org_id, request.project_id, request.name, supplied)
        return convert.connection_check(check)

    # ------------------------------------------------------------ sign-in (OAuth)

    @rpc(Scope.WRITE)
    async def StartAuthorization(
        self, request: pb.StartAuthorizationRequest, context: Context
    ) -> pb.StartAuthorizationResponse:
        started = await self.authorizations.start(
            request.org_id, request.project_id, request.name, request.redirect_uri, _caller.get().name
        )
        response = pb.StartAuthorizationResponse(authorization_url=started.authorization_url, state=started.state)
        response.expire_time.FromDatetime(started.expires_at)
        return response

    @rpc(Scope.WRITE)
    async def CompleteAuthorization(
        self, request: pb.CompleteAuthorizationRequest, context: Context
    ) -> pb.CompleteAuthorizationResponse:
        completed = await self.authorizations.complete(
            request.org_id,
            request.project_id,
            request.name,
            state=request.state,
            code=request.code,
            error=request.error,
            error_description=request.error_description,
            caller=_caller.get().name,
        )
        key = completed.view.key
        await self.webhooks.release_held(key.org_id, key.project_id, key.name)  # kept while it waited
        await self.live_sync.reconcile(completed.view)
        await self.imports.resume_paused(key.org_id, key.project_id, key.name)
        check = convert.connection_check(completed.check)
        await self._audit(request, key.name, "authorization.complete", {"auth_method": "OAUTH"})
        return pb.CompleteAuthorizationResponse(
            integration=await self._view(completed.view), account=check.account, workspaces=check.workspaces
        )

    # ------------------------------------------------------------ imports

    async def _job(self, request: Any) -> ImportJobRecord:
        job_id = require_id("job_id", request.job_id)
        job = await self.imports.job(job_id)
        if job is None or (job.org_id, job.project_id) != (request.org_id, request.project_id):
            raise NotFound(f"no import job {job_id!r} in this project", reason="UNKNOWN_JOB")
        return job

    @rpc(Scope.WRITE)
    async def StartImport(self, request: pb.StartImportRequest, context: Context) -> pb.ImportJob:
        request_id = optional_request_id("request_id", request.request_id)
        mode = convert.import_mode(request.mode)
        job = await self.imports.start(request.org_id, request.project_id, request.name, request_id, mode)
        await self._audit(request, job.integration, "import.start", {"job_id": job.id, "mode": job.mode})
        return convert.import_job(job)

    @rpc(Scope.READ)
    async def GetImportJob(self, request: pb.GetImportJobRequest, context: Context) -> pb.ImportJob:
        return convert.import_job(await self._job(request))

    @rpc(Scope.READ)
    async def ListImportJobs(self, request: pb.ListImportJobsRequest, context: Context) -> pb.ListImportJobsResponse:
        name = require_name("name", request.name) if request.name else None
        jobs, token = await self.pages.page(
            request.page_token,
            request.page_size,
            ("ListImportJobs", request.org_id, request.project_id, name or ""),
            lambda offset, limit: self.imports.jobs_of(request.org_id, request.project_id, name, offset, limit),
        )
        return pb.ListImportJobsResponse(jobs=[convert.import_job(j) for j in jobs], next_page_token=token)

    @stream_rpc(Scope.READ)
    async def WatchImportJob(self, request: pb.WatchImportJobRequest, context: Context) -> AsyncIterator[pb.ImportJob]:
        job = await self._job(request)
        last: pb.ImportJob | None = None
        while True:
            current = convert.import_job(job)
            if current != last:
                yield current
                last = current
            if job.terminal:
                return
            with contextlib.suppress(TimeoutError):  # jobs of other replicas are polled
                async with asyncio.timeout(WATCH_POLL_SECONDS):
                    await self.imports.changed(job.id)
            job = await self._job(request)

    @rpc(Scope.WRITE)
    async def CancelImportJob(self, request: pb.CancelImportJobRequest, context: Context) -> pb.ImportJob:
        job = await self._job(request)
        if job.terminal:
            raise FailedPrecondition(f"import job {job.id} already ended ({job.state})", reason="JOB_ENDED")
        cancelled = await self.imports.cancel(job.id)
        await self._audit(request, job.integration, "import.cancel", {"job_id": job.id})
        return convert.import_job(cancelled or job)

    # ------------------------------------------------------------ webhooks

    @rpc(Scope.DELIVER, tenant=False)
    async def DeliverWebhookEvent(
        self, request: pb.DeliverWebhookEventRequest, context: Context
    ) -> pb.DeliverWebhookEventResponse:
        stored = await self.webhooks.deliver(_incoming(request), _caller.get())
        return pb.DeliverWebhookEventResponse(event_id=stored.event_id, duplicate=stored.duplicate)

    @rpc(Scope.DELIVER, tenant=False)
    async def DeliverWebhookEvents(
        self, request: pb.DeliverWebhookEventsRequest, context: Context
    ) -> pb.DeliverWebhookEventsResponse:
        if len(request.events) > MAX_DELIVERY_BATCH:
            raise InvalidArgument("events", f"at most {MAX_DELIVERY_BATCH} deliveries per call")
        outcomes = await self.webhooks.deliver_many([_incoming(event) for event in request.events], _caller.get())
        return pb.DeliverWebhookEventsResponse(results=[_delivery_result(outcome) for outcome in outcomes])

    @rpc(Scope.DELIVER, tenant=False)
    async def GetWebhookSecret(
        self, request: pb.GetWebhookSecretRequest, context: Context
    ) -> pb.GetWebhookSecretResponse:
        found = await self.webhooks.secret(request.integration, request.webhook_id, _caller.get())
        return pb.GetWebhookSecretResponse(
            secret=found.secret,
            ttl=duration_pb2.Duration(seconds=found.ttl_seconds),
            previous_secrets=found.previous,
        )

    @rpc(Scope.DELIVER, tenant=False)
    async def ListWebhookSchemes(
        self, request: pb.ListWebhookSchemesRequest, context: Context
    ) -> pb.ListWebhookSchemesResponse:
        return pb.ListWebhookSchemesResponse(
            schemes=self.webhooks.schemes(), ttl=duration_pb2.Duration(seconds=SCHEMES_TTL_SECONDS)
        )

    @rpc(Scope.READ)
    async def ListWebhookEvents(
        self, request: pb.ListWebhookEventsRequest, context: Context
    ) -> pb.ListWebhookEventsResponse:
        state = None
        if request.state != pb.WEBHOOK_EVENT_STATE_UNSPECIFIED:
            if request.state not in pb.WebhookEventState.values():
                raise InvalidArgument("state", f"unknown state {request.state}")
            state = pb.WebhookEventState.Name(request.state).removeprefix("WEBHOOK_EVENT_STATE_")
        start = request.start_time.ToDatetime(UTC) if request.HasField("start_time") else None
        end = request.end_time.ToDatetime(UTC) if request.HasField("end_time") else None
        if start is not None and end is not None and end <= start:
            raise InvalidArgument("end_time", "must be after start_time")
        where = EventFilter(
            state,
            require_name("name", request.name) if request.name else None,
            start,
            end,
            request.newest_first,
        )
        events, token = await self.pages.page(
            request.page_token,
            request.page_size,
            # The token is tied to every filter: one made for another listing is refused.
            (
                "ListWebhookEvents",
                request.org_id,
                request.project_id,
                state or "",
                where.integration or "",
                start.isoformat() if start else "",
                end.isoformat() if end else "",
                str(where.newest_first),
            ),
            lambda offset, limit: self.webhooks.events(request.org_id, request.project_id, where, offset, limit),
        )
        return pb.ListWebhookEventsResponse(events=[convert.webhook_event(e) for e in events], next_page_token=token)

    @rpc(Scope.WRITE)
    async def ReplayWebhookEvents(
        self, request: pb.ReplayWebhookEventsRequest, context: Context
    ) -> pb.ReplayWebhookEventsResponse:
        ids = list(request.event_ids)
        if len(ids) > MAX_REPLAY_IDS:
            raise InvalidArgument("event_ids", f"at most {MAX_REPLAY_IDS} per call")
        for index, event_id in enumerate(ids):
            require_id(f"event_ids[{index}]", event_id)
        start = request.start_time.ToDatetime(UTC) if request.HasField("start_time") else None
        end = request.end_time.ToDatetime(UTC) if request.HasField("end_time") else None
        if not ids and start is None:
            raise InvalidArgument("start_time", "give event_ids or at least a start_time")
        if start is not None and end is not None and end <= start:
            raise InvalidArgument("end_time", "must be after start_time")
        replayed = await self.webhooks.replay(request.org_id, request.project_id, ids, start, end)
        window = {"event_ids": str(len(ids))} if ids else {"start_time": start.isoformat() if start else ""}
        await self._audit(request, "", "webhook_events.replay", window | {"replayed": str(replayed)})
        return pb.ReplayWebhookEventsResponse(replayed=replayed)

    # ------------------------------------------------------------ analytics

    @rpc(Scope.READ)
    async def GetIntegrationAnalytics(
        self, request: pb.GetIntegrationAnalyticsRequest, context: Context
    ) -> pb.IntegrationAnalytics:
        start = request.start_time.ToDatetime(UTC) if request.HasField("start_time") else None
        end = request.end_time.ToDatetime(UTC) if request.HasField("end_time") else None
        await self.gallery.get(request.org_id, request.project_id, request.name)  # NOT_FOUND for an unknown one
        days = await self.analytics.days(
            request.org_id, request.project_id, request.name, start, end, datetime.now(UTC)
        )
        return pb.IntegrationAnalytics(days=[convert.analytics_day(day) for day in days])

    @rpc(Scope.WRITE)
    async def RegenerateWebhookSecret(
        self, request: pb.RegenerateWebhookSecretRequest, context: Context
    ) -> pb.RegenerateWebhookSecretResponse:
        name = require_name("name", request.name)
        grace = _grace(request)
        done = await self.rotation.regenerate(request.org_id, request.project_id, name, grace)
        response = pb.RegenerateWebhookSecretResponse(integration=await self._view(done.view))
        response.old_secret_expire_time.FromDatetime(done.old_secret_expire_time)
        details = {
            "webhooks": str(done.webhooks),
            "grace_seconds": f"{grace.total_seconds():g}",
            "old_secret_expire_time": done.old_secret_expire_time.isoformat(),
        }
        await self._audit(request, name, "webhook.regenerate_secret", details)
        return response

    # ------------------------------------------------------------ custom fields

    @rpc(Scope.READ)
    async def ListCustomFields(
        self, request: pb.ListCustomFieldsRequest, context: Context
    ) -> pb.ListCustomFieldsResponse:
        listing = await self.field_mappings.listing(
            request.org_id, request.project_id, require_name("name", request.name)
        )
        return convert.custom_fields(listing)

    @rpc(Scope.WRITE)
    async def UpdateFieldMappings(
        self, request: pb.UpdateFieldMappingsRequest, context: Context
    ) -> pb.UpdateFieldMappingsResponse:
        name = require_name("name", request.name)
        requested = [convert.field_rule(f"mappings[{i}]", m) for i, m in enumerate(request.mappings)]
        done = await self.field_mappings.update(request.org_id, request.project_id, name, requested)
        listed = convert.custom_fields(done.listing)
        response = pb.UpdateFieldMappingsResponse(fields=listed.fields)
        if done.remap_job is not None:
            response.remap_job.CopyFrom(convert.import_job(done.remap_job))
        details = {
            "rules": str(sum(1 for m in listed.fields if m.mapping.property != m.default_property or m.mapping.skip)),
            "remap_job": done.remap_job.id if done.remap_job is not None else "",
        }
        await self._audit(request, name, "field_mappings.update", details)
        return response

    # ------------------------------------------------------------ audit

    @rpc(Scope.READ)
    async def ListAuditRecords(
        self, request: pb.ListAuditRecordsRequest, context: Context
    ) -> pb.ListAuditRecordsResponse:
        name = require_name("name", request.name) if request.name else None
        records, token = await self.pages.page(
            request.page_token,
            request.page_size,
            ("ListAuditRecords", request.org_id, request.project_id, name or ""),
            lambda offset, limit: self.audit.records(request.org_id, request.project_id, name, offset, limit),
        )
        return pb.ListAuditRecordsResponse(records=[convert.audit_record(r) for r in records], next_page_token=token)


def _update_details(request: pb.UpdateIntegrationRequest, saved: pb.Integration) -> dict[str, str]:
    """What an update changed, as saved: the fields it named and the flags they ended with (no secret:
    credentials show as their method only)."""
    return {
        "fields": ",".join(sorted(request.update_mask.paths)) or "*",
        "enabled": str(saved.enabled).lower(),
        "auth_method": pb.AuthMethod.Name(saved.settings.auth_method).removeprefix("AUTH_METHOD_"),
        "auto_sync": str(saved.settings.sync_settings.auto_sync).lower(),
    }


def _grace(request: pb.RegenerateWebhookSecretRequest) -> timedelta:
    """How long the old secret stays accepted: the request's (unset or zero: the default), at most 24 h."""
    if not request.HasField("grace") or (request.grace.seconds == 0 and request.grace.nanos == 0):
        return DEFAULT_GRACE
    if (request.grace.seconds < 0 or request.grace.nanos < 0) or abs(request.grace.nanos) >= 10**9:
        raise InvalidArgument("grace", "must be a positive duration")
    longest = int(MAX_GRACE.total_seconds())
    if request.grace.seconds > longest or (request.grace.seconds == longest and request.grace.nanos > 0):
        raise InvalidArgument("grace", f"must be at most {longest / 3600:g} hours")
    return request.grace.ToTimedelta()


def _incoming(request: pb.DeliverWebhookEventRequest) -> Incoming:
    received = request.received_time.ToDatetime(UTC) if request.HasField("received_time") else None
    return Incoming(request.integration, request.raw_body, request.signature_verified, received, dict(request.headers))


def _delivery_result(outcome: Stored | ServiceError) -> pb.DeliveryResult:
    if isinstance(outcome, ServiceError):
        return pb.DeliveryResult(code=outcome.code.value[0], message=outcome.message, reason=outcome.reason)
    return pb.DeliveryResult(
        event_id=outcome.event_id, duplicate=outcome.duplicate, dead_lettered=outcome.dead_lettered
    )
