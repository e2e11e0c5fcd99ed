"""The gateway's calls to the server: hand over spooled deliveries, look up a webhook's secret."""

from __future__ import annotations

import time

import grpc
from google.protobuf import timestamp_pb2

from integrations.v1 import integration_service_pb2 as pb
from integrations.v1 import integration_service_pb2_grpc as pb_grpc
from webhook_gateway.spool import Delivery

# A delivery the server refused for good (it will never be stored): dropped, logged, counted.
FINAL = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT.value[0],
        grpc.StatusCode.NOT_FOUND.value[0],
        grpc.StatusCode.FAILED_PRECONDITION.value[0],
    }
)


class ServerLink:
    def __init__(self, target: str, token: str, timeout: float) -> None:
        self._channel = grpc.aio.insecure_channel(target)
        self._stub: pb_grpc.IntegrationServiceAsyncStub = pb_grpc.IntegrationServiceStub(self._channel)
        self._metadata = (("authorization", f"Bearer {token}"),)
        self._timeout = timeout
        self._secrets: dict[str, tuple[str, float]] = {}

    async def deliver_many(self, deliveries: list[Delivery]) -> list[pb.DeliveryResult]:
        """Hands over a batch in one call; one result per delivery, in order."""
        events = []
        for delivery in deliveries:
            received = timestamp_pb2.Timestamp()
            received.FromMilliseconds(delivery.received_ms)
            events.append(
                pb.DeliverWebhookEventRequest(
                    integration=delivery.integration,
                    raw_body=delivery.body,
                    signature_verified=True,
                    received_time=received,
                    headers=delivery.headers,
                )
            )
        response: pb.DeliverWebhookEventsResponse = await self._stub.DeliverWebhookEvents(
            pb.DeliverWebhookEventsRequest(events=events), metadata=self._metadata, timeout=self._timeout
        )
        if len(response.results) != len(deliveries):
            raise RuntimeError(f"the server answered {len(response.results)} results for {len(deliveries)} deliveries")
        return list(response.results)

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
