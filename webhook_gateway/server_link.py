"""The gateway's calls to the server: hand over a delivery, look up a webhook's secret."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import grpc
from google.protobuf import timestamp_pb2

from integrations.v1 import integration_service_pb2 as pb
from integrations.v1 import integration_service_pb2_grpc as pb_grpc

# The server did not take it now but may later: keep the delivery and try again.
RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.CANCELLED,
    }
)


class ServerLink:
    def __init__(self, target: str, token: str, timeout: float) -> None:
        self._channel = grpc.aio.insecure_channel(target)
        self._stub: pb_grpc.IntegrationServiceAsyncStub = pb_grpc.IntegrationServiceStub(self._channel)
        self._metadata = (("authorization", f"Bearer {token}"),)
        self._timeout = timeout
        self._secrets: dict[str, tuple[str, float]] = {}

    async def deliver(
        self, integration: str, body: bytes, headers: dict[str, str], received_ms: int
    ) -> pb.DeliverWebhookEventResponse:
        received = timestamp_pb2.Timestamp()
        received.FromDatetime(datetime.fromtimestamp(received_ms / 1000, UTC))
        request = pb.DeliverWebhookEventRequest(
            integration=integration, raw_body=body, signature_verified=True, received_time=received, headers=headers
        )
        response: pb.DeliverWebhookEventResponse = await self._stub.DeliverWebhookEvent(
            request, metadata=self._metadata, timeout=self._timeout
        )
        return response

    async def secret(self, integration: str, webhook_id: str) -> str | None:
        """The webhook's secret (cached for the TTL the server gives); None if it is not registered."""
        cached = self._secrets.get(webhook_id)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        try:
            response = await self._stub.GetWebhookSecret(
                pb.GetWebhookSecretRequest(integration=integration, webhook_id=webhook_id),
                metadata=self._metadata,
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                self._secrets.pop(webhook_id, None)
                return None
            raise
        self._secrets[webhook_id] = (response.secret, time.monotonic() + max(1, response.ttl.seconds))
        return str(response.secret)

    async def close(self) -> None:
        await self._channel.close(None)
