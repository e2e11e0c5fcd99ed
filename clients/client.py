"""Typed clients for the IntegrationService: sync (``IntegrationsClient``) and async
(``AsyncIntegrationsClient``). They attach the bearer token, apply a deadline to every call,
retry ``UNAVAILABLE`` with exponential backoff (a restarting server), and raise the typed
exceptions of ``clients.errors`` instead of raw gRPC errors.

    with IntegrationsClient("127.0.0.1:50051", token) as client:
        for integration in client.list_integrations("acme", "p1"):
            print(integration.name, integration.enabled)
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, TypeVar

import grpc
from google.protobuf import field_mask_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from clients.errors import from_rpc_error
from integrations.v1 import integration_service_pb2 as pb
from integrations.v1 import integration_service_pb2_grpc as pb_grpc

T = TypeVar("T")
DEFAULT_DEADLINE = 30.0


class _Policy:
    def __init__(self, token: str, deadline: float, retries: int, backoff: float) -> None:
        if not token:
            raise ValueError("a bearer token is required")
        self.metadata = (("authorization", f"Bearer {token}"),)
        self.deadline = deadline
        self.retries = retries
        self.backoff = backoff
        self.retries_made = 0

    def delay(self, attempt: int) -> float:
        self.retries_made += 1
        base: float = self.backoff * 2.0**attempt
        jitter: float = random.uniform(0, base / 2)
        return base + jitter


def _settings_request(
    org_id: str, project_id: str, name: str, paths: list[str], integration: pb.Integration, request_id: str
) -> pb.UpdateIntegrationRequest:
    integration.name = name
    return pb.UpdateIntegrationRequest(
        org_id=org_id,
        project_id=project_id,
        integration=integration,
        update_mask=field_mask_pb2.FieldMask(paths=paths),
        request_id=request_id,
    )


# Calls spread over every address the target names (``ipv4:10.0.0.1:50051,10.0.0.2:50051``, or
# ``dns:///integrations:50051`` with an address per replica), and move on from one that is down.
SPREAD = (("grpc.lb_policy_name", "round_robin"),)


class IntegrationsClient:
    def __init__(
        self,
        target: str,
        token: str,
        *,
        deadline: float = DEFAULT_DEADLINE,
        retries: int = 5,
        backoff: float = 0.2,
        channel: grpc.Channel | None = None,
    ) -> None:
        self._policy = _Policy(token, deadline, retries, backoff)
        self._channel = channel or grpc.insecure_channel(target, options=SPREAD)
        self._stub = pb_grpc.IntegrationServiceStub(self._channel)

    @property
    def retries_made(self) -> int:
        """Calls repeated after UNAVAILABLE so far (for metrics and tests)."""
        return self._policy.retries_made

    def __enter__(self) -> IntegrationsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def _call(self, method: Callable[..., T], request: Any, *, retry: bool = True) -> T:
        retries = self._policy.retries if retry else 0
        for attempt in range(retries + 1):
            try:
                return method(request, metadata=self._policy.metadata, timeout=self._policy.deadline)
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.UNAVAILABLE or attempt == retries:
                    raise from_rpc_error(error) from None
                time.sleep(self._policy.delay(attempt))
        raise AssertionError("unreachable")

    def list_integrations(self, org_id: str, project_id: str) -> list[pb.Integration]:
        response = self._call(
            self._stub.ListIntegrations, pb.ListIntegrationsRequest(org_id=org_id, project_id=project_id)
        )
        return list(response.integrations)

    def get_integration(self, org_id: str, project_id: str, name: str) -> pb.Integration:
        return self._call(
            self._stub.GetIntegration, pb.GetIntegrationRequest(org_id=org_id, project_id=project_id, name=name)
        )

    def update_integration(
        self,
        org_id: str,
        project_id: str,
        name: str,
        integration: pb.Integration,
        paths: list[str],
        request_id: str = "",
    ) -> pb.Integration:
        request = _settings_request(org_id, project_id, name, paths, integration, request_id)
        return self._call(self._stub.UpdateIntegration, request)

    def test_connection(self, org_id: str, project_id: str, name: str) -> pb.TestConnectionResponse:
        return self._call(
            self._stub.TestConnection, pb.TestConnectionRequest(org_id=org_id, project_id=project_id, name=name)
        )

    def start_authorization(
        self, org_id: str, project_id: str, name: str, redirect_uri: str
    ) -> pb.StartAuthorizationResponse:
        """The third party's consent URL and a single-use state (retried freely: an unused state expires)."""
        return self._call(self._stub.StartAuthorization, _start_authorization(org_id, project_id, name, redirect_uri))

    def complete_authorization(self, request: pb.CompleteAuthorizationRequest) -> pb.CompleteAuthorizationResponse:
        """Never retried: the server spends the state on the first attempt, so a retry could only
        answer "state invalid" and hide why the first one failed."""
        return self._call(self._stub.CompleteAuthorization, request, retry=False)

    def start_import(
        self,
        org_id: str,
        project_id: str,
        name: str,
        request_id: str = "",
        mode: pb.ImportMode.ValueType = pb.IMPORT_MODE_FULL,
    ) -> pb.ImportJob:
        """``request_id`` (a new one by default) makes the retries on UNAVAILABLE return one job."""
        return self._call(self._stub.StartImport, _start_request(org_id, project_id, name, request_id, mode))

    def get_import_job(self, org_id: str, project_id: str, job_id: str) -> pb.ImportJob:
        return self._call(
            self._stub.GetImportJob, pb.GetImportJobRequest(org_id=org_id, project_id=project_id, job_id=job_id)
        )

    def cancel_import_job(self, org_id: str, project_id: str, job_id: str) -> pb.ImportJob:
        return self._call(
            self._stub.CancelImportJob, pb.CancelImportJobRequest(org_id=org_id, project_id=project_id, job_id=job_id)
        )

    def list_import_jobs(
        self, org_id: str, project_id: str, name: str = "", page_size: int = 20, page_token: str = ""
    ) -> pb.ListImportJobsResponse:
        return self._call(
            self._stub.ListImportJobs,
            pb.ListImportJobsRequest(
                org_id=org_id, project_id=project_id, name=name, page_size=page_size, page_token=page_token
            ),
        )

    def list_audit_records(
        self, org_id: str, project_id: str, name: str = "", page_size: int = 20, page_token: str = ""
    ) -> pb.ListAuditRecordsResponse:
        return self._call(
            self._stub.ListAuditRecords,
            pb.ListAuditRecordsRequest(
                org_id=org_id, project_id=project_id, name=name, page_size=page_size, page_token=page_token
            ),
        )

    def list_webhook_events(
        self,
        org_id: str,
        project_id: str,
        state: pb.WebhookEventState.ValueType = pb.WEBHOOK_EVENT_STATE_UNSPECIFIED,
        page_size: int = 20,
        page_token: str = "",
        *,
        name: str = "",
        since: datetime | None = None,
        newest_first: bool = False,
    ) -> pb.ListWebhookEventsResponse:
        request = _events_request(org_id, project_id, state, page_size, page_token, name, since, newest_first)
        return self._call(self._stub.ListWebhookEvents, request)

    def replay_webhook_events(self, request: pb.ReplayWebhookEventsRequest) -> pb.ReplayWebhookEventsResponse:
        return self._call(self._stub.ReplayWebhookEvents, request)

    def disable_integration(
        self, org_id: str, project_id: str, name: str, *, delete_data: bool = False, confirm_name: str = ""
    ) -> pb.DisableIntegrationResponse:
        """Turn off, keeping the imported data, or deleting it (``confirm_name``: the name again)."""
        return self._call(
            self._stub.DisableIntegration, _disable_request(org_id, project_id, name, delete_data, confirm_name)
        )

    def get_data_deletion(self, org_id: str, project_id: str, deletion_id: str) -> pb.DataDeletion:
        return self._call(
            self._stub.GetDataDeletion,
            pb.GetDataDeletionRequest(org_id=org_id, project_id=project_id, deletion_id=deletion_id),
        )

    def cancel_data_deletion(self, org_id: str, project_id: str, deletion_id: str) -> pb.DataDeletion:
        return self._call(
            self._stub.CancelDataDeletion,
            pb.CancelDataDeletionRequest(org_id=org_id, project_id=project_id, deletion_id=deletion_id),
        )

    def list_custom_fields(self, org_id: str, project_id: str, name: str) -> pb.ListCustomFieldsResponse:
        """The third party's custom fields, each with the property it becomes, and the newest re-map."""
        return self._call(
            self._stub.ListCustomFields, pb.ListCustomFieldsRequest(org_id=org_id, project_id=project_id, name=name)
        )

    def update_field_mappings(
        self, org_id: str, project_id: str, name: str, mappings: Iterable[pb.FieldMapping]
    ) -> pb.UpdateFieldMappingsResponse:
        """The whole mapping, replaced (a field not listed gets the default). Never retried: a repeat of
        a call whose answer was lost finds the mapping already saved and its re-map running, so it
        could only answer "unchanged" or JOB_RUNNING, never with the job the first call started."""
        return self._call(
            self._stub.UpdateFieldMappings, _mappings_request(org_id, project_id, name, mappings), retry=False
        )

    def watch_data_deletion(
        self, org_id: str, project_id: str, deletion_id: str, deadline: float | None = None
    ) -> Iterator[pb.DataDeletion]:
        request = pb.WatchDataDeletionRequest(org_id=org_id, project_id=project_id, deletion_id=deletion_id)
        try:
            yield from self._stub.WatchDataDeletion(request, metadata=self._policy.metadata, timeout=deadline)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    def watch_import_job(
        self, org_id: str, project_id: str, job_id: str, deadline: float | None = None
    ) -> Iterator[pb.ImportJob]:
        """Every change of the job until it ends (a long deadline: imports can take minutes)."""
        request = pb.WatchImportJobRequest(org_id=org_id, project_id=project_id, job_id=job_id)
        try:
            yield from self._stub.WatchImportJob(request, metadata=self._policy.metadata, timeout=deadline)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None


class AsyncIntegrationsClient:
    def __init__(
        self, target: str, token: str, *, deadline: float = DEFAULT_DEADLINE, retries: int = 5, backoff: float = 0.2
    ) -> None:
        self._policy = _Policy(token, deadline, retries, backoff)
        self._channel = grpc.aio.insecure_channel(target, options=SPREAD)
        self._stub: pb_grpc.IntegrationServiceAsyncStub = pb_grpc.IntegrationServiceStub(self._channel)

    @property
    def retries_made(self) -> int:
        """Calls repeated after UNAVAILABLE so far (for metrics and tests)."""
        return self._policy.retries_made

    async def __aenter__(self) -> AsyncIntegrationsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close(None)

    async def serving(self, deadline: float = 1.0) -> bool:
        """The server's standard health check (no token, no retries): for readiness probes."""
        try:
            answer = await health_pb2_grpc.HealthStub(self._channel).Check(
                health_pb2.HealthCheckRequest(), timeout=deadline
            )
        except grpc.aio.AioRpcError:
            return False
        return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)

    async def _call(self, method: Callable[..., Awaitable[T]], request: Any, *, retry: bool = True) -> T:
        retries = self._policy.retries if retry else 0
        for attempt in range(retries + 1):
            try:
                return await method(request, metadata=self._policy.metadata, timeout=self._policy.deadline)
            except grpc.aio.AioRpcError as error:
                if error.code() != grpc.StatusCode.UNAVAILABLE or attempt == retries:
                    raise from_rpc_error(error) from None
                await asyncio.sleep(self._policy.delay(attempt))
        raise AssertionError("unreachable")

    async def list_integrations(self, org_id: str, project_id: str) -> list[pb.Integration]:
        response = await self._call(
            self._stub.ListIntegrations, pb.ListIntegrationsRequest(org_id=org_id, project_id=project_id)
        )
        return list(response.integrations)

    async def get_integration(self, org_id: str, project_id: str, name: str) -> pb.Integration:
        return await self._call(
            self._stub.GetIntegration, pb.GetIntegrationRequest(org_id=org_id, project_id=project_id, name=name)
        )

    async def update_integration(
        self,
        org_id: str,
        project_id: str,
        name: str,
        integration: pb.Integration,
        paths: list[str],
        request_id: str = "",
    ) -> pb.Integration:
        request = _settings_request(org_id, project_id, name, paths, integration, request_id)
        return await self._call(self._stub.UpdateIntegration, request)

    async def test_connection(self, org_id: str, project_id: str, name: str) -> pb.TestConnectionResponse:
        return await self._call(
            self._stub.TestConnection, pb.TestConnectionRequest(org_id=org_id, project_id=project_id, name=name)
        )

    async def start_authorization(
        self, org_id: str, project_id: str, name: str, redirect_uri: str
    ) -> pb.StartAuthorizationResponse:
        """The third party's consent URL and a single-use state (retried freely: an unused state expires)."""
        request = _start_authorization(org_id, project_id, name, redirect_uri)
        return await self._call(self._stub.StartAuthorization, request)

    async def complete_authorization(
        self, request: pb.CompleteAuthorizationRequest
    ) -> pb.CompleteAuthorizationResponse:
        """Never retried: the server spends the state on the first attempt, so a retry could only
        answer "state invalid" and hide why the first one failed."""
        return await self._call(self._stub.CompleteAuthorization, request, retry=False)

    async def start_import(
        self,
        org_id: str,
        project_id: str,
        name: str,
        request_id: str = "",
        mode: pb.ImportMode.ValueType = pb.IMPORT_MODE_FULL,
    ) -> pb.ImportJob:
        """``request_id`` (a new one by default) makes the retries on UNAVAILABLE return one job."""
        return await self._call(self._stub.StartImport, _start_request(org_id, project_id, name, request_id, mode))

    async def get_import_job(self, org_id: str, project_id: str, job_id: str) -> pb.ImportJob:
        return await self._call(
            self._stub.GetImportJob, pb.GetImportJobRequest(org_id=org_id, project_id=project_id, job_id=job_id)
        )

    async def list_import_jobs(
        self, org_id: str, project_id: str, name: str = "", page_size: int = 20, page_token: str = ""
    ) -> pb.ListImportJobsResponse:
        return await self._call(
            self._stub.ListImportJobs,
            pb.ListImportJobsRequest(
                org_id=org_id, project_id=project_id, name=name, page_size=page_size, page_token=page_token
            ),
        )

    async def list_audit_records(
        self, org_id: str, project_id: str, name: str = "", page_size: int = 20, page_token: str = ""
    ) -> pb.ListAuditRecordsResponse:
        return await self._call(
            self._stub.ListAuditRecords,
            pb.ListAuditRecordsRequest(
                org_id=org_id, project_id=project_id, name=name, page_size=page_size, page_token=page_token
            ),
        )

    async def disable_integration(
        self, org_id: str, project_id: str, name: str, *, delete_data: bool = False, confirm_name: str = ""
    ) -> pb.DisableIntegrationResponse:
        return await self._call(
            self._stub.DisableIntegration, _disable_request(org_id, project_id, name, delete_data, confirm_name)
        )

    async def get_data_deletion(self, org_id: str, project_id: str, deletion_id: str) -> pb.DataDeletion:
        return await self._call(
            self._stub.GetDataDeletion,
            pb.GetDataDeletionRequest(org_id=org_id, project_id=project_id, deletion_id=deletion_id),
        )

    async def cancel_data_deletion(self, org_id: str, project_id: str, deletion_id: str) -> pb.DataDeletion:
        return await self._call(
            self._stub.CancelDataDeletion,
            pb.CancelDataDeletionRequest(org_id=org_id, project_id=project_id, deletion_id=deletion_id),
        )

    async def list_webhook_events(
        self,
        org_id: str,
        project_id: str,
        state: pb.WebhookEventState.ValueType = pb.WEBHOOK_EVENT_STATE_UNSPECIFIED,
        page_size: int = 20,
        page_token: str = "",
        *,
        name: str = "",
        since: datetime | None = None,
        newest_first: bool = False,
    ) -> pb.ListWebhookEventsResponse:
        request = _events_request(org_id, project_id, state, page_size, page_token, name, since, newest_first)
        return await self._call(self._stub.ListWebhookEvents, request)

    async def replay_webhook_events(self, request: pb.ReplayWebhookEventsRequest) -> pb.ReplayWebhookEventsResponse:
        return await self._call(self._stub.ReplayWebhookEvents, request)

    async def regenerate_webhook_secret(
        self, org_id: str, project_id: str, name: str, grace_seconds: int
    ) -> pb.RegenerateWebhookSecretResponse:
        request = pb.RegenerateWebhookSecretRequest(org_id=org_id, project_id=project_id, name=name)
        request.grace.FromSeconds(grace_seconds)
        return await self._call(self._stub.RegenerateWebhookSecret, request, retry=False)

    async def get_integration_analytics(self, org_id: str, project_id: str, name: str) -> pb.IntegrationAnalytics:
        """The last 30 days, per day (the server's default window)."""
        return await self._call(
            self._stub.GetIntegrationAnalytics,
            pb.GetIntegrationAnalyticsRequest(org_id=org_id, project_id=project_id, name=name),
        )

    async def list_custom_fields(self, org_id: str, project_id: str, name: str) -> pb.ListCustomFieldsResponse:
        """The third party's custom fields, each with the property it becomes, and the newest re-map."""
        return await self._call(
            self._stub.ListCustomFields, pb.ListCustomFieldsRequest(org_id=org_id, project_id=project_id, name=name)
        )

    async def update_field_mappings(
        self, org_id: str, project_id: str, name: str, mappings: Iterable[pb.FieldMapping]
    ) -> pb.UpdateFieldMappingsResponse:
        """The whole mapping, replaced. Never retried (see ``IntegrationsClient.update_field_mappings``)."""
        return await self._call(
            self._stub.UpdateFieldMappings, _mappings_request(org_id, project_id, name, mappings), retry=False
        )

    async def watch_import_job(
        self, org_id: str, project_id: str, job_id: str, deadline: float | None = None
    ) -> AsyncIterator[pb.ImportJob]:
        request = pb.WatchImportJobRequest(org_id=org_id, project_id=project_id, job_id=job_id)
        try:
            async for update in self._stub.WatchImportJob(request, metadata=self._policy.metadata, timeout=deadline):
                yield update
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error) from None


def _events_request(
    org_id: str,
    project_id: str,
    state: pb.WebhookEventState.ValueType,
    page_size: int,
    page_token: str,
    name: str,
    since: datetime | None,
    newest_first: bool,
) -> pb.ListWebhookEventsRequest:
    request = pb.ListWebhookEventsRequest(
        org_id=org_id,
        project_id=project_id,
        state=state,
        page_size=page_size,
        page_token=page_token,
        name=name,
        newest_first=newest_first,
    )
    if since is not None:
        request.start_time.FromDatetime(since)
    return request


def _disable_request(
    org_id: str, project_id: str, name: str, delete_data: bool, confirm_name: str
) -> pb.DisableIntegrationRequest:
    policy = pb.DATA_POLICY_DELETE if delete_data else pb.DATA_POLICY_KEEP
    return pb.DisableIntegrationRequest(
        org_id=org_id, project_id=project_id, name=name, data_policy=policy, confirm_name=confirm_name
    )


def _start_request(
    org_id: str, project_id: str, name: str, request_id: str, mode: pb.ImportMode.ValueType
) -> pb.StartImportRequest:
    return pb.StartImportRequest(
        org_id=org_id, project_id=project_id, name=name, request_id=request_id or uuid.uuid4().hex, mode=mode
    )


def _start_authorization(org_id: str, project_id: str, name: str, redirect_uri: str) -> pb.StartAuthorizationRequest:
    return pb.StartAuthorizationRequest(org_id=org_id, project_id=project_id, name=name, redirect_uri=redirect_uri)


def _mappings_request(
    org_id: str, project_id: str, name: str, mappings: Iterable[pb.FieldMapping]
) -> pb.UpdateFieldMappingsRequest:
    return pb.UpdateFieldMappingsRequest(org_id=org_id, project_id=project_id, name=name, mappings=mappings)
